"""`rigtui catalog`, `rigtui paths`, `--version` and `--help` on the bundled catalogs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from rigtui import __version__
from rigtui.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits for --help, --version and usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out.strip() == f"rigtui {__version__}"


def test_help_lists_subcommands(capsys) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for name in ("catalog", "paths", "fit"):
        assert name in out


def test_bundled_catalogs_pass_check(capsys) -> None:
    code, out, _ = run_cli(capsys, "catalog", "check", "--json")
    report = json.loads(out)
    assert report["problems"] == []
    assert code == 0
    counts = report["counts"]
    assert counts["gpus"] >= 60
    assert counts["models"] >= 80
    assert counts["runtimes"] >= 10
    assert counts["os"] >= 6
    assert counts["prices"] > 0
    assert counts["quants"] >= 25


@pytest.mark.parametrize("kind", ["gpus", "models", "quants", "runtimes", "os", "prices"])
def test_catalog_lists_as_json_with_sources(capsys, kind: str) -> None:
    code, out, _ = run_cli(capsys, "catalog", kind, "--json")
    entries = json.loads(out)
    assert code == 0
    assert entries
    assert all(entry.get("source") for entry in entries)


def test_catalog_table_output(capsys) -> None:
    code, out, _ = run_cli(capsys, "catalog", "gpus")
    assert code == 0
    assert "rtx-4090" in out
    assert "62 gpus" in out or "gpus" in out.splitlines()[0]


def test_broken_user_file_warns_but_lists(capsys, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "cfg"
    (config / "catalog").mkdir(parents=True)
    (config / "catalog" / "gpus.toml").write_text('[[gpus]]\nid = "rtx-4090"\nbandwidth_gbs = "fast"\n')
    monkeypatch.setenv("RIGTUI_CONFIG_DIR", str(config))
    code, out, err = run_cli(capsys, "catalog", "gpus", "--json")
    assert code == 0
    assert "gpus.toml" in err
    assert "bandwidth_gbs" in err
    assert any(entry["id"] == "rtx-4090" for entry in json.loads(out))
    code, _, _ = run_cli(capsys, "catalog", "check")
    assert code == 1


def test_unknown_catalog_kind_is_a_usage_error(capsys) -> None:
    code, _, err = run_cli(capsys, "catalog", "cards")
    assert code == 2
    assert "invalid choice: 'cards'" in err


def test_paths_honours_environment(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RIGTUI_CONFIG_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("RIGTUI_DATA_DIR", str(tmp_path / "d"))
    code, out, _ = run_cli(capsys, "paths", "--json")
    paths = json.loads(out)
    assert code == 0
    assert paths["user_catalogs"] == str(tmp_path / "c" / "catalog")
    assert paths["saved_rigs"] == str(tmp_path / "d" / "rigs")


def _gguf_files() -> Any:
    """Import the GGUF writer helper that the source tests share."""
    path = Path(__file__).parents[1] / "sources" / "gguf_files.py"
    spec = importlib.util.spec_from_file_location("gguf_files_for_paths", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paths_lists_files_where_rigtui_writes(capsys, tmp_path: Path, monkeypatch) -> None:
    from rigtui.core.rig_calibration import Measurement
    from rigtui.sources.local import scan_default_locations
    from rigtui.sources.measurements import append_record

    monkeypatch.setenv("RIGTUI_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("RIGTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RIGTUI_SCAN_DEFAULTS", "0")
    monkeypatch.setenv("RIGTUI_SCAN_DIRS", str(tmp_path / "models"))
    code, out, _ = run_cli(capsys, "paths", "--json")
    paths = json.loads(out)
    assert code == 0
    written = append_record(Measurement("rig", "llama-cpp", None, None, None, 90.0))
    assert paths["measurements"] == str(written)
    (tmp_path / "models").mkdir()
    _gguf_files().write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf")
    scan_default_locations()
    assert Path(paths["local_model_cache"]).is_file()


def test_paths_table_names_new_files(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RIGTUI_DATA_DIR", str(tmp_path / "d"))
    code, out, _ = run_cli(capsys, "paths")
    assert code == 0
    lines = {line.split("  ", 1)[0]: line for line in out.splitlines()}
    assert str(tmp_path / "d" / "measurements.jsonl") in lines["measurements"]
    assert lines["measurements"].endswith("(not created yet)")
    assert "local-models.json" in lines["local model cache"]


@pytest.mark.subprocess
def test_closed_pipe_ends_quietly() -> None:
    """A reader such as `head` that closes the pipe early gets no traceback on stderr."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "rigtui", "catalog", "models", "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        process.stdout.read(10)
        process.stdout.close()
        stderr = process.stderr.read().decode() if process.stderr else ""
        process.wait(timeout=60)
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr


def test_write_atomic_keeps_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails midway leaves the previous file and no temporary file behind."""
    import os

    from rigtui.paths import write_atomic

    target = tmp_path / "sub" / "file.json"
    write_atomic(target, "old")
    assert target.read_text() == "old"

    def failing_replace(source: str, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.json"]
