"""Snapshots of the Upgrade screen at 80x24 and 160x48, on the fixed test catalog.

Every figure comes from the core, so a change to the placement, speed or price model changes
these pictures on purpose: read the HTML report before `--snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest


async def open_upgrade(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.press("6")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_upgrade_snapshot(snap_compare, app_factory, size: tuple[int, int]) -> None:
    assert snap_compare(app_factory(), terminal_size=size, run_before=open_upgrade)
