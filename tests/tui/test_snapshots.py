"""Snapshots of every explorer screen at 80x24 and 160x48, on the fixed test catalog.

The figures in the cells come from the core, so a change to the placement or speed model
changes these pictures on purpose: read the HTML report before `--snapshot-update`.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from rigtui.tui.app import MIN_HEIGHT, MIN_WIDTH

SIZES = [(80, 24), (160, 48)]


def steps(*keys: str) -> Callable[[Any], Any]:
    """A run_before hook: settle, press ``keys`` one by one with settling in between."""

    async def run(pilot: Any) -> None:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run


SCREENS = {
    "rig": steps(),
    "fit_matrix": steps("2"),
    "fit_matrix_contexts": steps("2", "c"),
    "fit_detail": steps("2", "down", "right", "right", "right", "right", "enter"),
    "topology": steps("3"),
    "runtimes": steps("4"),
    "help": steps("question_mark"),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare, app_factory, screen: str, size: tuple[int, int]) -> None:
    assert snap_compare(app_factory(), terminal_size=size, run_before=SCREENS[screen])


def test_edited_rig_snapshot(snap_compare, app_factory) -> None:
    # A third card on chipset lanes, bridged to its neighbour: every column of the card table
    # and the link warnings show.
    keys = ("down", "d", "n", "down", "c", "l", "l", "l")
    assert snap_compare(app_factory(), terminal_size=(160, 48), run_before=steps(*keys))


def test_topology_chipset_snapshot(snap_compare, app_factory) -> None:
    keys = ("down", "d", "n", "down", "c", "l", "l", "l", "3")
    assert snap_compare(app_factory(), terminal_size=(80, 24), run_before=steps(*keys))


def test_too_small_snapshot(snap_compare, app_factory) -> None:
    assert snap_compare(app_factory(), terminal_size=(MIN_WIDTH - 20, MIN_HEIGHT - 6), run_before=steps())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_servers_snapshot(snap_compare, app_factory, size: tuple[int, int]) -> None:
    from tests.tui.test_servers_screen import FixedServers

    app = app_factory()
    app.server_backend = FixedServers()
    assert snap_compare(app, terminal_size=size, run_before=steps("7"))
