"""Measure the explorer's start-up, keystroke latency and memory.

Usage: python bench/tui_speed.py [--runs N] [--keys N] [--whatif-only] [--json]

1. Start to first paint: runs `rigtui` in a pseudo-terminal at 80x24 with empty user
   folders and times from spawn until the first frame (the loading screen) is on screen,
   and until the GPU table is. Without an NVIDIA driver the table shows the example rig.
2. Resident memory: VmRSS of that process once it has painted, and of the keystroke run's
   process once the fit matrix over the whole bundled catalog has filled.
3. Keystroke to repaint: in a pty, on the fit matrix of the whole bundled catalog, times
   each filter, sort or column key from writing it until the frame that shows its result
   arrives, while the matrix is still filling and once it has filled; then cursor keys,
   until the first bytes of their repaint.
4. What-if edit to repainted matrix: makes rig and KV-cache edits on the Rig screen, opens the
   fit matrix on the last of them, and lets it fill. Undo and redo are the what-if keys the
   matrix screen offers (its own keys only filter and sort), so it then undoes the edits one
   by one, each to a rig the matrix has not placed yet, and redoes them, each to a rig it has
   placed before. Each key's time runs from writing it until the last frame that changes
   the figures in view, once no cell in view is still computing. A small terminal model
   rebuilds the screen from the app's output.

Before timing, it compiles rigtui's modules to bytecode, as pip does when it installs a
wheel; an editable install run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile them
again at every start. ``--json`` prints a JSON list of records for bench/run.py instead of
the report.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from terminal import cpu_seconds  # noqa: E402

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")
FIRST_FRAME = b"Loading the catalog"
RIG_TABLE = b"GeForce"
TARGET_FIRST_PAINT_S = 0.5
TARGET_KEY_P95_MS = 50.0
TARGET_RSS_MB = 100.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children_rss_mib(pid: int) -> float:
    total = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            total += _rss_mib(int(status.parent.name))
    return total


def _read_until(fd: int, needle: bytes, timeout: float) -> bool:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.01)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return False
        seen += chunk
        if needle in ANSI.sub(b"", seen):
            return True
    return False


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24")
    for name in ("CONFIG", "DATA", "CACHE"):
        env[f"RIGTUI_{name}_DIR"] = str(home / name.lower())
    return env


# A Textual app with nothing of rigtui in it: a header, the loading line and a footer. Its
# first paint is the floor that importing and starting Textual sets on this machine.
BARE_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("Loading the catalog")
        yield Footer()

Bare().run()
"""


def first_paint(runs: int, home: Path, argv: list[str] | None = None,
                table: bytes | None = RIG_TABLE) -> tuple[list[float], list[float], list[float], list[float]]:
    """Time spawn to first paint in a pty, and read the resident memory after the paint.

    Returns the first-paint times, the GPU-table times, the resident memory (MiB) and the
    CPU seconds the process had used at its first paint. The CPU time depends far less on
    other jobs on the machine than the wall time does. ``argv`` defaults to the installed
    `rigtui` command. With ``table`` None, the run ends at the first paint and the table
    times equal the first-paint times.
    """
    rigtui = shutil.which("rigtui", path=str(Path(sys.executable).parent)) or "rigtui"
    argv = argv or [rigtui]
    env = _env(home)
    times, table_times, rss_start, cpu_times = [], [], [], []
    for run in range(runs):
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(argv[0], argv, env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        painted = _read_until(fd, FIRST_FRAME, 20)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(pid)
        painted = painted and (table is None or _read_until(fd, table, 20))
        table_times.append(time.perf_counter() - start)
        if not painted:
            print("  run", run, "never painted the GPU table", file=sys.stderr)
        else:
            times.append(elapsed)
            cpu_times.append(cpu)
            rss_start.append(_rss_mib(pid))
        os.write(fd, b"q")
        _read_until(fd, b"\x00never", 1)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return times, table_times, rss_start, cpu_times


# Keys that re-filter, re-sort or re-column the whole matrix, each with the status-line text
# that shows its result; they cycle back to the starting view.
MATRIX_KEYS: tuple[tuple[bytes, bytes], ...] = (
    (b"o", b"by speed"), (b"o", b"by size"), (b"o", b"by name"),
    (b"m", b"MoE only"), (b"m", b"dense only"), (b"m", b"MoE+dense"),
    (b"z", "< 10B".encode()), (b"z", "10–40B".encode()), (b"z", "40–100B".encode()),
    (b"z", "> 100B".encode()), (b"z", b"all sizes"),
    (b"c", b"ctx @"), (b"c", b"quant @"),
)


def keystrokes(count: int, home: Path) -> tuple[list[float], list[float], list[float], float, float]:
    """Time keys on the whole-catalog fit matrix in a pty, while it fills and once it has filled.

    Each key's time runs from writing it to the pty until the status line it changes shows
    the new text, which Textual writes in the same frame as the rebuilt table.
    """
    rigtui = shutil.which("rigtui", path=str(Path(sys.executable).parent)) or "rigtui"
    env = _env(home)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(rigtui, [rigtui], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    _read_until(fd, RIG_TABLE, 30)
    os.write(fd, b"2")
    _read_until(fd, b"by name", 30)
    started = time.perf_counter()

    def run_keys(limit: int) -> list[float]:
        times = []
        for i in range(limit):
            key, marker = MATRIX_KEYS[i % len(MATRIX_KEYS)]
            t0 = time.perf_counter()
            os.write(fd, key)
            if _read_until(fd, marker, 10):
                times.append(time.perf_counter() - t0)
            time.sleep(0.05)
        return times

    filling = run_keys(count)
    _read_until(fd, "· tok/s".encode(), 1800)
    fill_seconds = time.perf_counter() - started
    rss_full = _rss_mib(pid) + _children_rss_mib(pid)
    filled = run_keys(count)
    moves = []
    for i in range(count):
        _read_until(fd, b"\x00drain", 0.1)
        t0 = time.perf_counter()
        os.write(fd, b"\x1b[B" if i % 2 == 0 else b"\x1b[A")
        if _first_output(fd, 5):
            moves.append(time.perf_counter() - t0)
    os.write(fd, b"q")
    _read_until(fd, b"\x00never", 1)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return filling, filled, moves, fill_seconds, rss_full


class _Terminal:
    """The text on a pseudo-terminal's screen, from the cursor moves and characters the app writes.

    It knows what Textual writes: absolute and relative cursor moves, erases, and text; styles
    are dropped. It keeps the screen as rows of characters.
    """

    SEQUENCE = re.compile(rb"\x1b\[([0-9;?]*)[ -/]*([@-~])|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78]")

    def __init__(self, lines: int, columns: int) -> None:
        self.lines, self.columns = lines, columns
        self.screen = [[" "] * columns for _ in range(lines)]
        self.x = self.y = 0
        self._pending = b""

    def feed(self, data: bytes) -> None:
        data = self._pending + data
        # Keep an escape sequence or a character cut at the end of the read for the next one.
        cut = data.rfind(b"\x1b")
        if cut != -1 and not self.SEQUENCE.match(data, cut):
            data, self._pending = data[:cut], data[cut:]
        else:
            self._pending = b""
        text_start = 0
        for match in self.SEQUENCE.finditer(data):
            self._text(data[text_start:match.start()])
            text_start = match.end()
            if match.group(2):
                self._control(match.group(1), match.group(2))
        rest = data[text_start:]
        try:
            rest.decode()
        except UnicodeDecodeError:
            # A character split across two reads: keep its first bytes.
            for back in (1, 2, 3):
                try:
                    rest[:-back].decode()
                except UnicodeDecodeError:
                    continue
                self._pending = rest[-back:] + self._pending
                rest = rest[:-back]
                break
        self._text(rest)

    def _text(self, raw: bytes) -> None:
        for char in raw.decode(errors="replace"):
            if char == "\r":
                self.x = 0
            elif char == "\n":
                self.y = min(self.y + 1, self.lines - 1)
            elif char >= " ":
                if 0 <= self.y < self.lines and 0 <= self.x < self.columns:
                    self.screen[self.y][self.x] = char
                self.x += 1

    def _control(self, params: bytes, final: bytes) -> None:
        values = [int(v) if v.isdigit() else 0 for v in params.decode().lstrip("?").split(";")]
        first = values[0] or 1
        if final in (b"H", b"f"):
            self.y = first - 1
            self.x = (values[1] if len(values) > 1 and values[1] else 1) - 1
        elif final == b"A":
            self.y = max(0, self.y - first)
        elif final == b"B":
            self.y = min(self.lines - 1, self.y + first)
        elif final == b"C":
            self.x += first
        elif final == b"D":
            self.x = max(0, self.x - first)
        elif final == b"G":
            self.x = first - 1
        elif final == b"K" and 0 <= self.y < self.lines:
            row, mode = self.screen[self.y], values[0]
            start, end = {0: (self.x, self.columns), 1: (0, self.x + 1)}.get(mode, (0, self.columns))
            row[start:end] = [" "] * (min(end, self.columns) - min(start, self.columns))
        elif final == b"J" and values[0] == 2:
            self.screen = [[" "] * self.columns for _ in range(self.lines)]

    def text(self, top: int, bottom: int, left: int, right: int) -> str:
        return "\n".join("".join(row[left:right]) for row in self.screen[top:bottom])


# Edits made on the Rig screen before the matrix opens: two KV-cache type steps and one more
# card, repeated, so that every state in the undo history is a different rig or KV type.
WHATIF_EDITS = (b"k", b"k", b"+")
# The fit matrix at 80x24: its body rows, and the cell columns that notifications, which stack
# at the right, leave uncovered. Cells off screen may still be computing when a key's time ends.
MATRIX_BODY = (3, 21)
MATRIX_CELLS = (26, 38)
SETTLE_S = 0.4


def whatif(count: int, home: Path) -> tuple[list[float], list[float], int]:
    """Time undo and redo of rig edits on the filled whole-catalog fit matrix in a pty.

    Returns the undo times (to rigs not placed yet), the redo times (to rigs placed before),
    and how many keys changed no figure in view, whose time is their first frame with no
    cell computing.
    """
    rigtui = shutil.which("rigtui", path=str(Path(sys.executable).parent)) or "rigtui"
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(rigtui, [rigtui], _env(home))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    terminal = _Terminal(24, 80)

    def pump(timeout: float) -> bool:
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            terminal.feed(os.read(fd, 65536))
        return bool(ready)

    def wait_text(needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pump(0.05)
            if needle in terminal.text(0, 24, 0, 80):
                return True
        return False

    # At most 14 cards can be added to the two of the example rig.
    edits = [WHATIF_EDITS[i % len(WHATIF_EDITS)] for i in range(min(count, 14 * len(WHATIF_EDITS)))]
    wait_text("GeForce", 30)
    for key in edits:
        os.write(fd, key)
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            pump(0.05)
    os.write(fd, b"2")
    wait_text("by name", 30)
    wait_text("· tok/s", 1800)
    unchanged = 0

    def timed(key: bytes) -> float | None:
        nonlocal unchanged
        # Let the previous key's frames end first.
        while pump(SETTLE_S):
            pass
        before = terminal.text(*MATRIX_BODY, *MATRIX_CELLS)
        shown = before
        t0 = time.perf_counter()
        os.write(fd, key)
        changed_at = done_at = None
        last_output = time.perf_counter()
        computing = True
        # Wait while cells are computing, however quiet, then until the output has settled.
        while (computing or time.perf_counter() - last_output < SETTLE_S) and time.perf_counter() - t0 < 30:
            if not pump(0.02):
                continue
            now = last_output = time.perf_counter()
            cells = terminal.text(*MATRIX_BODY, *MATRIX_CELLS)
            if cells != shown:
                shown, changed_at = cells, now
            computing = PENDING_CELL in terminal.text(*MATRIX_BODY, MATRIX_CELLS[0], 80)
            if computing:
                done_at = None
            elif done_at is None:
                done_at = now
        if done_at is None:
            return None
        if shown == before:
            unchanged += 1
            return done_at - t0
        return max(changed_at or t0, done_at) - t0

    undos = [t for t in (timed(b"u") for _ in edits) if t is not None]
    redos = [t for t in (timed(b"\x12") for _ in edits) if t is not None]
    os.write(fd, b"q")
    _read_until(fd, b"\x00never", 1)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return undos, redos, unchanged


PENDING_CELL = "     …"
"""A cell still computing: the pending mark right-aligned in a six-character cell."""


def _first_output(fd: int, timeout: float) -> bool:
    """Wait for the next bytes the app writes: the repaint after a cursor key."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if ready:
        os.read(fd, 65536)
    return bool(ready)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def compile_rigtui() -> None:
    """Write the bytecode of every rigtui module, as pip does for an installed wheel."""
    import rigtui

    package = Path(rigtui.__file__).parent
    if not compileall.compile_dir(package, quiet=1):
        print(f"could not compile every module under {package}; start-up includes compiling them", file=sys.stderr)
    elif sys.flags.dont_write_bytecode:
        print(f"compiled {package} to bytecode, which this environment (PYTHONDONTWRITEBYTECODE) "
              "would not write by itself", file=sys.stderr)


def records(args: argparse.Namespace, times: list[float], table_times: list[float], rss_start: list[float],
            phases: tuple[tuple[str, list[float]], ...], fill_seconds: float,
            rss_full: float) -> list[dict[str, object]]:
    """Turn the measurements into the benchmark records bench/run.py collects (memory in MB, 10^6 bytes)."""
    command = f"python bench/tui_speed.py --runs {args.runs} --keys {args.keys}"
    mib = 2**20 / 1e6
    result: list[dict[str, object]] = []

    def add(name: str, value: float | None, unit: str, target: str | None, ok: bool | None) -> None:
        result.append({"name": name, "value": value, "unit": unit, "target": target, "ok": ok, "command": command})

    if times:
        paint = statistics.median(times)
        add("start-up: first paint at 80x24, median", round(paint, 3), "s",
            f"< {TARGET_FIRST_PAINT_S} s", paint < TARGET_FIRST_PAINT_S)
        add("start-up: GPU table on screen, median", round(statistics.median(table_times), 3), "s", None, None)
        rss = statistics.median(rss_start) * mib
        add("memory: RSS after first paint", round(rss, 1), "MB", f"< {TARGET_RSS_MB:g} MB", rss < TARGET_RSS_MB)
    else:
        add("start-up: first paint at 80x24, median", None, "s", f"< {TARGET_FIRST_PAINT_S} s", False)
    # The resident memory reads as NaN when the app had exited before the matrix filled.
    full = None if rss_full != rss_full else round(rss_full * mib, 1)
    add("memory: RSS with the whole fit matrix filled", full, "MB",
        f"< {TARGET_RSS_MB:g} MB", full is not None and full < TARGET_RSS_MB)
    add("fit matrix opened to filled, with the filling-phase keys pressed meanwhile", None if fill_seconds != fill_seconds else round(fill_seconds, 1),
        "s", None, None)
    for label, values in phases:
        p95 = _p95(values) * 1000 if values else None
        add(f"keys: {label}, p95", None if p95 is None else round(p95, 1), "ms",
            f"< {TARGET_KEY_P95_MS:g} ms", p95 is not None and p95 < TARGET_KEY_P95_MS)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="first-paint runs (default 10)")
    parser.add_argument("--keys", type=int, default=60, help="keystrokes per phase (default 60)")
    parser.add_argument("--bare", action="store_true",
                        help="also time the first paint of a bare Textual app, the floor Textual sets")
    parser.add_argument("--json", action="store_true", help="print the results as a JSON list of records")
    parser.add_argument("--whatif-only", action="store_true",
                        help="time only the what-if edits (undo and redo on the filled matrix)")
    args = parser.parse_args()

    compile_rigtui()
    if args.whatif_only:
        with tempfile.TemporaryDirectory() as home:
            undos, redos, unchanged = whatif(args.keys, Path(home))
        for label, values in (("undo to a rig not placed yet", undos), ("redo to a rig placed before", redos),
                              ("undo or redo", undos + redos)):
            print(f"what-if edit to repainted matrix, {label}: median {statistics.median(values) * 1000:.1f} ms, "
                  f"p95 {_p95(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms ({len(values)} keys)")
        print(f"  {unchanged} keys changed no figure in view")
        return 0
    with tempfile.TemporaryDirectory() as home:
        bare, bare_cpu = [], []
        if args.bare:
            bare, _, _, bare_cpu = first_paint(args.runs, Path(home), [sys.executable, "-c", BARE_APP], None)
        times, table_times, rss_start, cpu_times = first_paint(args.runs, Path(home))
        try:
            filling, filled, moves, fill_seconds, rss_full = keystrokes(args.keys, Path(home))
        except OSError as exc:
            # The pty answers EIO once the app has exited, which a crash on the fit matrix causes.
            print(f"the app exited during the keystroke run ({exc}); no key was timed", file=sys.stderr)
            filling, filled, moves, fill_seconds, rss_full = [], [], [], float("nan"), float("nan")
        try:
            undos, redos, unchanged = whatif(args.keys, Path(home))
        except OSError as exc:
            print(f"the app exited during the what-if run ({exc}); no edit was timed", file=sys.stderr)
            undos, redos, unchanged = [], [], 0
    phases = (
        ("filter/sort/column key while filling", filling),
        ("filter/sort/column key after filling", filled),
        ("cursor key after filling", moves),
    )
    edits = (
        ("undo to a rig not placed yet", undos),
        ("redo to a rig placed before", redos),
        ("undo or redo", undos + redos),
    )
    if args.json:
        result = records(args, times, table_times, rss_start, phases, fill_seconds, rss_full)
        for label, values in edits:
            p95 = _p95(values) * 1000 if values else None
            result.append({"name": f"what-if edit to repainted matrix: {label}, p95",
                           "value": None if p95 is None else round(p95, 1), "unit": "ms",
                           "target": f"< {TARGET_KEY_P95_MS:g} ms", "ok": p95 is not None and p95 < TARGET_KEY_P95_MS,
                           "command": result[0]["command"]})
        if cpu_times:
            result.insert(1, {"name": "start-up: CPU time to first paint, median",
                              "value": round(statistics.median(cpu_times), 3), "unit": "s", "target": None,
                              "ok": None, "command": result[0]["command"]})
        if bare:
            command = f"python bench/tui_speed.py --bare --runs {args.runs}"
            result[:0] = [
                {"name": "start-up: bare Textual app first paint, median", "value": round(statistics.median(bare), 3),
                 "unit": "s", "target": None, "ok": None, "command": command},
                {"name": "start-up: bare Textual app CPU time to first paint, median",
                 "value": round(statistics.median(bare_cpu), 3), "unit": "s", "target": None, "ok": None,
                 "command": command},
            ]
        print(json.dumps(result, indent=1))
        return 0
    if bare:
        print(f"bare Textual app, first paint at 80x24: median {statistics.median(bare) * 1000:.0f} ms, "
              f"min {min(bare) * 1000:.0f} ms over {len(bare)} runs; CPU time at its first paint: "
              f"median {statistics.median(bare_cpu) * 1000:.0f} ms")
    if times:
        for label, values in (("first paint", times), ("GPU table on screen", table_times)):
            print(f"{label} at 80x24: median {statistics.median(values) * 1000:.0f} ms, "
                  f"min {min(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms over {len(values)} runs")
        print(f"CPU time of the app at its first paint: median {statistics.median(cpu_times) * 1000:.0f} ms")
        print(f"resident memory after first paint: median {statistics.median(rss_start):.0f} MiB")
    print(f"resident memory with the whole fit matrix filled (app and any child processes): {rss_full:.0f} MiB")

    print(f"fit matrix opened to filled, with the filling-phase keys pressed meanwhile: {fill_seconds:.1f} s")
    for label, values in phases:
        if not values:
            print(f"keystroke to repaint, {label}: no key got a repaint")
            continue
        print(f"keystroke to repaint, {label}: median {statistics.median(values) * 1000:.1f} ms, "
              f"p95 {_p95(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms ({len(values)} keys)")
    for label, values in edits:
        if not values:
            print(f"what-if edit to repainted matrix, {label}: no key got a repaint")
            continue
        print(f"what-if edit to repainted matrix, {label}: median {statistics.median(values) * 1000:.1f} ms, "
              f"p95 {_p95(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms ({len(values)} keys)")
    if unchanged:
        print(f"  {unchanged} of these keys changed no figure in view; their time is their first frame "
              "with no cell computing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
