"""Real GGUF files with mixed tensor types, whole or split, written with the gguf package."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
from gguf.constants import GGMLQuantizationType as T
from gguf.quants import quantize

MIXED_LAYERS, MIXED_HIDDEN, MIXED_FFN, MIXED_VOCAB = 4, 64, 128, 256
# Layers 0 and 1 are Q8_0, layers 2 and 3 Q4_0, the embedding Q8_0 and the output head F16.
LAYER_TYPES = {0: T.Q8_0, 1: T.Q8_0, 2: T.Q4_0, 3: T.Q4_0}


def _add(writer: gguf.GGUFWriter, name: str, rows: int, cols: int, kind: T, rng: np.random.Generator) -> None:
    data = rng.random((rows, cols) if rows > 1 else cols, dtype=np.float32)
    if kind == T.F32:
        writer.add_tensor(name, data)
    elif kind == T.F16:
        writer.add_tensor(name, data.astype(np.float16))
    else:
        writer.add_tensor(name, quantize(data, kind), raw_dtype=kind)


def write_mixed_llama(path: Path, *, split_max_tensors: int = 0, tied: bool = False) -> list[Path]:
    """Write a llama-shaped model with Q8_0, Q4_0, F16 and F32 tensors; return its files in order.

    With ``split_max_tensors`` the gguf package splits it into parts named like gguf-split's
    ("mixed-00001-of-00003.gguf"), each with split.no, split.count and split.tensors.count.
    """
    writer = gguf.GGUFWriter(str(path), arch="llama", split_max_tensors=split_max_tensors)
    writer.add_name("Mixed Llama")
    writer.add_block_count(MIXED_LAYERS)
    writer.add_embedding_length(MIXED_HIDDEN)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_feed_forward_length(MIXED_FFN)
    writer.add_context_length(4096)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    writer.add_token_list([f"tok{i}" for i in range(MIXED_VOCAB)])
    rng = np.random.default_rng(1)
    _add(writer, "token_embd.weight", MIXED_VOCAB, MIXED_HIDDEN, T.Q8_0, rng)
    for layer, kind in LAYER_TYPES.items():
        prefix = f"blk.{layer}"
        _add(writer, f"{prefix}.attn_norm.weight", 1, MIXED_HIDDEN, T.F32, rng)
        _add(writer, f"{prefix}.attn_q.weight", MIXED_HIDDEN, MIXED_HIDDEN, kind, rng)
        _add(writer, f"{prefix}.attn_k.weight", 32, MIXED_HIDDEN, kind, rng)
        _add(writer, f"{prefix}.attn_v.weight", 32, MIXED_HIDDEN, kind, rng)
        _add(writer, f"{prefix}.attn_output.weight", MIXED_HIDDEN, MIXED_HIDDEN, kind, rng)
        _add(writer, f"{prefix}.ffn_norm.weight", 1, MIXED_HIDDEN, T.F32, rng)
        _add(writer, f"{prefix}.ffn_gate.weight", MIXED_FFN, MIXED_HIDDEN, kind, rng)
        _add(writer, f"{prefix}.ffn_up.weight", MIXED_FFN, MIXED_HIDDEN, kind, rng)
        _add(writer, f"{prefix}.ffn_down.weight", MIXED_HIDDEN, MIXED_FFN, T.Q8_0 if layer == 3 else kind, rng)
    _add(writer, "output_norm.weight", 1, MIXED_HIDDEN, T.F32, rng)
    if not tied:
        _add(writer, "output.weight", MIXED_VOCAB, MIXED_HIDDEN, T.F16, rng)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return writer.format_shard_names(path)


def real_tensor_bytes(paths: list[Path]) -> dict[str, int]:
    """Return each tensor's stored size as gguf-py's own reader reports it, over every part."""
    sizes: dict[str, int] = {}
    for path in paths:
        for tensor in gguf.GGUFReader(str(path)).tensors:
            sizes[tensor.name] = int(tensor.n_bytes)
    return sizes
