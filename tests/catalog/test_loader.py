"""Loading bundled catalogs and merging user files, including every kind of bad user file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rigtui.catalog import load_catalog
from rigtui.errors import CatalogError

MINI = Path(__file__).parent / "mini"


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    return folder


def test_mini_catalog_loads() -> None:
    catalog = load_catalog(data_dir=MINI)
    assert set(catalog.gpus) == {"rtx-4090", "rtx-3090", "rtx-3090-ti"}
    assert catalog.models["llama-3.1-8b"].n_kv_heads == 8
    assert catalog.quants["Q8_0"].default_type == "Q8_0"
    assert catalog.problems == []


def test_user_entry_overrides_only_given_keys(user_dir: Path) -> None:
    (user_dir / "gpus.toml").write_text('[[gpus]]\nid = "rtx-4090"\nusable_memory_mib = 24564\n')
    gpu = load_catalog(user_dir, data_dir=MINI).gpus["rtx-4090"]
    assert gpu.usable_memory_mib == 24564
    assert gpu.bandwidth_gbs == 1008  # kept from the bundled entry
    assert gpu.source.startswith("https://www.techpowerup.com/")


def test_user_can_add_a_new_gpu(user_dir: Path) -> None:
    (user_dir / "gpus.toml").write_text(
        """
[[gpus]]
id = "my-card"
name = "Modded RTX 2080 Ti 22GB"
vendor = "nvidia"
segment = "consumer"
architecture = "Turing"
compute_capability = "7.5"
memory_mib = 22528
bandwidth_gbs = 616
pcie_gen = 3
pcie_lanes = 16
tdp_w = 250
source = "my own measurement"
"""
    )
    catalog = load_catalog(user_dir, data_dir=MINI)
    assert catalog.gpu("Modded RTX 2080 Ti 22GB").memory_mib == 22528
    assert catalog.problems == []


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        ("gpus.toml", "[[gpus]\nid = 1\n", "invalid TOML"),
        ("gpus.toml", '[[gpus]]\nid = "rtx-4090"\nmemory_mib = "lots"\n', "memory_mib: Input should be a valid integer"),
        ("gpus.toml", '[[gpus]]\nid = "rtx-4090"\nmemory_gb = 24\n', "memory_gb: Extra inputs are not permitted"),
        ("gpus.toml", '[[gpus]]\nid = "rtx-4090"\nbandwidth_gbs = -5\n', "bandwidth_gbs: Input should be greater than 0"),
        ("gpus.toml", '[[gpus]]\nid = "rtx-4090"\nmemory_mib = 99999999999\n', "memory_mib: Input should be less than or equal"),
        ("gpus.toml", '[[gpus]]\nid = "rtx-4090"\ntdp_w = 450\n[[gpus]]\nid = "rtx-4090"\ntdp_w = 310\n', "duplicate id"),
        ("gpus.toml", '[[gpus]]\nid = "new-card"\nname = "New"\n', "vendor: Field required"),
        ("gpus.toml", '[[cards]]\nid = "x"\n', "cards: unknown table"),
        ("gpus.toml", 'gpus = "not a table"\n', "must be an array of tables"),
        ("colours.toml", "x = 1\n", "not a catalog file"),
        (
            "prices.toml",
            '[[prices]]\ngpu = "rtx-9999"\ncondition = "used"\nlow = 1\nhigh = 2\ncurrency = "USD"\n'
            'as_of = 2026-01-01\nsource = "x"\n',
            "gpu 'rtx-9999': unknown GPU id",
        ),
        (
            "prices.toml",
            '[[prices]]\ngpu = "rtx-3090"\ncondition = "used"\nlow = 900\nhigh = 600\ncurrency = "USD"\n'
            'as_of = 2026-01-01\nsource = "x"\n',
            "low (900.0) is above high (600.0)",
        ),
    ],
    ids=[
        "syntax",
        "wrong-type",
        "unknown-key",
        "negative",
        "absurd",
        "duplicate-id",
        "missing-field",
        "unknown-table",
        "not-array",
        "unknown-file",
        "unknown-reference",
        "inverted-range",
    ],
)
def test_bad_user_file_is_reported_and_bundled_data_still_loads(
    user_dir: Path, file: str, text: str, expected: str
) -> None:
    (user_dir / file).write_text(text)
    catalog = load_catalog(user_dir, data_dir=MINI)
    assert any(expected in problem for problem in catalog.problems), catalog.problems
    assert all(str(user_dir) in problem or "user prices" in problem for problem in catalog.problems)
    assert catalog.gpus["rtx-4090"].tdp_w == 450  # the bundled entry is untouched
    assert len(catalog.gpus) >= 3


def test_syntax_error_names_line_and_column(user_dir: Path) -> None:
    (user_dir / "models.toml").write_text('[[models]]\nid = "a"\nname = \n')
    problems = load_catalog(user_dir, data_dir=MINI).problems
    assert len(problems) == 1
    assert "models.toml: invalid TOML" in problems[0]
    assert "line 3" in problems[0]


def test_bad_entry_is_skipped_and_good_entries_in_same_file_load(user_dir: Path) -> None:
    (user_dir / "gpus.toml").write_text(
        '[[gpus]]\nid = "rtx-4090"\ntdp_w = -1\n\n[[gpus]]\nid = "rtx-3090"\ntdp_w = 300\n'
    )
    catalog = load_catalog(user_dir, data_dir=MINI)
    assert catalog.gpus["rtx-4090"].tdp_w == 450
    assert catalog.gpus["rtx-3090"].tdp_w == 300
    assert len(catalog.problems) == 1
    assert "gpus[0] (id 'rtx-4090').tdp_w" in catalog.problems[0]


def test_user_price_replaces_bundled_range(user_dir: Path) -> None:
    (user_dir / "prices.toml").write_text(
        '[[prices]]\ngpu = "rtx-3090"\ncondition = "used"\nlow = 500\nhigh = 600\ncurrency = "USD"\n'
        'as_of = 2026-11-01\nsource = "local listing"\n'
    )
    prices = load_catalog(user_dir, data_dir=MINI).prices_for("rtx-3090")
    assert [(p.low, p.high) for p in prices] == [(500, 600)]


def test_broken_bundled_file_is_fatal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "os.toml").write_text('[[os]]\nid = "x"\n')
    with pytest.raises(CatalogError, match=r"os.toml: os\[0\].*name: Field required"):
        load_catalog(data_dir=data)


def test_missing_bundled_file_is_fatal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    (data / "runtimes.toml").unlink()
    with pytest.raises(CatalogError, match="runtimes.toml: bundled catalog missing"):
        load_catalog(data_dir=data)


def test_implausible_override_is_rejected_not_used(user_dir: Path) -> None:
    (user_dir / "gpus.toml").write_text('[[gpus]]\nid = "rtx-3090"\nusable_memory_mib = 99999\n')
    catalog = load_catalog(user_dir, data_dir=MINI)
    assert catalog.gpus["rtx-3090"].usable_memory_mib is None
    assert len(catalog.problems) == 1
    assert "(id 'rtx-3090').usable_memory_mib: 99999 is not within 85-100 %" in catalog.problems[0]
