"""Start-up: the loading screen, the rig it seeds from GPUs or a saved file, and failures."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rigtui.cli import main
from rigtui.core.catalog import Catalog
from rigtui.tui import edits, rigs
from rigtui.tui.app import RigApp, default_settings
from rigtui.tui.screens.rig import RigScreen
from rigtui.tui.startup import Startup, StartupFailed, host_os_id, prepare


def _args(**values: object) -> argparse.Namespace:
    base = {"demo": None, "replay": None, "rig": None}
    base.update(values)
    return argparse.Namespace(**base)


def test_prepare_detects_demo_rig() -> None:
    startup = prepare(_args(demo="mixed-4090-3090"))
    assert startup.rig is not None
    assert [g.spec.id for g in startup.rig.gpus] == ["rtx-4090", "rtx-3090"]
    assert startup.origin.startswith("Detected rig: 2 GPUs")
    assert startup.source is not None
    startup.source.close()


def test_prepare_without_driver_uses_example_with_one_notice() -> None:
    startup = prepare(_args(demo="no-driver"))
    assert startup.rig is None
    assert startup.source is None
    assert startup.origin.startswith("Example rig")
    assert len(startup.notices) == 1
    assert "example rig" in startup.notices[0][1]


def test_prepare_unknown_demo_is_usage_error() -> None:
    with pytest.raises(StartupFailed) as info:
        prepare(_args(demo="no-such-scenario"))
    assert info.value.exit_code == 2


def test_prepare_opens_saved_rig(catalog: Catalog) -> None:
    from rigtui.catalog.loader import load_user_catalog
    from rigtui.paths import user_paths

    bundled = load_user_catalog()
    rig = edits.add_gpu(edits.example_rig(bundled), bundled.gpus["rtx-3090"])
    rigs.save_rig("office", rig, default_settings(bundled), user_paths().rigs_dir)
    startup = prepare(_args(rig="office", demo="no-driver"))
    assert len(startup.rig.gpus) == 3
    assert startup.origin == "Saved rig 'office'"


def test_prepare_saved_rig_notice_names_it() -> None:
    from rigtui.catalog.loader import load_user_catalog
    from rigtui.paths import user_paths

    bundled = load_user_catalog()
    rigs.save_rig("my rig", edits.example_rig(bundled), default_settings(bundled), user_paths().rigs_dir)
    startup = prepare(_args(rig="my rig", demo="no-driver"))
    messages = [message for _, message in startup.notices]
    assert any("opened the saved rig 'my rig'" in m for m in messages)
    assert not any("example rig" in m for m in messages)


def _no_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to start the full-screen app fail the test."""

    def run(self: RigApp, *args: object, **kwargs: object) -> None:
        raise AssertionError("the app started")

    monkeypatch.setattr(RigApp, "run", run)


def test_cli_missing_rig_exits_before_app(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from rigtui.catalog.loader import load_user_catalog
    from rigtui.paths import user_paths

    _no_app(monkeypatch)
    bundled = load_user_catalog()
    rigs.save_rig("office", edits.example_rig(bundled), default_settings(bundled), user_paths().rigs_dir)
    assert main(["--rig", "nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no saved rig named 'nope'" in err
    assert "office" in err


def test_cli_bad_replay_exits_before_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _no_app(monkeypatch)
    assert main(["--replay", str(tmp_path / "missing.jsonl")]) == 1
    assert "cannot read telemetry recording" in capsys.readouterr().err
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n{}\n")
    assert main(["--replay", str(garbage)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "line 1" in err


def test_prepare_missing_saved_rig_fails() -> None:
    with pytest.raises(StartupFailed, match="no saved rig named 'nowhere'"):
        prepare(_args(rig="nowhere", demo="no-driver"))


def test_host_os_reads_os_release(catalog: Catalog, tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('ID=ubuntu\nVERSION_ID="24.04"\n')
    assert host_os_id(catalog, release) in ("ubuntu-24.04", "windows-11", "macos", "wsl2")


async def test_loading_screen_then_rig(catalog: Catalog, settle) -> None:
    app = RigApp(load=lambda: Startup(catalog=catalog, notices=[("Heads up", "seeded by a test")], origin="Test rig"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RigScreen)
        assert app.origin == "Test rig"
        assert any("seeded by a test" in n.message for n in app._notifications)


async def test_startup_failure_exits_with_code(settle) -> None:
    def fail() -> Startup:
        raise StartupFailed("the catalog is broken", "Invalid catalog file", 1)

    app = RigApp(load=fail)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    assert app.return_code == 1


def test_app_needs_exactly_one_source_of_catalog(catalog: Catalog) -> None:
    with pytest.raises(ValueError):
        RigApp()
    with pytest.raises(ValueError):
        RigApp(catalog, load=lambda: Startup(catalog=catalog))


def test_cli_lists_demo_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo"]) == 0
    assert "mixed-4090-3090" in capsys.readouterr().out


def test_cli_explorer_start_skips_subcommand_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from rigtui.cli import build_parser, _explorer_only; "
        "build_parser(not _explorer_only(['--rig', 'x'])); "
        "print('pydantic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


async def test_rig_keys_wait_for_loading(catalog: Catalog, settle) -> None:
    import threading

    release = threading.Event()

    def slow() -> Startup:
        release.wait(10)
        return Startup(catalog=catalog)

    app = RigApp(load=slow)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("u", "2", "ctrl+s")
        assert not hasattr(app, "state")
        assert app.current_mode == "loading"
        release.set()
        await settle(pilot)
        assert isinstance(app.screen, RigScreen)
        await pilot.press("2")
        await settle(pilot)
        assert app.current_mode == "fit"


async def test_loading_screen_has_rig_layout(catalog: Catalog, settle) -> None:
    import threading

    from textual.widgets import DataTable, Label

    from rigtui.tui.app import RIG_GPU_COLUMNS, LoadingScreen

    release = threading.Event()

    def slow() -> Startup:
        release.wait(10)
        return Startup(catalog=catalog)

    app = RigApp(load=slow)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoadingScreen)
        assert "Loading the catalog" in str(app.screen.query_one("#rig-origin", Label).render())
        skeleton = [str(c.label) for c in app.screen.query_one("#gpus", DataTable).columns.values()]
        assert skeleton == [label for label, _ in RIG_GPU_COLUMNS]
        release.set()
        await settle(pilot)
        assert isinstance(app.screen, RigScreen)
        columns = [str(c.label) for c in app.screen.query_one("#gpus", DataTable).columns.values()]
        assert columns == skeleton


def test_cli_explorer_start_defers_heavy_imports() -> None:
    import subprocess
    import sys

    # Replaces App.run to list the modules loaded when the first frame would be painted.
    code = (
        "import sys, textual.app\n"
        "seen = []\n"
        "textual.app.App.run = lambda self, *a, **k: seen.extend(sys.modules)\n"
        "from rigtui.cli import main\n"
        "main([])\n"
        "heavy = ('pydantic', 'httpx', 'numpy', 'gguf', 'pynvml', 'tomllib', 'rigtui.catalog', 'rigtui.hardware')\n"
        "print(' '.join(m for m in heavy if m in seen))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
