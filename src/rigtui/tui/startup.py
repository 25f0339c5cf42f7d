"""Everything the explorer needs before its first real screen: catalog, GPUs, and the rig to start on.

``prepare`` runs in a worker thread after the app has painted its loading screen, so the
pydantic models, the catalog TOML and NVML load while the user already sees rigtui.
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigtui.errors import RigtuiError, TelemetryUnavailable

if TYPE_CHECKING:
    from rigtui.core.catalog import Catalog
    from rigtui.core.rig import Rig
    from rigtui.tui.state import Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2


class StartupFailed(Exception):
    """rigtui cannot start: the message is shown on stderr after the app closes."""

    def __init__(self, message: str, title: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.title = title
        self.exit_code = exit_code


@dataclass
class Startup:
    """The catalog, telemetry source, rig and notices the app starts with."""

    catalog: "Catalog"
    source: Any = None
    rig: "Rig | None" = None
    settings: "Settings | None" = None
    notices: list[tuple[str, str]] = field(default_factory=list)
    origin: str | None = None
    unmatched: list[Any] = field(default_factory=list)
    """Detected cards no catalog entry matches (``UnmatchedGpu``); the Rig screen lists them."""


def host_os_id(catalog: "Catalog", os_release: Path = Path("/etc/os-release")) -> str:
    """Return the catalog OS id for the machine rigtui runs on, or the first catalog OS."""
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
            lines = os_release.read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        fields = dict(line.split("=", 1) for line in lines if "=" in line)
        distro = fields.get("ID", "").strip('"')
        version = fields.get("VERSION_ID", "").strip('"')
        if distro == "ubuntu" and f"ubuntu-{version}" in catalog.oses:
            wanted = f"ubuntu-{version}"
    if wanted in catalog.oses:
        return wanted
    return next(iter(catalog.oses))


def _fallback_phrase(args: argparse.Namespace) -> str:
    """Name the rig rigtui opens when it cannot use the detected GPUs."""
    if args.rig:
        return f"rigtui opened the saved rig {args.rig!r}"
    return "rigtui started on the example rig"


def _open_source(args: argparse.Namespace, notices: list[tuple[str, str]]) -> Any:
    """Open the telemetry source; without usable GPUs, return None and leave one notice."""
    from rigtui.hardware import open_source

    replay = Path(args.replay) if args.replay else None
    try:
        return open_source(demo=args.demo or None, replay=replay)
    except TelemetryUnavailable as exc:
        notices.append((exc.title, f"{exc.message} {_fallback_phrase(args)}; the live screen is off."))
        return None
    except ValueError as exc:
        raise StartupFailed(str(exc), "Invalid option", EXIT_USAGE) from exc
    except RigtuiError as exc:
        raise StartupFailed(exc.message, exc.title) from exc


def _detected_rig(startup: Startup, args: argparse.Namespace, os_id: str) -> tuple[Any, Any]:
    """Return the rig the source's GPUs make; detection notices become one notification."""
    from rigtui.hardware import detect_rig

    catalog, notices = startup.catalog, startup.notices
    try:
        info = startup.source.info()
        detected = detect_rig(info, catalog, catalog.oses[os_id])
    except RigtuiError as exc:
        notices.append((exc.title, f"{exc.message} {_fallback_phrase(args)}."))
        return None, None
    startup.unmatched = list(detected.unmatched)
    if detected.notices:
        notices.append(("Detected hardware", "\n".join(detected.notices)))
    if detected.rig is None:
        return None, "Example rig: no catalog GPU was detected"
    count = len(detected.rig.gpus)
    where = "" if info.backend == "nvml" else f" ({info.backend})"
    return detected.rig, f"Detected rig: {count} GPU{'s' if count != 1 else ''}{where}"


def prepare(args: argparse.Namespace) -> Startup:
    """Load the catalog, open the GPU source and pick the rig: detected, saved (--rig) or the example.

    Raises:
        StartupFailed: the catalog is invalid, an option is invalid, or the saved rig is missing.
    """
    from rigtui.catalog.loader import load_user_catalog

    try:
        catalog = load_user_catalog()
    except RigtuiError as exc:
        raise StartupFailed(exc.message, exc.title) from exc

    startup = Startup(catalog=catalog)
    startup.source = _open_source(args, startup.notices)
    if startup.source is not None:
        startup.rig, startup.origin = _detected_rig(startup, args, host_os_id(catalog))
    if startup.rig is None and startup.origin is None:
        startup.origin = "Example rig: no GPU was detected"

    if args.rig:
        from rigtui.tui.app import default_settings
        from rigtui.tui.rigs import load_rig

        try:
            startup.rig, startup.settings = load_rig(args.rig, catalog, default_settings(catalog))
        except RigtuiError as exc:
            raise StartupFailed(exc.message, exc.title) from exc
        startup.origin = f"Saved rig {args.rig!r}"
        # The saved rig replaces the detected one, so its unknown cards are not offered.
        startup.unmatched = []
    return startup
