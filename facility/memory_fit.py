"""Chips per replica: the compiler's figure, or a memory fit on on-chip SRAM.

A first-generation LPU keeps weights and KV cache in on-die SRAM
(230 MB per GroqChip; ALCF user guide, Abts et al. ISCA 2022), so a replica
needs at least::

    weights     = parameters * bytes_per_parameter(precision)
    kv_per_tok  = 2 * layers * kv_heads * head_dim * bytes(kv_precision)   (K and V)
    kv_cache    = slots * context_tokens * kv_per_tok
    activations = activation_reserve_fraction * (weights + kv_cache)
    chips       = ceil((weights + kv_cache + activations) / (sram_bytes * usable_sram_fraction))

rounded up to whole nodes (a replica takes whole nodes). This is a lower
bound on what a compiler will use (it ignores program and routing
overheads): Groq's Llama-2 70B deployment reportedly used 576 chips where this
fit gives about 424 at INT8; give the compiler's ``chips_per_replica`` when known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import Any

from dimensioning.errors import InvalidInput
from dimensioning.provenance import Source

from facility.catalog import ModelSpec, Platform
from facility.inputs import BYTES_PER_PARAMETER, HardwareSpec

__all__ = ["ReplicaSize", "fit_memory", "replica_size"]


@dataclass(frozen=True)
class ReplicaSize:
    """How many chips and nodes one replica takes, and how that was decided."""

    chips_per_replica: int
    nodes_per_replica: int
    chips_requested: int
    source: Source
    arithmetic: tuple[str, ...]
    weights_bytes: float | None = None
    kv_cache_bytes: float | None = None
    activation_reserve_bytes: float | None = None
    usable_bytes_per_chip: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["arithmetic"] = list(self.arithmetic)
        return out


def _whole_nodes(chips: int, chips_per_node: int) -> tuple[int, int]:
    nodes = -(-chips // chips_per_node)
    return nodes, nodes * chips_per_node


def fit_memory(
    model: ModelSpec,
    hardware: HardwareSpec,
    platform: Platform,
    *,
    context_tokens: int,
    slots: int,
    field: str = "hardware.model",
) -> ReplicaSize:
    """Memory fit of ``model`` for ``slots`` sequences of ``context_tokens`` (module formula)."""
    if context_tokens > model.context_tokens.value:
        raise InvalidInput(
            field,
            model.name,
            f"a bucket needs {context_tokens} tokens of context but the model allows"
            f" {int(model.context_tokens.value)}: lower max_prompt_tokens + max_output_tokens",
        )
    bpp = BYTES_PER_PARAMETER[hardware.precision]
    weights = model.parameters.value * bpp
    kv_per_token = 2 * model.layers.value * model.kv_heads.value * model.head_dim.value * hardware.kv_bytes
    kv_cache = slots * context_tokens * kv_per_token
    reserve = hardware.activation_reserve_fraction * (weights + kv_cache)
    usable = platform.sram_bytes_per_chip.value * hardware.usable_sram_fraction
    total = weights + kv_cache + reserve
    chips = math.ceil(total / usable)
    cpn = platform.chips_per_node
    nodes, rounded = _whole_nodes(chips, cpn)
    lines = (
        f"weights = {model.parameters.value:.4g} parameters x {bpp:g} B ({hardware.precision}) = {weights / 1e9:.3f} GB",
        f"KV per token = 2 x {int(model.layers.value)} layers x {int(model.kv_heads.value)} KV heads"
        f" x {int(model.head_dim.value)} head dim x {hardware.kv_bytes:g} B = {kv_per_token:,.0f} B",
        f"KV cache = {slots} slots x {context_tokens} tokens x {kv_per_token:,.0f} B = {kv_cache / 1e9:.3f} GB",
        f"activation reserve = {hardware.activation_reserve_fraction:g} x (weights + KV) = {reserve / 1e9:.3f} GB",
        f"usable SRAM per chip = {platform.sram_bytes_per_chip.value / 1e6:g} MB x {hardware.usable_sram_fraction:g}"
        f" = {usable / 1e6:.1f} MB",
        f"chips = ceil({total / 1e9:.3f} GB / {usable / 1e6:.1f} MB) = {chips}",
        f"whole nodes: ceil({chips} / {cpn} chips per node) = {nodes} nodes = {rounded} chips",
    )
    return ReplicaSize(
        chips_per_replica=rounded,
        nodes_per_replica=nodes,
        chips_requested=chips,
        source="derived",
        arithmetic=lines,
        weights_bytes=weights,
        kv_cache_bytes=kv_cache,
        activation_reserve_bytes=reserve,
        usable_bytes_per_chip=usable,
    )


def replica_size(
    platform: Platform,
    *,
    chips_given: int | None,
    model: ModelSpec | None = None,
    hardware: HardwareSpec | None = None,
    context_tokens: int | None = None,
    slots: int = 1,
    field: str = "chips_per_replica",
) -> ReplicaSize:
    """The compiler's figure when given (rounded up to whole nodes), else the memory fit."""
    cpn = platform.chips_per_node
    if chips_given is not None:
        if chips_given < 1:
            raise InvalidInput(field, chips_given, "must be >= 1")
        nodes, rounded = _whole_nodes(chips_given, cpn)
        lines = (f"given: {chips_given} chips (the compiler's figure)",)
        if rounded != chips_given:
            lines += (f"whole nodes: ceil({chips_given} / {cpn}) = {nodes} nodes = {rounded} chips",)
        else:
            lines += (f"= {nodes} nodes x {cpn} chips",)
        if model is not None and hardware is not None and context_tokens is not None:
            fit = fit_memory(model, hardware, platform, context_tokens=context_tokens, slots=slots, field=field)
            lines += (f"for comparison, the memory fit of {model.name} needs at least {fit.chips_requested} chips",)
            if chips_given < fit.chips_requested:
                lines += ("the given figure is below the memory fit's lower bound: check it",)
        return ReplicaSize(rounded, nodes, chips_given, "given", lines)
    if model is None or hardware is None or context_tokens is None:
        raise InvalidInput(
            field,
            None,
            "give chips_per_replica (the compiler's figure) or [hardware] model = \"...\" for a memory fit",
        )
    return fit_memory(model, hardware, platform, context_tokens=context_tokens, slots=slots)
