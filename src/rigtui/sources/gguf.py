"""Read GGUF headers (metadata and tensor infos) from a file or from a byte prefix.

The parser works on any prefix of a file and raises ``NeedMore`` when the prefix ends inside
the header, so a remote file can be read with growing HTTP range requests. Tokenizer arrays
(often several MB) are skipped, keeping only their length. gguf-py's GGUFReader cannot read a
prefix and takes seconds on real headers, so it is not used here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigtui.errors import RigtuiError

if TYPE_CHECKING:
    from rigtui.core.specs import ModelSpec

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
# Sanity limits that no real file reaches; larger values mean a corrupt or hostile header.
MAX_TENSORS = 1_000_000
MAX_KV = 100_000
MAX_STRING = 64 << 20
MAX_ARRAY = 50_000_000
MAX_DIMS = 8
# Arrays at most this long keep their values (per-layer head counts); longer ones keep a length.
KEEP_ARRAY = 4096

# GGUF value type codes (gguf specification, "gguf_metadata_value_type").
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GgufError(RigtuiError):
    """A GGUF header is malformed or not a GGUF file."""

    title = "Invalid GGUF file"


class NeedMore(Exception):
    """The prefix ends inside the header; at least ``size`` bytes are needed in all."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class ArrayInfo:
    """A metadata array too long to keep: its element type and length."""

    type: int
    length: int


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    """Dimensions in GGUF order (innermost first)."""
    ggml_type: int
    offset: int
    """Offset from the start of the data section, bytes."""

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.dims:
            count *= dim
        return count


@dataclass(frozen=True)
class GgufHeader:
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    """Where tensor data starts in the file, bytes."""
    header_bytes: int = field(default=0)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    def arch_value(self, key: str) -> Any:
        """Return ``{architecture}.{key}``, or None."""
        return self.metadata.get(f"{self.architecture}.{key}")


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, size: int) -> memoryview:
        end = self.pos + size
        if end > len(self.data):
            raise NeedMore(end)
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def string(self) -> str:
        length = self.unpack("<Q")
        if length > MAX_STRING:
            raise GgufError(f"string of {length:,} bytes at offset {self.pos - 8} exceeds the {MAX_STRING:,} limit")
        return bytes(self.take(length)).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item = self.unpack("<I")
            length = self.unpack("<Q")
            if length > MAX_ARRAY:
                raise GgufError(f"array of {length:,} items at offset {self.pos - 12} exceeds the limit")
            if item in _SCALARS:
                size = struct.calcsize(_SCALARS[item])
                raw = self.take(size * length)
                if length <= KEEP_ARRAY:
                    return list(struct.unpack(f"<{length}{_SCALARS[item][1]}", raw))
                return ArrayInfo(item, length)
            if item == _STRING:
                if length <= KEEP_ARRAY:
                    return [self.string() for _ in range(length)]
                for _ in range(length):
                    self.take(self.unpack("<Q"))
                return ArrayInfo(item, length)
            raise GgufError(f"unsupported array element type {item} at offset {self.pos - 12}")
        raise GgufError(f"unknown metadata value type {kind} at offset {self.pos - 4}")


def parse_header(data: bytes | memoryview) -> GgufHeader:
    """Parse the header at the start of ``data``, which may be just a prefix of the file.

    Raises:
        NeedMore: the prefix is too short; read at least ``exc.size`` bytes and call again.
        GgufError: the bytes are not a valid GGUF header.
    """
    reader = _Reader(data)
    magic = bytes(reader.take(4))
    if magic != GGUF_MAGIC:
        raise GgufError(f"not a GGUF file: starts with {magic!r}, expected {GGUF_MAGIC!r}")
    version = reader.unpack("<I")
    if version not in (2, 3):
        raise GgufError(f"unsupported GGUF version {version}; rigtui reads versions 2 and 3")
    n_tensors = reader.unpack("<Q")
    n_kv = reader.unpack("<Q")
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise GgufError(f"implausible header: {n_tensors:,} tensors and {n_kv:,} metadata keys")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = reader.string()
        metadata[key] = reader.value(reader.unpack("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = reader.string()
        n_dims = reader.unpack("<I")
        if not 0 < n_dims <= MAX_DIMS:
            raise GgufError(f"tensor {name!r} has {n_dims} dimensions; expected 1 to {MAX_DIMS}")
        dims = tuple(reader.unpack("<Q") for _ in range(n_dims))
        ggml_type = reader.unpack("<I")
        offset = reader.unpack("<Q")
        tensors.append(TensorInfo(name, dims, ggml_type, offset))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GgufError(f"general.alignment {alignment!r} is not a power of two")
    data_offset = -(-reader.pos // alignment) * alignment
    return GgufHeader(version, metadata, tuple(tensors), data_offset, header_bytes=reader.pos)


def read_header(path: Path, first_read: int = 1 << 20) -> GgufHeader:
    """Read the header of a local GGUF file, reading more of it only as needed.

    Raises:
        GgufError: the file is missing, unreadable, truncated or malformed; the message names the path.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            want = first_read
            while True:
                handle.seek(0)
                chunk = handle.read(want)
                try:
                    return parse_header(chunk)
                except NeedMore as more:
                    if len(chunk) >= size:
                        raise GgufError(f"{path}: truncated header: ends at byte {size:,} inside the header") from None
                    want = max(more.size, want * 4)
                except GgufError as exc:
                    raise GgufError(f"{path}: {exc.message}") from None
    except OSError as exc:
        raise GgufError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def tensor_bytes(tensor: TensorInfo) -> int:
    """Return the stored size of one tensor from its GGML type's block layout."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(tensor.ggml_type)]
    except (ValueError, KeyError):
        raise GgufError(f"tensor {tensor.name!r} has unknown GGML type {tensor.ggml_type}") from None
    return tensor.n_elements // block * type_size


@dataclass(frozen=True)
class GgufModel:
    """What a GGUF file says about the model it holds."""

    spec: "ModelSpec"
    file_type: str | None
    """llama.cpp file type such as 'Q4_K_M' (from general.file_type), None when absent."""
    tensor_data_bytes: int
    file_bytes: int
    """Header plus tensor data, bytes: the size of a complete file."""


def _first_int(value: Any) -> int | None:
    """Return a scalar, or the largest entry of a per-layer array."""
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float))]
        return int(max(numbers)) if numbers else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _file_type_name(code: Any) -> str | None:
    if not isinstance(code, int):
        return None
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(code).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def model_from_header(header: GgufHeader, source: str) -> GgufModel:
    """Build a catalog-style model entry from a GGUF header.

    Raises:
        GgufError: a value that every model needs (layers, width, heads) is missing.
    """
    from rigtui.core.catalog import normalize_name
    from rigtui.core.specs import ModelSpec

    arch = header.architecture
    if not arch:
        raise GgufError("general.architecture is missing")

    def need(key: str) -> int:
        value = _first_int(header.arch_value(key))
        if value is None:
            raise GgufError(f"{arch}.{key} is missing; rigtui needs it to size the model")
        return value

    n_layers = need("block_count")
    hidden = need("embedding_length")
    n_heads = need("attention.head_count")
    n_kv_heads = _first_int(header.arch_value("attention.head_count_kv")) or n_heads
    head_dim = _first_int(header.arch_value("attention.key_length")) or hidden // n_heads
    tokens = header.metadata.get("tokenizer.ggml.tokens")
    vocab = _first_int(header.arch_value("vocab_size")) or (
        tokens.length if isinstance(tokens, ArrayInfo) else len(tokens) if isinstance(tokens, list) else None
    )
    if not vocab:
        embed = next((t for t in header.tensors if t.name == "token_embd.weight"), None)
        vocab = embed.dims[-1] if embed else None
    if not vocab:
        raise GgufError("vocabulary size is missing (no tokenizer.ggml.tokens and no token_embd.weight)")
    n_experts = _first_int(header.arch_value("expert_count")) or 0
    n_used = _first_int(header.arch_value("expert_used_count")) or 0
    total = sum(t.n_elements for t in header.tensors)
    active = None
    if n_experts and n_used:
        expert_params = sum(t.n_elements for t in header.tensors if "_exps." in t.name)
        active = total - expert_params + expert_params * n_used // n_experts
    name = header.metadata.get("general.name") or source
    if n_heads % n_kv_heads:
        n_kv_heads = n_heads
    spec = ModelSpec(
        id=normalize_name(str(name)) or "gguf-model",
        name=str(name),
        family=str(header.metadata.get("general.basename") or arch),
        architecture=arch,
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        intermediate_size=_first_int(header.arch_value("feed_forward_length")) or 4 * hidden,
        n_experts=n_experts,
        n_experts_per_token=n_used if n_experts else 0,
        n_shared_experts=_first_int(header.arch_value("expert_shared_count")) or 0,
        moe_intermediate_size=_first_int(header.arch_value("expert_feed_forward_length")),
        first_dense_layers=_first_int(header.arch_value("leading_dense_block_count")) or 0,
        sliding_window=_first_int(header.arch_value("attention.sliding_window")),
        kv_lora_rank=_first_int(header.arch_value("attention.kv_lora_rank")),
        q_lora_rank=_first_int(header.arch_value("attention.q_lora_rank")),
        tie_word_embeddings=not any(t.name == "output.weight" for t in header.tensors),
        params_total=max(total, 1),
        params_active=active if active and active < total else None,
        max_context=_first_int(header.arch_value("context_length")) or 4096,
        source=source,
    )
    data_bytes = sum(tensor_bytes(t) for t in header.tensors)
    return GgufModel(
        spec=spec,
        file_type=_file_type_name(header.metadata.get("general.file_type")),
        tensor_data_bytes=data_bytes,
        file_bytes=header.data_offset + data_bytes,
    )
