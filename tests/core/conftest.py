"""Fixtures for the fit tests: the bundled catalog, rigs built from it, and models it lacks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rigtui.catalog import load_catalog
from rigtui.core.catalog import Catalog
from rigtui.core.rig import GIB, Rig, RigGpu, Workload
from rigtui.core.specs import ModelSpec

# CohereForAI/c4ai-command-r-v01 config.json: the model of a public two-GPU llama.cpp log.
COMMAND_R = ModelSpec(
    id="c4ai-command-r-v01", name="Command R v01", family="command-r", architecture="cohere",
    n_layers=40, hidden_size=8192, n_heads=64, n_kv_heads=64, head_dim=128, vocab_size=256000,
    intermediate_size=22528, tie_word_embeddings=True, params_total=34_980_000_000, max_context=131072,
    source="CohereForAI/c4ai-command-r-v01",
)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def make_rig(catalog: Catalog, *names: str, os: str = "ubuntu-24.04", cpu_ram_gib: int = 64, used_gib: dict[int, float] | None = None) -> Rig:
    gpus = []
    for i, name in enumerate(names):
        spec = catalog.gpu(name)
        gpu = RigGpu(spec=spec, pcie_gen=4, pcie_lanes=8 if len(names) > 1 else 16)
        if used_gib and i in used_gib:
            gpu = replace(gpu, used_bytes=int(used_gib[i] * GIB))
        gpus.append(gpu)
    return Rig(gpus=tuple(gpus), os=catalog.os(os), cpu_ram_bytes=cpu_ram_gib * GIB)


def make_workload(catalog: Catalog, model: str | ModelSpec, quant: str = "Q4_K_M", runtime: str = "llama.cpp", **changes) -> Workload:
    spec = model if isinstance(model, ModelSpec) else catalog.model(model)
    workload = Workload(model=spec, quant=catalog.quant(quant), runtime=catalog.runtime(runtime), ggml_types=dict(catalog.ggml_types))
    return replace(workload, **changes)
