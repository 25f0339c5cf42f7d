"""The NVML backend against a stub pynvml that raises the real NVML exception classes."""

from __future__ import annotations

import logging

import pynvml
import pytest
from nvml_stub import ALL_ERROR_CODES, StubGpu, StubNvml

from rigtui.errors import TelemetryUnavailable
from rigtui.hardware.nvml import NvmlSource
from rigtui.hardware.source import SAMPLE_FIELDS

MIB = 1 << 20
# Functions whose failure means NVML as a whole cannot be used.
_START_FUNCTIONS = {"nvmlInit", "nvmlDeviceGetCount"}
_LOST_CODES = {pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_RESET_REQUIRED}


def two_gpus() -> StubNvml:
    first = StubGpu(
        bus_id=b"00000000:01:00.0",
        nvlink_peers=[b"00000000:02:00.0", b"00000000:02:00.0", None],
        compute=[(4242, 18_000 * MIB)],
        graphics=[(1187, 400 * MIB)],
        display=1,
    )
    second = StubGpu(
        name="NVIDIA GeForce RTX 3090",
        uuid="GPU-11111111-1111-1111-1111-111111111111",
        bus_id=b"0000:02:00.0",
        pci_device_id=0x220410DE,
        width_max=4,
        nvlink_peers=[b"00000000:01:00.0", b"00000000:01:00.0"],
    )
    return StubNvml([first, second], topology={(0, 1): pynvml.NVML_TOPOLOGY_SINGLE}, cuda_version=12040)


def clean_run_calls() -> set[str]:
    stub = two_gpus()
    source = NvmlSource(stub, clock=lambda: 100.0)
    source.info()
    source.sample()
    source.close()
    return set(stub.calls)


CALLED_FUNCTIONS = sorted(clean_run_calls())


def test_info_reads_static_facts() -> None:
    info = NvmlSource(two_gpus()).info()

    assert info.driver_version == "550.54.14"
    assert info.cuda_version == "12.4"
    assert info.nvml_version == "12.550.54.14"
    first, second = info.gpus
    assert first.name == "NVIDIA GeForce RTX 4090"
    assert first.pci_device_id == "0x2684"
    assert second.pci_device_id == "0x2204"
    assert first.pci_bus_id == "00000000:01:00.0"
    assert second.pci_bus_id == "00000000:02:00.0"
    assert first.mem_total_bytes == 24_564 * MIB
    assert first.power_limit_w == 450.0
    assert first.display_active is True
    assert second.pcie_width_max == 4


def test_info_reads_processes_and_nvlink() -> None:
    info = NvmlSource(two_gpus()).info()

    kinds = {(p.pid, p.kind, p.used_bytes, p.name) for p in info.gpus[0].processes}
    assert kinds == {(4242, "compute", 18_000 * MIB, "proc-4242"), (1187, "graphics", 400 * MIB, "proc-1187")}
    assert [link.active for link in info.gpus[0].nvlinks] == [True, True, False]
    assert info.gpus[0].nvlinks[0].remote_bus_id == "00000000:02:00.0"
    pair = info.pair(1, 0)
    assert pair is not None
    assert pair.level == "switch"
    assert pair.nvlink_links == 2
    assert info.nvlink_pairs == frozenset({(0, 1)})


def test_sample_converts_units() -> None:
    sample = NvmlSource(two_gpus(), clock=lambda: 123.5).sample()

    assert sample.timestamp == 123.5
    reading = sample.gpu(0)
    assert reading is not None
    assert reading.power_w == 300.0
    assert reading.power_limit_w == 450.0
    assert reading.pcie_rx_bytes_s == 1_000 * 1024
    assert reading.pcie_tx_bytes_s == 200 * 1024
    assert reading.temp_mem_c == 80.0
    assert reading.clock_sm_mhz == 2_500
    assert reading.clock_mem_mhz == 10_501
    assert reading.util_gpu_pct == 90.0
    assert reading.throttle_reasons == 0x4
    assert reading.pcie_gen_max == 4


def test_unsupported_field_is_none_and_not_asked_again() -> None:
    stub = two_gpus()
    stub.gpus[0].unsupported = {"nvmlDeviceGetFanSpeed", "nvmlDeviceGetFieldValues"}
    source = NvmlSource(stub)

    info = source.info()
    readings = [source.sample().gpu(0) for _ in range(3)]

    assert "fan_pct" not in info.gpus[0].supported
    assert "temp_mem_c" not in info.gpus[0].supported
    assert "fan_pct" in info.gpus[1].supported
    assert all(r is not None and r.fan_pct is None and r.temp_mem_c is None for r in readings)
    # Probed once per GPU while reading static info; never during sampling.
    assert stub.calls["nvmlDeviceGetFanSpeed"] == 2 + 3
    second = source.sample().gpu(1)
    assert second is not None and second.fan_pct == 55


def test_memory_temperature_zero_means_unsupported() -> None:
    stub = two_gpus()
    stub.gpus[0].mem_temp_c = 0
    reading = NvmlSource(stub).sample().gpu(0)

    assert reading is not None
    assert reading.temp_mem_c is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "was not found"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver is not loaded"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "Insufficient Permissions"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "versions differ"),
        (pynvml.NVML_ERROR_UNKNOWN, "Unknown Error"),
    ],
)
def test_init_failure_is_one_clear_error(code: int, message: str) -> None:
    source = NvmlSource(StubNvml(errors={"nvmlInit": code}))

    with pytest.raises(TelemetryUnavailable) as raised:
        source.info()

    assert message in str(raised.value)
    assert "what-if" in str(raised.value) or "Reboot" in str(raised.value)


def test_no_gpu_is_telemetry_unavailable() -> None:
    stub = StubNvml([])
    with pytest.raises(TelemetryUnavailable, match="no NVIDIA GPU"):
        NvmlSource(stub).info()
    assert stub.initialized is False


def test_missing_pynvml_is_telemetry_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(TelemetryUnavailable, match="nvidia-ml-py"):
        NvmlSource().info()


def test_gpu_lost_mid_run_keeps_others() -> None:
    stub = two_gpus()
    source = NvmlSource(stub)
    before = source.sample()
    stub.gpus[1].lost = True

    after = [source.sample() for _ in range(3)]

    assert before.gpu(1) is not None
    assert not before.gpu(1).lost
    for sample in after:
        lost = sample.gpu(1)
        alive = sample.gpu(0)
        assert lost is not None and lost.lost
        assert lost.util_gpu_pct is None
        assert alive is not None and not alive.lost
        assert alive.util_gpu_pct == 90.0


def test_each_failure_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    stub = two_gpus()
    stub.errors["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_UNKNOWN
    source = NvmlSource(stub)
    caplog.set_level(logging.WARNING, logger="rigtui.hardware.nvml")

    for _ in range(5):
        source.sample()

    power_records = [r for r in caplog.records if "power_w" in r.getMessage()]
    assert len(power_records) == 2  # one per GPU, not one per sample
    # A transient error is retried: the backend keeps asking on every sample.
    assert stub.calls["nvmlDeviceGetPowerUsage"] == 2 * 6


def test_close_twice_and_shutdown_error_are_harmless() -> None:
    stub = two_gpus()
    stub.errors["nvmlShutdown"] = pynvml.NVML_ERROR_UNKNOWN
    source = NvmlSource(stub)
    source.info()

    source.close()
    source.close()

    assert stub.calls["nvmlShutdown"] == 1


def test_no_cuda_or_torch_import() -> None:
    from pathlib import Path

    import rigtui.hardware.nvml as module

    text = Path(module.__file__).read_text()
    for library in ("torch", "cupy", "pycuda", "cuda-python", "import cuda", "numba"):
        assert library not in text


def test_error_matrix_covers_every_call() -> None:
    # Guards the matrix below: a new NVML call is covered the moment the backend makes it.
    assert "nvmlDeviceGetPowerUsage" in CALLED_FUNCTIONS
    assert "nvmlDeviceGetTopologyCommonAncestor" in CALLED_FUNCTIONS
    assert len(CALLED_FUNCTIONS) >= 25


@pytest.mark.parametrize("function", CALLED_FUNCTIONS)
def test_every_error_from_every_call_is_survived(function: str) -> None:
    for code in ALL_ERROR_CODES:
        stub = two_gpus()
        stub.errors[function] = code
        source = NvmlSource(stub, clock=lambda: 1.0)

        if function in _START_FUNCTIONS:
            with pytest.raises(TelemetryUnavailable):
                source.info()
            continue

        info = source.info()
        samples = [source.sample(), source.sample()]
        source.close()

        assert len(info.gpus) == 2, (function, code)
        for sample in samples:
            assert [g.index for g in sample.gpus] == [0, 1], (function, code)
        device_call = function.startswith("nvmlDevice") and function not in (
            "nvmlDeviceGetTopologyCommonAncestor",
        )
        if code in _LOST_CODES and device_call:
            assert all(g.lost for g in samples[-1].gpus), (function, code)
        elif function == "nvmlDeviceGetHandleByIndex":
            assert all(g.lost for g in samples[-1].gpus), (function, code)
        else:
            assert not any(g.lost for g in samples[-1].gpus), (function, code)


def test_failed_field_reads_none_while_others_work() -> None:
    stub = two_gpus()
    stub.errors["nvmlDeviceGetTemperature"] = pynvml.NVML_ERROR_TIMEOUT
    reading = NvmlSource(stub).sample().gpu(0)

    assert reading is not None
    assert reading.temp_gpu_c is None
    assert reading.power_w == 300.0
    for name in SAMPLE_FIELDS:
        if name != "temp_gpu_c":
            assert getattr(reading, name) is not None, name
