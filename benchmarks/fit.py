"""Fits: R_prefill per bucket, R_decode, L_fixed, with 95% intervals; service CV per shape.

Model (DESIGN.md): the service time of a request of ``P`` prompt and ``O``
output tokens is ``S = P/R_prefill(bucket) + O/R_decode + L_fixed``; the
server's queue time, where reported, is subtracted from the end-to-end time
first (``service_s``).

Estimators (each a mean of per-sample times, so the interval is Student's t
on that mean, mapped through ``1/x`` for rates; a monotone map keeps the
coverage):

- With server timings (Groq, llama.cpp's C++ server, the mock), used when
  every bucket has >= 2 samples that carry them (samples without them are then
  left out, ``without_server_timings``): ``r_prefill`` per bucket
  ``1 / mean(prompt_time / prompt_tokens)``; ``r_decode`` from inter-token
  times in a stream (per sample ``tpot``, see ``Measurement.tpot_s``),
  ``R_decode = 1 / mean(tpot)``, else ``completion_time / completion_tokens``
  (``r_decode_server``, always reported where present); ``l_fixed_s`` per
  sample ``service - prompt_time - completion_time``, mean and t interval.
- Client clock only (llama-cpp-python's server, vLLM), either mode: the
  model is fitted to the whole-request time ``e2e`` by ordinary least
  squares, ``e2e = L_fixed + T_b [bucket b] + O d`` over the floor and bucket
  samples (``T_b`` the prefill time of bucket b, ``d = 1/R_decode``), with
  Student-t intervals from the heteroscedasticity-consistent (HC3)
  covariance, since long requests vary more than short ones;
  ``R_prefill(b) = P_b / T_b``. The whole-request time is what a server is
  busy for, whatever its stream does with the tokens: llama-cpp-python
  holds every chunk back until the end once a token is not valid UTF-8, and
  servers coalesce tokens, so TTFT and inter-token times can say nothing
  about prefill and decode (TTFT = e2e there). It folds the floor's
  one-token prefill into ``L_fixed`` (an upper bound, off by one token's
  prefill) and holds only for servers that do not pad prompts to a compiled
  shape (GPU servers, llama.cpp): an APPROXIMATION; a padded LPU endpoint
  must report prompt timings (Groq's do). Inter-token times are still
  reported (``r_decode_itl``: the rate a streamed TPOT sees).

Streaming overhead (:func:`fit_streaming_overhead`): with samples of both
modes, one OLS over every sample's ``e2e`` with two more columns, ``[streamed]``
and ``O [streamed]``, estimates the per-request and per-token cost of
streaming (``overhead_per_token_s``) with their intervals (HC3 again).

Fixed concurrency: ``occupancy = N`` fits only the samples that had N
requests in flight for their whole life (``in_flight == N``); the rates are
then per sequence at occupancy N.

Every figure is finite: a fit whose interval would be unbounded (a time's
interval reaching zero) or that lacks the samples it needs raises
:class:`FitImpossible`, naming the figure, what is missing and how to get it.

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
from typing import Callable, Iterable

import numpy as np
from scipy import stats

from benchmarks.samples import SampleRecord
from benchmarks.sweep import FLOOR_BUCKET
from dimensioning.errors import InvalidInput

__all__ = [
    "Interval",
    "BucketRate",
    "ShapeStats",
    "FitResult",
    "FitImpossible",
    "StreamingOverhead",
    "fit_samples",
    "fit_streaming_overhead",
    "mean_interval",
    "outlier_mask",
    "rate_interval",
    "shape_mean",
]


class FitImpossible(InvalidInput):
    """The samples cannot support a finite fit: ``field`` names the figure, ``fix`` what to measure."""

WHOLE_METHOD = "least squares on whole-request times (client clock)"
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
    mode: str = "streamed"
    occupancy: int = 1


@dataclass(frozen=True)
class StreamingOverhead:
    """What streaming adds to a request: per token and per request, s (95% intervals)."""

    per_token_s: Interval
    per_request_s: Interval


def mean_interval(values: Iterable[float]) -> Interval:
    """Mean and Student-t 95% interval (n >= 2)."""
    x = np.asarray(list(values), dtype=float)
    n = x.size
    if n < 2:
        raise ValueError("an interval needs at least 2 values")
    mean = float(np.mean(x))
    half = float(stats.t.ppf(0.975, n - 1) * np.std(x, ddof=1) / math.sqrt(n))
    return Interval(mean, (mean - half, mean + half), n)


def shape_mean(service_s: Iterable[float]) -> Interval:
    """The fit's estimate of one shape's service time (s): the outlier rule, then the mean with its t interval.

    With client timings only, the least-squares fit has one parameter per
    bucket, ``L_fixed`` and ``d`` (module docstring); over a sweep of one
    bucket, the floor and two output lengths it is saturated, so what the
    profile evaluates at a measured shape (``P/R_prefill + O/R_decode +
    L_fixed``) IS this figure of that shape's samples. An independent timing
    of the same shape is compared like with like through this function.
    """
    x = np.asarray(list(service_s), dtype=float)
    return mean_interval(x[~outlier_mask(x)])


def rate_interval(times_per_token: Iterable[float], figure: str = "rate") -> Interval:
    """Rate = 1 / mean(time per token), interval mapped through 1/x.

    Raises FitImpossible when the time's interval reaches zero (the rate's
    would be unbounded: too few or too scattered samples).
    """
    t = mean_interval(times_per_token)
    return _rate_from_time(t, figure)


def _rate_from_time(t: Interval, figure: str, tokens: float = 1.0) -> Interval:
    if not (math.isfinite(t.value) and t.value > 0):
        raise FitImpossible(figure, t.value, f"the time it is fitted from is {t.value:.3g} s, not positive; check the samples ({t.samples})")
    if not t.ci95[0] > 0 or not math.isfinite(t.ci95[1]):
        raise FitImpossible(
            figure, t.samples,
            f"its 95% interval is unbounded: the time's interval [{t.ci95[0]:.3g}, {t.ci95[1]:.3g}] s reaches zero with"
            f" {t.samples} samples; measure more (raise --repeats, with --fresh or a new --samples file)",
        )
    value = tokens / t.value
    lo, hi = tokens / t.ci95[1], tokens / t.ci95[0]
    return Interval(value, (min(lo, value), max(hi, value)), t.samples)


def outlier_mask(values: Iterable[float]) -> np.ndarray:
    """The outlier rule for one shape's service times (module docstring): True where a sample is left out.

    Nothing is left out of fewer than ``OUTLIER_MIN_SAMPLES`` samples.
    """
    values = np.asarray(list(values), dtype=float)
    if values.size < OUTLIER_MIN_SAMPLES:
        return np.zeros(values.size, dtype=bool)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    limit = max(OUTLIER_MADS * _MAD_SCALE * mad, 1e-6 * abs(median))
    return np.abs(values - median) > limit


def fit_samples(records: Iterable[SampleRecord], mode: str | None = None, occupancy: int | None = None) -> FitResult:
    """Fit the service-time model to the ``ok`` records of one mode (warm-up, filler and failed ones are ignored).

    ``mode``: ``streamed`` or ``non-streamed`` (default: the records' mode,
    streamed when they are mixed); ``occupancy``: fit only samples with that
    many requests in flight (default: every sample). Raises FitImpossible
    naming what is missing when the samples cannot support a finite fit (too
    few samples, no multi-token outputs, one bucket without server timings,
    an unbounded interval).
    """
    measured = [r for r in records if r.status == "ok" and r.measurement is not None]
    if mode is None:
        modes = {r.mode for r in measured}
        mode = modes.pop() if len(modes) == 1 else "streamed"
    of_mode = [r for r in measured if r.mode == mode]
    ok = [r for r in of_mode if occupancy is None or r.in_flight == occupancy]
    counts = {
        "ok": len(ok), "outliers": 0, "cached": 0,
        "other_mode": len(measured) - len(of_mode), "below_occupancy": len(of_mode) - len(ok),
    }
    if len(ok) < 2:
        missing = f" ({counts['below_occupancy']} more measured below occupancy {occupancy})" if counts["below_occupancy"] else ""
        raise FitImpossible(
            f"samples ({mode})", len(ok),
            f"need at least 2 measured {mode} samples{missing}; run a sweep with more repeats (--fresh or a new --samples file)",
        )

    by_shape: dict[tuple[int, int], list[SampleRecord]] = defaultdict(list)
    for record in ok:
        by_shape[(record.bucket, record.output_tokens)].append(record)

    inliers: list[SampleRecord] = []
    shapes: list[ShapeStats] = []
    for (bucket, output), group in sorted(by_shape.items()):
        service = np.array([r.measurement.service_s for r in group])  # type: ignore[union-attr]
        mask = outlier_mask(service)
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

    uncached = [r for r in inliers if not (r.measurement.cached_tokens or 0)]  # type: ignore[union-attr]
    prefill_records = [r for r in uncached if r.bucket != FLOOR_BUCKET]
    floor = [r for r in uncached if r.bucket == FLOOR_BUCKET]
    if not prefill_records:
        raise FitImpossible("buckets", [], f"no uncached {mode} sample of any bucket; measure at least one bucket")
    with_server = [r for r in uncached if r.measurement.server is not None and r.measurement.server.prompt_s]  # type: ignore[union-attr]
    counts["without_server_timings"] = len(uncached) - len(with_server)
    timed_buckets: dict[int, int] = defaultdict(int)
    for r in with_server:
        timed_buckets[r.bucket] += 1
    server_route = all(timed_buckets[r.bucket] >= 2 for r in prefill_records)

    # Decode: inter-token times (streamed) and server timings.
    tpots = [m.tpot_s for m in (r.measurement for r in inliers) if m is not None and m.tpot_s is not None]  # type: ignore[union-attr]
    server_decode = [
        m.server.completion_s / m.server.completion_n
        for m in (r.measurement for r in inliers)
        if m is not None and m.server is not None and m.server.completion_s and m.server.completion_n
    ]
    unbounded: list[FitImpossible] = []  # a decode fit that cannot be finite is dropped if the other one exists
    r_decode_itl = _soft(lambda: rate_interval(tpots, "R_decode (inter-token)"), unbounded) if len(tpots) >= 2 else None
    r_decode_server = _soft(lambda: rate_interval(server_decode, "R_decode (server)"), unbounded) if len(server_decode) >= 2 else None

    if not server_route:
        # Client clock only: the model fitted to whole-request times, in either mode.
        if len({r.measurement.output_count for r in uncached}) < 2:  # type: ignore[union-attr]
            raise FitImpossible(
                "R_decode", "one output length",
                "include at least two output lengths, one of 2 or more tokens (e.g. --outputs 1,64,256), so R_decode can be fitted",
            )
        r_prefill, r_decode, l_fixed = _fit_whole(prefill_records, floor)
        return FitResult(
            r_prefill=r_prefill, r_decode=r_decode, r_decode_method=WHOLE_METHOD,
            r_decode_itl=r_decode_itl, r_decode_server=r_decode_server, l_fixed_s=l_fixed,
            prefill_method=WHOLE_METHOD + " (approximation; unpadded servers only)",
            shapes=tuple(shapes), counts=counts, mode=mode, occupancy=occupancy or 1,
        )
    if r_decode_itl is not None:
        r_decode, decode_method = r_decode_itl, "inter-token times (client)"
    elif r_decode_server is not None:
        r_decode, decode_method = r_decode_server, "server timings"
    elif unbounded:
        raise unbounded[0]
    else:
        raise FitImpossible(
            "outputs", "no sample with >= 2 output tokens",
            "include an output length of 2 or more tokens (e.g. --outputs 1,64,256) so R_decode can be fitted",
        )
    # Server timings wherever the server gave them; a sample without them is left out.
    r_prefill, l_fixed = _fit_server(
        [r for r in with_server if r.bucket != FLOOR_BUCKET], [r for r in with_server if r.bucket == FLOOR_BUCKET]
    )
    prefill_method = "server prompt timings"
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
        mode=mode,
        occupancy=occupancy or 1,
    )


def _soft(fit: "Callable[[], Interval]", errors: list[FitImpossible]) -> Interval | None:
    try:
        return fit()
    except FitImpossible as exc:
        errors.append(exc)
        return None


def _ols(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Least squares ``y ~ x``: coefficients, their standard errors, residual degrees of freedom."""
    n, p = x.shape
    if n <= p or np.linalg.matrix_rank(x) < p:
        raise FitImpossible(
            what, n,
            "the samples cannot separate the model's terms: measure the floor samples, at least two output lengths"
            " (e.g. --outputs 1,16) and at least 2 repeats per shape",
        )
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ beta
    dof = n - p
    # HC3 (MacKinnon & White 1985): longer requests vary more than short ones, so the
    # residual variance is not one figure; HC3 stays close to nominal in small samples.
    bread = np.linalg.inv(x.T @ x)
    leverage = np.einsum("ij,jk,ik->i", x, bread, x)
    scaled = residual / np.maximum(1.0 - leverage, 1e-12)
    meat = (x * (scaled**2)[:, None]).T @ x
    covariance = bread @ meat @ bread
    return beta, np.sqrt(np.maximum(np.diag(covariance), 0.0)), dof


def _coefficient(beta: np.ndarray, se: np.ndarray, dof: int, j: int, n: int) -> Interval:
    half = float(stats.t.ppf(0.975, dof) * se[j])
    value = float(beta[j])
    return Interval(value, (value - half, value + half), n)


def _fit_whole(records: list[SampleRecord], floor: list[SampleRecord]) -> tuple[tuple[BucketRate, ...], Interval, Interval]:
    """OLS ``e2e = L_fixed + T_b [bucket b] + O d`` over floor and bucket samples."""
    if len(floor) < 2:
        raise FitImpossible(
            "floor", len(floor),
            "without server timings a non-streamed fit needs the floor samples (1-token prompt, 1 output token):"
            " keep them on, with at least 2 repeats",
        )
    buckets = sorted({r.bucket for r in records})
    rows = floor + records
    x = np.zeros((len(rows), 2 + len(buckets)))
    x[:, 0] = 1.0
    for i, r in enumerate(rows):
        if r.bucket != FLOOR_BUCKET:
            x[i, 1 + buckets.index(r.bucket)] = 1.0
        x[i, -1] = r.measurement.output_count  # type: ignore[union-attr]
    y = np.array([r.measurement.service_s for r in rows])  # type: ignore[union-attr]
    beta, se, dof = _ols(x, y, "samples (non-streamed)")
    n = len(rows)
    l_fixed = _coefficient(beta, se, dof, 0, n)
    if l_fixed.value <= 0:
        raise FitImpossible("fit.l_fixed_s", l_fixed.value, "the whole-answer times leave no fixed overhead; check the client clock")
    r_decode = _rate_from_time(_coefficient(beta, se, dof, x.shape[1] - 1, n), "R_decode")
    rates = []
    for j, bucket in enumerate(buckets, start=1):
        group = [r for r in records if r.bucket == bucket]
        p = float(np.mean([r.measurement.prompt_tokens or r.prompt_tokens for r in group]))  # type: ignore[union-attr]
        t = _coefficient(beta, se, dof, j, len(group))
        rates.append(BucketRate(int(bucket), _rate_from_time(t, f"R_prefill @ {bucket}", tokens=p)))
    return tuple(rates), r_decode, l_fixed


def fit_streaming_overhead(records: Iterable[SampleRecord], occupancy: int | None = None) -> StreamingOverhead:
    """What streaming adds, from samples of both modes: OLS ``e2e = T_shape... + [streamed] (a + O b)``.

    One indicator per bucket (the floor included) absorbs prefill and fixed
    overhead, a common ``O`` column the decode time; ``b`` is the streaming
    overhead per output token and ``a`` per request, each with its Student-t
    95% interval from the OLS covariance. Uncached, ``ok`` samples only.
    """
    rows = [
        r for r in records
        if r.status == "ok" and r.measurement is not None and not (r.measurement.cached_tokens or 0)
        and (occupancy is None or r.in_flight == occupancy)
    ]
    if not any(r.mode == "streamed" for r in rows) or not any(r.mode == "non-streamed" for r in rows):
        raise FitImpossible("mode", "one mode only", "the streaming overhead needs samples of both modes: --mode both")
    buckets = sorted({r.bucket for r in rows})
    x = np.zeros((len(rows), len(buckets) + 3))
    for i, r in enumerate(rows):
        o = r.measurement.output_count  # type: ignore[union-attr]
        streamed = 1.0 if r.mode == "streamed" else 0.0
        x[i, buckets.index(r.bucket)] = 1.0
        x[i, -3] = o
        x[i, -2] = streamed
        x[i, -1] = streamed * o
    y = np.array([r.measurement.service_s for r in rows])  # type: ignore[union-attr]
    beta, se, dof = _ols(x, y, "samples (both modes)")
    n = len(rows)
    return StreamingOverhead(per_token_s=_coefficient(beta, se, dof, x.shape[1] - 1, n), per_request_s=_coefficient(beta, se, dof, x.shape[1] - 2, n))


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
            raise FitImpossible(f"bucket {bucket}", len(times), "need at least 2 uncached samples per bucket; raise --repeats")
        rates.append(BucketRate(bucket, rate_interval(times, f"R_prefill @ {bucket}")))
    l_fixed = mean_interval(residual)
    if l_fixed.value <= 0:
        raise FitImpossible(
            "fit.l_fixed_s", l_fixed.value,
            "end-to-end times are not longer than the server's own timings; check the client clock and that the server's timings are in seconds",
        )
    return tuple(rates), l_fixed
