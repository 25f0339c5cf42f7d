"""The Upgrade screen: the ways to change the rig's cards side by side, ranked by a goal.

The options and every figure come from ``core.upgrade.plan_upgrades``, computed in a thread
worker so the screen stays responsive; enter opens an option as a what-if rig in the shared
state, where undo returns to the rig before it.
"""

from __future__ import annotations

import re
from typing import Any, Hashable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, Static

from rigtui.core.money import PriceBook, format_money
from rigtui.core.upgrade import GOALS, OptionFigures, UpgradePlan, UpgradeSettings, plan_upgrades, with_article
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.state import rig_key, workload_key
from rigtui.tui.widgets.dialogs import Choice, Picker, Prompt, number_check
from rigtui.tui.widgets.format import gib, params_label

DEFAULT_CURRENCY = "USD"
LOADING = "Computing the upgrade options…"
OPTION_WIDTH = 28
OPTION_WIDTH_WIDE = 58
COLUMNS = (("#", "rank"), ("Option", "option"), ("Decode", "decode"), ("Net cost", "cost"), ("Largest", "largest"),
           ("VRAM", "vram"), ("Power", "power"), ("Cost/tok/s", "per"), ("12-month", "tco"))


class OptionTable(DataTable[Any]):
    BINDINGS = [
        Binding("enter", "screen.open_option", "What-if", id="upgrade-open",
                tooltip="Open this option as the rig on every screen (undo returns)"),
    ]


_ARTICLE_BEFORE_GEFORCE = re.compile(r"\b(?:a|an) GeForce (\S+)")


def short_title(title: str) -> str:
    """Drop "GeForce " from an option title, fixing the article before it ("a GeForce RTX" to "an RTX")."""
    title = _ARTICLE_BEFORE_GEFORCE.sub(lambda m: with_article(m.group(1)), title)
    return title.replace("GeForce ", "")


def _money(amount: float | None, currency: str) -> str:
    return "—" if amount is None else format_money(amount, currency)


def option_row(figures: OptionFigures, wide: bool = True) -> list[Text]:
    """Return the table cells of one option, in ``COLUMNS`` order; narrow tables name the largest model by size only."""
    currency = figures.currency or DEFAULT_CURRENCY
    if figures.net_cost is None:
        cost = Text("no price", style="dim")
    else:
        bound = "≤ " if figures.unpriced_sales else ""
        cost = Text(bound + _money(figures.net_cost.expected, currency))
        if figures.stale_prices:
            cost.append(" *", style="yellow")
        if figures.within_budget is False:
            cost.stylize("red")
    largest = figures.largest_models[0] if figures.largest_models else None
    decode = Text(f"{figures.decode.expected:.1f}" if figures.decode and figures.target_fits else "no fit",
                  style="" if figures.target_fits else "dim")
    power = Text(f"{figures.power.sustained_w} W")
    if figures.psu_upgrade_needed:
        power.append(" PSU!", style="bold red")
    largest_label = "—"
    if largest is not None:
        largest_label = f"{params_label(largest.params_total)} {largest.name}" if wide else params_label(largest.params_total)
    return [
        Text(str(figures.rank)),
        Text(short_title(figures.option.title), no_wrap=True, overflow="ellipsis"),
        decode,
        cost,
        Text(largest_label, no_wrap=True),
        Text(gib(figures.usable_vram_bytes, 0)),
        power,
        Text("—" if figures.cost_per_token_s is None else f"{figures.cost_per_token_s:,.0f}"),
        Text(_money(figures.tco_12_months.expected if figures.tco_12_months else None, currency)),
    ]


def _name(settings: UpgradeSettings, gpu_id: str) -> str:
    spec = settings.gpus.get(gpu_id)
    return spec.name.replace("GeForce ", "") if spec else gpu_id


def option_detail(figures: OptionFigures, settings: UpgradeSettings) -> Text:
    """Describe one option in full: money with dates, speed, power and the reason for its rank."""
    currency = figures.currency or settings.prices.currency
    text = Text()
    text.append(f"{figures.rank}. {figures.option.title}\n", style="bold")
    text.append(f"{figures.rank_reason}\n")
    text.append("Cards: " + " + ".join(g.name for g in figures.rig.gpus) + ("  (NVLink)" if figures.rig.nvlink_pairs else "") + "\n")
    if figures.net_cost is not None:
        cost = figures.net_cost
        bound = "at most " if figures.unpriced_sales else ""
        text.append(f"Net cost {bound}{_money(cost.expected, currency)} "
                    f"({_money(cost.low, currency)} to {_money(cost.high, currency)})\n")
    for quote in figures.purchases:
        when = quote.as_of.isoformat() if quote.as_of else "your price"
        text.append(f"  buy {_name(settings, quote.gpu)} {quote.condition}: {_money(quote.expected, currency)}, as of {when}")
        text.append(" (stale)\n" if quote.stale else "\n", style="yellow" if quote.stale else "")
    for quote in figures.sales:
        when = quote.as_of.isoformat() if quote.as_of else "your price"
        text.append(f"  sell {_name(settings, quote.gpu)} used: {_money(quote.expected, currency)}, as of {when}")
        text.append(" (stale)\n" if quote.stale else "\n", style="yellow" if quote.stale else "")
    if figures.decode and figures.prefill:
        text.append(f"Decode {figures.decode.expected:.1f} tok/s ({figures.decode.low:.1f}–{figures.decode.high:.1f}), "
                    f"prefill {figures.prefill.expected:.0f} tok/s\n")
    slots = "unknown" if figures.slots_needed is None else f"{figures.slots_needed:g}"
    text.append(f"Slots {slots}, PCIe lanes {figures.lanes_needed}; peak {figures.power.transient_w:.0f} W, "
                f"PSU {figures.power.recommended_psu_w} W recommended\n")
    if figures.psu_upgrade_needed:
        text.append(figures.power.messages[-1] + "\n", style="red")
    if figures.electricity_per_year is not None:
        text.append(f"Electricity {_money(figures.electricity_per_year, currency)} a year\n")
    for note in figures.price_notes:
        text.append(note + "\n", style="dim")
    return text


class UpgradeScreen(ExplorerScreen):
    """What to buy next: every option with cost, memory, speed and power, ranked by a goal."""

    HELP_TITLE = "Upgrade"
    HELP = (
        "Each row is a way to change the rig's cards, with its net cost after resale (prices older "
        "than six months are marked *), usable memory, the largest catalog model that fits, decode "
        "speed on the target model, power and the 12-month cost. Enter opens the option as a "
        "what-if rig on every screen; undo returns to this rig."
    )
    BINDINGS = [
        Binding("t", "set_target", "Target", id="upgrade-target", tooltip="The model speed is measured on"),
        Binding("g", "cycle_goal", "Goal", id="upgrade-goal", tooltip="Largest model, fastest, or cost per token/s"),
        Binding("b", "set_budget", "Budget", id="upgrade-budget", tooltip="Most to spend, net of resale"),
    ]

    DEFAULT_CSS = """
    UpgradeScreen #upgrade-table { height: 1fr; }
    UpgradeScreen #upgrade-detail-pane { height: 9; border-top: solid $primary-darken-2; }
    UpgradeScreen.-wide #upgrade-detail-pane { height: 14; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.target_model: str | None = None
        self.goal = "fastest"
        self.budget: float | None = None
        self.currency = DEFAULT_CURRENCY
        self.plan: UpgradePlan | None = None
        self.settings: UpgradeSettings | None = None
        self._plans: dict[Hashable, tuple[UpgradePlan, UpgradeSettings]] = {}

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        yield Label("", id="upgrade-status", markup=False)
        yield OptionTable(id="upgrade-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="upgrade-detail-pane"):
            yield Static(LOADING, id="upgrade-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(OptionTable).focus()

    def _add_columns(self, table: OptionTable) -> None:
        # Option titles are long; a fixed width keeps the figures on screen at 80 columns.
        title_width = OPTION_WIDTH_WIDE if self.has_class("-wide") else OPTION_WIDTH
        for label, key in COLUMNS:
            table.add_column(label, key=key, width=title_width if key == "option" else None)

    def _settings(self) -> UpgradeSettings:
        app = self.rig_app
        model = self.target_model or app.state.settings.model
        return UpgradeSettings(
            target=app.workload(model=model, split="auto"),
            gpus=app.catalog.gpus,
            prices=PriceBook(app.catalog.prices, self.currency),
            models=tuple(app.catalog.models.values()),
            goal=self.goal,  # type: ignore[arg-type]
            budget=self.budget,
        )

    def _key(self, settings: UpgradeSettings) -> Hashable:
        return (rig_key(self.rig_app.state.rig), workload_key(settings.target), self.goal, self.budget, self.currency)

    def redraw(self) -> None:
        settings = self._settings()
        budget = "no budget" if self.budget is None else f"budget {format_money(self.budget, self.currency)}"
        self.query_one("#upgrade-status", Label).update(
            f"Target {settings.target.model.name} {settings.target.quant.name} · goal {self.goal} · {budget} · "
            f"prices in {self.currency}, * older than six months"
        )
        cached = self._plans.get(self._key(settings))
        if cached is not None:
            self._show(*cached)
            return
        table = self.query_one(OptionTable)
        table.clear(columns=True)
        self._add_columns(table)
        self.query_one("#upgrade-detail", Static).update(Text(LOADING, style="dim"))
        self.loading_key = self._key(settings)
        self._compute(self.rig_app.state.rig, settings, self.loading_key)

    @work(thread=True, exclusive=True, group="upgrade", description="upgrade options")
    def _compute(self, rig: Any, settings: UpgradeSettings, key: Hashable) -> None:
        plan = plan_upgrades(rig, settings)
        self.app.call_from_thread(self._computed, key, plan, settings)

    def _computed(self, key: Hashable, plan: UpgradePlan, settings: UpgradeSettings) -> None:
        self._plans[key] = (plan, settings)
        if key == getattr(self, "loading_key", None):
            self._show(plan, settings)

    def _show(self, plan: UpgradePlan, settings: UpgradeSettings) -> None:
        self.plan, self.settings = plan, settings
        table = self.query_one(OptionTable)
        row = table.cursor_row
        table.clear(columns=True)
        self._add_columns(table)
        for figures in plan.options:
            table.add_row(*option_row(figures, self.has_class("-wide")), key=figures.option.id)
        if plan.options:
            table.move_cursor(row=min(row, len(plan.options) - 1))
        self._show_detail(self._highlighted())

    def _highlighted(self) -> OptionFigures | None:
        table = self.query_one(OptionTable)
        if self.plan is None or not table.row_count:
            return None
        option_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((f for f in self.plan.options if f.option.id == option_id), None)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail(self._highlighted())

    def _show_detail(self, figures: OptionFigures | None) -> None:
        detail = self.query_one("#upgrade-detail", Static)
        if figures is None or self.settings is None:
            detail.update(Text("No options." if self.plan else LOADING, style="dim"))
            return
        text = option_detail(figures, self.settings)
        for note in self.plan.notes if self.plan else ():
            text.append(note + "\n", style="dim")
        detail.update(text)

    # --- actions -----------------------------------------------------------------------------

    def action_open_option(self) -> None:
        figures = self._highlighted()
        if figures is None:
            return
        if figures.option.kind == "keep":
            self.notify("This is the current rig.", timeout=2)
            return
        self.rig_app.set_rig(figures.rig, f"what-if: {figures.option.title}")
        self.notify(f"Opened {figures.option.title} as a what-if rig; press u to undo.", timeout=4, markup=False)

    def action_cycle_goal(self) -> None:
        self.goal = GOALS[(GOALS.index(self.goal) + 1) % len(GOALS)]  # type: ignore[arg-type]
        self.redraw()

    def action_set_target(self) -> None:
        app = self.rig_app
        choices = [Choice(m.id, m.name, params_label(m.params_total)) for m in
                   sorted(app.catalog.models.values(), key=lambda m: m.params_total)]

        def chosen(model_id: str | None) -> None:
            if model_id:
                self.target_model = model_id
                self.redraw()

        app.push_screen(Picker("Target model", choices, self.target_model or app.state.settings.model), chosen)

    def action_set_budget(self) -> None:
        def chosen(text: str | None) -> None:
            if text is None:
                return
            value = float(text)
            self.budget = value if value > 0 else None
            self.redraw()

        current = "" if self.budget is None else f"{self.budget:g}"
        self.app.push_screen(
            Prompt(f"Budget in {self.currency} (0 for none)", current, "net of resale", number_check(0, 1e7, self.currency)),
            chosen,
        )
