"""Validated inputs of the dimensioning package (the project file's tables).

Units are those of the project file (the contract in README.md): token counts,
requests/s, tokens/s, milliseconds where the name says ``_ms``. Everything is
converted to SI seconds at the point of use (``Bucket.l_fixed_s``).

Every model is frozen and rejects unknown keys, so a typo in a project file is
an error that names the key, never a silently ignored setting.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "TokenDistribution",
    "Workload",
    "Slo",
    "Headroom",
    "Redundancy",
    "Admission",
    "Bucket",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _assumed_names_fields(self):  # type: ignore[no-untyped-def]
        listed = getattr(self, "assumed", ())
        allowed = sorted(set(type(self).model_fields) - {"assumed", "sources", "measured", "name", "profile"})
        unknown = [name for name in listed if name not in allowed]
        if unknown:
            raise ValueError(f"assumed lists unknown fields {unknown}; use some of {allowed}")
        return self


class TokenDistribution(_Frozen):
    """A token-count distribution: a named family or a histogram.

    Forms (exactly one):

    - ``{distribution = "lognormal", mean = m, std = s}`` (tokens);
    - ``{distribution = "gamma", mean = m, std = s}``;
    - ``{distribution = "constant", value = v}``;
    - ``{histogram = [[edge, share], ...]}``: ``share`` of requests have a
      count in ``(previous edge, edge]`` (the first bin starts at 0), spread
      uniformly inside the bin. Edges strictly increase; shares sum to 1.
    """

    distribution: Literal["lognormal", "gamma", "constant"] | None = None
    mean: float | None = Field(default=None, gt=0)
    std: float | None = Field(default=None, ge=0)
    value: float | None = Field(default=None, gt=0)
    histogram: tuple[tuple[float, float], ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "TokenDistribution":
        if self.histogram is not None:
            if self.distribution is not None or self.mean is not None or self.value is not None:
                raise ValueError(
                    "give either histogram = [[edge, share], ...] or distribution = ..., not both"
                )
            edges = [e for e, _ in self.histogram]
            shares = [s for _, s in self.histogram]
            if not edges:
                raise ValueError("histogram is empty: give at least one [edge, share] pair")
            if edges[0] <= 0 or any(b <= a for a, b in zip(edges, edges[1:])):
                raise ValueError(
                    f"histogram edges {edges} must be positive and strictly increasing"
                )
            if any(s < 0 for s in shares):
                raise ValueError(f"histogram shares {shares} must be >= 0")
            total = math.fsum(shares)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(
                    f"histogram shares sum to {total:.6g}; make them sum to 1"
                )
            return self
        if self.distribution is None:
            raise ValueError(
                'give distribution = "lognormal"|"gamma"|"constant" (with mean/std or value)'
                " or histogram = [[edge, share], ...]"
            )
        if self.distribution == "constant":
            if self.value is None:
                raise ValueError('distribution = "constant" needs value = <tokens>')
            if self.mean is not None or self.std is not None:
                raise ValueError('distribution = "constant" takes value only, not mean/std')
        else:
            if self.mean is None or self.std is None:
                raise ValueError(
                    f'distribution = "{self.distribution}" needs mean and std (tokens)'
                )
            if self.std == 0:
                raise ValueError(
                    f'std = 0 for a {self.distribution}: use distribution = "constant", value = {self.mean}'
                )
        return self


class Workload(_Frozen):
    """``[workload]``: peak arrival rate and request shapes."""

    lambda_peak: float = Field(gt=0, description="requests/s at peak")
    arrival_scv: float = Field(
        default=1.0, gt=0, description="squared coefficient of variation of inter-arrival times"
    )
    prompt_tokens: TokenDistribution | None = None
    output_tokens: TokenDistribution | None = None
    trace: Path | None = Field(
        default=None,
        description="CSV with columns prompt_tokens,output_tokens[,timestamp]",
    )
    assumed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _shapes(self) -> "Workload":
        if self.trace is None:
            if self.prompt_tokens is None or self.output_tokens is None:
                raise ValueError(
                    "give prompt_tokens and output_tokens distributions, or trace = \"requests.csv\""
                )
        elif self.prompt_tokens is not None or self.output_tokens is not None:
            raise ValueError("give either trace or prompt_tokens/output_tokens, not both")
        return self


class Slo(_Frozen):
    """``[slo]``: latency objectives, p99, in ms.

    ``p99_ms``: end-to-end latency (vLLM's e2el: queueing delay + service);
    ``ttft_p99_ms``: time to first token (queueing delay + L_fixed + prefill +
    one output token); ``tpot_p99_ms``: time per output token after the first.
    The degraded forms apply while the worst failure domain is down (default:
    the normal objective).
    """

    p99_ms: float = Field(gt=0, description="p99 end-to-end latency (e2el), ms")
    degraded_p99_ms: float | None = Field(
        default=None, gt=0, description="p99 while a failure domain is down, ms (default p99_ms)"
    )
    ttft_p99_ms: float | None = Field(default=None, gt=0, description="p99 time to first token, ms")
    ttft_degraded_p99_ms: float | None = Field(
        default=None, gt=0, description="p99 TTFT while a failure domain is down, ms (default ttft_p99_ms)"
    )
    tpot_p99_ms: float | None = Field(default=None, gt=0, description="p99 time per output token, ms")
    assumed: tuple[str, ...] = ()

    @property
    def degraded_ms(self) -> float:
        return self.degraded_p99_ms if self.degraded_p99_ms is not None else self.p99_ms

    @property
    def ttft_degraded_ms(self) -> float | None:
        return self.ttft_degraded_p99_ms if self.ttft_degraded_p99_ms is not None else self.ttft_p99_ms


class Headroom(_Frozen):
    """``[headroom]``: utilisation targets, normal and with the worst loss."""

    rho_target_normal: float = Field(default=0.70, gt=0, lt=1)
    rho_target_degraded: float = Field(default=0.85, gt=0, lt=1)
    measured_estimate: Literal["conservative", "point"] = Field(
        default="conservative",
        description="which value of a measured figure the sizing uses: the pessimistic end of its 95% interval, or the fit",
    )
    assumed: tuple[str, ...] = ()


class Redundancy(_Frozen):
    """``[redundancy]``: how much capacity a pool must survive losing.

    ``replicas_lost_worst`` is used until the facility model computes the loss
    of the worst failure domain at ``level``.
    """

    replicas_lost_worst: int = Field(default=1, ge=0)
    level: Literal["node", "rack", "pod", "row", "feed", "cooling"] | None = None
    n_plus: int = Field(default=1, ge=0)
    assumed: tuple[str, ...] = ()


class Admission(_Frozen):
    """``[admission]``: shedding objective."""

    shed_target: float = Field(default=0.001, gt=0, lt=1, description="shed probability at lambda_peak")
    assumed: tuple[str, ...] = ()


_BUCKET_FIELDS = ("r_prefill", "r_decode", "l_fixed_ms", "slots", "chips_per_replica")


class Bucket(_Frozen):
    """``[[bucket]]``: one compiled artifact serving one prompt-length bucket.

    Prompts are padded to ``max_prompt_tokens`` (the compiled shape), so the
    prefill time of every request in the bucket is ``max_prompt_tokens / r_prefill``.
    """

    name: str | None = None
    max_prompt_tokens: int = Field(gt=0, description="compiled prompt length, tokens")
    max_output_tokens: int = Field(gt=0, description="output cap, tokens")
    r_prefill: float | None = Field(default=None, gt=0, description="prompt tokens/s at the padded length")
    r_decode: float | None = Field(default=None, gt=0, description="output tokens/s per sequence")
    l_fixed_ms: float | None = Field(default=None, ge=0, description="fixed overhead per request, ms")
    slots: int = Field(default=1, ge=1, description="sequences one replica serves at once")
    chips_per_replica: int | None = Field(default=None, ge=1)
    slo_p99_ms: float | None = Field(default=None, gt=0, description="this bucket's p99 e2el SLO, ms")
    ttft_p99_ms: float | None = Field(default=None, gt=0, description="this bucket's p99 TTFT SLO, ms")
    tpot_p99_ms: float | None = Field(default=None, gt=0, description="this bucket's p99 TPOT SLO, ms")
    profile: Path | None = None
    assumed: tuple[str, ...] = ()
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="field -> reference for a figure taken from a public source (provenance 'sourced')",
    )

    measured: dict[str, tuple[float, float, float]] = Field(
        default_factory=dict,
        exclude=True,
        description="set by the project loader: field -> (point estimate, ci95 low, ci95 high) from the profile;"
        " not a project-file key",
    )

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in value if k not in _BUCKET_FIELDS]
        if unknown:
            raise ValueError(f"sources names unknown fields {unknown}; use some of {list(_BUCKET_FIELDS)}")
        return value

    @model_validator(mode="after")
    def _rates_or_profile(self) -> "Bucket":
        if self.profile is None:
            missing = [f for f in ("r_prefill", "r_decode", "l_fixed_ms") if getattr(self, f) is None]
            if missing:
                raise ValueError(
                    f"missing {', '.join(missing)}: give them, or profile = \"profile.json\" to take them from a measurement"
                )
        return self

    @property
    def label(self) -> str:
        return self.name or f"p{self.max_prompt_tokens}"

    @property
    def l_fixed_s(self) -> float:
        assert self.l_fixed_ms is not None, "rates are resolved before use"
        return self.l_fixed_ms / 1e3
