"""The one pool check: does a pool of N replicas meet its targets?

A pool is a set of identical replicas of ``slots`` slots each, fed by one
arrival stream (rate ``arrival_rate``, inter-arrival SCV ``arrival_scv``),
serving one or more service classes (a dedicated pool: one bucket; a shared
pool: every bucket, each with its own deterministic ``S_bucket``,
``dimensioning.service_time``). With ``n`` replicas operational it is a
FCFS queue with ``c = n * slots`` servers. :func:`evaluate_pool` checks, in
the normal or the degraded state:

- ``utilisation``: ``lambda E[S] / (n * slots) <= rho_target`` (exact);
- ``e2el_p99``: per class, ``W_p99 + S_class <= SLO`` (the wait W is the
  pool's, the same for every class under FCFS);
- ``ttft_p99``: per class with a TTFT objective,
  ``W_p99 + T_first <= SLO_ttft`` (``T_first = L_fixed + prefill + 1/R_decode``);
- ``tpot_p99``: per class with a TPOT objective, ``1/R_decode <= SLO_tpot``
  (deterministic decode at the replica's occupancy: exact, independent of n);
- ``shed`` (single-class pools): the shed probability with the SLO-safe queue
  cap (``dimensioning.admission``) ``<= shed_target``.

Every figure carries its KIND (the rule, docs/queueing.md "The rule"):
``exact``; ``bound`` (a proven upper bound on the figure); ``approximation+margin``
(an approximation whose error against simulation was measured over a
documented grid and is applied in the safe direction); ``simulated`` (decided
by the simulator at the conservative end of its 95% interval). A figure of
any other kind (``approximation``) may not decide a replica count on its own:
:attr:`FigureCheck.safe` is False and ``lpuplan plan`` has the simulator
referee it.

The sizing's least-N search (``dimensioning.sizing``,
``dimensioning.shared_pool``) and the facility's N+k feedback both call
:func:`evaluate_pool`, so a pool is judged by one model wherever it is judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from dimensioning.admission import depth_factor_for_budget, queue_depth_factor
from dimensioning.errors import InvalidInput
from dimensioning.queueing import MG1, MDc, MDcK, MGc, GIDc, GIDcK
from dimensioning.service_time import ServiceTime

__all__ = [
    "QUANTILE",
    "CONSTRAINTS",
    "SAFE_KINDS",
    "ServiceClass",
    "PoolSpec",
    "FigureCheck",
    "PoolVerdict",
    "figure_kind",
    "evaluate_pool",
    "Look",
    "screen_wait_objectives",
]

QUANTILE = 0.99
CONSTRAINTS = ("utilisation", "e2el_p99", "ttft_p99", "tpot_p99", "shed")
SAFE_KINDS = ("exact", "bound", "approximation+margin", "simulated")
NOT_EVALUATED = "not evaluated"  # the models refused (e.g. a pool beyond their size limit): counts as a miss

# floor(SLO/D)-style comparisons get a relative tolerance so an SLO exactly at a figure counts as met
_TOLERANCE = 1e-12


def figure_kind(method: str) -> str:
    """The rule's kind of a model's ``method`` string.

    ``exact``, ``bound``, ``simulated`` and ``approximation+margin`` are kept;
    any other approximation is ``approximation`` (not safe on its own).
    """
    method = method.strip().lower()
    for kind in SAFE_KINDS:
        if method == kind or method.startswith(kind + ":") or method.startswith(kind + " "):
            return kind
    return "approximation"


@dataclass(frozen=True)
class ServiceClass:
    """One bucket's requests in a pool; times in seconds (None: no such objective)."""

    name: str
    share: float
    service: ServiceTime
    e2el_slo_s: float
    e2el_slo_degraded_s: float
    ttft_slo_s: float | None = None
    ttft_slo_degraded_s: float | None = None
    tpot_slo_s: float | None = None

    def e2el_slo(self, degraded: bool) -> float:
        return self.e2el_slo_degraded_s if degraded else self.e2el_slo_s

    def ttft_slo(self, degraded: bool) -> float | None:
        return self.ttft_slo_degraded_s if degraded else self.ttft_slo_s


@dataclass(frozen=True)
class PoolSpec:
    """What a pool carries and must meet (SI units).

    ``arrival_rate``: requests/s into the pool; ``arrival_scv``: squared
    coefficient of variation of inter-arrival times (1 = Poisson);
    ``classes``: the service classes and their shares of the arrivals (sum 1);
    ``slots``: sequences per replica; ``rho_target_*``: utilisation targets;
    ``shed_target``: shed probability target (None: no shed constraint);
    ``replicas_lost``: replicas down in the degraded state.
    """

    name: str
    arrival_rate: float
    classes: tuple[ServiceClass, ...]
    slots: int
    rho_target_normal: float
    rho_target_degraded: float
    shed_target: float | None
    replicas_lost: int
    arrival_scv: float = 1.0

    @property
    def service_times(self) -> tuple[float, ...]:
        return tuple(c.service.total_s for c in self.classes)

    @property
    def shares(self) -> tuple[float, ...]:
        return tuple(c.share for c in self.classes)

    @property
    def mean_service_s(self) -> float:
        """E[S] over the classes (seconds)."""
        return math.fsum(c.share * c.service.total_s for c in self.classes)

    @property
    def offered_load(self) -> float:
        """lambda E[S], busy slots (erlangs)."""
        return self.arrival_rate * self.mean_service_s

    @property
    def mu(self) -> float:
        """Requests/s per REPLICA: slots / E[S] (``dimensioning.service_time.mu``)."""
        return self.slots / self.mean_service_s

    def rho_target(self, degraded: bool) -> float:
        return self.rho_target_degraded if degraded else self.rho_target_normal

    def unattainable(self, degraded: bool) -> list[tuple[str, str, str]]:
        """(constraint, class, reason) for each objective no replica count can meet."""
        out = []
        for c in self.classes:
            slo = c.e2el_slo(degraded)
            s = c.service.total_s
            if s > slo * (1 + _TOLERANCE):
                out.append(("e2el_p99", c.name, f"the service time S = {s*1e3:.0f} ms exceeds the SLO {slo*1e3:.0f} ms"
                            " (e2el): lower max_output_tokens or max_prompt_tokens, raise r_decode, or relax the SLO"))
            ttft = c.ttft_slo(degraded)
            if ttft is not None and c.service.first_token_s > ttft * (1 + _TOLERANCE):
                out.append(("ttft_p99", c.name, f"L_fixed + prefill + first token = {c.service.first_token_s*1e3:.0f} ms"
                            f" exceeds the TTFT SLO {ttft*1e3:.0f} ms: lower max_prompt_tokens, raise r_prefill, or relax ttft_p99_ms"))
            if c.tpot_slo_s is not None and c.service.token_s > c.tpot_slo_s * (1 + _TOLERANCE):
                out.append(("tpot_p99", c.name, f"1/r_decode = {c.service.token_s*1e3:.1f} ms per token exceeds the TPOT SLO"
                            f" {c.tpot_slo_s*1e3:.1f} ms: raise r_decode (fewer slots) or relax tpot_p99_ms"))
        return out


@dataclass(frozen=True)
class FigureCheck:
    """One constraint's figure against its limit, with the figure's kind (the rule)."""

    constraint: str
    subject: str
    value: float
    limit: float
    unit: str
    passed: bool
    kind: str
    note: str

    @property
    def margin(self) -> float:
        """limit - value (negative: missed)."""
        return self.limit - self.value

    @property
    def safe(self) -> bool:
        """True when the figure may decide a replica count (its kind is in SAFE_KINDS)."""
        return self.kind in SAFE_KINDS


@dataclass(frozen=True)
class PoolVerdict:
    """A pool with ``replicas_operational`` replicas up, checked against every target."""

    pool: str
    replicas_operational: int
    servers: int
    degraded: bool
    checks: tuple[FigureCheck, ...]
    wait_p99_s: float | None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the failed constraints (``constraint[subject]``)."""
        return tuple(f"{c.constraint}[{c.subject}]" for c in self.checks if not c.passed)

    @property
    def unsafe(self) -> tuple[FigureCheck, ...]:
        """Checks whose figure is an approximation without a safe margin."""
        return tuple(c for c in self.checks if not c.safe)

    def check(self, constraint: str, subject: str | None = None) -> FigureCheck | None:
        for c in self.checks:
            if c.constraint == constraint and (subject is None or c.subject == subject):
                return c
        return None


# --- the models (one place decides which queue model judges a pool) --------------------------
@lru_cache(maxsize=4096)
def wait_quantile(arrival_rate: float, times: tuple[float, ...], shares: tuple[float, ...], servers: int,
                  arrival_scv: float, quantile: float = QUANTILE) -> tuple[float, str, str]:
    """(quantile of the pool's queueing delay W in s, kind, note); inf when unstable.

    One service time: M/D/c (exact) or GI/D/c for bursty arrivals (simulated
    at the upper end of its interval); a mixture: M/G/1 (exact) or M/G/c
    (simulated, any arrival SCV).
    """
    load = arrival_rate * math.fsum(t * p for t, p in zip(times, shares))
    if arrival_rate == 0:
        return 0.0, "exact", "no traffic"
    if servers <= 0 or load >= servers:
        return math.inf, "exact", "unstable: offered load >= servers"
    model = _wait_model(arrival_rate, times, shares, servers, arrival_scv)
    return float(model.wait.ppf(quantile)), figure_kind(model.method), model.method_note


def _wait_model(arrival_rate: float, times: tuple[float, ...], shares: tuple[float, ...], servers: int,
                arrival_scv: float, requests: int | None = None) -> MDc | GIDc | MG1 | MGc:
    """THE choice of queue model for a pool's wait (a stable pool with traffic).

    ``requests``: the run length of a simulated model (None: the models' default).
    """
    run = {} if requests is None else {"requests": requests}
    if len(set(times)) == 1:
        if arrival_scv == 1.0:
            return MDc(arrival_rate=arrival_rate, service_time=times[0], servers=servers)
        return GIDc(arrival_rate=arrival_rate, service_time=times[0], servers=servers, arrival_scv=arrival_scv, **run)
    if servers == 1 and arrival_scv == 1.0:
        return MG1(arrival_rate=arrival_rate, service_times=list(times), probabilities=list(shares))
    return MGc(arrival_rate=arrival_rate, service_times=list(times), probabilities=list(shares), servers=servers,
               arrival_scv=arrival_scv, **run)


def wait_is_simulated(spec: PoolSpec, replicas_operational: int) -> bool:
    """Whether the pool's p99 wait at this count is decided by simulation (nothing is computed to say so)."""
    servers = max(int(replicas_operational), 0) * spec.slots
    lam = spec.arrival_rate
    if lam == 0 or servers <= 0 or spec.offered_load >= servers:
        return False
    model = _wait_model(lam, spec.service_times, spec.shares, servers, spec.arrival_scv)
    return isinstance(model, (GIDc, MGc)) and figure_kind(model.method) == "simulated"


def relaxation_arrivals(spec: PoolSpec, replicas_operational: int) -> float:
    """The heavy-traffic relaxation time of the pool's queue, in arrivals (inf when unstable).

    Near saturation the number in a GI/G/c queue behaves like reflected
    Brownian motion with, per arrival, drift ``-(1 - rho)`` and variance
    ``c_a^2 + c_s^2`` (the arrival and service SCVs); RBM with drift ``-m``
    and variance ``v`` relaxes as ``exp(-t m^2 / (2 v))``: relaxation
    ``2 (c_a^2 + c_s^2) / (1 - rho)^2`` arrivals (Whitt, "Planning queueing simulations", Management Science 35(11),
    1989; Asmussen, "Queueing simulation in heavy traffic", Math. Oper. Res.
    17(1), 1992: a run shorter than about ``(1 - rho)^-2`` is biased low). A
    simulation that starts empty needs a warm-up of several of these.
    """
    servers = max(int(replicas_operational), 0) * spec.slots
    if servers <= 0 or spec.offered_load >= servers:
        return math.inf
    rho = spec.offered_load / servers
    mean = spec.mean_service_s
    second = math.fsum(c.share * c.service.total_s ** 2 for c in spec.classes)
    variability = spec.arrival_scv + max(second / mean**2 - 1.0, 0.0)
    return 2.0 * variability / (1.0 - rho) ** 2


@dataclass(frozen=True)
class Look:
    """One look of :func:`screen_wait_objectives`: a simulated p99 wait judged at a widened interval.

    ``passed``: True (every objective met at the interval's upper end), False
    (one missed at its lower end: the whole interval is above the limit), None
    (the interval straddles a limit: this look decides nothing).
    """

    passed: bool | None
    requests: int
    confidence: float
    low_s: float
    high_s: float


def screen_wait_objectives(spec: PoolSpec, replicas_operational: int, *, degraded: bool, constraint: str,
                           requests: int | None, confidence: float) -> Look | None:
    """Judge ``constraint`` (``e2el_p99`` or ``ttft_p99``) from a simulated run of ``requests`` arrivals.

    The p99 wait's interval is the model's own (sectioning over the run's
    batches, Student t) widened to two-sided ``confidence``: its half-width
    times ``t_{B-1, (1+confidence)/2} / t_{B-1, 0.975}``. The objectives and
    the tolerance are :func:`evaluate_pool`'s. None where the pool's wait is
    not simulated (exact models are judged by :func:`evaluate_pool` alone),
    unstable, or beyond the models' size limit.
    """
    from scipy.special import stdtrit

    n = max(int(replicas_operational), 0)
    servers = n * spec.slots
    lam = spec.arrival_rate
    if lam == 0 or servers <= 0 or spec.offered_load >= servers:
        return None
    try:
        model = _wait_model(lam, spec.service_times, spec.shares, servers, spec.arrival_scv, requests)
        if figure_kind(model.method) != "simulated":
            return None
        figures = model.wait.figures  # type: ignore[attr-defined]
    except InvalidInput:
        return None
    mean, _, high = figures.quantile(QUANTILE)
    dof = int(figures.arrivals.size) - 1
    widen = float(stdtrit(dof, 0.5 + confidence / 2)) / float(stdtrit(dof, 0.975))
    half = (high - mean) * widen
    low_s, high_s = max(mean - half, 0.0), mean + half
    objectives = wait_objectives(spec, degraded, (constraint,))
    if all(high_s + part <= limit * (1 + _TOLERANCE) for _, _, part, limit in objectives):
        passed: bool | None = True
    elif any(low_s + part > limit * (1 + _TOLERANCE) for _, _, part, limit in objectives):
        passed = False
    else:
        passed = None
    return Look(passed, model.requests, confidence, low_s, high_s)


def wait_objectives(spec: PoolSpec, degraded: bool,
                     constraints: Iterable[str]) -> list[tuple[str, str, float, float]]:
    """(constraint, class, the part added to the wait W, limit) of the p99 objectives, seconds.

    e2el: ``W_p99 + S_class <= SLO``; TTFT: ``W_p99 + T_first <= SLO_ttft``
    (a class without a TTFT objective has no TTFT row). Class by class, e2el first.
    """
    wanted = set(constraints)
    out: list[tuple[str, str, float, float]] = []
    for c in spec.classes:
        if "e2el_p99" in wanted:
            out.append(("e2el_p99", c.name, c.service.total_s, c.e2el_slo(degraded)))
        ttft = c.ttft_slo(degraded)
        if "ttft_p99" in wanted and ttft is not None:
            out.append(("ttft_p99", c.name, c.service.first_token_s, ttft))
    return out


@lru_cache(maxsize=4096)
def shed_probability(arrival_rate: float, service_s: float, servers: int, capacity: int,
                     arrival_scv: float) -> tuple[float, str, str]:
    """(shed probability, kind, note) of a pool of ``servers`` and ``capacity`` K at ``arrival_rate``."""
    if servers == 0:
        return (1.0 if arrival_rate > 0 else 0.0), "exact", "no replica: everything is shed"
    if arrival_rate == 0:
        return 0.0, "exact", "no traffic"
    if arrival_scv == 1.0:
        model: MDcK | GIDcK = MDcK(arrival_rate=arrival_rate, service_time=service_s, servers=servers, capacity=capacity)
    else:
        model = GIDcK(arrival_rate=arrival_rate, service_time=service_s, servers=servers, capacity=capacity,
                      arrival_scv=arrival_scv)
    return float(model.blocking_probability), figure_kind(model.method), model.method_note


def queue_factor(cls: ServiceClass, spec: PoolSpec, degraded: bool) -> int | None:
    """Waiting requests per server the SLO-safe cap allows (``dimensioning.admission``).

    The cap is configured once, from the stricter of the normal and degraded
    objectives; with fewer replicas it shrinks with them.
    """
    s = cls.service.total_s
    factor = queue_depth_factor(s, min(cls.e2el_slo_s, cls.e2el_slo_degraded_s))
    ttfts = [t for t in (cls.ttft_slo_s, cls.ttft_slo_degraded_s) if t is not None]
    if factor is not None and ttfts:
        ttft_factor = depth_factor_for_budget(s, min(ttfts) - cls.service.first_token_s)
        factor = None if ttft_factor is None else min(factor, ttft_factor)
    return factor


def evaluate_pool(spec: PoolSpec, replicas_operational: int, *, degraded: bool,
                  only: Iterable[str] | None = None) -> PoolVerdict:
    """Check ``spec`` with ``replicas_operational`` replicas up (see the module doc).

    ``only`` restricts the checks to some of :data:`CONSTRAINTS` (the least-N
    search evaluates one constraint at a time).
    """
    wanted = set(CONSTRAINTS if only is None else only)
    n = max(int(replicas_operational), 0)
    servers = n * spec.slots
    lam = spec.arrival_rate
    checks: list[FigureCheck] = []
    state = "degraded" if degraded else "normal"
    if "utilisation" in wanted:
        rho = spec.offered_load / servers if servers else (math.inf if lam > 0 else 0.0)
        limit = spec.rho_target(degraded)
        checks.append(FigureCheck("utilisation", spec.name, rho, limit, "", rho <= limit * (1 + _TOLERANCE), "exact",
                                  f"lambda*E[S]/(n*slots), {state}"))
    w99: float | None = None
    if wanted & {"e2el_p99", "ttft_p99"}:
        try:
            w99, kind, note = wait_quantile(lam, spec.service_times, spec.shares, servers, spec.arrival_scv)
        except InvalidInput as exc:  # a pool beyond the models' size limit: a miss that says why
            w99, kind, note = math.inf, NOT_EVALUATED, exc.fix
        described = {"e2el_p99": "W_p99 + S_bucket", "ttft_p99": "W_p99 + L_fixed + prefill + first token"}
        for name, subject, part, limit in wait_objectives(spec, degraded, wanted):
            value = w99 + part
            checks.append(FigureCheck(name, subject, value, limit, "s", value <= limit * (1 + _TOLERANCE), kind,
                                      f"{described[name]}; {note}"))
    if "tpot_p99" in wanted:
        for c in spec.classes:
            if c.tpot_slo_s is not None:
                value = c.service.token_s
                checks.append(FigureCheck("tpot_p99", c.name, value, c.tpot_slo_s, "s",
                                          value <= c.tpot_slo_s * (1 + _TOLERANCE), "exact",
                                          "1/r_decode at the replica's occupancy (deterministic decode)"))
    if "shed" in wanted and spec.shed_target is not None and len(spec.classes) == 1:
        cls = spec.classes[0]
        factor = queue_factor(cls, spec, degraded)
        if factor is None:
            checks.append(FigureCheck("shed", cls.name, 1.0, spec.shed_target, "probability", False, "exact",
                                      "no queue cap meets the SLO: the service time alone exceeds it"))
        else:
            try:
                p_shed, kind, note = shed_probability(lam, cls.service.total_s, servers, servers * (1 + factor),
                                                      spec.arrival_scv)
            except InvalidInput as exc:
                p_shed, kind, note = 1.0, NOT_EVALUATED, exc.fix
            checks.append(FigureCheck("shed", cls.name, p_shed, spec.shed_target, "probability",
                                      p_shed <= spec.shed_target, kind,
                                      f"Queue_cap = {servers * factor} (SLO-safe); {note}"))
    return PoolVerdict(spec.name, n, servers, degraded, tuple(checks), w99)
