"""Real HTTP servers on 127.0.0.1 that answer like llama-server, Ollama and vLLM, or misbehave.

Response bodies follow each project's documentation: llama.cpp ``tools/server/README.md``
(/health, /props, /slots, /metrics, /completion timings), docs.ollama.com (/api/ps,
/api/tags, /api/version, /api/generate) and vLLM's ``docs/design/metrics.md`` with its
OpenAI-compatible ``ModelCard`` (/v1/models, /v1/completions, /metrics).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[["Handler"], Reply | None]


def json_reply(data: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


def text_reply(text: str, status: int = 200, content_type: str = "text/plain; version=0.0.4") -> Reply:
    return status, {"Content-Type": content_type}, text.encode()


class FakeServer:
    """A threaded HTTP server whose routes map 'METHOD /path' to a reply or a callable."""

    def __init__(self, routes: dict[str, Reply | Route]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, Any]] = []
        self.release = threading.Event()
        server = self

        class _Handler(Handler):
            owner = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "FakeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class Handler(BaseHTTPRequestHandler):
    owner: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.owner.requests.append((method, self.path, body))
        self.body = body
        route = self.owner.routes.get(f"{method} {self.path.split('?')[0]}")
        reply = route(self) if callable(route) else route
        if reply is None and route is not None:
            return  # the route wrote its own answer, or none at all
        status, headers, content = reply or json_reply({"error": "not found"}, 404)
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


@contextmanager
def running(routes: dict[str, Reply | Route]) -> Iterator[FakeServer]:
    server = FakeServer(routes).start()
    try:
        yield server
    finally:
        server.stop()


# --- well-behaved servers -------------------------------------------------------------------

LLAMA_METRICS = """# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 3100
# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s.
# TYPE llamacpp:prompt_tokens_seconds gauge
llamacpp:prompt_tokens_seconds 2950.5
# HELP llamacpp:predicted_tokens_seconds Average generation throughput in tokens/s.
# TYPE llamacpp:predicted_tokens_seconds gauge
llamacpp:predicted_tokens_seconds 101.25
llamacpp:requests_processing 0
"""


def llama_server_routes(decode_tps: float = 98.0, prefill_tps: float = 3100.0, metrics: bool = True) -> dict[str, Any]:
    model_path = "/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"

    def completion(handler: Handler) -> Reply:
        n_predict = handler.body.get("n_predict", 16)
        return json_reply({
            "content": " The afternoon" * 4,
            "model": model_path,
            "stop": True,
            "stop_type": "limit",
            "tokens_evaluated": 310,
            "timings": {
                "prompt_n": 310, "prompt_ms": 310 / prefill_tps * 1000, "prompt_per_token_ms": 1000 / prefill_tps,
                "prompt_per_second": prefill_tps, "predicted_n": n_predict,
                "predicted_ms": n_predict / decode_tps * 1000, "predicted_per_token_ms": 1000 / decode_tps,
                "predicted_per_second": decode_tps,
            },
        })

    routes: dict[str, Any] = {
        "GET /health": json_reply({"status": "ok"}),
        "GET /props": json_reply({
            "default_generation_settings": {"id": 0, "n_ctx": 8192, "is_processing": False, "params": {"n_predict": -1}},
            "total_slots": 1, "model_path": model_path, "chat_template": "{{ messages }}",
            "modalities": {"vision": False}, "build_info": "b4567-abcdef1", "is_sleeping": False,
        }),
        "GET /slots": json_reply([{"id": 0, "id_task": -1, "n_ctx": 8192, "speculative": False, "is_processing": False}]),
        "GET /v1/models": json_reply({"object": "list", "data": [{
            "id": model_path, "object": "model", "created": 1735142223, "owned_by": "llamacpp",
            "meta": {"vocab_type": 2, "n_vocab": 128256, "n_ctx_train": 131072, "n_embd": 4096,
                     "n_params": 8030261312, "size": 4912898304}}]}),
        "POST /completion": completion,
        "GET /metrics": text_reply(LLAMA_METRICS) if metrics else json_reply(
            {"error": {"code": 501, "message": "This server does not support metrics endpoint.", "type": "not_supported_error"}}, 501),
    }
    return routes


def ollama_routes(decode_tps: float = 45.0, prefill_tps: float = 900.0) -> dict[str, Any]:
    ps_entry = {
        "name": "llama3.1:8b-instruct-q4_K_M", "model": "llama3.1:8b-instruct-q4_K_M", "size": 6591830464,
        "digest": "a2af6cc3eb7f", "details": {"parent_model": "", "format": "gguf", "family": "llama",
                                              "families": ["llama"], "parameter_size": "8.0B",
                                              "quantization_level": "Q4_K_M"},
        "expires_at": "2025-10-17T16:47:07.93355-07:00", "size_vram": 5333539264, "context_length": 4096,
    }

    def generate(handler: Handler) -> Reply:
        options = handler.body.get("options", {})
        count = options.get("num_predict", 16)
        return json_reply({
            "model": handler.body["model"], "created_at": "2025-10-17T23:14:07.414671Z",
            "response": "The afternoon", "done": True, "done_reason": "length",
            "total_duration": 2_000_000_000, "load_duration": 1_000_000,
            "prompt_eval_count": 300, "prompt_eval_duration": int(300 / prefill_tps * 1e9),
            "eval_count": count, "eval_duration": int(count / decode_tps * 1e9),
        })

    return {
        "GET /api/version": json_reply({"version": "0.12.6"}),
        "GET /api/ps": json_reply({"models": [ps_entry]}),
        "GET /api/tags": json_reply({"models": [
            {"name": "llama3.1:8b-instruct-q4_K_M", "model": "llama3.1:8b-instruct-q4_K_M", "size": 4920753328,
             "modified_at": "2025-10-01T10:00:00Z", "digest": "a2af6cc3eb7f", "details": ps_entry["details"]},
            {"name": "qwen2.5:32b", "model": "qwen2.5:32b", "size": 19851349856,
             "modified_at": "2025-10-01T10:00:00Z", "digest": "9f13ba1299af", "details": {"quantization_level": "Q4_K_M"}},
        ]}),
        "POST /api/generate": generate,
    }


VLLM_METRICS = """# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 6000.0
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1280.0
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.01",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1260.0
vllm:inter_token_latency_seconds_count{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1260.0
vllm:inter_token_latency_seconds_sum{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.6
# TYPE vllm:request_prefill_time_seconds histogram
vllm:request_prefill_time_seconds_count{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 20.0
vllm:request_prefill_time_seconds_sum{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0
"""


def vllm_routes(token_delay_s: float = 0.002) -> dict[str, Any]:
    model = "meta-llama/Llama-3.1-8B-Instruct"

    def completions(handler: Handler) -> None:
        count = handler.body.get("max_tokens", 16)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def send(text: str) -> None:
            data = text.encode()
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        time.sleep(token_delay_s * 5)  # prefill
        for index in range(count):
            chunk = {"id": "cmpl-1", "object": "text_completion", "model": model,
                     "choices": [{"index": 0, "text": f" w{index}", "finish_reason": None}]}
            send(f"data: {json.dumps(chunk)}\n\n")
            time.sleep(token_delay_s)
        usage = {"id": "cmpl-1", "object": "text_completion", "model": model, "choices": [],
                 "usage": {"prompt_tokens": 305, "completion_tokens": count, "total_tokens": 305 + count}}
        send(f"data: {json.dumps(usage)}\n\n")
        send("data: [DONE]\n\n")
        handler.wfile.write(b"0\r\n\r\n")

    return {
        "GET /v1/models": json_reply({"object": "list", "data": [{
            "id": model, "object": "model", "created": 1735142223, "owned_by": "vllm", "root": model,
            "parent": None, "max_model_len": 16384, "permission": []}]}),
        "GET /version": json_reply({"version": "0.11.0"}),
        "GET /metrics": text_reply(VLLM_METRICS),
        "POST /v1/completions": completions,
    }


# --- hostile and broken servers -------------------------------------------------------------


def silent(handler: Handler) -> None:
    """Accept the request and never answer until the server stops."""
    handler.owner.release.wait(30)


def dripping(handler: Handler) -> None:
    """Answer 200 and send one byte every 0.2 s, forever."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    while not handler.owner.release.is_set():
        try:
            handler.wfile.write(b" ")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        time.sleep(0.2)


def huge(handler: Handler) -> None:
    """Stream a JSON body far over any sane size, without Content-Length."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    block = b"[" + b"1," * 32768
    try:
        for _ in range(1000):
            handler.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        return


def redirect_to(path: str) -> Reply:
    return 302, {"Location": path}, b""
