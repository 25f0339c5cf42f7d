"""`rigtui` without a subcommand: seed the rig from the hardware or a saved file and open the explorer."""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from pathlib import Path
from typing import Any

from rigtui.core.catalog import Catalog
from rigtui.errors import RigtuiError, TelemetryUnavailable

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def host_os_id(catalog: Catalog, os_release: Path = Path("/etc/os-release")) -> str:
    """The catalog OS id for the machine rigtui runs on, or the first catalog OS as a fallback."""
    system = platform.system()
    wanted = "linux"
    if system == "Windows":
        wanted = "windows-11"
    elif system == "Darwin":
        wanted = "macos"
    elif "microsoft" in platform.release().lower():
        wanted = "wsl2"
    else:
        try:
            fields = dict(
                line.split("=", 1) for line in os_release.read_text(encoding="utf-8").splitlines() if "=" in line
            )
        except OSError:
            fields = {}
        distro = fields.get("ID", "").strip('"')
        version = fields.get("VERSION_ID", "").strip('"')
        if distro == "ubuntu" and f"ubuntu-{version}" in catalog.oses:
            wanted = f"ubuntu-{version}"
    if wanted in catalog.oses:
        return wanted
    return next(iter(catalog.oses))


def _error(exc: RigtuiError | Exception, title: str | None = None) -> None:
    """Print an error that stops rigtui before the UI starts, as a panel on stderr."""
    from rich.console import Console
    from rich.panel import Panel

    heading = title or getattr(exc, "title", "rigtui error")
    message = getattr(exc, "message", str(exc))
    Console(stderr=True).print(Panel(message, title=heading, title_align="left", border_style="red"), markup=False)


def _list_demos() -> int:
    from rigtui.hardware import DEMO_SCENARIOS

    print("Demo scenarios (rigtui --demo NAME):")
    for name, description in DEMO_SCENARIOS.items():
        print(f"  {name:<24} {description}")
    return EXIT_OK


def _open_source(args: argparse.Namespace, notices: list[tuple[str, str]]) -> Any:
    """Open the telemetry source; without GPUs, return None and leave one notice."""
    from rigtui.hardware import open_source

    replay = Path(args.replay) if args.replay else None
    try:
        return open_source(demo=args.demo or None, replay=replay)
    except TelemetryUnavailable as exc:
        notices.append(
            (exc.title, f"{exc.message} rigtui started on the example rig; the live screen is off.")
        )
        return None


def run_app(args: argparse.Namespace) -> int:
    """Build the catalog, pick the hardware source, seed the rig and run the explorer."""
    from rigtui.catalog.loader import load_user_catalog

    logging.basicConfig(level=logging.WARNING, handlers=[_textual_handler()])
    if args.demo == "":
        return _list_demos()
    try:
        catalog = load_user_catalog()
    except RigtuiError as exc:
        _error(exc)
        return EXIT_FAILURE

    notices: list[tuple[str, str]] = []
    try:
        source = _open_source(args, notices)
    except ValueError as exc:
        _error(exc, "Invalid option")
        return EXIT_USAGE
    except RigtuiError as exc:
        _error(exc)
        return EXIT_FAILURE

    rig = settings = origin = None
    os_id = host_os_id(catalog)
    if source is not None:
        rig, origin = _detected_rig(source, catalog, os_id, notices)

    if args.rig:
        from rigtui.tui.app import default_settings
        from rigtui.tui.rigs import load_rig

        try:
            rig, settings = load_rig(args.rig, catalog, default_settings(catalog))
        except RigtuiError as exc:
            _error(exc)
            return EXIT_FAILURE
        origin = f"Saved rig {args.rig!r}"

    from rigtui.tui.app import make_app

    app = make_app(catalog, source=source, rig=rig, settings=settings, notices=notices, origin=origin)
    try:
        app.run()
    finally:
        if source is not None:
            source.close()
    return EXIT_OK


def _detected_rig(source: Any, catalog: Catalog, os_id: str, notices: list[tuple[str, str]]) -> tuple[Any, Any]:
    """The rig the source's GPUs make, with detection notices gathered into one notification."""
    from rigtui.hardware import detect_rig

    try:
        detected = detect_rig(source.info(), catalog, catalog.oses[os_id])
    except RigtuiError as exc:
        notices.append((exc.title, f"{exc.message} rigtui started on the example rig."))
        return None, None
    if detected.notices:
        notices.append(("Detected hardware", "\n".join(detected.notices)))
    if detected.rig is None:
        return None, "Example rig: no catalog GPU was detected"
    count = len(detected.rig.gpus)
    backend = source.info().backend
    where = "" if backend == "nvml" else f" ({backend})"
    return detected.rig, f"Detected rig: {count} GPU{'s' if count != 1 else ''}{where}"


def _textual_handler() -> logging.Handler:
    from textual.logging import TextualHandler

    return TextualHandler()
