"""Validated inputs of the dimensioning package (the project file's tables).

Units are those of the project file (the contract in README.md): token counts,
requests/s, tokens/s, milliseconds where the name says ``_ms``. Everything is
converted to SI seconds at the point of use (``Bucket.l_fixed_s``).

Every model is frozen and rejects unknown keys, so a typo in a project file is
an error that names the key, never a silently ignored setting.

One validation path for every number: the shared base :class:`_Frozen` refuses
``inf`` and ``nan`` in every float field (pydantic's ``allow_inf_nan=False``,
nested tuples such as histogram pairs included), and every numeric field has a
physical lower bound and a documented upper limit (the ``MAX_*`` constants
below, listed in README.md "Limits"). The limits are far beyond any real
deployment; they exist so that a typo such as ``slots = 1e9`` is refused with
a message naming the limit instead of starting a computation that never ends.
``tests/dimensioning/test_inputs.py`` fails when a numeric field of any model
here lacks either bound, so a new field cannot forget them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_TOKENS",
    "MAX_LAMBDA_PEAK",
    "MAX_ARRIVAL_SCV",
    "MAX_RATE_TOKENS_S",
    "MAX_MS",
    "MAX_SLOTS",
    "MAX_CHIPS",
    "MAX_REPLICAS",
    "MAX_N_PLUS",
    "MAX_SERVICE_INFLATION",
    "TokenDistribution",
    "Workload",
    "Slo",
    "Headroom",
    "Redundancy",
    "Admission",
    "Bucket",
    "StepModel",
]


# Documented upper limits (README.md, "Limits"). Each is orders of magnitude
# above real deployments and below the sizes at which a computation would stop
# being interactive.
MAX_TOKENS = 10_000_000
"""Token counts (prompt/output lengths, caps, distribution figures): 10M tokens,
the longest context window published for a 2025 model."""
MAX_LAMBDA_PEAK = 10_000_000.0
"""Peak arrival rate, requests/s."""
MAX_ARRIVAL_SCV = 10_000.0
"""Squared coefficient of variation of inter-arrival times."""
MAX_RATE_TOKENS_S = 1e9
"""Prefill and decode rates, tokens/s."""
MAX_MS = 86_400_000.0
"""Durations in ms (SLOs, fixed overhead): one day."""
MAX_SLOTS = 100_000
"""Sequences one replica serves at once."""
MAX_CHIPS = 1_000_000
"""Chips per replica."""
MAX_REPLICAS = 100_000
"""Replicas lost in the worst failure."""
MAX_N_PLUS = 16
"""Failure domains that may fail together (N+k): the worst k-subset is searched."""
MAX_SERVICE_INFLATION = 100.0
"""Service time under load over the isolated one (a ratio): far beyond any server that still serves."""


class _Frozen(BaseModel):
    # allow_inf_nan=False: inf and nan are refused in every float field of every
    # model built on this base (the one validation path; issue 12).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _assumed_names_fields(self):  # type: ignore[no-untyped-def]
        listed = getattr(self, "assumed", ())
        allowed = sorted(set(type(self).model_fields) - {"assumed", "sources", "measured", "measured_from", "name",
                                                         "profile", "under_load"})
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
    mean: float | None = Field(default=None, gt=0, le=MAX_TOKENS)
    std: float | None = Field(default=None, ge=0, le=MAX_TOKENS)
    value: float | None = Field(default=None, gt=0, le=MAX_TOKENS)
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
            if edges[-1] > MAX_TOKENS:
                raise ValueError(
                    f"histogram edge {edges[-1]:g} is above the limit of {MAX_TOKENS:,} tokens; give token counts"
                )
            if any(not 0 <= s <= 1 for s in shares):
                raise ValueError(f"histogram shares {shares} must each be between 0 and 1")
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

    lambda_peak: float = Field(gt=0, le=MAX_LAMBDA_PEAK, description="requests/s at peak")
    arrival_scv: float = Field(
        default=1.0, gt=0, le=MAX_ARRIVAL_SCV, description="squared coefficient of variation of inter-arrival times"
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

    p99_ms: float = Field(gt=0, le=MAX_MS, description="p99 end-to-end latency (e2el), ms")
    degraded_p99_ms: float | None = Field(
        default=None, gt=0, le=MAX_MS, description="p99 while a failure domain is down, ms (default p99_ms)"
    )
    ttft_p99_ms: float | None = Field(default=None, gt=0, le=MAX_MS, description="p99 time to first token, ms")
    ttft_degraded_p99_ms: float | None = Field(
        default=None, gt=0, le=MAX_MS, description="p99 TTFT while a failure domain is down, ms (default ttft_p99_ms)"
    )
    tpot_p99_ms: float | None = Field(default=None, gt=0, le=MAX_MS, description="p99 time per output token, ms")
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

    replicas_lost_worst: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    level: Literal["node", "rack", "pod", "row", "feed", "cooling"] | None = None
    n_plus: int = Field(default=1, ge=0, le=MAX_N_PLUS)
    assumed: tuple[str, ...] = ()


class Admission(_Frozen):
    """``[admission]``: shedding objective."""

    shed_target: float = Field(default=0.001, gt=0, lt=1, description="shed probability at lambda_peak")
    assumed: tuple[str, ...] = ()


_BUCKET_FIELDS = ("r_prefill", "r_decode", "l_fixed_ms", "slots", "chips_per_replica", "step_model",
                  "rates_at_concurrency")


class StepModel(_Frozen):
    """BLIS step form: one engine step takes ``beta0 + beta1 * prefill_tokens + beta2 * decode_tokens`` us.

    The rates at ``slots`` in flight follow from it (``dimensioning.occupancy``).
    """

    beta0_us: float = Field(gt=0, le=MAX_MS * 1e3, description="per-step constant, microseconds")
    beta1_us: float = Field(ge=0, le=MAX_MS * 1e3, description="per prefill token in the step, microseconds")
    beta2_us: float = Field(ge=0, le=MAX_MS * 1e3, description="per decode token in the step, microseconds")


class Bucket(_Frozen):
    """``[[bucket]]``: one compiled artifact serving one prompt-length bucket.

    Prompts are padded to ``max_prompt_tokens`` (the compiled shape), so the
    prefill time of every request in the bucket is ``max_prompt_tokens / r_prefill``.
    """

    name: str | None = None
    max_prompt_tokens: int = Field(gt=0, le=MAX_TOKENS, description="compiled prompt length, tokens")
    max_output_tokens: int = Field(gt=0, le=MAX_TOKENS, description="output cap, tokens")
    r_prefill: float | None = Field(
        default=None, gt=0, le=MAX_RATE_TOKENS_S, description="prompt tokens/s at the padded length"
    )
    r_decode: float | None = Field(default=None, gt=0, le=MAX_RATE_TOKENS_S, description="output tokens/s per sequence")
    l_fixed_ms: float | None = Field(default=None, ge=0, le=MAX_MS, description="fixed overhead per request, ms")
    slots: int = Field(default=1, ge=1, le=MAX_SLOTS, description="sequences one replica serves at once")
    chips_per_replica: int | None = Field(default=None, ge=1, le=MAX_CHIPS)
    slo_p99_ms: float | None = Field(default=None, gt=0, le=MAX_MS, description="this bucket's p99 e2el SLO, ms")
    ttft_p99_ms: float | None = Field(default=None, gt=0, le=MAX_MS, description="this bucket's p99 TTFT SLO, ms")
    tpot_p99_ms: float | None = Field(default=None, gt=0, le=MAX_MS, description="this bucket's p99 TPOT SLO, ms")
    step_model: StepModel | None = Field(default=None, description="BLIS step form; rates at `slots` in flight follow")
    rates_at_concurrency: tuple[tuple[float, float, float], ...] | None = Field(
        default=None, description="[[concurrency, r_prefill, r_decode], ...]: rates per sequence by sequences in flight")
    rates_concurrency: int | None = Field(
        default=None, ge=1, le=MAX_SLOTS,
        description="sequences in flight when r_prefill/r_decode were measured (default: 1, an assumption when slots > 1)")
    serving_mode: Literal["streamed", "non-streamed"] | None = Field(
        default=None, description="how this bucket's traffic is served; compared with the profile's measured mode")
    profile: Path | None = None
    service_inflation: float | None = Field(
        default=None, gt=0, le=MAX_SERVICE_INFLATION,
        description="service time under load over the isolated one; multiplies S_bucket (dimensioning.service_time)."
        " Written here it is 'given'; from under_load it is 'measured'")
    under_load: Path | None = Field(
        default=None,
        description="file written by `lpuplan fidelity --write-under-load`: the measured service_inflation of this bucket")
    prefix_cache_hit_rate: float = Field(
        default=0.0, ge=0, lt=1, allow_inf_nan=False,
        description="share of prompt tokens served from the prefix cache (they skip prefill; dimensioning.service_time)")
    assumed: tuple[str, ...] = ()
    measured_from: dict[str, str] = Field(
        default_factory=dict, exclude=True,
        description="set by the project loader: field -> the measurement it came from (run, time, estimator)")
    profile_mode: str | None = Field(
        default=None, exclude=True,
        description="set by the project loader: the serving mode the profile records (None: not recorded)")
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
        by_occupancy = self.step_model is not None or self.rates_at_concurrency is not None
        if by_occupancy:
            return self._rates_at_slots()
        if self.profile is None:
            missing = [f for f in ("r_prefill", "r_decode", "l_fixed_ms") if getattr(self, f) is None]
            if missing:
                raise ValueError(
                    f"missing {', '.join(missing)}: give them, or profile = \"profile.json\" to take them from a measurement"
                )
        return self

    def _rates_at_slots(self) -> "Bucket":
        """Fill r_prefill and r_decode with the rates at ``slots`` in flight (``dimensioning.occupancy``)."""
        from dimensioning.occupancy import rates_from_step_model, rates_from_table

        if self.step_model is not None and self.rates_at_concurrency is not None:
            raise ValueError("give step_model or rates_at_concurrency, not both")
        given = (self.r_prefill, self.r_decode)
        if self.l_fixed_ms is None and self.profile is None:
            raise ValueError("missing l_fixed_ms: give it (the step model has no per-request overhead)")
        if self.step_model is not None:
            m = self.step_model
            r_prefill, r_decode = rates_from_step_model(m.beta0_us, m.beta1_us, m.beta2_us, self.max_prompt_tokens,
                                                        self.max_output_tokens, self.slots)
        else:
            table = self.rates_at_concurrency or ()
            if not table:
                raise ValueError("rates_at_concurrency is empty: give [[concurrency, r_prefill, r_decode], ...]")
            xs = [row[0] for row in table]
            if xs[0] < 1 or any(b <= a for a, b in zip(xs, xs[1:])):
                raise ValueError(f"rates_at_concurrency concurrencies {xs} must be >= 1 and strictly increasing")
            if xs[-1] > MAX_SLOTS:
                raise ValueError(f"rates_at_concurrency concurrency {xs[-1]:g} is above {MAX_SLOTS:,}, the documented"
                                 " limit of slots (README.md, Limits)")
            if any(not (0 < v <= MAX_RATE_TOKENS_S) for row in table for v in row[1:]):
                raise ValueError(f"rates_at_concurrency rates must be > 0 and <= {MAX_RATE_TOKENS_S:g} tokens/s")
            try:
                r_prefill, r_decode = rates_from_table(table, self.slots)
            except ValueError as exc:
                raise ValueError(f"{exc}: measure at slots = {self.slots} or change slots (no extrapolation)") from None
        if given != (None, None) and not all(
                g is not None and abs(g - d) <= 1e-9 * d for g, d in zip(given, (r_prefill, r_decode))):
            # (a re-validated dump carries the derived rates: those are accepted; anything else is a conflict)
            raise ValueError("r_prefill/r_decode follow from step_model or rates_at_concurrency at slots: remove them")
        # derived values of a frozen model, set once while validating (pydantic keeps fields in __dict__)
        object.__setattr__(self, "r_prefill", r_prefill)
        object.__setattr__(self, "r_decode", r_decode)
        return self

    @property
    def rates_basis(self) -> str:
        """How r_prefill/r_decode relate to ``slots`` in flight (reports state it; see ``batch_assumption``)."""
        if self.step_model is not None:
            return f"step model at {self.slots} in flight"
        if self.rates_at_concurrency is not None:
            return f"table at {self.slots} in flight"
        return f"measured at {self.rates_concurrency or 1} in flight"

    @property
    def batch_assumption(self) -> str | None:
        """The assumption a report must state when rates measured at another occupancy are used at ``slots``."""
        if self.step_model is not None or self.rates_at_concurrency is not None:
            return None
        at = self.rates_concurrency or 1
        if self.slots > 1 and at != self.slots:
            return (f"r_prefill and r_decode {'were measured' if self.rates_concurrency else 'are taken as measured'}"
                    f" at {at} sequence{'s' if at > 1 else ''} in flight and applied at slots = {self.slots}:"
                    " per-sequence rates usually fall as the batch grows; give rates_at_concurrency or step_model,"
                    " or measure at slots in flight (`lpuplan bench` closed loop)")
        return None

    @property
    def mode_assumption(self) -> str | None:
        """The assumption a report must state when the profile's serving mode may not be the traffic's.

        None when the bucket has no profile, or its ``serving_mode`` is the
        mode of the fit it was sized from (``profile_mode``, set by the loader:
        the matching fit where the profile measured that mode).
        """
        if self.profile is None or (self.serving_mode is not None and self.profile_mode == self.serving_mode):
            return None
        measured = (f"was measured {self.profile_mode}" if self.profile_mode
                    else "does not record its serving mode (`lpuplan bench` streams by default)")
        if self.serving_mode is None:
            return (f"serving_mode is not given and the profile {measured}: the traffic is taken to be served"
                    ' as measured; set serving_mode = "streamed" or "non-streamed" for this bucket')
        return (f"serving_mode = {self.serving_mode} but the profile {measured}: the service time is taken"
                " as measured; measure the matching mode (`lpuplan bench --mode`)")

    @property
    def label(self) -> str:
        return self.name or f"p{self.max_prompt_tokens}"

    @property
    def l_fixed_s(self) -> float:
        assert self.l_fixed_ms is not None, "rates are resolved before use"
        return self.l_fixed_ms / 1e3
