"""Replicas per shape bucket: the least N whose pool meets every target.

Per bucket (DESIGN.md worksheet symbols; the service time and ``mu`` live in
:mod:`dimensioning.service_time`)::

    S_bucket = P_bucket / R_prefill + O_cap / R_decode + L_fixed    (seconds)
    lambda_bucket = lambda_peak * share
    mu = slots / S_bucket                                           (req/s per replica)

Prompts are padded to the bucket edge (the compiled shape) and the output is
taken at its cap, so every request of the bucket needs at most ``S_bucket``.
With FCFS a longer service never shortens anyone's wait, so M/D/c with
``D = S_bucket`` is an exact, safe upper bound on latency; the mean service
time (real output lengths) is reported beside it with the bound's
conservatism ``S_bucket / S_mean``.

The replica count N is the least that meets every constraint, each judged by
the one pool check :func:`dimensioning.pool.evaluate_pool`:

- utilisation (normal): ``lambda * S / (N * slots) <= rho_target_normal``;
- e2el p99 (normal): p99 of wait + S within the e2el SLO;
- ttft p99 (normal): p99 of wait + L_fixed + prefill + first token within the
  TTFT SLO (when one is given);
- tpot p99: ``1/R_decode`` within the TPOT SLO (no N helps if it fails);
- shed (normal): shed probability with the SLO-safe queue cap <= shed_target;
- the same with ``replicas_lost_worst`` replicas gone, against
  ``rho_target_degraded`` and the degraded SLOs.

The binding constraint is the one that asks for the most replicas. Every
figure says its kind (exact | bound | approximation+margin | simulated, the
rule in docs/queueing.md); a figure that is an approximation without a safe
margin is listed in :attr:`BucketSizing.unsafe_figures` and refereed by the
simulator in ``lpuplan plan``. The shared-pool alternative is sized in
:mod:`dimensioning.shared_pool` with the same check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import dataclasses
from typing import Any, Callable

from dimensioning._queue_simulated import WARMUP
from dimensioning.admission import AdmissionState, admission_state
from dimensioning.errors import InvalidInput
from dimensioning.inputs import Admission, Bucket, Headroom, Redundancy, Slo, Workload
from dimensioning.pool import (
    NOT_EVALUATED,
    QUANTILE,
    FigureCheck,
    PoolSpec,
    PoolVerdict,
    ServiceClass,
    Look,
    evaluate_pool,
    queue_factor,
    relaxation_arrivals,
    screen_wait_objectives,
    wait_is_simulated,
    wait_objectives,
    wait_quantile,
)
from dimensioning.service_time import ServiceTime, service_time
from dimensioning.traffic import BucketTraffic

__all__ = [
    "QUANTILE",
    "ServiceTime",
    "Targets",
    "LatencyTargets",
    "PoolState",
    "Constraint",
    "BucketSizing",
    "bucket_slos",
    "latency_targets",
    "service_time",
    "pool_state",
    "dedicated_pool_spec",
    "least_replicas",
    "replicas_for_utilisation",
    "stable_floor",
    "size_bucket",
    "size_pool",
    "resized",
]

# upper end of the replica search: beyond this the answer is "not attainable"
_MAX_REPLICAS = 1_000_000


@dataclass(frozen=True)
class Targets:
    """What every pool of a project must meet. Times in seconds.

    The project-wide SLOs (``[slo]``); a bucket may override them
    (:func:`latency_targets` is the one rule that combines the two).
    """

    rho_target_normal: float
    rho_target_degraded: float
    replicas_lost: int
    shed_target: float
    arrival_scv: float = 1.0
    e2el_p99_s: float = math.inf
    e2el_degraded_p99_s: float = math.inf
    ttft_p99_s: float | None = None
    ttft_degraded_p99_s: float | None = None
    tpot_p99_s: float | None = None

    @classmethod
    def from_inputs(cls, workload: Workload, slo: Slo, headroom: Headroom, redundancy: Redundancy,
                    admission: Admission) -> "Targets":
        """The project file's tables, in SI units."""
        ttft_degraded = slo.ttft_degraded_ms
        return cls(
            rho_target_normal=headroom.rho_target_normal,
            rho_target_degraded=headroom.rho_target_degraded,
            replicas_lost=redundancy.replicas_lost_worst,
            shed_target=admission.shed_target,
            arrival_scv=workload.arrival_scv,
            e2el_p99_s=slo.p99_ms / 1e3,
            e2el_degraded_p99_s=slo.degraded_ms / 1e3,
            ttft_p99_s=None if slo.ttft_p99_ms is None else slo.ttft_p99_ms / 1e3,
            ttft_degraded_p99_s=None if ttft_degraded is None else ttft_degraded / 1e3,
            tpot_p99_s=None if slo.tpot_p99_ms is None else slo.tpot_p99_ms / 1e3,
        )


@dataclass(frozen=True)
class LatencyTargets:
    """One bucket's latency objectives, seconds (None: no such objective)."""

    e2el_s: float
    e2el_degraded_s: float
    ttft_s: float | None
    ttft_degraded_s: float | None
    tpot_s: float | None


def _override(project_normal: float | None, project_degraded: float | None,
              bucket_ms: float | None) -> tuple[float | None, float | None]:
    if project_degraded is None:
        project_degraded = project_normal  # a degraded objective defaults to the normal one
    if bucket_ms is None:
        return project_normal, project_degraded
    own = bucket_ms / 1e3
    return own, max(own, project_degraded) if project_degraded is not None else own


def latency_targets(targets: Targets, bucket: Bucket) -> LatencyTargets:
    """THE per-bucket SLO rule.

    A bucket's own objective (``slo_p99_ms``, ``ttft_p99_ms``, ``tpot_p99_ms``)
    replaces the project's; in the degraded state it applies unless the
    project's degraded objective is looser (then that one).
    """
    e2el, e2el_d = _override(targets.e2el_p99_s, targets.e2el_degraded_p99_s, bucket.slo_p99_ms)
    ttft, ttft_d = _override(targets.ttft_p99_s, targets.ttft_degraded_p99_s, bucket.ttft_p99_ms)
    tpot = targets.tpot_p99_s if bucket.tpot_p99_ms is None else bucket.tpot_p99_ms / 1e3
    assert e2el is not None and e2el_d is not None
    return LatencyTargets(e2el, e2el_d, ttft, ttft_d, tpot)


def bucket_slos(slo: Slo, bucket: Bucket) -> tuple[float, float]:
    """(normal, degraded) p99 e2el SLO of a bucket in seconds (:func:`latency_targets`'s rule)."""
    lat = latency_targets(Targets(0.5, 0.5, 0, 0.5, e2el_p99_s=slo.p99_ms / 1e3,
                                  e2el_degraded_p99_s=slo.degraded_ms / 1e3), bucket)
    return lat.e2el_s, lat.e2el_degraded_s


@dataclass(frozen=True)
class PoolState:
    """One pool at one replica count: utilisation, waits, latencies (seconds)."""

    replicas: int
    servers: int
    arrival_rate: float
    utilization: float
    stable: bool
    prob_wait: float
    wait_mean_s: float
    wait_p50_s: float
    wait_p95_s: float
    wait_p99_s: float
    wait_p999_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    latency_p999_s: float
    method: str
    method_note: str


_PERCENTILES = (0.50, 0.95, 0.99, 0.999)


def _unserved_state(replicas: int, arrival_rate: float) -> PoolState:
    inf = math.inf
    return PoolState(replicas, 0, arrival_rate, inf, False, 1.0, inf, inf, inf, inf, inf, inf, inf, inf, inf, "exact", "no replica left")


def pool_state(
    arrival_rate: float, service_s: float, replicas: int, slots: int, arrival_scv: float = 1.0
) -> PoolState:
    """Report a dedicated pool of ``replicas`` x ``slots`` servers: percentiles by the pool check's models."""
    servers = replicas * slots
    if servers == 0:
        return _unserved_state(replicas, arrival_rate)
    if arrival_rate == 0:
        return PoolState(replicas, servers, 0.0, 0.0, True, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                         service_s, service_s, service_s, service_s, "exact", "no traffic")
    rho = arrival_rate * service_s / servers
    from dimensioning.queueing import GIDc, MDc

    try:
        figures = [wait_quantile(arrival_rate, (service_s,), (1.0,), servers, arrival_scv, p) for p in _PERCENTILES]
        waits = [f[0] for f in figures]
        kind, note = figures[2][1], figures[2][2]
        if rho < 1:
            model = (MDc(arrival_rate, service_s, servers) if arrival_scv == 1.0
                     else GIDc(arrival_rate, service_s, servers, arrival_scv))
            prob_wait, wait_mean = float(model.prob_wait), float(model.wait.mean())
        else:
            prob_wait, wait_mean = 1.0, math.inf
    except InvalidInput as exc:  # beyond the models' size limit: reported, never a crash
        # None, not NaN: the JSON says "not evaluated" by a null and the note
        return PoolState(replicas, servers, arrival_rate, rho, rho < 1, None, None, None, None, None, None,  # type: ignore[arg-type]
                         None, None, None, None, "not evaluated", exc.fix)  # type: ignore[arg-type]
    return PoolState(
        replicas=replicas,
        servers=servers,
        arrival_rate=arrival_rate,
        utilization=rho,
        stable=rho < 1,
        prob_wait=prob_wait,
        wait_mean_s=wait_mean,
        wait_p50_s=waits[0],
        wait_p95_s=waits[1],
        wait_p99_s=waits[2],
        wait_p999_s=waits[3],
        latency_p50_s=waits[0] + service_s,
        latency_p95_s=waits[1] + service_s,
        latency_p99_s=waits[2] + service_s,
        latency_p999_s=waits[3] + service_s,
        method=kind,
        method_note=note,
    )


@dataclass(frozen=True)
class Constraint:
    """One sizing constraint and the replicas it alone asks for (None: unattainable).

    ``kind`` is the kind of the figure that decided it (exact | bound |
    approximation+margin | simulated | approximation), at the replica count
    it asks for.
    """

    name: str
    replicas_needed: int | None
    detail: str
    kind: str = "exact"


def least_replicas(predicate: Callable[[int], bool], lower: int, hint: int | None = None,
                   guess: int | None = None) -> int | None:
    """Least n >= lower with predicate(n), for a predicate monotone in n.

    ``hint``: a count other constraints already ask for (checked first; if it
    passes the answer is at most the hint). ``guess``: a closed-form estimate
    of the answer (it only steers the search: every decision is the
    predicate's). From the guess, the search walks down (if it passes) or up
    (if it fails) in doubling steps and then bisects, so a good guess costs
    two or three evaluations and the probes stay away from the stability
    floor, where the exact models are most expensive.
    """
    lower = max(lower, 0)
    lo: int | None = None  # largest n known to fail (or lower - 1: below the range)
    hi: int | None = None  # smallest n known to pass
    if hint is not None and hint >= lower:
        if predicate(hint):
            hi = hint
        else:
            lo = hint
    if guess is not None:
        guess = max(guess, lower)
        if (hi is None or guess < hi) and (lo is None or guess > lo):
            if predicate(guess):
                hi = guess
            else:
                lo = guess
    if hi is not None and lo is not None and lo >= lower and hi - lo > 2:
        # the guess failed below a known pass: gallop up from it
        base, step = lo, 1
        while base + step < hi:
            if predicate(base + step):
                hi = base + step
                break
            lo = base + step
            step *= 2
    elif hi is not None:
        # walk down from the known pass in doubling steps until a failure (or the range's bottom)
        step = 1
        while lo is None or hi - lo > 1:
            probe = hi - step
            if lo is not None and probe <= lo:
                break
            if probe < lower:
                lo = lower - 1
                break
            if predicate(probe):
                hi = probe
                step *= 2
            else:
                lo = probe
                break
    else:
        start = lower if lo is None else lo + 1
        if lo is None and predicate(start):
            return start
        lo = start if lo is None else lo
        step = 1
        hi = lo + 1
        while not predicate(hi):
            if hi >= _MAX_REPLICAS:
                return None
            lo = hi
            step *= 2
            hi = min(start + step, _MAX_REPLICAS)
    assert lo is not None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _closed_form_guess(spec: PoolSpec, degraded: bool, constraint: str, floor_n: int) -> int | None:
    """A closed-form estimate of the least N for one constraint (it steers the search, never decides).

    p99 (e2el, TTFT): the M/M/c wait tail ``C(a, c) exp(-(c - a) t / E[S])``
    scaled by ``(1 + ca2) / 2`` for bursty arrivals; shed: Erlang B of the
    servers alone (no waiting room: an upper estimate).
    """
    from scipy.special import pdtrc

    from dimensioning.queueing import erlang_b, erlang_c

    load = spec.offered_load
    mean_s = spec.mean_service_s
    slots = spec.slots
    second = math.fsum(c.share * c.service.total_s ** 2 for c in spec.classes)
    service_scv = max(second / mean_s**2 - 1.0, 0.0)
    # heavy-traffic equivalence: a G/G/c queue behaves like M/M/c with the spare capacity c - a
    # divided by (ca2 + cs2) / 2 (Kingman; Whitt 1993)
    scale = max((spec.arrival_scv + service_scv) / 2.0, 1e-3)
    poisson_deterministic = spec.arrival_scv == 1.0 and service_scv == 0.0
    if constraint in ("e2el_p99", "ttft_p99"):
        budgets = []
        for c in spec.classes:
            if constraint == "e2el_p99":
                budgets.append(c.e2el_slo(degraded) - c.service.total_s)
            elif c.ttft_slo(degraded) is not None:
                budgets.append(c.ttft_slo(degraded) - c.service.first_token_s)  # type: ignore[operator]
        if not budgets:
            return None
        budget = max(min(budgets), 0.0)

        def ok(n: int) -> bool:
            servers = n * slots
            if servers <= load:
                return False
            if poisson_deterministic and pdtrc(servers - 1, load) <= 0.01:
                # M/D/c: P(W > 0) is within a server or two of the M/D/inf tail P(Poisson(a) >= c) here
                return True
            spare = (servers - load) / scale
            equivalent = load + spare
            tail = erlang_c(load, max(int(equivalent), 1)) if equivalent < 2**62 else 0.0
            if tail <= 0.01:
                return True
            return math.log(tail / 0.01) * mean_s / spare <= budget
    elif constraint == "shed" and spec.shed_target is not None:
        target = spec.shed_target

        def ok(n: int) -> bool:
            return erlang_b(load, n * slots) <= target
    else:
        return None
    lo, hi = max(floor_n - 1, 0), max(floor_n, 1)
    while not ok(hi):
        if hi >= _MAX_REPLICAS:
            return None
        lo, hi = hi, min(hi * 2, _MAX_REPLICAS)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def replicas_for_utilisation(load_servers: float, slots: int, rho_target: float) -> int:
    """Least replicas with ``lambda E[S] / (N slots) <= rho_target``: ``max(ceil(a / (slots rho)), 1)``.

    ``load_servers`` is the offered load ``a = lambda E[S]`` (erlangs); the
    ``1e-12`` keeps a quotient that is an integer up to rounding from asking
    for one replica more. The workbook writes this as a live formula
    (``lpuplan.workbook_formulas``).
    """
    return max(math.ceil(load_servers / (slots * rho_target) * (1 - 1e-12)), 1)


def stable_floor(load_servers: float, slots: int) -> int:
    """Fewest replicas with utilisation strictly below 1."""
    return math.floor(load_servers / slots) + 1


@dataclass(frozen=True)
class BucketSizing:
    """The sizing of one bucket's dedicated pool.

    ``pool`` is the pool's spec for :func:`dimensioning.pool.evaluate_pool`
    (the facility's N+k feedback calls it with other replica counts);
    ``verdict_normal`` / ``verdict_degraded`` are its checks at ``replicas``
    and ``replicas - replicas_lost``.
    """

    name: str
    traffic: BucketTraffic
    service: ServiceTime
    slots: int
    chips_per_replica: int | None
    mu: float
    slo_s: float
    degraded_slo_s: float
    replicas_lost: int
    replicas: int
    constraints: tuple[Constraint, ...]
    binding: tuple[str, ...]
    feasible: bool
    infeasible_reason: str
    normal: PoolState
    degraded: PoolState
    admission_normal: AdmissionState | None
    admission_degraded: AdmissionState | None
    utilization_expected: float
    pool: PoolSpec | None = None
    verdict_normal: PoolVerdict | None = None
    verdict_degraded: PoolVerdict | None = None
    referee: dict[str, Any] | None = None

    @property
    def replicas_operational_degraded(self) -> int:
        return max(self.replicas - self.replicas_lost, 0)

    @property
    def figures(self) -> tuple[FigureCheck, ...]:
        """Every deciding figure at N (normal) and N - lost (degraded), with its kind."""
        out: tuple[FigureCheck, ...] = ()
        for verdict in (self.verdict_normal, self.verdict_degraded):
            if verdict is not None:
                out += verdict.checks
        return out

    @property
    def figure_kinds(self) -> dict[str, str]:
        """``constraint (state)`` -> the kind that decides it, after the referee (the rule)."""
        out: dict[str, str] = {}
        for state, verdict in (("normal", self.verdict_normal), ("degraded", self.verdict_degraded)):
            if verdict is None:
                continue
            for c in verdict.checks:
                refereed = self.referee is not None and any(
                    r["constraint"] == c.constraint and r["state"] == state for r in self.referee["figures"])
                out[f"{c.constraint} ({state})"] = "simulated" if refereed and not c.safe else c.kind
        return out

    @property
    def unsafe_figures(self) -> tuple[tuple[str, FigureCheck], ...]:
        """(state, figure) for each deciding figure that is an approximation without a safe margin."""
        out = []
        for state, verdict in (("normal", self.verdict_normal), ("degraded", self.verdict_degraded)):
            if verdict is not None:
                out += [(state, c) for c in verdict.unsafe]
        return tuple(out)


def dedicated_pool_spec(bucket: Bucket, traffic: BucketTraffic, targets: Targets,
                        latency: LatencyTargets | None = None) -> PoolSpec:
    """The :class:`~dimensioning.pool.PoolSpec` of a bucket's dedicated pool."""
    lat = latency or latency_targets(targets, bucket)
    service = service_time(bucket, traffic.output_mean)
    cls = ServiceClass(bucket.label, 1.0, service, lat.e2el_s, lat.e2el_degraded_s, lat.ttft_s, lat.ttft_degraded_s,
                       lat.tpot_s)
    return PoolSpec(bucket.label, traffic.arrival_rate, (cls,), bucket.slots, targets.rho_target_normal,
                    targets.rho_target_degraded, targets.shed_target, targets.replicas_lost, targets.arrival_scv)


_LABELS = {"utilisation": "utilisation", "e2el_p99": "e2el p99", "ttft_p99": "ttft p99", "tpot_p99": "tpot p99",
           "shed": "shed"}
_DETAILS = {
    "utilisation": "lambda*S/(N*slots) <= {limit:g}",
    "e2el_p99": "p99 e2el latency (wait + S) <= {limit_ms:.0f} ms",
    "ttft_p99": "p99 TTFT (wait + L_fixed + prefill + first token) <= {limit_ms:.0f} ms",
    "tpot_p99": "1/r_decode <= {limit_ms:.1f} ms per token",
    "shed": "shed probability <= {limit:g} with the SLO-safe queue cap",
}


def _safely_passes(spec: PoolSpec, replicas: int, degraded: bool, constraint: str) -> bool:
    """The pool check for one constraint, counted as a pass only when its figure may decide N (the rule).

    A figure the models cannot give (a pool beyond their size limit) or one
    that is an approximation without a safe margin counts as a miss: the
    search then never settles on it (conservative).
    """
    verdict = evaluate_pool(spec, replicas, degraded=degraded, only=(constraint,))
    if any(c.kind == NOT_EVALUATED for c in verdict.checks):
        # larger pools are refused too: stop the search here and say why
        raise _Refused(next(c.note for c in verdict.checks if c.kind == NOT_EVALUATED))
    return verdict.passed and all(c.safe for c in verdict.checks)


# evaluations a non-binding constraint may spend on finding its own least N (large pools: each costs ~1 s)
_NON_BINDING_PROBES = 3

# A simulated p99 below the count another constraint asks for is found by two looks per probe: a run of
# SCREEN_REQUESTS arrivals first, the full run (the models' default) only where the short run's interval
# straddles the limit. Each look is judged at the ends of its two-sided 97.5% interval, so a probe errs in
# either direction with probability at most 1.25% + 1.25% (Bonferroni), no more than one look at the
# upper end of a 95% interval (2.5%).
# A short run starts empty like any other: near saturation its warm-up (2%: 5,000 arrivals) may not outlast
# the queue's relaxation (``dimensioning.pool.relaxation_arrivals``), which biases the p99 low (a false "met").
# The short look is taken only where the warm-up lasts SCREEN_RELAXATIONS relaxation times (rho up to about
# 0.955 with Poisson arrivals and near-deterministic service); elsewhere the full run is the only look.
SCREEN_REQUESTS = 250_000
SCREEN_CONFIDENCE = 0.975
SCREEN_RELAXATIONS = 5


class _StopSearch(Exception):
    pass


def _least_with_budget(spec: PoolSpec, degraded: bool, name: str, lower: int, hint: int,
                       guess: int | None) -> tuple[int | None, bool, Look | None]:
    """(least N for one constraint, whether it is the exact least, the screening look that decided it).

    ``hint`` is the count the utilisation asks for, which N is never below.
    When the constraint passes at ``hint`` it does not bind: its own least N
    is searched with a few evaluations only and the smallest passing count
    found is reported. No replica count depends on those evaluations, so
    where the figure is simulated they are screening looks (``SCREEN_REQUESTS``
    first, the full run only where that does not decide); the look that
    decided the reported count is returned (None: the full check did).
    Every evaluation that can raise N (at ``hint`` and above) is the full check.
    """
    def check(n: int) -> bool:
        return _safely_passes(spec, n, degraded, name)

    looks: dict[int, Look] = {}

    def screened(n: int) -> bool:
        look = None
        settles = relaxation_arrivals(spec, n) * SCREEN_RELAXATIONS <= SCREEN_REQUESTS * WARMUP
        for requests in ((SCREEN_REQUESTS, None) if settles else (None,)):
            look = screen_wait_objectives(spec, n, degraded=degraded, constraint=name, requests=requests,
                                          confidence=SCREEN_CONFIDENCE)
            if look is None:  # not simulated at n (exact, unstable, refused): the full check judges it
                return check(n)
            if look.passed is not None:
                break
        assert look is not None
        looks[n] = look
        return bool(look.passed)  # a full run whose interval straddles the limit: not met (conservative)

    if hint > lower and check(hint):
        if name in ("e2el_p99", "ttft_p99") and wait_is_simulated(spec, hint):
            probe, found = screened, [hint]
        elif check(hint - 1):
            probe, found = check, [hint - 1]
        else:
            return hint, True, None  # passes at hint, not at hint - 1
        spent = [0]

        def budgeted(n: int) -> bool:
            if n >= found[0]:
                return True
            if spent[0] >= _NON_BINDING_PROBES:
                raise _StopSearch
            spent[0] += 1
            try:
                ok = probe(n)
            except _Refused:  # a smaller pool the models refuse: this constraint does not bind anyway
                raise _StopSearch from None
            if ok:
                found[0] = n
            return ok

        try:
            least, exact = least_replicas(budgeted, lower, found[0], guess), True
        except _StopSearch:
            least, exact = found[0], False
        return least, exact, looks.get(least) if least is not None else None
    return least_replicas(check, lower, hint, guess), True, None


class _Refused(Exception):
    """The queue models refused a pool (beyond their size limit): the search stops."""


def size_pool(spec: PoolSpec) -> tuple[int, tuple[Constraint, ...], tuple[str, ...], list[str]]:
    """(N, constraints, binding, reasons unattainable) of a pool: the least N per constraint and state."""
    lost = spec.replicas_lost
    load = spec.offered_load
    floor_n = stable_floor(load, spec.slots)
    constraints: list[Constraint] = []
    reasons: list[str] = []
    for degraded in (False, True):
        state = "degraded" if degraded else "normal"
        extra = lost if degraded else 0
        blocked = {name for name, _, _ in spec.unattainable(degraded)}
        for name, subject, reason in spec.unattainable(degraded):
            label = f"{_LABELS[name]} ({state})" if name != "tpot_p99" else "tpot p99"
            said = f"{subject}: {reason}" if len(spec.classes) > 1 else reason
            if not any(c.name == label for c in constraints):
                constraints.append(Constraint(label, None, reason))
            if said not in reasons:
                reasons.append(said)
        if "e2el_p99" in blocked or "ttft_p99" in blocked or (
                len(spec.classes) == 1 and queue_factor(spec.classes[0], spec, degraded) is None):
            # no queue cap keeps an objective no service meets (the cap is set from the stricter state's)
            blocked.add("shed")
        present = {"utilisation", "e2el_p99"}
        if any(c.ttft_slo(degraded) is not None for c in spec.classes):
            present.add("ttft_p99")
        if any(c.tpot_slo_s is not None for c in spec.classes):
            present.add("tpot_p99")
        if spec.shed_target is not None and len(spec.classes) == 1:
            present.add("shed")
        rho_limit = spec.rho_target(degraded)
        # the utilisation count is closed form: it brackets the costlier searches
        hint = replicas_for_utilisation(load, spec.slots, rho_limit)
        for name in ("utilisation", "e2el_p99", "ttft_p99", "shed", "tpot_p99"):
            if name not in present or name in blocked or (name == "tpot_p99" and degraded):
                continue
            label = f"{_LABELS[name]} ({state})" if name != "tpot_p99" else "tpot p99"
            exact_least = True
            look: Look | None = None
            if name == "utilisation":
                needed = hint
            elif name == "tpot_p99":
                needed = 0  # deterministic decode: met at any N (unattainable ones are listed above)
            else:
                lower = max(floor_n - 1, 1) if name == "shed" else floor_n
                guess = _closed_form_guess(spec, degraded, name, floor_n)
                ceiling = hint
                asked = max((c.replicas_needed for c in constraints if c.replicas_needed is not None), default=0)
                if name in ("e2el_p99", "ttft_p99") and wait_is_simulated(spec, max(asked - extra, hint)):
                    # N is at least what the constraints so far ask for: judge a simulated p99 there first
                    # (the run the verdict at N reads) rather than at this state's utilisation count
                    ceiling = max(hint, asked - extra)
                try:
                    needed, exact_least, look = _least_with_budget(spec, degraded, name, lower, ceiling, guess)
                except _Refused as exc:
                    constraints.append(Constraint(label, None, f"not evaluated: {exc}"))
                    reasons.append(f"{label}: not evaluated: {exc}")
                    continue
            if needed is None:
                why = f"not attainable with up to {_MAX_REPLICAS} replicas"
                constraints.append(Constraint(label, None, why))
                reasons.append(f"{label}: {why}")
                continue
            if look is not None:
                # decided by a screening look: no new full-length run for the kind and the limit
                kinds, limit = ["simulated"], wait_objectives(spec, degraded, (name,))[0][3]
            else:
                at = evaluate_pool(spec, max(needed, 1), degraded=degraded, only=(name,))
                kinds = sorted({c.kind for c in at.checks}) or ["exact"]
                limit = at.checks[0].limit if at.checks else rho_limit
            detail = _DETAILS[name].format(limit=limit, limit_ms=limit * 1e3)
            if degraded and name != "tpot_p99":
                detail += f" with {lost} replica(s) lost"
            if name not in ("utilisation", "tpot_p99") and not exact_least:
                detail += f" (met from {needed + extra} on; the least is not searched further: another constraint binds)"
            if look is not None:
                detail += (f" (its own least, which no replica count depends on: another constraint asks for"
                           f" {ceiling + extra}; simulated, {look.requests:,} requests, met at the upper end of the"
                           f" {look.confidence:.1%} interval, two looks per count)")
            constraints.append(Constraint(label, needed + extra, detail, "+".join(kinds) if len(kinds) > 1 else kinds[0]))
    unattainable = [c for c in constraints if c.replicas_needed is None]
    attainable = [c.replicas_needed for c in constraints if c.replicas_needed is not None]
    replicas = max(attainable) if attainable else 0
    if unattainable:
        return replicas, tuple(constraints), tuple(c.name for c in unattainable), reasons
    binding = tuple(c.name for c in constraints if c.replicas_needed == replicas)
    return replicas, tuple(constraints), binding, reasons


def size_bucket(bucket: Bucket, traffic: BucketTraffic, slo_s: float | None = None,
                degraded_slo_s: float | None = None, targets: Targets | None = None) -> BucketSizing:
    """Size a dedicated pool for one bucket (see the module docstring).

    ``slo_s`` / ``degraded_slo_s`` (e2el, seconds) override the rule's
    (:func:`latency_targets`); TTFT and TPOT objectives come from ``targets``
    and the bucket.
    """
    assert targets is not None, "targets are required"
    lat = latency_targets(targets, bucket)
    if slo_s is not None:
        lat = LatencyTargets(slo_s, degraded_slo_s if degraded_slo_s is not None else slo_s, lat.ttft_s,
                             lat.ttft_degraded_s, lat.tpot_s)
    spec = dedicated_pool_spec(bucket, traffic, targets, lat)
    service = spec.classes[0].service
    s = service.total_s
    slots = bucket.slots
    lost = targets.replicas_lost

    if traffic.arrival_rate == 0:
        zero = Constraint("no traffic", 0, "no request falls in this bucket")
        state = pool_state(0.0, s, 0, slots)
        return BucketSizing(bucket.label, traffic, service, slots, bucket.chips_per_replica, slots / s, lat.e2el_s,
                            lat.e2el_degraded_s, lost, 0, (zero,), ("no traffic",), True, "", state, state, None, None,
                            0.0, spec, None, None)

    replicas, constraints, binding, reasons = size_pool(spec)
    return _assemble(bucket.label, traffic, spec, lat, bucket.chips_per_replica, replicas, constraints, binding, reasons)


def _assemble(name: str, traffic: BucketTraffic, spec: PoolSpec, lat: LatencyTargets, chips_per_replica: int | None,
              replicas: int, constraints: tuple[Constraint, ...], binding: tuple[str, ...], reasons: list[str],
              referee: dict[str, Any] | None = None) -> BucketSizing:
    cls = spec.classes[0]
    service = cls.service
    s = service.total_s
    lam = spec.arrival_rate
    slots = spec.slots
    lost = spec.replicas_lost
    scv = spec.arrival_scv
    feasible = not reasons
    ttft_budget = None
    factor = queue_factor(cls, spec, False)
    if factor is not None and (cls.ttft_slo_s is not None or cls.ttft_slo_degraded_s is not None):
        ttft_budget = factor * s  # the cap the pool check uses, expressed as a wait budget
    slo_cap = min(lat.e2el_s, lat.e2el_degraded_s)
    op = max(replicas - lost, 0)
    return BucketSizing(
        name=name,
        traffic=traffic,
        service=service,
        slots=slots,
        chips_per_replica=chips_per_replica,
        mu=slots / s,
        slo_s=lat.e2el_s,
        degraded_slo_s=lat.e2el_degraded_s,
        replicas_lost=lost,
        replicas=replicas,
        constraints=constraints,
        binding=binding,
        feasible=feasible,
        infeasible_reason="; ".join(reasons),
        normal=pool_state(lam, s, replicas, slots, scv),
        degraded=pool_state(lam, s, op, slots, scv),
        admission_normal=_admission(lam, s, replicas, slots, slo_cap, scv, ttft_budget),
        admission_degraded=_admission(lam, s, op, slots, slo_cap, scv, ttft_budget),
        utilization_expected=lam * service.mean_s / (replicas * slots) if replicas else math.inf,
        pool=spec,
        verdict_normal=evaluate_pool(spec, replicas, degraded=False) if feasible else None,
        verdict_degraded=evaluate_pool(spec, op, degraded=True) if feasible else None,
        referee=referee,
    )


def _admission(lam: float, s: float, replicas: int, slots: int, slo: float, scv: float,
               ttft_budget: float | None) -> AdmissionState | None:
    """The admission report; None where no cap meets the SLO or the models refuse the pool's size."""
    try:
        return admission_state(lam, s, replicas, slots, slo, scv, ttft_wait_budget_s=ttft_budget)
    except InvalidInput:
        return None


def resized(sizing: BucketSizing, replicas: int, constraint: Constraint,
            referee: dict[str, Any] | None = None) -> BucketSizing:
    """``sizing`` with a further constraint (e.g. the simulator referee's) and the replica count it asks for."""
    assert sizing.pool is not None
    constraints = sizing.constraints + (constraint,)
    reasons = [sizing.infeasible_reason] if sizing.infeasible_reason else []
    if constraint.replicas_needed is None:
        reasons.append(f"{constraint.name}: {constraint.detail}")
        binding: tuple[str, ...] = (constraint.name,)
    else:
        binding = tuple(c.name for c in constraints if c.replicas_needed == replicas)
    lat = LatencyTargets(sizing.slo_s, sizing.degraded_slo_s, sizing.pool.classes[0].ttft_slo_s,
                         sizing.pool.classes[0].ttft_slo_degraded_s, sizing.pool.classes[0].tpot_slo_s)
    return _assemble(sizing.name, sizing.traffic, sizing.pool, lat, sizing.chips_per_replica, replicas, constraints,
                     binding, reasons, referee if referee is not None else sizing.referee)
