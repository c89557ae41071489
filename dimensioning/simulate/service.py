"""Service times: how long a request holds a slot.

The LPU service model (DESIGN.md; the worksheet): a request of bucket b takes
``S_b = max_prompt_tokens/r_prefill + max_output_tokens/r_decode + l_fixed``
when sized at its output cap (deterministic per bucket), or
``S = max_prompt_tokens/r_prefill + min(O, max_output_tokens)/r_decode + l_fixed``
from its own output length O (prompts are padded to the compiled shape, so
prefill depends on the bucket, not on P).

Every service model answers :meth:`draw`: per request, the bucket index and
the service time in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket, TokenDistribution

__all__ = [
    "ServiceModel",
    "BucketShape",
    "DeterministicService",
    "BucketMixService",
    "TokenService",
    "JitteredService",
    "bucket_service_time",
    "sample_tokens",
    "REJECTED_BUCKET",
]

REJECTED_BUCKET = -1
"""Bucket index of a request whose prompt exceeds the largest bucket (the API rejects it)."""


class ServiceModel(Protocol):
    """What the simulator asks of a service model."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Bucket names, indexed by the bucket numbers :meth:`draw` returns."""
        ...

    @property
    def is_deterministic(self) -> bool:
        """True when every request takes the same time (enables the Lindley fast path)."""
        ...

    def draw(
        self,
        rng: np.random.Generator,
        count: int,
        prompt_tokens: np.ndarray | None = None,
        output_tokens: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Bucket index (int32; -1 rejected) and service time (s) of ``count`` requests."""
        ...


def _positive(field: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InvalidInput(field, value, "give a positive, finite service time in seconds")


@dataclass(frozen=True)
class BucketShape:
    """The rates of one compiled shape (units: tokens, tokens/s, seconds)."""

    name: str
    max_prompt_tokens: int
    max_output_tokens: int
    r_prefill: float
    r_decode: float
    l_fixed_s: float

    @classmethod
    def from_bucket(cls, bucket: Bucket) -> "BucketShape":
        from dimensioning.service_time import sizing_rates  # at the replica's occupancy and under load, as the sizing

        try:
            r_prefill, r_decode, l_fixed_s = sizing_rates(bucket)
        except ValueError:
            raise InvalidInput(f"bucket {bucket.label}", None, "resolve r_prefill, r_decode and l_fixed_ms first") from None
        return cls(
            bucket.label,
            bucket.max_prompt_tokens,
            bucket.max_output_tokens,
            r_prefill,
            r_decode,
            l_fixed_s,
        )

    def service_time(self, output_tokens: np.ndarray | float | None = None) -> np.ndarray | float:
        """S = max_prompt/r_prefill + min(O, max_output)/r_decode + l_fixed (s); O at its cap when None."""
        from dimensioning.service_time import service_seconds

        output = self.max_output_tokens if output_tokens is None else np.minimum(output_tokens, self.max_output_tokens)
        return service_seconds(self.max_prompt_tokens, output, self.r_prefill, self.r_decode, self.l_fixed_s)


def bucket_service_time(bucket: Bucket) -> float:
    """S_bucket in seconds, output at its cap: the sizing model's own definition."""
    from dimensioning.service_time import service_time  # one definition of S_bucket for sizing and simulation

    BucketShape.from_bucket(bucket)  # same check and message when rates are unresolved
    return service_time(bucket, float(bucket.max_output_tokens)).total_s


@dataclass(frozen=True)
class DeterministicService:
    """Every request takes ``service_time_s`` seconds (M/D/c)."""

    service_time_s: float
    name: str = "all"

    def __post_init__(self) -> None:
        _positive("service_time", self.service_time_s)

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def is_deterministic(self) -> bool:
        return True

    @property
    def mean_s(self) -> float:
        return self.service_time_s

    def draw(self, rng, count, prompt_tokens=None, output_tokens=None):
        return np.zeros(count, dtype=np.int32), np.full(count, self.service_time_s)


@dataclass(frozen=True)
class BucketMixService:
    """Bucket b with probability ``shares[b]`` takes ``service_times_s[b]`` (a mixture of deterministic times)."""

    service_times_s: tuple[float, ...]
    shares: tuple[float, ...]
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.service_times_s) != len(self.shares) or not self.shares:
            raise InvalidInput("shares", self.shares, "give one share per service time")
        for time in self.service_times_s:
            _positive("service_times_s", time)
        if any(s < 0 for s in self.shares) or abs(math.fsum(self.shares) - 1) > 1e-9:
            raise InvalidInput("shares", self.shares, "give shares >= 0 that sum to 1")
        if self.names and len(self.names) != len(self.shares):
            raise InvalidInput("names", self.names, "give one name per bucket")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.names or tuple(f"b{i}" for i in range(len(self.shares)))

    @property
    def is_deterministic(self) -> bool:
        used = {t for t, s in zip(self.service_times_s, self.shares) if s > 0}
        return len(used) == 1

    @property
    def mean_s(self) -> float:
        return math.fsum(t * s for t, s in zip(self.service_times_s, self.shares))

    def draw(self, rng, count, prompt_tokens=None, output_tokens=None):
        shares = np.asarray(self.shares, dtype=float)
        bucket = np.searchsorted(np.cumsum(shares) / shares.sum(), rng.random(count), side="right")
        bucket = np.minimum(bucket, len(shares) - 1).astype(np.int32)
        return bucket, np.asarray(self.service_times_s, dtype=float)[bucket]


def sample_tokens(distribution: TokenDistribution, rng: np.random.Generator, count: int) -> np.ndarray:
    """Token counts (int64, >= 1) drawn from a project-file distribution.

    Lognormal and gamma are parameterised by their mean and std (tokens);
    a histogram is uniform inside each bin; counts are rounded up.
    """
    if distribution.histogram is not None:
        edges = np.array([e for e, _ in distribution.histogram], dtype=float)
        shares = np.array([s for _, s in distribution.histogram], dtype=float)
        lower = np.concatenate(([0.0], edges[:-1]))
        index = np.minimum(np.searchsorted(np.cumsum(shares), rng.random(count), side="right"), len(edges) - 1)
        values = lower[index] + rng.random(count) * (edges[index] - lower[index])
    elif distribution.distribution == "constant":
        assert distribution.value is not None
        values = np.full(count, distribution.value)
    elif distribution.distribution == "lognormal":
        assert distribution.mean is not None and distribution.std is not None
        sigma2 = math.log1p((distribution.std / distribution.mean) ** 2)
        values = rng.lognormal(math.log(distribution.mean) - sigma2 / 2, math.sqrt(sigma2), count)
    else:
        assert distribution.mean is not None and distribution.std is not None
        shape = (distribution.mean / distribution.std) ** 2
        values = rng.gamma(shape, distribution.mean / shape, count)
    return np.maximum(np.ceil(values), 1).astype(np.int64)


@dataclass(frozen=True)
class TokenService:
    """Per-request service from its (P, O) through each bucket's rates.

    A prompt goes to the smallest bucket with ``max_prompt_tokens >= P``;
    prompts above the largest bucket are rejected (bucket -1, as the API
    would). The output stops at the bucket's ``max_output_tokens``. Token
    counts come from the trace when given to :meth:`draw`, else from the
    distributions.
    """

    buckets: tuple[BucketShape, ...]
    prompt_tokens: TokenDistribution | None = None
    output_tokens: TokenDistribution | None = None
    # (prompt, output) rows of a trace without usable timestamps: drawn with replacement, pairs kept
    trace_pairs: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if not self.buckets:
            raise InvalidInput("buckets", self.buckets, "give at least one bucket")
        edges = [b.max_prompt_tokens for b in self.buckets]
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise InvalidInput("buckets", edges, "list buckets by strictly increasing max_prompt_tokens")

    @classmethod
    def from_buckets(
        cls,
        buckets: Sequence[Bucket],
        prompt_tokens: TokenDistribution | None,
        output_tokens: TokenDistribution | None,
        trace_pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> "TokenService":
        return cls(tuple(BucketShape.from_bucket(b) for b in buckets), prompt_tokens, output_tokens, trace_pairs)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.buckets)

    @property
    def is_deterministic(self) -> bool:
        return False

    def draw(self, rng, count, prompt_tokens=None, output_tokens=None):
        if (prompt_tokens is None or output_tokens is None) and self.trace_pairs is not None:
            rows = rng.integers(0, self.trace_pairs[0].size, size=count)
            prompt_tokens, output_tokens = self.trace_pairs[0][rows], self.trace_pairs[1][rows]
        if prompt_tokens is None or output_tokens is None:
            if self.prompt_tokens is None or self.output_tokens is None:
                raise InvalidInput(
                    "workload", None, "per-request service needs prompt_tokens and output_tokens distributions or a trace"
                )
            prompt_tokens = sample_tokens(self.prompt_tokens, rng, count)
            output_tokens = sample_tokens(self.output_tokens, rng, count)
        edges = np.array([b.max_prompt_tokens for b in self.buckets])
        bucket = np.searchsorted(edges, prompt_tokens, side="left").astype(np.int32)
        rejected = bucket >= len(self.buckets)
        bucket[rejected] = REJECTED_BUCKET
        service = np.zeros(count)
        for index, shape in enumerate(self.buckets):
            mask = bucket == index
            service[mask] = shape.service_time(output_tokens[mask])
        return bucket, service


@dataclass(frozen=True)
class JitteredService:
    """``base`` times a lognormal factor with mean 1 and coefficient of variation ``cv``.

    Tests how much the determinism assumption matters: cv = 0.05 is a 5% jitter.
    """

    base: ServiceModel
    cv: float

    def __post_init__(self) -> None:
        if not (self.cv >= 0 and math.isfinite(self.cv)):
            raise InvalidInput("jitter", self.cv, "give a coefficient of variation >= 0 (0.05 = 5%)")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.base.labels

    @property
    def is_deterministic(self) -> bool:
        return self.cv == 0 and self.base.is_deterministic

    def draw(self, rng, count, prompt_tokens=None, output_tokens=None):
        bucket, service = self.base.draw(rng, count, prompt_tokens, output_tokens)
        if self.cv > 0:
            sigma2 = math.log1p(self.cv**2)
            service = service * rng.lognormal(-sigma2 / 2, math.sqrt(sigma2), count)
        return bucket, service
