"""The Upgrade screen: the ways to change the rig's cards side by side, ranked by a goal.

The options and every figure come from ``core.upgrade.plan_upgrades``, computed in a thread
worker so the screen stays responsive; enter opens an option as a what-if rig in the shared
state, where undo returns to the rig before it.
"""

from __future__ import annotations

from typing import Any, Hashable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, Static

from rigtui.core.money import PriceBook, PriceOverride, format_money
from rigtui.core.upgrade import GOALS, OptionFigures, UpgradePlan, UpgradeSettings, plan_upgrades
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.state import rig_key, workload_key
from rigtui.tui.widgets.dialogs import Choice, Picker, Prompt, currency_check, number_check, optional_number_check
from rigtui.tui.widgets.format import params_label
from rigtui.tui.widgets.upgrade_view import DEFAULT_CURRENCY, option_detail, option_row, short_title

__all__ = ["OptionTable", "UpgradeScreen", "short_title"]

DEFAULT_HOURS_PER_DAY = 8.0
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


class UpgradeScreen(ExplorerScreen):
    """What to buy next: every option with cost, memory, speed and power, ranked by a goal."""

    HELP_TITLE = "Upgrade"
    HELP = (
        "Each row is a way to change the rig's cards, with its net cost after resale (prices older "
        "than six months are marked *), usable memory, the largest catalog model that fits, decode "
        "speed on the target model, power and the 12-month cost. Enter opens the option as a "
        "what-if rig on every screen; undo returns to this rig. Prices are in one currency and "
        "never converted; your own price for a card replaces the catalog's. The PSU rating is the "
        "rig's own, set on the Rig screen."
    )
    BINDINGS = [
        Binding("t", "set_target", "Target", id="upgrade-target", tooltip="The model speed is measured on"),
        Binding("g", "cycle_goal", "Goal", id="upgrade-goal", tooltip="Largest model, fastest, or cost per token/s"),
        Binding("b", "set_budget", "Budget", id="upgrade-budget", tooltip="Most to spend, net of resale"),
        Binding("c", "set_currency", "Currency", id="upgrade-currency",
                tooltip="Currency of prices and budget; prices are never converted"),
        Binding("e", "set_kwh_price", "kWh", id="upgrade-kwh-price",
                tooltip="Electricity price per kWh, for yearly running cost and 12-month cost"),
        Binding("h", "set_hours", "Hours", id="upgrade-hours", tooltip="Hours per day the rig runs at load"),
        Binding("o", "set_price", "Price", id="upgrade-price", tooltip="Your own price for a card, new and used"),
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
        self.kwh_price: float | None = None
        self.hours_per_day = DEFAULT_HOURS_PER_DAY
        self.price_overrides: dict[str, float] = {}
        """The user's prices by GPU id, in ``currency``, for both conditions."""
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
        overrides = [PriceOverride(gpu_id, amount) for gpu_id, amount in sorted(self.price_overrides.items())]
        return UpgradeSettings(
            target=app.workload(model=model, split="auto"),
            gpus=app.catalog.gpus,
            prices=PriceBook(app.catalog.prices, self.currency, overrides),
            models=tuple(app.catalog.models.values()),
            goal=self.goal,  # type: ignore[arg-type]
            budget=self.budget,
            kwh_price=self.kwh_price,
            hours_per_day=self.hours_per_day,
        )

    def _key(self, settings: UpgradeSettings) -> Hashable:
        return (rig_key(self.rig_app.state.rig), workload_key(settings.target), self.goal, self.budget, self.currency,
                self.kwh_price, self.hours_per_day, tuple(sorted(self.price_overrides.items())))

    def redraw(self) -> None:
        settings = self._settings()
        budget = "no budget" if self.budget is None else f"budget {format_money(self.budget, self.currency)}"
        power = "" if self.kwh_price is None else f" · {self.kwh_price:g} {self.currency}/kWh, {self.hours_per_day:g} h/day"
        yours = f" · {len(self.price_overrides)} your price(s)" if self.price_overrides else ""
        self.query_one("#upgrade-status", Label).update(
            f"Target {settings.target.model.name} {settings.target.quant.name} · goal {self.goal} · {budget} · "
            f"prices in {self.currency}, * older than six months{power}{yours}"
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

    def action_set_currency(self) -> None:
        def chosen(text: str | None) -> None:
            if text is None:
                return
            code = text.strip().upper()
            if code != self.currency and (self.budget is not None or self.kwh_price is not None or self.price_overrides):
                # A budget and prices in the old currency mean nothing in the new one.
                self.budget = None
                self.kwh_price = None
                self.price_overrides = {}
                self.notify(f"Cleared the budget, kWh price and your prices in {self.currency}; "
                            f"amounts are never converted.", timeout=4, markup=False)
            self.currency = code
            self.redraw()

        self.app.push_screen(
            Prompt("Currency of prices and budget", self.currency, "three letters, such as USD or EUR; no conversion",
                   currency_check),
            chosen,
        )

    def action_set_kwh_price(self) -> None:
        def chosen(text: str | None) -> None:
            if text is None:
                return
            self.kwh_price = float(text) if text.strip() else None
            self.redraw()

        current = "" if self.kwh_price is None else f"{self.kwh_price:g}"
        self.app.push_screen(
            Prompt(f"Electricity price per kWh in {self.currency}", current, "empty for none",
                   optional_number_check(0, 100, f"{self.currency} per kWh")),
            chosen,
        )

    def action_set_hours(self) -> None:
        def chosen(text: str | None) -> None:
            if text is None:
                return
            self.hours_per_day = float(text)
            self.redraw()

        self.app.push_screen(
            Prompt("Hours per day at load", f"{self.hours_per_day:g}", "for running cost",
                   number_check(0, 24, "hours")),
            chosen,
        )

    def action_set_price(self) -> None:
        app = self.rig_app
        highlighted = self._highlighted()
        first = list(dict.fromkeys(highlighted.option.buy)) if highlighted else []
        book = PriceBook(app.catalog.prices, self.currency)
        ordered = first + sorted((g for g in app.catalog.gpus if g not in first), key=lambda g: app.catalog.gpus[g].name)
        choices = []
        for gpu_id in ordered:
            quote = book.buy_quote(gpu_id)
            if gpu_id in self.price_overrides:
                hint = f"your price {format_money(self.price_overrides[gpu_id], self.currency)}"
            else:
                hint = "no price" if quote is None else f"catalog {format_money(quote.expected, self.currency)}"
            choices.append(Choice(gpu_id, app.catalog.gpus[gpu_id].name, hint))

        def priced(gpu_id: str, text: str | None) -> None:
            if text is None:
                return
            if text.strip():
                self.price_overrides[gpu_id] = float(text)
            else:
                self.price_overrides.pop(gpu_id, None)
            self.redraw()

        def chosen(gpu_id: str | None) -> None:
            if not gpu_id:
                return
            name = app.catalog.gpus[gpu_id].name
            current = f"{self.price_overrides[gpu_id]:g}" if gpu_id in self.price_overrides else ""
            app.push_screen(
                Prompt(f"Your price for {name} in {self.currency}", current, "new and used; empty for the catalog's",
                       optional_number_check(0, 1e7, self.currency)),
                lambda text: priced(gpu_id, text),
            )

        app.push_screen(Picker("Your price for which card", choices, first[0] if first else None), chosen)

