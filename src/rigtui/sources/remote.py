"""Fetch model facts over HTTP with bounded, cancellable requests.

``Fetcher`` is the one place that talks to servers. Every request has a connect and read
timeout, a deadline for the whole response, a redirect limit and a cap on the bytes it reads.
The Hugging Face token goes only to the Hugging Face server (``HF_ENDPOINT``), never to another
host, including hosts a redirect leads to. Every failure becomes a ``SourceError`` whose one-line
message names the address, what failed and what to do, and never contains the token.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from rigtui.core.catalog import normalize_name
from rigtui.core.specs import ModelSpec
from rigtui.errors import RigtuiError
from rigtui.sources.gguf import GgufError, GgufHeader, NeedMore, parse_header

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT_S = 10.0
"""Connect timeout, and the longest wait for the next bytes of a response."""
DEFAULT_DEADLINE_S = 300.0
"""Maximum time one whole response may take, so a server that trickles bytes still ends."""
MAX_HEADER_BYTES = 256 << 20
MAX_JSON_BYTES = 32 << 20
"""Cap on a JSON response. A sharded model's index lists every tensor, so it reaches MiBs."""
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1}
_TRUE = {"1", "true", "yes", "on"}


class SourceError(RigtuiError):
    """A remote source could not be read."""

    title = "Download failed"
    status: int | None = None
    """HTTP status of the failed response, when there was one."""


class NetworkError(SourceError):
    """The server could not be reached or sent no response in time, so a cached copy may be used."""


class Cancelled(SourceError):
    """The caller cancelled the download."""

    title = "Download cancelled"


@dataclass(frozen=True)
class Progress:
    """How far a download has come, reported after each received chunk."""

    step: str
    """Name of the file or part being fetched, such as 'config.json' or 'model-Q4_K_M.gguf header'."""
    done_bytes: int
    total_bytes: int | None
    """Bytes expected for this step, None when the server sends no Content-Length."""


ProgressCallback = Callable[[Progress], None]


def hf_endpoint() -> str:
    """Return the Hugging Face address, honouring HF_ENDPOINT as huggingface_hub does."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hf_offline() -> bool:
    """Return whether HF_HUB_OFFLINE turns network access off (1, true, yes or on)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default_port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def token_for(url: str) -> str | None:
    """Return HF_TOKEN when ``url`` is on the Hugging Face server, else None.

    The token is a credential for that one server, so a remote GGUF file elsewhere, or a CDN
    that a download redirects to, never receives it.
    """
    token = os.environ.get("HF_TOKEN", "").strip()
    if not token or _origin(url) != _origin(hf_endpoint()):
        return None
    return token


def _redact(text: str) -> str:
    token = os.environ.get("HF_TOKEN", "").strip()
    return text.replace(token, "***") if token else text


def _shown(url: str) -> str:
    """Return ``url`` without its query, which may hold a signed download credential."""
    return url.split("?", 1)[0]


def _http_error(url: str, status: int) -> SourceError:
    error = _http_error_message(url, status)
    error.status = status
    return error


def _http_error_message(url: str, status: int) -> SourceError:
    shown = _shown(url)
    if status in (401, 403):
        if token_for(url) is not None:
            return SourceError(f"{shown}: access denied (HTTP {status}) with HF_TOKEN; check that the token has access to this model")
        if _origin(url) == _origin(hf_endpoint()):
            return SourceError(f"{shown}: access denied (HTTP {status}); for a gated or private model set HF_TOKEN to an access token")
        return SourceError(f"{shown}: access denied (HTTP {status}); download the file and pass its path instead")
    if status == 404:
        return SourceError(f"{shown}: not found (HTTP 404); check the repository id or file name")
    if status == 429:
        return SourceError(f"{shown}: too many requests (HTTP 429); wait a minute and try again")
    return SourceError(f"{shown}: HTTP {status}; try again later or use a local file")


class Fetcher:
    """An HTTP client with rigtui's limits, token scoping, progress reports and cancellation.

    Use it as a context manager. ``cancel`` is checked before each request and after each
    received chunk; once set, the running call raises ``Cancelled``.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        deadline_s: float = DEFAULT_DEADLINE_S,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.timeout = timeout
        self.deadline_s = deadline_s
        self.progress = progress
        self.cancel = cancel
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "rigtui"})

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def check_cancel(self, what: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{_shown(what)}: cancelled")

    @contextmanager
    def open(self, url: str, headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
        """Send a GET, following at most MAX_REDIRECTS redirects, and yield the streamed response.

        Raises:
            NetworkError: the server cannot be reached or sends nothing within the timeout.
            SourceError: an HTTP error status, a redirect loop or too many redirects.
            Cancelled: ``cancel`` was set.
        """
        current = url
        seen = {url}
        for _ in range(MAX_REDIRECTS + 1):
            self.check_cancel(url)
            request_headers = dict(headers or {})
            token = token_for(current)
            if token:
                request_headers["Authorization"] = f"Bearer {token}"
            try:
                response = self._client.send(self._client.build_request("GET", current, headers=request_headers), stream=True)
            except httpx.TimeoutException:
                raise NetworkError(f"{_shown(url)}: timed out after {self.timeout:g} s; check the network or use a local file") from None
            except httpx.HTTPError as exc:
                message = _redact(f"{_shown(url)}: request failed ({exc.__class__.__name__}: {exc}); check the address and network")
                raise NetworkError(message) from None
            if response.status_code in _REDIRECTS and "Location" in response.headers:
                response.close()
                target = urljoin(current, response.headers["Location"])
                if target in seen:
                    raise SourceError(f"{_shown(url)}: redirect loop at {_shown(target)}; the server is misconfigured, try again later")
                seen.add(target)
                current = target
                continue
            try:
                if response.status_code >= 400:
                    raise _http_error(current, response.status_code)
                yield response
            finally:
                response.close()
            return
        raise SourceError(f"{_shown(url)}: more than {MAX_REDIRECTS} redirects; the server is misconfigured, try again later")

    def _read(self, url: str, response: httpx.Response, limit: int, step: str, *, truncate: bool) -> bytes:
        """Read at most ``limit`` bytes; past it, stop when ``truncate`` is set, else raise."""
        declared = response.headers.get("Content-Length")
        total = int(declared) if declared and declared.isdigit() else None
        if total is not None and total > limit and not truncate:
            raise SourceError(f"{_shown(url)}: response of {total:,} bytes is larger than the {limit:,}-byte limit; not a normal {step}")
        deadline = time.monotonic() + self.deadline_s
        body = bytearray()
        try:
            for part in response.iter_bytes():
                self.check_cancel(url)
                body += part
                if self.progress is not None:
                    self.progress(Progress(step, min(len(body), limit), min(total, limit) if total else None))
                if len(body) > limit:
                    if truncate:
                        break
                    raise SourceError(f"{_shown(url)}: response is larger than the {limit:,}-byte limit; not a normal {step}")
                if time.monotonic() > deadline:
                    raise NetworkError(f"{_shown(url)}: download took longer than {self.deadline_s:g} s; check the network or use a local file")
        except httpx.TimeoutException:
            raise NetworkError(f"{_shown(url)}: timed out after {self.timeout:g} s; check the network or use a local file") from None
        except httpx.HTTPError as exc:
            raise NetworkError(_redact(f"{_shown(url)}: download failed ({exc.__class__.__name__}: {exc}); try again")) from None
        return bytes(body[:limit])

    def get_bytes(self, url: str, step: str, limit: int = MAX_JSON_BYTES) -> tuple[bytes, httpx.Headers]:
        """Return a whole response body, refusing bodies over ``limit`` bytes, and its headers."""
        with self.open(url) as response:
            return self._read(url, response, limit, step, truncate=False), response.headers

    def get_json(self, url: str, step: str, limit: int = MAX_JSON_BYTES) -> Any:
        """Return a parsed JSON response of at most ``limit`` bytes."""
        body, _ = self.get_bytes(url, step, limit)
        return parse_json(body, url)

    def get_prefix(self, url: str, size: int, step: str) -> tuple[bytes, bool]:
        """Return up to ``size`` bytes from the start of ``url`` and whether that is the whole file.

        A server that ignores Range returns 200 with the whole file, and only ``size`` bytes of
        it are read.
        """
        with self.open(url, {"Range": f"bytes=0-{size - 1}"}) as response:
            chunk = self._read(url, response, size, step, truncate=True)
        return chunk, len(chunk) < size


def parse_json(body: bytes, url: str) -> Any:
    """Parse a JSON body, turning any decoding failure into a one-line SourceError."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{_shown(url)}: response is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except (UnicodeDecodeError, RecursionError, ValueError):
        raise SourceError(f"{_shown(url)}: response is not JSON (not UTF-8 text, or nested too deeply)") from None


def fetch_json(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Fetch one JSON object.

    Raises:
        SourceError: the request failed, or the body is not a JSON object.
    """
    with Fetcher(timeout=timeout) as fetcher:
        data = fetcher.get_json(url, "JSON file")
    if not isinstance(data, dict):
        raise SourceError(f"{_shown(url)}: expected a JSON object, got {type(data).__name__}")
    return data


def read_gguf_header_bytes(fetcher: Fetcher, url: str, first_read: int = 2 << 20, step: str | None = None) -> bytes:
    """Read just the header bytes of a remote GGUF file, growing the range request as needed.

    Raises:
        SourceError: the server failed or the header is larger than MAX_HEADER_BYTES.
        GgufError: the bytes are not a valid GGUF header.
    """
    step = step or f"{_shown(url).rsplit('/', 1)[-1]} header"
    want = first_read
    while True:
        chunk, whole_file = fetcher.get_prefix(url, want, step)
        try:
            header = parse_header(chunk)
        except NeedMore as more:
            if whole_file:
                raise GgufError(f"{_shown(url)}: truncated header: the file ends at byte {len(chunk):,}") from None
            want = max(more.size, want * 4)
            if want > MAX_HEADER_BYTES:
                raise SourceError(f"{_shown(url)}: header larger than {MAX_HEADER_BYTES >> 20} MiB; not a normal GGUF file") from None
            continue
        except GgufError as exc:
            raise GgufError(f"{_shown(url)}: {exc.message}") from None
        return chunk[: header.header_bytes]


def fetch_gguf_header(
    url: str,
    timeout: float = DEFAULT_TIMEOUT_S,
    first_read: int = 2 << 20,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> GgufHeader:
    """Read a remote GGUF header with HTTP range requests, growing the range as needed.

    Raises:
        SourceError: the server failed or the header is larger than MAX_HEADER_BYTES.
        GgufError: the bytes are not a valid GGUF header.
    """
    with Fetcher(timeout=timeout, progress=progress, cancel=cancel) as fetcher:
        return parse_header(read_gguf_header_bytes(fetcher, url, first_read))


def _count_params(config: dict[str, Any], n_layers: int, hidden: int, heads: int, kv: int, head_dim: int) -> int:
    """Estimate weights from the architecture when the repository states no size."""
    vocab = config["vocab_size"]
    attention = hidden * head_dim * (2 * heads + 2 * kv)
    experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts") or 0
    ffn = config.get("intermediate_size", 4 * hidden)
    if experts:
        moe_ffn = config.get("moe_intermediate_size") or ffn
        shared = config.get("n_shared_experts") or 0
        mlp = 3 * hidden * moe_ffn * (experts + shared) + hidden * experts
    else:
        mlp = 3 * hidden * ffn
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return n_layers * (attention + mlp) + embeddings


def model_from_hf_config(
    config: dict[str, Any], repo: str, total_weight_bytes: int | None = None, *, params_total: int | None = None
) -> ModelSpec:
    """Build a model entry from a transformers config.json.

    Multimodal configs keep the language model under ``text_config``; that part is used. The
    parameter count is ``params_total`` when given, else ``total_weight_bytes`` divided by the
    bytes per parameter of ``torch_dtype``, else an estimate from the architecture.

    Raises:
        SourceError: a value every model needs is missing or invalid.
    """
    text = config.get("text_config") or config
    if not isinstance(text, dict):
        raise SourceError(f"{repo}: config.json is not a transformers config (text_config is not an object)")
    try:
        n_layers = int(text["num_hidden_layers"])
        hidden = int(text["hidden_size"])
        heads = int(text["num_attention_heads"])
        vocab = int(text["vocab_size"])
    except KeyError as exc:
        raise SourceError(f"{repo}: config.json lacks {exc}; rigtui cannot size this model") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise SourceError(f"{repo}: config.json has an invalid size value ({exc}); rigtui cannot size this model") from None
    try:
        return _spec_from_config(config, text, repo, n_layers, hidden, heads, vocab, total_weight_bytes, params_total)
    except (TypeError, ValueError, ArithmeticError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise SourceError(f"{repo}: config.json has an invalid value ({reason}); rigtui cannot size this model") from None


def _spec_from_config(
    config: dict[str, Any],
    text: dict[str, Any],
    repo: str,
    n_layers: int,
    hidden: int,
    heads: int,
    vocab: int,
    total_weight_bytes: int | None,
    params_total: int | None,
) -> ModelSpec:
    kv = int(text.get("num_key_value_heads") or heads)
    head_dim = int(text.get("head_dim") or hidden // heads)
    experts = int(text.get("num_local_experts") or text.get("num_experts") or text.get("n_routed_experts") or 0)
    used = int(text.get("num_experts_per_tok") or 0)
    dtype_bytes = _DTYPE_BYTES.get(str(text.get("torch_dtype") or text.get("dtype") or config.get("torch_dtype")), 2)
    if params_total:
        params = params_total
    elif total_weight_bytes:
        params = total_weight_bytes // dtype_bytes
    else:
        params = _count_params(text, n_layers, hidden, heads, kv, head_dim)
    active = None
    if experts and used:
        moe_ffn = int(text.get("moe_intermediate_size") or text.get("intermediate_size"))
        expert_params = n_layers * 3 * hidden * moe_ffn * experts
        active = max(params - expert_params * (experts - used) // experts, 1)
    window = text.get("sliding_window") if text.get("use_sliding_window", True) else None
    return ModelSpec(
        id=normalize_name(repo.rsplit("/", 1)[-1]) or "hf-model",
        name=repo.rsplit("/", 1)[-1],
        family=str(text.get("model_type", "unknown")),
        aliases=[repo],
        architecture=str(text.get("model_type", "unknown")),
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=heads,
        n_kv_heads=kv if heads % kv == 0 else heads,
        head_dim=head_dim,
        vocab_size=vocab,
        intermediate_size=int(text.get("intermediate_size") or 4 * hidden),
        n_experts=experts,
        n_experts_per_token=used if experts else 0,
        n_shared_experts=int(text.get("n_shared_experts") or 0),
        moe_intermediate_size=text.get("moe_intermediate_size"),
        first_dense_layers=int(text.get("first_k_dense_replace") or 0),
        sliding_window=int(window) if isinstance(window, int) and window > 0 else None,
        kv_lora_rank=text.get("kv_lora_rank"),
        q_lora_rank=text.get("q_lora_rank"),
        qk_rope_head_dim=text.get("qk_rope_head_dim"),
        qk_nope_head_dim=text.get("qk_nope_head_dim"),
        v_head_dim=text.get("v_head_dim"),
        tie_word_embeddings=bool(text.get("tie_word_embeddings", config.get("tie_word_embeddings", False))),
        params_total=max(int(params), 1),
        params_active=active if active and active < params else None,
        max_context=int(text.get("max_position_embeddings") or 4096),
        source=repo,
    )




def fetch_hf_model(repo: str, timeout: float = DEFAULT_TIMEOUT_S) -> ModelSpec:
    """Fetch a repository's model entry; ``rigtui.sources.huggingface.fetch_repo_model`` has the details.

    Raises:
        SourceError: the repository cannot be read.
    """
    from rigtui.sources.huggingface import fetch_repo_model

    return fetch_repo_model(repo, timeout=timeout).spec
