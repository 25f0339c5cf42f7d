"""Catalog entry types: the plain, validated data that every core function reads.

The catalog layer loads these from TOML; the core only reads them. Field names carry
their unit (``_mib``, ``_gbs``, ``_tflops``, ``_w``) wherever the unit is not obvious.
Optional figures are ``None`` when no source gave them, and the code handles their absence.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Vendor = Literal["nvidia", "amd", "intel", "apple"]
Slug = str  # lower-case id such as "rtx-4090"; core.catalog.normalize_name maps user input to it


class Spec(BaseModel):
    """Base of every catalog entry: frozen, and unknown keys are errors (typos fail loudly)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuSpec(Spec):
    """One GPU model, as sold (for example the GeForce RTX 3090)."""

    id: Slug
    name: str = Field(description="Marketing name, such as 'GeForce RTX 4090'.")
    vendor: Vendor
    segment: Literal["consumer", "workstation", "datacenter"]
    aliases: list[str] = []
    architecture: str = Field(description="Architecture name, such as 'Ada Lovelace' or 'RDNA 3'.")
    compute_capability: str | None = Field(
        default=None, description="CUDA compute capability such as '8.9' (NVIDIA only)."
    )
    gfx_target: str | None = Field(default=None, description="AMD LLVM target such as 'gfx1100'.")
    memory_mib: int = Field(gt=0, le=1 << 21, description="Memory as marketed, in MiB.")
    usable_memory_mib: int | None = Field(
        default=None, gt=0, description="Total memory the driver reports (nvidia-smi memory.total), MiB."
    )
    memory_type: str | None = None
    memory_bus_bits: int | None = Field(default=None, gt=0)
    bandwidth_gbs: float = Field(gt=0, le=20000, description="Peak memory bandwidth, GB/s (10^9 B/s).")
    fp16_tflops: float | None = Field(
        default=None,
        gt=0,
        description="Dense FP16 tensor throughput with FP32 accumulate, TFLOPS, no sparsity. "
        "For cards without tensor or matrix units, the plain FP16 vector rate.",
    )
    bf16_tflops: float | None = Field(default=None, gt=0)
    fp8_tflops: float | None = Field(default=None, gt=0, description="Dense FP8, no sparsity.")
    int8_tops: float | None = Field(default=None, gt=0, description="Dense INT8, no sparsity.")
    fp32_tflops: float | None = Field(default=None, gt=0, description="FP32 vector (non-tensor) rate.")
    sm_count: int | None = Field(default=None, gt=0, description="SMs (NVIDIA), CUs (AMD) or Xe cores (Intel).")
    nvlink: bool = False
    nvlink_bandwidth_gbs: float | None = Field(
        default=None, gt=0, description="Total NVLink bandwidth per GPU, both directions, GB/s."
    )
    pcie_gen: int = Field(ge=1, le=6)
    pcie_lanes: int = Field(ge=1, le=16)
    form_factor: Literal["pcie", "sxm", "oam", "mxm"] = "pcie"
    tdp_w: int = Field(gt=0, le=1500, description="Board power (TBP/TGP), W.")
    transient_peak_w: int | None = Field(
        default=None, gt=0, le=3000, description="Measured short power excursion (about 1-20 ms), W."
    )
    transient_source: str | None = None
    slot_width: float | None = Field(default=None, gt=0, le=5)
    release_date: dt.date | None = None
    launch_price_usd: float | None = Field(default=None, gt=0)
    pci_device_ids: list[str] = Field(
        default=[], description="PCI device ids as '0x2684' (lower-case hex), for matching detected cards."
    )
    source: str
    notes: str | None = None

    @property
    def memory_bytes(self) -> int:
        """Memory as the driver reports it where known, else as marketed, in bytes."""
        return (self.usable_memory_mib or self.memory_mib) * 1024 * 1024

    @property
    def cc_tuple(self) -> tuple[int, int] | None:
        """Compute capability as (major, minor), or None when unknown or not NVIDIA."""
        if not self.compute_capability:
            return None
        major, _, minor = self.compute_capability.partition(".")
        return int(major), int(minor or 0)


class ModelSpec(Spec):
    """One model architecture; the base and instruct releases share an entry.

    Values come from the model's ``config.json``. MoE fields are zero for dense models.
    """

    id: Slug
    name: str
    family: str = Field(description="Family for filtering, such as 'llama3.1' or 'qwen3'.")
    aliases: list[str] = Field(default=[], description="Hugging Face repo ids and short names.")
    architecture: str = Field(description="config.json model_type, such as 'llama' or 'qwen3_moe'.")
    n_layers: int = Field(gt=0, le=1000)
    hidden_size: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    n_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0, description="Dense feed-forward size.")
    n_experts: int = Field(default=0, ge=0)
    n_experts_per_token: int = Field(default=0, ge=0)
    n_shared_experts: int = Field(default=0, ge=0)
    moe_intermediate_size: int | None = Field(default=None, gt=0)
    first_dense_layers: int = Field(
        default=0, ge=0, description="Leading layers with a dense feed-forward in an MoE model."
    )
    sliding_window: int | None = Field(default=None, gt=0)
    sliding_window_pattern: int | None = Field(
        default=None,
        gt=0,
        description="One layer in N uses full attention, the rest the window "
        "(Gemma 3: 6, Gemma 2 and gpt-oss: 2). None with a window set: every layer uses it.",
    )
    kv_lora_rank: int | None = Field(default=None, gt=0, description="MLA latent rank (DeepSeek V2/V3).")
    q_lora_rank: int | None = Field(default=None, gt=0)
    qk_rope_head_dim: int | None = Field(default=None, gt=0)
    qk_nope_head_dim: int | None = Field(default=None, gt=0)
    v_head_dim: int | None = Field(default=None, gt=0)
    tie_word_embeddings: bool = False
    params_total: int = Field(gt=0, description="Total parameter count.")
    params_active: int | None = Field(default=None, gt=0, description="Parameters used per token (MoE).")
    max_context: int = Field(gt=0)
    vision_params: int | None = Field(default=None, gt=0, description="Vision encoder/projector size.")
    native_quant: str | None = Field(
        default=None, description="Quantization the weights are released in when not BF16, e.g. 'MXFP4'."
    )
    release_date: dt.date | None = None
    source: str = Field(description="Hugging Face repo whose config.json gave the values.")

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def active_params(self) -> int:
        return self.params_active or self.params_total

    @model_validator(mode="after")
    def _check_moe(self) -> "ModelSpec":
        if self.n_experts and not (0 < self.n_experts_per_token <= self.n_experts):
            raise ValueError("n_experts_per_token must be between 1 and n_experts for an MoE model")
        if self.params_active and self.params_active > self.params_total:
            raise ValueError("params_active cannot exceed params_total")
        if self.n_heads % self.n_kv_heads:
            raise ValueError("n_heads must be a multiple of n_kv_heads")
        return self


class GgmlType(Spec):
    """A GGML tensor storage type (Q4_K, Q6_K, F16, ...)."""

    id: str
    bits_per_weight: float = Field(gt=0, le=32)
    block_size: int = Field(gt=0)
    fallback: str | None = Field(
        default=None,
        description="Type llama-quant uses instead when a tensor's row length is not a multiple of block_size.",
    )
    source: str


class QuantRule(Spec):
    """A rule mapping a class of tensors to the GGML type a GGUF file type stores them in."""

    tensor: str = Field(
        description="Tensor class: token_embd, output, attn_q, attn_k, attn_v, attn_output, "
        "ffn_up, ffn_gate, ffn_down, ffn_up_exps, ffn_gate_exps, ffn_down_exps, norm, or 'default'."
    )
    type: str
    layer_fraction: float = Field(
        default=1.0, gt=0, le=1, description="Share of layers that get this type (rest: 'default')."
    )
    layers: Literal["all", "more_bits", "first_eighth", "first_sixteenth", "first_2", "first_4"] = Field(
        default="all",
        description="Which layers the rule covers, as llama-quant.cpp picks them: 'more_bits' is its "
        "use_more_bits (first and last eighth, and every third layer between), 'first_eighth' is "
        "i < n/8, 'first_2' is the first two layers. Rules apply in order; the first match wins.",
    )
    when: str | None = Field(
        default=None,
        description="Condition on the model, such as 'n_gqa >= 4', 'n_expert == 8' or 'n_layer == 80'; "
        "clauses joined by ' and '.",
    )


class QuantSpec(Spec):
    """A weight quantization as users name it (Q4_K_M, EXL2 4.65 bpw, AWQ 4-bit, FP8)."""

    id: str
    name: str
    format: Literal["gguf", "exl2", "exl3", "awq", "gptq", "fp8", "nvfp4", "mxfp4", "float"]
    bits_per_weight: float = Field(gt=0, le=32, description="Typical whole-model bpw, for display and sorting.")
    default_type: str | None = Field(default=None, description="GGML type for tensors no rule names.")
    rules: list[QuantRule] = []
    group_size: int | None = Field(default=None, gt=0, description="AWQ/GPTQ quantization group size.")
    variable_bpw: bool = Field(default=False, description="EXL2/EXL3: the user picks any bpw.")
    output_bits_per_weight: float | None = Field(
        default=None, gt=0, le=32, description="Bits per weight of the output head when it differs (EXL2/EXL3 head bits)."
    )
    source: str


class RuntimeSpec(Spec):
    """An inference runtime (llama.cpp, vLLM, ...)."""

    id: Slug
    name: str
    aliases: list[str] = []
    engine: str = Field(description="Underlying engine for placement rules: llama.cpp, ollama, exllama, vllm, ...")
    os: list[str] = Field(description="Operating system ids it runs on.")
    vendors: list[Vendor]
    min_compute_capability: str | None = None
    quant_formats: list[str]
    split_strategies: list[
        Literal["single", "layer", "row", "tensor", "tensor-parallel", "pipeline-parallel", "cpu-offload", "expert-offload"]
    ]
    identical_cards_for: list[str] = Field(
        default=[], description="Strategies that need cards with equal memory (even sharding)."
    )
    kv_cache_types: list[str]
    per_gpu_overhead_mib: int = Field(ge=0, description="CUDA/ROCm context and runtime reserve per GPU.")
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1, description="Default memory fraction.")
    launch_template: str
    notes: str | None = None
    source: str


class OsSpec(Spec):
    """An operating system as a rig runs it."""

    id: Slug
    name: str
    aliases: list[str] = []
    reserve_per_gpu_mib: int = Field(ge=0, description="Memory the OS or driver keeps on every GPU.")
    desktop_reserve_mib: int = Field(ge=0, description="Extra memory a desktop session takes on its GPU.")
    wddm: bool = False
    runtimes: list[str] = Field(description="Runtime ids that run natively here.")
    notes: str | None = None
    source: str


class PriceSpec(Spec):
    """A price range observed for a GPU in one condition and currency."""

    gpu: Slug
    condition: Literal["new", "used"]
    low: float = Field(gt=0)
    high: float = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    as_of: dt.date
    source: str

    @model_validator(mode="after")
    def _check_range(self) -> "PriceSpec":
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2
