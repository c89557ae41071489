"""Traffic per shape bucket: shares of lambda_peak, output lengths per bucket.

A request with a prompt of P tokens is served by the smallest bucket with
``max_prompt_tokens >= P`` (it is padded to that edge). The share above the
largest edge cannot be served by any artifact and is reported as unserved.

With distributions, prompt and output lengths are taken as independent (the
project file gives no joint law); with a trace, each bucket's output figures
come from the rows whose prompt falls in it, so any correlation is kept.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.inputs import MAX_TOKENS, Bucket, Workload
from dimensioning.tokens import token_cdf, token_limited_mean, token_partial_mean

__all__ = ["BucketTraffic", "TrafficSplit", "Trace", "read_trace", "read_trace_text", "split_traffic", "bucket_shares"]


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


_TRACE_COLUMNS = "prompt_tokens,output_tokens[,timestamp]"

_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)


def read_trace_text(path: Path, field: str = "workload.trace") -> str:
    """The text of a trace CSV: UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one).

    Anything else is refused naming the file and where it goes wrong: a
    missing file as missing, a UTF-16/32 file (Excel's "Unicode Text") by its
    byte-order mark, and any other encoding (latin-1, cp1252) by the byte
    offset and line of the first byte that is not UTF-8.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(field, str(path), "no such trace file; give the path of a CSV with columns"
                           f" {_TRACE_COLUMNS} (a relative path is relative to the project file)") from None
    except IsADirectoryError:
        raise InvalidInput(field, str(path), f"is a folder; give the trace CSV file ({_TRACE_COLUMNS})") from None
    except OSError as exc:
        raise InvalidInput(field, str(path), f"cannot read the trace file ({exc.strerror or exc}); check its permissions") from None
    for bom, name in _UTF16_32_BOMS:
        if data.startswith(bom):
            raise InvalidInput(field, str(path), f"the trace file is {name} (Excel's \"Unicode Text\"); save it as"
                               " \"CSV UTF-8\" (or convert it: iconv -t UTF-8)")
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise InvalidInput(
            field, str(path),
            f"the trace file is not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} (line {line}) is not"
            " valid UTF-8 (latin-1 or cp1252?); save it as \"CSV UTF-8\" or convert it: iconv -f latin1 -t UTF-8",
        ) from None


def read_trace(path: Path, field: str = "workload.trace") -> Trace:
    """Read ``prompt_tokens,output_tokens[,timestamp]`` rows; errors name the file, the row and the fix.

    Token counts must be finite, ``prompt_tokens`` in (0, MAX_TOKENS] and
    ``output_tokens`` in [0, MAX_TOKENS] (the project file's limits); column
    names may carry spaces around them.
    """
    reader = csv.DictReader(io.StringIO(read_trace_text(path, field), newline=""))
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = columns
        for needed in ("prompt_tokens", "output_tokens"):
            if needed not in columns:
                raise InvalidInput(field, str(path), f"has no column {needed!r} (columns: {columns}); add it")
        has_time = "timestamp" in columns
        prompts, outputs, times = [], [], []
        for row in reader:
            line = reader.line_num
            try:
                p = float(row["prompt_tokens"])
                o = float(row["output_tokens"])
                t = float(row["timestamp"]) if has_time else 0.0
            except (TypeError, ValueError):
                raise InvalidInput(f"{field} line {line}", dict(row), "prompt_tokens, output_tokens and timestamp must be numbers") from None
            if not (np.isfinite(p) and np.isfinite(o) and np.isfinite(t)):
                raise InvalidInput(f"{field} line {line}", dict(row), "every figure must be a finite number (not inf or nan)")
            if not (0 < p <= MAX_TOKENS and 0 <= o <= MAX_TOKENS):
                raise InvalidInput(f"{field} line {line}", dict(row),
                                   f"need prompt_tokens > 0 and output_tokens >= 0, each at most {MAX_TOKENS:,} tokens")
            prompts.append(p)
            outputs.append(o)
            times.append(t)
    except csv.Error as exc:
        raise InvalidInput(f"{field} line {reader.line_num}", str(path), f"is not a readable CSV ({exc}); save it as CSV UTF-8") from None
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

