"""Configuration search space: the ``[search]`` dimensions and their candidates.

Each dimension lists the values to try; an empty list keeps the project's own
value. Candidates are the cartesian product, enumerated in a fixed order
(dimension order below, values in the order given), so candidate ``i`` is the
same configuration on every machine and every run.

Dimensions:

- ``buckets``: sets of bucket names to keep (compiled prompt-length edges);
  a dropped bucket's prompts go to the next kept one (padded to its edge).
  Every set must keep the largest bucket, or long prompts go unserved;
- ``max_output_tokens``, ``slots``: applied to every bucket;
- ``rho_target_normal``, ``rho_target_degraded``: headroom targets;
- ``replicas_lost_worst``: the redundancy the sizing provisions (N+k);
- ``platform``: hardware options from the catalogue (``[hardware] platform``);
- ``pool``: ``dedicated`` (a pool per bucket) or ``shared`` (one pool).

``weights`` gives an optional fitness (higher is better) over the metrics
:data:`FITNESS_METRICS`; see :func:`fitness`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from pydantic import Field, field_validator

from dimensioning.inputs import _Frozen

__all__ = ["FITNESS_METRICS", "SearchSpec", "Candidate", "candidates", "fitness", "pareto_front"]

# metric -> True when larger is better
FITNESS_METRICS: dict[str, bool] = {
    "cost_per_hour": False,
    "chips": False,
    "e2el_p99_ms": False,
    "ttft_p99_ms": False,
    "max_sustainable_rps": True,
    "headroom": True,
}

_DIMENSIONS = ("buckets", "max_output_tokens", "slots", "rho_target_normal", "rho_target_degraded",
               "replicas_lost_worst", "platform", "pool")


class SearchSpec(_Frozen):
    """``[search]``: dimensions to search, fitness weights, and the size limit."""

    buckets: tuple[tuple[str, ...], ...] = ()
    max_output_tokens: tuple[int, ...] = ()
    slots: tuple[int, ...] = ()
    rho_target_normal: tuple[float, ...] = ()
    rho_target_degraded: tuple[float, ...] = ()
    replicas_lost_worst: tuple[int, ...] = ()
    platform: tuple[str, ...] = ()
    pool: tuple[Literal["dedicated", "shared"], ...] = ("dedicated",)
    weights: dict[str, float] = Field(default_factory=dict)
    max_candidates: int = Field(default=10_000, ge=1, le=1_000_000)

    @field_validator("max_output_tokens", "slots")
    @classmethod
    def _positive_counts(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(v < 1 or v > 10_000_000 for v in values):
            raise ValueError(f"{list(values)}: every value must be between 1 and 10,000,000")
        return values

    @field_validator("rho_target_normal", "rho_target_degraded")
    @classmethod
    def _fractions(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if any(not (0 < v < 1) for v in values):
            raise ValueError(f"{list(values)}: every utilisation target must be in (0, 1)")
        return values

    @field_validator("replicas_lost_worst")
    @classmethod
    def _losses(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(v < 0 or v > 1000 for v in values):
            raise ValueError(f"{list(values)}: every value must be between 0 and 1000")
        return values

    @field_validator("weights")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in FITNESS_METRICS]
        if unknown:
            raise ValueError(f"weights names unknown metrics {unknown}; use some of {list(FITNESS_METRICS)}")
        if any(not (w >= 0 and math.isfinite(w)) for w in value.values()):
            raise ValueError("weights must be finite and >= 0")
        return value

    def size(self) -> int:
        """Number of candidates (product of the non-empty dimensions)."""
        return math.prod(max(len(getattr(self, d)), 1) for d in _DIMENSIONS)


@dataclass(frozen=True)
class Candidate:
    """One configuration: the chosen value per dimension (None: the project's own)."""

    index: int
    choice: tuple[tuple[str, Any], ...]

    def value(self, dimension: str) -> Any:
        return dict(self.choice).get(dimension)

    def label(self) -> str:
        parts = []
        for name, value in self.choice:
            if value is None:
                continue
            shown = "+".join(value) if isinstance(value, tuple) else f"{value:g}" if isinstance(value, float) else str(value)
            parts.append(f"{name}={shown}")
        return ", ".join(parts) or "as given"


def candidates(spec: SearchSpec) -> list[Candidate]:
    """Every candidate in the fixed enumeration order."""
    axes = [getattr(spec, d) or (None,) for d in _DIMENSIONS]
    return [Candidate(i, tuple(zip(_DIMENSIONS, combo))) for i, combo in enumerate(itertools.product(*axes))]


def fitness(metrics: Sequence[Mapping[str, float | None]], weights: Mapping[str, float]) -> list[float | None]:
    """Weighted fitness in [0, 1] per candidate (None for a candidate missing a weighted metric).

    Each metric is scored relative to the best candidate: ``best / x`` when
    smaller is better, ``x / best`` when larger is better, so a score of 1 is
    the best seen and the scale is linear in the ratio. (BLIS normalises
    latencies by ``1 / (1 + x/1000)``, which compresses large differences; a
    ratio to the best keeps them.) The fitness is the weight-averaged score.
    """
    total = math.fsum(weights.values())
    if total <= 0:
        return [None] * len(metrics)
    best: dict[str, float] = {}
    for name in weights:
        values = [m.get(name) for m in metrics if m.get(name) is not None and math.isfinite(m[name])]  # type: ignore[arg-type]
        if values:
            best[name] = max(values) if FITNESS_METRICS[name] else min(values)
    out: list[float | None] = []
    for m in metrics:
        score = 0.0
        for name, w in weights.items():
            x = m.get(name)
            if x is None or name not in best or not math.isfinite(x):
                score = math.nan
                break
            b = best[name]
            if FITNESS_METRICS[name]:
                s = x / b if b > 0 else 0.0
            else:
                s = b / x if x > 0 else 1.0
            score += w * s
        out.append(None if math.isnan(score) else score / total)
    return out


def pareto_front(points: Sequence[tuple[float, float]], maximise_second: bool = False) -> list[int]:
    """Indices of the points no other point dominates (first coordinate minimised).

    The second coordinate is minimised, or maximised with ``maximise_second``.
    Ties keep the lower index. Sorted by the first coordinate.
    """
    sign = -1.0 if maximise_second else 1.0
    order = sorted(range(len(points)), key=lambda i: (points[i][0], sign * points[i][1], i))
    front: list[int] = []
    best_second = math.inf
    for i in order:
        second = sign * points[i][1]
        if second < best_second:
            front.append(i)
            best_second = second
    return front
