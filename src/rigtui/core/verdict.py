"""The rig's verdict: what it is good and bad at, and the failure modes that apply to it.

Each fact is a sentence built from numbers the other core modules computed (placement,
speed, compatibility, power, topology), so two rigs get different sentences only because
their figures differ; nothing here is written per GPU pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rigtui.core import speed as _speed
from rigtui.core import topology as _topology
from rigtui.core.compat import Compat, runtime_compat
from rigtui.core.power import PowerReport, rig_power, thermal_advice
from rigtui.core.results import FitResult
from rigtui.core.rig import GIB, MIB, Rig, Workload
from rigtui.core.specs import ModelSpec

FactKind = Literal["good", "bad", "warning", "info"]

# Decode speed tiers, tokens/s. People read about 4-8 words per second, roughly 5-10
# tokens/s, so below that a chat reply arrives slower than it is read.
SPEED_TIERS: tuple[tuple[float, str], ...] = (
    (60.0, "fast: replies finish faster than they can be read, with room for agents and long outputs"),
    (20.0, "comfortable for chat: faster than reading speed"),
    (8.0, "usable: about reading speed"),
    (3.0, "slow: slower than reading speed"),
    (0.0, "too slow for interactive use"),
)


@dataclass(frozen=True)
class Fact:
    """One line of the verdict."""

    kind: FactKind
    code: str
    """Stable identifier for scripts and tests, such as 'psu-headroom' or 'chipset-slot'."""
    message: str


@dataclass(frozen=True)
class Verdict:
    """Every fact about one rig running one workload, best news first."""

    facts: tuple[Fact, ...]

    def of_kind(self, kind: FactKind) -> tuple[Fact, ...]:
        return tuple(f for f in self.facts if f.kind == kind)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.facts)


def speed_tier(tokens_per_s: float) -> str:
    """Return the label of the speed tier a decode speed falls in."""
    for floor, label in SPEED_TIERS:
        if tokens_per_s >= floor:
            return label
    return SPEED_TIERS[-1][1]


def _fit_facts(rig: Rig, workload: Workload, fit: FitResult | None, largest: ModelSpec | None) -> list[Fact]:
    facts = []
    model = workload.model
    if largest is not None:
        facts.append(
            Fact(
                "good",
                "largest-model",
                f"The largest catalog model that fits on the GPUs at {workload.quant.name} and "
                f"{workload.context:,} tokens of context is {largest.name} "
                f"({largest.params_total / 1e9:.0f}B parameters).",
            )
        )
    if fit is None:
        return facts
    if not fit.fits:
        short = f" {fit.short_device} is short by {fit.short_by_bytes / GIB:.1f} GiB." if fit.short_device else ""
        facts.append(Fact("bad", "target-does-not-fit", f"{model.name} at {fit.quant} does not fit.{short}"))
        return facts
    gpu_layers = fit.gpu_layers
    if gpu_layers < model.n_layers:
        facts.append(
            Fact(
                "bad",
                "cpu-offload",
                f"{model.name} fits only with {model.n_layers - gpu_layers} of {model.n_layers} layers in CPU RAM, "
                "so system RAM bandwidth sets the decode speed.",
            )
        )
    if fit.decode is not None:
        tps = fit.decode.expected
        kind: FactKind = "good" if tps >= 8.0 else "bad"
        facts.append(
            Fact(
                kind,
                "speed-tier",
                f"{model.name} decodes at about {tps:.1f} tokens/s ({fit.decode.low:.1f}-{fit.decode.high:.1f}) "
                f"with {fit.split} split: {speed_tier(tps)}.",
            )
        )
    if fit.max_context is not None and fit.max_context > fit.context:
        facts.append(
            Fact(
                "info",
                "max-context",
                f"Context can grow to {fit.max_context:,} tokens before {model.name} stops fitting.",
            )
        )
    return facts


def _power_facts(power: PowerReport) -> list[Fact]:
    if power.psu_w is None:
        return [
            Fact(
                "info",
                "psu-recommended",
                f"Sustained load {power.sustained_w} W, peaks up to {power.transient_w:.0f} W: "
                f"a {power.recommended_psu_w} W PSU is recommended.",
            )
        ]
    if power.status == "ok":
        return [
            Fact(
                "good",
                "psu-headroom",
                f"The {power.psu_w} W PSU leaves {power.headroom_w} W over the {power.sustained_w} W sustained load "
                f"and covers {power.transient_w:.0f} W peaks (recommended {power.recommended_psu_w} W).",
            )
        ]
    return [
        Fact(
            "warning",
            "psu-too-small" if power.status == "too small" else "psu-below-recommended",
            f"The {power.psu_w} W PSU is {'below the sustained load' if power.status == 'too small' else 'under the recommended size'}: "
            f"{power.sustained_w} W sustained, {power.transient_w:.0f} W peaks, {power.recommended_psu_w} W recommended.",
        )
    ]


def _slow_card_fact(rig: Rig, workload: Workload, fit: FitResult) -> list[Fact]:
    """Report the card whose share of each token's time exceeds its share of the bytes read."""
    if fit.split not in ("layer", "pipeline-parallel") or sum(1 for d in fit.devices if d.kind == "gpu") < 2:
        return []
    estimate = _speed.estimate_speed(rig, workload, fit)
    total_ms = sum(d.decode_ms for d in estimate.devices)
    total_bytes = sum(d.read_bytes for d in estimate.devices)
    if total_ms <= 0 or total_bytes <= 0:
        return []
    worst = max(estimate.devices, key=lambda d: d.decode_ms / total_ms - d.read_bytes / total_bytes)
    time_share = worst.decode_ms / total_ms
    byte_share = worst.read_bytes / total_bytes
    if time_share - byte_share < 0.05:
        return []
    return [
        Fact(
            "warning",
            "slow-card-drags",
            f"{worst.name} holds {byte_share:.0%} of the bytes read per token but takes {time_share:.0%} of each "
            "token's time: layer split runs the cards one after another, so the slower card sets most of the pace.",
        )
    ]


def _topology_facts(rig: Rig, workload: Workload) -> list[Fact]:
    if not rig.gpus:
        return []
    found = _topology.topology(rig, workload.model, workload.runtime.engine, workload.ubatch)
    wanted = ("chipset-slot", "narrow-link", "mixed-generations", "link-below-card")
    return [Fact("warning", p.code, p.message) for p in found.problems if p.code in wanted]


def _compat_facts(compat: Compat) -> list[Fact]:
    kinds: dict[str, FactKind] = {"blocker": "bad", "degraded": "warning", "note": "info"}
    facts = []
    for reason in compat.reasons:
        facts.append(Fact(kinds[reason.severity], reason.code, reason.message))
    return facts


def _desktop_facts(rig: Rig) -> list[Fact]:
    facts = []
    for i, gpu in enumerate(rig.gpus):
        if gpu.desktop and rig.os.desktop_reserve_mib:
            facts.append(
                Fact(
                    "info",
                    "desktop-reserve",
                    f"GPU {i} ({gpu.name}) drives the desktop, which keeps {rig.os.desktop_reserve_mib} MiB "
                    f"({rig.os.desktop_reserve_mib * MIB / gpu.spec.memory_bytes:.0%} of the card) away from models.",
                )
            )
        if gpu.used_bytes:
            facts.append(
                Fact(
                    "info",
                    "memory-in-use",
                    f"Other processes already use {gpu.used_bytes / GIB:.1f} GiB on GPU {i} ({gpu.name}).",
                )
            )
    return facts


def _default_fit(rig: Rig, workload: Workload) -> FitResult | None:
    try:
        from rigtui.core import fit as _fit
    except ModuleNotFoundError:
        return None
    return _fit.fit(rig, workload)


def rig_verdict(
    rig: Rig,
    workload: Workload,
    fit_result: FitResult | None = None,
    compat: Compat | None = None,
    power: PowerReport | None = None,
    largest: ModelSpec | None = None,
    slot_pitch: int | None = None,
) -> Verdict:
    """List the facts about a rig running a workload, good news first, then problems.

    Missing inputs are computed here: the placement with ``core.fit``, compatibility with
    ``core.compat`` and power with ``core.power``. ``largest`` is the largest model that
    fits, found by the caller (``core.upgrade.largest_fitting_models``) because it needs
    the model catalog.
    """
    if fit_result is None:
        fit_result = _default_fit(rig, workload)
    if compat is None:
        compat = runtime_compat(rig, workload.runtime, workload.model, workload.quant)
    if power is None:
        power = rig_power(rig)
    facts: list[Fact] = []
    facts += _fit_facts(rig, workload, fit_result, largest)
    facts += _power_facts(power)
    facts += _compat_facts(compat)
    if fit_result is not None and fit_result.fits:
        facts += _slow_card_fact(rig, workload, fit_result)
    facts += _topology_facts(rig, workload)
    facts += _desktop_facts(rig)
    facts += [Fact("info", "thermal-placement", line) for line in thermal_advice(rig, slot_pitch)]
    order: dict[FactKind, int] = {"good": 0, "bad": 1, "warning": 2, "info": 3}
    return Verdict(tuple(sorted(facts, key=lambda f: order[f.kind])))
