"""Named rig files: round trip, atomic replacement and the errors a user sees."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from rigtui.core.catalog import Catalog
from rigtui.errors import ConfigError
from rigtui.tui import edits, rigs
from rigtui.tui.app import default_settings


def _rig(catalog: Catalog):
    rig = edits.example_rig(catalog)
    rig = edits.add_gpu(rig, catalog.gpus["rtx-3090"])
    rig = edits.toggle_nvlink(rig, 1)
    rig = edits.update_gpu(rig, 0, used_bytes=edits.gib(1.5), via_chipset=True)
    return replace(rig, psu_w=1600, cpu_ram_bytes=edits.gib(128), os=catalog.oses["windows-11"])


def test_round_trip_keeps_rig_and_settings(catalog: Catalog, tmp_path: Path) -> None:
    rig = _rig(catalog)
    settings = replace(default_settings(catalog), context=32768, kv_cache="q8_0", flash_attn=False)
    rigs.save_rig("office", rig, settings, tmp_path)
    loaded, loaded_settings = rigs.load_rig("office", catalog, default_settings(catalog), tmp_path)
    assert [g.spec.id for g in loaded.gpus] == [g.spec.id for g in rig.gpus]
    assert loaded.gpus == rig.gpus
    assert loaded.nvlink_pairs == rig.nvlink_pairs
    assert loaded.os.id == "windows-11"
    assert loaded.psu_w == 1600
    assert loaded.cpu_ram_bytes == rig.cpu_ram_bytes
    assert loaded.name == "office"
    assert loaded_settings == settings


def test_list_rigs_sorted(catalog: Catalog, tmp_path: Path) -> None:
    settings = default_settings(catalog)
    for name in ("zeta", "alpha"):
        rigs.save_rig(name, _rig(catalog), settings, tmp_path)
    assert rigs.list_rigs(tmp_path) == ["alpha", "zeta"]


def test_failed_replace_keeps_previous_file(catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = default_settings(catalog)
    path = rigs.save_rig("office", _rig(catalog), settings, tmp_path)
    before = path.read_text()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        rigs.save_rig("office", edits.example_rig(catalog), settings, tmp_path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["office.toml"]


def test_invalid_names_rejected() -> None:
    for name in ("", "../escape", "a/b", ".hidden", "x" * 65, "dot."):
        with pytest.raises(ConfigError):
            rigs.check_name(name)
    assert rigs.check_name("  my rig 2 ") == "my rig 2"


def test_missing_rig_lists_saved_names(catalog: Catalog, tmp_path: Path) -> None:
    rigs.save_rig("office", _rig(catalog), default_settings(catalog), tmp_path)
    with pytest.raises(ConfigError, match="office") as info:
        rigs.load_rig("home", catalog, default_settings(catalog), tmp_path)
    assert "home" in info.value.message


def test_unknown_gpu_names_closest(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('os = "ubuntu-24.04"\n[[gpus]]\ngpu = "RTX 3091"\n')
    with pytest.raises(ConfigError, match="3090"):
        rigs.load_rig("bad", catalog, default_settings(catalog), tmp_path)


def test_invalid_toml_names_file(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("os = \n")
    with pytest.raises(ConfigError, match="broken.toml"):
        rigs.load_rig("broken", catalog, default_settings(catalog), tmp_path)


def test_bad_nvlink_pair_is_config_error(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "pair.toml").write_text('os = "ubuntu-24.04"\nnvlink_pairs = [[0, 5]]\n[[gpus]]\ngpu = "rtx-3090"\n')
    with pytest.raises(ConfigError, match="NVLink"):
        rigs.load_rig("pair", catalog, default_settings(catalog), tmp_path)


def test_unknown_model_in_settings_falls_back(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "old.toml").write_text(
        'os = "ubuntu-24.04"\n[settings]\nmodel = "gone-model"\ncontext = 4096\n[[gpus]]\ngpu = "rtx-3090"\n'
    )
    default = default_settings(catalog)
    _, settings = rigs.load_rig("old", catalog, default, tmp_path)
    assert settings.model == default.model
    assert settings.context == 4096
