"""The Topology screen: a drawing of the rig's slots and links, and what each link costs."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from rigtui.tui.compute import Failed
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.widgets.format import gib, pcie_label


def _us(value: float) -> str:
    """Microseconds, switching to ms above 1,000."""
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} µs"


def drawing(topology: Any, rig: Any) -> Text:
    """Draw the rig as a tree: CPU, then each slot (CPU lanes or chipset) with its card."""
    text = Text()
    text.append("CPU", style="bold")
    text.append(f"  {gib(rig.cpu_ram_bytes, 0)} RAM at {rig.cpu_ram_bandwidth_gbs:g} GB/s\n")
    on_chipset = [s for s in topology.slots if s.via_chipset]
    direct = [s for s in topology.slots if not s.via_chipset]
    branches: list[tuple[str, Any]] = [("", s) for s in direct]
    if on_chipset:
        branches += [("chipset", s) for s in on_chipset]
    for position, (via, slot) in enumerate(branches):
        last = position == len(branches) - 1
        text.append(" └─" if last else " ├─", style="dim")
        if via:
            text.append(" chipset ", style="yellow")
            text.append("─", style="dim")
        link = f" PCIe {pcie_label(slot.pcie_gen, slot.pcie_lanes)} "
        narrow = slot.pcie_lanes < slot.card_lanes or slot.pcie_gen < slot.card_gen
        text.append(link, style="yellow" if narrow or via else "")
        text.append(f"{slot.link_gbs:.1f} GB/s ", style="dim")
        text.append("─ ", style="dim")
        text.append(f"GPU {slot.index}", style="bold")
        text.append(f" {slot.name}")
        if narrow:
            text.append(f" (card {pcie_label(slot.card_gen, slot.card_lanes)})", style="dim")
        text.append("\n")
    for a, b in sorted(rig.nvlink_pairs):
        text.append(f" GPU {a} ", style="bold")
        text.append("══ NVLink bridge ══", style="green")
        text.append(f" GPU {b}\n", style="bold")
    text.rstrip()
    return text


def link_table(topology: Any) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    table.add_column("Link", no_wrap=True)
    table.add_column("Path", no_wrap=True)
    table.add_column("Layer split/token", justify="right")
    table.add_column("Tensor par./token", justify="right")
    for link in topology.links:
        path = "NVLink bridge" if link.nvlink else f"PCIe {link.pcie_gbs:.1f} GB/s"
        table.add_row(
            f"GPU {link.a} ↔ {link.b}",
            path,
            f"{link.layer_split_token_bytes // 1024} KiB, {_us(link.layer_split_token_us)}",
            _us(link.allreduce_token_us),
        )
    return table


class TopologyScreen(ExplorerScreen):
    """Slots, PCIe links and NVLink bridges, with what each costs layer split and tensor parallel."""

    HELP_TITLE = "Topology"
    HELP = (
        "Layer split passes one activation vector per token across each link; tensor parallel "
        "all-reduces twice per layer, so it pays the link's latency about 2 × layers times per token. "
        "Edit slots on the Rig screen (g, l, c, n)."
    )

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        with VerticalScroll(id="topology-body"):
            yield Static("", id="topology-drawing")
            yield Static("", id="topology-links")
            yield Static("", id="topology-problems")
        yield Footer(compact=True)

    def redraw(self) -> None:
        self._compute(self.rig_app.state.rig)

    @work(thread=True, exclusive=True, group="topology", description="topology")
    def _compute(self, rig: Any) -> None:
        app = self.rig_app
        workload = app.workload()
        self.app.call_from_thread(self._show, rig, workload, app.core.topology(rig, workload))

    def _show(self, rig: Any, workload: Any, topology: Any) -> None:
        if rig is not self.rig_app.state.rig:
            return
        if isinstance(topology, Failed):
            self.query_one("#topology-drawing", Static).update(Text(topology.message, style="red"))
            return
        self.query_one("#topology-drawing", Static).update(drawing(topology, rig))
        heading = Text(f"\nLink costs for {workload.model.name} on {workload.runtime.name}", style="bold")
        body: list[Any] = [heading]
        if topology.links:
            body.append(link_table(topology))
        else:
            body.append(Text("One card: no links between devices to pay for."))
        if topology.tensor_parallel_token_us is not None:
            body.append(Text(f"Tensor parallel over all {len(rig.gpus)} cards: "
                             f"{_us(topology.tensor_parallel_token_us)} of all-reduce per token."))
        self.query_one("#topology-links", Static).update(Group(*body))
        problems = Text()
        if topology.problems:
            problems.append("\nProblems\n", style="bold")
            for problem in topology.problems:
                problems.append("! ", style="bold yellow")
                problems.append(problem.message + "\n")
        else:
            problems.append("\nNo link problems found.", style="green")
        self.query_one("#topology-problems", Static).update(problems)
