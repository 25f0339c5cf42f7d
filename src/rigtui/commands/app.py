"""`rigtui` without a subcommand: open the explorer on the detected, saved or example rig."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _list_demos() -> int:
    from rigtui.hardware import DEMO_SCENARIOS

    print("Demo scenarios (rigtui --demo NAME):")
    for name, description in DEMO_SCENARIOS.items():
        print(f"  {name:<24} {description}")
    return EXIT_OK


def _check_options(args: argparse.Namespace) -> tuple[int, str] | None:
    """Check --rig and --replay before the full-screen app starts.

    Returns the exit status and a one-line message when an option is unusable, or None.
    """
    from rigtui.errors import RigtuiError

    if args.rig:
        from rigtui.tui.rigs import list_rigs, rig_path

        try:
            path = rig_path(args.rig)
        except RigtuiError as exc:
            return EXIT_USAGE, exc.message
        if not path.is_file():
            saved = ", ".join(list_rigs()) or "none yet"
            return EXIT_USAGE, f"no saved rig named {args.rig!r} in {path.parent} (saved rigs: {saved})"
    if args.replay and args.demo is None:
        from rigtui.hardware.replay import read_recording

        try:
            read_recording(Path(args.replay))
        except RigtuiError as exc:
            return EXIT_FAILURE, exc.message
    return None


def run_app(args: argparse.Namespace) -> int:
    """Run the explorer; the catalog and GPUs load behind its first screen.

    Returns the exit status: 0, or the status of a startup failure, whose message the app
    prints on stderr as it closes.
    """
    if args.demo == "":
        return _list_demos()
    problem = _check_options(args)
    if problem is not None:
        code, message = problem
        print(f"rigtui: {'; '.join(message.splitlines())}", file=sys.stderr)
        return code

    from textual.logging import TextualHandler

    from rigtui.sources.local import scan_default_locations
    from rigtui.tui.app import RigApp
    from rigtui.tui.startup import prepare

    logging.basicConfig(level=logging.WARNING, handlers=[TextualHandler()])
    app = RigApp(load=lambda: prepare(args), local_scan=scan_default_locations)
    try:
        app.run()
    finally:
        if app.source is not None:
            app.source.close()
    return app.return_code or EXIT_OK
