"""The `rigtui` command: the app by default, and non-interactive subcommands over the same core.

Each subcommand lives in a module of ``rigtui.commands`` with ``register(subparsers)`` and
``run(args) -> int``. Modules are imported only when the parser is built, and heavy imports
(Textual, httpx, NVML) stay inside ``run`` so that ``rigtui --version`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from rigtui import __version__

# Subcommand modules under rigtui.commands, in the order `--help` lists them.
COMMANDS = ("fit", "local", "measure", "upgrade", "shop", "catalog", "paths", "record")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors on stderr and exit status 2 for bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"rigtui: error: {message}\n")


def build_parser(with_commands: bool = True) -> ArgumentParser:
    """Build the parser; ``with_commands=False`` leaves out the subcommands and their imports."""
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
    if not with_commands:
        parser.set_defaults(command=None)
        return parser
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


def _explorer_only(argv: Sequence[str]) -> bool:
    """True when ``argv`` holds only the explorer's own options, with no subcommand, help or version.

    The explorer then starts without importing the subcommand modules, some of which load
    the pydantic models at import time and would delay its first paint. Anything else,
    including a mistake, goes through the full parser and its messages.
    """
    tokens = list(argv)
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token in ("--rig", "--replay"):
            position += 2
            continue
        if token.startswith(("--rig=", "--replay=", "--demo=")):
            position += 1
            continue
        if token == "--demo":
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            takes_value = following is not None and not following.startswith("-") and following not in COMMANDS
            position += 2 if takes_value else 1
            continue
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(with_commands=not _explorer_only(arguments))
    args = parser.parse_args(arguments)
    if args.command is None:
        from rigtui.commands.app import run_app

        return run_app(args)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader, such as `head`, closed the pipe early. Point stdout at devnull so that the
        # interpreter's final flush does not raise again, as the Python signal docs advise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
