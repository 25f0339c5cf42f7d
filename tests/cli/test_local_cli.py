"""`rigtui local`: models on this disk, their quantization and size, and whether they fit a rig."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import gguf
import pytest

from rigtui.cli import main


def _write_tiny_llama() -> Any:
    """Import the GGUF writer helper that the source tests share."""
    path = Path(__file__).parents[1] / "sources" / "gguf_files.py"
    spec = importlib.util.spec_from_file_location("gguf_files_for_cli", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_llama


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """One readable Q8_0 file and one file that is not GGUF."""
    models = tmp_path / "models" / "publisher" / "Tiny-GGUF"
    models.mkdir(parents=True)
    _write_tiny_llama()(models / "Tiny-Q8_0.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q8_0, context_length=32768)
    (models / "Junk.gguf").write_bytes(b"not a gguf file at all")
    return tmp_path / "models"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_local_json_lists_models_and_errors(capsys, folder: Path) -> None:
    code, out, err = run_cli(capsys, "local", "--dir", str(folder), "--no-defaults", "--json")
    assert code == 0, err
    report = json.loads(out)
    models = {m["name"]: m for m in report["models"]}
    assert set(models) == {"Tiny-Q8_0", "Junk"}
    tiny = models["Tiny-Q8_0"]
    assert tiny["quant"] == "Q8_0"
    assert tiny["file_bytes"] == Path(tiny["path"]).stat().st_size
    assert tiny["fit"] is None
    assert "not a GGUF file" in models["Junk"]["error"]
    assert report["roots"] == [{"path": str(folder), "layout": "folder", "exists": True}]


def test_local_with_gpu_places_each_model(capsys, folder: Path) -> None:
    code, out, err = run_cli(capsys, "local", "--dir", str(folder), "--no-defaults", "--gpu", "RTX 3090", "--json")
    assert code == 0, err
    report = json.loads(out)
    tiny = next(m for m in report["models"] if m["name"] == "Tiny-Q8_0")
    assert report["rig"] == ["GeForce RTX 3090"]
    assert tiny["fit"]["fits"] is True
    assert tiny["fit"]["context"] == 8192
    assert tiny["fit"]["decode_tokens_per_s"] > 0
    assert tiny["path"] in tiny["fit"]["launch_command"]
    assert tiny["fit"]["weights_source"] == "gguf-header"


def test_local_context_capped_at_model_maximum(capsys, folder: Path) -> None:
    argv = ("local", "--dir", str(folder), "--no-defaults", "--gpu", "3090", "--context", "131072", "--json")
    code, out, _ = run_cli(capsys, *argv)
    tiny = next(m for m in json.loads(out)["models"] if m["name"] == "Tiny-Q8_0")
    assert code == 0
    assert tiny["fit"]["context"] == 32768


def test_local_table_shows_fit_and_skipped(capsys, folder: Path) -> None:
    code, out, err = run_cli(capsys, "local", "--dir", str(folder), "--no-defaults", "--gpu", "3090")
    assert code == 0, err
    assert "Tiny-Q8_0" in out
    assert "● fits" in out
    assert "skipped" in out
    assert "Junk.gguf" in out


def test_local_reads_scan_dirs_variable(capsys, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGTUI_SCAN_DIRS", str(folder))
    code, out, _ = run_cli(capsys, "local", "--json")
    assert code == 0
    assert "Tiny-Q8_0" in {m["name"] for m in json.loads(out)["models"]}


def test_local_nothing_found_says_where(capsys, tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "local", "--dir", str(tmp_path), "--no-defaults")
    assert code == 0
    assert "No models found" in out
    assert str(tmp_path) in out


def test_local_missing_dir_exits_2(capsys, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "local", "--dir", str(tmp_path / "missing"))
    assert code == 2
    assert err.count("\n") == 1
    assert "--dir" in err


def test_local_unknown_gpu_exits_2(capsys, folder: Path) -> None:
    code, _, err = run_cli(capsys, "local", "--dir", str(folder), "--gpu", "RTX 9999 Ultra")
    assert code == 2
    assert err.count("\n") == 1
    assert "RTX 9999 Ultra" in err


def test_help_lists_local(capsys) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert "local" in out
