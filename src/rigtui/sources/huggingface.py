"""Read a model from a Hugging Face repository without downloading its weights.

A repository with a ``config.json`` gives the shape from that file and an exact parameter
count from its safetensors index or safetensors headers. A repository of GGUF files gives
both from the header of the GGUF file picked by quantization (``owner/name:Q4_K_M``).

Server API, as huggingface_hub's ``HfFileSystem`` (``hf_file_system.py``) reads it:

- ``GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true`` returns a JSON list of
  ``{"type": "file" | "directory", "path", "size", "oid", "lfs": {"oid": sha256, "size"}}``,
  paged by a ``Link: <url>; rel="next"`` header.
- ``GET {endpoint}/{repo}/resolve/{revision}/{path}`` returns a file; large files redirect to
  a CDN, which receives no token (see ``remote.token_for``).

File formats:

- safetensors: an 8-byte little-endian header length, then a JSON header that maps each
  tensor name to ``{"dtype", "shape", "data_offsets"}``, plus an optional ``__metadata__``.
- ``model.safetensors.index.json``: ``{"metadata": {"total_size": bytes}, "weight_map":
  {tensor: shard file}}``. transformers also writes ``metadata.total_parameters`` since
  huggingface/transformers pull request 38531 (June 2025), which is exact for quantized
  checkpoints too.
"""

from __future__ import annotations

import logging
import math
import re
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from rigtui.core.specs import ModelSpec
from rigtui.sources.hf_cache import HubCache
from rigtui.sources.remote import (
    DEFAULT_TIMEOUT_S,
    Fetcher,
    NetworkError,
    ProgressCallback,
    SourceError,
    hf_endpoint,
    hf_offline,
    model_from_hf_config,
    parse_json,
    read_gguf_header_bytes,
)

if TYPE_CHECKING:
    from rigtui.core.memory import ModelWeights

log = logging.getLogger(__name__)

DEFAULT_REVISION = "main"
MAX_TREE_PAGES = 100
MAX_SHARD_HEADERS = 256
"""Sharded checkpoints with more files than this fall back to the index's total_size."""
MAX_SAFETENSORS_HEADER = 100_000_000
"""The safetensors Rust crate rejects headers larger than this (MAX_HEADER_SIZE in tensor.rs)."""
SAFETENSORS_FIRST_READ = 256 << 10
# Quantizations tried, in order, when a GGUF repository is named without one: the usual
# llama.cpp default first, then nearby sizes. Without any of them the smallest file is taken.
DEFAULT_GGUF_ORDER = ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q4_0", "Q5_K_S", "Q6_K", "Q8_0", "IQ4_XS", "MXFP4", "MXFP4_MOE")
# Checkpoint formats whose tensors are one element per parameter; other quantization methods
# (GPTQ, AWQ, bitsandbytes, MXFP4) pack several parameters into one stored element.
_UNPACKED_QUANT_METHODS = {"fp8"}

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})$")
_QUANT = re.compile(r"(?<![A-Za-z0-9])((?:I?Q|TQ)\d(?:_[A-Za-z0-9]+)*|BF16|F16|F32|MXFP4(?:_MOE)?)(?![A-Za-z0-9])", re.IGNORECASE)
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class CacheMiss(SourceError):
    """Offline, and the file is not in the cache."""


@dataclass(frozen=True)
class RepoFile:
    """One file of a repository listing."""

    path: str
    size: int | None
    sha256: str | None
    """SHA-256 of the content for files stored with Git LFS, else None."""


@dataclass(frozen=True)
class GgufChoice:
    """One GGUF model in a repository: a single file or the shards of a split file."""

    label: str
    """Quantization read from the file name, such as 'Q4_K_M', else the file name."""
    name: str
    """Path without the shard suffix and '.gguf'."""
    files: tuple[RepoFile, ...]

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return sum(sizes) if all(s is not None for s in sizes) else None  # type: ignore[misc]

    def describe(self) -> str:
        size = f", {self.size / (1 << 30):.1f} GiB" if self.size else ""
        shards = f" in {len(self.files)} files" if len(self.files) > 1 else ""
        return f"{self.label} ({self.files[0].path.rsplit('/', 1)[-1]}{shards}{size})"


@dataclass(frozen=True)
class HubModel:
    """A model read from a repository, with how its parameter count was found."""

    spec: ModelSpec
    params_source: str
    """Source of params_total, such as 'safetensors index (total_parameters)'."""
    file_type: str | None = None
    """Quantization of the GGUF file picked, such as 'Q4_K_M'."""
    file_bytes: int | None = None
    file_name: str | None = None
    """Name of the GGUF file picked (the first shard of a split file)."""
    from_cache: bool = False
    """True when some of it came from the cache because the network was off or unreachable."""
    weights: ModelWeights | None = None
    """Every tensor's real size, for a model read from GGUF files."""


def split_ref(text: str) -> tuple[str, str | None]:
    """Split 'owner/name:Q4_K_M' into the repository id and the quantization, if any.

    Raises:
        SourceError: ``text`` is not a repository id.
    """
    repo, separator, quant = text.partition(":")
    if not _REPO_ID.match(repo) or any(part in (".", "..") for part in repo.split("/")) or (separator and not quant):
        raise SourceError(f"{text!r} is not a repository id; use owner/name or owner/name:QUANT such as Qwen/Qwen2.5-7B-Instruct")
    return repo, quant or None


def fetch_repo_model(
    ref: str,
    *,
    quant: str | None = None,
    revision: str = DEFAULT_REVISION,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    cache: HubCache | None = None,
    offline: bool | None = None,
) -> HubModel:
    """Read the model in repository ``ref`` ('owner/name' or 'owner/name:QUANT').

    ``quant`` picks the GGUF file of a GGUF repository when ``ref`` names none. ``offline``
    defaults to HF_HUB_OFFLINE; offline, only the cache is read.

    Raises:
        SourceError: the repository or a file cannot be read, or no file matches the quantization.
        GgufError: the picked GGUF file's header is malformed.
    """
    repo, ref_quant = split_ref(ref)
    offline = hf_offline() if offline is None else offline
    fetcher = None if offline else Fetcher(timeout=timeout, progress=progress, cancel=cancel)
    try:
        hub = _Repo(repo, revision, fetcher, cache or HubCache.default(), offline)
        files = hub.list_files()
        names = {f.path for f in files} if files is not None else None
        choices = gguf_choices(files or [])
        if ref_quant or (names is not None and "config.json" not in names and choices):
            if not choices:
                raise SourceError(f"{repo} has no .gguf files; name the repository without ':{ref_quant}'")
            return hub.gguf_model(choices, ref_quant or quant)
        if names is not None and "config.json" not in names:
            listed = ", ".join(sorted(names)[:20]) or "no files"
            raise SourceError(f"{repo} has neither config.json nor .gguf files (it has {listed}); rigtui cannot size it")
        return hub.transformers_model(files)
    finally:
        if fetcher is not None:
            fetcher.close()


def quant_label(path: str) -> str | None:
    """Return the llama.cpp quantization in a GGUF file name, such as 'Q4_K_M', or None."""
    stem = _SHARD.sub("", path.rsplit("/", 1)[-1].removesuffix(".gguf").removesuffix(".GGUF"))
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else None


def gguf_choices(files: list[RepoFile]) -> list[GgufChoice]:
    """Group a repository's GGUF files into models: one per file, or one per split file set.

    Vision projector files (``mmproj``) are left out because they hold no language model.
    """
    groups: dict[str, list[RepoFile]] = {}
    for file in files:
        base = file.path.rsplit("/", 1)[-1].lower()
        if not base.endswith(".gguf") or "mmproj" in base:
            continue
        name = _SHARD.sub("", file.path[: -len(".gguf")])
        groups.setdefault(name, []).append(file)
    choices = []
    for name, group in sorted(groups.items()):
        label = quant_label(group[0].path) or name.rsplit("/", 1)[-1]
        choices.append(GgufChoice(label, name, tuple(sorted(group, key=lambda f: f.path))))
    return choices


def pick_gguf(repo: str, choices: list[GgufChoice], requested: str | None) -> GgufChoice:
    """Pick the GGUF model matching ``requested`` (a quantization or file name), or a default.

    Raises:
        SourceError: nothing or more than one model matches; the message lists what exists.
    """
    if requested:
        key = requested.lower().removesuffix(".gguf")
        matches = [
            c for c in choices
            if key in (c.label.lower(), c.name.lower(), c.name.rsplit("/", 1)[-1].lower())
            or key == c.files[0].path.lower().removesuffix(".gguf")
        ]
        if len(matches) == 1:
            return matches[0]
        listed = _list_choices(matches or choices)
        if matches:
            raise SourceError(f"{repo}: {requested!r} matches {len(matches)} GGUF models: {listed}; name the file instead, as {repo}:FILE")
        raise SourceError(f"{repo} has no GGUF file for {requested!r}; available: {listed}; pick one as {repo}:QUANT or with --quant")
    for preferred in DEFAULT_GGUF_ORDER:
        for choice in choices:
            if choice.label == preferred:
                return choice
    return min(choices, key=lambda c: (c.size is None, c.size or 0, c.name))


def _list_choices(choices: list[GgufChoice], limit: int = 30) -> str:
    listed = ", ".join(c.describe() for c in choices[:limit])
    return listed + (f" and {len(choices) - limit} more" if len(choices) > limit else "")


def count_safetensors_params(header: Any, where: str) -> int:
    """Return the number of elements of every tensor in a safetensors header.

    Raises:
        SourceError: the header is not a JSON object of tensors with valid shapes.
    """
    if not isinstance(header, dict):
        raise SourceError(f"{where}: the safetensors header is not a JSON object")
    total = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise SourceError(f"{where}: tensor {name!r} has no valid shape; the safetensors header is malformed")
        total += math.prod(shape)
    return total


def _parse_tree(data: Any, url: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise SourceError(f"{url.split('?', 1)[0]}: unexpected file list (expected a JSON list of objects)")
    return data


def _repo_file(item: dict[str, Any]) -> RepoFile | None:
    if item.get("type") != "file" or not isinstance(item.get("path"), str):
        return None
    lfs = item.get("lfs") if isinstance(item.get("lfs"), dict) else {}
    size = lfs.get("size", item.get("size"))
    sha = lfs.get("oid") or lfs.get("sha256")
    return RepoFile(
        path=item["path"],
        size=size if type(size) is int and size >= 0 else None,
        sha256=sha.lower() if isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha) else None,
    )


class _Repo:
    """One repository on one server at one revision, read through the cache."""

    def __init__(self, repo: str, revision: str, fetcher: Fetcher | None, cache: HubCache, offline: bool) -> None:
        self.repo = repo
        self.revision = revision
        self.fetcher = fetcher
        self.cache = cache
        self.offline = offline
        self.endpoint = hf_endpoint()
        self.from_cache = False

    def url(self, name: str) -> str:
        return f"{self.endpoint}/{self.repo}/resolve/{quote(self.revision, safe='')}/{quote(name)}"

    def _cached(self, path: Path, what: str, fetch: Callable[[Fetcher], bytes]) -> bytes:
        """Fetch and cache bytes; offline, or when the server cannot be reached, read the cache."""
        if self.fetcher is None:
            data = self.cache.read(path)
            if data is None:
                raise CacheMiss(
                    f"{self.repo}: {what} is not in rigtui's cache and HF_HUB_OFFLINE is set; "
                    "unset HF_HUB_OFFLINE and look the model up once with network access"
                )
            self.from_cache = True
            return data
        try:
            data = fetch(self.fetcher)
        except NetworkError as exc:
            data = self.cache.read(path)
            if data is None:
                raise
            log.warning("%s; using the cached %s of %s", exc, what, self.repo)
            self.from_cache = True
            return data
        self.cache.write(path, data)
        return data

    def _file_path(self, name: str) -> Path:
        return self.cache.file_path(self.endpoint, self.repo, self.revision, name)

    def list_files(self) -> list[RepoFile] | None:
        """Return the repository's files, or None when the server offers no file list.

        Raises:
            SourceError: access denied, or a network failure with nothing cached.
        """
        path = self._file_path(".tree.json")
        if self.offline and self.cache.read(path) is None:
            return None  # the files may still be cached one by one
        try:
            raw = self._cached(path, "file list", self._fetch_tree)
        except SourceError as exc:
            if exc.status in (400, 404, 405, 501):
                return None  # a mirror without the API; read files by name instead
            raise
        entries = _parse_tree(parse_json(raw, self._tree_url()), self._tree_url())
        return [f for f in map(_repo_file, entries) if f is not None]

    def _tree_url(self) -> str:
        return f"{self.endpoint}/api/models/{self.repo}/tree/{quote(self.revision, safe='')}?recursive=true"

    def _fetch_tree(self, fetcher: Fetcher) -> bytes:
        import json

        entries: list[dict[str, Any]] = []
        url: str | None = self._tree_url()
        for _ in range(MAX_TREE_PAGES):
            if url is None:
                return json.dumps(entries).encode()
            body, headers = fetcher.get_bytes(url, "file list")
            entries += _parse_tree(parse_json(body, url), url)
            url = self._next_page(url, headers.get("Link", ""))
        raise SourceError(f"{self._tree_url().split('?', 1)[0]}: file list longer than {MAX_TREE_PAGES} pages; name a GGUF file URL instead")

    def _next_page(self, url: str, link: str) -> str | None:
        """Return the next page of the file list that a Link header names, or None on the last page.

        Raises:
            SourceError: the link is not a valid URL.
        """
        match = _LINK_NEXT.search(link)
        if not match:
            return None
        # Mirrors may link back to huggingface.co; the next page is read from this server.
        try:
            target = urlsplit(urljoin(url, match.group(1)))
        except ValueError as exc:
            raise SourceError(
                f"{url.split('?', 1)[0]}: invalid next-page link {match.group(1)[:80]!r} in the file list ({exc}); "
                "the server is misconfigured, name a GGUF file URL instead"
            ) from None
        return self.endpoint + target.path + (f"?{target.query}" if target.query else "")

    def json_file(self, name: str, *, optional: bool = False) -> Any:
        """Return a parsed JSON file; with ``optional``, None when the server has no such file."""
        url = self.url(name)
        try:
            raw = self._cached(self._file_path(name), name, lambda f: f.get_bytes(url, name)[0])
        except SourceError as exc:
            if optional and (exc.status == 404 or isinstance(exc, CacheMiss)):
                return None
            raise
        return parse_json(raw, url)

    def _header_path(self, file: RepoFile, kind: str) -> Path:
        if file.sha256:
            return self.cache.blob_path(file.sha256, kind)
        return self._file_path(f"{file.path}.{kind}")

    def safetensors_header(self, file: RepoFile) -> Any:
        raw = self._cached(self._header_path(file, "safetensors-header"), f"{file.path} header", lambda f: self._fetch_safetensors_header(f, file.path))
        return parse_json(raw, self.url(file.path))

    def _fetch_safetensors_header(self, fetcher: Fetcher, name: str) -> bytes:
        url = self.url(name)
        step = f"{name} header"
        chunk, whole = fetcher.get_prefix(url, SAFETENSORS_FIRST_READ, step)
        if len(chunk) < 8:
            raise SourceError(f"{url}: not a safetensors file (only {len(chunk)} bytes)")
        (length,) = struct.unpack_from("<Q", chunk)
        if length > MAX_SAFETENSORS_HEADER:
            raise SourceError(f"{url}: safetensors header of {length:,} bytes is larger than {MAX_SAFETENSORS_HEADER:,}; the file is malformed")
        if 8 + length > len(chunk) and not whole:
            chunk, whole = fetcher.get_prefix(url, 8 + length, step)
        if 8 + length > len(chunk):
            raise SourceError(f"{url}: truncated safetensors header: {length:,} bytes announced, the file ends at byte {len(chunk):,}")
        return chunk[8 : 8 + length]

    def gguf_header(self, file: RepoFile) -> bytes:
        url = self.url(file.path)
        return self._cached(self._header_path(file, "gguf-header"), f"{file.path} header", lambda f: read_gguf_header_bytes(f, url))

    def transformers_model(self, files: list[RepoFile] | None) -> HubModel:
        config = self.json_file("config.json")
        if not isinstance(config, dict):
            raise SourceError(f"{self.url('config.json')}: expected a JSON object, got {type(config).__name__}")
        params, total_bytes, source = self._exact_params(config, files)
        spec = model_from_hf_config(config, self.repo, total_bytes, params_total=params)
        return HubModel(spec, source, from_cache=self.from_cache)

    def _exact_params(self, config: dict[str, Any], files: list[RepoFile] | None) -> tuple[int | None, int | None, str]:
        """Return (parameter count, weight bytes, where they came from); None where unknown."""
        by_path = {f.path: f for f in files} if files is not None else None
        index = None
        if by_path is None or "model.safetensors.index.json" in by_path:
            index = self.json_file("model.safetensors.index.json", optional=by_path is None)
        metadata = index.get("metadata") if isinstance(index, dict) else None
        metadata = metadata if isinstance(metadata, dict) else {}
        stated = metadata.get("total_parameters")
        if type(stated) is int and stated > 0:
            return stated, None, "safetensors index (total_parameters)"
        total_size = metadata.get("total_size")
        finite = type(total_size) in (int, float) and math.isfinite(total_size) and total_size > 0
        total_bytes = int(total_size) if finite else None
        quant = config.get("quantization_config")
        method = str(quant.get("quant_method", "unknown")) if isinstance(quant, dict) else None
        if method is not None and method.lower() not in _UNPACKED_QUANT_METHODS:
            return None, None, f"estimate from config.json (the {method} checkpoint packs several parameters per stored element)"
        shards = self._weight_files(index, by_path)
        if shards is not None and len(shards) <= MAX_SHARD_HEADERS:
            count = sum(count_safetensors_params(self.safetensors_header(f), self.url(f.path)) for f in shards)
            if count:
                kind = "safetensors header" if len(shards) == 1 else f"safetensors headers of {len(shards)} files"
                return count, None, kind
        if total_bytes:
            return None, total_bytes, "safetensors index total_size divided by bytes per parameter (an estimate)"
        return None, None, "estimate from config.json (no safetensors weights found)"

    def _weight_files(self, index: Any, by_path: dict[str, RepoFile] | None) -> list[RepoFile] | None:
        """Return the safetensors files that hold the weights, or None when there are none."""
        if isinstance(index, dict) and isinstance(index.get("weight_map"), dict):
            names = sorted({v for v in index["weight_map"].values() if isinstance(v, str)})
            if by_path is None:
                return [RepoFile(n, None, None) for n in names]
            return [by_path.get(n) or RepoFile(n, None, None) for n in names]
        if by_path is not None:
            single = by_path.get("model.safetensors")
            return [single] if single else None
        # Without a file list, try the single-file name and accept that it may be missing.
        try:
            self.safetensors_header(RepoFile("model.safetensors", None, None))
        except SourceError as exc:
            if exc.status == 404 or isinstance(exc, CacheMiss):
                return None
            raise
        return [RepoFile("model.safetensors", None, None)]

    def gguf_model(self, choices: list[GgufChoice], requested: str | None) -> HubModel:
        from rigtui.sources.gguf import merge_parts, model_from_header, parse_header

        choice = pick_gguf(self.repo, choices, requested)
        shard = _SHARD.search(choice.files[0].path.removesuffix(".gguf"))
        if shard and int(shard.group(2)) != len(choice.files):
            raise SourceError(
                f"{self.repo}: {choice.name} is split into {int(shard.group(2))} files but the repository lists "
                f"{len(choice.files)}; the upload is incomplete, pick another quantization"
            )
        header = merge_parts([(self.url(f.path), parse_header(self.gguf_header(f))) for f in choice.files])
        found = model_from_header(header, source=self.repo)
        return HubModel(
            spec=found.spec,
            params_source="GGUF tensor infos",
            file_type=found.file_type or (choice.label if _QUANT.fullmatch(choice.label) else None),
            file_bytes=choice.size or found.file_bytes,
            file_name=choice.files[0].path.rsplit("/", 1)[-1],
            from_cache=self.from_cache,
            weights=found.weights,
        )
