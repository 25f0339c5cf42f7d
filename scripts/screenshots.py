"""Write an SVG and a PNG of every explorer screen to screenshots/, from the fixed test catalog.

Usage: python scripts/screenshots.py [--size 120x36] [--out screenshots]

The app runs headless on the catalog in tests/tui/fixtures/data and the example rig, so the
pictures change only when the code or that data does. PNGs need cairosvg and the Fira Code
font that Textual's SVGs name:

    pip install cairosvg
    apt-get install fonts-firacode      # Debian and Ubuntu; other systems: install Fira Code

Without cairosvg the script still writes the SVGs and says what to install.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DATA = ROOT / "tests" / "tui" / "fixtures" / "data"

# (file name, keys pressed after start-up); every key is followed by waiting for workers.
SHOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rig", ()),
    ("fit_matrix", ("2",)),
    ("fit_matrix_contexts", ("2", "c")),
    ("fit_detail", ("2", "down", "right", "right", "right", "right", "enter")),
    ("topology", ("down", "d", "n", "down", "c", "3")),
    ("runtimes", ("4",)),
    ("telemetry", ("5",)),
    ("upgrade", ("6",)),
    ("servers", ("7",)),
    ("help", ("question_mark",)),
)


async def _shoot(name: str, keys: tuple[str, ...], size: tuple[int, int], out: Path) -> Path | None:
    from rigtui.catalog.loader import load_catalog
    from rigtui.hardware import FakeSource
    from rigtui.tui.app import make_app

    catalog = load_catalog(data_dir=FIXTURE_DATA)
    app = make_app(catalog, source=FakeSource("mixed-4090-3090"), rigs_folder=out / ".rigs")
    if name == "servers":
        # The Servers screen would probe the default local ports; show the tests' fixed answers.
        sys.path.insert(0, str(ROOT))
        from tests.tui.test_servers_screen import FixedServers

        app.server_backend = FixedServers()
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)
        if name in ("telemetry", "upgrade", "servers") and app.current_mode != name:
            print(f"  skipped {name}: that screen is not in this build")
            return None
        if name == "telemetry":
            # Let a few samples arrive so the sparklines have a history.
            await pilot.pause(3)
        app.title = "rigtui"
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))


async def _settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def _to_png(svg: Path) -> Path | None:
    try:
        import cairosvg
    except ImportError:
        return None
    png = svg.with_suffix(".png")
    cairosvg.svg2png(url=str(svg), write_to=str(png))
    return png


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="120x36", help="terminal size as COLUMNSxROWS (default 120x36)")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="output folder")
    args = parser.parse_args()
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    # Screenshots must not depend on the host's folders or colour settings.
    os.environ.pop("NO_COLOR", None)
    for variable in ("RIGTUI_CONFIG_DIR", "RIGTUI_DATA_DIR", "RIGTUI_CACHE_DIR"):
        os.environ[variable] = str(args.out / ".home" / variable.lower())

    missing_png = False
    for name, keys in SHOTS:
        svg = asyncio.run(_shoot(name, keys, (columns, rows), args.out))
        if svg is None:
            continue
        png = _to_png(svg)
        missing_png = missing_png or png is None
        print(f"  {svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg}" + (" and .png" if png else ""))
    shutil.rmtree(args.out / ".home", ignore_errors=True)
    shutil.rmtree(args.out / ".rigs", ignore_errors=True)
    if missing_png:
        print("PNGs not written: install cairosvg (pip install cairosvg) and the Fira Code font "
              "(apt-get install fonts-firacode), then run this script again.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
