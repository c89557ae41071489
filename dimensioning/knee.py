"""Load sweeps: latency and shed against offered load, the knee, the max sustainable rate.

For a pool of fixed size (its replicas as planned), every figure is taken from
the same pool model the sizing uses, at each offered rate:

- e2el p50/p99: queueing delay + ``S_bucket`` (M/D/c exact for Poisson
  arrivals; the sizing's bursty model otherwise, with its method label);
- TTFT p50/p99: queueing delay + ``L_fixed`` + prefill + the first token;
- shed: the probability of finding the SLO-safe queue full (M/D/c/K).

The **knee** is the offered rate at which the p99 queueing delay equals one
(mean) service time (for one bucket: p99 latency twice its zero-load value):
past it the latency of a deterministic-service queue climbs steeply; it is
found by bisection (waits grow with the arrival rate), to a relative
precision of 1e-6. The **max sustainable rate** is the largest offered rate
at which the pool still meets every target the sizing checks (utilisation,
p99 SLOs, shed) with the replicas it has, each met by a certified figure
(exact, a proven bound, or simulated at the conservative end of its
interval): :func:`max_sustainable` says how it is found and certified.
Headroom is ``max_sustainable / operating - 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from dimensioning.pool import PoolSpec

__all__ = ["LoadPoint", "PoolSweep", "bisect_rate", "sweep_rates", "sweep_pool", "fleet_max_scale", "sweep_spec", "max_sustainable_rate",
           "MaxRate", "max_sustainable", "CERTIFIED"]

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
    max_rate_certified: str  # how the max sustainable rate's pass is certified (CERTIFIED)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, latencies in ms under :mod:`dimensioning.keys` names (``e2el_p99_ms``, ``service_ms``)."""
        from dataclasses import asdict

        from dimensioning.keys import to_output

        return to_output(asdict(self))


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
    best: MaxRate,
    points: int = 41,
) -> PoolSweep:
    """Sweep one pool with ``at_rate`` (the pool model at an offered rate).

    ``best`` is the pool's certified max sustainable rate (:func:`max_sustainable`).
    """
    saturation = servers / service_s if servers > 0 else 0.0
    if saturation == 0:
        empty = LoadPoint(operating_rps, math.inf, math.inf, math.inf, math.inf, math.inf, math.inf, 1.0, False, "exact")
        return PoolSweep(pool, replicas, servers, service_s, operating_rps, 0.0, 0.0, 0.0, -1.0,
                         "no replica", (empty,), "exact", CERTIFIED[0])
    pts = tuple(at_rate(r) for r in sweep_rates(saturation, operating_rps, points))
    knee = bisect_rate(lambda r: at_rate(r).wait_p99_s <= service_s, saturation)
    headroom = best.rps / operating_rps - 1.0 if operating_rps > 0 else math.inf
    methods = sorted({p.method for p in pts})
    return PoolSweep(pool, replicas, servers, service_s, operating_rps, saturation, knee, best.rps, headroom,
                     best.binding, pts, " + ".join(methods), best.certified)


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

    best = max_sustainable(spec, replicas, degraded=degraded)
    return sweep_pool(spec.name, replicas, servers, spec.mean_service_s, spec.arrival_rate, at_rate, best, points)


@dataclass(frozen=True)
class MaxRate:
    """The largest offered rate a pool passes at, and how that pass is certified.

    ``rps``: requests/s (the rate returned always passes); ``certified``:
    ``exact`` (every deciding figure exact), ``bound`` (at least one figure a
    proven upper bound: the M/D/c/K tail bound, or the M/D/c bound on a
    mixture below), or ``simulated-at-conservative-end`` (at least one figure
    decided by the simulator at the upper end of its 95% interval);
    ``binding``: the target missed just above ``rps``; ``evaluations``: pool
    checks spent (exact, simulated).
    """

    rps: float
    certified: str
    binding: str
    evaluations: tuple[int, int]


CERTIFIED = ("exact", "bound", "simulated-at-conservative-end")

# a simulated pool check costs ~0.3-1 s: the last bracket is refined to this relative width only
_SIM_REL_TOL = 5e-3


def _certified(kinds: set[str]) -> str:
    """The weakest kind of the figures that decided a pass."""
    if "simulated" in kinds:
        return CERTIFIED[2]
    if kinds - {"exact"}:
        return CERTIFIED[1]
    return CERTIFIED[0]


def _dominating(spec: "PoolSpec") -> "PoolSpec":
    """The pool with every class's service time raised to the largest (first token unchanged).

    Raising service times never shortens a FCFS wait (the Kiefer-Wolfowitz
    workload recursion is monotone in each service time, sample path by
    sample path), so M/D/c at ``S_max`` bounds the M/G/c wait from above, and
    ``W + S_max >= W + S_class``; utilisation at ``S_max`` is larger too. A pass
    of the dominating pool is a pass of the real one.
    """
    from dataclasses import replace

    top = max(c.service.total_s for c in spec.classes)
    classes = tuple(
        replace(c, service=replace(c.service, decode_s=c.service.decode_s + (top - c.service.total_s)))
        for c in spec.classes
    )
    return replace(spec, classes=classes)


def _needs_simulation(spec: "PoolSpec", servers: int) -> bool:
    """A mixture on more than one server: its wait is simulated (``dimensioning.queueing.MGc``)."""
    return servers > 1 and len(set(spec.service_times)) > 1


def max_sustainable(spec: "PoolSpec", replicas: int, *, degraded: bool = False, rel_tol: float = _REL_TOL) -> MaxRate:
    """Largest offered rate at which ``replicas`` operational replicas pass every target, certified.

    A rate counts as passing only when every target the pool check
    (:func:`dimensioning.pool.evaluate_pool`) checks is met by a figure of a
    safe kind: exact, a proven bound, or simulated at the conservative end of
    its 95% interval. The pass sets of the shed and of the other targets are
    each an interval ``[0, r]``, so the rate is the smaller threshold; the
    shed's is looked for below the others' (:class:`_ShedProbe`: a proven
    M/D/c tail bound first, the pool check's figure, perhaps simulated, only
    where the bound does not suffice).
    The search:

    1. the utilisation target gives the exact upper end ``rho_target c / E[S]``
       (no rate above it passes); if that rate passes, it is the answer;
    2. a pool whose wait is simulated (a mixture on c > 1 servers) is first
       bracketed with the dominating M/D/c pool (:func:`_dominating`, exact
       figures of a pool that bounds this one): its max rate is a certified
       lower end; the simulator then refines only ``[lower, upper]``, to a
       relative width ``_SIM_REL_TOL`` (each evaluation is a seeded simulation);
    3. otherwise regula falsi on the worst relative excess over the targets,
       kept inside a bracket [passes, fails], to ``rel_tol``;
    4. the shed likewise below that rate, bound first, then the pool check.

    Results are memoised per distinct pool (arrival rate and the other state's
    target do not enter): configurations of a search share most pools.
    """
    from dataclasses import replace

    key = replace(spec, arrival_rate=0.0,
                  **({"rho_target_normal": 0.0} if degraded else {"rho_target_degraded": 0.0}))
    return _max_sustainable(key, int(replicas), bool(degraded), float(rel_tol))


@lru_cache(maxsize=8192)
def _max_sustainable(spec: "PoolSpec", replicas: int, degraded: bool, rel_tol: float) -> MaxRate:
    from dataclasses import replace

    from dimensioning.pool import CONSTRAINTS, evaluate_pool

    servers = replicas * spec.slots
    if servers == 0:
        return MaxRate(0.0, CERTIFIED[0], "no replica", (0, 0))
    counts = [0, 0]
    kinds_at: dict[float, str] = {}  # the certification of each passing probe

    def others(base: "PoolSpec") -> Callable[[float], tuple[bool, float]]:
        """Every target but the shed, from the pool check (on ``base``)."""
        def at(rate: float) -> tuple[bool, float]:
            v = evaluate_pool(replace(base, arrival_rate=rate), replicas, degraded=degraded,
                              only=[c for c in CONSTRAINTS if c != "shed"])
            kinds = {c.kind for c in v.checks} | ({"bound"} if base is not spec else set())
            counts["simulated" in kinds] += 1
            ok = v.passed and all(c.safe for c in v.checks)
            if ok:
                kinds_at[rate] = _certified(kinds)
            return ok, _excess(v)
        return at

    upper = spec.rho_target(degraded) * servers / spec.mean_service_s
    real = others(spec)
    if _needs_simulation(spec, servers):
        # the wait of a mixture on c > 1 servers is simulated: bracket with the dominating M/D/c pool first
        cheap = others(_dominating(spec))
        at_upper = cheap(upper)
        best = upper if at_upper[0] else _largest_passing(cheap, upper, rel_tol, high=at_upper)
        certified = kinds_at.get(best, CERTIFIED[0])
        if best < upper:
            real_upper = real(upper)
            start = best * (1 + _SIM_REL_TOL)
            if real_upper[0]:
                best = upper
            elif best > 0 and start < upper:
                at_start = real(start)
                if at_start[0]:
                    best = _largest_passing(real, upper, _SIM_REL_TOL, low=(start, at_start[1]), high=real_upper)
            certified = kinds_at.get(best, certified)
    else:
        at_upper = real(upper)
        best = upper if at_upper[0] else _largest_passing(real, upper, rel_tol, high=at_upper)
        certified = kinds_at.get(best, CERTIFIED[0])
    shed_binds = False
    if best > 0 and spec.shed_target is not None and len(spec.classes) == 1:
        # the shed's own threshold below the others' (both pass sets are intervals [0, r])
        shed = _ShedProbe(spec, replicas, degraded)
        at_best = shed.at(best)
        shed_binds = not at_best[0]
        if at_best[0]:
            certified = max(certified, shed.kinds[best], key=CERTIFIED.index)
        else:
            by_bound = lambda r: shed.at(r, simulate=False)  # noqa: E731 - a probe that never simulates
            lower = _largest_passing(by_bound, best, rel_tol, high=at_best)
            top = best
            best = lower
            start = lower * (1 + rel_tol)
            if lower <= 0:  # no bound applies (Queue_cap 0, bursty arrivals): the pool check's figure throughout
                best = _largest_passing(shed.at, top, rel_tol, high=at_best)
            elif start < top:
                at_start = shed.at(start)
                if at_start[0]:
                    best = _largest_passing(shed.at, top, rel_tol, low=(start, at_start[1]), high=at_best)
            if best > 0:
                certified = max(_staged_others(others(spec), best, kinds_at), shed.kinds[best], key=CERTIFIED.index)
        counts[0] += shed.counts[0]
        counts[1] += shed.counts[1]
    if best <= 0:
        v = evaluate_pool(replace(spec, arrival_rate=upper * 1e-9), replicas, degraded=degraded)
        return MaxRate(0.0, CERTIFIED[0], ", ".join(v.failed) or "none", tuple(counts))
    step = _SIM_REL_TOL if _needs_simulation(spec, servers) else 10 * rel_tol
    if shed_binds:  # the shed's certified figure limits (the pool check's own figure may still pass just above)
        binding = f"shed[{spec.classes[0].name}]"
    else:
        just_above = evaluate_pool(replace(spec, arrival_rate=min(best * (1 + step), upper * (1 + step))), replicas,
                                   degraded=degraded, only=[c for c in CONSTRAINTS if c != "shed"])
        binding = ", ".join(just_above.failed) or ", ".join(
            f"{c.constraint}[{c.subject}]" for c in just_above.checks if not c.safe) or "none"
    return MaxRate(best, certified, binding, tuple(counts))


def _staged_others(probe: Callable[[float], tuple[bool, float]], rate: float, kinds_at: dict[float, str]) -> str:
    """The certification of the other targets at ``rate`` (a rate below their threshold: they pass)."""
    if rate not in kinds_at:
        probe(rate)
    return kinds_at.get(rate, CERTIFIED[0])


class _ShedProbe:
    """The shed target of a one-class pool at a rate: a proven bound first, the pool check's figure where needed.

    For Queue_cap ``f`` waiting per server (K = c (1 + f)) and ``f >= 1``:
    ``P_B <= P(N >= K) <= P(W >= f D)`` of the infinite M/D/c queue (exact
    law). Dropping arrivals never adds to the number in system (sample-path
    monotonicity, FCFS), and an arrival that finds ``n >= K`` waits at least
    ``f D``: c servers of deterministic service start at most
    ``c (floor(t/D) + 1)`` requests in ``t``. PASTA turns the time fraction
    into the fraction of arrivals. Where the bound exceeds the target, the
    pool check's own figure decides (M/D/c/K: exact, a bound, or simulated at
    the conservative end of its 95% interval). A conservative figure at a rate
    also bounds every lower rate (blocking grows with the rate), so a pass at
    ``r`` certifies ``[0, r]`` without another simulation.
    """

    def __init__(self, spec: "PoolSpec", replicas: int, degraded: bool) -> None:
        from dimensioning.pool import queue_factor

        self.spec, self.replicas, self.degraded = spec, replicas, degraded
        self.factor = queue_factor(spec.classes[0], spec, degraded)
        self.kinds: dict[float, str] = {}
        self.counts = [0, 0]
        self._passed_up_to = (0.0, CERTIFIED[0])

    def _bound(self, rate: float) -> float:
        from dimensioning.errors import InvalidInput
        from dimensioning.queueing import MDc

        d = self.spec.classes[0].service.total_s
        servers = self.replicas * self.spec.slots
        if self.factor is None or self.factor < 1 or self.spec.arrival_scv != 1.0 or rate * d >= servers:
            return math.inf
        try:
            return float(MDc(arrival_rate=rate, service_time=d, servers=servers).wait.sf(self.factor * d))
        except InvalidInput:  # beyond the exact model's size limit: the pool check decides
            return math.inf

    def at(self, rate: float, simulate: bool = True) -> tuple[bool, float]:
        from dataclasses import replace

        from dimensioning.pool import evaluate_pool

        target = self.spec.shed_target
        assert target is not None
        if rate <= self._passed_up_to[0]:
            self.kinds[rate] = self._passed_up_to[1]
            return True, -1.0
        self.counts[0] += 1
        tail = self._bound(rate)
        if tail <= target:
            self.kinds[rate] = CERTIFIED[1]
            return True, tail / target - 1.0
        if not simulate:
            return False, tail / target - 1.0 if math.isfinite(tail) else math.nan
        v = evaluate_pool(replace(self.spec, arrival_rate=rate), self.replicas, degraded=self.degraded, only=("shed",))
        kind = _certified({c.kind for c in v.checks})
        if kind == CERTIFIED[2]:
            self.counts[0] -= 1
            self.counts[1] += 1
        ok = v.passed and all(c.safe for c in v.checks)
        if ok:
            self.kinds[rate] = kind
            if kind != CERTIFIED[0]:  # a conservative figure bounds every lower rate too
                self._passed_up_to = (rate, kind)
        return ok, _excess(v)


def _excess(verdict) -> float:  # type: ignore[no-untyped-def]
    """The worst relative excess ``value / limit - 1`` over the checks (<= 0: every figure within its limit).

    Continuous and non-decreasing in the offered rate (every figure is), so it
    guides the search; the pass itself is always the pool check's verdict.
    """
    worst = -math.inf
    for c in verdict.checks:
        if c.limit > 0 and math.isfinite(c.value):
            worst = max(worst, c.value / c.limit - 1.0)
        elif not c.passed:
            return math.inf
    return worst


def _largest_passing(probe: Callable[[float], tuple[bool, float]], hi: float, rel_tol: float,
                     low: tuple[float, float] | None = None, high: tuple[bool, float] | None = None) -> float:
    """Largest rate in (0, hi) where ``probe`` passes, to ``rel_tol * hi``; 0.0 when a vanishing rate fails.

    ``probe(rate)`` gives (pass, excess); the pass is monotone (true at small
    rates). A bracket [lo passes, hi fails] is narrowed by regula falsi on the
    excess (Illinois variant: the retained end's excess is halved when one end
    is kept twice), each new point kept at least ``rel_tol * hi / 2`` inside
    the bracket, and by bisection where the excess is not finite. Every rate
    returned passed its probe. ``low``: a known passing (rate, excess);
    ``high``: ``probe(hi)`` when known.
    """
    hi_excess = (high if high is not None else probe(hi))[1]
    if low is None:
        lo = hi * 1e-9
        passed, lo_excess = probe(lo)
        if not passed:
            return 0.0
    else:
        lo, lo_excess = low
    last = ""  # the end the previous point replaced
    while hi - lo > rel_tol * hi:
        guard = 0.5 * rel_tol * hi
        if math.isfinite(lo_excess) and math.isfinite(hi_excess) and hi_excess > 0.0 >= lo_excess:
            x = lo + (hi - lo) * (-lo_excess) / (hi_excess - lo_excess)
            x = min(max(x, lo + guard), hi - guard)
        else:
            x = 0.5 * (lo + hi)
        passed, excess = probe(x)
        if passed:
            if last == "lo":
                hi_excess *= 0.5
            lo, lo_excess, last = x, min(excess, 0.0), "lo"
        else:
            if last == "hi":
                lo_excess *= 0.5
            hi, hi_excess, last = x, excess, "hi"
    return lo


def max_sustainable_rate(spec: "PoolSpec", replicas: int, *, degraded: bool = False, rel_tol: float = _REL_TOL) -> float:
    """Largest offered rate (requests/s) at which ``replicas`` operational replicas pass every target.

    :func:`max_sustainable`'s rate (the rate returned always passes, with
    certified figures).
    """
    return max_sustainable(spec, replicas, degraded=degraded, rel_tol=rel_tol).rps
