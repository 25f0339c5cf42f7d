"""Machine and workload settings: their keys, how each is shown, and the actions that change them.

A mixin, so the Rig screen lists them all and other screens (Runtimes) reuse the same
actions: switching the runtime anywhere goes through ``change_runtime``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

from textual.binding import Binding

from rigtui.core.rig import GIB, SPLITS
from rigtui.tui import edits
from rigtui.tui.widgets.dialogs import Busy, Choice, Picker, Prompt, number_check, parse_tokens, tokens_check
from rigtui.tui.widgets.format import context_label, gib, params_label

if TYPE_CHECKING:
    from rigtui.tui.app import RigApp

MIN_CONTEXT = 512
MAX_CONTEXT = 1 << 21


RESOLVE_TIMEOUT_S = 10.0
"""Seconds without a response before reading a typed repo id or GGUF URL fails."""


def looks_like_source(text: str) -> bool:
    """Return True when picker text names a repo id, a GGUF file or a URL rather than a catalog model."""
    return "/" in text or "\\" in text or text.lower().endswith(".gguf")


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    action: str
    show: Callable[["RigApp"], str]


def _runtime(app: "RigApp") -> Any:
    return app.catalog.runtimes[app.state.settings.runtime]


SETTINGS: tuple[Setting, ...] = (
    Setting("os", "OS", "set_os", lambda a: a.state.rig.os.name),
    Setting("desktop", "Display", "toggle_desktop",
            lambda a: "desktop on GPU 0" if any(g.desktop for g in a.state.rig.gpus) else "headless"),
    Setting("ram", "CPU RAM", "set_ram", lambda a: gib(a.state.rig.cpu_ram_bytes, 0)),
    Setting("ram_bw", "RAM bandwidth", "set_ram_bandwidth", lambda a: f"{a.state.rig.cpu_ram_bandwidth_gbs:g} GB/s"),
    Setting("psu", "PSU", "set_psu", lambda a: f"{a.state.rig.psu_w} W" if a.state.rig.psu_w else "unknown"),
    Setting("runtime", "Runtime", "set_runtime", lambda a: _runtime(a).name),
    Setting("model", "Model", "set_model", lambda a: a.catalog.models[a.state.settings.model].name),
    Setting("quant", "Quantization", "set_quant", lambda a: a.catalog.quants[a.state.settings.quant].name),
    Setting("context", "Context", "set_context", lambda a: f"{a.state.settings.context:,} tokens"),
    Setting("kv", "KV cache", "cycle_kv", lambda a: a.state.settings.kv_cache),
    Setting("flash", "Flash attn", "toggle_flash", lambda a: "on" if a.state.settings.flash_attn else "off"),
    Setting("split", "Split", "cycle_split", lambda a: a.state.settings.split),
)


def split_choices(runtime: Any) -> list[str]:
    """'auto' and the runtime's split strategies that a placement can be asked for."""
    return ["auto"] + [s for s in runtime.split_strategies if s in SPLITS and s != "auto"]


def quant_choices(app: "RigApp", runtime: Any) -> list[Any]:
    """Quantizations the runtime loads, highest bits per weight first."""
    quants = [q for q in app.catalog.quants.values() if q.format in runtime.quant_formats]
    return sorted(quants, key=lambda q: (-q.bits_per_weight, q.name))


def adapt_to_runtime(app: "RigApp", runtime: Any) -> dict[str, Any]:
    """Settings changes that make the current quant, KV cache and split valid for ``runtime``.

    A quantization the runtime cannot load becomes the loadable one with the closest bits
    per weight. An unknown KV cache type becomes the runtime's first, and an unknown split
    becomes auto. Returns only the fields that change.
    """
    settings = app.state.settings
    changes: dict[str, Any] = {}
    quants = quant_choices(app, runtime)
    current = app.catalog.quants[settings.quant]
    if current.format not in runtime.quant_formats and quants:
        changes["quant"] = min(quants, key=lambda q: abs(q.bits_per_weight - current.bits_per_weight)).id
    if settings.kv_cache not in runtime.kv_cache_types and runtime.kv_cache_types:
        changes["kv_cache"] = runtime.kv_cache_types[0]
    if settings.split not in split_choices(runtime):
        changes["split"] = "auto"
    return changes


class SettingsActions:
    """Actions over the rig-wide and workload settings, for any explorer screen."""

    SETTINGS_BINDINGS = [
        Binding("o", "set_os", "OS", id="set-os", tooltip="Operating system"),
        Binding("h", "toggle_desktop", "Desktop", id="toggle-desktop", tooltip="Desktop on GPU 0, or headless"),
        Binding("r", "set_ram", "RAM", id="set-ram", tooltip="CPU RAM, GiB"),
        Binding("b", "set_ram_bandwidth", "RAM GB/s", id="set-ram-bandwidth", tooltip="CPU RAM bandwidth, GB/s"),
        Binding("p", "set_psu", "PSU", id="set-psu", tooltip="Power supply rating, W"),
        Binding("t", "set_runtime", "Runtime", id="set-runtime", tooltip="Inference runtime"),
        Binding("s", "set_model", "Model", id="set-model", tooltip="Model for the verdict and details"),
        Binding("w", "set_quant", "Quant", id="set-quant", tooltip="Weight quantization"),
        Binding("e", "set_context", "Context", id="set-context", tooltip="Context length, tokens"),
        Binding("left_square_bracket", "scale_context(0.5)", "Ctx ÷2", id="halve-context", tooltip="Halve the context"),
        Binding("right_square_bracket", "scale_context(2)", "Ctx ×2", id="double-context", tooltip="Double the context"),
        Binding("k", "cycle_kv", "KV type", id="cycle-kv", tooltip="Next KV cache type"),
        Binding("f", "toggle_flash", "Flash attn", id="toggle-flash", tooltip="Flash attention on or off"),
        Binding("v", "cycle_split", "Split", id="cycle-split", tooltip="Next split strategy"),
    ]

    app: Any

    @property
    def _app(self) -> "RigApp":
        return self.app  # type: ignore[no-any-return]

    # --- machine -----------------------------------------------------------------------------

    def action_set_os(self) -> None:
        rig = self._app.state.rig
        choices = [Choice(o.id, o.name, "WDDM" if o.wddm else "") for o in self._app.catalog.oses.values()]

        def chosen(os_id: str | None) -> None:
            if os_id and os_id != rig.os.id:
                spec = self._app.catalog.oses[os_id]
                self._app.set_rig(replace(self._app.state.rig, os=spec), f"set OS to {spec.name}")

        self._app.push_screen(Picker("Operating system", choices, rig.os.id), chosen)

    def action_toggle_desktop(self) -> None:
        rig = self._app.state.rig
        desktop = not any(g.desktop for g in rig.gpus)
        self._app.set_rig(edits.set_desktop(rig, desktop), "run a desktop on GPU 0" if desktop else "run headless")

    def _ask_number(self, title: str, value: float, low: float, high: float, unit: str,
                    apply: Callable[[float], None], hint: str = "") -> None:
        def chosen(text: str | None) -> None:
            if text is not None:
                apply(float(text))

        self._app.push_screen(Prompt(title, f"{value:g}", hint, number_check(low, high, unit)), chosen)

    def action_set_ram(self) -> None:
        rig = self._app.state.rig
        self._ask_number(
            "CPU RAM, GiB", rig.cpu_ram_bytes / GIB, 1, 8192, "GiB",
            lambda v: self._app.set_rig(replace(self._app.state.rig, cpu_ram_bytes=edits.gib(v)),
                                        f"set CPU RAM to {v:g} GiB"),
        )

    def action_set_ram_bandwidth(self) -> None:
        rig = self._app.state.rig
        self._ask_number(
            "CPU RAM bandwidth, GB/s", rig.cpu_ram_bandwidth_gbs, 1, 2000, "GB/s",
            lambda v: self._app.set_rig(replace(self._app.state.rig, cpu_ram_bandwidth_gbs=v),
                                        f"set RAM bandwidth to {v:g} GB/s"),
            "dual-channel DDR5-5200 is 83.2 GB/s: channels × 8 bytes × MT/s",
        )

    def action_set_psu(self) -> None:
        rig = self._app.state.rig

        def apply(value: float) -> None:
            watts = int(value) or None
            self._app.set_rig(replace(self._app.state.rig, psu_w=watts),
                              f"set PSU to {watts} W" if watts else "set PSU to unknown")

        self._ask_number("PSU rating, W (0 for unknown)", rig.psu_w or 0, 0, 5000, "W", apply)

    # --- workload ----------------------------------------------------------------------------

    def action_set_runtime(self) -> None:
        catalog = self._app.catalog
        choices = [Choice(r.id, r.name, r.engine) for r in catalog.runtimes.values()]
        self._app.push_screen(Picker("Runtime", choices, self._app.state.settings.runtime), self.change_runtime)

    def change_runtime(self, runtime_id: str | None) -> None:
        """Switch runtime; quant, KV cache and split follow when the new runtime lacks them."""
        app = self._app
        settings = app.state.settings
        if not runtime_id or runtime_id == settings.runtime:
            return
        runtime = app.catalog.runtimes[runtime_id]
        changes: dict[str, Any] = {"runtime": runtime_id, **adapt_to_runtime(app, runtime)}
        notes = [
            f"{field} {getattr(settings, field)} → {changes[field]}"
            for field in ("quant", "kv_cache", "split")
            if field in changes
        ]
        app.set_settings(f"set runtime to {runtime.name}", **changes)
        if notes:
            app.notify(f"{runtime.name} does not take the previous " + "; ".join(notes) + ".",
                       title="Settings adjusted", timeout=5)

    def action_set_model(self) -> None:
        models = sorted(self._app.catalog.models.values(), key=lambda m: (m.family, m.params_total))
        choices = [
            Choice(m.id, m.name, f"{m.family} · {params_label(m.params_total)}" + (" · MoE" if m.is_moe else ""))
            for m in models
        ]

        def chosen(model_id: str | None) -> None:
            if model_id in self._app.catalog.models:
                self.choose_model(model_id)
            elif model_id:
                self.resolve_typed_model(model_id)

        self._app.push_screen(
            Picker("Model", choices, self._app.state.settings.model, take_text=looks_like_source), chosen
        )

    def resolve_typed_model(self, text: str) -> None:
        """Read a typed repo id, GGUF path or URL in a worker, and show its progress until Escape cancels it."""
        from rigtui.core.catalog import NameNotFound
        from rigtui.errors import RigtuiError
        from rigtui.sources.models import resolve_model

        app = self._app
        cancel = threading.Event()
        busy = Busy(f"Reading {text}", cancel)

        def report(progress: Any) -> None:
            total = f" of {progress.total_bytes:,}" if progress.total_bytes else ""
            app.call_from_thread(busy.report, f"{progress.step}: {progress.done_bytes:,}{total} bytes")

        def run() -> None:
            try:
                found = resolve_model(text, app.catalog, timeout=RESOLVE_TIMEOUT_S, progress=report, cancel=cancel)
            except (RigtuiError, NameNotFound, OSError) as exc:
                app.call_from_thread(self._typed_model_failed, text, exc, cancel, busy)
                return
            app.call_from_thread(self._typed_model_found, text, found, cancel, busy)

        app.push_screen(busy, lambda _: self._typed_model_cancelled(text, cancel))
        app.run_worker(run, thread=True, group="typed-model", description=f"read model {text}")

    def _typed_model_cancelled(self, text: str, cancel: threading.Event) -> None:
        if cancel.is_set():
            self._app.notify(f"Reading {text} cancelled; the model is unchanged.", title="Model", timeout=4,
                             markup=False)

    def _close_busy(self, busy: Any) -> bool:
        """Close the progress dialog; False when the user already cancelled."""
        if busy.cancel.is_set():
            return False
        if busy.is_attached:
            busy.dismiss(None)
        return True

    def _typed_model_failed(self, text: str, exc: Exception, cancel: threading.Event, busy: Any) -> None:
        if not self._close_busy(busy):
            return
        message = str(exc).strip()
        if not message.endswith((".", "?", "!")):
            message += "."
        self._app.notify(f"{message} The model is unchanged.", title=getattr(exc, "title", "Model not found"),
                         severity="error", timeout=10, markup=False)

    def _typed_model_found(self, text: str, found: Any, cancel: threading.Event, busy: Any) -> None:
        if not self._close_busy(busy):
            return
        if found.origin == "catalog":
            self.choose_model(found.spec.id)
            return
        model_id, quant_id = self._app.add_typed_model(text, found)
        changes = {"model": model_id} | ({"quant": quant_id} if quant_id else {})
        self._app.set_settings(f"set model to {found.spec.name}", **changes)

    def choose_model(self, model_id: str) -> None:
        model = self._app.catalog.models[model_id]
        self._app.set_settings(f"set model to {model.name}", model=model_id)

    def action_set_quant(self) -> None:
        runtime = self._app.catalog.runtimes[self._app.state.settings.runtime]
        choices = [Choice(q.id, q.name, f"{q.bits_per_weight:g} bpw · {q.format}") for q in quant_choices(self._app, runtime)]

        def chosen(quant_id: str | None) -> None:
            if quant_id:
                name = self._app.catalog.quants[quant_id].name
                self._app.set_settings(f"set quantization to {name}", quant=quant_id)

        self._app.push_screen(Picker(f"Quantization ({runtime.name})", choices, self._app.state.settings.quant), chosen)

    def action_set_context(self) -> None:
        def chosen(text: str | None) -> None:
            if text is not None:
                tokens = parse_tokens(text)
                self._app.set_settings(f"set context to {context_label(tokens)}", context=tokens)

        current = context_label(self._app.state.settings.context)
        self._app.push_screen(
            Prompt("Context length, tokens", current, "such as 8192, 32k or 1M; k = 1,024 tokens, M = 1,024k",
                   tokens_check(MIN_CONTEXT, MAX_CONTEXT)),
            chosen,
        )

    def action_scale_context(self, factor: float) -> None:
        context = int(self._app.state.settings.context * factor)
        if not MIN_CONTEXT <= context <= MAX_CONTEXT:
            self._app.notify(f"Context stays between {MIN_CONTEXT:,} and {MAX_CONTEXT:,} tokens.", severity="warning")
            return
        self._app.set_settings(f"set context to {context_label(context)}", context=context)

    def action_cycle_kv(self) -> None:
        settings = self._app.state.settings
        types = list(self._app.catalog.runtimes[settings.runtime].kv_cache_types) or ["f16"]
        following = types[(types.index(settings.kv_cache) + 1) % len(types)] if settings.kv_cache in types else types[0]
        self._app.set_settings(f"set KV cache to {following}", kv_cache=following)

    def action_toggle_flash(self) -> None:
        flash = not self._app.state.settings.flash_attn
        self._app.set_settings(f"turn flash attention {'on' if flash else 'off'}", flash_attn=flash)

    def action_cycle_split(self) -> None:
        settings = self._app.state.settings
        splits = split_choices(self._app.catalog.runtimes[settings.runtime])
        following = splits[(splits.index(settings.split) + 1) % len(splits)] if settings.split in splits else "auto"
        self._app.set_settings(f"set split to {following}", split=following)
