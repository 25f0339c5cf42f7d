"""Placement from a GGUF header's own tensor sizes, on files with mixed tensor types."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gguf_mixed import MIXED_LAYERS, real_tensor_bytes, write_mixed_llama
from rigtui.catalog import load_catalog
from rigtui.cli import main
from rigtui.core.catalog import Catalog
from rigtui.core.fit import fit
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.sources.gguf import model_from_header, read_model_file
from rigtui.sources.models import resolve_model


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_mixed_llama(tmp_path_factory.mktemp("mixed") / "mixed.gguf")


def _layer_bytes(real: dict[str, int], layer: int) -> int:
    return sum(size for name, size in real.items() if name.startswith(f"blk.{layer}."))


def _two_gpu_workload(catalog: Catalog, path: Path, quant: str = "Q4_0") -> tuple[Rig, Workload]:
    resolved = resolve_model(str(path), catalog, allow_network=False)
    spec = catalog.quant(quant)
    workload = Workload(
        model=resolved.spec,
        quant=spec,
        runtime=catalog.runtime("llama.cpp"),
        context=1024,
        split="layer",
        tensor_split=(1.0, 1.0),
        ggml_types=dict(catalog.ggml_types),
        weights=replace(resolved.weights, quant_id=catalog.quant("Q4_0").id),
    )
    gpus = (RigGpu(catalog.gpu("RTX 3090"), 4, 8), RigGpu(catalog.gpu("RTX 4090"), 4, 8))
    return Rig(gpus=gpus, os=catalog.os("ubuntu-24.04")), workload


def test_header_weights_equal_real_sizes(mixed: list[Path]) -> None:
    real = real_tensor_bytes(mixed)
    weights = model_from_header(read_model_file(mixed[0]), source="mixed").weights
    assert weights.source == "gguf-header"
    for layer in range(MIXED_LAYERS):
        assert weights.layers[layer].total_bytes == _layer_bytes(real, layer)
    assert weights.token_embd_bytes == real["token_embd.weight"]
    assert weights.output_bytes == real["output.weight"] + real["output_norm.weight"]
    assert weights.file_bytes == sum(real.values())
    assert set(weights.tensor_types) == {"Q8_0", "Q4_0", "F16", "F32"}


def test_layers_of_mixed_types_differ(mixed: list[Path]) -> None:
    weights = model_from_header(read_model_file(mixed[0]), source="mixed").weights
    q8_layer, q4_layer = weights.layers[0].total_bytes, weights.layers[2].total_bytes
    assert q8_layer > 1.5 * q4_layer


def test_per_device_weights_are_tensor_sums(catalog: Catalog, mixed: list[Path]) -> None:
    real = real_tensor_bytes(mixed)
    rig, workload = _two_gpu_workload(catalog, mixed[0])
    result = fit(rig, workload)
    assert result.weights_source == "gguf-header"
    gpus = [d for d in result.devices if d.kind == "gpu"]
    assert all(d.layers for d in gpus), "the 1,1 tensor split puts layers on both cards"
    for device in result.devices:
        expected = real["token_embd.weight"] if device.kind == "cpu" else 0
        if device.layers:
            first = device.first_layer or 0
            expected += sum(_layer_bytes(real, layer) for layer in range(first, first + device.layers))
        if device.holds_output:
            expected += real["output.weight"] + real["output_norm.weight"]
        assert device.weights_bytes == expected, device.name
    assert sum(d.weights_bytes for d in result.devices) == sum(real.values())


def test_other_quant_falls_back_to_estimate(catalog: Catalog, mixed: list[Path]) -> None:
    rig, workload = _two_gpu_workload(catalog, mixed[0], quant="Q8_0")
    result = fit(rig, workload)
    assert result.weights_source == "estimate"


def test_tied_head_copies_token_embd(tmp_path: Path) -> None:
    paths = write_mixed_llama(tmp_path / "tied.gguf", tied=True)
    real = real_tensor_bytes(paths)
    weights = model_from_header(read_model_file(paths[0]), source="tied").weights
    assert weights.tied_embeddings
    assert weights.output_bytes == real["output_norm.weight"] + real["token_embd.weight"]
    assert weights.file_bytes == sum(real.values())


def test_fit_json_says_gguf_header(capsys, mixed: list[Path]) -> None:
    code = main(["fit", "--gpu", "RTX 3090", "--model", str(mixed[0]), "--context", "1024", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["weights_source"] == "gguf-header"
    assert result["model_file_bytes"] == sum(real_tensor_bytes(mixed).values())


def test_fit_json_other_quant_is_estimate(capsys, mixed: list[Path]) -> None:
    code = main(["fit", "--gpu", "RTX 3090", "--model", str(mixed[0]), "--quant", "Q8_0", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["weights_source"] == "estimate"


def test_fit_text_names_weights_source(capsys, mixed: list[Path]) -> None:
    code = main(["fit", "--gpu", "RTX 3090", "--model", str(mixed[0]), "--context", "1024"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "(exact, GGUF header)" in out
