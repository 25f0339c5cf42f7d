"""The rigtui explorer app: shared rig state, the screens as modes, and app-wide actions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from rigtui.errors import RigtuiError

# The core, the catalog and the screens import pydantic and build models. That takes
# longer than painting the first screen, so they load in a worker behind LoadingScreen.
if TYPE_CHECKING:
    from rigtui.core.catalog import Catalog
    from rigtui.core.rig import Rig
    from rigtui.sources.local import LocalScan
    from rigtui.tui.startup import Startup
    from rigtui.tui.state import Settings

log = logging.getLogger(__name__)

NEEDS_RIG = frozenset({"show", "undo", "redo", "save_rig", "open_rig"})
"""App actions that only make sense once the catalog and the rig have loaded."""

LOCAL_MARK = "⌂"
"""Marks models found on this disk in the Fit matrix."""

MIN_WIDTH = 80
MIN_HEIGHT = 24

# Preferred starting model and quantization: a 70B model at Q4_K_M is the workload that
# decides whether a two-card rig is worth having. The first entries the catalog has are used.
START_MODELS = ("llama-3.3-70b", "llama-3.1-70b", "qwen2.5-32b", "llama-3.1-8b")
START_QUANTS = ("q4_k_m", "Q4_K_M", "q4-k-m")


def default_settings(catalog: "Catalog", runtime: str | None = None) -> "Settings":
    """Return settings for a fresh session, from the entries the catalog has."""
    from rigtui.tui.edits import EXAMPLE_RUNTIME
    from rigtui.tui.state import Settings

    model = next((m for m in START_MODELS if m in catalog.models), None)
    if model is None:
        model = min(catalog.models.values(), key=lambda m: abs(m.params_total - 8e9)).id
    quant = next((q for q in START_QUANTS if q in catalog.quants), None) or next(iter(catalog.quants))
    runtime = runtime or (EXAMPLE_RUNTIME if EXAMPLE_RUNTIME in catalog.runtimes else next(iter(catalog.runtimes)))
    return Settings(model=model, quant=quant, runtime=runtime)


RIG_GPU_COLUMNS = (("#", "index"), ("GPU", "gpu"), ("Memory", "memory"), ("PCIe", "pcie"),
                   ("Slot", "slot"), ("In use", "used"), ("Role", "role"))
"""Label and key of each column of the Rig screen's card table."""


class LoadingScreen(Screen[None]):
    """The first screen: the Rig screen's layout, painted while the catalog and GPUs load in a worker.

    It uses the Rig screen's widget ids, so the stylesheet places everything where the Rig
    screen will, and the cards, settings and verdict appear in place once loading ends.
    The Rig screen itself imports the core and pydantic, which would delay this first frame.
    """

    def compose(self) -> ComposeResult:
        from textual.containers import Horizontal, Vertical, VerticalScroll
        from textual.widgets import DataTable, Label

        yield Header(icon="*")
        yield Label("Loading the catalog and looking for GPUs…", id="rig-origin", markup=False)
        yield DataTable(id="gpus", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="rig-lower"):
            with Vertical(id="rig-settings-pane"):
                yield DataTable(id="settings", cursor_type="row", show_header=False)
            with VerticalScroll(id="verdict-pane"):
                yield Static("", id="verdict")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        from textual.widgets import DataTable

        gpus = self.query_one("#gpus", DataTable)
        for label, key in RIG_GPU_COLUMNS:
            gpus.add_column(label, key=key)


class RigApp(App[None]):
    """Explore a rig: change it and see at once which models fit, split how, and how fast."""

    TITLE = "rigtui"
    CSS_PATH = "rigtui.tcss"
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"

    BINDINGS = [
        Binding("1", "show('rig')", "Rig", id="show-rig", tooltip="The rig being explored"),
        Binding("2", "show('fit')", "Fit", id="show-fit", tooltip="Which models fit, at what speed"),
        Binding("3", "show('topology')", "Topology", id="show-topology", tooltip="Slots, links and their costs"),
        Binding("4", "show('runtimes')", "Runtimes", id="show-runtimes", tooltip="Which runtimes work here"),
        Binding("5", "show('telemetry')", "Telemetry", id="show-telemetry", tooltip="Live GPU telemetry"),
        Binding("6", "show('upgrade')", "Upgrade", id="show-upgrade", tooltip="What to buy next"),
        Binding("7", "show('servers')", "Servers", id="show-servers", tooltip="Running servers, measured against predicted speed"),
        Binding("u,ctrl+z", "undo", "Undo", id="undo", tooltip="Undo the last rig or settings change"),
        Binding("ctrl+r,ctrl+y", "redo", "Redo", id="redo", tooltip="Redo the change last undone"),
        Binding("ctrl+s", "save_rig", "Save", id="save-rig", tooltip="Save this rig under a name"),
        Binding("ctrl+o", "open_rig", "Open", id="open-rig", tooltip="Open a saved rig"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key on this screen"),
        Binding("q,ctrl+q", "quit", "Quit", id="quit", tooltip="Leave rigtui"),
    ]

    server_backend: Any = None
    """Where the Servers screen probes and measures; None probes the configured addresses."""

    revision: reactive[int] = reactive(0, init=False)
    """Mirrors ``state.revision``; screens watch it to redraw after any change."""

    def __init__(
        self,
        catalog: "Catalog | None" = None,
        *,
        load: "Callable[[], Startup] | None" = None,
        source: Any = None,
        rig: "Rig | None" = None,
        settings: "Settings | None" = None,
        notices: Sequence[tuple[str, str]] = (),
        rigs_folder: Path | None = None,
        origin: str | None = None,
        unmatched: Sequence[Any] = (),
        local_scan: "Callable[[], LocalScan] | None" = None,
    ) -> None:
        """Build the app from a loaded catalog, or from ``load``, which runs in a worker after the first paint."""
        if (catalog is None) == (load is None):
            raise ValueError("give either a catalog or a load function")
        # Textual reads DEFAULT_MODE while it initialises, so it is set on the instance first.
        self.DEFAULT_MODE = "loading" if load is not None else "rig"
        super().__init__()
        self.load = load
        self.source = source
        self.rigs_folder = rigs_folder
        self.notices: list[tuple[str, str]] = list(notices)
        self.unmatched: list[Any] = list(unmatched)
        """Detected cards that no catalog entry matches (``UnmatchedGpu``), offered on the Rig screen."""
        self.local_scan = local_scan
        """Scanner for models on this disk, run in a worker once the catalog is loaded; None skips the scan."""
        self._too_small: Screen[None] | None = None
        if catalog is not None:
            self._install(catalog, rig, settings, origin or ("Example rig: no GPU was detected" if rig is None else "Rig"))
        else:
            self.add_mode("loading", LoadingScreen)

    def _install(self, catalog: "Catalog", rig: "Rig | None", settings: "Settings | None", origin: str) -> None:
        """Set up the shared state and the screens once the catalog is loaded."""
        from rigtui.tui.compute import CoreService
        from rigtui.tui.edits import example_rig
        from rigtui.tui.state import ExplorerState

        self.catalog = catalog
        self.core = CoreService(catalog)
        self.state = ExplorerState(rig=rig or example_rig(catalog), settings=settings or default_settings(catalog))
        self.origin = origin
        self._register_modes()

    def _register_modes(self) -> None:
        from rigtui.tui.screens.rig import RigScreen

        self.add_mode("rig", RigScreen)
        # The other screens import only when first shown, which keeps start-up short.
        self.add_mode("fit", _lazy_screen("rigtui.tui.screens.fit_matrix", "FitMatrixScreen"))
        self.add_mode("topology", _lazy_screen("rigtui.tui.screens.topology", "TopologyScreen"))
        self.add_mode("runtimes", _lazy_screen("rigtui.tui.screens.runtimes", "RuntimesScreen"))
        if _module_exists("rigtui.tui.screens.telemetry"):
            self.add_mode("telemetry", self._telemetry_screen)
        if _module_exists("rigtui.tui.screens.upgrade"):
            self.add_mode("upgrade", _lazy_screen("rigtui.tui.screens.upgrade", "UpgradeScreen"))
        self.add_mode("servers", _lazy_screen("rigtui.tui.screens.servers", "ServersScreen"))

    def _telemetry_screen(self) -> Screen[Any]:
        from rigtui.tui.screens.telemetry import TelemetryScreen

        return TelemetryScreen(self.source)

    # --- shared state ------------------------------------------------------------------------

    def set_rig(self, rig: "Rig", description: str) -> None:
        """Replace the shared rig (recorded for undo) and redraw every screen."""
        self.state.set_rig(rig, description)
        self.revision = self.state.revision

    def set_settings(self, description: str, **changes: Any) -> None:
        """Change workload settings by name (recorded for undo) and redraw every screen."""
        self.state.set_settings(description, **changes)
        self.revision = self.state.revision

    def set_rig_and_settings(self, rig: "Rig", settings: "Settings", description: str) -> None:
        self.state.set_both(rig, settings, description)
        self.revision = self.state.revision

    def origin_text(self) -> str:
        """Return where the rig came from, and whether it has been edited since."""
        edited = " · edited" if self.state.can_undo else ""
        return f"{self.origin}{edited}"

    def workload(self, **overrides: Any) -> Any:
        return self.state.workload(self.catalog, **overrides)

    # --- lifecycle ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._check_size()
        if self.load is not None:
            self.call_after_refresh(self._load_in_background)
        else:
            self._show_notices()
            self._start_local_scan()

    @work(thread=True, exclusive=True, group="startup", description="load the catalog and detect GPUs")
    def _load_in_background(self) -> None:
        from rigtui.tui.startup import StartupFailed

        assert self.load is not None
        try:
            startup = self.load()
        except StartupFailed as failure:
            self.call_from_thread(self._fail, failure.title, failure.message, failure.exit_code)
            return
        # Importing the Rig screen here, off the event loop, leaves the loop free to handle
        # keys such as q meanwhile and shortens the switch to the Rig screen.
        import rigtui.tui.screens.rig  # noqa: F401

        self.call_from_thread(self._started, startup)

    def _fail(self, title: str, message: str, code: int) -> None:
        from rich.panel import Panel

        self.exit(return_code=code, message=Panel(message, title=title, title_align="left", border_style="red"))

    def _started(self, startup: "Startup") -> None:
        self.source = startup.source
        self.notices.extend(startup.notices)
        self.unmatched = list(startup.unmatched)
        self._install(startup.catalog, startup.rig, startup.settings, startup.origin or "Rig")
        self.switch_mode("rig")
        self._show_notices()
        self._start_local_scan()

    def _show_notices(self) -> None:
        for title, message in self.notices:
            self.notify(message, title=title, severity="warning", timeout=12, markup=False)
        for where, problems in group_catalog_problems(self.catalog.problems).items():
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            self.notify(
                f"{count} in {where}; first: {problems[0]}; run `rigtui catalog check` for the full list.",
                title="User catalog entries skipped",
                severity="warning",
                timeout=12,
                markup=False,
            )

    def _start_local_scan(self) -> None:
        if self.local_scan is not None:
            self._scan_local_models()

    @work(thread=True, exclusive=True, group="local-models", description="find models on this disk")
    def _scan_local_models(self) -> None:
        assert self.local_scan is not None
        try:
            scan = self.local_scan()
        except Exception as exc:  # noqa: BLE001 - a scan bug must not take the explorer down
            log.warning("local model scan failed", exc_info=True)
            self.call_from_thread(
                self.notify,
                f"Looking for models on this disk failed: {type(exc).__name__}: {exc}. "
                "Run `rigtui local` to see the error in full.",
                title="Local model scan failed",
                severity="error",
                markup=False,
            )
            return
        self.call_from_thread(self.add_local_models, scan)

    def add_local_models(self, scan: "LocalScan") -> None:
        """Add the models a scan found to the catalog, so the Fit matrix shows them, and notify problems."""
        from dataclasses import replace

        from rigtui.sources.local import catalog_entries

        entries, problems = catalog_entries(scan, self.catalog)
        if entries:
            models = dict(self.catalog.models)
            models.update({entry.spec.id: entry.spec for entry in entries})
            self.catalog = replace(self.catalog, models=models)
            self.core.catalog = self.catalog
            self.state.add_local_files(
                {entry.spec.id: (str(entry.model.path), entry.quant) for entry in entries},
                {entry.spec.id: entry.weights for entry in entries if entry.weights is not None},
            )
            self.revision = self.state.revision
            count = f"{len(entries)} model{'s' if len(entries) != 1 else ''}"
            self.notify(
                f"Found {count} on this disk. The Fit matrix marks them with {LOCAL_MARK}; d shows only them.",
                title="Models on this disk",
                timeout=6,
                markup=False,
            )
        if problems:
            count = f"{len(problems)} model file{'s' if len(problems) != 1 else ''}"
            self.notify(
                f"{count} on this disk could not be used; first: {problems[0]}. Run `rigtui local` for the list.",
                title="Local models skipped",
                severity="warning",
                timeout=12,
                markup=False,
            )
        if scan.limit:
            self.notify(
                f"The search for models on this disk {scan.limit}. Set RIGTUI_SCAN_DIRS to the folders "
                "you keep models in, and RIGTUI_SCAN_DEFAULTS=0 to skip the default ones.",
                title="Local model scan incomplete",
                severity="warning",
                timeout=12,
                markup=False,
            )

    def add_typed_model(self, text: str, found: Any) -> tuple[str, str | None]:
        """Add a model resolved from a typed repo id, GGUF path or URL to the session's catalog.

        A GGUF file joins like a model found on this disk, so its exact tensor sizes are used.
        Returns the new model id and the catalog quant id of the file (None when unknown).
        """
        import hashlib
        from dataclasses import replace

        from rigtui.core.catalog import NameNotFound, normalize_name

        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        spec = found.spec.model_copy(
            update={"id": f"local-{normalize_name(found.spec.name)[:40]}-{digest}", "aliases": []}
        )
        self.catalog = replace(self.catalog, models={**self.catalog.models, spec.id: spec})
        self.core.catalog = self.catalog
        quant = None
        if found.file_type:
            try:
                quant = self.catalog.quant(found.file_type)
            except NameNotFound:
                quant = None
        quant_id = quant.id if quant is not None and quant.format == "gguf" else None
        if quant_id is not None:
            path = found.launch_path or (text if "://" in text else str(Path(text).expanduser()))
            weights = replace(found.weights, model_id=spec.id, quant_id=quant_id) if found.weights else None
            self.state.add_local_files({spec.id: (path, quant_id)}, {spec.id: weights} if weights else {})
            self.revision = self.state.revision
        return spec.id, quant_id

    def on_resize(self, event: events.Resize) -> None:
        # self.size is still the old size while this handler runs.
        self._check_size(event.size)

    def _check_size(self, size: Size | None = None) -> None:
        from rigtui.tui.screens.help import TooSmallScreen

        width, height = size or self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if small and self._too_small is None:
            self._too_small = TooSmallScreen(MIN_WIDTH, MIN_HEIGHT)
            self.push_screen(self._too_small)
        elif small and self._too_small is not None:
            self._too_small.refresh_size(width, height)
        elif not small and self._too_small is not None:
            screen, self._too_small = self._too_small, None
            if screen.is_current:
                screen.dismiss()

    # --- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keep the rig actions off the loading screen, where there is no rig yet."""
        if action in NEEDS_RIG and not hasattr(self, "state"):
            return False
        return True

    def action_show(self, mode: str) -> None:
        if mode not in self._modes:
            reason = {
                "telemetry": "no GPU telemetry source is open; start rigtui on the machine with the GPUs, "
                "or with --demo",
                "upgrade": "the upgrade planner is not installed in this build",
            }.get(mode, "this screen is not available")
            self.notify(reason, title="Screen not available", severity="warning")
            return
        self.switch_mode(mode)

    def action_undo(self) -> None:
        undone = self.state.undo()
        if undone is None:
            self.notify("Nothing to undo.", severity="information", timeout=2)
            return
        self.revision = self.state.revision
        self.notify(f"Undid: {undone}", timeout=2, markup=False)

    def action_redo(self) -> None:
        redone = self.state.redo()
        if redone is None:
            self.notify("Nothing to redo.", severity="information", timeout=2)
            return
        self.revision = self.state.revision
        self.notify(f"Redid: {redone}", timeout=2, markup=False)

    def action_help(self) -> None:
        from rigtui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_save_rig(self) -> None:
        from rigtui.tui.rigs import check_name
        from rigtui.tui.widgets.dialogs import Prompt

        def valid(text: str) -> str | None:
            try:
                check_name(text)
            except RigtuiError as exc:
                return exc.message
            return None

        name = self.state.rig.name if self.state.rig.name not in ("rig", "example") else ""
        self.push_screen(Prompt("Save rig as", name, "a name such as 'office'", valid), self._save_as)

    def _save_as(self, name: str | None) -> None:
        from rigtui.tui.rigs import save_rig

        if not name:
            return
        try:
            path = save_rig(name, self.state.rig, self.state.settings, self.rigs_folder)
        except OSError as exc:
            self.notify(
                f"Could not write the rig file: {exc.strerror or exc}. The previous file, if any, is unchanged.",
                title="Save failed",
                severity="error",
                markup=False,
            )
            return
        self.notify(f"Saved to {path}", title="Rig saved", markup=False)

    def action_open_rig(self) -> None:
        from rigtui.tui.rigs import list_rigs
        from rigtui.tui.widgets.dialogs import Choice, Picker

        names = list_rigs(self.rigs_folder)
        if not names:
            self.notify("No saved rigs yet; save one with ctrl+s.", title="Open rig", severity="warning")
            return
        self.push_screen(Picker("Open saved rig", [Choice(n, n) for n in names]), self.open_rig)

    def open_rig(self, name: str | None) -> None:
        """Load a saved rig by name into the shared state, or notify why it failed."""
        from rigtui.tui.rigs import load_rig

        if not name:
            return
        try:
            rig, settings = load_rig(name, self.catalog, self.state.settings, self.rigs_folder)
        except RigtuiError as exc:
            self.notify(f"{exc.message}. The current rig stays open.", title=exc.title, severity="error", markup=False)
            return
        self.set_rig_and_settings(rig, settings, f"open rig {name}")
        self.notify(f"Opened rig {name}.", timeout=3, markup=False)

    # --- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Offer every key binding active on ``screen`` as a palette command, then the defaults."""
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            # Widgets' own navigation keys (cursor up, page down) have no id and are not shown.
            if not binding.description or not (binding.show or binding.id) or binding.action in seen:
                continue
            seen.add(binding.action)
            title = binding.tooltip and f"{binding.description}: {binding.tooltip}" or binding.description
            # The display form ("]", "+") is what the footer and help show, not the key name.
            yield SystemCommand(
                title,
                f"key {self.get_key_display(binding)}",
                _action_callback(active.node, binding.action),
            )
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit",):
                yield command


def group_catalog_problems(problems: Iterable[str]) -> dict[str, list[str]]:
    """Group user catalog problems by the file they name, so each file gets one notification.

    The loader starts each problem with "PATH: "; problems without a TOML path are grouped
    under "the user catalog".
    """
    groups: dict[str, list[str]] = {}
    for problem in problems:
        where, _, rest = problem.partition(": ")
        if not where.endswith(".toml") or not rest:
            where, rest = "the user catalog", problem
        groups.setdefault(where, []).append(rest)
    return groups


def _action_callback(node: Any, action: str) -> Any:
    async def run() -> None:
        await node.run_action(action)

    return run


def _lazy_screen(module: str, name: str) -> Callable[[], Screen[Any]]:
    """Return a mode factory that imports the screen's module the first time the mode is shown."""

    def build() -> Screen[Any]:
        import importlib

        return getattr(importlib.import_module(module), name)()  # type: ignore[no-any-return]

    return build


def _module_exists(module: str) -> bool:
    """True when another part of rigtui that provides a screen is installed, without importing it."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


def make_app(
    catalog: "Catalog",
    *,
    source: Any = None,
    rig: "Rig | None" = None,
    settings: "Settings | None" = None,
    notices: Sequence[tuple[str, str]] = (),
    rigs_folder: Path | None = None,
    origin: str | None = None,
    unmatched: Sequence[Any] = (),
    local_scan: "Callable[[], LocalScan] | None" = None,
) -> RigApp:
    """Build the app from explicit inputs; the CLI and the tests both use this.

    Args:
        catalog: the loaded catalogs.
        source: a telemetry source for the live screen, or None to leave it out.
        rig: the rig to start on; None starts on the example rig.
        settings: the workload settings to start with; None picks defaults from the catalog.
        notices: (title, message) pairs shown as notifications once the app starts.
        rigs_folder: where named rigs are saved; None means the user's data folder.
        origin: a line saying where the rig came from (detected, saved, example).
        unmatched: detected cards no catalog entry matches (``UnmatchedGpu``); the Rig screen
            lists them and lets the user pick their catalog entry.
        local_scan: finds models on this disk (``rigtui.sources.local.scan_local_models``);
            it runs in a worker after start-up. None, as in tests, scans nothing.
    """
    return RigApp(
        catalog,
        source=source,
        rig=rig,
        settings=settings,
        notices=notices,
        rigs_folder=rigs_folder,
        origin=origin,
        unmatched=unmatched,
        local_scan=local_scan,
    )
