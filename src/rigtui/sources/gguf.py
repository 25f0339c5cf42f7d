"""Read GGUF headers (metadata and tensor infos) from a file, a byte prefix or a split model.

The parser works on any prefix of a file and raises ``NeedMore`` when the prefix ends inside
the header, so a remote file can be read with growing HTTP range requests. Tokenizer arrays
(often several MB) are skipped, keeping only their length. gguf-py's GGUFReader cannot read a
prefix and takes seconds on real headers, so it is not used here.

Headers are untrusted input. The parser checks what ggml's own loader (ggml/src/gguf.cpp,
``gguf_init_from_file_impl``) checks, so a file it accepts is one llama.cpp could load, and
every count and length is capped before anything is allocated or looped over. Every failure
is a ``GgufError``.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigtui.errors import RigtuiError

if TYPE_CHECKING:
    from rigtui.core.memory import ModelWeights
    from rigtui.core.specs import ModelSpec

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# --- limits -------------------------------------------------------------------------------
# A header that passes these limits can still be hostile, but it can only make the parser read
# bytes that are really there. The caps keep a forged count from turning into a long loop or a
# large allocation before the missing bytes are noticed.

# ggml.h GGML_MAX_DIMS: a ggml tensor has at most 4 dimensions, and gguf.cpp rejects more.
MAX_DIMS = 4
# ggml.h GGML_MAX_NAME: gguf.cpp rejects a tensor name of 64 bytes or more.
MAX_TENSOR_NAME = 64
# gguf.cpp keeps element counts in int64_t and rejects a tensor of INT64_MAX elements or more.
MAX_ELEMENTS = (1 << 63) - 1
# A dense model has about nine tensors per layer, so real models have hundreds to a few thousand.
MAX_TENSORS = 1_000_000
# Real files carry tens of metadata keys.
MAX_KV = 100_000
# The longest real strings are chat templates and embedded tokenizer JSON, a few MB at most.
MAX_STRING = 64 << 20
# The longest real arrays are token lists and merges, under 300,000 entries.
MAX_ARRAY = 50_000_000
# A Llama-3-8B header measures 9.0 MiB, almost all of it tokenizer arrays. Reading stops here,
# so a forged length cannot make rigtui read gigabytes of a model file.
MAX_HEADER_BYTES = 256 << 20
# Hugging Face stores files of up to 50 GB, so 256 parts hold 12.8 TB, far above any model.
MAX_SPLIT_PARTS = 256
# Arrays at most this long keep their values (per-layer head counts); longer ones keep a length.
KEEP_ARRAY = 4096

# GGUF value type codes (gguf specification, "gguf_metadata_value_type").
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# Split models follow llama.cpp's llama_split_path ("%s-%05d-of-%05d.gguf", parts counted from 1)
# and carry the keys gguf-split and gguf-py's GGUFWriter write: split.no (from 0), split.count
# and split.tensors.count (llama.cpp src/llama-arch.cpp, LLM_KV_SPLIT_*).
_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})(?P<ext>\.gguf)(?P<query>\?.*)?$", re.IGNORECASE)
SPLIT_NO, SPLIT_COUNT, SPLIT_TENSORS = "split.no", "split.count", "split.tensors.count"


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
    n_bytes: int = 0
    """Stored size, bytes, from the GGML type's block layout."""

    @property
    def n_elements(self) -> int:
        return math.prod(self.dims)


@dataclass(frozen=True)
class GgufHeader:
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    """Every tensor; for a split model, the parts' tensors in part order."""
    data_offset: int
    """Offset of the tensor data in the file (the first part of a split model), bytes."""
    header_bytes: int = field(default=0)
    parts: tuple["GgufHeader", ...] = ()
    """The header of each part of a split model, in order; empty for a single file."""

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    def arch_value(self, key: str) -> Any:
        """Return ``{architecture}.{key}``, or None."""
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def file_bytes(self) -> int:
        """Bytes a complete file needs: the header and the data up to the last tensor's end.

        For a split model, the sum over its parts.
        """
        if self.parts:
            return sum(part.file_bytes for part in self.parts)
        if not self.tensors:
            return self.header_bytes
        return self.data_offset + max(t.offset + t.n_bytes for t in self.tensors)


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

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def raw_string(self, what: str) -> bytes:
        start = self.pos
        length = self.u64()
        if length > MAX_STRING:
            raise GgufError(f"{what} at offset {start} claims {length:,} bytes, above the {MAX_STRING:,} limit; the file is corrupt")
        return bytes(self.take(length))

    def string(self, what: str) -> str:
        return self.raw_string(what).decode("utf-8", errors="replace")

    def value(self, kind: int, key: str) -> Any:
        if kind in _SCALARS:
            fmt = _SCALARS[kind]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if kind == _STRING:
            return self.string(f"value of {key!r}")
        if kind == _ARRAY:
            return self.array(key)
        raise GgufError(f"metadata key {key!r} has unknown value type {kind} at offset {self.pos - 4}")

    def array(self, key: str) -> Any:
        start = self.pos
        item = self.u32()
        length = self.u64()
        if item == _ARRAY:
            # gguf.cpp rejects arrays of arrays as an invalid type.
            raise GgufError(f"metadata key {key!r} is an array of arrays at offset {start}, which GGUF readers reject")
        if item not in _SCALARS and item != _STRING:
            raise GgufError(f"metadata key {key!r} is an array of unknown value type {item} at offset {start}")
        if length > MAX_ARRAY:
            raise GgufError(f"metadata key {key!r} claims {length:,} items, above the {MAX_ARRAY:,} limit; the file is corrupt")
        if item == _STRING:
            if length <= KEEP_ARRAY:
                return [self.string(f"item of {key!r}") for _ in range(length)]
            for _ in range(length):
                self.raw_string(f"item of {key!r}")
            return ArrayInfo(item, length)
        fmt = _SCALARS[item]
        raw = self.take(struct.calcsize(fmt) * length)
        if length <= KEEP_ARRAY:
            return list(struct.unpack(f"<{length}{fmt[1]}", raw))
        return ArrayInfo(item, length)


def _type_block(ggml_type: int, tensor: str) -> tuple[int, int]:
    """Return (elements per block, bytes per block) of a GGML type."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        return GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise GgufError(
            f"tensor {tensor!r} has unknown GGML type {ggml_type}; the file is corrupt or newer than the "
            "installed gguf package (upgrade it)"
        ) from None


def _padded(size: int, alignment: int) -> int:
    return -(-size // alignment) * alignment


def _tensor_info(reader: _Reader, alignment: int, expected_offset: int) -> TensorInfo:
    start = reader.pos
    raw_name = reader.raw_string("tensor name")
    name = raw_name.decode("utf-8", errors="replace")
    if len(raw_name) >= MAX_TENSOR_NAME:
        raise GgufError(f"tensor name at offset {start} has {len(raw_name)} bytes; ggml allows at most {MAX_TENSOR_NAME - 1}")
    n_dims = reader.u32()
    if n_dims > MAX_DIMS:
        raise GgufError(f"tensor {name!r} has {n_dims} dimensions; ggml allows at most {MAX_DIMS}")
    dims = tuple(reader.u64() for _ in range(n_dims))
    if any(d > MAX_ELEMENTS for d in dims) or math.prod(dims) >= MAX_ELEMENTS:
        raise GgufError(f"tensor {name!r} has shape {list(dims)}, too many elements for a ggml tensor")
    ggml_type = reader.u32()
    block, type_size = _type_block(ggml_type, name)
    row = dims[0] if dims else 1
    if row % block:
        raise GgufError(f"tensor {name!r} has rows of {row} elements, not a multiple of its type's block of {block}")
    n_bytes = math.prod(dims) // block * type_size
    offset = reader.u64()
    if offset != expected_offset:
        # gguf.cpp requires tensors to follow one another in header order, each padded to the alignment.
        raise GgufError(
            f"tensor {name!r} has data offset {offset:,}, expected {expected_offset:,}: tensor data must follow "
            f"in header order, each padded to {alignment} bytes"
        )
    return TensorInfo(name, dims, ggml_type, offset, n_bytes)


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
    version = reader.u32()
    if version not in (2, 3):
        raise GgufError(f"unsupported GGUF version {version}; rigtui reads versions 2 and 3")
    n_tensors = reader.u64()
    n_kv = reader.u64()
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise GgufError(
            f"implausible header: {n_tensors:,} tensors and {n_kv:,} metadata keys "
            f"(limits {MAX_TENSORS:,} and {MAX_KV:,}); the file is corrupt"
        )
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        start = reader.pos
        key = reader.string("metadata key")
        if key in metadata:
            raise GgufError(f"duplicate metadata key {key!r} at offset {start}")
        metadata[key] = reader.value(reader.u32(), key)
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if isinstance(alignment, bool) or not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GgufError(f"general.alignment {alignment!r} is not a power of two")
    tensors: list[TensorInfo] = []
    names: set[str] = set()
    expected_offset = 0
    for _ in range(n_tensors):
        tensor = _tensor_info(reader, alignment, expected_offset)
        if tensor.name in names:
            raise GgufError(f"duplicate tensor name {tensor.name!r}")
        names.add(tensor.name)
        tensors.append(tensor)
        expected_offset += _padded(tensor.n_bytes, alignment)
    data_offset = _padded(reader.pos, alignment)
    return GgufHeader(version, metadata, tuple(tensors), data_offset, header_bytes=reader.pos)


def read_header(path: Path, first_read: int = 1 << 20) -> GgufHeader:
    """Read the header of a local GGUF file, reading more of it only as needed.

    Raises:
        GgufError: the file is missing, unreadable, truncated or malformed; the message names the path.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            want = min(first_read, MAX_HEADER_BYTES)
            while True:
                handle.seek(0)
                chunk = handle.read(want)
                try:
                    return parse_header(chunk)
                except NeedMore as more:
                    if len(chunk) >= size:
                        raise GgufError(f"{path}: truncated header: ends at byte {size:,} inside the header") from None
                    if want >= MAX_HEADER_BYTES:
                        raise GgufError(
                            f"{path}: header larger than {MAX_HEADER_BYTES >> 20} MiB; not a normal GGUF file"
                        ) from None
                    want = min(max(more.size, want * 4), MAX_HEADER_BYTES)
                except GgufError as exc:
                    raise GgufError(f"{path}: {exc.message}") from None
    except OSError as exc:
        raise GgufError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def tensor_bytes(tensor: TensorInfo) -> int:
    """Return the stored size of one tensor from its GGML type's block layout."""
    block, type_size = _type_block(tensor.ggml_type, tensor.name)
    return tensor.n_elements // block * type_size


# --- split models ---------------------------------------------------------------------------


def split_part_names(text: str) -> list[str] | None:
    """Return every part's path or URL for a split model named like ``x-00002-of-00003.gguf``.

    Any part's name gives all of them, in order. Returns None for a name without the pattern.

    Raises:
        GgufError: the name counts more parts than MAX_SPLIT_PARTS, or a part outside the count.
    """
    match = _SPLIT_NAME.match(text)
    if match is None:
        return None
    number, count = int(match["no"]), int(match["count"])
    if not 1 <= number <= count:
        raise GgufError(f"{text}: part {number} of {count} does not exist; split parts count from 1")
    if count > MAX_SPLIT_PARTS:
        raise GgufError(f"{text}: {count} parts is above the {MAX_SPLIT_PARTS} limit; not a real split model")
    prefix, ext, query = match["prefix"], match["ext"], match["query"] or ""
    return [f"{prefix}-{i:05d}-of-{count:05d}{ext}{query}" for i in range(1, count + 1)]


def _split_int(header: GgufHeader, key: str) -> int | None:
    value = header.metadata.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise GgufError(f"{key} is {value!r}; expected an integer")
    return value


def merge_parts(parts: Sequence[tuple[str, GgufHeader]]) -> GgufHeader:
    """Merge the headers of every part of a split model, checked against their split.* keys.

    The model's metadata comes from the first part, as llama.cpp's loader reads it.

    Raises:
        GgufError: a part's split.no, split.count or the total tensor count disagrees, or two
            parts hold the same tensor.
    """
    count = len(parts)
    first_name, first = parts[0]
    if count == 1:
        declared = _split_int(first, SPLIT_COUNT)
        if declared is not None and declared > 1:
            raise GgufError(
                f"{first_name}: split.count is {declared}, but the name lacks the -00001-of-{declared:05d}.gguf "
                "pattern that names the other parts; rename the parts as gguf-split wrote them"
            )
        return first
    tensors: list[TensorInfo] = []
    seen: dict[str, str] = {}
    for index, (name, header) in enumerate(parts):
        number = _split_int(header, SPLIT_NO)
        declared = _split_int(header, SPLIT_COUNT)
        if number != index or declared != count:
            raise GgufError(
                f"{name}: split.no is {number} and split.count {declared}; as part {index + 1} of {count} "
                f"it needs {index} and {count}. Download the parts again"
            )
        for tensor in header.tensors:
            if tensor.name in seen:
                raise GgufError(f"{name}: tensor {tensor.name!r} is also in {seen[tensor.name]}")
            seen[tensor.name] = name
            tensors.append(tensor)
    total = _split_int(first, SPLIT_TENSORS)
    if total is not None and total != len(tensors):
        raise GgufError(f"{first_name}: split.tensors.count is {total:,}, but the {count} parts hold {len(tensors):,} tensors")
    return GgufHeader(
        first.version, first.metadata, tuple(tensors), first.data_offset, first.header_bytes,
        parts=tuple(header for _, header in parts),
    )


def _check_complete(path: Path, header: GgufHeader) -> None:
    size = path.stat().st_size
    if size < header.file_bytes:
        raise GgufError(
            f"{path}: truncated: the file has {size:,} bytes but its tensors end at byte "
            f"{header.file_bytes:,}; download it again"
        )


def read_model_file(path: Path) -> GgufHeader:
    """Read a local GGUF file, or every part of a split one, and check that no part is cut short.

    Raises:
        GgufError: a part is missing, unreadable, truncated or malformed; the message names it.
    """
    names = split_part_names(str(path))
    paths = [Path(name) for name in names] if names else [path]
    parts = []
    for index, part in enumerate(paths):
        if names and not part.is_file():
            raise GgufError(
                f"{part}: missing part {index + 1} of {len(paths)} of the split GGUF model; "
                f"put every part in {part.parent}"
            )
        header = read_header(part)
        try:
            _check_complete(part, header)
        except OSError as exc:
            raise GgufError(f"{part}: cannot read: {exc.strerror or exc}") from exc
        parts.append((str(part), header))
    return merge_parts(parts)


def fetch_model_header(url: str, fetch_header: Callable[[str], GgufHeader]) -> GgufHeader:
    """Read a remote GGUF header with ``fetch_header``, and every part's when the URL names a split model.

    Raises:
        GgufError: a part is malformed or disagrees with the others.
        RigtuiError: ``fetch_header`` failed on a part; the message names the part.
    """
    names = split_part_names(url)
    if names is None:
        return merge_parts([(url, fetch_header(url))])
    parts = []
    for index, name in enumerate(names):
        try:
            parts.append((name, fetch_header(name)))
        except RigtuiError as exc:
            error = type(exc)(f"part {index + 1} of {len(names)} of the split GGUF model: {exc.message}")
            raise error from None
    return merge_parts(parts)


# --- the model a header describes ---------------------------------------------------------------


@dataclass(frozen=True)
class GgufModel:
    """What a GGUF file says about the model it holds."""

    spec: "ModelSpec"
    file_type: str | None
    """llama.cpp file type such as 'Q4_K_M' (from general.file_type), None when absent."""
    tensor_data_bytes: int
    file_bytes: int
    """Header plus tensor data, bytes: the size of a complete file (all parts of a split model)."""
    weights: "ModelWeights"
    """Every tensor's real size, grouped by layer as placement uses it."""


def _positive_int(value: Any) -> int | None:
    """Return a positive scalar, or the largest positive entry of a per-layer array, else None."""
    if isinstance(value, list):
        numbers = [n for n in (_positive_int(v) for v in value) if n is not None]
        return max(numbers) if numbers else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = int(value)
    return number if number > 0 else None


def _file_type_name(code: Any) -> str | None:
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(code).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def model_from_header(header: GgufHeader, source: str) -> GgufModel:
    """Build a catalog-style model entry, and its exact weights, from a GGUF header.

    Raises:
        GgufError: a value that every model needs (layers, width, heads) is missing or invalid.
    """
    from pydantic import ValidationError

    from rigtui.core.catalog import normalize_name
    from rigtui.core.specs import ModelSpec

    arch = header.architecture
    if not arch:
        raise GgufError("general.architecture is missing")
    if not header.tensors:
        raise GgufError("the file holds no tensors, so it is not a model file (a vocabulary-only file?); give the weights file")

    def value(key: str) -> int | None:
        return _positive_int(header.arch_value(key))

    def need(key: str) -> int:
        found = value(key)
        if found is None:
            raise GgufError(f"{arch}.{key} is missing or not a positive number; rigtui needs it to size the model")
        return found

    n_layers = need("block_count")
    hidden = need("embedding_length")
    n_heads = need("attention.head_count")
    n_kv_heads = value("attention.head_count_kv") or n_heads
    head_dim = value("attention.key_length") or hidden // n_heads
    tokens = header.metadata.get("tokenizer.ggml.tokens")
    vocab = value("vocab_size") or (
        tokens.length if isinstance(tokens, ArrayInfo) else len(tokens) if isinstance(tokens, list) else None
    )
    if not vocab:
        embed = next((t for t in header.tensors if t.name == "token_embd.weight"), None)
        vocab = embed.dims[-1] if embed and embed.dims else None
    if not vocab:
        raise GgufError("vocabulary size is missing (no tokenizer.ggml.tokens and no token_embd.weight)")
    n_experts = value("expert_count") or 0
    n_used = value("expert_used_count") or 0
    total = sum(t.n_elements for t in header.tensors)
    active = None
    if n_experts and n_used:
        expert_params = sum(t.n_elements for t in header.tensors if "_exps." in t.name)
        active = total - expert_params + expert_params * n_used // n_experts
    name = header.metadata.get("general.name") or source
    if n_heads % n_kv_heads:
        n_kv_heads = n_heads
    try:
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
            intermediate_size=value("feed_forward_length") or 4 * hidden,
            n_experts=n_experts,
            n_experts_per_token=n_used if n_experts else 0,
            n_shared_experts=value("expert_shared_count") or 0,
            moe_intermediate_size=value("expert_feed_forward_length"),
            first_dense_layers=value("leading_dense_block_count") or 0,
            sliding_window=value("attention.sliding_window"),
            kv_lora_rank=value("attention.kv_lora_rank"),
            q_lora_rank=value("attention.q_lora_rank"),
            tie_word_embeddings=not any(t.name == "output.weight" for t in header.tensors),
            params_total=max(total, 1),
            params_active=active if active and active < total else None,
            max_context=value("context_length") or 4096,
            source=source,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise GgufError(f"the header describes an impossible model ({problems})") from None
    weights = weights_from_header(header, spec)
    return GgufModel(
        spec=spec,
        file_type=_file_type_name(header.metadata.get("general.file_type")),
        tensor_data_bytes=sum(t.n_bytes for t in header.tensors),
        file_bytes=header.file_bytes,
        weights=weights,
    )


# Tensors of llama.cpp's input layer (LLM_TENSOR_LAYER_INPUT in src/llama-arch.cpp), which stay in
# CPU RAM next to the token embedding.
_INPUT_TENSORS = ("token_embd", "pos_embd", "token_types")
_BLOCK = re.compile(r"^blk\.(\d+)\.")


def weights_from_header(header: GgufHeader, spec: "ModelSpec") -> "ModelWeights":
    """Group a header's tensors by layer into the core's ModelWeights, with their real sizes.

    Raises:
        GgufError: a tensor names a block beyond the model's block_count.
    """
    from gguf.constants import GGMLQuantizationType

    from rigtui.core.memory import LayerWeights, ModelWeights

    dense = [0] * spec.n_layers
    experts = [0] * spec.n_layers
    embd = head = 0
    by_type: dict[str, int] = {}
    for tensor in header.tensors:
        type_name = GGMLQuantizationType(tensor.ggml_type).name
        by_type[type_name] = by_type.get(type_name, 0) + tensor.n_bytes
        block = _BLOCK.match(tensor.name)
        kind = tensor.name.split(".", 1)[0]
        if block:
            layer = int(block[1])
            if layer >= spec.n_layers:
                raise GgufError(f"tensor {tensor.name!r} belongs to block {layer}, but block_count is {spec.n_layers}")
            if "_exps" in tensor.name[block.end():]:
                experts[layer] += tensor.n_bytes
            else:
                dense[layer] += tensor.n_bytes
        elif kind in _INPUT_TENSORS:
            embd += tensor.n_bytes
        elif kind == "token_embd_norm":
            # llama.cpp applies this norm on the first layer's device (LLM_TENSOR_LAYER_REPEATING).
            dense[0] += tensor.n_bytes
        else:
            # The output head, its norm and any other whole-model tensor sit with the output layer.
            head += tensor.n_bytes
    if spec.tie_word_embeddings:
        # NOTE: llama.cpp loads token_embd a second time as the head; the input tensors counted
        # with it (pos_embd, token_types) overstate that copy by their few MB.
        head += embd
    layers = tuple(LayerWeights(i, dense[i], experts[i]) for i in range(spec.n_layers))
    return ModelWeights(
        layers, embd, head, spec.tie_word_embeddings, by_type, source="gguf-header", model_id=spec.id
    )
