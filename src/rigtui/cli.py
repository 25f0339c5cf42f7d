"""The `rigtui` command: the app by default, and non-interactive subcommands over the same core.

Each subcommand lives in a module of ``rigtui.commands`` with ``register(subparsers)`` and
``run(args) -> int``. Modules are imported only when the parser is built, and heavy imports
(Textual, httpx, NVML) stay inside ``run`` so that ``rigtui --version`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rigtui import __version__

# Subcommand modules under rigtui.commands, in the order `--help` lists them.
COMMANDS = ("fit", "upgrade", "shop", "catalog", "paths", "record")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors on stderr and exit status 2 for bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"rigtui: error: {message}\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="rigtui",
        description="Which local LLMs fit on your GPUs, split how, at what speed, and what to buy next. "
        "Without a subcommand, opens the interactive explorer.",
    )
    parser.add_argument("--version", action="version", version=f"rigtui {__version__}")
    parser.add_argument("--rig", metavar="NAME", help="open a saved rig by name")
    parser.add_argument(
        "--demo",
        metavar="SCENARIO",
        nargs="?",
        const="",
        help="start on a simulated rig instead of the real GPUs; without a name, list the scenarios",
    )
    parser.add_argument("--replay", metavar="FILE", help="play back GPU telemetry recorded by `rigtui record`")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"rigtui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"rigtui.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from rigtui.commands.app import run_app

        return run_app(args)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
