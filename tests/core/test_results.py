"""FitResult's derived facts: the offload predicate that the CLI, the matrix and the verdict share."""

from __future__ import annotations

from rigtui.core.results import DeviceUsage, FitResult, Warning_

GPU = DeviceUsage("RTX 4090", "gpu", 0, 24 << 30, weights_bytes=20 << 30, layers=32)


def result(*devices: DeviceUsage, warnings: tuple[Warning_, ...] = ()) -> FitResult:
    return FitResult(True, "layer", "llama.cpp", "Q4_K_M", 8192, "f16", devices, warnings=warnings)


def test_gpu_only_is_no_offload() -> None:
    assert not result(GPU).uses_offload


def test_embedding_in_ram_is_no_offload() -> None:
    cpu = DeviceUsage("CPU", "cpu", None, 64 << 30, weights_bytes=1 << 30)
    assert not result(GPU, cpu).uses_offload


def test_layers_in_ram_are_offload() -> None:
    cpu = DeviceUsage("CPU", "cpu", None, 64 << 30, weights_bytes=8 << 30, layers=8)
    assert result(GPU, cpu).uses_offload


def test_experts_in_ram_are_offload() -> None:
    cpu = DeviceUsage("CPU", "cpu", None, 64 << 30, weights_bytes=8 << 30, expert_layers=4)
    assert result(GPU, cpu).uses_offload


def test_offload_warning_is_offload() -> None:
    for code in ("cpu-offload", "expert-offload"):
        assert result(GPU, warnings=(Warning_(code, "moved"),)).uses_offload, code
    assert not result(GPU, warnings=(Warning_("pcie-x1", "slow link"),)).uses_offload
