"""Text for live telemetry figures: units, "n/a" for what a GPU does not report, and sparklines."""

from __future__ import annotations

from collections.abc import Iterable, Sized
from itertools import islice

from rigtui.tui.widgets.format import NA, gib

_BARS = "▁▂▃▄▅▆▇█"


def number(value: float | None, unit: str, digits: int = 0) -> str:
    """Format a figure with its unit, or "n/a" when it is unknown."""
    if value is None:
        return NA
    return f"{value:.{digits}f} {unit}"


def memory(used: int | None, total: int | None) -> str:
    """Format used and total memory in GiB, such as "19.0 / 24.0 GiB"."""
    if used is None:
        return f"{NA} / {gib(total)}"
    return f"{used / (1 << 30):.1f} / {gib(total)}"


def power(draw_w: float | None, limit_w: float | None) -> str:
    """Format power draw against its limit, such as "379 / 450 W"."""
    if draw_w is None:
        return NA if limit_w is None else f"{NA} / {limit_w:.0f} W"
    if limit_w is None:
        return f"{draw_w:.0f} W"
    return f"{draw_w:.0f} / {limit_w:.0f} W"


def rate(bytes_per_s: float | None) -> str:
    """Format a throughput in GB/s or MB/s (10^9 and 10^6 bytes per second)."""
    if bytes_per_s is None:
        return NA
    if bytes_per_s >= 1e9:
        return f"{bytes_per_s / 1e9:.2f} GB/s"
    return f"{bytes_per_s / 1e6:.0f} MB/s"


def link(gen: int | None, width: int | None) -> str:
    """Format a PCIe link as "Gen4 x8"."""
    if gen is None and width is None:
        return NA
    return f"Gen{gen if gen is not None else '?'} x{width if width is not None else '?'}"


def sparkline(values: Iterable[float | None], width: int, top: float | None = None) -> str:
    """Draw the last ``width`` values as block characters scaled to ``top`` (default: their maximum).

    Missing values leave a gap, so a lost GPU or a failed read shows as a hole in the history.
    """
    if width <= 0:
        tail: list[float | None] = []
    elif isinstance(values, Sized):
        # Skip to the last values instead of copying a whole history on every sample.
        tail = list(islice(values, max(0, len(values) - width), None))
    else:
        tail = list(values)[-width:]
    known = [v for v in tail if v is not None]
    scale = top or 0.0
    if not scale and known:
        scale = max(known)
    chars = []
    for value in tail:
        if value is None:
            chars.append(" ")
        elif scale <= 0:
            chars.append(_BARS[0])
        else:
            share = min(1.0, max(0.0, value / scale))
            chars.append(_BARS[min(len(_BARS) - 1, int(share * len(_BARS)))])
    return "".join(chars).rjust(width)
