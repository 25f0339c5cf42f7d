"""`rigtui fit --model FILE.gguf`: the file's own shape and quantization drive the placement."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest

from gguf_files import write_tiny_llama
from rigtui.cli import main


def run_fit(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["fit", "--gpu", "RTX 3090", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_reads_model_and_quant_from_gguf(capsys, tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "tiny.gguf", file_type=gguf.LlamaFileType.MOSTLY_F16)
    code, out, err = run_fit(capsys, "--model", str(path), "--context", "1024", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["fits"] is True
    assert result["quant"] == "F16"
    assert result["devices"][0]["layers"] == 2


def test_fit_with_malformed_gguf_exits_2_naming_file(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 8)
    code, _, err = run_fit(capsys, "--model", str(bad))
    assert code == 2
    assert err.count("\n") == 1 and "broken.gguf" in err and "--model" in err


def test_fit_with_unreachable_repo_exits_1(capsys, file_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", file_server.url)
    code, _, err = run_fit(capsys, "--model", "someone/not-in-catalog-7B")
    assert code == 1
    assert "not found (HTTP 404)" in err


def test_fit_rejects_gguf_cut_after_header(capsys, tmp_path: Path) -> None:
    whole = write_tiny_llama(tmp_path / "whole.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole.read_bytes()[:3000])
    code, _, err = run_fit(capsys, "--model", str(cut))
    assert code == 2
    assert "truncated" in err and "cut.gguf" in err
