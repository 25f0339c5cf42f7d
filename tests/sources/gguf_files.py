"""Real, tiny GGUF files written with the gguf package for parser tests."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

N_LAYERS, HIDDEN, HEADS, KV_HEADS, FFN, VOCAB = 2, 64, 4, 2, 128, 300


def write_tiny_llama(
    path: Path,
    tokens: int = VOCAB,
    file_type: int = gguf.LlamaFileType.MOSTLY_F16,
    split_max_tensors: int = 0,
    context_length: int = 2048,
) -> Path:
    """Write a complete, tiny llama-shaped GGUF file (F16 and F32 tensors).

    With ``split_max_tensors``, the model is split into parts named like llama.cpp's gguf-split
    ("tiny-00001-of-00002.gguf"), and the first part's path is returned.
    """
    writer = gguf.GGUFWriter(str(path), arch="llama", split_max_tensors=split_max_tensors)
    writer.add_name("Tiny Llama")
    writer.add_block_count(N_LAYERS)
    writer.add_embedding_length(HIDDEN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_feed_forward_length(FFN)
    writer.add_context_length(context_length)
    writer.add_file_type(file_type)
    writer.add_token_list([f"tok{i}" for i in range(tokens)])
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.random((VOCAB, HIDDEN), dtype=np.float32).astype(np.float16))
    for layer in range(N_LAYERS):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_q.weight", np.zeros((HIDDEN, HIDDEN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.attn_k.weight", np.zeros((KV_HEADS * 16, HIDDEN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.attn_v.weight", np.zeros((KV_HEADS * 16, HIDDEN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.attn_output.weight", np.zeros((HIDDEN, HIDDEN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.ffn_up.weight", np.zeros((FFN, HIDDEN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", np.zeros((FFN, HIDDEN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.ffn_down.weight", np.zeros((HIDDEN, FFN), dtype=np.float16))
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    writer.add_tensor("output.weight", np.zeros((VOCAB, HIDDEN), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if split_max_tensors:
        return writer.format_shard_names(path)[0]
    return path
