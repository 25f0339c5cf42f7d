"""`rigtui fit` end to end: JSON shape, exit statuses and error lines."""

from __future__ import annotations

import json

import pytest

from rigtui.cli import main

BASE = ["fit", "--gpu", "RTX 4090", "--gpu", "RTX 3090", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--quant", "Q4_K_M", "--context", "8192"]


def _json(capsys, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fit_json_has_documented_fields(capsys) -> None:
    data = _json(capsys, BASE + ["--split", "layer"])
    for key in ("fits", "runtime", "split", "quant", "context", "kv_cache", "devices", "short_device", "short_by_bytes",
                "tensor_split", "max_context", "model_file_bytes", "decode_tokens_per_s", "prefill_tokens_per_s",
                "launch_command", "warnings"):
        assert key in data
    assert data["fits"] is True
    assert data["split"] == "layer"
    device = data["devices"][0]
    for key in ("name", "kind", "capacity_bytes", "weights_bytes", "kv_cache_bytes", "compute_buffer_bytes", "overhead_bytes", "total_bytes", "layers"):
        assert key in device
    assert {d["kind"] for d in data["devices"]} == {"gpu", "cpu"}
    assert set(data["decode_tokens_per_s"]) == {"low", "expected", "high"}
    assert "--tensor-split" in data["launch_command"]


def test_fit_no_fit_is_exit_zero(capsys) -> None:
    data = _json(capsys, ["fit", "--gpu", "RTX 3060 12GB", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--quant", "Q8_0", "--split", "layer", "--cpu-ram", "16G"])
    assert data["fits"] is False
    assert data["short_by_bytes"] > 0
    assert data["short_device"]


def test_fit_two_of_same_card(capsys) -> None:
    data = _json(capsys, ["fit", "--gpu", "2x RTX 3090", "--model", "mistralai/Mixtral-8x22B-Instruct-v0.1", "--quant", "Q3_K_M"])
    assert sum(1 for d in data["devices"] if d["kind"] == "gpu") == 2
    assert any(w["code"] == "expert-offload" for w in data["warnings"])


def test_fit_used_memory_lowers_capacity(capsys) -> None:
    free = _json(capsys, BASE)
    used = _json(capsys, BASE + ["--used", "0=4G"])
    assert used["devices"][0]["capacity_bytes"] == free["devices"][0]["capacity_bytes"] - 4 * (1 << 30)


def test_fit_summary_prints_bars(capsys) -> None:
    assert main(BASE + ["--split", "layer"]) == 0
    out = capsys.readouterr().out
    assert "fits" in out
    assert "launch:" in out


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--gpu", "RTX 4099"], "did you mean"),
        (["--tensor-split", "a,b"], "--tensor-split"),
        (["--pcie", "9:8"], "--pcie"),
        (["--used", "5=2G"], "out of range"),
        (["--kv-cache", "q3_k"], "--kv-cache"),
        (["--cpu-ram", "lots"], "--cpu-ram"),
    ],
)
def test_fit_invalid_input_exits_2(capsys, extra, expected) -> None:
    argv = ["fit", "--model", "llama-3.1-8b", *extra]
    if "--gpu" not in extra:
        argv += ["--gpu", "RTX 3090"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1


def test_fit_unknown_model_suggests(capsys) -> None:
    assert main(["fit", "--gpu", "RTX 3090", "--model", "lama-3.1-70"]) == 2
    assert "Llama 3.1 70B" in capsys.readouterr().err


def test_fit_split_runtime_lacks_exits_2(capsys) -> None:
    argv = ["fit", "--gpu", "RTX 4090", "--gpu", "RTX 3090", "--model", "llama-3.1-8b", "--split", "tensor-parallel"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "llama.cpp" in err
    assert "tensor-parallel" in err
    assert "layer, row, tensor" in err


def test_fit_no_fit_has_no_speed_or_command(capsys) -> None:
    data = _json(capsys, ["fit", "--gpu", "RTX 4090", "--gpu", "RTX 3090", "--model", "deepseek-v3"])
    assert data["fits"] is False
    assert data["decode_tokens_per_s"] is None
    assert data["prefill_tokens_per_s"] is None
    assert data["launch_command"] is None
    assert not any(note.startswith("Chose") for note in data["notes"])
    assert any("comes closest" in note for note in data["notes"])


def test_fit_no_fit_reports_each_short_device(capsys) -> None:
    data = _json(capsys, ["fit", "--gpu", "RTX 4090", "--gpu", "RTX 3090", "--model", "deepseek-v3", "--split", "row"])
    shorts = {d["name"]: d["short_by_bytes"] for d in data["devices"]}
    gpu_names = [d["name"] for d in data["devices"] if d["kind"] == "gpu"]
    # Row split gives both cards the same share of every matrix, so both are short.
    assert all(shorts[name] > 0 for name in gpu_names)
    assert data["short_by_bytes"] == max(shorts.values())
    assert shorts[data["short_device"]] == data["short_by_bytes"]
    message = next(w["message"] for w in data["warnings"] if w["code"] == "does-not-fit")
    for name in gpu_names:
        assert name in message
    for device in data["devices"]:
        assert device["short_by_bytes"] == max(-device["free_bytes"], 0)


def test_fit_local_gguf_launches_that_file(capsys, tmp_path) -> None:
    from tests.sources.gguf_files import write_tiny_llama

    path = write_tiny_llama(tmp_path / "tiny.gguf")
    data = _json(capsys, ["fit", "--gpu", "RTX 3090", "--model", str(path), "--context", "1024"])
    assert f"-m {path} " in data["launch_command"]


def test_fit_local_gguf_other_quant_not_that_file(capsys, tmp_path) -> None:
    from tests.sources.gguf_files import write_tiny_llama

    path = write_tiny_llama(tmp_path / "tiny.gguf")
    data = _json(capsys, ["fit", "--gpu", "RTX 3090", "--model", str(path), "--context", "1024", "--quant", "Q4_K_M"])
    assert str(path) not in data["launch_command"]


def test_gguf_model_path_remote_uses_file_name() -> None:
    from rigtui.commands.common import gguf_model_path

    assert gguf_model_path("https://example.org/org/repo/resolve/main/m-Q4_K_M.gguf?download=1") == "m-Q4_K_M.gguf"
    assert gguf_model_path("/tmp/x/tiny.gguf") == "/tmp/x/tiny.gguf"


@pytest.mark.parametrize(
    "gpus, expected",
    [
        (["RTX 4090", "RTX 3090"], "fits on the GPUs"),
        (["RTX 4090"], "fits with CPU or expert offload"),
    ],
)
def test_fit_headline_names_offload(capsys, gpus: list[str], expected: str) -> None:
    argv = ["fit", "--model", "llama-3.3-70b", "--quant", "Q4_K_M"]
    for gpu in gpus:
        argv += ["--gpu", gpu]
    assert main(argv) == 0
    # Rich wraps the headline at the console width, so compare the text before the split line.
    headline = " ".join(capsys.readouterr().out.split("\nsplit ")[0].split())
    assert headline.endswith(expected)
