"""Time series per interval: the queue building and draining.

Columns (one row per interval ``[t_start_s, t_start_s + interval_s)``):
arrivals, completions, sheds, losses (counts by the time they happened);
``queue_depth`` and ``busy_slots`` (time averages over the interval);
``latency_p50_s`` and ``latency_p99_s`` of the requests completed in the
interval (NaN-free: empty intervals write an empty cell in the CSV and
``None`` in JSON).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.simulate.records import Records
from dimensioning.keys import output_key
from dimensioning.simulate.statistics import quantile

__all__ = ["TimeSeries", "time_series", "COLUMNS"]

COLUMNS = (
    "t_start_s",
    "arrivals",
    "completions",
    "sheds",
    "losses",
    "queue_depth",
    "busy_slots",
    "latency_p50_s",
    "latency_p99_s",
)


@dataclass(frozen=True)
class TimeSeries:
    """One array per column of :data:`COLUMNS`, all of one length."""

    interval_s: float
    t_start_s: np.ndarray
    arrivals: np.ndarray
    completions: np.ndarray
    sheds: np.ndarray
    losses: np.ndarray
    queue_depth: np.ndarray
    busy_slots: np.ndarray
    latency_p50_s: np.ndarray
    latency_p99_s: np.ndarray

    def to_csv(self) -> str:
        """CSV text with a header row in the output vocabulary (:mod:`dimensioning.keys`: latencies
        ``e2el_p50_ms``, ``e2el_p99_ms``; interval starts ``t_start_s``); times to 1 ns, averages to 6
        significant digits."""
        out = io.StringIO()
        columns = [(name, *output_key(name)) for name in COLUMNS]
        out.write(",".join(key for _, key, _ in columns) + "\n")
        for i in range(self.t_start_s.size):
            cells = []
            for name, _, factor in columns:
                value = getattr(self, name)[i]
                if isinstance(value, (np.integer, int)):
                    cells.append(str(int(value)))
                elif np.isnan(value):
                    cells.append("")
                elif name == "t_start_s":
                    cells.append(f"{value:.9f}".rstrip("0").rstrip("."))
                else:
                    cells.append(f"{value * factor:.6g}")
            out.write(",".join(cells) + "\n")
        return out.getvalue()


def _level_average(up: np.ndarray, down: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time average over each ``[edges[k], edges[k+1])`` of #{i: up_i <= t < down_i}."""
    times = np.concatenate((up, down))
    steps = np.concatenate((np.ones(up.size), -np.ones(down.size)))
    order = np.argsort(times, kind="stable")
    times = times[order]
    level = np.cumsum(steps[order])
    # integral[k] = area under the level from times[0] to times[k]
    area = np.concatenate(([0.0], np.cumsum(level[:-1] * np.diff(times)))) if times.size else np.zeros(0)

    def integral(x: np.ndarray) -> np.ndarray:
        if times.size == 0:
            return np.zeros_like(x)
        k = np.searchsorted(times, x, side="right") - 1
        inside = k >= 0
        out = np.zeros_like(x)
        out[inside] = area[k[inside]] + level[k[inside]] * (x[inside] - times[k[inside]])
        return out

    totals = integral(edges)
    return np.diff(totals) / np.diff(edges)


def _count(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.histogram(times, bins=edges)[0].astype(np.int64)


def time_series(records: Records, interval_s: float, until_s: float | None = None) -> TimeSeries:
    """Bin ``records`` into intervals of ``interval_s`` seconds from 0 to ``until_s``.

    ``until_s`` defaults to the last event (completion, loss or shed).
    """
    if not (interval_s > 0 and np.isfinite(interval_s)):
        raise InvalidInput("interval", interval_s, "give a positive interval in seconds")
    finite_end = records.end[np.isfinite(records.end)]
    last = float(finite_end.max()) if finite_end.size else float(records.arrival[-1])
    until = last if until_s is None else until_s
    bins = max(1, int(np.ceil(until / interval_s)))
    if bins > 1_000_000:
        raise InvalidInput("interval", interval_s, f"gives {bins} intervals; choose a longer interval")
    edges = interval_s * np.arange(bins + 1, dtype=float)
    # Include an event at exactly the last edge in the last interval.
    edges_count = edges.copy()
    edges_count[-1] = np.nextafter(edges[-1], np.inf)
    completed = records.completed
    queued = np.isfinite(records.left_queue) & (records.left_queue > records.entered)
    served = np.isfinite(records.start)
    serve_end = np.where(np.isfinite(records.end), records.end, until)
    latency = records.end - records.arrival
    done_end = records.end[completed]
    done_latency = latency[completed]
    which = np.clip(np.floor(done_end / interval_s).astype(np.int64), 0, bins - 1)
    order = np.argsort(which, kind="stable")
    which = which[order]
    done_latency = done_latency[order]
    bounds = np.searchsorted(which, np.arange(bins + 1))
    p50 = np.full(bins, np.nan)
    p99 = np.full(bins, np.nan)
    for k in range(bins):
        chunk = done_latency[bounds[k] : bounds[k + 1]]
        if chunk.size:
            p50[k], p99[k] = quantile(chunk, [0.5, 0.99])
    return TimeSeries(
        interval_s=interval_s,
        t_start_s=edges[:-1],
        arrivals=_count(records.arrival, edges_count),
        completions=_count(done_end, edges_count),
        sheds=_count(records.end[records.shed], edges_count),
        losses=_count(records.end[records.lost], edges_count),
        queue_depth=_level_average(records.entered[queued], records.left_queue[queued], edges),
        busy_slots=_level_average(records.start[served], serve_end[served], edges),
        latency_p50_s=p50,
        latency_p99_s=p99,
    )
