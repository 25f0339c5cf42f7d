"""Formatters for figures on screen: one per unit, so every screen writes them the same way."""

from __future__ import annotations

GIB = 1 << 30

NA = "n/a"

_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "plus": "+",
    "minus": "-",
    "equals_sign": "=",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "delete": "del",
    "enter": "enter",
    "escape": "esc",
}


def key_name(key: str) -> str:
    """Return a key as the user types it ("question_mark" -> "?")."""
    return _KEY_NAMES.get(key, key)


def gib(value: int | None, digits: int = 1) -> str:
    """Bytes as GiB with the unit, "n/a" when unknown."""
    if value is None:
        return NA
    return f"{value / GIB:.{digits}f} GiB"


def gib_bare(value: int, digits: int = 1) -> str:
    return f"{value / GIB:.{digits}f}"


def tokens(value: float | None) -> str:
    """Tokens per second with precision that fits a narrow cell."""
    if value is None:
        return NA
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}"


def speed_range(speed: object | None) -> str:
    """Format a SpeedRange as "expected tok/s (low–high)"."""
    if speed is None:
        return NA
    low, expected, high = speed.low, speed.expected, speed.high  # type: ignore[attr-defined]
    return f"{tokens(expected)} tok/s ({tokens(low)}–{tokens(high)})"


def context_label(tokens_count: int | None) -> str:
    """Format a context length as people write it: 8k, 128k, 1M."""
    if tokens_count is None:
        return NA
    if tokens_count >= 1 << 20 and tokens_count % (1 << 20) == 0:
        return f"{tokens_count >> 20}M"
    if tokens_count >= 1024 and tokens_count % 1024 == 0:
        return f"{tokens_count // 1024}k"
    return f"{tokens_count:,}"


def short_tokens(count: int) -> str:
    """Format a token count rounded to thousands for narrow labels: 0, 512, 4k, 33k, 1.0M."""
    if count < 1000:
        return str(count)
    if count >= 1_000_000:
        return f"{count / (1 << 20):.1f}M"
    return f"{count / 1024:.0f}k"


def params_label(count: int) -> str:
    """Format a parameter count as 8.0B or 360M."""
    if count >= 1e9:
        return f"{count / 1e9:.1f}B"
    return f"{count / 1e6:.0f}M"


def pcie_label(gen: int, lanes: int) -> str:
    return f"{gen}.0 x{lanes}"
