"""The Rig screen: the cards, the machine and the workload settings, with the verdict beside them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, Static

from rigtui.core.rig import GIB
from rigtui.tui import edits
from rigtui.tui.compute import Failed
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.screens.settings import SETTINGS, SettingsActions
from rigtui.tui.widgets.dialogs import Choice, Picker, Prompt, number_check
from rigtui.tui.widgets.format import gib, gib_bare, pcie_label
from rigtui.tui.widgets.verdict import render_compat, render_fit, render_power, render_verdict_facts


SETTING_VALUE_WIDTH = 20
"""Characters of a setting's value shown at 80 columns; longer values end in an ellipsis."""
SETTING_VALUE_WIDE = 30


def identified_gpu(info: Any, spec: Any, os_spec: Any) -> Any:
    """Build the rig card for a detected card the user matched to ``spec`` by hand.

    The slot's PCIe link and the memory other processes use come from detection, as they do
    for cards the catalog matched on its own.
    """
    # The detection module owns the rule for memory in use, so the rule is reused, not copied.
    from rigtui.hardware.detect import _used_bytes
    from rigtui.core.rig import RigGpu

    desktop = bool(info.display_active) or any(p.kind == "graphics" for p in info.processes)
    return RigGpu(
        spec=spec,
        # The picked entry may be a guess, so the link is capped at what that card supports.
        pcie_gen=min(info.pcie_gen_max or spec.pcie_gen, spec.pcie_gen),
        pcie_lanes=min(info.pcie_width_max or spec.pcie_lanes, spec.pcie_lanes),
        via_chipset=bool(info.via_chipset),
        used_bytes=_used_bytes(info, desktop, os_spec, []),
        desktop=desktop,
        uuid=info.uuid or None,
    )


class GpuTable(DataTable[Any]):
    """The rig's cards in slot order; its keys edit the card under the cursor."""

    BINDINGS = [
        Binding("a", "screen.add_gpu", "Add card", id="add-gpu", tooltip="Add a card from the catalog"),
        Binding("x,delete", "screen.remove_gpu", "Remove", id="remove-gpu", tooltip="Remove this card"),
        Binding("d", "screen.duplicate_gpu", "Duplicate", id="duplicate-gpu", tooltip="Add another of this card"),
        Binding("plus,equals_sign", "screen.count(1)", "Count +1", id="count-up", tooltip="One more card of this model"),
        Binding("minus", "screen.count(-1)", "Count -1", id="count-down", tooltip="One fewer card of this model"),
        Binding("g", "screen.cycle_gen", "PCIe gen", id="cycle-gen", tooltip="Next PCIe generation for this slot"),
        Binding("l", "screen.cycle_lanes", "Lanes", id="cycle-lanes", tooltip="Next lane count for this slot"),
        Binding("c", "screen.toggle_chipset", "Chipset", id="toggle-chipset", tooltip="Slot on chipset or CPU lanes"),
        Binding("m", "screen.set_used", "In use", id="set-used", tooltip="Memory other programs already use"),
        Binding("n", "screen.toggle_nvlink", "NVLink", id="toggle-nvlink", tooltip="Bridge this card to the next"),
        # Off the crowded footer: the unknown card's own row names the key.
        Binding("i", "screen.identify_gpu", "Identify", id="identify-gpu", show=False,
                tooltip="Catalog entry for an unknown card"),
    ]


class SettingsTable(DataTable[Any]):
    """The machine and workload settings; enter edits the row under the cursor."""

    BINDINGS = [Binding("enter", "screen.edit_setting", "Edit", id="edit-setting", tooltip="Change this setting")]


class RigScreen(SettingsActions, ExplorerScreen):
    """The rig being explored, every edit to it, and why it works or not for the chosen model."""

    HELP_TITLE = "Rig"
    HELP = (
        "The rig starts from the detected GPUs, or from an example rig when none is found. "
        "Tab moves between the card list and the settings. Every edit can be undone with u."
    )
    BINDINGS = [
        Binding("tab", "app.focus_next", "Next pane", show=False),
        *SettingsActions.SETTINGS_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        yield Label("", id="rig-origin", markup=False)
        yield GpuTable(id="gpus", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="rig-lower"):
            with Vertical(id="rig-settings-pane"):
                yield SettingsTable(id="settings", cursor_type="row", show_header=False)
            with VerticalScroll(id="verdict-pane"):
                yield Static("", id="verdict")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        from rigtui.tui.app import RIG_GPU_COLUMNS

        gpus = self.query_one(GpuTable)
        for label, key in RIG_GPU_COLUMNS:
            gpus.add_column(label, key=key)
        settings = self.query_one(SettingsTable)
        settings.add_column("Setting", key="name")
        settings.add_column("Value", key="value")
        super().on_mount()
        gpus.focus()

    # --- drawing -----------------------------------------------------------------------------

    def redraw(self) -> None:
        state = self.rig_app.state
        rig = state.rig
        self.query_one("#rig-origin", Label).update(self.rig_app.origin_text())
        table = self.query_one(GpuTable)
        row = table.cursor_row
        table.clear()
        for i, gpu in enumerate(rig.gpus):
            role = []
            if gpu.desktop:
                role.append("desktop")
            role += [f"NVLink↔{b if a == i else a}" for a, b in sorted(rig.nvlink_pairs) if i in (a, b)]
            table.add_row(
                str(i),
                Text(gpu.name, overflow="ellipsis", no_wrap=True),
                gib(gpu.spec.memory_bytes, 0),
                pcie_label(gpu.pcie_gen, gpu.pcie_lanes),
                "chipset" if gpu.via_chipset else "CPU",
                gib_bare(gpu.used_bytes) if gpu.used_bytes else "–",
                " ".join(role) or "–",
                key=str(i),
            )
        for unknown in self.unknown_gpus():
            info = unknown.info
            table.add_row(
                Text(f"?{info.index}", style="yellow"),
                Text(f"{info.name} (unknown)", style="yellow", overflow="ellipsis", no_wrap=True),
                gib(info.mem_total_bytes, 0),
                pcie_label(info.pcie_gen_max, info.pcie_width_max) if info.pcie_gen_max and info.pcie_width_max else "–",
                "–",
                gib_bare(info.mem_used_bytes) if info.mem_used_bytes else "–",
                Text("press i", style="yellow"),
                key=f"unknown-{info.index}",
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self._draw_settings()
        self.query_one("#verdict", Static).update(Text("computing…", style="dim"))
        self._compute_verdict(rig, state.settings)

    def _draw_settings(self) -> None:
        table = self.query_one(SettingsTable)
        row = table.cursor_row
        table.clear()
        width = SETTING_VALUE_WIDE if self.has_class("-wide") else SETTING_VALUE_WIDTH
        for setting in SETTINGS:
            value = setting.show(self.rig_app)
            if len(value) > width:
                value = value[: width - 1] + "…"
            table.add_row(setting.label, value, key=setting.key)
        table.move_cursor(row=row)

    @work(thread=True, exclusive=True, group="rig-verdict", description="verdict for the rig screen")
    def _compute_verdict(self, rig: Any, settings: Any) -> None:
        app = self.rig_app
        core = app.core
        text = Text()
        try:
            workload = app.state.workload(app.catalog) if app.state.rig is rig else None
        except KeyError as exc:
            workload = None
            text.append(f"Setting refers to a missing catalog entry: {exc}\n", style="red")
        if workload is not None:
            model = workload.model
            render_fit(
                text,
                core.fit(rig, workload),
                f"{model.name} · {workload.quant.name} · {settings.context:,} ctx",
                model.max_context,
            )
            verdict = core.verdict(rig, workload)
            if isinstance(verdict, Failed):
                # Without the verdict rules, show the facts the other core modules give.
                render_compat(text, core.compat(rig, workload.runtime.id, workload))
                power = core.power(rig)
                if not isinstance(power, Failed):
                    render_power(text, power[0], power[1])
            else:
                render_verdict_facts(text, verdict)
        self.app.call_from_thread(self._show_verdict, rig, text)

    def _show_verdict(self, rig: Any, text: Text) -> None:
        if rig is self.rig_app.state.rig:
            self.query_one("#verdict", Static).update(text)

    # --- card edits --------------------------------------------------------------------------

    @property
    def selected(self) -> int | None:
        rig = self.rig_app.state.rig
        if not rig.gpus:
            return None
        return min(self.query_one(GpuTable).cursor_row, len(rig.gpus) - 1)

    def unknown_gpus(self) -> list[Any]:
        """Return the detected cards without a catalog entry that are not in the rig yet.

        A card leaves the list once its UUID is in the rig, so undoing the identification
        lists it again.
        """
        in_rig = {gpu.uuid for gpu in self.rig_app.state.rig.gpus if gpu.uuid}
        return [u for u in self.rig_app.unmatched if not (u.info.uuid and u.info.uuid in in_rig)]

    def _unknown_at_cursor(self) -> Any | None:
        """Return the unknown card under the cursor, or None when the cursor is on a rig card."""
        offset = self.query_one(GpuTable).cursor_row - len(self.rig_app.state.rig.gpus)
        unknown = self.unknown_gpus()
        return unknown[offset] if 0 <= offset < len(unknown) else None

    def _reject_unknown(self) -> bool:
        """Notify and return True when the cursor is on an unknown card, which card edits skip."""
        unknown = self._unknown_at_cursor()
        if unknown is None:
            return False
        self.notify(
            f"GPU {unknown.info.index} is not in the catalog yet; press i to pick its catalog entry first.",
            severity="warning",
            markup=False,
        )
        return True

    def _edit(self, change: Any, description: str) -> None:
        try:
            rig = change(self.rig_app.state.rig)
        except ValueError as exc:
            self.notify(f"{exc}. The rig is unchanged.", title="Edit not possible", severity="warning", markup=False)
            return
        self.rig_app.set_rig(rig, description)

    def action_add_gpu(self) -> None:
        choices = [
            Choice(g.id, g.name, f"{gib(g.memory_bytes, 0)} · {g.bandwidth_gbs:.0f} GB/s · {g.tdp_w} W")
            for g in sorted(self.rig_app.catalog.gpus.values(), key=lambda g: (g.vendor, g.name))
        ]
        self.app.push_screen(Picker("Add a card", choices), self._add_chosen)

    def _add_chosen(self, gpu_id: str | None) -> None:
        if gpu_id:
            spec = self.rig_app.catalog.gpus[gpu_id]
            self._edit(lambda rig: edits.add_gpu(rig, spec), f"add {spec.name}")
            table = self.query_one(GpuTable)
            table.move_cursor(row=table.row_count - 1)

    def _card_edit(self, make: Any, verb: str) -> None:
        if self._reject_unknown():
            return
        index = self.selected
        if index is None:
            self.notify("The rig has no cards; add one with a.", severity="warning")
            return
        name = self.rig_app.state.rig.gpus[index].name
        self._edit(lambda rig: make(rig, index), f"{verb} GPU {index} ({name})")

    def action_remove_gpu(self) -> None:
        if self._reject_unknown():
            return
        if len(self.rig_app.state.rig.gpus) <= 1:
            self.notify("A rig needs at least one card; add another before removing this one.", severity="warning")
            return
        self._card_edit(edits.remove_gpu, "remove")

    def action_duplicate_gpu(self) -> None:
        self._card_edit(edits.duplicate_gpu, "duplicate")

    def action_count(self, step: int) -> None:
        if self._reject_unknown():
            return
        index = self.selected
        if index is None:
            return
        rig = self.rig_app.state.rig
        spec = rig.gpus[index].spec
        count = sum(1 for g in rig.gpus if g.spec.id == spec.id) + step
        if count < 1:
            self.notify("Use x to remove the last card of a model.", severity="warning")
            return
        if len(rig.gpus) <= 1 and step < 0:
            return
        self._edit(lambda r: edits.set_count(r, index, count), f"set {spec.name} count to {count}")

    def action_cycle_gen(self) -> None:
        def change(rig: Any, i: int) -> Any:
            gpu = rig.gpus[i]
            return edits.update_gpu(rig, i, pcie_gen=edits.cycle(edits.PCIE_GENS, gpu.pcie_gen, gpu.spec.pcie_gen))

        self._card_edit(change, "change PCIe generation of")

    def action_cycle_lanes(self) -> None:
        def change(rig: Any, i: int) -> Any:
            gpu = rig.gpus[i]
            lanes = edits.cycle(edits.PCIE_LANE_CHOICES, gpu.pcie_lanes, gpu.spec.pcie_lanes)
            return edits.update_gpu(rig, i, pcie_lanes=lanes)

        self._card_edit(change, "change PCIe lanes of")

    def action_toggle_chipset(self) -> None:
        self._card_edit(lambda rig, i: edits.update_gpu(rig, i, via_chipset=not rig.gpus[i].via_chipset),
                        "move slot of")

    def action_toggle_nvlink(self) -> None:
        self._card_edit(edits.toggle_nvlink, "toggle NVLink bridge of")

    def action_set_used(self) -> None:
        if self._reject_unknown():
            return
        index = self.selected
        if index is None:
            return
        gpu = self.rig_app.state.rig.gpus[index]
        limit = gpu.spec.memory_bytes / GIB

        def chosen(value: str | None) -> None:
            if value is not None:
                used = edits.gib(float(value))
                self._edit(lambda rig: edits.update_gpu(rig, index, used_bytes=used),
                           f"set memory in use on GPU {index} to {float(value):g} GiB")

        self.app.push_screen(
            Prompt(f"Memory already in use on GPU {index} ({gpu.name}), GiB", f"{gpu.used_bytes / GIB:g}",
                   "other models, a browser or a desktop on this card", number_check(0, limit, "GiB")),
            chosen,
        )

    def action_identify_gpu(self) -> None:
        unknown = self._unknown_at_cursor() or next(iter(self.unknown_gpus()), None)
        if unknown is None:
            self.notify("Every detected card is in the catalog; press a to add another card.", severity="information")
            return
        info = unknown.info
        catalog = self.rig_app.catalog
        suggested = [g for g in sorted(catalog.gpus.values(), key=lambda g: (g.vendor, g.name))
                     if g.name in unknown.suggestions]
        others = [g for g in sorted(catalog.gpus.values(), key=lambda g: (g.vendor, g.name)) if g not in suggested]
        choices = [
            Choice(g.id, g.name, f"{gib(g.memory_bytes, 0)} · {g.bandwidth_gbs:.0f} GB/s · {g.tdp_w} W")
            for g in suggested + others
        ]
        title = f"Catalog entry for GPU {info.index} ({info.name}, {gib(info.mem_total_bytes, 1)})"
        self.app.push_screen(Picker(title, choices), lambda gpu_id: self._identify_chosen(unknown, gpu_id))

    def _identify_chosen(self, unknown: Any, gpu_id: str | None) -> None:
        if not gpu_id:
            return
        spec = self.rig_app.catalog.gpus[gpu_id]
        gpu = identified_gpu(unknown.info, spec, self.rig_app.state.rig.os)
        self._edit(lambda rig: edits.append_gpu(rig, gpu), f"add detected GPU {unknown.info.index} as {spec.name}")
        table = self.query_one(GpuTable)
        table.move_cursor(row=len(self.rig_app.state.rig.gpus) - 1)

    @on(DataTable.RowSelected, "#gpus")
    def _gpu_selected(self) -> None:
        if self._unknown_at_cursor() is not None:
            self.action_identify_gpu()
            return
        self.action_set_used()

    @on(DataTable.RowSelected, "#settings")
    async def _setting_selected(self) -> None:
        await self.action_edit_setting()

    async def action_edit_setting(self) -> None:
        table = self.query_one(SettingsTable)
        setting = SETTINGS[min(table.cursor_row, len(SETTINGS) - 1)]
        await self.run_action(setting.action)
