"""Probing and measuring servers over real HTTP on 127.0.0.1, including broken and hostile ones."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from rigtui.sources import servers
from rigtui.sources.measure import MeasureFailed, measure_generation
from rigtui.sources.servers import ServerTarget, configured_targets, parse_prometheus, parse_target, probe
from tests.sources.fake_servers import (
    dripping,
    huge,
    json_reply,
    llama_server_routes,
    ollama_routes,
    redirect_to,
    running,
    silent,
    text_reply,
    vllm_routes,
)


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "READ_TIMEOUT_S", 0.5)
    monkeypatch.setattr(servers, "PROBE_DEADLINE_S", 1.5)
    monkeypatch.delenv("RIGTUI_SERVERS", raising=False)
    monkeypatch.delenv("RIGTUI_SERVER_API_KEY", raising=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- well-behaved servers -------------------------------------------------------------------


def test_llama_server_probe_reads_props_and_metrics() -> None:
    with running(llama_server_routes()) as server:
        status = probe(ServerTarget("llama-server", server.url))
    assert status.ok, status.error
    assert status.version == "b4567-abcdef1"
    assert status.models[0].name.endswith("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    assert status.models[0].context == 8192
    assert status.models[0].size_bytes == 4912898304
    assert status.busy is False
    assert status.speeds is not None
    assert status.speeds.decode_tps == pytest.approx(101.25)
    assert status.speeds.prefill_tps == pytest.approx(2950.5)
    assert status.notes == ()


def test_llama_server_without_metrics_says_how_to_enable() -> None:
    with running(llama_server_routes(metrics=False)) as server:
        status = probe(ServerTarget("llama-server", server.url))
    assert status.ok
    assert status.speeds is None
    assert len(status.notes) == 1
    assert "--metrics" in status.notes[0]


def test_ollama_probe_reads_loaded_models() -> None:
    with running(ollama_routes()) as server:
        status = probe(ServerTarget("ollama", server.url))
    assert status.ok, status.error
    assert status.version == "0.12.6"
    model = status.models[0]
    assert model.name == "llama3.1:8b-instruct-q4_K_M"
    assert model.size_bytes == 6591830464
    assert model.vram_bytes == 5333539264
    assert model.context == 4096
    assert model.quant == "Q4_K_M"
    assert status.available == ("llama3.1:8b-instruct-q4_K_M", "qwen2.5:32b")


def test_vllm_probe_reads_models_and_histograms() -> None:
    with running(vllm_routes()) as server:
        status = probe(ServerTarget("vllm", server.url))
    assert status.ok, status.error
    assert status.version == "0.11.0"
    assert status.models[0].name == "meta-llama/Llama-3.1-8B-Instruct"
    assert status.models[0].context == 16384
    assert status.speeds is not None
    assert status.speeds.decode_tps == pytest.approx(100.0)  # 1260 tokens over 12.6 s
    assert status.speeds.prefill_tps == pytest.approx(3000.0)  # 6000 tokens over 2.0 s


def test_detect_kind_finds_each_server() -> None:
    for routes, kind in ((llama_server_routes(), "llama-server"), (ollama_routes(), "ollama"), (vllm_routes(), "vllm")):
        with running(routes) as server:
            status = servers.detect_kind(server.url)
        assert status.kind == kind, status.error


# --- failures become one line ---------------------------------------------------------------


def test_refused_connection_is_one_line() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    status = probe(ServerTarget("ollama", url))
    assert not status.ok
    assert "connection refused" in status.error
    assert "\n" not in status.error


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (json_reply({"error": "unauthorized"}, 401), "HTTP 401"),
        (json_reply({"error": "missing"}, 404), "HTTP 404"),
        (json_reply({"error": "boom"}, 500), "HTTP 500"),
        (text_reply("<html><body>router login</body></html>", content_type="text/html"), "HTML"),
        (text_reply('{"version": "0.1"', content_type="application/json"), "malformed JSON"),
        (json_reply(["not", "an", "object"]), "expected a JSON object"),
        (redirect_to("/api/version"), "redirects"),
    ],
    ids=["401", "404", "500", "html", "malformed", "wrong-shape", "redirect-loop"],
)
def test_broken_answers_are_one_line(reply, words: str) -> None:
    with running({"GET /api/version": reply}) as server:
        status = probe(ServerTarget("ollama", server.url))
    assert not status.ok
    assert words in status.error
    assert status.error.startswith(server.url)
    assert "\n" not in status.error


def test_unauthorized_names_the_api_key_variable() -> None:
    with running({"GET /api/version": json_reply({}, 401)}) as server:
        status = probe(ServerTarget("ollama", server.url))
    assert "RIGTUI_SERVER_API_KEY" in status.error


def test_api_key_is_sent_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGTUI_SERVER_API_KEY", "secret-key")
    seen: list[str | None] = []

    def version(handler):
        seen.append(handler.headers.get("Authorization"))
        return json_reply({"version": "0.12.6"})

    with running({"GET /api/version": version}) as server:
        probe(ServerTarget("ollama", server.url))
    assert seen[0] == "Bearer secret-key"


def test_silent_server_times_out_quickly() -> None:
    with running({"GET /api/version": silent}) as server:
        start = time.monotonic()
        status = probe(ServerTarget("ollama", server.url))
        elapsed = time.monotonic() - start
    assert not status.ok
    assert "no answer within" in status.error
    assert elapsed < 3


def test_dripping_server_hits_the_deadline() -> None:
    with running({"GET /api/version": dripping}) as server:
        start = time.monotonic()
        status = probe(ServerTarget("ollama", server.url))
        elapsed = time.monotonic() - start
    assert not status.ok
    assert "deadline" in status.error
    assert elapsed < 4


def test_huge_body_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "MAX_BODY_BYTES", 256 << 10)
    with running({"GET /api/version": huge}) as server:
        status = probe(ServerTarget("ollama", server.url))
    assert not status.ok
    assert "limit" in status.error


def test_declared_huge_body_is_not_read() -> None:
    body = b"{" + b" " * (servers.MAX_BODY_BYTES + 10) + b"}"
    with running({"GET /api/version": (200, {"Content-Type": "application/json"}, body)}) as server:
        status = probe(ServerTarget("ollama", server.url))
    assert "over the" in status.error


def test_optional_endpoint_failure_is_a_note() -> None:
    routes = ollama_routes()
    routes["GET /api/tags"] = json_reply({"error": "boom"}, 500)
    with running(routes) as server:
        status = probe(ServerTarget("ollama", server.url))
    assert status.ok
    assert status.models
    assert any("HTTP 500" in note for note in status.notes)


def test_wrong_kind_at_address_is_one_line() -> None:
    with running(ollama_routes()) as server:
        status = probe(ServerTarget("vllm", server.url))
    assert not status.ok
    assert "HTTP 404" in status.error


def test_probe_all_keeps_order_and_isolates_failures() -> None:
    with running(ollama_routes()) as good, running({"GET /v1/models": silent}) as stuck:
        targets = [ServerTarget("vllm", stuck.url), ServerTarget("ollama", good.url)]
        statuses = servers.probe_all(targets)
    assert [s.url for s in statuses] == [stuck.url, good.url]
    assert not statuses[0].ok
    assert statuses[1].ok


# --- configuration --------------------------------------------------------------------------


def test_defaults_without_configuration() -> None:
    targets, problems = configured_targets(None, environ={})
    assert [t.url for t in targets] == ["http://127.0.0.1:8080", "http://127.0.0.1:11434", "http://127.0.0.1:8000"]
    assert problems == []


def test_environment_replaces_defaults() -> None:
    targets, problems = configured_targets(None, environ={"RIGTUI_SERVERS": "ollama=box:11434, vllm=http://10.0.0.2:8000/"})
    assert targets == [ServerTarget("ollama", "http://box:11434"), ServerTarget("vllm", "http://10.0.0.2:8000")]
    assert problems == []


def test_bad_environment_entry_is_reported() -> None:
    targets, problems = configured_targets(None, environ={"RIGTUI_SERVERS": "tgi=http://x:1,ollama=http://y:2"})
    assert targets == [ServerTarget("ollama", "http://y:2")]
    assert "tgi=http://x:1" in problems[0]


def test_config_file_servers(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('servers = ["llama-server=http://127.0.0.1:9999"]\n')
    targets, problems = configured_targets(config, environ={})
    assert targets == [ServerTarget("llama-server", "http://127.0.0.1:9999")]
    assert problems == []


def test_broken_config_file_falls_back(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("servers = [1, 2\n")
    targets, problems = configured_targets(config, environ={})
    assert len(targets) == 3
    assert "default addresses" in problems[0]


@pytest.mark.parametrize("text", ["ollama", "ollama=ftp://x", "vllm=http://host:notaport", "x=http://a:1"])
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        parse_target(text)


def test_prometheus_parser_skips_garbage() -> None:
    text = "garbage line\nllamacpp:predicted_tokens_seconds NaN\nx{a=\"1\"} 2.5\n# HELP y\ny 1e3 1700000000\n"
    metrics = parse_prometheus(text)
    assert metrics["x"] == [('{a="1"}', 2.5)]
    assert metrics["y"] == [("", 1000.0)]
    assert servers.llama_server_speeds(metrics) is None


# --- measuring ------------------------------------------------------------------------------


def test_measure_llama_server_reads_timings() -> None:
    with running(llama_server_routes(decode_tps=98.0, prefill_tps=3100.0)) as server:
        status = probe(ServerTarget("llama-server", server.url))
        timing = measure_generation(status, n_predict=64)
        sent = [body for method, path, body in server.requests if path == "/completion"][0]
    assert timing.decode_tps == pytest.approx(98.0)
    assert timing.prefill_tps == pytest.approx(3100.0)
    assert timing.generated_tokens == 64
    assert sent["n_predict"] == 64
    assert sent["cache_prompt"] is False
    assert len(sent["prompt"]) > 1000


def test_measure_ollama_uses_eval_durations() -> None:
    with running(ollama_routes(decode_tps=45.0, prefill_tps=900.0)) as server:
        status = probe(ServerTarget("ollama", server.url))
        timing = measure_generation(status, n_predict=32)
        sent = [body for method, path, body in server.requests if path == "/api/generate"][0]
    assert timing.decode_tps == pytest.approx(45.0, rel=1e-3)
    assert timing.prefill_tps == pytest.approx(900.0, rel=1e-3)
    assert sent["model"] == "llama3.1:8b-instruct-q4_K_M"
    assert sent["stream"] is False
    assert sent["options"]["num_predict"] == 32


def test_measure_vllm_times_the_stream() -> None:
    with running(vllm_routes(token_delay_s=0.01)) as server:
        status = probe(ServerTarget("vllm", server.url))
        timing = measure_generation(status, n_predict=20)
    assert timing.generated_tokens == 20
    assert timing.prompt_tokens == 305
    # 19 gaps of 10 ms make 100 tokens/s; a busy test machine delays or bunches chunks.
    assert 20 < timing.decode_tps < 400


def test_measure_ollama_without_loaded_model_asks_for_one() -> None:
    routes = ollama_routes()
    routes["GET /api/ps"] = json_reply({"models": []})
    with running(routes) as server:
        status = probe(ServerTarget("ollama", server.url))
        with pytest.raises(MeasureFailed, match="--model"):
            measure_generation(status)


def test_measure_reports_missing_timings() -> None:
    routes = llama_server_routes()
    routes["POST /completion"] = json_reply({"content": "hi"})
    with running(routes) as server:
        status = probe(ServerTarget("llama-server", server.url))
        with pytest.raises(MeasureFailed, match="timings"):
            measure_generation(status)


def test_measure_silent_generation_times_out() -> None:
    routes = llama_server_routes()
    routes["POST /completion"] = silent
    with running(routes) as server:
        status = probe(ServerTarget("llama-server", server.url))
        with pytest.raises(MeasureFailed, match="no answer within"):
            measure_generation(status, timeout_s=0.5)


def _measure_with(routes: dict, kind: str) -> object:
    with running(routes) as server:
        return measure_generation(probe(ServerTarget(kind, server.url)), n_predict=16)


def test_measure_ignores_impossible_token_counts() -> None:
    routes = llama_server_routes()
    body = {"timings": {"predicted_per_second": 98.0, "prompt_n": 1e999, "predicted_n": 10**400}}
    routes["POST /completion"] = text_reply(json.dumps(body).replace("Infinity", "1e999"), content_type="application/json")
    timing = _measure_with(routes, "llama-server")
    assert timing.decode_tps == 98.0
    assert timing.prefill_tps is None
    assert timing.prompt_tokens is None
    assert timing.generated_tokens is None


@pytest.mark.parametrize("prefill", ["1e999", "NaN", "0", "-3", "5e6"])
def test_measure_rejects_impossible_prefill(prefill: str) -> None:
    routes = llama_server_routes()
    routes["POST /completion"] = text_reply(
        '{"timings": {"predicted_per_second": 98.0, "prompt_per_second": %s}}' % prefill, content_type="application/json")
    with pytest.raises(MeasureFailed, match="prompt_per_second: prefill speed .* answer was rejected"):
        _measure_with(routes, "llama-server")


def test_measure_rejects_infinite_decode() -> None:
    routes = llama_server_routes()
    routes["POST /completion"] = text_reply('{"timings": {"predicted_per_second": 1e999}}', content_type="application/json")
    with pytest.raises(MeasureFailed, match="decode speed inf tok/s is not a finite positive number"):
        _measure_with(routes, "llama-server")


def test_measure_ollama_tiny_duration_is_no_speed() -> None:
    routes = ollama_routes()
    routes["POST /api/generate"] = json_reply({"eval_count": 16, "eval_duration": 5e-324,
                                               "prompt_eval_count": 300, "prompt_eval_duration": 5e-324})
    with pytest.raises(MeasureFailed, match="no valid speed"):
        _measure_with(routes, "ollama")


def test_measure_rejects_token_count() -> None:
    status = servers.ServerStatus("llama-server", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="1 to 512"):
        measure_generation(status, n_predict=0)
