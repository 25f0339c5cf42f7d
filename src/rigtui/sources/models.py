"""Resolve what a user typed as a model: a catalog name, a local or remote GGUF file, or a HF repo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rigtui.core.catalog import Catalog, NameNotFound
from rigtui.core.memory import ModelWeights
from rigtui.core.specs import ModelSpec

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    origin: str
    """'catalog', 'gguf' (a local or remote file) or 'huggingface' (fetched config.json)."""
    file_type: str | None = None
    """Quantization of a GGUF file, such as 'Q4_K_M', when the model came from one."""
    file_bytes: int | None = None
    weights: ModelWeights | None = None
    """Every tensor's real size when the model came from a GGUF file (all parts of a split one)."""


def resolve_model(text: str, catalog: Catalog, *, allow_network: bool = True, timeout: float = 10.0) -> ResolvedModel:
    """Resolve a model argument, trying the catalog before any file or network access.

    Raises:
        NameNotFound: not in the catalog, and not a file or repository id that could be read.
        GgufError: a GGUF file is malformed.
        SourceError: a download failed.
    """
    lowered = text.lower()
    if lowered.endswith(".gguf") and lowered.startswith(("http://", "https://")):
        from rigtui.sources.gguf import fetch_model_header, model_from_header
        from rigtui.sources.remote import fetch_gguf_header

        header = fetch_model_header(text, lambda url: fetch_gguf_header(url, timeout=timeout))
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
    from rigtui.sources.remote import fetch_hf_model

    return ResolvedModel(fetch_hf_model(text, timeout=timeout), "huggingface")
