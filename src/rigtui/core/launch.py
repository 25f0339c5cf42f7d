"""The command line that starts a runtime with a placement, from the runtime's launch template."""

from __future__ import annotations

import string

from rigtui.core.rig import Workload
from rigtui.core.specs import ModelSpec

# Placeholders a runtime's launch_template may use (documented in data/runtimes.toml).
PLACEHOLDERS = (
    "model_path", "model_repo", "ngl", "tensor_split", "split_mode", "context", "kv_type", "flash_attn",
    "ubatch", "batch", "tp", "pp", "gpu_util", "max_model_len", "devices", "n_cpu_moe", "quant", "main_gpu",
)


def render_launch(template: str, values: dict[str, str]) -> str:
    """Fill a launch template, dropping each option whose value is empty together with its flag.

    An empty value means "leave the runtime's default": ``--tensor-split {tensor_split}`` with no
    split disappears entirely instead of leaving a dangling flag.
    """
    formatter = string.Formatter()
    for _, field_name, _, _ in formatter.parse(template):
        if field_name is not None and field_name not in PLACEHOLDERS:
            raise ValueError(f"launch template uses unknown placeholder {{{field_name}}}; allowed: {', '.join(PLACEHOLDERS)}")
    out: list[str] = []
    for token in template.split():
        fields = [f for _, f, _, _ in formatter.parse(token) if f]
        if fields and all(values.get(f, "") == "" for f in fields):
            if "=" in token and not token.startswith("-"):
                continue  # an environment assignment such as CUDA_VISIBLE_DEVICES={devices}
            if out and out[-1].startswith("-"):
                out.pop()
            continue
        out.append(token.format(**{f: values.get(f, "") for f in fields}) if fields else token)
    return " ".join(out)


def launch_values(
    workload: Workload,
    *,
    split: str,
    gpu_indexes: tuple[int, ...],
    n_gpus: int,
    tensor_split: tuple[float, ...] | None,
    n_gpu_layers: int | None,
    n_cpu_moe: int,
    max_model_len: int | None,
    gpu_util: float | None,
) -> dict[str, str]:
    """Values for every placeholder, empty where the runtime's default is right."""
    model = workload.model
    repo = model_repo(model)
    quant = workload.quant.id
    file_stem = repo.rsplit("/", 1)[-1]
    model_path = f"{file_stem}-{quant}.gguf" if workload.quant.format == "gguf" else file_stem
    # A model read from a GGUF file is launched from that file; the name above is only a guess.
    model_path = workload.extra.get("model_path") or model_path
    served = repo
    if workload.quant.format == "gguf" and workload.runtime.engine == "vllm":
        # vLLM serves a local GGUF file and takes the tokenizer from the original repo.
        served = f"{model_path} --tokenizer {repo}"
    devices = ",".join(str(i) for i in gpu_indexes) if len(gpu_indexes) < n_gpus else ""
    split_mode = {"layer": "layer", "row": "row", "tensor": "tensor", "single": "none"}.get(split, "")
    # One card of several needs --split-mode none and --main-gpu, because llama.cpp's default
    # layer split spreads the model over every visible card.
    pinned = len(gpu_indexes) == 1 and n_gpus > 1
    if pinned and split in ("layer", "single"):
        split_mode = "none"
    tp = str(len(gpu_indexes)) if split in ("tensor-parallel", "single") else "1"
    pp = str(len(gpu_indexes)) if split == "pipeline-parallel" else "1"
    return {
        "model_path": model_path,
        "model_repo": served,
        "ngl": str(n_gpu_layers) if n_gpu_layers is not None else "",
        "tensor_split": ",".join(_number(v) for v in tensor_split) if tensor_split and len(tensor_split) > 1 else "",
        "split_mode": split_mode if len(gpu_indexes) > 1 or split == "single" or pinned else "",
        "main_gpu": str(gpu_indexes[0]) if pinned else "",
        "context": str(workload.context),
        "kv_type": workload.kv_cache,
        "flash_attn": "on" if workload.flash_attn else "off",
        "ubatch": str(workload.ubatch),
        "batch": str(workload.batch),
        "tp": tp,
        "pp": pp,
        "gpu_util": f"{gpu_util:.2f}" if gpu_util else "",
        "max_model_len": str(max_model_len) if max_model_len else str(workload.context),
        "devices": devices,
        "n_cpu_moe": str(n_cpu_moe) if n_cpu_moe else "",
        "quant": quant,
    }


def model_repo(model: ModelSpec) -> str:
    """Return the Hugging Face repo id of a model's original weights."""
    return next((a for a in model.aliases if "/" in a), model.source)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
