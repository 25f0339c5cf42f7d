"""Text charts: per-device stacked memory bars and a small speed-against-context plot.

Each segment has its own character as well as its own colour, so the bars stay readable
with NO_COLOR and on 16-colour terminals.
"""

from __future__ import annotations

from typing import Sequence

from rich.table import Table
from rich.text import Text

from rigtui.core.results import DeviceUsage
from rigtui.tui.widgets.format import gib_bare, short_tokens, tokens

# (attribute, legend, character, style)
SEGMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("weights_bytes", "weights", "█", "blue"),
    ("kv_cache_bytes", "KV cache", "▓", "magenta"),
    ("compute_buffer_bytes", "compute", "▒", "yellow"),
    ("overhead_bytes", "overhead", "░", "bright_black"),
)
FREE = ("free", "·", "green")
SHORT = ("short", "!", "bold red")

_LEVELS = " ▁▂▃▄▅▆▇█"


def legend() -> Text:
    text = Text()
    for _, label, char, style in SEGMENTS:
        text.append(char * 2, style=style)
        text.append(f" {label}  ")
    text.append(FREE[1] * 2, style=FREE[2])
    text.append(f" {FREE[0]}  ")
    text.append(SHORT[1] * 2, style=SHORT[2])
    text.append(f" {SHORT[0]}")
    return text


def device_bar(device: DeviceUsage, width: int, scale_bytes: int) -> Text:
    """Draw one device as a bar ``width`` cells wide for ``scale_bytes``; bytes past capacity show as '!'."""
    text = Text()
    if scale_bytes <= 0 or width <= 0:
        return text
    per_cell = scale_bytes / width
    used_cells = 0
    capacity_cells = round(device.capacity_bytes / per_cell)
    for attribute, _, char, style in SEGMENTS:
        value = getattr(device, attribute)
        cells = round((value) / per_cell) if value else 0
        if value and not cells:
            cells = 1
        cells = min(cells, width - used_cells)
        if cells <= 0:
            continue
        inside = max(0, min(cells, capacity_cells - used_cells))
        text.append(char * inside, style=style)
        text.append(SHORT[1] * (cells - inside), style=SHORT[2])
        used_cells += cells
    free_cells = max(0, min(capacity_cells, width) - used_cells)
    text.append(FREE[1] * free_cells, style=FREE[2])
    text.append(" " * max(0, width - used_cells - free_cells))
    return text


def device_bars(devices: Sequence[DeviceUsage], width: int) -> Table:
    """Build a table of every device: name, stacked bar, used of capacity and layers held.

    Each bar is scaled to its own device, so a GPU's bar is not dwarfed by system RAM.
    """
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, max_width=18, overflow="ellipsis")
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, justify="right")
    table.add_column(no_wrap=True)
    for device in devices:
        scale = max(device.capacity_bytes, device.total_bytes)
        layers = f"{device.layers} layers" if device.layers else ""
        if device.expert_layers:
            layers += f" +{device.expert_layers} expert"
        if device.holds_output:
            layers += " +out"
        style = "" if device.fits else "bold red"
        table.add_row(
            Text(device.name),
            device_bar(device, width, scale),
            Text(f"{gib_bare(device.total_bytes)}/{gib_bare(device.capacity_bytes)} GiB", style=style),
            Text(layers.strip(), style="dim"),
        )
    return table


def speed_plot(points: Sequence[tuple[int, float]], height: int = 4, column_width: int = 5) -> Text:
    """Bars of decode tokens/s against context depth, tallest at the top, labels below."""
    text = Text()
    if not points:
        return text
    top = max(value for _, value in points) or 1.0
    steps = height * (len(_LEVELS) - 1)
    heights = [round(value / top * steps) for _, value in points]
    for row in range(height, 0, -1):
        floor = (row - 1) * (len(_LEVELS) - 1)
        for level in heights:
            fill = max(0, min(len(_LEVELS) - 1, level - floor))
            text.append((_LEVELS[fill] * (column_width - 1)).ljust(column_width), style="cyan")
        text.append("\n")
    for _, value in points:
        text.append(tokens(value).rjust(column_width - 1).ljust(column_width), style="bold")
    text.append(" tok/s\n")
    for depth, _ in points:
        text.append(short_tokens(depth).rjust(column_width - 1).ljust(column_width), style="dim")
    text.append(" tokens in context")
    return text
