"""Find running inference servers (llama-server, Ollama, vLLM) and read what they have loaded.

Only GET and POST requests go out, only to the configured addresses, with short timeouts,
an overall deadline per server and a cap on each response's size; redirects are not
followed. Every failure becomes one line in ``ServerStatus.error`` or ``notes``; nothing
here raises into the caller.

Response shapes, from each project's documentation:

- llama-server (llama.cpp ``tools/server/README.md``): ``GET /health`` answers
  ``{"status": "ok"}`` or 503 while loading; ``GET /props`` has ``model_path``,
  ``build_info``, ``total_slots`` and ``default_generation_settings.n_ctx``; ``GET /slots``
  is a list of slots with ``n_ctx`` and ``is_processing`` (off with ``--no-slots``);
  ``GET /metrics`` is Prometheus text, only with ``--metrics``, with the gauges
  ``llamacpp:predicted_tokens_seconds`` and ``llamacpp:prompt_tokens_seconds``;
  ``GET /v1/models`` gives ``data[0].meta.size`` in bytes.
- Ollama (docs.ollama.com/api/ps, api/tags, api/version): ``GET /api/ps`` lists loaded
  models with ``name``, ``size``, ``size_vram``, ``context_length`` and
  ``details.quantization_level``; ``GET /api/tags`` lists the downloaded ones;
  ``GET /api/version`` answers ``{"version": "0.5.1"}``.
- vLLM (vllm ``docs/design/metrics.md`` and the OpenAI-compatible ``ModelCard``):
  ``GET /v1/models`` lists ``data[].id`` with ``max_model_len``; ``GET /metrics`` has the
  counter ``vllm:prompt_tokens_total`` and the histograms
  ``vllm:inter_token_latency_seconds`` (``vllm:time_per_output_token_seconds`` before
  v0.11) and ``vllm:request_prefill_time_seconds``.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

KINDS = ("llama-server", "ollama", "vllm")
DEFAULT_URLS = {
    "llama-server": "http://127.0.0.1:8080",
    "ollama": "http://127.0.0.1:11434",
    "vllm": "http://127.0.0.1:8000",
}
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 3.0
PROBE_DEADLINE_S = 8.0
"""Maximum time for one server's probe, all its requests together."""
MAX_BODY_BYTES = 4 << 20
"""Largest response read; a llama-server /props with a long chat template is about 20 KiB."""
ENV_SERVERS = "RIGTUI_SERVERS"
ENV_API_KEY = "RIGTUI_SERVER_API_KEY"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class ProbeFailed(Exception):
    """One request failed; the message is the line shown to the user."""


@dataclass(frozen=True)
class ServerTarget:
    """An address to probe and the kind of server expected there."""

    kind: str
    """'llama-server', 'ollama' or 'vllm'."""
    url: str
    """Base address without a trailing slash, such as 'http://127.0.0.1:8080'."""


@dataclass(frozen=True)
class LoadedModel:
    """A model a server holds in memory."""

    name: str
    """Name as the server reports it: GGUF path, Ollama tag or repository id."""
    size_bytes: int | None = None
    """Memory the model takes (Ollama ``size``) or its file size (llama-server ``meta.size``)."""
    vram_bytes: int | None = None
    """Part of ``size_bytes`` in GPU memory (Ollama ``size_vram``); None where not reported."""
    context: int | None = None
    """Context length the server allocated, tokens."""
    quant: str | None = None
    """Quantization label when the server states one (Ollama ``quantization_level``)."""
    parameter_size: str | None = None
    """Ollama ``details.parameter_size``, such as '8.0B'."""


@dataclass(frozen=True)
class ServerSpeeds:
    """Average speeds a server reports over the requests it has served so far."""

    decode_tps: float | None
    prefill_tps: float | None
    source: str
    """The metrics they come from, for display."""


@dataclass(frozen=True)
class ServerStatus:
    """What one probe of one address found."""

    kind: str
    url: str
    error: str | None = None
    """One line saying why the server could not be read; None when it answered."""
    version: str | None = None
    models: tuple[LoadedModel, ...] = ()
    available: tuple[str, ...] = ()
    """Models downloaded but not loaded (Ollama ``/api/tags``)."""
    speeds: ServerSpeeds | None = None
    notes: tuple[str, ...] = ()
    """Optional endpoints that failed, one line each."""
    busy: bool | None = None
    """True while a llama-server slot is processing a request."""

    @property
    def ok(self) -> bool:
        return self.error is None


# --- configuration --------------------------------------------------------------------------


def normalize_url(text: str) -> str:
    """Return an address as 'http://host:port' without a trailing slash.

    Raises:
        ValueError: not an http(s) address; the message names the value and the fix.
    """
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid server address {text!r}; use http://HOST:PORT such as http://127.0.0.1:8080")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"invalid port in server address {text!r}; use http://HOST:PORT") from None
    return url


def parse_target(text: str) -> ServerTarget:
    """Parse 'kind=url' as written in RIGTUI_SERVERS and the config file.

    Raises:
        ValueError: unknown kind or invalid address.
    """
    kind, sep, url = text.partition("=")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS:
        raise ValueError(f"invalid server entry {text!r}; use KIND=URL with KIND one of {', '.join(KINDS)}")
    return ServerTarget(kind, normalize_url(url))


def configured_targets(
    config_file: Path | None = None, environ: dict[str, str] | None = None
) -> tuple[list[ServerTarget], list[str]]:
    """Return the addresses to probe and a line for each configuration entry skipped.

    ``RIGTUI_SERVERS`` (comma-separated ``kind=url``) replaces the defaults when set; else
    the ``servers`` list in config.toml does (``servers = ["ollama=http://box:11434"]``);
    else the three default local addresses are used.
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    entries: list[str] = []
    source = ""
    if env.get(ENV_SERVERS, "").strip():
        entries = [e for e in env[ENV_SERVERS].split(",") if e.strip()]
        source = ENV_SERVERS
    elif config_file is not None and config_file.is_file():
        entries, problem = _config_entries(config_file)
        source = str(config_file)
        if problem:
            problems.append(problem)
    targets: list[ServerTarget] = []
    for entry in entries:
        try:
            target = parse_target(entry)
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
            continue
        if target not in targets:
            targets.append(target)
    if not targets:
        targets = [ServerTarget(kind, url) for kind, url in DEFAULT_URLS.items()]
    return targets, problems


def _config_entries(path: Path) -> tuple[list[str], str | None]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [], f"{path}: cannot read the servers list ({exc}); the default addresses are probed"
    value = data.get("servers", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [], f"{path}: servers must be a list of \"KIND=URL\" strings; the default addresses are probed"
    return value, None


# --- HTTP -----------------------------------------------------------------------------------


def _client(read_timeout_s: float | None = None) -> httpx.Client:
    headers = {"User-Agent": "rigtui", "Accept": "application/json, text/plain"}
    key = os.environ.get(ENV_API_KEY)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    timeout = httpx.Timeout(read_timeout_s or READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    # trust_env=False: a proxy from the environment must not see requests meant for localhost.
    return httpx.Client(timeout=timeout, follow_redirects=False, headers=headers, trust_env=False)


def clean(text: str, limit: int = 120) -> str:
    """Make server-supplied text safe for one line: no control characters, bounded length."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def request(
    client: httpx.Client,
    method: str,
    url: str,
    deadline: float,
    body: dict[str, Any] | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> tuple[bytes, str]:
    """Send one request and return the body and its content type.

    Raises:
        ProbeFailed: with the line to show, for any failure.
    """
    try:
        with client.stream(method, url, json=body) as response:
            _check_status(response, url)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ProbeFailed(f"{url}: response of {int(declared):,} bytes is over the {max_bytes:,}-byte limit")
            chunks = bytearray()
            for part in response.iter_bytes():
                chunks += part
                if len(chunks) > max_bytes:
                    raise ProbeFailed(f"{url}: response is over the {max_bytes:,}-byte limit")
                if time.monotonic() > deadline:
                    raise ProbeFailed(f"{url}: still sending after the deadline; the server is too slow or stuck")
            return bytes(chunks), response.headers.get("content-type", "")
    except ProbeFailed:
        raise
    except httpx.ConnectTimeout:
        raise ProbeFailed(f"{url}: timed out connecting after {CONNECT_TIMEOUT_S:g} s") from None
    except httpx.ConnectError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else f"cannot connect ({clean(str(exc), 60)})"
        raise ProbeFailed(f"{url}: {reason}; is the server running at this address?") from None
    except httpx.ReadTimeout:
        raise ProbeFailed(f"{url}: no answer within {client.timeout.read:g} s; the server accepted the connection but is stuck or busy") from None
    except httpx.RemoteProtocolError as exc:
        raise ProbeFailed(f"{url}: invalid HTTP response ({clean(str(exc), 60)})") from None
    except httpx.HTTPError as exc:
        raise ProbeFailed(f"{url}: request failed ({type(exc).__name__}: {clean(str(exc), 60)})") from None


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if 300 <= status < 400:
        where = clean(response.headers.get("location", "another address"), 80)
        raise ProbeFailed(f"{url}: redirects (HTTP {status}) to {where}; give rigtui the final address")
    if status in (401, 403):
        raise ProbeFailed(f"{url}: access denied (HTTP {status}); set {ENV_API_KEY} to the server's API key")
    if status == 404:
        raise ProbeFailed(f"{url}: not found (HTTP 404); is this the right kind of server?")
    if status == 501:
        raise ProbeFailed(f"{url}: not enabled on this server (HTTP 501)")
    if status == 503:
        raise ProbeFailed(f"{url}: unavailable (HTTP 503); the model may still be loading")
    if status >= 400:
        raise ProbeFailed(f"{url}: server error (HTTP {status})")


def decode_json(body: bytes, content_type: str, url: str) -> Any:
    """Parse a JSON body, or raise ProbeFailed saying what came back instead."""
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        raise ProbeFailed(f"{url}: returned HTML, not JSON; is this the right kind of server?")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ProbeFailed(f"{url}: returned malformed JSON") from None


def get_json(client: httpx.Client, url: str, deadline: float, expect: type) -> Any:
    """GET a JSON document of the expected top-level type (dict or list)."""
    body, content_type = request(client, "GET", url, deadline)
    data = decode_json(body, content_type, url)
    if not isinstance(data, expect):
        raise ProbeFailed(f"{url}: expected a JSON {'object' if expect is dict else 'list'}, got {type(data).__name__}")
    return data


# --- Prometheus text ------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prometheus(text: str) -> dict[str, list[tuple[str, float]]]:
    """Parse Prometheus text exposition into {metric name: [(labels, value)]}; bad lines are skipped."""
    metrics: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        metrics.setdefault(match.group(1), []).append((match.group(2) or "", value))
    return metrics


def _total(metrics: dict[str, list[tuple[str, float]]], name: str) -> float | None:
    values = [v for _, v in metrics.get(name, []) if math.isfinite(v)]
    return sum(values) if values else None


def _positive(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and value > 0 else None


def llama_server_speeds(metrics: dict[str, list[tuple[str, float]]]) -> ServerSpeeds | None:
    decode = _positive(_total(metrics, "llamacpp:predicted_tokens_seconds"))
    prefill = _positive(_total(metrics, "llamacpp:prompt_tokens_seconds"))
    if decode is None and prefill is None:
        return None
    return ServerSpeeds(decode, prefill, "llamacpp:predicted_tokens_seconds, llamacpp:prompt_tokens_seconds")


def vllm_speeds(metrics: dict[str, list[tuple[str, float]]]) -> ServerSpeeds | None:
    decode = None
    for name in ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"):
        seconds, count = _total(metrics, f"{name}_sum"), _total(metrics, f"{name}_count")
        if seconds and count:
            decode = _positive(count / seconds)
            break
    prompt_tokens = _total(metrics, "vllm:prompt_tokens_total")
    prefill_s = _total(metrics, "vllm:request_prefill_time_seconds_sum")
    prefill = _positive(prompt_tokens / prefill_s) if prompt_tokens and prefill_s else None
    if decode is None and prefill is None:
        return None
    return ServerSpeeds(decode, prefill, "vllm:inter_token_latency_seconds, vllm:request_prefill_time_seconds")


# --- probes ---------------------------------------------------------------------------------


def probe(target: ServerTarget, deadline_s: float | None = None) -> ServerStatus:
    """Probe one address for the server kind it names; never raises."""
    deadline = time.monotonic() + (deadline_s or PROBE_DEADLINE_S)
    try:
        with _client() as client:
            if target.kind == "llama-server":
                return _probe_llama_server(client, target, deadline)
            if target.kind == "ollama":
                return _probe_ollama(client, target, deadline)
            if target.kind == "vllm":
                return _probe_vllm(client, target, deadline)
    except ProbeFailed as exc:
        return ServerStatus(target.kind, target.url, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a probe must never take the caller down
        return ServerStatus(target.kind, target.url, error=f"{target.url}: unexpected failure ({type(exc).__name__}: {clean(str(exc), 60)})")
    return ServerStatus(target.kind, target.url, error=f"unknown server kind {target.kind!r}; use one of {', '.join(KINDS)}")


def probe_all(targets: Sequence[ServerTarget]) -> list[ServerStatus]:
    """Probe every address, in parallel, in the order given."""
    from concurrent.futures import ThreadPoolExecutor

    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(len(targets), 8), thread_name_prefix="rigtui-probe") as pool:
        return list(pool.map(probe, targets))


def _optional(notes: list[str], deadline: float, call: Any) -> Any:
    """Run a request for an optional endpoint, turning its failure into a note."""
    if time.monotonic() > deadline:
        notes.append("skipped the remaining endpoints: the probe deadline passed")
        return None
    try:
        return call()
    except ProbeFailed as exc:
        notes.append(str(exc))
        return None


def _int(value: Any) -> int | None:
    # JSON numbers may be Infinity or NaN (Python's json module accepts both), which int() rejects.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return clean(value) if isinstance(value, str) and value.strip() else None


def _probe_llama_server(client: httpx.Client, target: ServerTarget, deadline: float) -> ServerStatus:
    base = target.url
    props = get_json(client, f"{base}/props", deadline, dict)
    if "model_path" not in props and "default_generation_settings" not in props:
        raise ProbeFailed(f"{base}/props: no model_path or default_generation_settings; is this llama-server?")
    notes: list[str] = []
    health = _optional(notes, deadline, lambda: get_json(client, f"{base}/health", deadline, dict))
    if health is not None and health.get("status") not in (None, "ok"):
        notes.append(f"{base}/health: status {_str(health.get('status'))!r}")
    settings = props.get("default_generation_settings")
    context = _int(settings.get("n_ctx")) if isinstance(settings, dict) else None
    slots = _optional(notes, deadline, lambda: get_json(client, f"{base}/slots", deadline, list))
    busy = None
    if slots:
        busy = any(isinstance(s, dict) and s.get("is_processing") is True for s in slots)
        context = context or next((_int(s.get("n_ctx")) for s in slots if isinstance(s, dict)), None)
    size = None
    listing = _optional(notes, deadline, lambda: get_json(client, f"{base}/v1/models", deadline, dict))
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        entries = None
    if entries and isinstance(entries[0], dict):
        meta = entries[0].get("meta")
        size = _int(meta.get("size")) if isinstance(meta, dict) else None
    name = _str(props.get("model_path")) or (_str(entries[0].get("id")) if entries and isinstance(entries[0], dict) else None)
    models = (LoadedModel(name=name, size_bytes=size, context=context),) if name else ()
    speeds = None
    text = _optional(notes, deadline, lambda: _metrics_text(client, f"{base}/metrics", deadline))
    if text is not None:
        speeds = llama_server_speeds(parse_prometheus(text))
    notes = [n.replace("(HTTP 501)", "(HTTP 501); start llama-server with --metrics") if "/metrics" in n else n for n in notes]
    return ServerStatus(
        target.kind, base, version=_str(props.get("build_info")), models=models, speeds=speeds, notes=tuple(notes), busy=busy
    )


def _metrics_text(client: httpx.Client, url: str, deadline: float) -> str:
    body, content_type = request(client, "GET", url, deadline)
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        raise ProbeFailed(f"{url}: returned HTML, not Prometheus text")
    return body.decode("utf-8", errors="replace")


def _probe_ollama(client: httpx.Client, target: ServerTarget, deadline: float) -> ServerStatus:
    base = target.url
    version = get_json(client, f"{base}/api/version", deadline, dict)
    if "version" not in version:
        raise ProbeFailed(f"{base}/api/version: no version field; is this Ollama?")
    notes: list[str] = []
    running = _optional(notes, deadline, lambda: get_json(client, f"{base}/api/ps", deadline, dict))
    models = tuple(_ollama_model(m) for m in _list(running, "models", f"{base}/api/ps", notes) if _str(m.get("name") or m.get("model")))
    tags = _optional(notes, deadline, lambda: get_json(client, f"{base}/api/tags", deadline, dict))
    available = tuple(
        n for n in (_str(m.get("name") or m.get("model")) for m in _list(tags, "models", f"{base}/api/tags", notes)) if n
    )
    return ServerStatus(target.kind, base, version=_str(version.get("version")), models=models, available=available, notes=tuple(notes))


def _list(data: Any, key: str, url: str, notes: list[str]) -> list[dict[str, Any]]:
    if data is None:
        return []
    value = data.get(key)
    if not isinstance(value, list):
        notes.append(f"{url}: expected a list under {key!r}")
        return []
    return [v for v in value if isinstance(v, dict)]


def _ollama_model(entry: dict[str, Any]) -> LoadedModel:
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    return LoadedModel(
        name=_str(entry.get("name") or entry.get("model")) or "?",
        size_bytes=_int(entry.get("size")),
        vram_bytes=_int(entry.get("size_vram")),
        context=_int(entry.get("context_length")),
        quant=_str(details.get("quantization_level")),
        parameter_size=_str(details.get("parameter_size")),
    )


def _probe_vllm(client: httpx.Client, target: ServerTarget, deadline: float) -> ServerStatus:
    base = target.url
    listing = get_json(client, f"{base}/v1/models", deadline, dict)
    entries = listing.get("data")
    if not isinstance(entries, list):
        raise ProbeFailed(f"{base}/v1/models: no data list; is this an OpenAI-compatible server?")
    models = tuple(
        LoadedModel(name=_str(e.get("id")) or "?", context=_int(e.get("max_model_len")))
        for e in entries if isinstance(e, dict) and _str(e.get("id"))
    )
    notes: list[str] = []
    version = _optional(notes, deadline, lambda: get_json(client, f"{base}/version", deadline, dict))
    text = _optional(notes, deadline, lambda: _metrics_text(client, f"{base}/metrics", deadline))
    speeds = vllm_speeds(parse_prometheus(text)) if text is not None else None
    return ServerStatus(
        target.kind, base, version=_str(version.get("version")) if version else None, models=models, speeds=speeds, notes=tuple(notes)
    )


def detect_kind(url: str, deadline_s: float | None = None) -> ServerStatus:
    """Probe an address as each server kind in turn and return the first that answers.

    Ollama goes first because its version endpoint is the cheapest request; when none
    answers, the llama-server failure is returned.
    """
    statuses = []
    for kind in ("ollama", "llama-server", "vllm"):
        status = probe(ServerTarget(kind, url), deadline_s)
        if status.ok:
            return status
        statuses.append(status)
        if "connection refused" in (status.error or "") or "timed out connecting" in (status.error or ""):
            break
    first = statuses[0]
    return ServerStatus("unknown", url, error=first.error if len(statuses) == 1 else
                        f"{url}: answers as none of {', '.join(KINDS)} ({statuses[-1].error})")


@dataclass(frozen=True)
class ServerList:
    """The servers to probe; the app's Servers screen and `rigtui measure` use it."""

    targets: tuple[ServerTarget, ...]
    problems: tuple[str, ...] = field(default=())

    def probe(self) -> list[ServerStatus]:
        return probe_all(self.targets)
