"""The Servers screen: every key, with an injected server list so no real port is probed."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.widgets import DataTable, Static

from rigtui.hardware import FakeSource
from rigtui.sources.measure import GenerationTiming, MeasureFailed
from rigtui.sources.measurements import load_records
from rigtui.sources.servers import LoadedModel, ServerSpeeds, ServerStatus
from rigtui.tui.screens.help import HelpScreen
from rigtui.tui.screens.servers import ConfirmMeasure, ServersScreen

SIZE = (120, 40)

STATUSES = [
    ServerStatus(
        "llama-server", "http://127.0.0.1:8080", version="b4567",
        models=(LoadedModel("/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", size_bytes=4912898304, context=8192),),
        speeds=ServerSpeeds(101.0, 2950.0, "llamacpp:predicted_tokens_seconds, llamacpp:prompt_tokens_seconds"),
    ),
    ServerStatus(
        "ollama", "http://127.0.0.1:11434", version="0.12.6",
        models=(LoadedModel("qwen2.5:32b", size_bytes=21 << 30, vram_bytes=20 << 30, context=4096, quant="Q4_K_M"),),
    ),
    ServerStatus("vllm", "http://127.0.0.1:8000", error="http://127.0.0.1:8000/v1/models: connection refused; is the server running at this address?"),
]


class FixedServers:
    """A server backend with fixed answers that counts its calls."""

    def __init__(self, statuses: list[ServerStatus] = STATUSES, fail: str | None = None) -> None:
        self.statuses = statuses
        self.fail = fail
        self.probes = 0
        self.measured: list[tuple[str, str | None]] = []

    def probe(self) -> list[ServerStatus]:
        self.probes += 1
        return list(self.statuses)

    def measure(self, status: ServerStatus, model: str | None) -> GenerationTiming:
        self.measured.append((status.url, model))
        if self.fail:
            raise MeasureFailed(self.fail)
        return GenerationTiming(status.kind, status.url, model, 77.0, 2500.0, 310, 64, 1.2, "fixed")


def notes(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


def text_of(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def build(app_factory: Any, backend: FixedServers, **options: Any) -> Any:
    app = app_factory(**options)
    app.server_backend = backend
    return app


async def open_servers(pilot: Any, settle: Any) -> None:
    await settle(pilot)
    await pilot.press("7")
    await settle(pilot)
    await settle(pilot)


async def test_key_7_lists_servers(app_factory, settle) -> None:
    backend = FixedServers()
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        assert isinstance(app.screen, ServersScreen)
        table = app.screen.query_one("#servers", DataTable)
        assert table.row_count == 3
        assert backend.probes == 1
        detail = text_of(app.screen.query_one("#server-detail", Static))
        assert "llama-server at http://127.0.0.1:8080" in detail
        assert "Predicted for Llama 3.1 8B" in detail


async def test_failed_server_shows_its_error(app_factory, settle) -> None:
    app = build(app_factory, FixedServers())
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("down", "down")
        await settle(pilot)
        detail = text_of(app.screen.query_one("#server-detail", Static))
        assert "connection refused" in detail


async def test_ollama_row_shows_vram(app_factory, settle) -> None:
    app = build(app_factory, FixedServers())
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        table = app.screen.query_one("#servers", DataTable)
        assert str(table.get_cell("ollama http://127.0.0.1:11434", "vram")) == "20.0 GiB"


async def test_r_probes_again(app_factory, settle) -> None:
    backend = FixedServers()
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("r")
        await settle(pilot)
        assert backend.probes == 2


async def test_m_asks_then_measures_and_stores(app_factory, settle) -> None:
    backend = FixedServers()
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmMeasure)
        await pilot.press("y")
        await settle(pilot)
        await settle(pilot)
        assert backend.measured == [("http://127.0.0.1:8080", "/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")]
        records, _ = load_records()
        assert records[0]["decode_tps"] == 77.0
        assert records[0]["model"] == "llama-3.1-8b"
        assert records[0]["predicted_decode_tps"] > 0
        assert any("Stored" in n for n in notes(app))
        table = app.screen.query_one("#servers", DataTable)
        assert "77" in str(table.get_cell("llama-server http://127.0.0.1:8080", "measured"))


async def test_m_without_loaded_model_says_load_one(app_factory, settle) -> None:
    idle = ServerStatus("llama-server", "http://127.0.0.1:8080", version="b4567", models=())
    backend = FixedServers([idle])
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, ServersScreen)
        assert backend.measured == []
        assert any("no model loaded; load a model first" in n for n in notes(app))
        assert load_records() == ([], [])


async def test_unmatched_model_is_measured_but_not_stored(app_factory, settle) -> None:
    odd = ServerStatus("ollama", "http://127.0.0.1:11434", version="0.12.6",
                       models=(LoadedModel("my-own-finetune:latest", size_bytes=1 << 30),))
    backend = FixedServers([odd])
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m", "y")
        await settle(pilot)
        await settle(pilot)
        assert backend.measured == [("http://127.0.0.1:11434", "my-own-finetune:latest")]
        assert load_records() == ([], [])
        assert any("not stored" in n for n in notes(app))
        assert not any("calibrates" in n for n in notes(app))


async def test_m_then_n_sends_nothing(app_factory, settle) -> None:
    backend = FixedServers()
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert backend.measured == []
        assert isinstance(app.screen, ServersScreen)


async def test_m_escape_cancels(app_factory, settle) -> None:
    backend = FixedServers()
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m", "escape")
        await settle(pilot)
        assert backend.measured == []


async def test_m_on_failed_server_warns(app_factory, settle) -> None:
    backend = FixedServers()
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("down", "down", "m")
        await settle(pilot)
        assert isinstance(app.screen, ServersScreen)
        assert any("Select a server that answers" in n for n in notes(app))


async def test_measure_failure_is_a_notification(app_factory, settle) -> None:
    backend = FixedServers(fail="http://127.0.0.1:8080/completion: no answer within 180 s")
    app = build(app_factory, backend)
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m", "y")
        await settle(pilot)
        await settle(pilot)
        assert any("no answer within" in n for n in notes(app))
        assert load_records()[0] == []


async def test_measurement_calibrates_fit_screens(app_factory, settle) -> None:
    app = build(app_factory, FixedServers())
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("m", "y")
        await settle(pilot)
        await settle(pilot)
        assert app.core.measurements
        rig = app.state.rig
        workload = app.state.workload(app.catalog, model="qwen2.5-32b", quant="Q4_K_M", runtime="llama-cpp")
        result = app.core.fit(rig, workload)
        assert result.decode_source == "calibrated"


async def test_gpu_memory_from_telemetry(app_factory, settle) -> None:
    app = build(app_factory, FixedServers(), source=FakeSource("gpu-lost"))
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        detail = text_of(app.screen.query_one("#server-detail", Static))
        assert "GPU 0 NVIDIA GeForce RTX 3090: 20.5 GiB of 24.0 GiB" in detail
        assert "ollama (pid 5120): 20.0 GiB" in detail


async def test_no_telemetry_says_so(app_factory, settle) -> None:
    app = build(app_factory, FixedServers())
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        detail = text_of(app.screen.query_one("#server-detail", Static))
        assert "No GPU telemetry source" in detail


async def test_help_lists_server_keys(app_factory, settle) -> None:
    app = build(app_factory, FixedServers())
    async with app.run_test(size=SIZE) as pilot:
        await open_servers(pilot, settle)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app.screen.query_one("#help-keys", Static))
        assert "Re-probe" in keys
        assert "Measure" in keys


async def test_palette_offers_servers(app_factory, settle) -> None:
    app = build(app_factory, FixedServers())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any(t.startswith("Servers") for t in titles)
