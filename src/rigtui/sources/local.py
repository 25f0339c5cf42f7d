"""Find models already on this disk: the Hugging Face hub cache, Ollama's store and LM Studio's folder.

Only GGUF headers, Ollama manifests and ``config.json`` files are read, never tensor data, so a
scan of hundreds of gigabytes of models reads a few megabytes per model. A scan stops at a cap
on header reads, directory entries and seconds, and records why in ``LocalScan.limit``.

Layouts, as documented by their owners:

- Hugging Face hub cache (https://huggingface.co/docs/hub/local-cache): ``HF_HUB_CACHE``, else
  ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub`` with ``~/.cache`` as the default
  ``XDG_CACHE_HOME`` (huggingface_hub ``constants.py``). Each repository is
  ``models--{org}--{name}/`` with ``refs/main`` holding the commit of ``snapshots/{commit}/``,
  whose files are symlinks into ``blobs/``.
- Ollama (ollama/ollama ``envconfig/config.go`` ``Models()`` and ``server/modelpath.go``):
  ``OLLAMA_MODELS``, else ``~/.ollama/models``; the Linux service installs under
  ``/usr/share/ollama/.ollama/models``. A manifest at ``manifests/{host}/{namespace}/{model}/{tag}``
  is JSON whose layer with media type ``application/vnd.ollama.image.model`` names the GGUF
  file by digest ``sha256:{hex}``, stored as ``blobs/sha256-{hex}``.
- LM Studio (https://lmstudio.ai/docs/advanced/sideload): ``~/.lmstudio/models/{publisher}/{model}/*.gguf``.
  Older releases kept the same layout under ``~/.cache/lm-studio/models``.

``RIGTUI_SCAN_DIRS`` adds folders, separated by ``os.pathsep``. Each is read as a hub cache, an
Ollama store or a plain folder of GGUF files, whichever its top-level names match.
``RIGTUI_SCAN_DEFAULTS=0`` leaves out the default locations above.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigtui.errors import RigtuiError
from rigtui.paths import write_atomic

if TYPE_CHECKING:
    from rigtui.core.catalog import Catalog
    from rigtui.core.memory import ModelWeights
    from rigtui.core.specs import ModelSpec

log = logging.getLogger(__name__)

HF_CACHE = "huggingface-cache"
OLLAMA = "ollama"
LM_STUDIO = "lm-studio"
FOLDER = "folder"
ORIGIN_LABELS = {HF_CACHE: "Hugging Face cache", OLLAMA: "Ollama", LM_STUDIO: "LM Studio", FOLDER: "folder"}

MAX_FILES = 400
"""Model files whose headers one scan reads at most."""
MAX_ENTRIES = 50_000
"""Directory entries one scan visits at most."""
MAX_SECONDS = 30.0
"""Wall-clock seconds one scan takes at most. Parsing a Llama-3 8B header (a 128k-token
vocabulary) takes about 0.5 s, so this allows dozens of large models."""
MAX_DEPTH = 6
"""Folder levels below a root that a GGUF search descends."""
MAX_MANIFEST_BYTES = 1 << 20
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_DIGEST = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")
# llama.cpp's gguf-split names parts "{prefix}-00001-of-00003.gguf".
_SPLIT = re.compile(r"^(?P<prefix>.+)-(?P<part>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_OFF = {"0", "off", "no", "false"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class ScanRoot:
    """A folder to scan and how its files are laid out."""

    path: Path
    layout: str
    """HF_CACHE, OLLAMA, LM_STUDIO or FOLDER."""


@dataclass(frozen=True)
class LocalModel:
    """One model found on disk, or the reason an entry that looked like one could not be read."""

    name: str
    """Display name: the GGUF file name without its parts suffix, ``name:tag`` for
    Ollama, or the repository id for a Hugging Face snapshot without GGUF files."""
    path: Path
    """The GGUF file (its first part when split), the Ollama manifest's blob, or the snapshot folder."""
    origin: str
    """HF_CACHE, OLLAMA, LM_STUDIO or FOLDER."""
    file_type: str | None = None
    """Quantization as llama.cpp names it ('Q4_K_M'), or a catalog quant id for safetensors."""
    file_bytes: int | None = None
    """Bytes of the model's weight files on disk, all parts together."""
    spec: "ModelSpec | None" = None
    error: str | None = None
    """The reason the entry could not be read. ``spec`` is None when this is set."""
    repo: str | None = None
    """Hugging Face repository id (hub cache) or publisher/model (LM Studio), when known."""
    parts: int = 1
    weights: "ModelWeights | None" = None
    """Every tensor's size from the GGUF header (all parts of a split file), grouped by layer as
    placement uses them. None for a safetensors snapshot, whose sizes are estimated."""

    @property
    def problem(self) -> str | None:
        """The error with the path named once, for a one-line report; None when readable."""
        if self.error is None:
            return None
        return self.error if str(self.path) in self.error else f"{self.path}: {self.error}"


@dataclass
class LocalScan:
    """The models one scan found, and the folders it read."""

    roots: list[ScanRoot]
    models: list[LocalModel] = field(default_factory=list)
    limit: str | None = None
    """The reason the scan stopped early, or None when it finished."""

    @property
    def readable(self) -> list[LocalModel]:
        return [m for m in self.models if m.spec is not None]

    @property
    def errors(self) -> list[LocalModel]:
        return [m for m in self.models if m.error is not None]


class _LimitReached(Exception):
    pass


class _Skip(Exception):
    """An entry that is not a model (a vision projector, a later split part)."""


@dataclass
class _Budget:
    max_files: int
    max_entries: int
    deadline: float
    files: int = 0
    entries: int = 0
    seen: set[str] = field(default_factory=set)
    """Real paths already listed, so a model reached through two symlinks appears once."""
    cache: "HeaderCache | None" = None

    def file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise _LimitReached(f"stopped after reading {self.max_files} model files")
        self._clock()

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise _LimitReached(f"stopped after {self.max_entries:,} folder entries")
        if self.entries % 256 == 0:
            self._clock()

    def _clock(self) -> None:
        if time.monotonic() > self.deadline:
            raise _LimitReached("stopped when the time limit ran out")


# --- where to look -------------------------------------------------------------------------------


def hf_cache_dir(environ: Mapping[str, str], home: Path) -> Path:
    """Return the hub cache folder as huggingface_hub picks it."""
    if environ.get("HF_HUB_CACHE"):
        return Path(environ["HF_HUB_CACHE"]).expanduser()
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser() / "hub"
    cache = Path(environ["XDG_CACHE_HOME"]).expanduser() if environ.get("XDG_CACHE_HOME") else home / ".cache"
    return cache / "huggingface" / "hub"


def detect_layout(path: Path) -> str:
    """Guess how a folder given in RIGTUI_SCAN_DIRS is laid out from its top-level names."""
    try:
        names = {entry.name for entry in os.scandir(path)}
    except OSError:
        return FOLDER
    if "manifests" in names and "blobs" in names:
        return OLLAMA
    if any(name.startswith("models--") for name in names):
        return HF_CACHE
    return FOLDER


def default_roots(environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[ScanRoot]:
    """Return the folders a scan reads: RIGTUI_SCAN_DIRS first, then the default locations.

    Folders that do not exist are kept; the scan skips them. ``environ`` and ``home`` default to
    the process environment and the user's home folder.
    """
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    roots = [
        ScanRoot(Path(part).expanduser(), detect_layout(Path(part).expanduser()))
        for part in environ.get("RIGTUI_SCAN_DIRS", "").split(os.pathsep)
        if part.strip()
    ]
    if environ.get("RIGTUI_SCAN_DEFAULTS", "1").strip().lower() in _OFF:
        return roots
    roots.append(ScanRoot(hf_cache_dir(environ, home), HF_CACHE))
    ollama = [Path(environ["OLLAMA_MODELS"]).expanduser()] if environ.get("OLLAMA_MODELS") else []
    ollama += [home / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]
    roots.extend(ScanRoot(path, OLLAMA) for path in ollama)
    roots.append(ScanRoot(home / ".lmstudio" / "models", LM_STUDIO))
    roots.append(ScanRoot(home / ".cache" / "lm-studio" / "models", LM_STUDIO))
    unique: dict[Path, ScanRoot] = {}
    for root in roots:
        unique.setdefault(root.path, root)
    return list(unique.values())


# --- the scan ------------------------------------------------------------------------------------


def scan_local_models(
    roots: list[ScanRoot] | None = None,
    *,
    max_files: int = MAX_FILES,
    max_entries: int = MAX_ENTRIES,
    max_seconds: float = MAX_SECONDS,
    cache_file: Path | None = None,
) -> LocalScan:
    """Find the models in ``roots`` (default: ``default_roots()``), reading only headers.

    Entries that cannot be read come back with ``error`` set and are logged; the scan goes on.
    With ``cache_file``, models read before whose files keep their size and modification time
    come from that file instead of their headers.
    """
    roots = default_roots() if roots is None else roots
    scan = LocalScan(roots=list(roots))
    cache = HeaderCache(cache_file) if cache_file is not None else None
    budget = _Budget(max_files, max_entries, time.monotonic() + max_seconds, cache=cache)
    readers = {HF_CACHE: _scan_hf_cache, OLLAMA: _scan_ollama, LM_STUDIO: _scan_folder, FOLDER: _scan_folder}
    try:
        for root in roots:
            if not root.path.is_dir():
                continue
            log.debug("scanning %s as %s", root.path, root.layout)
            for model in readers[root.layout](root, budget):
                if model.error:
                    log.info("skipped %s: %s", model.path, model.error)
                scan.models.append(model)
    except _LimitReached as stop:
        scan.limit = f"{stop}; found {len(scan.models)} entries so far"
        log.warning("local model scan %s", scan.limit)
    if cache is not None:
        # After a complete scan, entries for files that are gone are dropped.
        cache.save(prune=scan.limit is None)
    return scan


def scan_default_locations() -> LocalScan:
    """Scan ``default_roots()`` with the header cache in the user's cache folder."""
    from rigtui.paths import user_paths

    return scan_local_models(cache_file=user_paths().cache_dir / CACHE_FILE)


def _walk_files(root: Path, budget: _Budget, max_depth: int = MAX_DEPTH) -> Iterator[Path]:
    """Yield files below ``root`` in name order, following folder symlinks once each."""
    visited: set[tuple[int, int]] = set()

    def walk(folder: Path, depth: int) -> Iterator[Path]:
        try:
            info = folder.stat()
        except OSError:
            return
        key = (info.st_dev, info.st_ino)
        if key in visited:
            return
        visited.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            log.info("cannot list %s: %s", folder, exc.strerror or exc)
            return
        for entry in entries:
            budget.entry()
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if depth < max_depth and not entry.name.startswith("."):
                    yield from walk(Path(entry.path), depth + 1)
            else:
                yield Path(entry.path)

    yield from walk(root, 0)


def _is_gguf_name(path: Path) -> bool:
    return path.name.lower().endswith(".gguf") and "mmproj" not in path.name.lower()


def _scan_folder(root: ScanRoot, budget: _Budget) -> Iterator[LocalModel]:
    """Read LM Studio's folder or a plain folder: every GGUF file below it."""
    for path in _walk_files(root.path, budget):
        if not _is_gguf_name(path):
            continue
        relative = path.relative_to(root.path).parts
        repo = "/".join(relative[:2]) if root.layout == LM_STUDIO and len(relative) >= 3 else None
        model = _gguf_entry(path, _display_name(path), root.layout, budget, repo=repo)
        if model is not None:
            yield model


def _scan_hf_cache(root: ScanRoot, budget: _Budget) -> Iterator[LocalModel]:
    """Read the hub cache: GGUF files in each model repository's snapshot, else its config.json."""
    try:
        repos = sorted(p for p in root.path.iterdir() if p.name.startswith("models--"))
    except OSError as exc:
        log.info("cannot list %s: %s", root.path, exc.strerror or exc)
        return
    for repo_dir in repos:
        budget.entry()
        repo = repo_dir.name.removeprefix("models--").replace("--", "/")
        snapshot = _hf_snapshot(repo_dir)
        if snapshot is None:
            continue
        files = list(_walk_files(snapshot, budget))
        ggufs = [p for p in files if _is_gguf_name(p)]
        for path in ggufs:
            model = _gguf_entry(path, _display_name(path), HF_CACHE, budget, repo=repo)
            if model is not None:
                yield model
        if not ggufs and (snapshot / "config.json").is_file():
            weights = [p for p in files if p.name.endswith(_WEIGHT_SUFFIXES)]
            if weights:
                yield _config_entry(snapshot, repo, weights, budget)


def _hf_snapshot(repo_dir: Path) -> Path | None:
    """Return the snapshot ``refs/main`` points at, else the newest snapshot folder."""
    try:
        commit = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        commit = ""
    if commit and (repo_dir / "snapshots" / commit).is_dir():
        return repo_dir / "snapshots" / commit
    try:
        snapshots = [p for p in (repo_dir / "snapshots").iterdir() if p.is_dir()]
    except OSError:
        return None
    return max(snapshots, key=lambda p: p.stat().st_mtime, default=None)


def _scan_ollama(root: ScanRoot, budget: _Budget) -> Iterator[LocalModel]:
    """Read Ollama's store: one model per manifest file, from the GGUF blob it names."""
    manifests = root.path / "manifests"
    for manifest in _walk_files(manifests, budget, max_depth=3):
        parts = manifest.relative_to(manifests).parts
        if len(parts) != 4:
            continue
        name = _ollama_name(*parts)
        try:
            blob = _ollama_blob(manifest, root.path / "blobs")
        except RigtuiError as exc:
            yield LocalModel(name=name, path=manifest, origin=OLLAMA, error=exc.message)
            continue
        model = _gguf_entry(blob, name, OLLAMA, budget, split=False)
        if model is not None:
            yield model


def _ollama_name(host: str, namespace: str, model: str, tag: str) -> str:
    """Return the name ``ollama run`` takes, short for the default registry as Ollama prints it."""
    if host == "registry.ollama.ai":
        return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
    return f"{host}/{namespace}/{model}:{tag}"


def _ollama_blob(manifest: Path, blobs: Path) -> Path:
    """Return the GGUF blob a manifest's model layer names.

    Raises:
        RigtuiError: the manifest is unreadable, not JSON, has no model layer, or its blob is missing.
    """
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            raise RigtuiError(f"manifest {manifest} is larger than {MAX_MANIFEST_BYTES:,} bytes")
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RigtuiError(f"cannot read manifest {manifest}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RigtuiError(f"manifest {manifest} is not valid JSON: {exc}") from None
    layers = data.get("layers") if isinstance(data, dict) else None
    layer = next(
        (item for item in layers or [] if isinstance(item, dict) and item.get("mediaType") == OLLAMA_MODEL_LAYER),
        None,
    )
    if layer is None:
        raise RigtuiError(f"manifest {manifest} has no {OLLAMA_MODEL_LAYER} layer (not a GGUF model)")
    match = _DIGEST.match(str(layer.get("digest", "")))
    if not match:
        raise RigtuiError(f"manifest {manifest} has an invalid model digest {layer.get('digest')!r}")
    # Older Ollama releases named blobs "sha256:{hex}" outside Windows (server/modelpath.go).
    for name in (f"sha256-{match.group(1)}", f"sha256:{match.group(1)}"):
        if (blobs / name).is_file():
            return blobs / name
    raise RigtuiError(f"blob sha256-{match.group(1)[:12]}… named by {manifest} is missing from {blobs}")


# --- reading one model ---------------------------------------------------------------------------


def _display_name(path: Path) -> str:
    """Return the file name without '.gguf' and without a '-00001-of-00003' parts suffix."""
    split = _SPLIT.match(path.name)
    if split:
        return split.group("prefix")
    return path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name


def _gguf_entry(
    path: Path, name: str, origin: str, budget: _Budget, *, repo: str | None = None, split: bool = True
) -> LocalModel | None:
    """Read one GGUF model (all parts of a split one); None for files that are not models.

    A later part of a split model returns None, because the model is listed through its first part.
    """
    from rigtui.sources.gguf import GgufError, split_part_names

    try:
        names = split_part_names(str(path)) if split else None
    except GgufError as exc:
        return LocalModel(name=name, path=path, origin=origin, error=exc.message, repo=repo)
    if names is not None and names[0] != str(path):
        return None
    parts = [Path(part) for part in names] if names else [path]
    try:
        real = os.path.realpath(path)
    except OSError:
        real = str(path)
    if real in budget.seen:
        return None
    budget.seen.add(real)
    key = budget.cache.key(parts) if budget.cache is not None else None
    cached = budget.cache.get(key) if budget.cache is not None and key is not None else None
    if cached is not None:
        spec, file_type, file_bytes, weights = cached
    else:
        try:
            found = _read_gguf(parts, budget)
        except _Skip as skip:
            log.debug("not a model: %s (%s)", path, skip)
            return None
        except RigtuiError as exc:
            return LocalModel(name=name, path=path, origin=origin, error=exc.message, repo=repo, parts=len(parts))
        spec, file_type, file_bytes, weights = found.spec, found.file_type, found.file_bytes, found.weights
        if budget.cache is not None and key is not None:
            budget.cache.put(key, spec, file_type, file_bytes, weights)
    return LocalModel(
        name=name,
        path=path,
        origin=origin,
        file_type=file_type,
        file_bytes=file_bytes,
        spec=spec.model_copy(update={"source": repo or str(path)}),
        repo=repo,
        parts=len(parts),
        weights=weights,
    )


def _read_gguf(parts: list[Path], budget: _Budget) -> Any:
    """Read the headers of every part with ``read_model_file`` and return the ``GgufModel`` they describe.

    Raises:
        GgufError: a part is missing, unreadable, malformed, shorter than its tensors require,
            or disagrees with the other parts.
        _Skip: the file is a vision projector, not a language model.
    """
    from rigtui.sources.gguf import GgufError, model_from_header, read_model_file

    for part in parts:
        if part.is_symlink() and not part.exists():
            raise GgufError(f"{part}: broken symlink to {os.readlink(part)}")
        budget.file()
    header = read_model_file(parts[0])
    if header.architecture == "clip":
        raise _Skip("a CLIP vision projector")
    return model_from_header(header, source=str(parts[0]))


def _config_entry(snapshot: Path, repo: str, weights: list[Path], budget: _Budget) -> LocalModel:
    """Read a transformers snapshot: the architecture from config.json, the size from its weight files."""
    from rigtui.sources.remote import model_from_hf_config

    name = repo
    budget.file()
    try:
        config = json.loads((snapshot / "config.json").read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise RigtuiError(f"{snapshot / 'config.json'}: not a JSON object")
        # Quantized checkpoints store fewer bytes per parameter than torch_dtype, so their
        # size would undercount parameters; the architecture estimate is used for them instead.
        quantized = "quantization_config" in config
        weight_bytes = sum(p.stat().st_size for p in weights if p.name.endswith(".safetensors"))
        spec = model_from_hf_config(config, repo, None if quantized else weight_bytes or None)
    except OSError as exc:
        return LocalModel(name=name, path=snapshot, origin=HF_CACHE, error=f"cannot read {exc.filename}: {exc.strerror or exc}", repo=repo)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return LocalModel(name=name, path=snapshot, origin=HF_CACHE, error=f"{snapshot / 'config.json'}: invalid JSON: {exc}", repo=repo)
    except RigtuiError as exc:
        return LocalModel(name=name, path=snapshot, origin=HF_CACHE, error=exc.message, repo=repo)
    except (ValueError, TypeError) as exc:
        return LocalModel(name=name, path=snapshot, origin=HF_CACHE, error=f"{snapshot / 'config.json'}: {exc}", repo=repo)
    return LocalModel(
        name=name,
        path=snapshot,
        origin=HF_CACHE,
        file_type=safetensors_quant(config),
        file_bytes=sum(p.stat().st_size for p in weights),
        spec=spec,
        repo=repo,
        parts=len(weights),
    )


def safetensors_quant(config: Mapping[str, Any]) -> str | None:
    """Return the catalog quant id a transformers checkpoint is stored in, or None when unknown."""
    quant = config.get("quantization_config")
    if isinstance(quant, dict):
        method = str(quant.get("quant_method", "")).lower()
        bits = quant.get("bits") or quant.get("w_bit")
        if method in ("awq", "gptq") and bits in (4, 8):
            return f"{method}-{bits}bit"
        return {"fp8": "fp8", "mxfp4": "mxfp4-native"}.get(method)
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    dtype = text.get("torch_dtype") or config.get("torch_dtype") or text.get("dtype") or config.get("dtype")
    return {"bfloat16": "safetensors-bf16", "float16": "safetensors-fp16"}.get(str(dtype))


# --- the header cache ----------------------------------------------------------------------------

CACHE_FILE = "local-models.json"
CACHE_FORMAT = 2
"""Version of the cache file's layout; a file of another version is ignored and rewritten.
Format 2 added each model's per-layer weight sizes."""


class HeaderCache:
    """Models read from GGUF headers, by the path, size and modification time of every part.

    Each entry contains the model's spec, file type, file size and its weights grouped by layer
    (``ModelWeights``), so that a model from the cache is placed with the header's exact sizes.

    Reading a Llama-3 8B header took 1.4 to 1.7 s on a 2-core VM, so without the cache a
    start-up scan of a few dozen models would cost the same CPU time at every start.
    NOTE: entries do not record how rigtui built the spec, so a rigtui release that reads
    headers differently must raise CACHE_FORMAT.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: set[str] = set()
        self.changed = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.info("ignoring unreadable local model cache %s: %s", path, exc)
            return
        if isinstance(data, dict) and data.get("format") == CACHE_FORMAT and isinstance(data.get("models"), dict):
            self.entries = data["models"]

    @staticmethod
    def key(parts: list[Path]) -> str | None:
        """Return the cache key of a model's files, or None when a part cannot be read."""
        fields = []
        for part in parts:
            try:
                info = part.stat()
            except OSError:
                return None
            fields.append(f"{os.path.realpath(part)}:{info.st_size}:{info.st_mtime_ns}")
        return "|".join(fields)

    def get(self, key: str) -> "tuple[ModelSpec, str | None, int, ModelWeights] | None":
        """Return the spec, file type, file size and weights stored for ``key``, or None.

        An entry that does not validate counts as missing, so the model's header is read again.
        """
        from pydantic import ValidationError

        from rigtui.core.specs import ModelSpec

        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            spec = ModelSpec.model_validate(entry["spec"])
            file_bytes = _count(entry["file_bytes"], "file_bytes")
            weights = weights_from_json(entry["weights"], spec)
            result = (spec, entry.get("file_type"), file_bytes, weights)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            log.info("ignoring invalid local model cache entry for %s: %s", key, exc)
            return None
        self.used.add(key)
        return result

    def put(self, key: str, spec: "ModelSpec", file_type: str | None, file_bytes: int, weights: "ModelWeights") -> None:
        self.entries[key] = {
            "spec": spec.model_dump(mode="json"),
            "file_type": file_type,
            "file_bytes": file_bytes,
            "weights": weights_to_json(weights),
        }
        self.used.add(key)
        self.changed = True

    def save(self, prune: bool) -> None:
        """Write the cache atomically when it changed; ``prune`` drops entries this scan did not use."""
        if prune and set(self.entries) - self.used:
            self.entries = {k: v for k, v in self.entries.items() if k in self.used}
            self.changed = True
        if not self.changed:
            return
        try:
            write_atomic(self.path, json.dumps({"format": CACHE_FORMAT, "models": self.entries}))
        except OSError as exc:
            log.warning("cannot write local model cache %s: %s", self.path, exc.strerror or exc)


def weights_to_json(weights: "ModelWeights") -> dict[str, Any]:
    """Return a header's ModelWeights as plain JSON values for the cache file."""
    return {
        "layers": [[layer.dense_bytes, layer.expert_bytes] for layer in weights.layers],
        "token_embd_bytes": weights.token_embd_bytes,
        "output_bytes": weights.output_bytes,
        "tied_embeddings": weights.tied_embeddings,
        "tensor_types": dict(weights.tensor_types),
    }


def weights_from_json(data: Any, spec: "ModelSpec") -> "ModelWeights":
    """Rebuild the ModelWeights that ``weights_to_json`` stored for ``spec``.

    Raises:
        ValueError: a value is missing, not a non-negative integer, or the layer count differs
            from the spec's.
    """
    from rigtui.core.memory import LayerWeights, ModelWeights

    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise ValueError("weights are not an object with a list of layers")
    layers = data["layers"]
    if len(layers) != spec.n_layers:
        raise ValueError(f"weights have {len(layers)} layers, but the model has {spec.n_layers}")
    rows = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, list) or len(layer) != 2:
            raise ValueError(f"layer {index} is not a [dense, experts] pair")
        rows.append(LayerWeights(index, _count(layer[0], "dense bytes"), _count(layer[1], "expert bytes")))
    types = data.get("tensor_types")
    if not isinstance(types, dict):
        raise ValueError("tensor_types is not an object")
    tied = data.get("tied_embeddings")
    if not isinstance(tied, bool):
        raise ValueError("tied_embeddings is not true or false")
    return ModelWeights(
        tuple(rows),
        _count(data.get("token_embd_bytes"), "token_embd_bytes"),
        _count(data.get("output_bytes"), "output_bytes"),
        tied,
        {str(name): _count(size, f"bytes of {name}") for name, size in types.items()},
        source="gguf-header",
        model_id=spec.id,
    )


def _count(value: Any, what: str) -> int:
    """Return ``value`` when it is a non-negative integer (not a bool), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is {value!r}; expected a non-negative integer")
    return value


# --- into the catalog ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalEntry:
    """A local model as the fit matrix places it: a catalog-style spec at the file's own quant."""

    model: LocalModel
    spec: "ModelSpec"
    """The model's spec with a ``local-`` id and the name it has on disk."""
    quant: str
    """Catalog quant id of the file's quantization."""
    weights: "ModelWeights | None" = None
    """The header's exact sizes, bound to ``spec.id`` and ``quant`` so that a Workload of this
    model at this quantization places them (``Workload.weights``). None for safetensors."""


def catalog_entries(scan: LocalScan, catalog: "Catalog") -> tuple[list[LocalEntry], list[str]]:
    """Turn readable models into catalog entries; return them and why the others were left out."""
    import hashlib

    from rigtui.core.catalog import normalize_name

    entries: list[LocalEntry] = []
    problems = [m.problem for m in scan.errors if m.problem]
    for model in scan.readable:
        quant = quant_id(model, catalog)
        if quant is None:
            problems.append(f"{model.path}: quantization {model.file_type or 'unknown'} is not in the catalog")
            continue
        digest = hashlib.sha1(str(model.path).encode()).hexdigest()[:8]
        assert model.spec is not None
        # Aliases are dropped so that a repository id keeps resolving to the bundled entry.
        spec = model.spec.model_copy(
            update={"id": f"local-{normalize_name(model.name)[:40]}-{digest}", "name": model.name, "aliases": []}
        )
        entries.append(LocalEntry(model, spec, quant, bound_weights(model, spec.id, quant)))
    return entries, problems


def bound_weights(model: LocalModel, model_id: str, quant: str) -> "ModelWeights | None":
    """Return the model's header sizes bound to a catalog model id and quant id, or None without them.

    ``Workload.weights`` applies only to the model and quantization they name, so a Workload
    that swaps either gets an estimate instead.
    """
    from dataclasses import replace

    if model.weights is None:
        return None
    return replace(model.weights, model_id=model_id, quant_id=quant)


def quant_id(model: LocalModel, catalog: "Catalog") -> str | None:
    """Return the catalog quant id of a model's own quantization, or None when the catalog lacks it."""
    if not model.file_type:
        return None
    if model.file_type in catalog.quants:
        return model.file_type
    from rigtui.core.catalog import NameNotFound

    try:
        found = catalog.quant(model.file_type)
    except NameNotFound:
        return None
    gguf_file = model.origin == OLLAMA or model.path.name.lower().endswith(".gguf")
    return found.id if (found.format == "gguf") == gguf_file else None
