"""Resolve what a user typed as a model: a catalog name, a local or remote GGUF file, or a HF repo."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rigtui.core.catalog import Catalog, NameNotFound
from rigtui.core.memory import ModelWeights
from rigtui.core.specs import ModelSpec

if TYPE_CHECKING:
    from rigtui.sources.remote import ProgressCallback

# A repository id, optionally with the GGUF quantization to pick: owner/name or owner/name:Q4_K_M.
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(?::[\w.-]+)?$")


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    origin: str
    """'catalog', 'gguf' (a local or remote file, or a file of a Hugging Face repository) or
    'huggingface' (a repository's config.json and safetensors files)."""
    file_type: str | None = None
    """Quantization of a GGUF file, such as 'Q4_K_M', when the model came from one."""
    file_bytes: int | None = None
    weights: ModelWeights | None = None
    """Every tensor's real size when the model came from a GGUF file (all parts of a split one)."""
    params_source: str | None = None
    """Source of a downloaded model's parameter count, such as 'safetensors header'."""
    launch_path: str | None = None
    """File a launch command should load, when it differs from what the user typed."""


def resolve_model(
    text: str,
    catalog: Catalog,
    *,
    allow_network: bool = True,
    timeout: float = 10.0,
    quant: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ResolvedModel:
    """Resolve a model argument, trying the catalog before any file or network access.

    A repository id may end in ':QUANT' to pick one GGUF file of a GGUF repository; ``quant``
    picks it otherwise. ``progress`` and ``cancel`` reach every download (see ``Fetcher``).

    Raises:
        NameNotFound: not in the catalog, and not a file or repository id that could be read.
        GgufError: a GGUF file is malformed.
        SourceError: a download failed.
    """
    lowered = text.lower()
    if lowered.endswith(".gguf") and lowered.startswith(("http://", "https://")):
        from rigtui.sources.gguf import fetch_model_header, model_from_header
        from rigtui.sources.remote import fetch_gguf_header

        header = fetch_model_header(
            text, lambda url: fetch_gguf_header(url, timeout=timeout, progress=progress, cancel=cancel)
        )
        found = model_from_header(header, source=text)
        return ResolvedModel(found.spec, "gguf", found.file_type, found.file_bytes, found.weights)
    if lowered.endswith(".gguf") or Path(text).is_file():
        from rigtui.sources.gguf import model_from_header, read_model_file

        found = model_from_header(read_model_file(Path(text).expanduser()), source=text)
        return ResolvedModel(found.spec, "gguf", found.file_type, found.file_bytes, found.weights)
    try:
        return ResolvedModel(catalog.model(text), "catalog")
    except NameNotFound:
        if not (allow_network and _REPO_ID.match(text)):
            raise
    from rigtui.sources.huggingface import fetch_repo_model

    found = fetch_repo_model(text, quant=quant, timeout=timeout, progress=progress, cancel=cancel)
    if found.file_name:
        return ResolvedModel(
            found.spec, "gguf", found.file_type, found.file_bytes, found.weights,
            params_source=found.params_source, launch_path=found.file_name,
        )
    return ResolvedModel(found.spec, "huggingface", params_source=found.params_source)
