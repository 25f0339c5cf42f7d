"""The loaded catalogs as one plain container, with forgiving name lookup.

Loading and validation of files live in ``rigtui.catalog``; this module only holds what was
loaded and resolves the names people type ("4090", "NVIDIA GeForce RTX 4090", "2x RTX 3090",
"meta-llama/Llama-3.1-70B-Instruct") to entries.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Generic, Iterable, TypeVar

from rigtui.core.specs import GgmlType, GpuSpec, ModelSpec, OsSpec, PriceSpec, QuantSpec, RuntimeSpec

T = TypeVar("T")

# Words that vendors and NVML put in front of a product name and users often leave out.
_NOISE_WORDS = ("nvidia", "geforce", "amd", "radeon", "intel", "tesla", "graphics", "the")
# Product-line prefixes a user may drop: "4090" for "RTX 4090", "7900xtx" for "RX 7900 XTX".
_LINE_PREFIXES = ("rtx", "gtx", "rx", "arc", "pro", "instinct")
# "2x RTX 3090", "2 × 3090", or "RTX 3090 x2". The suffix form needs a space before the x so that
# "RTX 4099" is a (misspelt) name and not 4099 cards of "RT".
_COUNT = re.compile(r"^\s*(\d{1,3})\s*[x×*]\s*(.+?)\s*$|^\s*(.+?)\s+[x×*]\s*(\d{1,3})\s*$", re.IGNORECASE)


def normalize_name(text: str) -> str:
    """Reduce a name to lower-case letters and digits without vendor words ("RTX-4090" -> "rtx4090")."""
    words = re.split(r"[^0-9a-z.]+", text.lower())
    kept = [w for w in words if w and w not in _NOISE_WORDS]
    return re.sub(r"[^0-9a-z]", "", "".join(kept))


def _keys_for(entry_id: str, name: str, aliases: Iterable[str]) -> set[str]:
    keys = {normalize_name(entry_id), normalize_name(name)}
    keys.update(normalize_name(a) for a in aliases)
    # A repo id also resolves by its last part ("Llama-3.1-70B-Instruct").
    keys.update(normalize_name(a.rsplit("/", 1)[-1]) for a in aliases if "/" in a)
    for key in list(keys):
        for prefix in _LINE_PREFIXES:
            rest = key[len(prefix):]
            if key.startswith(prefix) and rest[:1].isdigit():
                keys.add(rest)
    keys.discard("")
    return keys


@dataclass
class NameIndex(Generic[T]):
    """Entries of one kind by id, with every normalized name that resolves to each."""

    kind: str
    entries: dict[str, T]
    _by_key: dict[str, str] = field(default_factory=dict)
    _ambiguous: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry_id, entry in self.entries.items():
            name = getattr(entry, "name", entry_id)
            for key in _keys_for(entry_id, name, getattr(entry, "aliases", [])):
                other = self._by_key.get(key)
                if other is not None and other != entry_id:
                    self._ambiguous.setdefault(key, {other}).add(entry_id)
                else:
                    self._by_key[key] = entry_id
        for key in self._ambiguous:
            self._by_key.pop(key, None)

    def find(self, text: str) -> T | None:
        """Return the entry a name resolves to, or None."""
        if text in self.entries:
            return self.entries[text]
        entry_id = self._by_key.get(normalize_name(text))
        return self.entries[entry_id] if entry_id else None

    def get(self, text: str) -> T:
        """Return the entry a name resolves to.

        Raises:
            LookupError: subclass NameNotFound, with the closest names, when nothing matches.
        """
        found = self.find(text)
        if found is not None:
            return found
        raise NameNotFound(self.kind, text, self.suggest(text))

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Return up to ``limit`` entry names closest to ``text``."""
        key = normalize_name(text)
        ambiguous = self._ambiguous.get(key)
        if ambiguous:
            return [self._display(i) for i in sorted(ambiguous)][:limit]
        names: list[str] = []
        candidates = list(self._by_key) + list(self._ambiguous)
        for match in difflib.get_close_matches(key, candidates, n=limit * 4, cutoff=0.5):
            ids = self._ambiguous.get(match) or {self._by_key[match]}
            for entry_id in sorted(ids):
                shown = self._display(entry_id)
                if shown not in names:
                    names.append(shown)
        if not names and key:
            names = [self._display(i) for k, i in self._by_key.items() if key in k][:limit]
        return names[:limit]

    def _display(self, entry_id: str) -> str:
        return getattr(self.entries[entry_id], "name", entry_id)


class NameNotFound(LookupError):
    """A name that resolves to no catalog entry, with the closest names."""

    def __init__(self, kind: str, value: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.value = value
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} {value!r}.{hint}")


@dataclass
class Catalog:
    """Every catalog, bundled entries with the user's own merged on top."""

    gpus: dict[str, GpuSpec]
    models: dict[str, ModelSpec]
    quants: dict[str, QuantSpec]
    ggml_types: dict[str, GgmlType]
    runtimes: dict[str, RuntimeSpec]
    oses: dict[str, OsSpec]
    prices: list[PriceSpec]
    problems: list[str] = field(default_factory=list)
    """User files that could not be used, each as 'path: key: reason'."""

    def __post_init__(self) -> None:
        self._gpu_index = NameIndex("GPU", self.gpus)
        self._model_index = NameIndex("model", self.models)
        self._quant_index = NameIndex("quantization", self.quants)
        self._runtime_index = NameIndex("runtime", self.runtimes)
        self._os_index = NameIndex("OS", self.oses)

    def gpu(self, name: str) -> GpuSpec:
        return self._gpu_index.get(name)

    def model(self, name: str) -> ModelSpec:
        return self._model_index.get(name)

    def quant(self, name: str) -> QuantSpec:
        return self._quant_index.get(name)

    def runtime(self, name: str) -> RuntimeSpec:
        return self._runtime_index.get(name)

    def os(self, name: str) -> OsSpec:
        return self._os_index.get(name)

    def gpu_by_pci_id(self, device_id: str) -> GpuSpec | None:
        """Return the GPU with this PCI device id ('0x2684' or '2684'), or None."""
        wanted = device_id.lower().removeprefix("0x").rjust(4, "0")
        for spec in self.gpus.values():
            if any(d.lower().removeprefix("0x") == wanted for d in spec.pci_device_ids):
                return spec
        return None

    def gpus_from(self, text: str) -> list[GpuSpec]:
        """Resolve a GPU name with an optional count ("2x RTX 3090", "RTX 3090 x2") to its cards."""
        match = _COUNT.match(text)
        if match and (self._gpu_index.find(text) is None):
            count = int(match.group(1) or match.group(4))
            name = match.group(2) or match.group(3)
            if not 1 <= count <= 16:
                raise ValueError(f"GPU count {count} in {text!r} is out of range; use 1 to 16")
            return [self.gpu(name)] * count
        return [self.gpu(text)]

    def prices_for(self, gpu_id: str) -> list[PriceSpec]:
        return [p for p in self.prices if p.gpu == gpu_id]
