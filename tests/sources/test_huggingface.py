"""Reading models from a Hugging Face-shaped server on 127.0.0.1: file lists, safetensors
indexes and headers, GGUF repositories, errors, limits, the cache and token scoping."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import gguf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gguf_files import write_tiny_llama
from hub_server import HubServer, Route, SilentServer, safetensors_bytes
from rigtui.catalog import load_catalog
from rigtui.sources.hf_cache import HubCache
from rigtui.sources.huggingface import (
    RepoFile,
    _repo_file,
    count_safetensors_params,
    fetch_repo_model,
    gguf_choices,
    quant_label,
    split_ref,
)
from rigtui.sources.models import resolve_model
from rigtui.sources.remote import Cancelled, Fetcher, Progress, SourceError, fetch_gguf_header

MINI = Path(__file__).parents[1] / "catalog" / "mini"
TOKEN = "hf_TestTokenThatMustNeverLeak1234"

# Shape of a small llama-style model; parameter counts come from the weight files in each test.
CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "max_position_embeddings": 2048,
    "torch_dtype": "bfloat16",
}
SHAPES = {
    "model.embed_tokens.weight": [300, 64],
    "model.layers.0.self_attn.q_proj.weight": [64, 64],
    "model.layers.1.self_attn.q_proj.weight": [64, 64],
    "lm_head.weight": [300, 64],
}
SHAPES_PARAMS = 300 * 64 * 2 + 64 * 64 * 2


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield server
    server.stop()


@pytest.fixture
def other() -> Iterator[HubServer]:
    """A second server on another port, standing in for a CDN or any non-Hugging Face host."""
    server = HubServer().start()
    yield server
    server.stop()


def write_gguf_quants(folder: Path) -> dict[str, Path]:
    """Write tiny GGUF files whose general.file_type matches the quantization in their name."""
    types = {
        "Q4_K_M": gguf.LlamaFileType.MOSTLY_Q4_K_M,
        "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "F16": gguf.LlamaFileType.MOSTLY_F16,
    }
    return {label: write_tiny_llama(folder / f"Tiny-{label}.gguf", file_type=code) for label, code in types.items()}


# --- config.json repositories ----------------------------------------------------------------


def test_index_total_parameters_is_used(hub: HubServer) -> None:
    index = {"metadata": {"total_size": 999, "total_parameters": 7_615_616_512}, "weight_map": {}}
    hub.add_repo("acme/big", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors.index.json": json.dumps(index).encode()})
    found = fetch_repo_model("acme/big")
    assert found.spec.params_total == 7_615_616_512
    assert found.params_source == "safetensors index (total_parameters)"


def test_single_file_header_counts_params(hub: HubServer) -> None:
    weights = safetensors_bytes(SHAPES) + bytes(1 << 20)  # the padding makes the file larger than one range read
    hub.add_repo("acme/one", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors": weights})
    found = fetch_repo_model("acme/one")
    assert found.spec.params_total == SHAPES_PARAMS
    assert found.params_source == "safetensors header"
    weight_requests = [r for r in hub.requests if r.path.endswith("model.safetensors")]
    assert weight_requests
    assert all(r.range and r.range.startswith("bytes=0-") for r in weight_requests)


def test_sharded_headers_are_summed(hub: HubServer) -> None:
    first = {k: v for k, v in SHAPES.items() if "layers" not in k}
    second = {k: v for k, v in SHAPES.items() if "layers" in k}
    index = {
        "metadata": {"total_size": 123},
        "weight_map": {**{k: "model-00001-of-00002.safetensors" for k in first}, **{k: "model-00002-of-00002.safetensors" for k in second}},
    }
    hub.add_repo("acme/sharded", {
        "config.json": json.dumps(CONFIG).encode(),
        "model.safetensors.index.json": json.dumps(index).encode(),
        "model-00001-of-00002.safetensors": safetensors_bytes(first),
        "model-00002-of-00002.safetensors": safetensors_bytes(second),
    })
    found = fetch_repo_model("acme/sharded")
    assert found.spec.params_total == SHAPES_PARAMS
    assert found.params_source == "safetensors headers of 2 files"


def test_packed_quantization_falls_back_to_estimate(hub: HubServer) -> None:
    config = {**CONFIG, "quantization_config": {"quant_method": "gptq", "bits": 4}}
    hub.add_repo("acme/gptq", {"config.json": json.dumps(config).encode(), "model.safetensors": safetensors_bytes(SHAPES, "I32")})
    found = fetch_repo_model("acme/gptq")
    assert found.params_source.startswith("estimate from config.json (the gptq checkpoint")
    assert not any(r.path.endswith("model.safetensors") for r in hub.requests)


def test_infinite_index_size_is_ignored(hub: HubServer) -> None:
    index = b'{"metadata": {"total_size": Infinity}}'
    hub.add_repo("acme/inf", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors.index.json": index})
    found = fetch_repo_model("acme/inf")
    assert found.params_source == "estimate from config.json (no safetensors weights found)"


def test_tree_pages_are_followed(hub: HubServer) -> None:
    hub.add_file("acme/paged", "config.json", json.dumps(CONFIG).encode())
    hub.add_file("acme/paged", "model.safetensors", safetensors_bytes(SHAPES))
    # The next link names huggingface.co, as a mirror may; the page is still read from HF_ENDPOINT.
    next_link = '<https://huggingface.co/api/models/acme/paged/tree/main?recursive=true&cursor=abc>; rel="next"'
    hub.routes["/api/models/acme/paged/tree/main?recursive=true"] = Route(
        body=json.dumps([{"type": "file", "path": "config.json", "size": 10}]).encode(), headers={"Link": next_link}
    )
    hub.routes["/api/models/acme/paged/tree/main?recursive=true&cursor=abc"] = Route(
        body=json.dumps([{"type": "file", "path": "model.safetensors", "size": 10}]).encode()
    )
    found = fetch_repo_model("acme/paged")
    assert found.params_source == "safetensors header"
    assert "/api/models/acme/paged/tree/main?recursive=true&cursor=abc" in hub.paths()


def test_invalid_next_page_link_is_an_error(hub: HubServer) -> None:
    hub.add_file("acme/badlink", "config.json", json.dumps(CONFIG).encode())
    hub.routes["/api/models/acme/badlink/tree/main?recursive=true"] = Route(
        body=json.dumps([{"type": "file", "path": "config.json", "size": 10}]).encode(),
        headers={"Link": '<http://[::1/tree>; rel="next"'},
    )
    with pytest.raises(SourceError, match="invalid next-page link"):
        fetch_repo_model("acme/badlink")


def test_repo_without_weights_or_config_lists_files(hub: HubServer) -> None:
    hub.add_repo("acme/empty", {"README.md": b"hello"})
    with pytest.raises(SourceError, match=r"neither config.json nor .gguf files \(it has README.md\)"):
        fetch_repo_model("acme/empty")


# --- GGUF repositories ---------------------------------------------------------------------------


def test_gguf_repo_defaults_to_q4_k_m(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()} | {"mmproj-Tiny-F16.gguf": files["F16"]})
    found = fetch_repo_model("acme/Tiny-GGUF")
    assert found.file_name == "Tiny-Q4_K_M.gguf"
    assert found.file_type == "Q4_K_M"
    assert found.params_source == "GGUF tensor infos"
    assert found.file_bytes == files["Q4_K_M"].stat().st_size
    fetched = [r for r in hub.requests if r.path.endswith(".gguf")]
    assert [r.path.rsplit("/", 1)[-1] for r in fetched] == ["Tiny-Q4_K_M.gguf"]
    assert all(r.range for r in fetched)


def test_gguf_repo_pick_by_suffix_or_quant(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    assert fetch_repo_model("acme/Tiny-GGUF:Q8_0").file_name == "Tiny-Q8_0.gguf"
    assert fetch_repo_model("acme/Tiny-GGUF:q8_0").file_type == "Q8_0"
    assert fetch_repo_model("acme/Tiny-GGUF", quant="F16").file_name == "Tiny-F16.gguf"


def test_gguf_repo_unknown_quant_lists_files(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    with pytest.raises(SourceError) as info:
        fetch_repo_model("acme/Tiny-GGUF:Q3_K_S")
    message = str(info.value)
    assert "no GGUF file for 'Q3_K_S'" in message
    assert "Q4_K_M (Tiny-Q4_K_M.gguf" in message
    assert "Q8_0 (Tiny-Q8_0.gguf" in message
    assert "\n" not in message


def test_gguf_repo_split_file_reads_every_part(hub: HubServer, tmp_path: Path) -> None:
    first = write_tiny_llama(tmp_path / "Tiny-Q4_K_M.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M, split_max_tensors=8)
    parts = sorted(tmp_path.glob("Tiny-Q4_K_M-*-of-*.gguf"))
    assert first in parts
    assert len(parts) > 1
    hub.add_repo("acme/Split-GGUF", {f"Q4_K_M/{p.name}": p for p in parts})
    found = fetch_repo_model("acme/Split-GGUF")
    assert found.file_name == parts[0].name
    assert found.file_bytes == sum(p.stat().st_size for p in parts)
    whole = write_tiny_llama(tmp_path / "whole.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M)
    assert found.spec.params_total == resolve_model(str(whole), load_catalog(data_dir=MINI)).spec.params_total


def test_gguf_repo_incomplete_split_is_reported(hub: HubServer, tmp_path: Path) -> None:
    write_tiny_llama(tmp_path / "Tiny-Q4_K_M.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M, split_max_tensors=8)
    parts = sorted(tmp_path.glob("Tiny-Q4_K_M-*-of-*.gguf"))
    hub.add_repo("acme/Cut-GGUF", {p.name: p for p in parts[:-1]})
    with pytest.raises(SourceError, match="upload is incomplete"):
        fetch_repo_model("acme/Cut-GGUF")


def test_quant_labels_from_file_names() -> None:
    assert quant_label("Qwen2.5-7B-Instruct-Q4_K_M.gguf") == "Q4_K_M"
    assert quant_label("sub/Llama-3.2-1B-Instruct-IQ4_XS-00001-of-00002.gguf") == "IQ4_XS"
    assert quant_label("model-UD-Q4_K_XL.gguf") == "Q4_K_XL"
    assert quant_label("gpt-oss-20b-mxfp4.gguf") == "MXFP4"
    assert quant_label("tinyllama.f16.gguf") == "F16"
    assert quant_label("Qwen3-8B.gguf") is None


def test_choices_group_split_parts_and_skip_projectors() -> None:
    files = [RepoFile(p, 10, None) for p in (
        "a-Q8_0.gguf", "b/a-Q4_K_M-00001-of-00002.gguf", "b/a-Q4_K_M-00002-of-00002.gguf", "mmproj-a-f16.gguf", "README.md",
    )]
    choices = gguf_choices(files)
    assert [(c.label, len(c.files), c.size) for c in choices] == [("Q8_0", 1, 10), ("Q4_K_M", 2, 20)]


# --- errors and limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_denied_says_to_set_token(hub: HubServer, status: int) -> None:
    hub.routes["/acme/gated/resolve/main/config.json"] = Route(status)
    with pytest.raises(SourceError, match="set HF_TOKEN"):
        fetch_repo_model("acme/gated")


def test_denied_tree_says_to_set_token(hub: HubServer) -> None:
    hub.routes["/api/models/acme/gated/tree/main"] = Route(401)
    with pytest.raises(SourceError, match="HTTP 401.*set HF_TOKEN"):
        fetch_repo_model("acme/gated")


def test_missing_repo_is_not_found(hub: HubServer) -> None:
    with pytest.raises(SourceError, match=r"config.json: not found \(HTTP 404\); check the repository id"):
        fetch_repo_model("acme/missing")


def test_redirect_loop_ends_with_error(hub: HubServer) -> None:
    hub.redirect("/acme/loop/resolve/main/config.json", "/acme/loop/resolve/main/other.json")
    hub.redirect("/acme/loop/resolve/main/other.json", "/acme/loop/resolve/main/config.json")
    with pytest.raises(SourceError, match="redirect loop"):
        fetch_repo_model("acme/loop")


def test_endless_redirect_chain_ends_with_error(hub: HubServer) -> None:
    for i in range(20):
        hub.redirect(f"/hop/{i}", f"/hop/{i + 1}")
    with Fetcher() as fetcher, pytest.raises(SourceError, match="more than 10 redirects"):
        fetcher.get_json(hub.url + "/hop/0", "JSON file")


def test_silent_server_times_out() -> None:
    server = SilentServer().start()
    try:
        with Fetcher(timeout=0.3) as fetcher, pytest.raises(SourceError, match=r"timed out after 0.3 s"):
            fetcher.get_json(server.url + "/config.json", "config.json")
    finally:
        server.stop()


def test_trickling_server_hits_deadline(hub: HubServer) -> None:
    hub.routes["/slow.json"] = Route(body=b'{"a": 1}' + b" " * 200, trickle_s=0.01)
    with Fetcher(timeout=5, deadline_s=0.3) as fetcher, pytest.raises(SourceError, match="took longer than 0.3 s"):
        fetcher.get_json(hub.url + "/slow.json", "JSON file")


def test_oversized_json_is_refused(hub: HubServer) -> None:
    hub.routes["/big.json"] = Route(body=b"[" + b"0," * 600_000 + b"0]")
    with Fetcher() as fetcher, pytest.raises(SourceError, match="larger than the 1,000,000-byte limit"):
        fetcher.get_json(hub.url + "/big.json", "JSON file", limit=1_000_000)


def test_malformed_json_is_reported(hub: HubServer) -> None:
    hub.add_repo("acme/broken", {"config.json": b'{"hidden_size": 64,'})
    with pytest.raises(SourceError, match=r"config.json: response is not JSON \(Expecting"):
        fetch_repo_model("acme/broken")


def test_deeply_nested_json_is_reported(hub: HubServer) -> None:
    hub.add_repo("acme/nested", {"config.json": b"[" * 100_000 + b"]" * 100_000})
    with pytest.raises(SourceError, match="not JSON"):
        fetch_repo_model("acme/nested")


def test_malformed_safetensors_header_is_reported(hub: HubServer) -> None:
    bad = b"\xff" * 8 + b"{}"
    hub.add_repo("acme/badst", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors": bad})
    with pytest.raises(SourceError, match="safetensors header of .* bytes is larger"):
        fetch_repo_model("acme/badst")


def test_invalid_repo_id_is_rejected(hub: HubServer) -> None:
    with pytest.raises(SourceError, match="not a repository id"):
        fetch_repo_model("acme/..")
    assert hub.requests == []


# --- progress and cancellation ---------------------------------------------------------------------


def test_progress_reports_bytes(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    events: list[Progress] = []
    fetch_repo_model("acme/Tiny-GGUF", progress=events.append)
    steps = {e.step for e in events}
    assert "file list" in steps
    assert "Tiny-Q4_K_M.gguf header" in steps
    header_events = [e for e in events if e.step == "Tiny-Q4_K_M.gguf header"]
    assert header_events[-1].done_bytes > 0


def test_cancel_stops_download(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    cancel = threading.Event()

    def cancel_on_header(event: Progress) -> None:
        if event.step.endswith("header"):
            cancel.set()

    with pytest.raises(Cancelled, match="cancelled"):
        fetch_repo_model("acme/Tiny-GGUF", progress=cancel_on_header, cancel=cancel)


def test_cancel_before_start_sends_nothing(hub: HubServer) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        fetch_repo_model("acme/anything", cancel=cancel)
    assert hub.requests == []


# --- cache and offline -----------------------------------------------------------------------------


def test_second_look_works_offline(hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    hub.add_repo("acme/one", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors": safetensors_bytes(SHAPES)})
    online = [fetch_repo_model("acme/Tiny-GGUF:Q8_0"), fetch_repo_model("acme/one")]
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = [fetch_repo_model("acme/Tiny-GGUF:Q8_0"), fetch_repo_model("acme/one")]
    assert hub.requests == []
    assert [m.spec for m in offline] == [m.spec for m in online]
    assert [m.params_source for m in offline] == [m.params_source for m in online]
    assert all(m.from_cache for m in offline)


def test_unreachable_server_falls_back_to_cache(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.add_repo("acme/one", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors": safetensors_bytes(SHAPES)})
    online = fetch_repo_model("acme/one")
    hub.stop()
    fallback = fetch_repo_model("acme/one", timeout=1)
    assert fallback.spec == online.spec
    assert fallback.from_cache


def test_offline_without_cache_names_repo_and_fix(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError) as info:
        fetch_repo_model("acme/never-seen")
    message = str(info.value)
    assert message.startswith("acme/never-seen: config.json is not in rigtui's cache and HF_HUB_OFFLINE is set")
    assert "unset HF_HUB_OFFLINE" in message
    assert hub.requests == []


def test_cache_files_are_complete_and_no_temp_left(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    fetch_repo_model("acme/Tiny-GGUF")
    root = HubCache.default().root
    stored = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert not any(name.endswith(".tmp") for name in stored)
    blobs = [name for name in stored if name.startswith("blobs/")]
    assert len(blobs) == 1
    assert blobs[0].endswith(".gguf-header")
    header_bytes = (root / blobs[0]).read_bytes()
    assert files["Q4_K_M"].read_bytes().startswith(header_bytes)
    assert len(header_bytes) < files["Q4_K_M"].stat().st_size


# --- token scoping -----------------------------------------------------------------------------------


def test_token_goes_only_to_endpoint(hub: HubServer, other: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    # Large files redirect to a CDN on another host, as the Hub does.
    cdn_url = other.add_file("cdn", "Tiny-Q4_K_M.gguf", files["Q4_K_M"])
    hub.redirect("/acme/Tiny-GGUF/resolve/main/Tiny-Q4_K_M.gguf", cdn_url)
    fetch_repo_model("acme/Tiny-GGUF")
    remote = other.add_file("someone", "Tiny-Q8_0.gguf", files["Q8_0"])
    fetch_gguf_header(remote)
    assert len(other.requests) == 2
    assert all(seen.authorization is None for seen in other.requests)
    assert hub.requests
    assert all(seen.authorization == f"Bearer {TOKEN}" for seen in hub.requests)


def test_errors_never_contain_token(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub.routes["/acme/gated/resolve/main/config.json"] = Route(403)
    messages = []
    for call in (
        lambda: fetch_repo_model("acme/gated"),
        lambda: fetch_gguf_header(f"http://127.0.0.1:1/{TOKEN}.gguf", timeout=1),
    ):
        with pytest.raises(SourceError) as info:
            call()
        messages.append(str(info.value))
    assert "check that the token has access" in messages[0]
    assert all(TOKEN not in message for message in messages)


def test_token_with_other_endpoint_port_is_not_sent(other: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", other.url.rsplit(":", 1)[0] + ":1")  # same host, another port
    url = other.add_file("x", "Tiny.gguf", write_tiny_llama(tmp_path / "t.gguf"))
    fetch_gguf_header(url)
    assert [seen.authorization for seen in other.requests] == [None]


# --- resolution and the command line -------------------------------------------------------------------


def test_resolve_gguf_repo_gives_launch_file(hub: HubServer, tmp_path: Path) -> None:
    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    resolved = resolve_model("acme/Tiny-GGUF:Q8_0", load_catalog(data_dir=MINI))
    assert resolved.origin == "gguf"
    assert resolved.file_type == "Q8_0"
    assert resolved.launch_path == "Tiny-Q8_0.gguf"
    assert resolved.params_source == "GGUF tensor infos"


def test_cli_fit_with_repo_id(hub: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    from rigtui.cli import main

    hub.add_repo("acme/one", {"config.json": json.dumps(CONFIG).encode(), "model.safetensors": safetensors_bytes(SHAPES)})
    code = main(["fit", "--gpu", "RTX 3090", "--model", "acme/one", "--context", "1024", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["fits"] is True
    assert result["params_source"] == "safetensors header"
    assert err == ""  # stderr is not a terminal, so no progress lines


def test_cli_fit_with_gguf_repo_quant(hub: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rigtui.cli import main

    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    code = main(["fit", "--gpu", "RTX 3090", "--model", "acme/Tiny-GGUF", "--quant", "Q8_0", "--context", "1024", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["quant"] == "Q8_0"
    assert "Tiny-Q8_0.gguf" in result["launch_command"]


def test_cli_fit_lists_quants_on_unknown(hub: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rigtui.cli import main

    files = write_gguf_quants(tmp_path)
    hub.add_repo("acme/Tiny-GGUF", {p.name: p for p in files.values()})
    code = main(["fit", "--gpu", "RTX 3090", "--model", "acme/Tiny-GGUF:Q2_K"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1
    assert "no GGUF file for 'Q2_K'; available: " in err



def test_progress_printer_only_on_terminal() -> None:
    import io

    from rigtui.commands.progress import StderrProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        printer = StderrProgress(stream)
        printer(Progress("config.json", 1 << 20, 2 << 20))
        printer.clear()
    assert "rigtui: fetching config.json: 1.0 MiB of 2.0 MiB" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K")
    assert pipe.getvalue() == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_safetensors_count_rejects_only_with_source_error(header: object) -> None:
    try:
        count = count_safetensors_params(header, "model.safetensors")
    except SourceError:
        return
    assert count >= 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_repo_reference_parsing_is_total(text: str) -> None:
    try:
        repo, quant = split_ref(text)
    except SourceError:
        return
    assert ".." not in repo.split("/")
    assert quant is None or quant


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=5))
def test_tree_entries_never_crash(entries: list[object]) -> None:
    files = [f for f in (_repo_file(e) for e in entries if isinstance(e, dict)) if f is not None]
    choices = gguf_choices(files)
    assert all(choice.files for choice in choices)
