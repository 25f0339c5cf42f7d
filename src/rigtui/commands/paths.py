"""`rigtui paths`: where the config, user catalogs, saved rigs, measurements and caches live."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "paths",
        help="show where rigtui reads config and user catalogs and keeps saved rigs, measurements and caches",
        description="Show rigtui's folders. Set RIGTUI_CONFIG_DIR, RIGTUI_DATA_DIR or RIGTUI_CACHE_DIR to move them.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rigtui.catalog import bundled_data_dir
    from rigtui.paths import user_paths
    from rigtui.sources.local import CACHE_FILE
    from rigtui.sources.measurements import measurements_path

    paths = user_paths()
    rows = {
        "config_file": paths.config_file,
        "user_catalogs": paths.catalog_dir,
        "saved_rigs": paths.rigs_dir,
        "measurements": measurements_path(),
        "cache": paths.cache_dir,
        "local_model_cache": paths.cache_dir / CACHE_FILE,
        "logs": paths.log_dir,
        "bundled_catalogs": bundled_data_dir(),
    }
    if args.json:
        print(json.dumps({key: str(value) for key, value in rows.items()}, indent=2))
        return 0
    width = max(len(key) for key in rows)
    for key, value in rows.items():
        state = "" if value.exists() else "  (not created yet)"
        print(f"{key.replace('_', ' '):<{width}}  {value}{state}")
    return 0
