"""Measure the explorer's start-up, keystroke latency and memory.

Usage: python bench/tui_speed.py [--runs N] [--keys N] [--json]

1. Start to first paint: runs `rigtui` in a pseudo-terminal at 80x24 with empty user
   folders and times from spawn until the first frame (the loading screen) is on screen,
   and until the GPU table is. Without an NVIDIA driver the table shows the example rig.
2. Resident memory: VmRSS of that process once it has painted, and of the keystroke run's
   process once the fit matrix over the whole bundled catalog has filled.
3. Keystroke to repaint: in a pty, on the fit matrix of the whole bundled catalog, times
   each filter, sort or column key from writing it until the frame that shows its result
   arrives, while the matrix is still filling and once it has filled; then cursor keys,
   until the first bytes of their repaint.

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
    add("fit matrix over the bundled catalog filled", None if fill_seconds != fill_seconds else round(fill_seconds, 1),
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
    args = parser.parse_args()

    compile_rigtui()
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
    phases = (
        ("filter/sort/column key while filling", filling),
        ("filter/sort/column key after filling", filled),
        ("cursor key after filling", moves),
    )
    if args.json:
        result = records(args, times, table_times, rss_start, phases, fill_seconds, rss_full)
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

    print(f"fit matrix over the bundled catalog filled in {fill_seconds:.1f} s")
    for label, values in phases:
        if not values:
            print(f"keystroke to repaint, {label}: no key got a repaint")
            continue
        print(f"keystroke to repaint, {label}: median {statistics.median(values) * 1000:.1f} ms, "
              f"p95 {_p95(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms ({len(values)} keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
