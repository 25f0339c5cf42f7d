"""Resolve what a user typed as a model: a catalog name, a local or remote GGUF file, or a HF repo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rigtui.core.catalog import Catalog, NameNotFound
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


def resolve_model(text: str, catalog: Catalog, *, allow_network: bool = True, timeout: float = 10.0) -> ResolvedModel:
    """Resolve a model argument, trying the catalog before any file or network access.

    Raises:
        NameNotFound: not in the catalog, and not a file or repository id that could be read.
        GgufError: a GGUF file is malformed.
        SourceError: a download failed.
    """
    lowered = text.lower()
    if lowered.endswith(".gguf") and lowered.startswith(("http://", "https://")):
        from rigtui.sources.gguf import model_from_header
        from rigtui.sources.remote import fetch_gguf_header

        found = model_from_header(fetch_gguf_header(text, timeout=timeout), source=text)
        return ResolvedModel(found.spec, "gguf", found.file_type, found.file_bytes)
    if lowered.endswith(".gguf") or Path(text).is_file():
        from rigtui.sources.gguf import GgufError, model_from_header, read_header

        path = Path(text).expanduser()
        found = model_from_header(read_header(path), source=text)
        size = path.stat().st_size
        if size < found.file_bytes:
            raise GgufError(
                f"{path}: truncated: the file has {size:,} bytes but its tensors end at byte "
                f"{found.file_bytes:,}; download it again"
            )
        return ResolvedModel(found.spec, "gguf", found.file_type, found.file_bytes)
    try:
        return ResolvedModel(catalog.model(text), "catalog")
    except NameNotFound:
        if not (allow_network and _REPO_ID.match(text)):
            raise
    from rigtui.sources.remote import fetch_hf_model

    return ResolvedModel(fetch_hf_model(text, timeout=timeout), "huggingface")
