"""Run a program in a pseudo-terminal and watch what it paints, for the start-up and memory benchmarks."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from pathlib import Path

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")

# Bytes of raw output kept between reads, so that a marker split across two reads is still found.
_CARRY = 512


def user_env(home: Path, columns: int = 80, lines: int = 24) -> dict[str, str]:
    """Return the environment for a run with empty user folders under ``home``."""
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(lines))
    for name in ("CONFIG", "DATA", "CACHE"):
        env[f"RIGTUI_{name}_DIR"] = str(home / name.lower())
    return env


def spawn(argv: list[str], env: dict[str, str], columns: int = 80, lines: int = 24) -> tuple[int, int]:
    """Start ``argv`` in a new pseudo-terminal of the given size and return its pid and the master fd.

    The child sets the window size on its own terminal before exec, so the program starts at that size.
    """
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        os.execve(argv[0], argv, env)
    return pid, fd


class Screen:
    """Reads a pseudo-terminal's output and finds text in it with the escape sequences removed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._tail = b""
        self.closed = False

    def read(self, timeout: float) -> bytes:
        """Return the plain text of the output that arrives within ``timeout`` seconds (with some old text)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            self.closed = True
            return b""
        if not chunk:
            self.closed = True
        raw = self._tail + chunk
        self._tail = raw[-_CARRY:]
        return ANSI.sub(b"", raw)

    def wait_for(self, needle: bytes, timeout: float) -> bool:
        """Read until ``needle`` appears in the plain text. Return False on timeout or when the program exits."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if needle in self.read(min(left, 0.05)):
                return True
        return False

    def drain(self, seconds: float) -> None:
        """Read and drop output for ``seconds``, so the program does not block on a full terminal meanwhile."""
        deadline = time.monotonic() + seconds
        while not self.closed and time.monotonic() < deadline:
            self.read(max(0.0, min(0.05, deadline - time.monotonic())))


def stop(pid: int, fd: int, quit_key: bytes = b"q") -> None:
    """Press the quit key, then terminate the program if it has not exited within a second."""
    try:
        os.write(fd, quit_key)
    except OSError:
        pass
    Screen(fd).drain(1.0)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)


def rss_bytes(pid: int) -> int:
    """Return the resident set size of a process (VmRSS in /proc) in bytes, or 0 once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_rss_bytes(pid: int) -> int:
    """Return the resident set size of a process and its direct children, in bytes."""
    total = rss_bytes(pid)
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            total += rss_bytes(int(status.parent.name))
    return total


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU seconds a process has used (from /proc), or 0 once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of proc(5), counted after the command name here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
