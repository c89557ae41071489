"""Signals as monitoring sees them, from events: per interval and per phase.

One function measures a game day, simulated (:mod:`facility.gameday.transient`)
or observed (:mod:`facility.gameday.verify`, from per-request records): latency
when a request completes, TTFT when its first token is sent, counts when
they happen, queue depth as a time average. Times are seconds relative to
the failure at t0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facility.gameday.model import PHASES, SIGNALS

__all__ = ["PHASE_FIGURES", "Events", "measure"]

PHASE_FIGURES: dict[str, str] = {
    "e2el_p99_s": "p99 end-to-end latency of the requests completed in the phase (s)",
    "ttft_p99_s": "p99 TTFT of the first tokens sent in the phase (s)",
    "queue_depth_mean": "time-average waiting requests",
    "queue_depth_max": "largest interval average of waiting requests",
    "shed_rate": "shed / arrived",
    "error_rate": "lost / arrived",
    "errors": "requests lost (count)",
    "goodput_rps": "completed within the SLO in force per second",
    "peak_e2el_p99_s": "largest interval p99 end-to-end latency (s)",
}
"""Figures computed per phase and seed (the verdicts use these)."""


@dataclass(frozen=True)
class Events:
    """One pool's requests: arrivals; completions (time, e2el); first tokens (time, TTFT); sheds; errors.

    ``queue_in``/``queue_out``: when each queued request entered and left its
    queue (None: the queue was not observed, as from a client's records).
    """

    arrival: np.ndarray
    end: np.ndarray
    e2el: np.ndarray
    first_token: np.ndarray
    ttft: np.ndarray
    shed: np.ndarray
    lost: np.ndarray
    queue_in: np.ndarray | None = None
    queue_out: np.ndarray | None = None


def _p99(values: np.ndarray) -> float:
    if values.size == 0:
        return float("nan")
    return float(np.quantile(values, 0.99, method="inverted_cdf"))


def _binned_p99(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    which = np.searchsorted(edges, times, side="right") - 1
    keep = (which >= 0) & (which < edges.size - 1)
    which, values = which[keep], values[keep]
    order = np.argsort(which, kind="stable")
    which, values = which[order], values[order]
    bounds = np.searchsorted(which, np.arange(edges.size))
    return np.array([_p99(values[bounds[k]:bounds[k + 1]]) for k in range(edges.size - 1)])


def _count(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.histogram(times, bins=edges)[0].astype(float)


def _queue_average(entered: np.ndarray, left: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time average of #{i: entered_i <= t < left_i} over each interval (exact, piecewise constant)."""
    times = np.concatenate((entered, left))
    steps = np.concatenate((np.ones(entered.size), -np.ones(left.size)))
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(steps[order])
    if times.size == 0:
        return np.zeros(edges.size - 1)
    area = np.concatenate(([0.0], np.cumsum(level[:-1] * np.diff(times))))
    k = np.searchsorted(times, edges, side="right") - 1
    inside = k >= 0
    total = np.zeros(edges.size)
    total[inside] = area[k[inside]] + level[k[inside]] * (edges[inside] - times[k[inside]])
    return np.diff(total) / np.diff(edges)


def measure(events: Events, edges: np.ndarray, bounds: dict[str, tuple[float, float]], slo_s: float,
            degraded_slo_s: float, degraded_until_s: float) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Per-interval signals (:data:`~facility.gameday.model.SIGNALS`) and per-phase figures (:data:`PHASE_FIGURES`).

    The SLO in force for goodput is ``degraded_slo_s`` for completions in
    ``[0, degraded_until_s)``, else ``slo_s``.
    """
    widths = np.diff(edges)
    e = events
    failed_window = (e.end >= 0) & (e.end < degraded_until_s)
    slo = np.where(failed_window, degraded_slo_s, slo_s)
    good_t = e.end[e.e2el <= slo]
    n_arr = _count(e.arrival, edges)
    has_queue = e.queue_in is not None and e.queue_out is not None
    series = {
        "e2el_p99_s": _binned_p99(e.end, e.e2el, edges),
        "ttft_p99_s": _binned_p99(e.first_token, e.ttft, edges),
        "queue_depth": _queue_average(e.queue_in, e.queue_out, edges) if has_queue else np.full(edges.size - 1, np.nan),
        "shed_rate": np.divide(_count(e.shed, edges), n_arr, out=np.zeros_like(n_arr), where=n_arr > 0),
        "error_rate": np.divide(_count(e.lost, edges), n_arr, out=np.zeros_like(n_arr), where=n_arr > 0),
        "goodput_rps": _count(good_t, edges) / widths,
        "arrival_rps": n_arr / widths,
    }
    assert set(series) == set(SIGNALS)
    phases: dict[str, dict[str, float]] = {}
    for name in PHASES:
        a, b = bounds[name]
        if b <= a:
            phases[name] = {k: float("nan") for k in PHASE_FIGURES}
            continue
        in_done = (e.end >= a) & (e.end < b)
        in_first = (e.first_token >= a) & (e.first_token < b)
        n_in = float(np.count_nonzero((e.arrival >= a) & (e.arrival < b)))
        sheds = float(np.count_nonzero((e.shed >= a) & (e.shed < b)))
        errors = float(np.count_nonzero((e.lost >= a) & (e.lost < b)))
        inside = (edges[:-1] >= a - 1e-9) & (edges[1:] <= b + 1e-9)
        peak = series["e2el_p99_s"][inside]
        qd = series["queue_depth"][inside]
        phases[name] = {
            "e2el_p99_s": _p99(e.e2el[in_done]),
            "ttft_p99_s": _p99(e.ttft[in_first]),
            "queue_depth_mean": float(_queue_average(e.queue_in, e.queue_out, np.array([a, b]))[0]) if has_queue else float("nan"),
            "queue_depth_max": float(np.max(qd)) if qd.size and has_queue else float("nan"),
            "shed_rate": sheds / n_in if n_in else 0.0,
            "error_rate": errors / n_in if n_in else 0.0,
            "errors": errors,
            "goodput_rps": float(np.count_nonzero((good_t >= a) & (good_t < b))) / (b - a),
            "peak_e2el_p99_s": float(np.nanmax(peak)) if np.isfinite(peak).any() else float("nan"),
        }
    return series, phases
