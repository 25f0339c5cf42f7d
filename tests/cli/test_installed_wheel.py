"""The built wheel carries the catalogs and finds them when installed outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.subprocess
def test_installed_wheel_reads_its_own_catalogs(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("rigtui-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    # Run from a folder outside the checkout so that nothing can fall back to ROOT/data.
    env = {**os.environ, "PYTHONPATH": str(site), "RIGTUI_CONFIG_DIR": str(tmp_path / "config")}
    probe = (
        "import json, rigtui, rigtui.catalog as c; "
        "print(json.dumps({'module': rigtui.__file__, 'data': str(c.bundled_data_dir())}))"
    )
    where = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    located = json.loads(where.stdout)
    assert located["module"].startswith(str(site))
    assert located["data"] == str(site / "rigtui" / "data")
    check = subprocess.run(
        [sys.executable, "-m", "rigtui", "catalog", "check", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    report = json.loads(check.stdout)
    assert report["counts"]["gpus"] > 0 and report["counts"]["models"] > 0, report
