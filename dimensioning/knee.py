"""Load sweeps: latency and shed against offered load, the knee, the max sustainable rate.

For a pool of fixed size (its replicas as planned), every figure is taken from
the same pool model the sizing uses, at each offered rate:

- e2el p50/p99: queueing delay + ``S_bucket`` (M/D/c exact for Poisson
  arrivals; the sizing's bursty model otherwise, with its method label);
- TTFT p50/p99: queueing delay + ``L_fixed`` + prefill + the first token;
- shed: the probability of finding the SLO-safe queue full (M/D/c/K).

The **knee** is the offered rate at which the p99 queueing delay equals one
(mean) service time (for one bucket: p99 latency twice its zero-load value): past it the latency of
a deterministic-service queue climbs steeply. The **max sustainable rate** is
the largest offered rate at which the pool still meets every target the
sizing checks (utilisation, p99 SLOs, shed) with the replicas it has. Both are
found by bisection on a predicate that is monotone in the rate (waits,
utilisation and blocking of M/D/c and M/D/c/K grow with the arrival rate), to
a relative precision of 1e-6. Headroom is ``max_sustainable / operating - 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from dimensioning.pool import PoolSpec

__all__ = ["LoadPoint", "PoolSweep", "bisect_rate", "sweep_rates", "sweep_pool", "fleet_max_scale", "sweep_spec", "max_sustainable_rate"]

_REL_TOL = 1e-6


@dataclass(frozen=True)
class LoadPoint:
    """One pool at one offered rate (seconds; requests/s)."""

    offered_rps: float
    utilisation: float
    wait_p99_s: float
    e2el_p50_s: float
    e2el_p99_s: float
    ttft_p50_s: float
    ttft_p99_s: float
    shed_probability: float
    passes: bool
    method: str


@dataclass(frozen=True)
class PoolSweep:
    """A pool's knee: the sweep, the operating point and what it can carry."""

    pool: str
    replicas: int
    servers: int
    service_s: float
    operating_rps: float
    saturation_rps: float
    knee_rps: float
    max_sustainable_rps: float
    headroom: float
    binding: str
    points: tuple[LoadPoint, ...]
    method: str

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def bisect_rate(ok: Callable[[float], bool], hi: float, rel_tol: float = _REL_TOL) -> float:
    """Largest rate in (0, hi) with ``ok(rate)``, for ``ok`` true at small rates and monotone.

    Returns 0.0 when even a vanishing rate fails.
    """
    lo = hi * 1e-9
    if not ok(lo):
        return 0.0
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def sweep_rates(saturation_rps: float, operating_rps: float, points: int = 41) -> list[float]:
    """Offered rates from light load (5% of saturation) to 20% past it, with the operating point."""
    grid = np.linspace(0.05, 1.2, points) * saturation_rps
    rates = sorted(set(float(x) for x in grid) | {float(operating_rps)})
    return [r for r in rates if r > 0]


def sweep_pool(
    pool: str,
    replicas: int,
    servers: int,
    service_s: float,
    operating_rps: float,
    at_rate: Callable[[float], LoadPoint],
    failing_constraint: Callable[[float], str],
    points: int = 41,
) -> PoolSweep:
    """Sweep one pool with ``at_rate`` (the pool model at an offered rate).

    ``failing_constraint(rate)`` names the first target the pool misses at
    ``rate`` (reported as the binding one just past the max sustainable rate).
    """
    saturation = servers / service_s if servers > 0 else 0.0
    if saturation == 0:
        empty = LoadPoint(operating_rps, math.inf, math.inf, math.inf, math.inf, math.inf, math.inf, 1.0, False, "exact")
        return PoolSweep(pool, replicas, servers, service_s, operating_rps, 0.0, 0.0, 0.0, -1.0,
                         "no replica", (empty,), "exact")
    pts = tuple(at_rate(r) for r in sweep_rates(saturation, operating_rps, points))
    knee = bisect_rate(lambda r: at_rate(r).wait_p99_s <= service_s, saturation)
    best = bisect_rate(lambda r: at_rate(r).passes, saturation)
    binding = failing_constraint(min(best * (1 + 10 * _REL_TOL), saturation * (1 - 1e-12))) if best > 0 else failing_constraint(saturation * 1e-9)
    headroom = best / operating_rps - 1.0 if operating_rps > 0 else math.inf
    methods = sorted({p.method for p in pts})
    return PoolSweep(pool, replicas, servers, service_s, operating_rps, saturation, knee, best, headroom, binding,
                     pts, " + ".join(methods))


def fleet_max_scale(sweeps: Sequence[PoolSweep]) -> tuple[float, str]:
    """How far every pool's offered rate can be scaled together, and the pool that limits it."""
    limits = [(s.max_sustainable_rps / s.operating_rps, s.pool) for s in sweeps if s.operating_rps > 0]
    if not limits:
        return math.inf, ""
    return min(limits)


def sweep_spec(spec: "PoolSpec", replicas: int, *, degraded: bool = False, points: int = 41) -> PoolSweep:
    """Sweep a pool spec (``dimensioning.pool``) with ``replicas`` operational, at every offered rate.

    The verdict at each rate is :func:`dimensioning.pool.evaluate_pool`'s, so
    the max sustainable rate is the largest rate the sizing itself would pass.
    For a shared pool the e2el and TTFT figures are those of its slowest class.
    """
    from dataclasses import replace

    from dimensioning.pool import QUANTILE, evaluate_pool, wait_quantile

    servers = replicas * spec.slots
    slowest = max(spec.classes, key=lambda c: c.service.total_s)

    def at_rate(rate: float) -> LoadPoint:
        pool = replace(spec, arrival_rate=rate)
        verdict = evaluate_pool(pool, replicas, degraded=degraded)
        w50, _, _ = wait_quantile(rate, pool.service_times, pool.shares, servers, pool.arrival_scv, 0.5)
        w99 = verdict.wait_p99_s if not math.isnan(verdict.wait_p99_s) else wait_quantile(
            rate, pool.service_times, pool.shares, servers, pool.arrival_scv, QUANTILE)[0]
        shed = verdict.check("shed")
        util = verdict.check("utilisation")
        kinds = sorted({c.kind for c in verdict.checks})
        return LoadPoint(
            offered_rps=rate,
            utilisation=util.value if util is not None else rate * pool.mean_service_s / max(servers, 1),
            wait_p99_s=w99,
            e2el_p50_s=w50 + slowest.service.total_s,
            e2el_p99_s=w99 + slowest.service.total_s,
            ttft_p50_s=w50 + slowest.service.first_token_s,
            ttft_p99_s=w99 + slowest.service.first_token_s,
            shed_probability=shed.value if shed is not None else math.nan,
            passes=verdict.passed,
            method=" + ".join(kinds),
        )

    def failing(rate: float) -> str:
        verdict = evaluate_pool(replace(spec, arrival_rate=rate), replicas, degraded=degraded)
        return ", ".join(verdict.failed) or "none"

    return sweep_pool(spec.name, replicas, servers, spec.mean_service_s, spec.arrival_rate, at_rate, failing, points)


def max_sustainable_rate(spec: "PoolSpec", replicas: int, *, degraded: bool = False, rel_tol: float = _REL_TOL) -> float:
    """Largest offered rate (requests/s) at which ``replicas`` operational replicas pass every target.

    Bisection on :func:`dimensioning.pool.evaluate_pool`'s verdict to relative
    precision ``rel_tol`` (the rate returned always passes).
    """
    from dataclasses import replace

    from dimensioning.pool import evaluate_pool

    servers = replicas * spec.slots
    if servers == 0:
        return 0.0
    return bisect_rate(lambda r: evaluate_pool(replace(spec, arrival_rate=r), replicas, degraded=degraded).passed,
                       servers / spec.mean_service_s, rel_tol)
