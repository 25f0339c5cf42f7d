"""Turn command-line options into the core's Rig and Workload; shared by fit, upgrade and shop.

Every parser raises ``UsageError`` with a one-line message that names the bad value and the
fix; commands print it to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace

from rigtui.core.catalog import Catalog, NameNotFound
from rigtui.core.rig import GIB, Rig, RigGpu, Workload, pcie_bandwidth_gbs
from rigtui.core.specs import GpuSpec, ModelSpec

EXIT_USAGE = 2
# The example rig's assumption for two or more cards: a consumer board splits the CPU's x16
# lanes into x8/x8.
MULTI_GPU_PCIE = (4, 8)
DEFAULT_QUANT = "Q4_K_M"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": GIB, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class UsageError(ValueError):
    """Invalid command-line input; the message is one line with the value and the fix."""


def parse_size(text: str, option: str) -> int:
    """Parse '64G', '24GiB', '512M' or a bare number of GiB into bytes (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"{option}: invalid size {text!r}; use a number with K, M, G or T, such as 64G")
    number, unit, _ = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


def parse_pcie(text: str) -> tuple[int, int]:
    """Parse '4:8' (generation 4, 8 lanes) as given to --pcie."""
    gen, sep, lanes = text.partition(":")
    try:
        pair = (int(gen), int(lanes))
    except ValueError:
        raise UsageError(f"--pcie: invalid value {text!r}; use GEN:LANES such as 4:8") from None
    if not sep or pair[0] not in (1, 2, 3, 4, 5, 6) or pair[1] not in (1, 2, 4, 8, 16):
        raise UsageError(f"--pcie: invalid value {text!r}; generation 1-6 and lanes 1, 2, 4, 8 or 16, such as 4:8")
    return pair


def parse_used(text: str, n_gpus: int) -> tuple[int, int]:
    """Parse '0=2G' (memory already taken on GPU 0) as given to --used."""
    index, sep, size = text.partition("=")
    if not sep or not index.strip().isdigit():
        raise UsageError(f"--used: invalid value {text!r}; use INDEX=SIZE such as 0=2G")
    gpu = int(index)
    if gpu >= n_gpus:
        raise UsageError(f"--used: GPU index {gpu} is out of range; this rig has GPUs 0 to {n_gpus - 1}")
    return gpu, parse_size(size, "--used")


def parse_nvlink(text: str, n_gpus: int) -> tuple[int, int]:
    a, sep, b = text.partition("-")
    if not sep or not a.isdigit() or not b.isdigit() or a == b:
        raise UsageError(f"--nvlink: invalid value {text!r}; use two GPU indexes such as 0-1")
    pair = (min(int(a), int(b)), max(int(a), int(b)))
    if pair[1] >= n_gpus:
        raise UsageError(f"--nvlink: GPU index {pair[1]} is out of range; this rig has GPUs 0 to {n_gpus - 1}")
    return pair


def lookup(kind: str, finder, text: str):
    """Resolve a catalog name, turning NameNotFound into a UsageError with the closest names."""
    try:
        return finder(text)
    except NameNotFound as exc:
        hint = f"; did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else f"; run `rigtui catalog {kind}` for the list"
        raise UsageError(f"unknown {exc.kind} {text!r}{hint}") from None


def resolve_model_argument(catalog: Catalog, text: str) -> tuple[ModelSpec, str | None]:
    """Resolve --model to a model and, for a GGUF file, the file's own quantization.

    Raises:
        UsageError: unknown name, or a GGUF file that is missing or malformed.
        SourceError: a download failed (not the user's input).
    """
    resolved = _resolve_model(catalog, text)
    if resolved.file_type and resolved.file_type not in catalog.quants:
        return resolved.spec, None
    return resolved.spec, resolved.file_type


def _resolve_model(catalog: Catalog, text: str, quant: str | None = None):
    from rigtui.commands.progress import StderrProgress
    from rigtui.sources.gguf import GgufError
    from rigtui.sources.models import resolve_model

    progress = StderrProgress()
    try:
        return resolve_model(text, catalog, quant=quant, progress=progress)
    except NameNotFound as exc:
        hint = f"; did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else "; run `rigtui catalog models` for the list"
        raise UsageError(f"--model: unknown model {text!r}{hint}") from None
    except GgufError as exc:
        raise UsageError(f"--model: {exc}") from None
    finally:
        progress.clear()


def gguf_model_path(text: str) -> str:
    """Return the path a launch command should load for a --model GGUF file.

    A local file keeps the path as given. A remote file is named by its file name, the
    name it gets when downloaded into the current folder. llama.cpp loads a split model from
    its first part, so any part's name becomes the first part's.
    """
    from rigtui.sources.gguf import split_part_names

    parts = split_part_names(text)
    if parts:
        text = parts[0]
    if text.lower().startswith(("http://", "https://")):
        return text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return text


def add_rig_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --gpu, --pcie, --nvlink, --os, --cpu-ram and --used to a command's parser."""
    parser.add_argument(
        "--gpu", action="append", default=[], metavar="NAME",
        help="a GPU in the rig, repeatable, in slot order; '2x RTX 3090' adds two, NVML names work too",
    )
    parser.add_argument(
        "--pcie", action="append", default=[], metavar="GEN:LANES",
        help="PCIe link of each GPU in --gpu order, such as 4:8 (default: 4:8 with two or more cards, the card's own with one)",
    )
    parser.add_argument("--nvlink", action="append", default=[], metavar="A-B", help="an NVLink bridge between GPUs A and B, such as 0-1")
    parser.add_argument("--os", default="ubuntu-24.04", metavar="NAME", help="operating system, for its memory reserves (default: ubuntu-24.04)")
    parser.add_argument("--cpu-ram", default="64G", metavar="SIZE", help="system RAM, such as 64G (default: 64G)")
    parser.add_argument("--used", action="append", default=[], metavar="INDEX=SIZE", help="memory already taken on a GPU by other programs, such as 0=2G")


def build_rig(catalog: Catalog, args: argparse.Namespace) -> Rig:
    """Build the rig that --gpu, --pcie, --nvlink, --os, --cpu-ram and --used describe."""
    if not args.gpu:
        raise UsageError("no GPU given; add --gpu NAME (repeatable), such as --gpu 'RTX 4090' --gpu 'RTX 3090'")
    specs: list[GpuSpec] = []
    for text in args.gpu:
        try:
            specs.extend(lookup("gpus", catalog.gpus_from, text))
        except UsageError:
            raise
        except ValueError as exc:
            raise UsageError(f"--gpu: {exc}") from None
    links = [parse_pcie(p) for p in args.pcie]
    if len(links) > len(specs):
        raise UsageError(f"--pcie: {len(links)} links given for {len(specs)} GPUs; give at most one per GPU")
    gpus = []
    for i, spec in enumerate(specs):
        if i < len(links):
            gen, lanes = links[i]
        elif len(specs) > 1:
            gen, lanes = MULTI_GPU_PCIE
        else:
            gen, lanes = spec.pcie_gen, spec.pcie_lanes
        gen, lanes = min(gen, spec.pcie_gen), min(lanes, spec.pcie_lanes)
        gpus.append(RigGpu(spec=spec, pcie_gen=gen, pcie_lanes=lanes))
    for text in args.used:
        index, size = parse_used(text, len(gpus))
        gpus[index] = replace(gpus[index], used_bytes=size)
    os_spec = lookup("os", catalog.os, args.os)
    nvlink = frozenset(parse_nvlink(t, len(gpus)) for t in args.nvlink)
    return Rig(gpus=tuple(gpus), os=os_spec, cpu_ram_bytes=parse_size(args.cpu_ram, "--cpu-ram"), nvlink_pairs=nvlink)


def link_summary(gpu: RigGpu) -> str:
    return f"PCIe {gpu.pcie_gen}.0 x{gpu.pcie_lanes} ({pcie_bandwidth_gbs(gpu.pcie_gen, gpu.pcie_lanes):.0f} GB/s)"


def build_workload(catalog: Catalog, args: argparse.Namespace) -> Workload:
    """Build the workload that --model, --quant, --runtime, --context and the tuning options describe."""
    resolved = _resolve_model(catalog, args.model, quant=args.quant)
    file_type = resolved.file_type if resolved.file_type in catalog.quants else None
    model = resolved.spec
    quant = lookup("quants", catalog.quant, args.quant or file_type or DEFAULT_QUANT)
    extra = {}
    # The file only serves as the launch command's model when it is the quantization asked for.
    if resolved.origin == "gguf" and file_type and quant.id.lower() == file_type.lower():
        extra["model_path"] = resolved.launch_path or gguf_model_path(args.model)
    if resolved.params_source:
        extra["params_source"] = resolved.params_source
    # The file's own tensor sizes hold for its own quantization; another --quant is estimated.
    weights = None
    if resolved.weights is not None and (args.quant is None or (file_type and quant.id.lower() == file_type.lower())):
        weights = replace(resolved.weights, quant_id=quant.id)
    runtime = lookup("runtimes", catalog.runtime, args.runtime)
    if args.context <= 0:
        raise UsageError(f"--context: invalid value {args.context}; use a positive number of tokens such as 8192")
    kv = args.kv_cache or ("auto" if runtime.engine in ("vllm", "sglang") else "f16")
    if kv.lower() not in {k.lower() for k in runtime.kv_cache_types}:
        raise UsageError(f"--kv-cache: {runtime.name} does not offer {kv!r}; use one of {', '.join(runtime.kv_cache_types)}")
    tensor_split = None
    if args.tensor_split:
        try:
            tensor_split = tuple(float(v) for v in args.tensor_split.split(","))
        except ValueError:
            raise UsageError(f"--tensor-split: invalid value {args.tensor_split!r}; use comma-separated numbers such as 44,36") from None
        if any(v < 0 for v in tensor_split) or not any(tensor_split):
            raise UsageError(f"--tensor-split: invalid value {args.tensor_split!r}; use non-negative numbers, not all zero")
    return Workload(
        model=model,
        quant=quant,
        runtime=runtime,
        context=args.context,
        kv_cache=kv,
        split=args.split,
        tensor_split=tensor_split,
        flash_attn=args.flash_attn == "on",
        ubatch=args.ubatch,
        depth=args.depth,
        prompt=args.prompt,
        ggml_types=dict(catalog.ggml_types),
        weights=weights,
        extra=extra,
    )
