"""Latency distributions of every dedicated pool, for the report's CDF plots.

Each pool's latency is its queueing delay plus the bucket bound's service time
``S`` (e2el) or its time-to-first-token part (TTFT = W + L_fixed + prefill +
one decode step), with ``replicas x slots`` servers, as the sizing reports its
percentiles (:func:`dimensioning.sizing.pool_state`). The curve is:

- **exact** where the model is: Poisson arrivals, M/D/c waiting time by
  :class:`dimensioning.queueing.MDc` (Crommelin's chain; its ``sojourn``
  distribution's ``cdf``), evaluated on a grid;
- **simulated** otherwise (bursty arrivals, or an M/D/c the exact kernel
  hands to its heavy-traffic approximation): the empirical CDF of a seeded
  run of the discrete-event simulator with the same pool (after its 2%
  warm-up), so the same plan gives the same curve.

Library, not renderer: :mod:`lpuplan.render_html` only draws these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.keys import E2EL, MS_PER_S, TTFT
from lpuplan.plan import Plan

__all__ = ["LatencyCurve", "latency_curves", "CDF_POINTS", "CDF_REQUESTS"]

CDF_POINTS = 240
"""Grid points per curve."""

CDF_REQUESTS = 200_000
"""Requests of a simulated curve (the empirical CDF's Kolmogorov-Smirnov 95% band is +-0.003)."""

_SEED = 20261201


@dataclass(frozen=True)
class LatencyCurve:
    """P(latency <= t) of one pool, one metric, one state; times in ms."""

    pool: str
    metric: str  # "e2el" or "ttft"
    state: str  # "normal" or "degraded" (the provisioned loss)
    times_ms: tuple[float, ...]
    cdf: tuple[float, ...]
    method: str  # "exact" or "simulated"
    note: str
    slo_ms: float | None
    p99_ms: float


def _grid(low_s: float, high_s: float, points: int) -> np.ndarray:
    """``points`` times from ``low_s`` to ``high_s`` (seconds), with ``low_s`` repeated once for the atom."""
    high_s = max(high_s, low_s * (1 + 1e-6) + 1e-9)
    return np.linspace(low_s, high_s, points)


def _exact(rate: float, service_s: float, servers: int, shift_s: float, upper_s: float, points: int):
    """Exact sojourn CDF of M/D/c (``shift_s`` replaces S for TTFT), or None where it is not exact."""
    from dimensioning.queueing import MDc

    model = MDc(arrival_rate=rate, service_time=service_s, servers=servers)
    if model.method != "exact" or not model.stable:
        return None
    wait = model.wait
    top = float(wait.ppf(0.9999)) + shift_s
    times = _grid(shift_s, max(top, upper_s) * 1.05, points)
    probs = np.asarray(wait.cdf(times - shift_s), dtype=float)
    # the atom at t = shift: 0 just below it, P(W = 0) at it
    times = np.concatenate(([shift_s], times))
    probs = np.concatenate(([0.0], probs))
    p99 = float(wait.ppf(0.99)) + shift_s
    return times, probs, p99, "exact", model.method_note


def _simulated(rate: float, scv: float, service_s: float, replicas: int, slots: int, shifts: dict[str, float],
               upper_s: dict[str, float], points: int, requests: int, seed: int):
    """Empirical CDFs (one per metric: the wait shifted by that metric's service part) of one seeded run."""
    from dimensioning.simulate.arrivals import GammaRenewal, Poisson
    from dimensioning.simulate.run import simulate
    from dimensioning.simulate.scenario import Pool
    from dimensioning.simulate.service import DeterministicService

    process = Poisson(rate) if scv == 1.0 else GammaRenewal(rate, scv)
    result = simulate(Pool(replicas=replicas, slots=slots), process, DeterministicService(service_s),
                      seed=seed, requests=requests)
    records = result.records
    start = int(len(records) * result.warmup_fraction)
    done = records.completed[start:]
    waits = np.sort((records.start[start:] - records.arrival[start:])[done])
    note = (f"simulated: {waits.size:,} completed requests after a {result.warmup_fraction:.0%} warm-up, seed {seed};"
            f" arrival SCV {scv:g}")
    out = {}
    for metric, shift in shifts.items():
        latency = waits + shift
        top = float(np.quantile(latency, 0.9999)) if latency.size else shift
        times = _grid(shift, max(top, upper_s[metric]) * 1.05, points)
        probs = np.searchsorted(latency, times, side="right") / max(latency.size, 1)
        times = np.concatenate(([shift], times))
        probs = np.concatenate(([0.0], probs))
        p99 = float(np.quantile(latency, 0.99)) if latency.size else math.inf
        out[metric] = (times, probs, p99, "simulated", note)
    return out


def latency_curves(plan: Plan, *, points: int = CDF_POINTS, requests: int = CDF_REQUESTS,
                   seed: int = _SEED) -> tuple[LatencyCurve, ...]:
    """e2el CDF of every dedicated pool with traffic (normal and degraded), and TTFT where a TTFT SLO is given."""
    curves: list[LatencyCurve] = []
    for index, b in enumerate(plan.dedicated):
        if not b.feasible or b.traffic.arrival_rate == 0 or b.pool is None:
            continue
        spec = b.pool
        cls = spec.classes[0]
        scv = spec.arrival_scv
        for state, pool_state, degraded in (("normal", b.normal, False), ("degraded", b.degraded, True)):
            if pool_state.servers == 0 or not pool_state.stable:
                continue
            shifts = {E2EL: b.service.total_s}
            slos = {E2EL: cls.e2el_slo(degraded)}
            ttft_slo = cls.ttft_slo(degraded)
            if ttft_slo is not None:
                shifts[TTFT] = b.service.first_token_s
                slos[TTFT] = ttft_slo
            upper = {m: (slo if slo is not None and math.isfinite(slo) else shifts[m]) for m, slo in slos.items()}
            rate = pool_state.arrival_rate
            found = {}
            try:
                if scv == 1.0:
                    for metric, shift in shifts.items():
                        exact = _exact(rate, b.service.total_s, pool_state.servers, shift, upper[metric], points)
                        if exact is not None:
                            found[metric] = exact
                if len(found) < len(shifts):
                    found = _simulated(rate, scv, b.service.total_s, pool_state.replicas, b.slots, shifts, upper,
                                       points, requests, seed + 2 * index + int(degraded))
            except InvalidInput:
                continue  # a pool beyond the models' and simulator's size: no curve (the sizing says why)
            for metric, (times, probs, p99, method, note) in found.items():
                slo = slos[metric]
                curves.append(LatencyCurve(
                    pool=b.name, metric=metric, state=state,
                    times_ms=tuple(float(t) * MS_PER_S for t in times), cdf=tuple(float(p) for p in probs),
                    method=method, note=note,
                    slo_ms=None if slo is None or not math.isfinite(slo) else slo * MS_PER_S,
                    p99_ms=p99 * MS_PER_S))
    return tuple(curves)
