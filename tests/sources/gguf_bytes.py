"""Build GGUF headers byte by byte, for inputs no well-behaved writer would produce."""

from __future__ import annotations

import struct

U8, U16, U32, I32, F32, BOOL, STRING, ARRAY, U64 = 0, 2, 4, 5, 6, 7, 8, 9, 10
F32_TYPE, Q4_0_TYPE = 0, 2


def gguf_string(text: str | bytes, length: int | None = None) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw) if length is None else length) + raw


def kv(key: str, kind: int, payload: bytes) -> bytes:
    return gguf_string(key) + struct.pack("<I", kind) + payload


def kv_u32(key: str, value: int) -> bytes:
    return kv(key, U32, struct.pack("<I", value))


def kv_str(key: str, value: str) -> bytes:
    return kv(key, STRING, gguf_string(value))


def kv_f32(key: str, value: float) -> bytes:
    return kv(key, F32, struct.pack("<f", value))


def array(item: int, length: int, payload: bytes = b"") -> bytes:
    return struct.pack("<IQ", item, length) + payload


def tensor_info(name: str | bytes, dims: tuple[int, ...], ggml_type: int = F32_TYPE, offset: int = 0, n_dims: int | None = None) -> bytes:
    out = gguf_string(name) + struct.pack("<I", len(dims) if n_dims is None else n_dims)
    out += b"".join(struct.pack("<Q", d) for d in dims)
    return out + struct.pack("<IQ", ggml_type, offset)


def header(kvs: list[bytes] = (), tensors: list[bytes] = (), *, n_kv: int | None = None, n_tensors: int | None = None, version: int = 3) -> bytes:
    """Return a GGUF header; the counts default to the lists' lengths."""
    counts = struct.pack("<QQ", len(tensors) if n_tensors is None else n_tensors, len(kvs) if n_kv is None else n_kv)
    return b"GGUF" + struct.pack("<I", version) + counts + b"".join(kvs) + b"".join(tensors)


def llama_kvs(**values: int | float | None) -> list[bytes]:
    """Return the metadata a llama model needs, with ``values`` replacing any of them (None drops one)."""
    numbers = {
        "block_count": 2, "embedding_length": 64, "attention.head_count": 4,
        "attention.head_count_kv": 2, "feed_forward_length": 128, "context_length": 2048, "vocab_size": 32,
    }
    numbers.update(values)
    out = [kv_str("general.architecture", "llama")]
    for key, value in numbers.items():
        if value is None:
            continue
        if isinstance(value, float):
            out.append(kv_f32(f"llama.{key}", value))
        else:
            out.append(kv(f"llama.{key}", U64, struct.pack("<Q", value)))
    return out
