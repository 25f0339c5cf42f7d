"""Bytes a model needs: weights tensor by tensor, KV cache layer by layer, compute buffers.

Weights follow the tensors a GGUF conversion of the model holds (names as llama.cpp's
``llm_tensor`` uses them). For GGUF file types each tensor gets the GGML type that
llama.cpp's quantizer picks, from the rules in ``data/quants.toml``; file size is the sum
of the tensors, never one bits-per-weight figure times the parameter count.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from rigtui.core.specs import GgmlType, ModelSpec, QuantRule, QuantSpec

if TYPE_CHECKING:
    from rigtui.core.rig import Workload

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


WeightsSource = Literal["gguf-header", "estimate"]


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
    source: WeightsSource = "estimate"
    """'gguf-header' when every size was read from a GGUF file's tensor infos, else 'estimate'."""
    model_id: str | None = None
    """Model a header-read set belongs to; ``workload_weights`` uses it for that model only."""
    quant_id: str | None = None
    """Quantization a header-read set belongs to; another quantization gets an estimate."""

    @functools.cached_property
    def layer_totals(self) -> tuple[int, ...]:
        """Bytes of each repeating layer, experts included."""
        return tuple(layer.total_bytes for layer in self.layers)

    @functools.cached_property
    def layer_experts(self) -> tuple[int, ...]:
        """Bytes of each repeating layer's routed experts."""
        return tuple(layer.expert_bytes for layer in self.layers)

    @property
    def layer_bytes(self) -> int:
        return sum(self.layer_totals)

    @property
    def file_bytes(self) -> int:
        """Bytes of weight data in the file; a tied head shares token_embd's bytes."""
        head = self.output_bytes - self.token_embd_bytes if self.tied_embeddings else self.output_bytes
        return self.layer_bytes + self.token_embd_bytes + head

    @property
    def max_layer_bytes(self) -> int:
        return max(self.layer_totals, default=0)


def model_tensors(model: ModelSpec) -> list[Tensor]:
    """List the weight tensors of a model's text decoder, as a GGUF conversion holds them."""
    embd, *head = _global_tensors(model)
    tensors = [embd]
    for il in range(model.n_layers):
        tensors.extend(_layer_tensors(model, il))
    return tensors + head


def _global_tensors(model: ModelSpec) -> list[Tensor]:
    """The tensors outside the repeating layers: token_embd first, then the output norm and head."""
    hidden = model.hidden_size
    tensors = [Tensor("token_embd", None, model.vocab_size * hidden, hidden), Tensor("output_norm", None, hidden, hidden)]
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
    # Placement requests the same objects thousands of times per fit, and serialising them
    # for the content-keyed cache below each time took about 7 % of a fit, so identity is tried first.
    # Each entry keeps its objects alive, so no other object can take their ids meanwhile.
    recent = _RECENT_WEIGHTS.get((id(model), id(quant), id(ggml_types), bpw))
    if recent is not None and recent[0] is model and recent[1] is quant and recent[2] == ggml_types:
        return recent[3]
    key = (model.model_dump_json(), quant.model_dump_json(), _ggml_key(ggml_types), bpw)
    cached = _WEIGHTS_CACHE.get(key)
    if cached is None:
        if len(_WEIGHTS_CACHE) > WEIGHTS_CACHE_LIMIT:
            _WEIGHTS_CACHE.clear()
        cached = _WEIGHTS_CACHE[key] = _size_weights(model, quant, ggml_types, bpw)
    if len(_RECENT_WEIGHTS) > WEIGHTS_CACHE_LIMIT:
        _RECENT_WEIGHTS.clear()
    # A copy of the type table, so that a caller who edits its dict in place misses the entry.
    _RECENT_WEIGHTS[(id(model), id(quant), id(ggml_types), bpw)] = (model, quant, dict(ggml_types), cached)
    return cached


def workload_weights(workload: "Workload") -> ModelWeights:
    """Return the weights a workload places: the sizes read from its GGUF file, else an estimate.

    Sizes read from a file hold for that file's model and quantization only. A workload that
    swaps either (the fit matrix tries every quantization) falls back to ``model_weights``.
    """
    given = workload.weights
    if (
        given is not None
        and given.model_id == workload.model.id
        and given.quant_id == workload.quant.id
        and len(given.layers) == workload.model.n_layers
    ):
        return given
    return model_weights(workload.model, workload.quant, workload.ggml_types, workload.bpw)


# Catalog entries are frozen but hold lists, so they cannot key an lru_cache; their JSON does.
# The limit holds every model at every quantization of the bundled catalog (about 100 x 30),
# so that a fit matrix over it never evicts the weights it is about to reuse.
WEIGHTS_CACHE_LIMIT = 4096
_WEIGHTS_CACHE: dict[tuple[str, str, tuple, float | None], ModelWeights] = {}
_RECENT_WEIGHTS: dict[tuple[int, int, int, float | None], tuple[ModelSpec, QuantSpec, dict[str, GgmlType], ModelWeights]] = {}


def _ggml_key(table: dict[str, GgmlType]) -> tuple:
    return tuple(sorted((k, v.bits_per_weight, v.block_size, v.fallback) for k, v in table.items()))


@lru_cache(maxsize=1024)
def _selected_layers(selectors: tuple[str, ...], n_layers: int) -> tuple[tuple[bool, ...], ...]:
    """For each layer, whether each named layer selector of the quantization rules holds for it."""
    return tuple(tuple(_LAYER_SELECTORS[name](il, n_layers) for name in selectors) for il in range(n_layers))


def _size_weights(model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType], bpw: float | None) -> ModelWeights:
    dense = [0] * model.n_layers
    experts = [0] * model.n_layers
    head = 0
    by_type: dict[str, int] = {}

    def add(tensor: Tensor) -> int:
        size, type_id = tensor_bytes_and_type(tensor, model, quant, ggml_types, bpw)
        by_type[type_id] = by_type.get(type_id, 0) + size
        return size

    globals_ = _global_tensors(model)
    embd = add(globals_[0])
    # A layer's tensors and their types depend on the layer only through the layer selectors
    # of the quantization rules and whether it is an MoE layer, and most layers share both,
    # so each kind of layer is sized once.
    used = tuple(sorted({rule.layers for rule in quant.rules})) if quant.format == "gguf" else ()
    selected = _selected_layers(used, model.n_layers)
    kinds: dict[tuple, tuple[int, int, list[tuple[str, int]]]] = {}
    for il in range(model.n_layers):
        kind = (selected[il], model.is_moe and il >= model.first_dense_layers)
        sized = kinds.get(kind)
        if sized is None:
            types: list[tuple[str, int]] = []
            for tensor in _layer_tensors(model, il):
                size, type_id = tensor_bytes_and_type(tensor, model, quant, ggml_types, bpw)
                types.append((type_id, size))
                if tensor.is_expert:
                    experts[il] += size
                else:
                    dense[il] += size
            sized = kinds[kind] = (dense[il], experts[il], types)
        dense[il], experts[il] = sized[0], sized[1]
        for type_id, size in sized[2]:
            by_type[type_id] = by_type.get(type_id, 0) + size
    for tensor in globals_[1:]:
        head += add(tensor)
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


def layer_kv_bytes(
    model: ModelSpec,
    context: int,
    kv_type: str,
    ggml_types: dict[str, GgmlType],
    ubatch: int = 512,
    parallel: int = 1,
    padded: bool = True,
) -> tuple[int, ...]:
    """Bytes of K and V cache of every repeating layer, each as ``kv_layer_bytes`` gives it."""
    element = kv_element_bytes(kv_type, ggml_types)
    key = (id(model), context, element, ubatch, parallel, padded)
    cached = _LAYER_KV_CACHE.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    k_width, v_width = kv_row_elements(model)
    sizes = tuple(
        int(kv_cells(model, il, context, ubatch, parallel, padded) * (k_width + v_width) * element) for il in range(model.n_layers)
    )
    if len(_LAYER_KV_CACHE) > CONTEXT_CACHE_LIMIT:
        _LAYER_KV_CACHE.clear()
    # The entry keeps the model alive, so no other object can take its id while it is stored.
    _LAYER_KV_CACHE[key] = (model, sizes)
    return sizes


# Keyed on the model's identity: catalog models are frozen but hold lists, so are unhashable.
# The limit holds every model of the bundled catalog at each context column of the fit matrix.
CONTEXT_CACHE_LIMIT = 4096
_LAYER_KV_CACHE: dict[tuple[int, int, float, int, int, bool], tuple[ModelSpec, tuple[int, ...]]] = {}


def kv_bytes_per_token(model: ModelSpec, kv_type: str, ggml_types: dict[str, GgmlType]) -> float:
    """Bytes one token adds to the cache across all layers, counting every layer as full attention."""
    k_width, v_width = kv_row_elements(model)
    return model.n_layers * (k_width + v_width) * kv_element_bytes(kv_type, ggml_types)


# --- compute buffers (llama.cpp) --------------------------------------------------------
#
# llama.cpp reserves each backend's compute buffer once, for a worst-case graph: one micro-batch
# of min(n_ctx, n_ubatch) tokens, every one of them an output, against a full KV cache
# (llama-context.cpp). ggml's graph allocator frees a tensor once its last consumer has run and
# reuses the space, so a buffer is the peak of the tensors alive at one time, not the sum over
# layers. The estimates below add up what is alive at each step of a layer and of the output
# head, plus the graph inputs, which stay alive for the whole graph.
# NOTE: the allocator can leave holes that the largest tensor of a step does not fit into, so
# real buffers can exceed this sum by about one hidden state or two; graph details also differ
# between llama.cpp versions and architectures.

_F32 = 4
# Per-token graph inputs other than the masks: positions (int32), K and V cache store indices
# (int64 each) and output row ids (int32).
_INDEX_INPUT_BYTES_PER_TOKEN = 4 + 8 + 8 + 4
# GGML_SCHED_MAX_COPIES (ggml-backend.cpp): with pipeline parallelism the scheduler keeps this many
# copies of every graph input and of every tensor that crosses a device boundary.
PIPELINE_COPIES = 4
# config.json model types whose layers feed attention and the feed-forward from one normalized
# input (parallel residual), which keeps that input alive through the attention block.
_PARALLEL_RESIDUAL = frozenset({"cohere", "cohere2", "gptj", "gpt_neox", "phi", "phi-msft"})


@dataclass(frozen=True)
class ComputeShape:
    """Bytes of the tensors that set llama.cpp's compute buffers for one worst-case micro-batch."""

    activations: int
    """One hidden state (n_embd x tokens, F32): the residual stream and each device's input."""
    attention: int
    """Peak of the attention block's live tensors, not counting the residual stream."""
    feed_forward: int
    """Peak of the feed-forward block's live tensors, not counting the residual stream."""
    logits: int
    """Output head: the final norm plus n_vocab x tokens F32 logits."""
    mask: int
    """F32 attention masks the host fills (n_kv x tokens each, plus one for sliding-window layers)."""
    device_mask: int
    """Masks as attention reads them: the F16 cast with flash attention, else the F32 masks."""
    index_inputs: int
    flash_attn: bool


def llamacpp_compute_shape(model: ModelSpec, context: int, ubatch: int, flash_attn: bool, parallel: int = 1) -> ComputeShape:
    """Estimate the tensor sizes of llama.cpp's worst-case micro-batch graph, in bytes.

    Without flash attention the F32 scores (n_kv x tokens x heads) dominate at long context;
    with it the feed-forward temporaries or the output logits do.
    """
    key = (id(model), context, ubatch, flash_attn, parallel)
    cached = _COMPUTE_SHAPE_CACHE.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    shape = _compute_shape(model, context, ubatch, flash_attn, parallel)
    if len(_COMPUTE_SHAPE_CACHE) > CONTEXT_CACHE_LIMIT:
        _COMPUTE_SHAPE_CACHE.clear()
    # The entry keeps the model alive, so no other object can take its id while it is stored.
    _COMPUTE_SHAPE_CACHE[key] = (model, shape)
    return shape


_COMPUTE_SHAPE_CACHE: dict[tuple[int, int, int, bool, int], tuple[ModelSpec, ComputeShape]] = {}


def _compute_shape(model: ModelSpec, context: int, ubatch: int, flash_attn: bool, parallel: int) -> ComputeShape:
    n_ctx = padded_context(context)
    tokens = min(n_ctx, ubatch)
    activations = tokens * model.hidden_size * _F32

    # The reserve graph uses the whole cache: n_ctx cells for full-attention layers and the
    # window for sliding-window layers, each with its own mask.
    # Layer 0 is a window layer whenever the model has any; with a pattern, every pattern-th
    # layer attends to the full context (see is_swa_layer).
    has_window = is_swa_layer(model, 0)
    pattern = model.sliding_window_pattern
    has_full = not has_window or bool(pattern and model.n_layers >= pattern)
    mask_cells = n_ctx if has_full else 0
    widest_kv = n_ctx
    if has_window:
        window_cells = kv_cells(model, 0, context, ubatch, parallel)
        mask_cells += window_cells
        widest_kv = n_ctx if has_full else window_cells
    mask = mask_cells * tokens * _F32
    device_mask = mask // 2 if flash_attn else mask

    attention = _attention_peak(model, tokens, widest_kv, flash_attn)
    feed_forward = _feed_forward_peak(model, tokens)
    if model.architecture in _PARALLEL_RESIDUAL:
        # The normalized input feeds both blocks, and the attention output waits for the
        # feed-forward output before the two are added.
        attention += activations
        feed_forward += activations
    logits = activations + tokens * model.vocab_size * _F32
    index_inputs = tokens * _INDEX_INPUT_BYTES_PER_TOKEN
    return ComputeShape(activations, attention, feed_forward, logits, mask, device_mask, index_inputs, flash_attn)


def _attention_peak(model: ModelSpec, tokens: int, n_kv: int, flash_attn: bool) -> int:
    """Peak bytes alive in one attention block: projections, then scores or the fused kernel."""
    if model.kv_lora_rank:
        q_width = model.n_heads * ((model.qk_nope_head_dim or 0) + (model.qk_rope_head_dim or 64))
        out_width = model.n_heads * (model.v_head_dim or model.head_dim)
    else:
        q_width = model.n_heads * model.head_dim
        out_width = q_width
    k_width, v_width = kv_row_elements(model)
    normed = tokens * model.hidden_size * _F32
    query = tokens * q_width * _F32
    output = tokens * out_width * _F32
    # Q, K and V are alive together with the normalized input until K and V go into the cache.
    projections = normed + query + tokens * (k_width + v_width) * _F32
    if flash_attn:
        return max(projections, query + output)
    # Softmax runs in place on the scores, and the query is freed once the scores exist.
    scores = n_kv * tokens * model.n_heads * _F32
    return max(projections, query + scores, scores + output)


def _feed_forward_peak(model: ModelSpec, tokens: int) -> int:
    """Peak bytes alive in one feed-forward block (the largest of dense and expert layers)."""
    normed = tokens * model.hidden_size * _F32
    # Gate and up projections are alive together; the activation and product run in place.
    dense = normed + 2 * tokens * model.intermediate_size * _F32
    if not model.is_moe:
        return dense
    expert_width = model.moe_intermediate_size or model.intermediate_size
    used = model.n_experts_per_token
    router = 2 * tokens * model.n_experts * _F32
    gate_up = 2 * tokens * used * expert_width * _F32
    down = tokens * used * (expert_width + model.hidden_size) * _F32
    routed = normed + router + max(gate_up, down)
    # Shared experts run after the routed ones, on the same normalized input.
    shared = normed + tokens * model.hidden_size * _F32 + 2 * tokens * model.n_shared_experts * expert_width * _F32
    peak = max(routed, shared)
    if model.first_dense_layers:
        peak = max(peak, dense)
    return peak


def pipeline_copies(n_gpus: int, full_offload: bool, split_mode: str = "layer", tensor_overrides: bool = False) -> int:
    """Input copies llama.cpp's scheduler keeps: 4 with pipeline parallelism, else 1.

    llama-context.cpp turns pipeline parallelism on when more than one device holds layers,
    every layer and the output are offloaded, the split mode is layer, and no tensor overrides
    (such as --n-cpu-moe) are set.
    """
    if n_gpus > 1 and full_offload and split_mode == "layer" and not tensor_overrides:
        return PIPELINE_COPIES
    return 1


def llamacpp_compute_bytes(shape: ComputeShape, holds_output: bool, holds_layers: bool, first_device: bool = True, n_copies: int = 1) -> int:
    """Estimate one GPU's compute buffer: its graph inputs plus the peak of one layer or the head.

    The host fills the F32 masks. With flash attention the first GPU casts them to F16 and
    later GPUs receive that cast, so only the first keeps the F32 copies. With more than one
    copy the scheduler allocates input copies up front and keeps them, so the incoming hidden
    state counts once per copy on top of the residual stream. With one copy it is the first
    layer's residual.
    """
    if not holds_layers and not holds_output:
        return 0
    copies = max(n_copies, 1)
    inputs = shape.index_inputs * copies
    if holds_layers:
        if shape.flash_attn and first_device:
            inputs += shape.mask * copies + shape.device_mask
        else:
            inputs += shape.device_mask * copies
    if copies > 1:
        inputs += shape.activations * copies
    steps = []
    if holds_layers:
        steps += [shape.activations + shape.attention, shape.activations + shape.feed_forward]
    if holds_output:
        steps.append(shape.logits)
    return inputs + max(steps)


def host_compute_bytes(
    model: ModelSpec,
    context: int,
    ubatch: int,
    flash_attn: bool = True,
    n_copies: int = 1,
    cpu_layers: bool = False,
    cpu_output: bool = False,
) -> int:
    """Estimate the CPU backend's compute buffer (pinned, logged as CUDA_Host with CUDA GPUs).

    The host keeps every graph input (token ids, positions, F32 masks) once per scheduler copy.
    It also looks up the token embeddings, and layers or an output head left on the CPU add
    their own peaks.
    """
    shape = llamacpp_compute_shape(model, context, ubatch, flash_attn)
    copies = max(n_copies, 1)
    tokens = shape.index_inputs // _INDEX_INPUT_BYTES_PER_TOKEN
    inputs = (shape.mask + shape.index_inputs + tokens * 4) * copies
    steps = [shape.activations]
    if cpu_layers:
        masks = shape.device_mask if flash_attn else 0
        steps += [masks + shape.activations + shape.attention, masks + shape.activations + shape.feed_forward]
    if cpu_output:
        steps.append(shape.logits)
    return inputs + max(steps)
