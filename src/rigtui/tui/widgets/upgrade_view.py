"""Text of the Upgrade screen: one table row per option and the detail of the highlighted one."""

from __future__ import annotations

import re

from rich.text import Text

from rigtui.core.money import format_money
from rigtui.core.upgrade import OptionFigures, UpgradeSettings, with_article
from rigtui.tui.widgets.format import gib, params_label

DEFAULT_CURRENCY = "USD"


_ARTICLE_BEFORE_GEFORCE = re.compile(r"\b(?:a|an) GeForce (\S+)")


def short_title(title: str) -> str:
    """Drop "GeForce " from an option title, fixing the article before it ("a GeForce RTX" to "an RTX")."""
    title = _ARTICLE_BEFORE_GEFORCE.sub(lambda m: with_article(m.group(1)), title)
    return title.replace("GeForce ", "")


def _money(amount: float | None, currency: str) -> str:
    return "—" if amount is None else format_money(amount, currency)


def option_row(figures: OptionFigures, wide: bool = True) -> list[Text]:
    """Return the table cells of one option, in the Upgrade table's column order; narrow tables name the largest model by size only."""
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
        when = f"as of {quote.as_of.isoformat()}" if quote.as_of else "your price"
        text.append(f"  buy {_name(settings, quote.gpu)} {quote.condition}: {_money(quote.expected, currency)}, {when}")
        text.append(" (stale)\n" if quote.stale else "\n", style="yellow" if quote.stale else "")
    for quote in figures.sales:
        when = f"as of {quote.as_of.isoformat()}" if quote.as_of else "your price"
        text.append(f"  sell {_name(settings, quote.gpu)} used: {_money(quote.expected, currency)}, {when}")
        text.append(" (stale)\n" if quote.stale else "\n", style="yellow" if quote.stale else "")

    if figures.decode and figures.prefill:
        text.append(f"Decode {figures.decode.expected:.1f} tok/s ({figures.decode.low:.1f}–{figures.decode.high:.1f}), "
                    f"prefill {figures.prefill.expected:.0f} tok/s\n")

    slots = "unknown" if figures.slots_needed is None else f"{figures.slots_needed:g}"
    power = figures.power
    text.append(f"Slots {slots}, PCIe lanes {figures.lanes_needed}; {power.sustained_w} W sustained, "
                f"{power.transient_w:.0f} W peak with transients\n")
    rated = "no PSU rating on the rig (Rig screen: p)" if power.psu_w is None else f"the rig's PSU is {power.psu_w} W"
    text.append(f"PSU {power.recommended_psu_w} W recommended; {rated}")
    if figures.psu_upgrade_needed:
        text.append("  PSU upgrade needed\n", style="bold red")
        text.append(power.messages[-1] + "\n", style="red")
    else:
        text.append("\n")

    if figures.electricity_per_year is not None and settings.kwh_price is not None:
        text.append(f"Electricity {_money(figures.electricity_per_year, currency)} a year "
                    f"({power.sustained_w} W, {settings.hours_per_day:g} h a day at {settings.kwh_price:g} {currency}/kWh)\n")
    if figures.tco_12_months is not None:
        text.append(f"12-month cost {_money(figures.tco_12_months.expected, currency)}"
                    + (" (net cost plus electricity)\n" if figures.electricity_per_year is not None else
                       " (net cost; set an electricity price with e)\n"))

    for note in figures.price_notes:
        text.append(note + "\n", style="dim")
    return text
