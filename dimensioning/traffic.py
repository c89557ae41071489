"""Traffic per shape bucket: shares of lambda_peak, output lengths per bucket.

A request with a prompt of P tokens is served by the smallest bucket with
``max_prompt_tokens >= P`` (it is padded to that edge). The share above the
largest edge cannot be served by any artifact and is reported as unserved.

With distributions, prompt and output lengths are taken as independent (the
project file gives no joint law); with a trace, each bucket's output figures
come from the rows whose prompt falls in it, so any correlation is kept.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket, Workload
from dimensioning.tokens import token_cdf, token_limited_mean, token_partial_mean

__all__ = ["BucketTraffic", "TrafficSplit", "Trace", "read_trace", "split_traffic", "bucket_shares"]


@dataclass(frozen=True)
class BucketTraffic:
    """One bucket's slice of the traffic.

    share: fraction of all requests (0..1); arrival_rate: requests/s at peak;
    prompt_mean: mean real prompt length in the bucket (tokens, before padding);
    output_mean: ``E[min(O, max_output_tokens)]`` (tokens);
    output_capped_share: ``P(O > max_output_tokens)``, requests cut at the cap.
    """

    name: str
    max_prompt_tokens: int
    share: float
    arrival_rate: float
    prompt_mean: float
    output_mean: float
    output_capped_share: float


@dataclass(frozen=True)
class TrafficSplit:
    buckets: tuple[BucketTraffic, ...]
    share_unserved: float
    lambda_unserved: float
    lambda_peak: float
    source: str  # "distribution" or "trace"


@dataclass(frozen=True)
class Trace:
    """Request shapes read from a trace CSV (token counts; timestamps in s or None)."""

    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    timestamps: np.ndarray | None


def read_trace(path: Path, field: str = "workload.trace") -> Trace:
    """Read ``prompt_tokens,output_tokens[,timestamp]`` rows; errors name the row."""
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(field, str(path), f"cannot open it ({exc.strerror}); give a CSV with columns prompt_tokens,output_tokens[,timestamp]") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for needed in ("prompt_tokens", "output_tokens"):
            if needed not in columns:
                raise InvalidInput(field, str(path), f"has no column {needed!r} (columns: {columns}); add it")
        has_time = "timestamp" in columns
        prompts, outputs, times = [], [], []
        for line, row in enumerate(reader, start=2):
            try:
                p = float(row["prompt_tokens"])
                o = float(row["output_tokens"])
                t = float(row["timestamp"]) if has_time else 0.0
            except (TypeError, ValueError):
                raise InvalidInput(f"{field} line {line}", dict(row), "prompt_tokens, output_tokens and timestamp must be numbers") from None
            if not (p > 0 and o >= 0 and np.isfinite(p) and np.isfinite(o) and np.isfinite(t)):
                raise InvalidInput(f"{field} line {line}", dict(row), "need prompt_tokens > 0 and output_tokens >= 0")
            prompts.append(p)
            outputs.append(o)
            times.append(t)
    if not prompts:
        raise InvalidInput(field, str(path), "has no rows; give at least one request")
    stamps = np.asarray(times) if has_time else None
    if stamps is not None and np.any(np.diff(stamps) < 0):
        raise InvalidInput(field, str(path), "timestamps must not decrease; sort the trace by timestamp")
    return Trace(np.asarray(prompts), np.asarray(outputs), stamps)


def _from_distributions(workload: Workload, buckets: Sequence[Bucket]) -> TrafficSplit:
    assert workload.prompt_tokens is not None and workload.output_tokens is not None
    prompt, output = workload.prompt_tokens, workload.output_tokens
    rows = []
    lo = 0.0
    for bucket in buckets:
        hi = float(bucket.max_prompt_tokens)
        share = max(token_cdf(prompt, hi) - token_cdf(prompt, lo), 0.0)
        partial = token_partial_mean(prompt, lo, hi)
        cap = float(bucket.max_output_tokens)
        rows.append(
            BucketTraffic(
                name=bucket.label,
                max_prompt_tokens=bucket.max_prompt_tokens,
                share=share,
                arrival_rate=workload.lambda_peak * share,
                prompt_mean=partial / share if share > 0 else 0.0,
                output_mean=token_limited_mean(output, cap),
                output_capped_share=1.0 - token_cdf(output, cap),
            )
        )
        lo = hi
    unserved = max(1.0 - token_cdf(prompt, lo), 0.0)
    return TrafficSplit(tuple(rows), unserved, workload.lambda_peak * unserved, workload.lambda_peak, "distribution")


def _from_trace(workload: Workload, buckets: Sequence[Bucket]) -> TrafficSplit:
    assert workload.trace is not None
    trace = read_trace(workload.trace)
    n = trace.prompt_tokens.size
    rows = []
    lo = 0.0
    for bucket in buckets:
        hi = float(bucket.max_prompt_tokens)
        mask = (trace.prompt_tokens > lo) & (trace.prompt_tokens <= hi)
        count = int(mask.sum())
        cap = float(bucket.max_output_tokens)
        outs = trace.output_tokens[mask]
        rows.append(
            BucketTraffic(
                name=bucket.label,
                max_prompt_tokens=bucket.max_prompt_tokens,
                share=count / n,
                arrival_rate=workload.lambda_peak * count / n,
                prompt_mean=float(trace.prompt_tokens[mask].mean()) if count else 0.0,
                output_mean=float(np.minimum(outs, cap).mean()) if count else 0.0,
                output_capped_share=float((outs > cap).mean()) if count else 0.0,
            )
        )
        lo = hi
    unserved = float((trace.prompt_tokens > lo).sum()) / n
    return TrafficSplit(tuple(rows), unserved, workload.lambda_peak * unserved, workload.lambda_peak, "trace")


def split_traffic(workload: Workload, buckets: Sequence[Bucket]) -> TrafficSplit:
    """Split ``lambda_peak`` over the buckets (sorted by ``max_prompt_tokens``)."""
    if workload.trace is not None:
        return _from_trace(workload, buckets)
    return _from_distributions(workload, buckets)


def bucket_shares(workload: Workload, buckets: Sequence[Bucket]) -> list[float]:
    """Fraction of all requests served by each bucket, in bucket order."""
    return [row.share for row in split_traffic(workload, buckets).buckets]

