"""Bytes a model needs: weights tensor by tensor, KV cache layer by layer, compute buffers.

Weights follow the tensors a GGUF conversion of the model holds (names as llama.cpp's
``llm_tensor`` uses them). For GGUF file types each tensor gets the GGML type that
llama.cpp's quantizer picks, from the rules in ``data/quants.toml``; file size is the sum
of the tensors, never one bits-per-weight figure times the parameter count.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from functools import lru_cache

from rigtui.core.rig import MIB
from rigtui.core.specs import GgmlType, ModelSpec, QuantRule, QuantSpec

# 1-D tensors (norms, biases) and MoE routers are never quantized by llama.cpp; GGUF keeps them F32.
_UNQUANTIZED = ("norm", "ffn_gate_inp")
# Rule tensor names that stand for a whole category in llama-quant.cpp (category_is_attn_v).
_RULE_ALIASES = {"attn_v": ("attn_v", "attn_qkv", "attn_kv_b")}
# KV cache element sizes in bytes for cache types that are no GGML type.
_KV_ELEMENT_BYTES = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "auto": 2.0,
    "fp8": 1.0,
    "fp8_e4m3": 1.0,
    "fp8_e5m2": 1.0,
    # ExLlamaV2 cache modes: 8-bit K and V; 8-bit K with 4-bit V; 4-bit both, each with an FP16
    # scale per 32 values (exllamav2 cache.py).
    "q8": 1.0625,
    "q6": 0.8125,
    "q4": 0.5625,
}
# llama.cpp pads the context to a multiple of 256 KV cells (llama-context.cpp, GGML_PAD).
KV_CELL_PADDING = 256


@dataclass(frozen=True)
class Tensor:
    """One weight tensor of the model (the experts of a layer count as one 3-D tensor)."""

    name: str
    """Tensor class without the block prefix: attn_q, ffn_down_exps, attn_norm, token_embd, ..."""
    layer: int | None
    elements: int
    row_length: int
    """Elements per row (ne0); quantized types need it to be a multiple of their block size."""

    @property
    def is_expert(self) -> bool:
        return self.name.endswith("_exps")


@dataclass(frozen=True)
class LayerWeights:
    """Bytes of one repeating layer, split into routed experts and everything else."""

    index: int
    dense_bytes: int
    """Attention, norms, router, shared experts and a dense feed-forward."""
    expert_bytes: int
    """Routed experts (ffn_*_exps), the part --n-cpu-moe keeps in CPU RAM."""

    @property
    def total_bytes(self) -> int:
        return self.dense_bytes + self.expert_bytes


@dataclass(frozen=True)
class ModelWeights:
    """Bytes of a model at one quantization, as the runtime places them."""

    layers: tuple[LayerWeights, ...]
    token_embd_bytes: int
    output_bytes: int
    """Output head and its norm; with tied embeddings, the copy of token_embd the head uses."""
    tied_embeddings: bool
    tensor_types: dict[str, int]
    """Bytes by GGML type (or format name), for the summary."""

    @property
    def layer_bytes(self) -> int:
        return sum(layer.total_bytes for layer in self.layers)

    @property
    def file_bytes(self) -> int:
        """Bytes of weight data in the file; a tied head shares token_embd's bytes."""
        head = 0 if self.tied_embeddings else self.output_bytes
        return self.layer_bytes + self.token_embd_bytes + head

    @property
    def max_layer_bytes(self) -> int:
        return max((layer.total_bytes for layer in self.layers), default=0)


def model_tensors(model: ModelSpec) -> list[Tensor]:
    """List the weight tensors of a model's text decoder, as a GGUF conversion holds them."""
    hidden = model.hidden_size
    tensors = [Tensor("token_embd", None, model.vocab_size * hidden, hidden)]
    for il in range(model.n_layers):
        tensors.extend(_layer_tensors(model, il))
    tensors.append(Tensor("output_norm", None, hidden, hidden))
    if not model.tie_word_embeddings:
        tensors.append(Tensor("output", None, model.vocab_size * hidden, hidden))
    return tensors


def _layer_tensors(model: ModelSpec, il: int) -> list[Tensor]:
    hidden = model.hidden_size
    out = [Tensor("attn_norm", il, hidden, hidden), Tensor("ffn_norm", il, hidden, hidden)]
    if model.kv_lora_rank:
        out.extend(_mla_tensors(model, il))
    else:
        q_width = model.n_heads * model.head_dim
        kv_width = model.n_kv_heads * model.head_dim
        out += [
            Tensor("attn_q", il, hidden * q_width, hidden),
            Tensor("attn_k", il, hidden * kv_width, hidden),
            Tensor("attn_v", il, hidden * kv_width, hidden),
            Tensor("attn_output", il, q_width * hidden, q_width),
        ]
    if model.is_moe and il >= model.first_dense_layers:
        expert = model.moe_intermediate_size or model.intermediate_size
        n = model.n_experts
        out += [
            Tensor("ffn_gate_inp", il, hidden * n, hidden),
            Tensor("ffn_gate_exps", il, n * hidden * expert, hidden),
            Tensor("ffn_up_exps", il, n * hidden * expert, hidden),
            Tensor("ffn_down_exps", il, n * expert * hidden, expert),
        ]
        if model.n_shared_experts:
            # NOTE: assumes a shared-expert width of n_shared x moe_intermediate_size (DeepSeek);
            # Qwen2-MoE sizes its shared expert separately, which the catalog does not record.
            shared = model.n_shared_experts * expert
            out += [
                Tensor("ffn_gate_shexp", il, hidden * shared, hidden),
                Tensor("ffn_up_shexp", il, hidden * shared, hidden),
                Tensor("ffn_down_shexp", il, shared * hidden, shared),
            ]
    else:
        inter = model.intermediate_size
        out += [
            Tensor("ffn_gate", il, hidden * inter, hidden),
            Tensor("ffn_up", il, hidden * inter, hidden),
            Tensor("ffn_down", il, inter * hidden, inter),
        ]
    return out


def _mla_tensors(model: ModelSpec, il: int) -> list[Tensor]:
    """Multi-head latent attention tensors (DeepSeek-V2/V3 as llama.cpp converts them)."""
    hidden = model.hidden_size
    rope = model.qk_rope_head_dim or 64
    nope = model.qk_nope_head_dim or model.head_dim
    v_dim = model.v_head_dim or model.head_dim
    rank = model.kv_lora_rank or 512
    q_width = model.n_heads * (nope + rope)
    out: list[Tensor] = []
    if model.q_lora_rank:
        out += [
            Tensor("attn_q_a", il, hidden * model.q_lora_rank, hidden),
            Tensor("attn_q_a_norm", il, model.q_lora_rank, model.q_lora_rank),
            Tensor("attn_q_b", il, model.q_lora_rank * q_width, model.q_lora_rank),
        ]
    else:
        out.append(Tensor("attn_q", il, hidden * q_width, hidden))
    out += [
        Tensor("attn_kv_a_mqa", il, hidden * (rank + rope), hidden),
        Tensor("attn_kv_a_norm", il, rank, rank),
        Tensor("attn_kv_b", il, rank * model.n_heads * (nope + v_dim), rank),
        Tensor("attn_output", il, model.n_heads * v_dim * hidden, model.n_heads * v_dim),
    ]
    return out


# --- choosing a type per tensor ---------------------------------------------------------


def _more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp's use_more_bits: first and last eighth of layers, and every third between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


_LAYER_SELECTORS = {
    "all": lambda i, n: True,
    "more_bits": _more_bits,
    "first_eighth": lambda i, n: i < n // 8,
    "first_sixteenth": lambda i, n: i < n // 16,
    "first_2": lambda i, n: i < 2,
    "first_4": lambda i, n: i < 4,
}
_COMPARE = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt, "!=": operator.ne}


def _model_facts(model: ModelSpec) -> dict[str, int]:
    return {
        "n_gqa": model.n_heads // model.n_kv_heads,
        "n_expert": model.n_experts,
        "n_layer": model.n_layers,
    }


@lru_cache(maxsize=256)
def _condition_holds(condition: str, facts: tuple[tuple[str, int], ...]) -> bool:
    values = dict(facts)
    for clause in condition.split(" and "):
        name, op, number = clause.split()
        if name not in values or op not in _COMPARE:
            raise ValueError(f"invalid quant rule condition {condition!r}: use n_gqa, n_expert or n_layer with {list(_COMPARE)}")
        if not _COMPARE[op](values[name], int(number)):
            return False
    return True


def _rule_matches(rule: QuantRule, name: str, layer: int | None, n_layers: int, facts: tuple[tuple[str, int], ...]) -> bool:
    targets = _RULE_ALIASES.get(rule.tensor, (rule.tensor,))
    if rule.tensor != "default" and not any(name == t or name.startswith(t + "_") for t in targets):
        return False
    if layer is not None and not _LAYER_SELECTORS[rule.layers](layer, n_layers):
        return False
    if layer is None and rule.layers != "all":
        return False
    return rule.when is None or _condition_holds(rule.when, facts)


def gguf_tensor_type(tensor: Tensor, model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType]) -> str:
    """Return the GGML type llama.cpp's quantizer gives a tensor under a GGUF file type."""
    if tensor.name.endswith("norm") or tensor.name in _UNQUANTIZED:
        return "F32"
    default = quant.default_type or "F16"
    if default in ("F32", "F16", "BF16"):
        return default
    # A tied token_embd doubles as the output head, so the quantizer gives it the head's type.
    name = "output" if (tensor.name == "token_embd" and model.tie_word_embeddings) else tensor.name
    facts = tuple(sorted(_model_facts(model).items()))
    chosen = default
    for rule in quant.rules:
        if _rule_matches(rule, name, tensor.layer, model.n_layers, facts):
            chosen = rule.type
            break
    return _fallback(chosen, tensor.row_length, ggml_types)


def _fallback(type_id: str, row_length: int, ggml_types: dict[str, GgmlType]) -> str:
    """Follow llama-quant.cpp's fallback when a row does not split into whole blocks."""
    seen = set()
    while type_id not in seen:
        seen.add(type_id)
        ggml = ggml_types.get(type_id)
        if ggml is None:
            raise KeyError(f"GGML type {type_id!r} is not in the catalog's ggml_types")
        if row_length % ggml.block_size == 0:
            return type_id
        if ggml.fallback is None:
            return "F16"
        type_id = ggml.fallback
    return "F16"


def _type_bytes(elements: int, type_id: str, ggml_types: dict[str, GgmlType]) -> int:
    ggml = ggml_types[type_id]
    blocks = math.ceil(elements / ggml.block_size)
    return int(round(blocks * ggml.block_size * ggml.bits_per_weight / 8))


def linear_bits_per_weight(quant: QuantSpec, bpw: float | None = None) -> float:
    """Bits per weight of the quantized matrices of a non-GGUF format, group scales included.

    AWQ and GPTQ store one FP16 scale and one packed zero point of the weight width per group.
    """
    bits = bpw if (bpw and quant.variable_bpw) else quant.bits_per_weight
    if quant.group_size and quant.format in ("awq", "gptq"):
        bits += (16 + quant.bits_per_weight) / quant.group_size
    return bits


def tensor_bytes_and_type(
    tensor: Tensor, model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType], bpw: float | None = None
) -> tuple[int, str]:
    """Return the bytes a tensor takes under a quantization, and the type name it is stored as."""
    if quant.format == "gguf":
        type_id = gguf_tensor_type(tensor, model, quant, ggml_types)
        return _type_bytes(tensor.elements, type_id, ggml_types), type_id
    rule_type = _non_gguf_rule_type(tensor, quant)
    if quant.format == "float":
        type_id = rule_type or "BF16"
        return _type_bytes(tensor.elements, type_id, ggml_types), type_id
    if tensor.name.endswith("norm") or tensor.name in _UNQUANTIZED:
        # Safetensors checkpoints keep norms and routers in 16-bit.
        return tensor.elements * 2, "BF16"
    is_head = tensor.name == "output" or (tensor.name == "token_embd" and model.tie_word_embeddings)
    if is_head and quant.output_bits_per_weight:
        return int(tensor.elements * quant.output_bits_per_weight / 8), quant.id
    if rule_type:
        return _type_bytes(tensor.elements, rule_type, ggml_types), rule_type
    return int(math.ceil(tensor.elements * linear_bits_per_weight(quant, bpw) / 8)), quant.id


def _non_gguf_rule_type(tensor: Tensor, quant: QuantSpec) -> str | None:
    for rule in quant.rules:
        if rule.tensor == "default" or tensor.name == rule.tensor:
            return rule.type
    return None


def model_weights(
    model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType], bpw: float | None = None
) -> ModelWeights:
    """Size every tensor of a model at a quantization and group the bytes by layer."""
    key = (model.model_dump_json(), quant.model_dump_json(), _ggml_key(ggml_types), bpw)
    cached = _WEIGHTS_CACHE.get(key)
    if cached is None:
        if len(_WEIGHTS_CACHE) > 256:
            _WEIGHTS_CACHE.clear()
        cached = _WEIGHTS_CACHE[key] = _size_weights(model, quant, ggml_types, bpw)
    return cached


# Catalog entries are frozen but hold lists, so they cannot key an lru_cache; their JSON does.
_WEIGHTS_CACHE: dict[tuple[str, str, tuple, float | None], ModelWeights] = {}


def _ggml_key(table: dict[str, GgmlType]) -> tuple:
    return tuple(sorted((k, v.bits_per_weight, v.block_size, v.fallback) for k, v in table.items()))


def _size_weights(model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType], bpw: float | None) -> ModelWeights:
    dense = [0] * model.n_layers
    experts = [0] * model.n_layers
    embd = 0
    head = 0
    by_type: dict[str, int] = {}
    for tensor in model_tensors(model):
        size, type_id = tensor_bytes_and_type(tensor, model, quant, ggml_types, bpw)
        by_type[type_id] = by_type.get(type_id, 0) + size
        if tensor.layer is None:
            if tensor.name == "token_embd":
                embd += size
            else:
                head += size
        elif tensor.is_expert:
            experts[tensor.layer] += size
        else:
            dense[tensor.layer] += size
    if model.tie_word_embeddings:
        head += embd
    layers = tuple(LayerWeights(i, dense[i], experts[i]) for i in range(model.n_layers))
    return ModelWeights(layers, embd, head, model.tie_word_embeddings, by_type)


def model_file_bytes(model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType], bpw: float | None = None) -> int:
    """Predict the size of the model's weight file(s) at a quantization, in bytes.

    NOTE: the GGUF header (tokenizer vocabulary and merges, a few MB) is not counted.
    """
    return model_weights(model, quant, ggml_types, bpw).file_bytes


# --- KV cache ---------------------------------------------------------------------------


def kv_element_bytes(kv_type: str, ggml_types: dict[str, GgmlType]) -> float:
    """Bytes per cached K or V element for a cache type name (llama.cpp, vLLM or ExLlama)."""
    key = kv_type.lower()
    if key in _KV_ELEMENT_BYTES:
        return _KV_ELEMENT_BYTES[key]
    ggml = ggml_types.get(kv_type.upper())
    if ggml is None:
        raise ValueError(f"unknown KV cache type {kv_type!r}: use f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0, iq4_nl or fp8")
    return ggml.bits_per_weight / 8


def is_swa_layer(model: ModelSpec, il: int) -> bool:
    """True when layer il attends within the sliding window only."""
    if not model.sliding_window:
        return False
    if not model.sliding_window_pattern:
        return True
    return (il + 1) % model.sliding_window_pattern != 0


def kv_row_elements(model: ModelSpec) -> tuple[int, int]:
    """K and V elements one token adds to one layer's cache.

    With latent attention llama.cpp caches the compressed latent plus the RoPE part as one
    head: K holds kv_lora_rank + rope dims and V kv_lora_rank.
    """
    if model.kv_lora_rank:
        rope = model.qk_rope_head_dim or 64
        return model.kv_lora_rank + rope, model.kv_lora_rank
    width = model.n_kv_heads * model.head_dim
    return width, width


def padded_context(context: int) -> int:
    return -(-context // KV_CELL_PADDING) * KV_CELL_PADDING


def kv_cells(model: ModelSpec, il: int, context: int, ubatch: int, parallel: int = 1, padded: bool = True) -> int:
    """KV cells layer il allocates: the context, or the window plus a micro-batch for SWA layers."""
    cells = padded_context(context) if padded else context
    if is_swa_layer(model, il):
        window = (model.sliding_window or 0) * max(parallel, 1) + ubatch
        window = padded_context(window) if padded else window
        cells = min(cells, window)
    return cells


def kv_layer_bytes(
    model: ModelSpec,
    il: int,
    context: int,
    kv_type: str,
    ggml_types: dict[str, GgmlType],
    ubatch: int = 512,
    parallel: int = 1,
    padded: bool = True,
) -> int:
    """Bytes of K and V cache one layer holds at a context length (llama.cpp layout)."""
    k_width, v_width = kv_row_elements(model)
    element = kv_element_bytes(kv_type, ggml_types)
    cells = kv_cells(model, il, context, ubatch, parallel, padded)
    return int(cells * (k_width + v_width) * element)


def kv_bytes_per_token(model: ModelSpec, kv_type: str, ggml_types: dict[str, GgmlType]) -> float:
    """Bytes one token adds to the cache across all layers, counting every layer as full attention."""
    k_width, v_width = kv_row_elements(model)
    return model.n_layers * (k_width + v_width) * kv_element_bytes(kv_type, ggml_types)


# --- compute buffers (llama.cpp) --------------------------------------------------------

_F32 = 4


@dataclass(frozen=True)
class ComputeShape:
    """What a device's compute graph must hold at once, by the part of a layer."""

    attention: int
    feed_forward: int
    logits: int
    activations: int


def llamacpp_compute_shape(model: ModelSpec, context: int, ubatch: int, flash_attn: bool) -> ComputeShape:
    """Estimate the largest intermediate tensors of one llama.cpp graph pass, in bytes.

    llama.cpp reserves the graph once for a micro-batch of min(context, ubatch) tokens, and the
    allocator reuses memory between layers, so the buffer is set by the largest step, not by the
    number of layers. Without flash attention the f32 attention scores (heads x context x
    tokens) dominate at long context; with it, the feed-forward or the output logits do.
    """
    n_ctx = padded_context(context)
    tokens = min(n_ctx, ubatch)
    hidden = model.hidden_size
    q_heads = model.n_heads
    if flash_attn:
        attention = tokens * q_heads * model.head_dim * _F32 * 2
    else:
        attention = tokens * q_heads * n_ctx * _F32
    if model.is_moe:
        expert = model.moe_intermediate_size or model.intermediate_size
        width = max(model.n_experts_per_token * expert + model.n_shared_experts * expert, model.intermediate_size if model.first_dense_layers else 0)
        feed_forward = tokens * (2 * width + model.n_experts) * _F32
    else:
        feed_forward = tokens * 2 * model.intermediate_size * _F32
    logits = tokens * model.vocab_size * _F32
    activations = tokens * hidden * _F32 * 3
    return ComputeShape(attention, feed_forward, logits, activations)


def llamacpp_compute_bytes(shape: ComputeShape, holds_output: bool, holds_layers: bool) -> int:
    """Compute buffer of one device: the largest step it runs, plus the residual stream."""
    peak = 0
    if holds_layers:
        peak = max(shape.attention, shape.feed_forward)
    if holds_output:
        peak = max(peak, shape.logits)
    if not holds_layers and not holds_output:
        return 0
    return peak + shape.activations


def host_compute_bytes(model: ModelSpec, context: int, ubatch: int) -> int:
    """Pinned host buffer for the input embeddings and outputs of a fully offloaded model."""
    tokens = min(padded_context(context), ubatch)
    return tokens * model.hidden_size * _F32 * 2 + 4 * MIB
