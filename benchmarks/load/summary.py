"""A load run's summary in the vocabulary users know (vLLM / GuideLLM).

Per completed request (status 200, final event received), in ms of the
server's time (wall x ``time_scale``):

- ``ttft_ms``: first content event - send;
- ``tpot_ms``: ``(e2el - ttft) / (n - 1)`` with ``n`` the server's output
  count (requests of >= 2 tokens), as vLLM's benchmark defines it;
- ``itl_ms``: every gap between consecutive content events (a chunk that
  carries several tokens is one gap, as vLLM reports it);
- ``e2el_ms``: end of the response - send.

Each with ``mean``, ``p50``, ``p90``, ``p95``, ``p99``, ``p99_9``
(``numpy.percentile``, linear; key names from :mod:`dimensioning.keys`, as
every lpuplan output names them). Throughput over the run's span (first send
to last end): ``request_throughput`` (completed req/s), ``output_throughput``
and ``total_token_throughput`` (tokens/s). ``goodput``: completed requests
per second that meet EVERY objective given (e2el per shape, TTFT, TPOT).
Counts: sent, completed, shed (429), errors by kind. The generator's own
``send_lag_ms`` (sent - scheduled, WALL ms) p50/p99/max; ``fell_behind`` is
true when its p99 exceeds ``max_send_lag_ms``: such a run is not to be trusted.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from typing import Any

import numpy as np

from benchmarks.load.runner import LoadRun
from dimensioning.keys import PERCENTILES as KEY_PERCENTILES, percentile_key

__all__ = ["PERCENTILES", "summarize", "summary_csv", "distribution"]

PERCENTILES = tuple((percentile_key(q), q) for q in KEY_PERCENTILES)  # p50, p90, p95, p99, p99_9


def distribution(values_ms: list[float] | np.ndarray) -> dict[str, float | None]:
    """mean, p50, p90, p95, p99, p99_9 of ``values_ms`` (None when empty)."""
    data = np.asarray(values_ms, dtype=float)
    if data.size == 0:
        return {"mean": None, **{name: None for name, _ in PERCENTILES}, "count": 0}
    out: dict[str, float | None] = {"mean": float(data.mean())}
    for name, q in PERCENTILES:
        out[name] = float(np.percentile(data, q))
    out["count"] = int(data.size)
    return out


def _error_kind(status: int, error: str | None) -> str:
    """A failure's kind: the HTTP status when the server refused, else what went wrong
    (a 200 whose stream was cut or timed out is a ``stream_cut`` or a ``timeout``)."""
    if status == 429:
        return "shed_429"
    if status and status != 200:
        return f"http_{status}"
    if error is None:
        return "unknown"
    if error.startswith("timeout"):
        return "timeout"
    if error.startswith("stream ended"):
        return "stream_cut"
    return error.split(":", 1)[0]


def summarize(run: LoadRun, *, slo_e2el_ms: dict[str, float] | float | None = None, slo_ttft_ms: float | None = None,
              slo_tpot_ms: float | None = None, max_send_lag_ms: float = 2.0) -> dict[str, Any]:
    """The summary dictionary (see the module docstring)."""
    k = run.time_scale * 1e3  # wall s -> server ms
    records = run.records
    done = [r for r in records if r.ok]
    ttft, tpot, itl, e2el = [], [], [], []
    good = 0
    out_tokens = 0
    in_tokens = 0
    for r in done:
        assert r.end_s is not None
        first = r.first_token_s if r.first_token_s is not None else r.end_s
        t_ms = (first - r.sent_s) * k
        e_ms = (r.end_s - r.sent_s) * k
        n = r.output_count
        p_ms = (e_ms - t_ms) / (n - 1) if n >= 2 else None
        ttft.append(t_ms)
        e2el.append(e_ms)
        if p_ms is not None:
            tpot.append(p_ms)
        if len(r.token_s) >= 2:
            itl.extend((np.diff(r.token_s) * k).tolist())
        out_tokens += n
        in_tokens += r.prompt_tokens_reported if r.prompt_tokens_reported is not None else r.prompt_tokens
        limit = slo_e2el_ms.get(r.shape) if isinstance(slo_e2el_ms, dict) else slo_e2el_ms
        meets = (limit is None or e_ms <= limit) and (slo_ttft_ms is None or t_ms <= slo_ttft_ms) and \
                (slo_tpot_ms is None or p_ms is None or p_ms <= slo_tpot_ms)
        good += bool(meets)
    starts = [r.sent_s for r in records]
    ends = [r.end_s for r in records if r.end_s is not None]
    span_wall = (max(ends) - min(starts)) if ends and starts else 0.0
    span = span_wall * run.time_scale
    lag_ms = np.array([(r.sent_s - r.scheduled_s) * 1e3 for r in records], dtype=float)
    failures = Counter(_error_kind(r.status, r.error) for r in records if not r.ok)
    per_shape: dict[str, dict[str, Any]] = {}
    for name in sorted({r.shape for r in records}):
        mine = [r for r in done if r.shape == name]
        per_shape[name] = {
            "completed": len(mine),
            "e2el_ms": distribution([(r.end_s - r.sent_s) * k for r in mine]),  # type: ignore[operator]
        }
    lag = {"p50": float(np.percentile(lag_ms, 50)) if lag_ms.size else None,
           "p99": float(np.percentile(lag_ms, 99)) if lag_ms.size else None,
           "max": float(lag_ms.max()) if lag_ms.size else None}
    offered = (len(records) - 1) / ((records[-1].scheduled_s - records[0].scheduled_s) * run.time_scale) \
        if len(records) > 1 and records[-1].scheduled_s > records[0].scheduled_s else None
    return {
        "url": run.url,
        "arrivals": run.arrivals,
        "rate": run.rate,
        "offered_rate": offered,
        "seed": run.seed,
        "stream": run.stream,
        "time_scale": run.time_scale,
        "sent": len(records),
        "completed": len(done),
        "shed": failures.get("shed_429", 0),
        "errors": sum(v for key, v in failures.items() if key != "shed_429"),
        "failures": dict(sorted(failures.items())),
        "duration_s": span,
        "request_throughput": len(done) / span if span > 0 else None,
        "output_throughput": out_tokens / span if span > 0 else None,
        "total_token_throughput": (out_tokens + in_tokens) / span if span > 0 else None,
        "goodput": good / span if span > 0 else None,
        "goodput_requests": good,
        "slo": {"e2el_ms": slo_e2el_ms, "ttft_ms": slo_ttft_ms, "tpot_ms": slo_tpot_ms},
        "ttft_ms": distribution(ttft),
        "tpot_ms": distribution(tpot),
        "itl_ms": distribution(itl),
        "e2el_ms": distribution(e2el),
        "per_shape": per_shape,
        "send_lag_ms": lag,
        "max_send_lag_ms": max_send_lag_ms,
        "fell_behind": bool(lag["p99"] is not None and lag["p99"] > max_send_lag_ms),
    }


def summary_csv(summaries: list[dict[str, Any]]) -> str:
    """One row per run: rate, counts, throughputs, every metric's statistics, send lag."""
    stats = ["mean"] + [name for name, _ in PERCENTILES]
    columns = ["rate", "offered_rate", "arrivals", "sent", "completed", "shed", "errors", "duration_s",
               "request_throughput", "output_throughput", "total_token_throughput", "goodput"]
    metric_columns = [f"{m}_{s}" for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms") for s in stats]
    lag_columns = ["send_lag_ms_p50", "send_lag_ms_p99", "send_lag_ms_max", "fell_behind"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns + metric_columns + lag_columns)

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return "" if math.isnan(value) else repr(round(value, 6))
        return str(value)

    for s in summaries:
        row = [cell(s[c]) for c in columns]
        row += [cell(s[m][st]) for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms") for st in stats]
        row += [cell(s["send_lag_ms"]["p50"]), cell(s["send_lag_ms"]["p99"]), cell(s["send_lag_ms"]["max"]),
                cell(s["fell_behind"])]
        writer.writerow(row)
    return buffer.getvalue()
