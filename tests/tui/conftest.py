"""Fixtures for the explorer tests: a fixed catalog and an app factory that reads nothing from the host."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from rigtui.catalog.loader import load_catalog
from rigtui.core.catalog import Catalog
from rigtui.tui.app import RigApp, make_app

FIXTURE_DATA = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """A small catalog copied from the bundled data, so screens do not change as the catalog grows."""
    return load_catalog(data_dir=FIXTURE_DATA)


@pytest.fixture
def app_factory(catalog: Catalog, tmp_path: Path) -> Callable[..., RigApp]:
    """Build an app on the fixed catalog, with saved rigs under the test's temporary folder."""

    def build(**options: Any) -> RigApp:
        options.setdefault("rigs_folder", tmp_path / "rigs")
        return make_app(catalog, **options)

    return build


async def _settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def settle() -> Callable[[Any], Any]:
    """An awaitable helper: wait until every worker has finished and the screen has repainted."""
    return _settle
