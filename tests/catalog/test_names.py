"""Forgiving name lookup: NVML names, short names, counts, and suggestions for typos."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigtui.catalog import load_catalog
from rigtui.core.catalog import NameNotFound, normalize_name

MINI = Path(__file__).parent / "mini"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(data_dir=MINI)


@pytest.mark.parametrize("name", ["NVIDIA GeForce RTX 4090", "RTX 4090", "4090", "rtx-4090", "rtx4090", "GeForce RTX 4090"])
def test_gpu_spellings_resolve_to_one_card(catalog, name: str) -> None:
    assert catalog.gpu(name).id == "rtx-4090"


def test_ti_is_a_different_card(catalog) -> None:
    assert catalog.gpu("3090").id == "rtx-3090"
    assert catalog.gpu("3090 Ti").id == "rtx-3090-ti"
    assert catalog.gpu("RTX 3090 Ti").id == "rtx-3090-ti"


@pytest.mark.parametrize("text", ["2x RTX 3090", "2 x 3090", "2×RTX 3090", "RTX 3090 x2", "2*rtx-3090"])
def test_count_prefix_gives_several_cards(catalog, text: str) -> None:
    assert [g.id for g in catalog.gpus_from(text)] == ["rtx-3090", "rtx-3090"]


def test_count_out_of_range_is_rejected(catalog) -> None:
    with pytest.raises(ValueError, match="out of range"):
        catalog.gpus_from("40x RTX 3090")


def test_unknown_gpu_suggests_closest(catalog) -> None:
    with pytest.raises(NameNotFound) as caught:
        catalog.gpu("RTX 4099")
    assert "GeForce RTX 4090" in caught.value.suggestions
    assert "RTX 4099" in str(caught.value)


def test_model_resolves_by_repo_id_and_its_last_part(catalog) -> None:
    assert catalog.model("meta-llama/Llama-3.1-8B-Instruct").id == "llama-3.1-8b"
    assert catalog.model("Llama-3.1-8B-Instruct").id == "llama-3.1-8b"
    assert catalog.model("llama 3.1 8b").id == "llama-3.1-8b"


def test_runtime_and_os_aliases(catalog) -> None:
    assert catalog.runtime("llama.cpp").id == "llama-cpp"
    assert catalog.os("Ubuntu 24.04").id == "ubuntu-24.04"


def test_pci_device_id_lookup(catalog) -> None:
    assert catalog.gpu_by_pci_id("0x2684").id == "rtx-4090"
    assert catalog.gpu_by_pci_id("2204").id == "rtx-3090"
    assert catalog.gpu_by_pci_id("0xffff") is None


@given(st.text(max_size=40))
def test_normalize_is_idempotent_and_plain(text: str) -> None:
    once = normalize_name(text)
    assert normalize_name(once) == once
    assert all(c.isascii() and (c.isdigit() or c.islower()) for c in once)


@pytest.mark.parametrize("text", ["RTX 4099", "rtx4099"])
def test_misspelt_name_is_not_read_as_a_count(catalog, text: str) -> None:
    with pytest.raises(NameNotFound) as caught:
        catalog.gpus_from(text)
    assert "GeForce RTX 4090" in caught.value.suggestions
