"""Load the bundled catalogs from data/ and merge the user's catalog files on top.

Bundled files must be valid: a problem there is a bug and raises ``CatalogError``. A user
file is the user's own: each bad entry is skipped and reported as ``path: key: reason`` in
``Catalog.problems``, and everything else still loads.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from rigtui.core.catalog import Catalog
from rigtui.core.specs import GgmlType, GpuSpec, ModelSpec, OsSpec, PriceSpec, QuantSpec, RuntimeSpec
from rigtui.errors import CatalogError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Table:
    """One kind of entry: the file it lives in and the TOML array-of-tables key."""

    file: str
    key: str
    spec: type[BaseModel]


TABLES: tuple[Table, ...] = (
    Table("gpus.toml", "gpus", GpuSpec),
    Table("models.toml", "models", ModelSpec),
    Table("quants.toml", "ggml_types", GgmlType),
    Table("quants.toml", "quants", QuantSpec),
    Table("runtimes.toml", "runtimes", RuntimeSpec),
    Table("os.toml", "os", OsSpec),
    Table("prices.toml", "prices", PriceSpec),
)
CATALOG_FILES = tuple(dict.fromkeys(t.file for t in TABLES))


def bundled_data_dir() -> Path:
    """Return the folder holding the bundled catalogs.

    An installed wheel has them at ``rigtui/data``; an editable install of a checkout reads
    the top-level ``data/`` folder that the wheel is built from.
    """
    packaged = resources.files("rigtui") / "data"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "data"
    if checkout.is_dir():
        return checkout
    raise CatalogError(f"bundled catalogs not found at {packaged} or {checkout}; reinstall rigtui")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning syntax and read errors into CatalogError with the path."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def format_validation_error(exc: ValidationError, prefix: str) -> list[str]:
    """Turn a pydantic error into 'prefix.key: reason (got value)' lines."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        where = f"{prefix}.{loc}" if loc else prefix
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{where}: {error['msg']}{shown}")
    return lines


def _plausibility(entry: BaseModel) -> list[str]:
    """Return the cross-field problems `rigtui catalog check` would report for one entry."""
    from rigtui.catalog.check import gpu_problems, model_problems

    if isinstance(entry, GpuSpec):
        return gpu_problems(entry)
    if isinstance(entry, ModelSpec):
        return model_problems(entry)
    return []


def _entry_key(spec: type[BaseModel], raw: dict[str, Any]) -> str | None:
    if spec is PriceSpec:
        return None
    value = raw.get("id")
    return str(value) if value is not None else None


def _load_file(
    path: Path,
    tables: list[Table],
    base: dict[str, dict[str, dict[str, Any]]],
    report: Callable[[str], None],
) -> dict[str, list[BaseModel]]:
    """Validate one file's tables; entries whose id exists in ``base`` are merged over it."""
    data = read_toml(path)
    known = {t.key for t in tables}
    for key in data:
        if key not in known:
            report(f"{path}: {key}: unknown table; expected one of {', '.join(sorted(known))}")
    loaded: dict[str, list[BaseModel]] = {}
    for table in tables:
        raw_entries = data.get(table.key, [])
        if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
            report(f"{path}: {table.key}: must be an array of tables ([[{table.key}]])")
            continue
        seen: set[str] = set()
        entries: list[BaseModel] = []
        for position, raw in enumerate(raw_entries):
            entry_id = _entry_key(table.spec, raw)
            label = f"{path}: {table.key}[{position}]" + (f" (id {entry_id!r})" if entry_id else "")
            if entry_id is not None and entry_id in seen:
                report(f"{label}: id: duplicate id in this file")
                continue
            merged = dict(base.get(table.key, {}).get(entry_id, {})) if entry_id else {}
            merged.update(raw)
            try:
                entry = table.spec.model_validate(merged)
            except ValidationError as exc:
                for line in format_validation_error(exc, label):
                    report(line)
                continue
            implausible = _plausibility(entry)
            if implausible:
                for line in implausible:
                    report(f"{label}.{line}")
                continue
            entries.append(entry)
            if entry_id is not None:
                seen.add(entry_id)
        loaded[table.key] = entries
    return loaded


def load_catalog(user_dir: Path | None = None, data_dir: Path | None = None) -> Catalog:
    """Load the bundled catalogs and merge the user's files from ``user_dir`` over them.

    Args:
        user_dir: folder with the user's catalog TOML files; None means no user files.
        data_dir: folder with the bundled files; None means the packaged data.

    Raises:
        CatalogError: a bundled file is missing or invalid.
    """
    data_dir = data_dir or bundled_data_dir()
    bundled: dict[str, list[BaseModel]] = {}
    raw_by_id: dict[str, dict[str, dict[str, Any]]] = {}

    def fatal(message: str) -> None:
        raise CatalogError(message)

    for file in CATALOG_FILES:
        path = data_dir / file
        if not path.is_file():
            raise CatalogError(f"{path}: bundled catalog missing; reinstall rigtui")
        tables = [t for t in TABLES if t.file == file]
        bundled.update(_load_file(path, tables, {}, fatal))
    for table in TABLES:
        raw_by_id[table.key] = {
            str(getattr(e, "id")): e.model_dump(exclude_unset=True)
            for e in bundled.get(table.key, [])
            if hasattr(e, "id")
        }

    problems: list[str] = []
    user: dict[str, list[BaseModel]] = {}
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            tables = [t for t in TABLES if t.file == path.name]
            if not tables:
                problems.append(f"{path}: not a catalog file; expected one of {', '.join(CATALOG_FILES)}")
                continue
            try:
                for key, entries in _load_file(path, tables, raw_by_id, problems.append).items():
                    user.setdefault(key, []).extend(entries)
            except CatalogError as exc:
                problems.append(str(exc))
    for problem in problems:
        log.info("user catalog problem: %s", problem)
    return _assemble(bundled, user, problems)


def _by_id(bundled: list[Any], user: list[Any]) -> dict[str, Any]:
    entries = {e.id: e for e in bundled}
    entries.update({e.id: e for e in user})
    return entries


def _assemble(bundled: dict[str, list[Any]], user: dict[str, list[Any]], problems: list[str]) -> Catalog:
    gpus = _by_id(bundled.get("gpus", []), user.get("gpus", []))
    # A user price for the same card, condition and currency replaces the bundled range.
    user_prices = user.get("prices", [])
    replaced = {(p.gpu, p.condition, p.currency) for p in user_prices}
    prices = [p for p in bundled.get("prices", []) if (p.gpu, p.condition, p.currency) not in replaced]
    for price in user_prices:
        if price.gpu not in gpus:
            problems.append(f"user prices: gpu {price.gpu!r}: unknown GPU id; add it to gpus.toml first")
        else:
            prices.append(price)
    return Catalog(
        gpus=gpus,
        models=_by_id(bundled.get("models", []), user.get("models", [])),
        quants=_by_id(bundled.get("quants", []), user.get("quants", [])),
        ggml_types=_by_id(bundled.get("ggml_types", []), user.get("ggml_types", [])),
        runtimes=_by_id(bundled.get("runtimes", []), user.get("runtimes", [])),
        oses=_by_id(bundled.get("os", []), user.get("os", [])),
        prices=prices,
        problems=problems,
    )


def load_user_catalog() -> Catalog:
    """Load the catalogs with the current user's files (see ``rigtui paths``)."""
    from rigtui.paths import user_paths

    return load_catalog(user_paths().catalog_dir)
