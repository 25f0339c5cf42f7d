"""`rigtui measure` against real fake servers on 127.0.0.1, and `rigtui fit` calibrated by its records."""

from __future__ import annotations

import json
import socket

import pytest

from rigtui.cli import main
from rigtui.sources import servers
from rigtui.sources.measurements import load_measurements, load_records
from tests.sources.fake_servers import llama_server_routes, ollama_routes, running, vllm_routes

RIG = ["--gpu", "RTX 4090", "--gpu", "RTX 3090"]
FIT = ["fit", *RIG, "--model", "llama-3.1-8b", "--quant", "Q4_K_M", "--context", "8192", "--runtime", "llama.cpp", "--json"]


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "READ_TIMEOUT_S", 0.5)
    monkeypatch.setattr(servers, "PROBE_DEADLINE_S", 1.5)
    monkeypatch.delenv("RIGTUI_SERVERS", raising=False)


def _measure(capsys, argv: list[str]) -> dict:
    assert main(["measure", *argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_measure_llama_server_beside_prediction(capsys) -> None:
    with running(llama_server_routes(decode_tps=98.0, prefill_tps=3100.0)) as server:
        report = _measure(capsys, ["--server", server.url, *RIG])
    assert report["server"]["kind"] == "llama-server"
    assert report["catalog_model"] == "llama-3.1-8b"
    assert report["quant"] == "Q4_K_M"
    assert report["runtime"] == "llama-cpp"
    assert report["context"] == 8192
    assert report["measured"]["decode_tokens_per_s"] == pytest.approx(98.0)
    assert report["predicted"]["decode_tokens_per_s"]["expected"] > 0
    assert report["decode_ratio"] == pytest.approx(98.0 / report["predicted"]["decode_tokens_per_s"]["expected"], rel=1e-2)
    assert report["rig"] == "rtx-4090+rtx-3090"
    assert report["rig_measurements"] == 1


def test_measure_stores_jsonl_record(capsys) -> None:
    with running(ollama_routes(decode_tps=45.0)) as server:
        report = _measure(capsys, ["--server", server.url, "--kind", "ollama", *RIG])
    records, problems = load_records()
    assert problems == []
    assert len(records) == 1
    assert records[0]["server_url"] == server.url
    assert records[0]["runtime"] == "ollama"
    assert records[0]["model"] == "llama-3.1-8b"
    assert records[0]["context"] == 4096
    assert report["saved_to"].endswith("measurements.jsonl")


def test_measure_vllm_predicts_bf16(capsys) -> None:
    with running(vllm_routes(token_delay_s=0.003)) as server:
        report = _measure(capsys, ["--server", server.url, *RIG, "--tokens", "16"])
    assert report["runtime"] == "vllm"
    assert report["quant"] == "safetensors-bf16"
    assert report["measured"]["generated_tokens"] == 16


def test_measure_unknown_model_says_so(capsys) -> None:
    routes = ollama_routes()
    routes["GET /api/ps"] = (200, {"Content-Type": "application/json"},
                             json.dumps({"models": [{"name": "my-own-finetune:latest", "size": 1}]}).encode())
    with running(routes) as server:
        report = _measure(capsys, ["--server", server.url, *RIG])
    assert report["catalog_model"] is None
    assert report["predicted"] is None
    assert "--catalog-model" in report["no_prediction_reason"]


def test_measure_without_server_is_one_line(capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["measure", "--server", f"http://127.0.0.1:{port}", *RIG]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "connection refused" in err


def test_measure_rejects_bad_address(capsys) -> None:
    assert main(["measure", "--server", "ftp://box", *RIG]) == 1
    assert "invalid server address" in capsys.readouterr().err


def test_measure_rejects_token_count(capsys) -> None:
    assert main(["measure", "--tokens", "0", *RIG]) == 2
    assert "--tokens" in capsys.readouterr().err


def test_measure_text_summary(capsys) -> None:
    with running(llama_server_routes()) as server:
        assert main(["measure", "--server", server.url, *RIG, "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "measured" in out
    assert "predicted" in out
    assert load_records()[0] == []


def test_fit_uses_measured_then_calibrated(capsys) -> None:
    other = [*FIT]
    other[other.index("8192")] = "4096"
    assert main(other) == 0
    model_only = json.loads(capsys.readouterr().out)["decode_tokens_per_s"]["expected"]
    with running(llama_server_routes(decode_tps=70.0)) as server:
        _measure(capsys, ["--server", server.url, *RIG])

    assert main(FIT) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["decode_source"] == "measured"
    assert exact["decode_tokens_per_s"]["expected"] == pytest.approx(70.0)
    assert exact["calibration_measurements"] == 1

    assert main(other) == 0
    calibrated = json.loads(capsys.readouterr().out)
    measurements, _ = load_measurements()
    ratio = measurements[0].decode_tps / measurements[0].predicted_decode_tps
    assert calibrated["decode_source"] == "calibrated"
    assert calibrated["decode_tokens_per_s"]["expected"] == pytest.approx(model_only * ratio, rel=1e-3)


def test_fit_without_measurements_is_model(capsys) -> None:
    assert main(FIT) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decode_source"] == "model"
    assert data["calibration_measurements"] == 0


def _stating(decode: float, prefill: float) -> dict:
    """llama-server routes whose /completion states these speeds as they are, NaN included."""
    routes = llama_server_routes()
    timings = {"prompt_n": 310, "prompt_ms": 100.0, "prompt_per_second": prefill,
               "predicted_n": 64, "predicted_ms": 650.0, "predicted_per_second": decode}
    body = json.dumps({"content": " The afternoon", "stop": True, "timings": timings}).encode()
    routes["POST /completion"] = (200, {"Content-Type": "application/json"}, body)
    return routes


@pytest.mark.parametrize(("decode", "prefill", "named"), [
    (1e308, float("nan"), "decode speed 1e+308"),
    (98.0, float("nan"), "prefill speed nan"),
    (0.0, 3100.0, "decode speed 0"),
    (98.0, 5e6, "prefill speed 5e+06"),
])
def test_measure_rejects_impossible_speeds(capsys, decode: float, prefill: float, named: str) -> None:
    with running(_stating(decode, prefill)) as server:
        assert main(["measure", "--server", server.url, *RIG]) == 1
    # Only rigtui's own lines: a fake server thread may log a dropped connection there too.
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rigtui:")]
    assert len(lines) == 1
    assert named in lines[0]
    assert "answer was rejected" in lines[0]
    assert load_records() == ([], [])


def test_measure_unknown_model_is_not_stored(capsys) -> None:
    routes = ollama_routes()
    routes["GET /api/ps"] = (200, {"Content-Type": "application/json"},
                             json.dumps({"models": [{"name": "my-own-finetune:latest", "size": 1}]}).encode())
    with running(routes) as server:
        report = _measure(capsys, ["--server", server.url, *RIG])
    assert report["saved_to"] is None
    assert load_records() == ([], [])


def test_stored_implausible_record_is_skipped(tmp_path) -> None:
    path = tmp_path / "measurements.jsonl"
    good = {"rig": "rtx-4090", "runtime": "llama-cpp", "model": "llama-3.1-8b", "quant": "Q4_K_M", "context": 8192,
            "decode_tps": 98.0, "predicted_decode_tps": 120.0}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "decode_tps": 1e308}) + "\n"
                    + json.dumps({**good, "prefill_tps": 0}) + "\n", encoding="utf-8")
    measurements, problems = load_measurements(path)
    assert [m.decode_tps for m in measurements] == [98.0]
    assert len(problems) == 2
    assert "decode speed 1e+308" in problems[0]
    assert "prefill speed 0" in problems[1]
