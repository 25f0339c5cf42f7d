"""`rigtui` without a subcommand: open the explorer on the detected, saved or example rig."""

from __future__ import annotations

import argparse
import logging

EXIT_OK = 0


def _list_demos() -> int:
    from rigtui.hardware import DEMO_SCENARIOS

    print("Demo scenarios (rigtui --demo NAME):")
    for name, description in DEMO_SCENARIOS.items():
        print(f"  {name:<24} {description}")
    return EXIT_OK


def run_app(args: argparse.Namespace) -> int:
    """Run the explorer; the catalog and GPUs load behind its first screen.

    Returns the exit status: 0, or the status of a startup failure, whose message the app
    prints on stderr as it closes.
    """
    if args.demo == "":
        return _list_demos()

    from textual.logging import TextualHandler

    from rigtui.tui.app import RigApp
    from rigtui.tui.startup import prepare

    logging.basicConfig(level=logging.WARNING, handlers=[TextualHandler()])
    app = RigApp(load=lambda: prepare(args))
    try:
        app.run()
    finally:
        if app.source is not None:
            app.source.close()
    return app.return_code or EXIT_OK
