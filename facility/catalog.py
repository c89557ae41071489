"""Hardware and model catalogue: every figure with its reference and confidence.

The shipped data file (``facility/data/catalog.toml``) holds GroqChip,
GroqCard, GroqNode and GroqRack entries (first generation) and a few open
models, each figure as ``{value, unit, confidence, reference}``; the sources
are public: the Argonne ALCF user guide for its GroqRack
(github.com/argonne-lcf/user-guides, docs/ai-testbed/groq/system-overview.md);
Abts et al., "Think Fast: A Tensor Streaming Processor (TSP) for Accelerating
Deep Learning Workloads", ISCA 2020, and "A Software-Defined Tensor Streaming
Multiprocessor for Large-Scale Machine Learning", ISCA 2022
(doi 10.1145/3470496.3527405); Linley Group, "Groq Gets Connected", 2020;
the models' ``config.json`` files on huggingface.co. Figures nobody publishes
(node and rack power) are marked ``assumed``. Users add entries (``[hardware.catalog.<kind>.<name>]``)
and override figures of the resolved platform (``[hardware.override]``); a
user figure is labelled ``given``.

Kinds: ``chip``, ``card``, ``node``, ``rack`` (a rack names its node, a node
its card, a card its chip) and ``model``.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any, Literal, Mapping

from dimensioning.errors import InvalidInput
from dimensioning.provenance import Source

__all__ = [
    "Confidence",
    "CatalogFigure",
    "Catalog",
    "Platform",
    "ModelSpec",
    "load_catalog",
    "resolve_platform",
    "resolve_model",
    "PLATFORM_FIGURES",
]

Confidence = Literal["confirmed", "reported", "assumed", "derived", "given"]
_CONFIDENCES = ("confirmed", "reported", "assumed", "derived", "given")
_KINDS = ("chip", "card", "node", "rack", "model")


@dataclass(frozen=True)
class CatalogFigure:
    """One catalogue number: value in ``unit``, how sure we are, and where it is from."""

    value: float
    unit: str
    confidence: Confidence
    reference: str

    @property
    def source(self) -> Source:
        """Provenance label (DESIGN.md): confirmed/reported -> sourced."""
        if self.confidence in ("confirmed", "reported"):
            return "sourced"
        return self.confidence  # assumed | derived | given

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "confidence": self.confidence,
            "reference": self.reference,
            "source": self.source,
        }


@dataclass(frozen=True)
class Catalog:
    """Raw catalogue entries by kind and name (after user additions)."""

    entries: Mapping[str, Mapping[str, Mapping[str, Any]]]

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries.get(kind, {}))

    def entry(self, kind: str, name: str, field: str) -> Mapping[str, Any]:
        try:
            return self.entries[kind][name]
        except KeyError:
            raise InvalidInput(
                field,
                name,
                f"no {kind} named {name!r} in the catalogue; use one of {self.names(kind)}"
                f" or add [hardware.catalog.{kind}.{name}]",
            ) from None


def _figure(raw: Any, field: str, default_unit: str = "") -> CatalogFigure:
    """A figure from a table ``{value, unit, confidence, reference}`` or a bare number (given)."""
    if isinstance(raw, bool):
        raise InvalidInput(field, raw, "must be a number or {value, unit, confidence, reference}")
    if isinstance(raw, (int, float)):
        return CatalogFigure(float(raw), default_unit, "given", "project file")
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"value", "unit", "confidence", "reference"}
        if unknown:
            raise InvalidInput(field, sorted(unknown), "a figure takes only value, unit, confidence, reference")
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{field}.value", value, "give the figure's value as a number")
        confidence = raw.get("confidence", "given")
        if confidence not in _CONFIDENCES:
            raise InvalidInput(f"{field}.confidence", confidence, f"use one of {list(_CONFIDENCES)}")
        return CatalogFigure(
            float(value), str(raw.get("unit", default_unit)), confidence, str(raw.get("reference", "project file"))
        )
    raise InvalidInput(field, raw, "must be a number or {value, unit, confidence, reference}")


def load_catalog(additions: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None) -> Catalog:
    """The shipped catalogue, with the user's entries added (a same-named entry replaces it).

    ``additions`` has the form of the data file: ``{kind: {name: {field: figure}}}``.
    """
    text = resources.files("facility").joinpath("data/catalog.toml").read_text(encoding="utf-8")
    entries: dict[str, dict[str, dict[str, Any]]] = {k: dict(v) for k, v in tomllib.loads(text).items()}
    for kind, named in (additions or {}).items():
        if kind not in _KINDS:
            raise InvalidInput(f"hardware.catalog.{kind}", kind, f"unknown kind; use one of {list(_KINDS)}")
        for name, entry in named.items():
            entries.setdefault(kind, {})[name] = copy.deepcopy(dict(entry))
    return Catalog(entries)


@dataclass(frozen=True)
class Platform:
    """A rack type resolved down to the chip: the flat figures the facility model uses."""

    name: str
    chip: str
    card: str
    node: str
    sram_bytes_per_chip: CatalogFigure
    chip_power_w: CatalogFigure
    fabric_max_chips: CatalogFigure
    chips_per_card: CatalogFigure
    cards_per_node: CatalogFigure
    node_u_height: CatalogFigure
    node_power_typical_w: CatalogFigure
    node_power_max_w: CatalogFigure
    rack_u_height: CatalogFigure
    nodes_per_rack: CatalogFigure
    spare_nodes_per_rack: CatalogFigure
    rack_power_budget_w: CatalogFigure

    @property
    def chips_per_node(self) -> int:
        return int(self.chips_per_card.value) * int(self.cards_per_node.value)

    def figures(self) -> dict[str, CatalogFigure]:
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), CatalogFigure)}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "chip": self.chip, "card": self.card, "node": self.node}
        out["figures"] = {k: v.to_dict() for k, v in self.figures().items()}
        out["chips_per_node"] = self.chips_per_node
        return out


PLATFORM_FIGURES: tuple[str, ...] = tuple(
    f.name for f in fields(Platform) if f.name not in ("name", "chip", "card", "node")
)
"""Names accepted in ``[hardware.override]``."""

# (platform field, catalogue kind, entry key, unit)
_PLATFORM_SOURCES = (
    ("sram_bytes_per_chip", "chip", "sram_bytes", "B"),
    ("chip_power_w", "chip", "power_w", "W"),
    ("fabric_max_chips", "chip", "fabric_max_chips", "chips"),
    ("chips_per_card", "card", "chips", "chips"),
    ("cards_per_node", "node", "cards", "cards"),
    ("node_u_height", "node", "u_height", "U"),
    ("node_power_typical_w", "node", "power_typical_w", "W"),
    ("node_power_max_w", "node", "power_max_w", "W"),
    ("rack_u_height", "rack", "u_height", "U"),
    ("nodes_per_rack", "rack", "nodes", "nodes"),
    ("spare_nodes_per_rack", "rack", "spare_nodes", "nodes"),
    ("rack_power_budget_w", "rack", "power_budget_w", "W"),
)


def _ref(entry: Mapping[str, Any], key: str, kind: str, name: str, field: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"hardware.catalog.{kind}.{name}.{key}", value, f"name the {key} this {kind} is built from")
    return value


def resolve_platform(
    catalog: Catalog, rack: str, override: Mapping[str, float] | None = None, *, field: str = "hardware.platform"
) -> Platform:
    """Resolve rack -> node -> card -> chip into a :class:`Platform`; apply ``override``.

    Raises :class:`InvalidInput` naming the missing entry or figure, or an
    unknown override key.
    """
    rack_entry = catalog.entry("rack", rack, field)
    node = _ref(rack_entry, "node", "rack", rack, field)
    node_entry = catalog.entry("node", node, f"hardware.catalog.rack.{rack}.node")
    card = _ref(node_entry, "card", "node", node, field)
    card_entry = catalog.entry("card", card, f"hardware.catalog.node.{node}.card")
    chip = _ref(card_entry, "chip", "card", card, field)
    chip_entry = catalog.entry("chip", chip, f"hardware.catalog.card.{card}.chip")
    by_kind = {"chip": (chip, chip_entry), "card": (card, card_entry), "node": (node, node_entry), "rack": (rack, rack_entry)}
    values: dict[str, CatalogFigure] = {}
    for attr, kind, key, unit in _PLATFORM_SOURCES:
        name, entry = by_kind[kind]
        where = f"hardware.catalog.{kind}.{name}.{key}"
        if key not in entry:
            raise InvalidInput(where, None, f"the {kind} entry {name!r} lacks {key}: add it ({unit})")
        values[attr] = _figure(entry[key], where, unit)
    for key, raw in (override or {}).items():
        if key not in PLATFORM_FIGURES:
            raise InvalidInput(f"hardware.override.{key}", raw, f"unknown figure; use one of {list(PLATFORM_FIGURES)}")
        old = values[key]
        new = _figure(raw, f"hardware.override.{key}", old.unit)
        values[key] = CatalogFigure(new.value, new.unit or old.unit, new.confidence, new.reference)
    for key, fig in values.items():
        if fig.value <= 0 and key != "spare_nodes_per_rack":
            raise InvalidInput(f"hardware.override.{key}", fig.value, "must be > 0")
    return Platform(name=rack, chip=chip, card=card, node=node, **values)


@dataclass(frozen=True)
class ModelSpec:
    """An open model's architecture, for the memory fit."""

    name: str
    parameters: CatalogFigure
    layers: CatalogFigure
    hidden_size: CatalogFigure
    kv_heads: CatalogFigure
    head_dim: CatalogFigure
    context_tokens: CatalogFigure

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for f in fields(self):
            if f.name != "name":
                out[f.name] = getattr(self, f.name).to_dict()
        return out


def resolve_model(catalog: Catalog, name: str, *, field: str = "hardware.model") -> ModelSpec:
    """The catalogue's model ``name``; :class:`InvalidInput` if absent or incomplete."""
    entry = catalog.entry("model", name, field)
    values = {}
    for f in fields(ModelSpec):
        if f.name == "name":
            continue
        where = f"hardware.catalog.model.{name}.{f.name}"
        if f.name not in entry:
            raise InvalidInput(where, None, f"the model entry lacks {f.name}: add it")
        values[f.name] = _figure(entry[f.name], where)
        if values[f.name].value <= 0:
            raise InvalidInput(where, values[f.name].value, "must be > 0")
    return ModelSpec(name=name, **values)
