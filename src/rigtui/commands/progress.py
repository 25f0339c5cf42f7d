"""Download progress on stderr for commands, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from rigtui.sources.remote import Progress

_MIB = 1 << 20


class StderrProgress:
    """Rewrites one stderr line per progress report, and clears it when the downloads end.

    Scripts and pipes see nothing, because it writes only when ``stream.isatty()``.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._shown = False

    def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        size = f"{event.done_bytes / _MIB:.1f} MiB"
        if event.total_bytes:
            size += f" of {event.total_bytes / _MIB:.1f} MiB"
        self.stream.write(f"\r\x1b[Krigtui: fetching {event.step}: {size}")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the progress line, if one was written."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
