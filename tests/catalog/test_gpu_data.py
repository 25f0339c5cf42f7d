"""Checks on the shipped GPU, price and OS catalogs in data/.

The files are read with tomllib directly so that a loader bug cannot hide a data error.
Spot-check values are taken from NVIDIA's own spec sheets (Ada and GA102 whitepapers)
and the PCI ID repository, not from the catalog itself.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from rigtui.core.specs import GpuSpec, OsSpec, PriceSpec

DATA = Path(__file__).resolve().parents[2] / "data"
RUNTIME_IDS = {
    "llama-cpp", "ollama", "lm-studio", "exllamav2", "exllamav3",
    "vllm", "sglang", "tensorrt-llm", "ktransformers", "mlc-llm",
}


def _load(name: str, key: str) -> list[dict]:
    with open(DATA / name, "rb") as fh:
        return tomllib.load(fh)[key]


@pytest.fixture(scope="module")
def gpus() -> dict[str, GpuSpec]:
    specs = [GpuSpec.model_validate(entry) for entry in _load("gpus.toml", "gpus")]
    return {spec.id: spec for spec in specs}


def test_gpu_entries_validate_and_count():
    entries = _load("gpus.toml", "gpus")
    assert len(entries) >= 62
    for entry in entries:
        GpuSpec.model_validate(entry)


def test_gpu_ids_unique_slugs():
    ids = [entry["id"] for entry in _load("gpus.toml", "gpus")]
    assert len(ids) == len(set(ids))
    for gpu_id in ids:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", gpu_id), gpu_id


def test_gpu_aliases_unambiguous(gpus):
    owner: dict[str, str] = {}
    for spec in gpus.values():
        for alias in spec.aliases:
            key = alias.lower()
            assert owner.get(key, spec.id) == spec.id, f"alias {alias!r} on {owner.get(key)} and {spec.id}"
            owner[key] = spec.id


def test_gpu_memory_physical_range(gpus):
    for spec in gpus.values():
        assert 4 * 1024 <= spec.memory_mib <= 192 * 1024, spec.id
        assert spec.memory_mib % 1024 == 0, spec.id
        if spec.usable_memory_mib is not None:
            assert spec.usable_memory_mib <= spec.memory_mib, spec.id


def test_gpu_bandwidth_physical_range(gpus):
    for spec in gpus.values():
        # The floor is the Apple M1's unified memory (68.2 GB/s), the slowest entry.
        assert 60 <= spec.bandwidth_gbs <= 8000, spec.id
        if spec.memory_bus_bits:
            # GB/s per bus bit is the per-pin data rate in Gbps divided by 8:
            # about 0.175 for HBM2 at 1.4 Gbps up to 3.75 for GDDR7 at 30 Gbps.
            per_bit = spec.bandwidth_gbs / spec.memory_bus_bits
            assert 0.15 <= per_bit <= 4.0, spec.id


def test_gpu_throughput_ordering(gpus):
    for spec in gpus.values():
        if spec.fp16_tflops and spec.fp8_tflops:
            assert spec.fp8_tflops >= spec.fp16_tflops, spec.id
        if spec.fp16_tflops and spec.fp32_tflops and spec.vendor == "nvidia":
            # Tensor FP16 is never slower than plain FP32 on cards that list it.
            assert spec.fp16_tflops >= spec.fp32_tflops * 0.99, spec.id


def test_nvidia_has_compute_capability(gpus):
    for spec in gpus.values():
        if spec.vendor == "nvidia":
            assert spec.cc_tuple is not None, spec.id
            assert (6, 0) <= spec.cc_tuple <= (12, 0), spec.id
        else:
            assert spec.compute_capability is None, spec.id


def test_amd_has_gfx_target(gpus):
    for spec in gpus.values():
        if spec.vendor == "amd":
            assert spec.gfx_target and re.fullmatch(r"gfx[0-9a-f]{3,4}", spec.gfx_target), spec.id


def test_pci_ids_well_formed(gpus):
    for spec in gpus.values():
        # Apple GPUs sit inside the SoC and have no PCI device id.
        assert spec.pci_device_ids or spec.vendor == "apple", spec.id
        for pci_id in spec.pci_device_ids:
            assert re.fullmatch(r"0x[0-9a-f]{4}", pci_id), f"{spec.id}: {pci_id}"


def test_pci_ids_unique_within_nvidia(gpus):
    # AMD and Intel ids are shared between sibling cards, but each NVIDIA id names one product here.
    owner: dict[str, str] = {}
    for spec in gpus.values():
        if spec.vendor != "nvidia":
            continue
        for pci_id in spec.pci_device_ids:
            assert pci_id not in owner, f"{pci_id} on {owner[pci_id]} and {spec.id}"
            owner[pci_id] = spec.id


def test_nvlink_bandwidth_needs_nvlink(gpus):
    for spec in gpus.values():
        if spec.nvlink_bandwidth_gbs is not None:
            assert spec.nvlink, spec.id
        if spec.form_factor == "sxm":
            assert spec.nvlink, spec.id


def test_gpu_sources_present(gpus):
    for spec in gpus.values():
        assert spec.source.startswith("http"), spec.id
        if spec.transient_peak_w is not None:
            assert spec.transient_source, spec.id
            assert spec.transient_peak_w > spec.tdp_w, spec.id


def test_rtx_4090_spot_check(gpus):
    spec = gpus["rtx-4090"]
    assert spec.memory_mib == 24 * 1024
    assert spec.usable_memory_mib == 24564
    assert spec.bandwidth_gbs == 1008
    assert "0x2684" in spec.pci_device_ids
    assert spec.compute_capability == "8.9"
    assert spec.fp16_tflops == pytest.approx(165.2)
    assert spec.tdp_w == 450
    assert not spec.nvlink


def test_rtx_3090_spot_check(gpus):
    spec = gpus["rtx-3090"]
    assert spec.memory_mib == 24 * 1024
    assert spec.bandwidth_gbs == 936
    assert spec.nvlink
    assert "0x2204" in spec.pci_device_ids
    assert spec.compute_capability == "8.6"
    assert spec.fp16_tflops == pytest.approx(71.0)


def test_x8_cards_spot_check(gpus):
    assert gpus["rtx-4060-ti-16gb"].pcie_lanes == 8
    assert gpus["rtx-5060-ti-16gb"].pcie_lanes == 8
    assert gpus["arc-b580"].pcie_lanes == 8
    assert gpus["rtx-4090"].pcie_lanes == 16


def test_required_cards_present(gpus):
    required = {
        "rtx-2060-12gb", "rtx-2080-ti", "rtx-3060-12gb", "rtx-3060-ti", "rtx-3070", "rtx-3080-10gb",
        "rtx-3080-12gb", "rtx-3080-ti", "rtx-3090", "rtx-3090-ti", "rtx-4060-ti-8gb", "rtx-4060-ti-16gb",
        "rtx-4070", "rtx-4070-super", "rtx-4070-ti", "rtx-4070-ti-super", "rtx-4080", "rtx-4080-super",
        "rtx-4090", "rtx-5060-ti-16gb", "rtx-5070", "rtx-5070-ti", "rtx-5080", "rtx-5090",
        "gtx-1080-ti", "gtx-1060-6gb", "rtx-a4000", "rtx-a5000", "rtx-a6000", "rtx-4000-ada",
        "rtx-5000-ada", "rtx-6000-ada", "rtx-pro-6000-blackwell", "tesla-p40", "tesla-p100-16gb",
        "tesla-v100-16gb", "tesla-v100-32gb", "tesla-t4", "a10", "a40", "l4", "l40s", "a100-40gb-pcie",
        "a100-80gb-pcie", "a100-80gb-sxm", "h100-pcie", "h100-sxm", "rx-6800", "rx-6700-xt",
        "rx-7900-xtx", "rx-7900-xt", "rx-9070-xt", "radeon-pro-w7900", "mi50", "mi60", "mi100",
        "arc-a770-16gb", "arc-b580", "arc-pro-b60",
    }
    assert required <= set(gpus)


def test_prices_validate_and_reference_gpus(gpus):
    prices = [PriceSpec.model_validate(entry) for entry in _load("prices.toml", "prices")]
    assert prices
    for price in prices:
        assert price.gpu in gpus, price.gpu
        assert price.currency.isupper()
        assert price.source


def test_prices_within_sane_range(gpus):
    for price in (PriceSpec.model_validate(e) for e in _load("prices.toml", "prices")):
        assert 20 <= price.low <= 100_000, price
        assert price.high <= price.low * 4, price


def test_os_entries(gpus):
    systems = {spec.id: spec for spec in (OsSpec.model_validate(e) for e in _load("os.toml", "os"))}
    assert {"ubuntu-22.04", "ubuntu-24.04", "linux", "windows-11", "wsl2", "macos"} <= set(systems)
    for spec in systems.values():
        assert set(spec.runtimes) <= RUNTIME_IDS, spec.id
    assert systems["windows-11"].wddm
    assert systems["wsl2"].wddm
    assert not systems["ubuntu-24.04"].wddm
    assert "vllm" not in systems["windows-11"].runtimes
    assert "sglang" not in systems["windows-11"].runtimes
    assert "vllm" in systems["wsl2"].runtimes
    assert "vllm" not in systems["macos"].runtimes
    assert systems["windows-11"].desktop_reserve_mib > 0
