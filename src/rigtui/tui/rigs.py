"""Named rigs saved as TOML in the user's data folder.

A save replaces the file atomically: the new text goes to a temporary file in the same
folder, is flushed to disk, and then ``os.replace`` swaps it in. A crash or a dropped SSH
session therefore leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from rigtui.core.catalog import Catalog, NameNotFound
from rigtui.core.rig import Rig, RigGpu
from rigtui.errors import ConfigError
from rigtui.paths import write_atomic
from rigtui.tui.state import Settings

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


def rigs_dir() -> Path:
    from rigtui.paths import user_paths

    return user_paths().rigs_dir


def check_name(name: str) -> str:
    """Return the name stripped, or raise ConfigError when it cannot be a file name."""
    name = name.strip()
    if not _NAME.match(name) or name.endswith("."):
        raise ConfigError(
            f"invalid rig name {name!r}: use 1-64 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit",
            title="Invalid rig name",
        )
    return name


def rig_path(name: str, folder: Path | None = None) -> Path:
    return (folder or rigs_dir()) / f"{check_name(name)}.toml"


def list_rigs(folder: Path | None = None) -> list[str]:
    """Names of the saved rigs, sorted."""
    folder = folder or rigs_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_table(values: dict[str, Any]) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None]


def dump_rig(rig: Rig, settings: Settings) -> str:
    """The TOML text for a rig and its settings."""
    top = {
        "version": FORMAT_VERSION,
        "name": rig.name,
        "os": rig.os.id,
        "cpu_ram_bytes": rig.cpu_ram_bytes,
        "cpu_ram_bandwidth_gbs": rig.cpu_ram_bandwidth_gbs,
        "psu_w": rig.psu_w,
        "cpu_power_w": rig.cpu_power_w,
        "nvlink_pairs": [list(p) for p in sorted(rig.nvlink_pairs)],
    }
    lines = ["# A rig saved by rigtui; open it with `rigtui --rig NAME`.", *_toml_table(top), ""]
    lines += ["[settings]", *_toml_table(vars(settings)), ""]
    for gpu in rig.gpus:
        fields = {
            "gpu": gpu.spec.id,
            "pcie_gen": gpu.pcie_gen,
            "pcie_lanes": gpu.pcie_lanes,
            "via_chipset": gpu.via_chipset,
            "used_bytes": gpu.used_bytes,
            "desktop": gpu.desktop,
            "label": gpu.label,
        }
        lines += ["[[gpus]]", *_toml_table(fields), ""]
    return "\n".join(lines)


def save_rig(name: str, rig: Rig, settings: Settings, folder: Path | None = None) -> Path:
    """Save a rig under ``name``, replacing any earlier file of that name atomically.

    Raises:
        ConfigError: the name is invalid.
        OSError: the folder cannot be created or written.
    """
    path = rig_path(name, folder)
    rig = replace(rig, name=check_name(name))
    write_atomic(path, dump_rig(rig, settings))
    return path


def _require(data: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{path}: {key}: expected {kind.__name__}, got {value!r}", title="Invalid rig file")
    return value


def parse_rig(text: str, catalog: Catalog, path: Path, default: Settings) -> tuple[Rig, Settings]:
    """Build a rig and settings from TOML text; catalog names resolve like user input does.

    Raises:
        ConfigError: the text is not TOML, or a value is missing, invalid or unknown.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", title="Invalid rig file") from exc
    try:
        gpus = []
        for position, entry in enumerate(data.get("gpus", [])):
            where = f"{path}: gpus[{position}]"
            if not isinstance(entry, dict):
                raise ConfigError(f"{where}: must be a table", title="Invalid rig file")
            spec = catalog.gpu(str(entry.get("gpu", "")))
            gpus.append(
                RigGpu(
                    spec=spec,
                    pcie_gen=int(entry.get("pcie_gen", spec.pcie_gen)),
                    pcie_lanes=int(entry.get("pcie_lanes", spec.pcie_lanes)),
                    via_chipset=bool(entry.get("via_chipset", False)),
                    used_bytes=int(entry.get("used_bytes", 0)),
                    desktop=bool(entry.get("desktop", False)),
                    label=entry.get("label"),
                )
            )
        if not gpus:
            raise ConfigError(f"{path}: gpus: a rig needs at least one [[gpus]] table", title="Invalid rig file")
        os_spec = catalog.os(_require(data, "os", str, path))
        rig = Rig(
            gpus=tuple(gpus),
            os=os_spec,
            cpu_ram_bytes=int(data.get("cpu_ram_bytes", Rig.__dataclass_fields__["cpu_ram_bytes"].default)),
            cpu_ram_bandwidth_gbs=float(
                data.get("cpu_ram_bandwidth_gbs", Rig.__dataclass_fields__["cpu_ram_bandwidth_gbs"].default)
            ),
            nvlink_pairs=frozenset((int(a), int(b)) for a, b in data.get("nvlink_pairs", [])),
            psu_w=data.get("psu_w"),
            cpu_power_w=int(data.get("cpu_power_w", 150)),
            name=str(data.get("name", path.stem)),
        )
        settings = _parse_settings(data.get("settings", {}), catalog, default)
    except NameNotFound as exc:
        raise ConfigError(f"{path}: {exc}", title="Invalid rig file") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}", title="Invalid rig file") from exc
    return rig, settings


def _parse_settings(raw: dict[str, Any], catalog: Catalog, default: Settings) -> Settings:
    """Settings from a rig file; entries the catalog no longer has fall back to the default."""
    values = dict(vars(default))
    lookups = {"model": catalog.models, "quant": catalog.quants, "runtime": catalog.runtimes}
    for key, value in raw.items():
        if key not in values:
            continue
        if key in lookups and value not in lookups[key]:
            continue
        values[key] = value
    return Settings(**values)


def load_rig(name: str, catalog: Catalog, default: Settings, folder: Path | None = None) -> tuple[Rig, Settings]:
    """Open a saved rig by name.

    Raises:
        ConfigError: no rig of that name, or the file is invalid.
    """
    path = rig_path(name, folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        saved = ", ".join(list_rigs(folder)) or "none yet"
        raise ConfigError(f"no saved rig named {name!r} in {path.parent} (saved rigs: {saved})", title="Rig not found")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", title="Rig not readable") from exc
    return parse_rig(text, catalog, path, default)
