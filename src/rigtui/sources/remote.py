"""Fetch model facts over HTTP: Hugging Face config.json and remote GGUF headers by range request.

Every network failure becomes a ``SourceError`` whose message names the address, what failed
and what to do instead, so the CLI prints one line and the app shows one notification.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from rigtui.core.catalog import normalize_name
from rigtui.core.specs import ModelSpec
from rigtui.errors import RigtuiError
from rigtui.sources.gguf import GgufError, GgufHeader, NeedMore, parse_header

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 256 << 20
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1}


class SourceError(RigtuiError):
    """A remote source could not be read."""

    title = "Download failed"


def hf_endpoint() -> str:
    """Return the Hugging Face address, honouring HF_ENDPOINT as huggingface_hub does."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _client(timeout: float) -> httpx.Client:
    headers = {"User-Agent": "rigtui"}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(timeout=timeout, follow_redirects=True, headers=headers)


def _get(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = client.get(url, **kwargs)
    except httpx.TimeoutException:
        raise SourceError(f"{url}: timed out after {client.timeout.read} s; check the network or use a local file") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: request failed ({exc.__class__.__name__}: {exc}); check the address and network") from None
    if response.status_code in (401, 403):
        raise SourceError(f"{url}: access denied (HTTP {response.status_code}); for a gated model set HF_TOKEN")
    if response.status_code == 404:
        raise SourceError(f"{url}: not found (HTTP 404); check the repository id or file name")
    if response.status_code >= 400:
        raise SourceError(f"{url}: HTTP {response.status_code}; try again later or use a local file")
    return response


def fetch_json(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    with _client(timeout) as client:
        response = _get(client, url)
    try:
        data = response.json()
    except ValueError:
        raise SourceError(f"{url}: response is not JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"{url}: expected a JSON object, got {type(data).__name__}")
    return data


def fetch_gguf_header(url: str, timeout: float = DEFAULT_TIMEOUT_S, first_read: int = 2 << 20) -> GgufHeader:
    """Read a remote GGUF header with HTTP range requests, growing the range as needed.

    Raises:
        SourceError: the server failed or the header is larger than MAX_HEADER_BYTES.
        GgufError: the bytes are not a valid GGUF header.
    """
    want = first_read
    with _client(timeout) as client:
        while True:
            chunk, whole_file = _read_prefix(client, url, want)
            try:
                return parse_header(bytes(chunk[:want]))
            except NeedMore as more:
                if whole_file or len(chunk) < want:
                    raise GgufError(f"{url}: truncated header: the file ends at byte {len(chunk):,}") from None
                want = max(more.size, want * 4)
                if want > MAX_HEADER_BYTES:
                    raise SourceError(f"{url}: header larger than {MAX_HEADER_BYTES >> 20} MiB; not a normal GGUF file")


def _read_prefix(client: httpx.Client, url: str, want: int) -> tuple[bytearray, bool]:
    """Return up to ``want`` bytes from the start of ``url`` and whether that was the whole file."""
    try:
        with client.stream("GET", url, headers={"Range": f"bytes=0-{want - 1}"}) as response:
            if response.status_code >= 400:
                _get(client, url)  # raises the matching SourceError
            chunk = bytearray()
            # A 200 means the server ignored Range: read only the prefix asked for.
            for part in response.iter_bytes():
                chunk += part
                if len(chunk) >= want:
                    break
            return chunk, len(chunk) < want
    except httpx.TimeoutException:
        raise SourceError(f"{url}: timed out after {client.timeout.read} s; check the network or use a local file") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: request failed ({exc.__class__.__name__}: {exc}); check the address and network") from None


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


def model_from_hf_config(config: dict[str, Any], repo: str, total_weight_bytes: int | None = None) -> ModelSpec:
    """Build a model entry from a transformers config.json.

    Multimodal configs keep the language model under ``text_config``; that part is used.

    Raises:
        SourceError: a value every model needs is missing.
    """
    text = config.get("text_config") or config
    try:
        n_layers = int(text["num_hidden_layers"])
        hidden = int(text["hidden_size"])
        heads = int(text["num_attention_heads"])
        vocab = int(text["vocab_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"{repo}: config.json lacks {exc}; rigtui cannot size this model") from None
    kv = int(text.get("num_key_value_heads") or heads)
    head_dim = int(text.get("head_dim") or hidden // heads)
    experts = int(text.get("num_local_experts") or text.get("num_experts") or text.get("n_routed_experts") or 0)
    used = int(text.get("num_experts_per_tok") or 0)
    dtype_bytes = _DTYPE_BYTES.get(str(text.get("torch_dtype") or config.get("torch_dtype")), 2)
    params = total_weight_bytes // dtype_bytes if total_weight_bytes else _count_params(text, n_layers, hidden, heads, kv, head_dim)
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
    """Fetch a repository's config.json (and weight index, when present) and build a model entry.

    Raises:
        SourceError: the repository or its config.json cannot be read.
    """
    base = f"{hf_endpoint()}/{repo}/resolve/main"
    config = fetch_json(f"{base}/config.json", timeout)
    total_bytes = None
    try:
        index = fetch_json(f"{base}/model.safetensors.index.json", timeout)
        total_bytes = int(index.get("metadata", {}).get("total_size") or 0) or None
    except SourceError:
        pass  # single-file repositories have no index; the architecture estimate is used instead
    return model_from_hf_config(config, repo, total_bytes)
