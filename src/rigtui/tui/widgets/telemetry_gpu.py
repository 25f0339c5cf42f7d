"""One GPU's live figures with short history sparklines."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import Visual, visualize
from textual.widget import Widget

from rigtui.hardware.source import GpuInfo, GpuSample, decode_throttle_reasons
from rigtui.tui.widgets.format import NA
from rigtui.tui.widgets.telemetry_format import link, memory, number, power, rate, sparkline

HISTORY_LENGTH = 120
"""Samples of history kept per GPU: two minutes at the default 1 s interval."""


@dataclass
class GpuHistory:
    """Recent readings of one GPU, oldest first; None marks a sample without that figure."""

    util_pct: deque[float | None] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))
    mem_used_bytes: deque[float | None] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))
    power_w: deque[float | None] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))
    temp_c: deque[float | None] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))

    def add(self, reading: GpuSample) -> None:
        self.util_pct.append(reading.util_gpu_pct)
        self.mem_used_bytes.append(reading.mem_used_bytes)
        self.power_w.append(reading.power_w)
        self.temp_c.append(reading.temp_gpu_c)


_LABEL = 8


class GpuPanel(Widget):
    """Live figures of one GPU. The screen hands it each reading with ``show``."""

    DEFAULT_CSS = """
    GpuPanel {
        height: auto;
        border: round $primary-darken-1;
        padding: 0 1;
    }
    GpuPanel.-lost {
        border: round $error;
    }
    """

    def __init__(self, info: GpuInfo, history: GpuHistory) -> None:
        super().__init__()
        self.info = info
        self.history = history
        self.reading: GpuSample | None = None
        self.border_title = f"GPU {info.index} · {info.name}"
        # Drawn lines are kept between samples: most samples change only some of the lines, and
        # turning a line of text into cells is most of the cost of drawing a panel.
        self._lines: list[Text] | None = None
        self._strips: dict[int, Strip] = {}
        self._strip_key: tuple[int, VisualStyle] | None = None
        # Panel text contains no links, so skip the link styling pass on every drawn line.
        self.auto_links = False

    def show(self, reading: GpuSample | None) -> None:
        """Display a new reading; the history has already been updated by the screen."""
        previous = self.reading
        self.reading = reading
        self.set_class(bool(reading and reading.lost), "-lost")
        if reading is not None and reading.lost:
            self.border_subtitle = "LOST"
        old_lines = self._lines
        if self._line_count(previous) != self._line_count(reading) or old_lines is None or not self.size.width:
            # Layout is costly; only a change in the number of lines needs it.
            self._lines = None
            self._strips.clear()
            self.refresh(layout=self._line_count(previous) != self._line_count(reading))
            return
        parent = self.parent
        if isinstance(parent, Widget) and not parent.can_view_partial(self):
            # Scrolled out of view: draw it whole once it comes back instead of on every sample.
            self._lines = None
            self._strips.clear()
            self.refresh()
            return
        lines = self._split(self.render())
        self._lines = lines
        if len(lines) != len(old_lines):
            self._strips.clear()
            self.refresh()
            return
        width = self.size.width
        if not (self._fits(old_lines, width) and self._fits(lines, width)):
            # A line that wraps moves the lines below it, so the panel is drawn whole.
            self._strips.clear()
            self.refresh()
            return
        for y, (old, new) in enumerate(zip(old_lines, lines)):
            if old.plain != new.plain or old.spans != new.spans:
                self._strips.pop(y, None)
                self.refresh(Region(0, y, width, 1))

    @staticmethod
    def _split(text: Text) -> list[Text]:
        lines = list(text.split("\n", allow_blank=True))
        for line in lines:
            line.no_wrap = text.no_wrap
            line.overflow = text.overflow
        return lines

    @staticmethod
    def _fits(lines: list[Text], width: int) -> bool:
        # No character takes more than two cells, so most lines are known to fit without
        # measuring each character.
        return all(2 * len(line) <= width or line.cell_len <= width for line in lines)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.visual_style
        if self._strip_key != (width, style):
            self._strip_key = (width, style)
            self._strips.clear()
            self._lines = None
        if self._lines is None:
            self._lines = self._split(self.render())
        if self.text_selection is not None or not self._fits(self._lines, width):
            # A selection spans lines, and a wrapped line moves the ones below it, so both are
            # drawn from the whole text as usual.
            self._strips.clear()
            return super().render_line(y)
        strip = self._strips.get(y)
        if strip is None:
            if y >= len(self._lines):
                return Strip.blank(width, style.rich_style)
            strip = Visual.to_strips(self, visualize(self, self._lines[y]), width, 1, style)[0]
            self._strips[y] = strip
        return strip

    @staticmethod
    def _line_count(reading: GpuSample | None) -> int:
        if reading is None:
            return 1
        if reading.lost:
            return 3
        return 7 if reading.failures else 6

    def _value(self, text: Text, field_name: str, shown: str) -> None:
        # Fields the GPU does not support are dimmed, so "n/a" reads as a property of the card.
        supported = field_name in self.info.supported
        text.append(shown, style="" if supported and shown != NA else "dim")

    def _row(self, text: Text, label: str) -> None:
        if text.plain:
            text.append("\n")
        text.append(label.ljust(_LABEL), style="bold")

    def render(self) -> Text:
        reading = self.reading
        text = Text(no_wrap=True, overflow="ellipsis")
        if reading is None:
            text.append("waiting for the first sample…", style="dim")
            return text
        inner = max(40, self.size.width)
        spark = max(6, min(40, inner - 44))

        if reading.lost:
            text.append("This GPU stopped answering; its history ends here. The other GPUs keep updating.", style="red")
            self._row(text, "util")
            text.append(sparkline(self.history.util_pct, spark + 20, 100.0), style="dim")
            return text

        self._row(text, "util")
        self._value(text, "util_gpu_pct", number(reading.util_gpu_pct, "%").rjust(6))
        text.append("  " + sparkline(self.history.util_pct, spark, 100.0), style="green")
        text.append("  memory bus ")
        self._value(text, "util_mem_pct", number(reading.util_mem_pct, "%"))

        self._row(text, "memory")
        self._value(text, "mem_used_bytes", memory(reading.mem_used_bytes, reading.mem_total_bytes).rjust(17))
        text.append("  " + sparkline(self.history.mem_used_bytes, max(6, spark - 11), reading.mem_total_bytes), style="cyan")

        self._row(text, "power")
        self._value(text, "power_w", power(reading.power_w, reading.power_limit_w).rjust(11))
        text.append("  " + sparkline(self.history.power_w, max(6, spark - 5), reading.power_limit_w), style="magenta")
        text.append("  fan ")
        self._value(text, "fan_pct", number(reading.fan_pct, "%"))

        self._row(text, "temp")
        self._value(text, "temp_gpu_c", number(reading.temp_gpu_c, "°C"))
        text.append("  memory ")
        self._value(text, "temp_mem_c", number(reading.temp_mem_c, "°C"))
        text.append("   clocks SM ")
        self._value(text, "clock_sm_mhz", number(reading.clock_sm_mhz, "MHz"))
        text.append(", memory ")
        self._value(text, "clock_mem_mhz", number(reading.clock_mem_mhz, "MHz"))

        self._row(text, "PCIe")
        self._value(text, "pcie_gen", link(reading.pcie_gen, reading.pcie_width))
        text.append(f" of {link(reading.pcie_gen_max, reading.pcie_width_max)}")
        text.append("   RX ")
        self._value(text, "pcie_rx_bytes_s", rate(reading.pcie_rx_bytes_s))
        text.append("  TX ")
        self._value(text, "pcie_tx_bytes_s", rate(reading.pcie_tx_bytes_s))

        self._row(text, "clocks")
        if "throttle_reasons" not in self.info.supported or reading.throttle_reasons is None:
            text.append(f"limits {NA}", style="dim")
        else:
            reasons = decode_throttle_reasons(reading.throttle_reasons)
            text.append("limited by " + ", ".join(reasons) if reasons else "running free (no limit active)")
        text.append("   ECC errors ")
        self._value(text, "ecc_uncorrected", number(reading.ecc_uncorrected, "uncorrected"))
        if reading.failures:
            self._row(text, "failed")
            text.append("; ".join(reading.failures), style="yellow")
        return text
