"""Render the verdict panel's facts as Rich text.

The facts come from core functions (placement, power, compatibility, verdict); this module
only lays them out.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text

from rigtui.core.results import FitResult
from rigtui.tui.compute import Cell, Failed
from rigtui.core.rig_calibration import speed_label
from rigtui.tui.widgets.format import context_label, gib, speed_range

FIT_STYLE = {"gpu": "green", "offload": "yellow", "no": "red"}
STATUS_STYLE = {"works": "green", "works poorly": "yellow", "does not work": "red"}
STATUS_MARK = {"works": "●", "works poorly": "◐", "does not work": "○"}


def fit_class(result: FitResult | Cell | Failed | None) -> str:
    """Return "gpu" (fits on GPUs), "offload" (fits with CPU or expert offload) or "no"."""
    if result is None or isinstance(result, Failed) or not result.fits:
        return "no"
    if isinstance(result, Cell):
        return "offload" if result.offload else "gpu"
    return "offload" if result.uses_offload else "gpu"


# Full, half and empty circles: distinct shapes without colour, and present in common
# terminal fonts (Fira Code, DejaVu Sans Mono), unlike check marks.
FIT_MARK = {"gpu": "●", "offload": "◐", "no": "○"}
FIT_WORDS = {"gpu": "fits on GPUs", "offload": "fits with offload", "no": "does not fit"}


def heading(text: Text, title: str) -> None:
    if text.plain:
        text.append("\n")
    text.append(title + "\n", style="bold underline")


def bullet(text: Text, message: str, style: str = "") -> None:
    text.append("• ", style=style or "dim")
    text.append(message + "\n", style="")


CONTEXT_ABOVE_MAX = "context-above-model-max"
"""Core warning code for a context longer than the model was trained for."""


def render_fit(
    text: Text, result: FitResult | Failed | None, title: str, model_max_context: int | None = None
) -> None:
    """Append the fit headline, speeds and warnings; a context past ``model_max_context`` leads.

    The fit matrix marks such a context "—", so the headline says so too and the memory fit
    follows as a secondary line.
    """
    heading(text, title)
    if result is None:
        text.append("computing…\n", style="dim")
        return
    if isinstance(result, Failed):
        text.append(f"○ cannot place: {result.message}\n", style="red")
        return
    kind = fit_class(result)
    above_max = any(w.code == CONTEXT_ABOVE_MAX for w in result.warnings) or (
        model_max_context is not None and result.context > model_max_context
    )
    if above_max:
        limit = f" ({context_label(model_max_context)})" if model_max_context else ""
        text.append(f"— past the model's maximum context{limit}", style="bold yellow")
        text.append(f" · {result.split} split\n")
        text.append(f"  memory alone at {context_label(result.context)}: {FIT_MARK[kind]} {FIT_WORDS[kind]}\n")
    else:
        text.append(f"{FIT_MARK[kind]} {FIT_WORDS[kind]}", style=f"bold {FIT_STYLE[kind]}")
        text.append(f" · {result.split} split\n")
    if not result.fits and result.short_device:
        text.append(f"  {result.short_device} is short by {gib(result.short_by_bytes)}\n", style="red")
    if result.decode is not None:
        label = speed_label(result)
        text.append(f"  decode  {speed_range(result.decode)}" + (f", {label}" if label else "") + "\n")
    if result.prefill is not None:
        text.append(f"  prefill {speed_range(result.prefill)}\n")
    if result.max_context:
        text.append(f"  largest context that fits: {context_label(result.max_context)}\n")
    for warning in result.warnings:
        bullet(text, warning.message, "yellow")


def render_compat(text: Text, compat: Any) -> None:
    if compat is None or isinstance(compat, Failed):
        return
    heading(text, f"Runtime: {compat.runtime_name}")
    style = STATUS_STYLE.get(compat.status, "")
    text.append(f"{STATUS_MARK.get(compat.status, '?')} {compat.status}\n", style=f"bold {style}")
    for reason in compat.reasons:
        bullet(text, reason.message, "red" if reason.severity == "blocker" else "yellow")


def render_power(text: Text, power: Any, thermal: Iterable[str]) -> None:
    if power is None or isinstance(power, Failed):
        return
    heading(text, "Power")
    status_style = {"ok": "green", "below recommended": "yellow", "too small": "red"}.get(power.status, "")
    psu = f"{power.psu_w} W" if power.psu_w else "unknown"
    text.append(f"PSU {psu}: ", style="")
    text.append(f"{power.status}\n", style=f"bold {status_style}")
    text.append(
        f"  sustained {power.sustained_w} W · peaks up to {power.transient_w:.0f} W · "
        f"recommended {power.recommended_psu_w} W\n"
    )
    for message in power.messages:
        bullet(text, message)
    thermal = list(thermal)
    if thermal:
        heading(text, "Heat")
        for advice in thermal:
            bullet(text, advice)


VERDICT_GROUPS = (
    ("good", "Good at", "green"),
    ("bad", "Bad at / blocked by", "red"),
    ("warning", "Watch out", "yellow"),
    ("info", "Also", ""),
)


def render_verdict_facts(text: Text, verdict: Any) -> None:
    """Lay out the core's verdict facts, grouped by kind: good, bad, warnings, information."""
    if verdict is None or isinstance(verdict, Failed):
        return
    for kind, title, style in VERDICT_GROUPS:
        facts = [f for f in verdict.facts if f.kind == kind]
        if not facts:
            continue
        heading(text, title)
        for fact in facts:
            bullet(text, fact.message, style)
