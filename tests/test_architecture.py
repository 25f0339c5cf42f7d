"""The layering in DESIGN terms: the core stays free of UI, network and NVML imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is missing; install the test extra: pip install -e '.[test]'"
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert command in readme, f"README must show the command .ci/run runs: {command}"


def test_readme_lists_every_subcommand() -> None:
    from rigtui.cli import COMMANDS

    readme = (ROOT / "README.md").read_text()
    for name in COMMANDS:
        if name != "app":
            assert f"| `rigtui {name}" in readme, f"README's command table lacks `rigtui {name}`"


def test_readme_lists_every_screen_key() -> None:
    from rigtui.tui.app import RigApp

    readme = (ROOT / "README.md").read_text()
    screens = [b for b in RigApp.BINDINGS if b.action.startswith("show(")]
    assert screens
    for binding in screens:
        row = f"| `{binding.key}` | {binding.description}"
        assert row in readme, f"README's key table lacks the row {row!r}"
