"""Split GGUF models (llama.cpp gguf-split naming) read from any part, local or over HTTP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest

from gguf_mixed import real_tensor_bytes, write_mixed_llama
from rigtui.cli import main
from rigtui.errors import RigtuiError
from rigtui.sources.gguf import (
    GgufError,
    fetch_model_header,
    model_from_header,
    read_header,
    read_model_file,
    split_part_names,
)
from rigtui.sources.remote import fetch_gguf_header


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_mixed_llama(tmp_path_factory.mktemp("split") / "mixed.gguf", split_max_tensors=12)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_mixed_llama(tmp_path_factory.mktemp("whole") / "mixed.gguf")


def _copy_parts(parts: list[Path], folder: Path) -> list[Path]:
    folder.mkdir()
    return [Path(shutil.copy(part, folder / part.name)) for part in parts]


def test_writer_made_several_parts(parts: list[Path]) -> None:
    assert len(parts) >= 3
    assert parts[0].name == f"mixed-00001-of-{len(parts):05d}.gguf"
    first = read_header(parts[0])
    assert first.metadata["split.no"] == 0
    assert first.metadata["split.count"] == len(parts)


def test_part_names_from_any_part(parts: list[Path]) -> None:
    for part in parts:
        assert split_part_names(str(part)) == [str(p) for p in parts]
    assert split_part_names("model.gguf") is None


def test_part_names_keep_url_query() -> None:
    names = split_part_names("http://127.0.0.1/m-00002-of-00002.gguf?download=true")
    assert names == [
        "http://127.0.0.1/m-00001-of-00002.gguf?download=true",
        "http://127.0.0.1/m-00002-of-00002.gguf?download=true",
    ]


@pytest.mark.parametrize("name", ["m-00000-of-00002.gguf", "m-00003-of-00002.gguf", "m-00001-of-99999.gguf"])
def test_impossible_part_names_rejected(name: str) -> None:
    with pytest.raises(GgufError, match=name):
        split_part_names(name)


def test_any_part_gives_whole_model(parts: list[Path], whole: list[Path]) -> None:
    single = model_from_header(read_model_file(whole[0]), source="whole")
    for part in parts:
        merged = read_model_file(part)
        assert len(merged.parts) == len(parts)
        found = model_from_header(merged, source="split")
        assert found.spec.model_dump(exclude={"source"}) == single.spec.model_dump(exclude={"source"})
        assert found.weights.layers == single.weights.layers
        assert found.weights.output_bytes == single.weights.output_bytes
        assert found.weights.token_embd_bytes == single.weights.token_embd_bytes


def test_split_weights_are_real_sizes(parts: list[Path]) -> None:
    real = real_tensor_bytes(parts)
    found = model_from_header(read_model_file(parts[-1]), source="split")
    assert found.tensor_data_bytes == sum(real.values())
    assert found.weights.file_bytes == sum(real.values())
    assert found.file_bytes <= sum(part.stat().st_size for part in parts)


def test_missing_part_names_file(parts: list[Path], tmp_path: Path) -> None:
    copies = _copy_parts(parts, tmp_path / "copies")
    copies[1].unlink()
    with pytest.raises(GgufError) as caught:
        read_model_file(copies[0])
    message = str(caught.value)
    assert copies[1].name in message
    assert f"missing part 2 of {len(parts)}" in message


def test_swapped_parts_rejected(parts: list[Path], tmp_path: Path) -> None:
    copies = _copy_parts(parts, tmp_path / "copies")
    swap = tmp_path / "swap.gguf"
    copies[1].rename(swap)
    copies[2].rename(copies[1])
    swap.rename(copies[2])
    with pytest.raises(GgufError, match="split.no is 2 and split.count"):
        read_model_file(copies[0])


def test_truncated_part_names_file(parts: list[Path], tmp_path: Path) -> None:
    copies = _copy_parts(parts, tmp_path / "copies")
    data = copies[2].read_bytes()
    copies[2].write_bytes(data[: len(data) - 64])
    with pytest.raises(GgufError) as caught:
        read_model_file(copies[0])
    assert str(copies[2]) in str(caught.value)
    assert "truncated" in str(caught.value)


def test_renamed_first_part_rejected(parts: list[Path], tmp_path: Path) -> None:
    lone = Path(shutil.copy(parts[0], tmp_path / "model.gguf"))
    with pytest.raises(GgufError, match="split.count is"):
        read_model_file(lone)


def _write_part(path: Path, number: int, count: int, total: int, tensor: str) -> Path:
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_uint16("split.no", number)
    writer.add_uint16("split.count", count)
    writer.add_int32("split.tensors.count", total)
    writer.add_tensor(tensor, np.ones(32, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_tensor_count_mismatch_rejected(tmp_path: Path) -> None:
    _write_part(tmp_path / "m-00001-of-00002.gguf", 0, 2, 5, "a.weight")
    _write_part(tmp_path / "m-00002-of-00002.gguf", 1, 2, 5, "b.weight")
    with pytest.raises(GgufError, match="split.tensors.count is 5, but the 2 parts hold 2 tensors"):
        read_model_file(tmp_path / "m-00001-of-00002.gguf")


def test_tensor_in_two_parts_rejected(tmp_path: Path) -> None:
    _write_part(tmp_path / "m-00001-of-00002.gguf", 0, 2, 2, "a.weight")
    _write_part(tmp_path / "m-00002-of-00002.gguf", 1, 2, 2, "a.weight")
    with pytest.raises(GgufError, match="'a.weight' is also in"):
        read_model_file(tmp_path / "m-00002-of-00002.gguf")


def test_remote_split_from_any_part(parts: list[Path], file_server) -> None:
    urls = [file_server.add(f"/models/{part.name}", part) for part in parts]
    local = read_model_file(parts[0])
    fetch = lambda url: fetch_gguf_header(url, timeout=5)  # noqa: E731
    merged = fetch_model_header(urls[-1], fetch)
    assert merged.tensors == local.tensors
    assert merged.metadata == local.metadata
    requested = {path for path, _ in file_server.requests}
    assert requested == {f"/models/{part.name}" for part in parts}


def test_remote_missing_part_names_url(parts: list[Path], file_server) -> None:
    urls = [file_server.add(f"/models/{part.name}", part) for part in parts]
    del file_server.files[f"/models/{parts[1].name}"]
    with pytest.raises(RigtuiError) as caught:
        fetch_model_header(urls[0], lambda url: fetch_gguf_header(url, timeout=5))
    message = str(caught.value)
    assert f"part 2 of {len(parts)}" in message
    assert parts[1].name in message


def test_fit_reads_split_model(capsys, parts: list[Path]) -> None:
    code = main(["fit", "--gpu", "RTX 3090", "--model", str(parts[1]), "--context", "1024", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["weights_source"] == "gguf-header"
    assert result["model_file_bytes"] == sum(real_tensor_bytes(parts).values())
    assert f"-m {parts[0]}" in result["launch_command"]


def test_fit_missing_part_exits_2(capsys, parts: list[Path], tmp_path: Path) -> None:
    copies = _copy_parts(parts, tmp_path / "copies")
    copies[-1].unlink()
    code = main(["fit", "--gpu", "RTX 3090", "--model", str(copies[0])])
    _, err = capsys.readouterr()
    assert code == 2
    assert copies[-1].name in err
    assert err.count("\n") == 1
