"""Map what a running inference server reports to catalog entries.

llama-server names its model by the GGUF path (``Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf``),
Ollama by a tag (``llama3.1:8b-instruct-q4_K_M``) and vLLM by the Hugging Face repository id
(``meta-llama/Llama-3.1-8B-Instruct``). These functions try the forms a catalog alias may
take, from the most specific to the least.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rigtui.core.catalog import Catalog, NameNotFound, normalize_name
from rigtui.core.specs import ModelSpec, QuantSpec

RUNTIME_FOR_KIND = {"llama-server": "llama-cpp", "ollama": "ollama", "vllm": "vllm"}
"""Catalog runtime id for each kind of server rigtui probes."""

# A shard suffix of a split GGUF file: "-00001-of-00003".
_SHARD = re.compile(r"-\d{5}-of-\d{5}$", re.IGNORECASE)
# Words a vLLM repository id uses for its weight format, and the catalog quantization each means.
_REPO_FORMATS = (("awq", "awq-4bit"), ("gptq", "gptq-4bit"), ("fp8", "fp8"), ("nvfp4", "nvfp4"), ("mxfp4", "mxfp4-native"))


def name_candidates(name: str) -> list[str]:
    """Return the forms of a served model name to look up, most specific first."""
    text = name.strip()
    base = text.replace("\\", "/").rsplit("/", 1)[-1] if text.lower().endswith(".gguf") else text
    stem = _SHARD.sub("", re.sub(r"\.gguf$", "", base, flags=re.IGNORECASE))
    candidates = [text, stem]
    # "Meta-Llama-3.1-8B-Instruct-Q4_K_M" -> "Meta-Llama-3.1-8B-Instruct"
    parts = re.split(r"[-.]", stem)
    for cut in range(len(parts) - 1, 0, -1):
        if _looks_like_quant(parts[cut]):
            candidates.append(stem[: len("-".join(parts[:cut]))].rstrip("-."))
    # "llama3.1:8b-instruct-q4_K_M" -> "llama3.1:8b"; "qwen3:latest" -> "qwen3"
    if ":" in stem:
        model, _, tag = stem.partition(":")
        candidates.append(f"{model}:{tag.split('-', 1)[0]}")
        if tag == "latest":
            candidates.append(model)
    return list(dict.fromkeys(c for c in candidates if c))


def _looks_like_quant(word: str) -> bool:
    return bool(re.fullmatch(r"(i?q\d\w*|f16|f32|bf16|mxfp4\w*|tq\d_\d)", word, re.IGNORECASE))


def match_model(catalog: Catalog, names: Iterable[str]) -> tuple[ModelSpec | None, list[str]]:
    """Resolve the first of ``names`` that the catalog knows.

    Returns the model, or None together with up to three close catalog names for the
    message that says the server's model could not be matched.
    """
    suggestions: list[str] = []
    for name in names:
        for candidate in name_candidates(name):
            try:
                return catalog.model(candidate), []
            except NameNotFound as exc:
                suggestions.extend(s for s in exc.suggestions if s not in suggestions)
    return None, suggestions[:3]


def match_quant(catalog: Catalog, texts: Iterable[str | None], kind: str) -> QuantSpec | None:
    """Find the quantization in what a server reports: a quant label, a file or repository name.

    vLLM serves unquantized repositories in BF16 unless their name says otherwise, so a
    vLLM model without a format word gets 'safetensors-bf16' when the catalog has it.
    """
    for text in texts:
        if not text:
            continue
        try:
            return catalog.quant(text)
        except NameNotFound:
            pass
        stem = re.sub(r"\.gguf$", "", text.rsplit("/", 1)[-1], flags=re.IGNORECASE)
        words = re.split(r"[-.:]", _SHARD.sub("", stem))
        for start in range(len(words)):
            tail = "_".join(words[start:]) if start else ""
            for candidate in (words[start], tail):
                if candidate and _looks_like_quant(candidate):
                    try:
                        return catalog.quant(candidate)
                    except NameNotFound:
                        continue
        if kind == "vllm":
            lowered = normalize_name(text)
            for word, quant_id in _REPO_FORMATS:
                if word in lowered and quant_id in catalog.quants:
                    return catalog.quants[quant_id]
    if kind == "vllm" and "safetensors-bf16" in catalog.quants:
        return catalog.quants["safetensors-bf16"]
    return None
