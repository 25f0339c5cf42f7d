"""The shared explorer state: undo and redo over rig and settings changes."""

from __future__ import annotations

from dataclasses import replace

from rigtui.core.catalog import Catalog
from rigtui.tui import edits
from rigtui.tui.app import default_settings
from rigtui.tui.state import ExplorerState, rig_key, workload_key


def _state(catalog: Catalog) -> ExplorerState:
    return ExplorerState(rig=edits.example_rig(catalog), settings=default_settings(catalog))


def test_undo_restores_rig_and_names_edit(catalog: Catalog) -> None:
    state = _state(catalog)
    before = state.rig
    state.set_rig(edits.add_gpu(before, catalog.gpus["rtx-3060-12gb"]), "add RTX 3060")
    assert len(state.rig.gpus) == 3
    assert state.undo() == "add RTX 3060"
    assert state.rig is before
    assert not state.can_undo


def test_redo_reapplies_and_new_edit_clears_redo(catalog: Catalog) -> None:
    state = _state(catalog)
    state.set_settings("set context to 16k", context=16384)
    state.set_settings("set KV cache to q8_0", kv_cache="q8_0")
    state.undo()
    state.undo()
    assert state.settings.context == 8192
    assert state.redo() == "set context to 16k"
    assert state.settings.context == 16384
    assert state.settings.kv_cache == "f16"
    state.set_settings("turn flash attention off", flash_attn=False)
    assert state.redo() is None


def test_unchanged_settings_record_no_step(catalog: Catalog) -> None:
    state = _state(catalog)
    state.set_settings("no-op", context=state.settings.context)
    assert not state.can_undo
    assert state.revision == 0


def test_revision_grows_on_every_change(catalog: Catalog) -> None:
    state = _state(catalog)
    state.set_settings("a", context=4096)
    state.undo()
    state.redo()
    assert state.revision == 3


def test_undo_history_is_bounded(catalog: Catalog) -> None:
    state = _state(catalog)
    for step in range(250):
        state.set_settings(f"step {step}", context=1024 + step)
    undone = 0
    while state.undo():
        undone += 1
    assert undone == 200


def test_rig_key_tracks_link_and_memory_changes(catalog: Catalog) -> None:
    rig = edits.example_rig(catalog)
    assert rig_key(rig) == rig_key(replace(rig))
    assert rig_key(rig) != rig_key(edits.update_gpu(rig, 1, pcie_lanes=4))
    assert rig_key(rig) != rig_key(edits.update_gpu(rig, 0, used_bytes=1))
    assert rig_key(rig) != rig_key(replace(rig, cpu_ram_bytes=rig.cpu_ram_bytes * 2))


def test_workload_key_tracks_context(catalog: Catalog) -> None:
    state = _state(catalog)
    assert workload_key(state.workload(catalog)) != workload_key(state.workload(catalog, context=4096))
    assert workload_key(state.workload(catalog)) == workload_key(state.workload(catalog))
