"""Fits: R_prefill per bucket, R_decode, L_fixed, with 95% intervals; service CV per shape.

Model (DESIGN.md): the service time of a request of ``P`` prompt and ``O``
output tokens is ``S = P/R_prefill(bucket) + O/R_decode + L_fixed``; the
server's queue time, where reported, is subtracted from the end-to-end time
first (``service_s``).

Estimators (each a mean of per-sample times, so the interval is Student's t
on that mean, mapped through ``1/x`` for rates; a monotone map keeps the
coverage):

- ``r_decode`` (inter-token times): per sample ``tpot = (t_last - t_first) /
  (n - 1)`` with ``n`` the server's output count (samples of >= 2 tokens);
  ``R_decode = 1 / mean(tpot)``.
- ``r_decode_server`` (server timings): ``completion_time / completion_tokens``.
- ``r_prefill`` per bucket, server timings present: ``prompt_time /
  prompt_tokens`` per sample, ``R_prefill = 1 / mean``.
- Server timings are used when every bucket has >= 2 samples that carry
  them; samples without them are then left out (``without_server_timings``).
- ``l_fixed_s``, server timings present: per sample ``service - prompt_time -
  completion_time`` (what remains of the end-to-end time), mean and t interval.
- Client timings only (no server prompt time, e.g. llama-cpp-python's
  server): ``y = TTFT - 1/R_decode`` is the time before decoding starts. The
  sweep's floor samples (the smallest prompt, 1 output token) measure
  ``L_fixed = mean(y_floor)`` directly (it includes the prefill of that
  one-token prompt: an upper bound, off by one token's prefill), and each
  bucket's ``R_prefill = P_b / (mean(y_b) - L_fixed)``, its interval from the
  two variances added. This is an APPROXIMATION and holds only for servers
  that do not pad prompts to a compiled shape (GPU servers, llama.cpp); a
  padded LPU endpoint must report prompt timings (Groq's do).

Outlier rule (documented in docs/bench.md): within each shape (bucket, output
length) of at least 10 samples, a sample whose service time lies more than 5 scaled MADs
(1.4826 x median absolute deviation) from the shape's median is an outlier
and left out of every fit; a tolerance of 1e-6 x median keeps exact ties of a
jitter-free server. Samples with cached prompt tokens (> 0) are not prefill
measurements: they are left out of the prefill and L_fixed fits (they still
count for decode). ``service_cv`` is computed per shape over every non-cached
sample, outliers included: it reports how deterministic the service really is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from scipy import stats

from benchmarks.samples import SampleRecord
from benchmarks.sweep import FLOOR_BUCKET
from dimensioning.errors import InvalidInput

__all__ = ["Interval", "BucketRate", "ShapeStats", "FitResult", "fit_samples", "mean_interval", "rate_interval"]

OUTLIER_MADS = 5.0
OUTLIER_MIN_SAMPLES = 10  # a MAD of fewer samples is too noisy to judge by
_MAD_SCALE = 1.4826  # MAD of a normal sample -> its standard deviation


@dataclass(frozen=True)
class Interval:
    """A fitted value with its 95% confidence interval and sample count."""

    value: float
    ci95: tuple[float, float]
    samples: int


@dataclass(frozen=True)
class BucketRate:
    bucket: int
    rate: Interval


@dataclass(frozen=True)
class ShapeStats:
    """Service time of one shape: mean (s), coefficient of variation, counts."""

    bucket: int
    prompt_tokens: int
    output_tokens: int
    mean_service_s: float
    cv: float
    samples: int
    outliers: int


@dataclass(frozen=True)
class FitResult:
    """Everything a profile records about the fits."""

    r_prefill: tuple[BucketRate, ...]
    r_decode: Interval
    r_decode_method: str
    r_decode_itl: Interval | None
    r_decode_server: Interval | None
    l_fixed_s: Interval
    prefill_method: str
    shapes: tuple[ShapeStats, ...]
    counts: dict[str, int] = field(default_factory=dict)


def mean_interval(values: Iterable[float]) -> Interval:
    """Mean and Student-t 95% interval (n >= 2)."""
    x = np.asarray(list(values), dtype=float)
    n = x.size
    if n < 2:
        raise ValueError("an interval needs at least 2 values")
    mean = float(np.mean(x))
    half = float(stats.t.ppf(0.975, n - 1) * np.std(x, ddof=1) / math.sqrt(n))
    return Interval(mean, (mean - half, mean + half), n)


def rate_interval(times_per_token: Iterable[float]) -> Interval:
    """Rate = 1 / mean(time per token), interval mapped through 1/x."""
    t = mean_interval(times_per_token)
    if t.value <= 0:
        raise ValueError("mean time per token must be > 0")
    value = 1.0 / t.value
    lo = 1.0 / t.ci95[1]
    hi = 1.0 / t.ci95[0] if t.ci95[0] > 0 else math.inf
    return Interval(value, (min(lo, value), max(hi, value)), t.samples)


def _outlier_mask(values: np.ndarray) -> np.ndarray:
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    limit = max(OUTLIER_MADS * _MAD_SCALE * mad, 1e-6 * abs(median))
    return np.abs(values - median) > limit


def fit_samples(records: Iterable[SampleRecord]) -> FitResult:
    """Fit the service-time model to the ``ok`` records (warm-up and failed ones are ignored).

    Raises InvalidInput naming what is missing when the samples cannot
    support a fit (too few samples, no multi-token outputs, one bucket without
    server timings).
    """
    ok = [r for r in records if r.status == "ok" and r.measurement is not None]
    if len(ok) < 2:
        raise InvalidInput("samples", len(ok), "need at least 2 measured samples; run a sweep with more repeats")
    counts = {"ok": len(ok), "outliers": 0, "cached": 0}

    by_shape: dict[tuple[int, int], list[SampleRecord]] = defaultdict(list)
    for record in ok:
        by_shape[(record.bucket, record.output_tokens)].append(record)

    inliers: list[SampleRecord] = []
    shapes: list[ShapeStats] = []
    for (bucket, output), group in sorted(by_shape.items()):
        service = np.array([r.measurement.service_s for r in group])  # type: ignore[union-attr]
        mask = _outlier_mask(service) if len(group) >= OUTLIER_MIN_SAMPLES else np.zeros(len(group), dtype=bool)
        counts["outliers"] += int(mask.sum())
        inliers.extend(r for r, out in zip(group, mask) if not out)
        uncached = [r for r in group if not (r.measurement.cached_tokens or 0)]  # type: ignore[union-attr]
        counts["cached"] += len(group) - len(uncached)
        if len(uncached) >= 2:
            s = np.array([r.measurement.service_s for r in uncached])  # type: ignore[union-attr]
            prompt = round(float(np.mean([r.measurement.prompt_tokens or r.prompt_tokens for r in uncached])))  # type: ignore[union-attr]
            shapes.append(
                ShapeStats(bucket, prompt, output, float(s.mean()), float(s.std(ddof=1) / s.mean()), len(uncached), int(mask.sum()))
            )

    # Decode: inter-token times and server timings.
    tpots = [m.tpot_s for m in (r.measurement for r in inliers) if m is not None and m.tpot_s is not None]  # type: ignore[union-attr]
    r_decode_itl = rate_interval(tpots) if len(tpots) >= 2 else None
    server_decode = [
        m.server.completion_s / m.server.completion_n
        for m in (r.measurement for r in inliers)
        if m is not None and m.server is not None and m.server.completion_s and m.server.completion_n
    ]
    r_decode_server = rate_interval(server_decode) if len(server_decode) >= 2 else None
    if r_decode_itl is not None:
        r_decode, decode_method = r_decode_itl, "inter-token times (client)"
    elif r_decode_server is not None:
        r_decode, decode_method = r_decode_server, "server timings"
    else:
        raise InvalidInput(
            "outputs", "no sample with >= 2 output tokens",
            "include an output length of 2 or more tokens (e.g. --outputs 1,64,256) so R_decode can be fitted",
        )

    uncached = [r for r in inliers if not (r.measurement.cached_tokens or 0)]  # type: ignore[union-attr]
    prefill_records = [r for r in uncached if r.bucket != FLOOR_BUCKET]
    floor = [r for r in uncached if r.bucket == FLOOR_BUCKET]
    if not prefill_records:
        raise InvalidInput("buckets", [], "no uncached sample of any bucket; measure at least one bucket")
    with_server = [r for r in uncached if r.measurement.server is not None and r.measurement.server.prompt_s]  # type: ignore[union-attr]
    counts["without_server_timings"] = len(uncached) - len(with_server)
    timed_buckets = defaultdict(int)
    for r in with_server:
        timed_buckets[r.bucket] += 1
    if all(timed_buckets[r.bucket] >= 2 for r in prefill_records):
        # Server timings wherever the server gave them; a sample without them is left out.
        r_prefill, l_fixed = _fit_server(
            [r for r in with_server if r.bucket != FLOOR_BUCKET], [r for r in with_server if r.bucket == FLOOR_BUCKET]
        )
        prefill_method = "server prompt timings"
    else:
        r_prefill, l_fixed = _fit_client(prefill_records, floor, r_decode.value)
        prefill_method = "client TTFT less the floor samples' (approximation; unpadded servers only)"
    return FitResult(
        r_prefill=r_prefill,
        r_decode=r_decode,
        r_decode_method=decode_method,
        r_decode_itl=r_decode_itl,
        r_decode_server=r_decode_server,
        l_fixed_s=l_fixed,
        prefill_method=prefill_method,
        shapes=tuple(shapes),
        counts=counts,
    )


def _fit_server(records: list[SampleRecord], floor: list[SampleRecord]) -> tuple[tuple[BucketRate, ...], Interval]:
    per_bucket: dict[int, list[float]] = defaultdict(list)
    residual: list[float] = []
    for r in records + floor:
        m = r.measurement
        assert m is not None and m.server is not None and m.server.prompt_s is not None
        if r.bucket != FLOOR_BUCKET:
            tokens = m.server.prompt_n or m.prompt_tokens or r.prompt_tokens
            per_bucket[r.bucket].append(m.server.prompt_s / tokens)
        completion = m.server.completion_s or 0.0
        residual.append(m.service_s - m.server.prompt_s - completion)
    rates = []
    for bucket, times in sorted(per_bucket.items()):
        if len(times) < 2:
            raise InvalidInput(f"bucket {bucket}", len(times), "need at least 2 uncached samples per bucket; raise --repeats")
        rates.append(BucketRate(bucket, rate_interval(times)))
    l_fixed = mean_interval(residual)
    if l_fixed.value <= 0:
        raise InvalidInput(
            "fit.l_fixed_s", l_fixed.value,
            "end-to-end times are not longer than the server's own timings; check the client clock and that the server's timings are in seconds",
        )
    return tuple(rates), l_fixed


def _fit_client(
    records: list[SampleRecord], floor: list[SampleRecord], r_decode: float
) -> tuple[tuple[BucketRate, ...], Interval]:
    if len(floor) < 2:
        raise InvalidInput(
            "floor", len(floor),
            "without server prompt timings, L_fixed comes from the floor samples (1-token prompt, 1 output token):"
            " keep the sweep's floor samples on and at least 2 repeats",
        )
    l_fixed = mean_interval(m.ttft_s - 1.0 / r_decode for m in (r.measurement for r in floor) if m is not None)
    if l_fixed.value <= 0:
        raise InvalidInput("fit.l_fixed_s", l_fixed.value, "time to first token of the floor samples is shorter than one decode step; check the client clock")
    se_floor = (l_fixed.ci95[1] - l_fixed.value) / float(stats.t.ppf(0.975, l_fixed.samples - 1))
    per_bucket: dict[int, list[SampleRecord]] = defaultdict(list)
    for r in records:
        per_bucket[r.bucket].append(r)
    rates = []
    for bucket, group in sorted(per_bucket.items()):
        if len(group) < 2:
            raise InvalidInput(f"bucket {bucket}", len(group), "need at least 2 uncached samples per bucket; raise --repeats")
        y = np.array([r.measurement.ttft_s - 1.0 / r_decode for r in group])  # type: ignore[union-attr]
        p = float(np.mean([r.measurement.prompt_tokens or r.prompt_tokens for r in group]))  # type: ignore[union-attr]
        d = float(y.mean()) - l_fixed.value
        if d <= 0:
            raise InvalidInput(f"bucket {bucket}", d, "prefill time at or below the floor's; the server may pad prompts: use one that reports prompt timings")
        t = float(stats.t.ppf(0.975, y.size - 1))
        half = t * math.sqrt(float(y.var(ddof=1)) / y.size + se_floor**2)
        lo = p / (d + half)
        hi = p / (d - half) if d > half else math.inf
        rates.append(BucketRate(int(bucket), Interval(p / d, (lo, hi), int(y.size))))
    return tuple(rates), l_fixed
