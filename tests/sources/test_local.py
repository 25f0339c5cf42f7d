"""Scanning this disk for models: a fake hub cache, Ollama store and LM Studio folder with real GGUF files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import gguf
import pytest

from gguf_files import write_tiny_llama
from rigtui.catalog.loader import load_catalog
from rigtui.sources.local import (
    CACHE_FORMAT,
    FOLDER,
    HF_CACHE,
    LM_STUDIO,
    OLLAMA,
    ScanRoot,
    catalog_entries,
    default_roots,
    detect_layout,
    scan_local_models,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def make_hf_cache(hub: Path, tiny: Path) -> None:
    """A GGUF repository with refs/main and an older snapshot, a safetensors one, and a config-only one."""
    repo = hub / "models--someone--Tiny-GGUF"
    data = tiny.read_bytes()
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "Tiny-Q8_0.gguf").symlink_to(os.path.relpath(blob, snapshot))
    (snapshot / "Gone-Q4_K_M.gguf").symlink_to(os.path.relpath(repo / "blobs" / "missing", snapshot))
    old = repo / "snapshots" / "ffffffffffffffffffffffffffffffffffffffff"
    old.mkdir()
    (old / "Old-Q4_K_M.gguf").symlink_to(os.path.relpath(blob, old))

    weights = hub / "models--someone--Tiny-ST" / "snapshots" / COMMIT
    weights.mkdir(parents=True)
    (hub / "models--someone--Tiny-ST" / "refs").mkdir()
    (hub / "models--someone--Tiny-ST" / "refs" / "main").write_text(COMMIT)
    config = {
        "model_type": "llama", "num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 8,
        "num_key_value_heads": 2, "vocab_size": 1000, "intermediate_size": 512, "torch_dtype": "bfloat16",
        "max_position_embeddings": 8192,
    }
    (weights / "config.json").write_text(json.dumps(config))
    (weights / "model.safetensors").write_bytes(b"\0" * 4096)

    tokenizer_only = hub / "models--someone--Tokenizer" / "snapshots" / COMMIT
    tokenizer_only.mkdir(parents=True)
    (tokenizer_only / "config.json").write_text(json.dumps(config))


def make_ollama(store: Path, tiny: Path) -> None:
    """One good model, a manifest that is not JSON, and one whose blob is gone."""
    data = tiny.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (store / "blobs").mkdir(parents=True)
    (store / "blobs" / f"sha256-{digest}").write_bytes(data)
    library = store / "manifests" / "registry.ollama.ai" / "library"
    manifest = {
        "schemaVersion": 2,
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": len(data)},
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64, "size": 10},
        ],
    }
    (library / "tiny").mkdir(parents=True)
    (library / "tiny" / "1b").write_text(json.dumps(manifest))
    (library / "broken").mkdir()
    (library / "broken" / "latest").write_text("{not json")
    gone = dict(manifest, layers=[dict(manifest["layers"][0], digest="sha256:" + "e" * 64)])
    (library / "gone").mkdir()
    (library / "gone" / "latest").write_text(json.dumps(gone))


def make_lm_studio(models: Path, tmp: Path) -> None:
    """A Q4_K_M file, a vision projector, a truncated file, a split model and a symlink loop."""
    folder = models / "publisher" / "Tiny-GGUF"
    folder.mkdir(parents=True)
    write_tiny_llama(folder / "Tiny-Q4_K_M.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M)
    write_tiny_llama(folder / "mmproj-Tiny-F16.gguf")
    cut = models / "publisher" / "Cut-GGUF"
    cut.mkdir()
    whole = write_tiny_llama(tmp / "whole.gguf")
    (cut / "Cut-F16.gguf").write_bytes(whole.read_bytes()[:-100])
    split = models / "publisher" / "Split-GGUF"
    split.mkdir()
    write_tiny_llama(split / "Split-F16.gguf", split_max_tensors=10)
    (models / "publisher" / "loop").symlink_to(models)


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("disk")
    tiny = write_tiny_llama(root / "tiny.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q8_0)
    make_hf_cache(root / "hub", tiny)
    make_ollama(root / "ollama", tiny)
    make_lm_studio(root / "lmstudio", root)
    return {"hub": root / "hub", "ollama": root / "ollama", "lmstudio": root / "lmstudio", "root": root}


@pytest.fixture(scope="module")
def scan(disk: dict[str, Path]):
    roots = [ScanRoot(disk["hub"], HF_CACHE), ScanRoot(disk["ollama"], OLLAMA), ScanRoot(disk["lmstudio"], LM_STUDIO)]
    return scan_local_models(roots)


def by_name(scan) -> dict[str, object]:
    return {m.name: m for m in scan.models}


def test_hf_cache_lists_main_snapshot_gguf(scan) -> None:
    model = by_name(scan)["Tiny-Q8_0"]
    assert model.origin == HF_CACHE
    assert model.repo == "someone/Tiny-GGUF"
    assert model.file_type == "Q8_0"
    assert model.spec is not None
    assert model.spec.n_layers == 2


def test_hf_cache_skips_snapshot_not_on_main(scan) -> None:
    assert "Old-Q4_K_M" not in by_name(scan)


def test_hf_cache_broken_symlink_is_an_error(scan) -> None:
    dangling = by_name(scan)["Gone-Q4_K_M"]
    assert dangling.spec is None
    assert "broken symlink" in dangling.error


def test_hf_cache_reads_safetensors_config(scan) -> None:
    model = by_name(scan)["someone/Tiny-ST"]
    assert model.file_type == "safetensors-bf16"
    assert model.file_bytes == 4096
    assert model.spec.n_layers == 4


def test_hf_cache_ignores_config_without_weights(scan) -> None:
    assert "someone/Tokenizer" not in by_name(scan)


def test_ollama_model_from_manifest_blob(scan) -> None:
    model = by_name(scan)["tiny:1b"]
    assert model.origin == OLLAMA
    assert model.path.name.startswith("sha256-")
    assert model.file_type == "Q8_0"
    assert model.file_bytes == model.path.stat().st_size


def test_ollama_broken_manifest_is_an_error(scan) -> None:
    broken = by_name(scan)["broken:latest"]
    assert broken.spec is None
    assert "not valid JSON" in broken.error


def test_ollama_missing_blob_is_an_error(scan) -> None:
    assert "is missing" in by_name(scan)["gone:latest"].error


def test_lm_studio_file_with_repo(scan) -> None:
    model = by_name(scan)["Tiny-Q4_K_M"]
    assert model.origin == LM_STUDIO
    assert model.repo == "publisher/Tiny-GGUF"
    assert model.file_type == "Q4_K_M"


def test_vision_projector_is_not_listed(scan) -> None:
    assert not [m for m in scan.models if "mmproj" in m.name]


def test_truncated_gguf_is_an_error(scan) -> None:
    cut = by_name(scan)["Cut-F16"]
    assert cut.spec is None
    assert "truncated" in cut.error


def test_split_gguf_listed_once_with_all_tensors(scan, disk: dict[str, Path]) -> None:
    split = [m for m in scan.models if m.name == "Split-F16"]
    assert len(split) == 1
    assert split[0].parts == 2
    assert split[0].path.name == "Split-F16-00001-of-00002.gguf"
    whole = by_name(scan)["Tiny-Q4_K_M"]
    assert split[0].spec.params_total == whole.spec.params_total


def test_split_gguf_size_counts_every_part(scan, disk: dict[str, Path]) -> None:
    split = by_name(scan)["Split-F16"]
    folder = split.path.parent
    assert split.file_bytes == sum(p.stat().st_size for p in folder.glob("Split-F16-*.gguf"))


def test_split_gguf_missing_part_is_an_error(tmp_path: Path) -> None:
    first = write_tiny_llama(tmp_path / "Part-F16.gguf", split_max_tensors=10)
    (tmp_path / "Part-F16-00002-of-00002.gguf").unlink()
    found = scan_local_models([ScanRoot(tmp_path, FOLDER)]).models
    assert [m.name for m in found] == ["Part-F16"]
    assert found[0].path == first
    assert "missing part 2 of 2" in found[0].error


def test_symlink_loop_lists_each_file_once(scan) -> None:
    names = [m.name for m in scan.models]
    assert names.count("Tiny-Q4_K_M") == 1


def test_same_blob_through_two_roots_listed_once(disk: dict[str, Path], tmp_path: Path) -> None:
    blob = next((disk["ollama"] / "blobs").iterdir())
    (tmp_path / "linked.gguf").symlink_to(blob)
    roots = [ScanRoot(disk["ollama"], OLLAMA), ScanRoot(tmp_path, FOLDER)]
    names = [m.name for m in scan_local_models(roots).models if m.spec is not None]
    assert names == ["tiny:1b"]


def test_file_cap_stops_scan_with_reason(disk: dict[str, Path]) -> None:
    scan = scan_local_models([ScanRoot(disk["lmstudio"], LM_STUDIO)], max_files=2)
    assert scan.limit is not None
    assert "2 model files" in scan.limit
    assert len(scan.readable) <= 2


def test_time_cap_stops_scan_with_reason(disk: dict[str, Path]) -> None:
    scan = scan_local_models([ScanRoot(disk["lmstudio"], LM_STUDIO)], max_seconds=0)
    assert scan.limit is not None
    assert "time limit" in scan.limit


def test_missing_root_is_skipped(tmp_path: Path) -> None:
    scan = scan_local_models([ScanRoot(tmp_path / "nothing", OLLAMA)])
    assert scan.models == []
    assert scan.limit is None


def test_default_roots_follow_environment(tmp_path: Path) -> None:
    environ = {"HF_HOME": str(tmp_path / "hf"), "OLLAMA_MODELS": str(tmp_path / "ollama")}
    roots = default_roots(environ, home=tmp_path / "home")
    paths = {root.path: root.layout for root in roots}
    assert paths[tmp_path / "hf" / "hub"] == HF_CACHE
    assert paths[tmp_path / "ollama"] == OLLAMA
    assert paths[tmp_path / "home" / ".ollama" / "models"] == OLLAMA
    assert paths[tmp_path / "home" / ".lmstudio" / "models"] == LM_STUDIO
    assert paths[tmp_path / "home" / ".cache" / "lm-studio" / "models"] == LM_STUDIO


def test_hf_hub_cache_wins_over_hf_home(tmp_path: Path) -> None:
    environ = {"HF_HUB_CACHE": str(tmp_path / "direct"), "HF_HOME": str(tmp_path / "hf")}
    layouts = {root.path: root.layout for root in default_roots(environ, home=tmp_path)}
    assert layouts[tmp_path / "direct"] == HF_CACHE
    assert tmp_path / "hf" / "hub" not in layouts


def test_hf_cache_defaults_under_xdg_cache_home(tmp_path: Path) -> None:
    roots = default_roots({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, home=tmp_path)
    assert ScanRoot(tmp_path / "xdg" / "huggingface" / "hub", HF_CACHE) in roots


def test_scan_dirs_detect_layout_and_defaults_off(disk: dict[str, Path]) -> None:
    extra = os.pathsep.join(str(disk[name]) for name in ("hub", "ollama", "lmstudio"))
    roots = default_roots({"RIGTUI_SCAN_DIRS": extra, "RIGTUI_SCAN_DEFAULTS": "0"}, home=disk["root"])
    assert [root.layout for root in roots] == [HF_CACHE, OLLAMA, FOLDER]


def test_detect_layout_of_missing_folder_is_folder(tmp_path: Path) -> None:
    assert detect_layout(tmp_path / "missing") == FOLDER


def test_header_cache_skips_reading_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf")
    roots = [ScanRoot(tmp_path / "models", FOLDER)]
    cache = tmp_path / "cache" / "local-models.json"
    first = scan_local_models(roots, cache_file=cache)
    assert cache.is_file()

    def fail(path: Path, first_read: int = 0) -> None:
        raise AssertionError(f"read {path} despite the cache")

    monkeypatch.setattr("rigtui.sources.gguf.read_header", fail)
    second = scan_local_models(roots, cache_file=cache)
    assert [m.spec for m in second.models] == [m.spec for m in first.models]
    assert second.models[0].file_bytes == first.models[0].file_bytes


def test_header_cache_rereads_changed_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    path = write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf")
    roots = [ScanRoot(tmp_path / "models", FOLDER)]
    cache = tmp_path / "local-models.json"
    assert scan_local_models(roots, cache_file=cache).models[0].error is None
    path.write_bytes(path.read_bytes()[:-64])
    changed = scan_local_models(roots, cache_file=cache).models[0]
    assert changed.spec is None
    assert "truncated" in changed.error


def test_header_cache_ignores_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf")
    cache = tmp_path / "local-models.json"
    cache.write_text("{broken")
    found = scan_local_models([ScanRoot(tmp_path / "models", FOLDER)], cache_file=cache).models
    assert found[0].spec is not None
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT


def test_header_cache_drops_removed_files(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    gone = write_tiny_llama(tmp_path / "models" / "Gone-F16.gguf")
    write_tiny_llama(tmp_path / "models" / "Kept-F16.gguf")
    roots = [ScanRoot(tmp_path / "models", FOLDER)]
    cache = tmp_path / "local-models.json"
    scan_local_models(roots, cache_file=cache)
    gone.unlink()
    scan_local_models(roots, cache_file=cache)
    keys = list(json.loads(cache.read_text())["models"])
    assert len(keys) == 1
    assert "Kept-F16.gguf" in keys[0]


def tensor_bytes_by_layer(*files: Path) -> tuple[list[int], int]:
    """Bytes of each block's tensors and of all tensors, as the gguf package reads the files."""
    per_layer: dict[int, int] = {}
    total = 0
    for path in files:
        for tensor in gguf.GGUFReader(path).tensors:
            total += int(tensor.n_bytes)
            if tensor.name.startswith("blk."):
                layer = int(tensor.name.split(".")[1])
                per_layer[layer] = per_layer.get(layer, 0) + int(tensor.n_bytes)
    return [per_layer[i] for i in sorted(per_layer)], total


def test_gguf_entry_keeps_header_weights(scan) -> None:
    model = by_name(scan)["Tiny-Q4_K_M"]
    layers, total = tensor_bytes_by_layer(model.path)
    assert model.weights is not None
    assert model.weights.source == "gguf-header"
    assert list(model.weights.layer_totals) == layers
    assert model.weights.file_bytes == total


def test_split_gguf_weights_count_every_part(scan) -> None:
    split = by_name(scan)["Split-F16"]
    parts = sorted(split.path.parent.glob("Split-F16-*.gguf"))
    layers, total = tensor_bytes_by_layer(*parts)
    assert split.weights is not None
    assert list(split.weights.layer_totals) == layers
    assert split.weights.file_bytes == total


def test_safetensors_snapshot_has_no_weights(scan) -> None:
    assert by_name(scan)["someone/Tiny-ST"].weights is None


def test_catalog_entry_binds_weights_to_local_id(scan) -> None:
    entries, _ = catalog_entries(scan, load_catalog())
    entry = next(e for e in entries if e.model.name == "Tiny-Q4_K_M")
    assert entry.weights is not None
    assert entry.weights.model_id == entry.spec.id
    assert entry.weights.quant_id == entry.quant == "Q4_K_M"
    assert entry.weights.layers == entry.model.weights.layers


def test_header_cache_keeps_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf", split_max_tensors=10)
    roots = [ScanRoot(tmp_path / "models", FOLDER)]
    cache = tmp_path / "local-models.json"
    first = scan_local_models(roots, cache_file=cache).models[0]
    monkeypatch.setattr("rigtui.sources.gguf.read_header", lambda *args: pytest.fail("read despite the cache"))
    second = scan_local_models(roots, cache_file=cache).models[0]
    assert first.weights is not None
    assert second.weights == first.weights
    assert second.weights.source == "gguf-header"


def test_header_cache_of_old_format_is_reread(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf")
    roots = [ScanRoot(tmp_path / "models", FOLDER)]
    cache = tmp_path / "local-models.json"
    scan_local_models(roots, cache_file=cache)
    data = json.loads(cache.read_text())
    for entry in data["models"].values():
        del entry["weights"]
    cache.write_text(json.dumps(dict(data, format=1)))
    found = scan_local_models(roots, cache_file=cache).models[0]
    assert found.weights is not None
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT


@pytest.mark.parametrize(
    "weights",
    [None, {"layers": [[1, 0]]}, {"layers": [[1, 0], [-5, 0]]}, {"layers": [[1, 0], [2, True]]}, "text"],
    ids=["missing", "short", "negative", "bool", "not-object"],
)
def test_header_cache_invalid_weights_rereads_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights: object
) -> None:
    import rigtui.sources.gguf as gguf_source

    (tmp_path / "models").mkdir()
    path = write_tiny_llama(tmp_path / "models" / "Tiny-F16.gguf")
    roots = [ScanRoot(tmp_path / "models", FOLDER)]
    cache = tmp_path / "local-models.json"
    scan_local_models(roots, cache_file=cache)
    data = json.loads(cache.read_text())
    for entry in data["models"].values():
        good = entry["weights"]
        entry["weights"] = weights if not isinstance(weights, dict) else dict(good, **weights)
    cache.write_text(json.dumps(data))
    reads: list[Path] = []
    read_header = gguf_source.read_header
    monkeypatch.setattr(gguf_source, "read_header", lambda part, *args: reads.append(part) or read_header(part, *args))
    found = scan_local_models(roots, cache_file=cache).models[0]
    assert reads == [path]
    layers, _ = tensor_bytes_by_layer(path)
    assert found.weights is not None
    assert list(found.weights.layer_totals) == layers
