"""The plan's simulated figures and the simulator referee.

The REFEREE (:func:`referee_dedicated`) decides a dedicated pool's replica
count wherever a figure that decides it is an approximation without a safe
margin (the rule, docs/queueing.md): bursty arrivals (``arrival_scv != 1``)
for p99 (e2el, TTFT) and shed. It simulates the pool at N (normal) and at
N - replicas_lost (degraded), the p99 without a queue cap and the shed
probability with the sizing's SLO-safe queue cap, and adds replicas until
every figure's conservative 95% interval end meets its target. ``plan`` and
``size`` both run it (the sizing is not safe without it).

The other simulated figures answer three questions, each with a 95%
interval and labelled ``simulated``:

- expected latency of the dedicated pools with the real output-length
  distribution (each request's service from its own prompt and output), beside
  the bucket bound the sizing uses;
- the dedicated pools at the bound under bursty arrivals (``arrival_scv != 1``),
  where the sizing's GI/D/c figures are a two-moment approximation;
- the shared pool with more than one server (mixture of deterministic
  services), refereed only where a figure that decides its N is an
  approximation without a safe margin (:func:`shared_pool_referee_skip`
  says why it is not run otherwise).

Seeded and with a fixed request count, so the same project gives the same
figures on every machine; wall-clock times are not part of the plan.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

from scipy.special import chdtri

from typing import TYPE_CHECKING

from dimensioning.pool import queue_factor
from dimensioning.result_cache import cached
from dimensioning.shared_pool import SharedPoolSizing
from dimensioning.sizing import BucketSizing, Constraint, resized
from dimensioning.traffic import read_trace
from lpuplan.project import Project

# The simulator (numba) loads only where a simulation runs: a rerun whose
# results are all in the on-disk cache (dimensioning.result_cache) never loads it.
if TYPE_CHECKING:
    from dimensioning.simulate.estimates import LatencyEstimate

__all__ = ["SimulatedFigures", "SIMULATION_SEED", "Refereed", "referee_dedicated", "referee_project", "simulate_plan",
           "shared_pool_referee_skip"]

SIMULATION_SEED = 20261123
REFEREE_REQUESTS = 1_000_000
_REFEREE_MAX_REQUESTS = 20_000_000
# bursty pools may need several replicas more than the approximation says; stop well after that
_REFEREE_MAX_STEPS = 24


@dataclass(frozen=True)
class Refereed:
    """The simulator's decision on one dedicated pool (figures JSON-ready)."""

    name: str
    replicas_from_model: int
    replicas: int
    confirmed: bool
    figures: tuple[dict[str, Any], ...]
    requests: int
    seed: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "method": "simulated", "replicas_from_model": self.replicas_from_model,
                "replicas": self.replicas, "confirmed": self.confirmed, "figures": list(self.figures),
                "requests": self.requests, "seed": self.seed, "note": self.note}


def _shed_upper(shed: int, measured: int, sectioning_high: float) -> float:
    """Conservative end for a shed fraction: the sectioning interval's, and never below the
    Garwood 95% upper limit of the count (a run that sheds nothing still has a resolution)."""
    garwood = 0.5 * float(chdtri(2.0 * shed + 2.0, 0.025)) / max(measured, 1)
    return max(sectioning_high, garwood)


def _referee_state(sizing: BucketSizing, replicas: int, degraded: bool, wanted: set[str], requests: int,
                   seed: int) -> list[dict[str, Any]]:
    """Simulate one pool state; one row per refereed constraint."""
    spec = sizing.pool
    assert spec is not None
    state = "degraded" if degraded else "normal"
    if replicas <= 0:
        return [{"state": state, "constraint": c, "replicas_operational": replicas, "value": math.inf,
                 "ci95": [math.inf, math.inf], "limit": 0.0, "passed": False} for c in sorted(wanted)]
    arguments = (sizing, replicas, degraded, wanted, requests, seed)
    return cached("plan.referee_state", arguments, lambda: _simulate_referee_state(*arguments),
                  packages=_SIMULATION_CODE)


def _simulate_referee_state(sizing: BucketSizing, replicas: int, degraded: bool, wanted: set[str], requests: int,
                            seed: int) -> list[dict[str, Any]]:
    """The runs behind :func:`_referee_state` (uncached)."""
    from dimensioning.simulate.arrivals import GammaRenewal, Poisson
    from dimensioning.simulate.run import simulate
    from dimensioning.simulate.scenario import Pool
    from dimensioning.simulate.service import DeterministicService

    spec = sizing.pool
    assert spec is not None
    cls = spec.classes[0]
    s = cls.service.total_s
    state = "degraded" if degraded else "normal"
    process = (Poisson(spec.arrival_rate) if spec.arrival_scv == 1.0
               else GammaRenewal(spec.arrival_rate, spec.arrival_scv))
    rows: list[dict[str, Any]] = []
    if wanted & {"e2el_p99", "ttft_p99"}:
        result = simulate(Pool(replicas=replicas, slots=spec.slots), process, DeterministicService(s),
                          seed=seed, requests=requests)
        wait = result.summary.wait["p99"]
        for name, part, limit in (("e2el_p99", s, cls.e2el_slo(degraded)),
                                  ("ttft_p99", cls.service.first_token_s, cls.ttft_slo(degraded))):
            if name in wanted and limit is not None:
                rows.append({"state": state, "constraint": name, "replicas_operational": replicas,
                             "value": wait.value + part, "ci95": [wait.low + part, wait.high + part],
                             "limit": limit, "passed": wait.high + part <= limit * (1 + 1e-12)})
    if "shed" in wanted and spec.shed_target is not None:
        factor = queue_factor(cls, spec, degraded)
        cap = None if factor is None else factor * replicas * spec.slots
        if cap is not None:
            result = simulate(Pool(replicas=replicas, slots=spec.slots, queue_cap=cap), process,
                              DeterministicService(s), seed=seed + 1, requests=requests)
            summary = result.summary
            rate = summary.shed_rate
            high = _shed_upper(summary.shed, summary.measured, rate.high if rate is not None else 0.0)
            rows.append({"state": state, "constraint": "shed", "replicas_operational": replicas,
                         "value": rate.value if rate is not None else 0.0,
                         "ci95": [rate.low if rate is not None else 0.0, high], "limit": spec.shed_target,
                         "queue_cap": cap, "passed": high <= spec.shed_target})
    return rows


def referee_dedicated(sizing: BucketSizing, *, seed: int = SIMULATION_SEED, requests: int | None = None,
                      progress: Callable[[str], None] | None = None) -> Refereed | None:
    """Simulate the figures of ``sizing`` that are not safe on their own; add replicas until they pass.

    Returns None when every deciding figure is exact, a bound, or an
    approximation with a safe margin. Each step is a fresh seeded run (same
    project, same bytes).
    """
    unsafe = sizing.unsafe_figures
    if not unsafe or sizing.pool is None or not sizing.feasible:
        return None
    say = progress or (lambda _msg: None)
    wanted = {figure.constraint for _, figure in unsafe}
    spec = sizing.pool
    if requests is None:
        # enough arrivals to resolve the shed target: tens of expected sheds at the target
        target = spec.shed_target if "shed" in wanted and spec.shed_target else 1.0
        requests = min(max(REFEREE_REQUESTS, math.ceil(50 / target)), _REFEREE_MAX_REQUESTS)
    lost = sizing.replicas_lost
    n = sizing.replicas
    # a figure that passed at n passes at n + 1 (more servers, same arrivals): only failures are re-simulated
    passed: dict[tuple[str, str], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for _ in range(_REFEREE_MAX_STEPS):
        say(f"refereeing bucket {sizing.name}: simulating {n} replicas")
        rows = []
        for degraded, offset in ((False, 0), (True, 2)):
            state = "degraded" if degraded else "normal"
            todo = {c for c in wanted if (state, c) not in passed}
            if todo:
                rows += _referee_state(sizing, n - lost if degraded else n, degraded, todo, requests, seed + offset)
        for row in rows:
            if row["passed"]:
                passed[(row["state"], row["constraint"])] = row
        failing = [r for r in rows if not r["passed"]]
        rows = sorted(list(passed.values()) + failing, key=lambda r: (r["state"] != "normal", r["constraint"]))
        if not failing:
            break
        n += 1
    confirmed = all(r["passed"] for r in rows)
    arrivals = "Poisson" if spec.arrival_scv == 1.0 else f"gamma renewal, SCV {spec.arrival_scv:g}"
    note = (f"simulated: {requests:,} requests per state, seed {seed}, {arrivals}; deterministic service S_bucket;"
            " judged at the conservative end of the 95% sectioning interval (shed: and the Garwood bound)")
    return Refereed(sizing.name, sizing.replicas, n, confirmed, tuple(rows), requests, seed, note)


def referee_project(dedicated: tuple[BucketSizing, ...], *, seed: int = SIMULATION_SEED,
                    progress: Callable[[str], None] | None = None) -> tuple[tuple[BucketSizing, ...], dict[str, Refereed]]:
    """Referee every dedicated pool with an unsafe deciding figure; return the sizings with the refereed N."""
    out: list[BucketSizing] = []
    decisions: dict[str, Refereed] = {}
    for index, sizing in enumerate(dedicated):
        decision = referee_dedicated(sizing, seed=seed + 10 * index, progress=progress)
        if decision is None:
            out.append(sizing)
            continue
        decisions[sizing.name] = decision
        failed = sorted({f"{r['constraint']} ({r['state']})" for r in decision.figures if not r["passed"]})
        if decision.replicas > sizing.replicas or not decision.confirmed:
            detail = (f"the simulator needs {decision.replicas} replicas (conservative end of the 95% interval)"
                      if decision.confirmed else
                      f"the simulator could not confirm {', '.join(failed)} within {decision.replicas} replicas")
            sizing = resized(sizing, decision.replicas,
                             Constraint("simulated referee", decision.replicas if decision.confirmed else None, detail,
                                        "simulated"), decision.to_dict())
        else:
            sizing = dataclasses.replace(sizing, referee=decision.to_dict())
        out.append(sizing)
    return tuple(out), decisions


@dataclass(frozen=True)
class SimulatedFigures:
    """Simulated figures keyed by question; each value is JSON-ready."""

    expected_with_real_outputs: dict[str, Any] | None
    bursty_at_bound: dict[str, Any] | None
    shared_pool: dict[str, Any] | None
    skipped: tuple[str, ...]


_SIMULATION_CODE = ("dimensioning", "lpuplan")  # what a cached figure depends on besides its arguments


def _latency_figures(buckets: list, arrival_rate: float, replicas: int | list[int], slos: dict[str, float],
                     **kwargs: Any) -> dict[str, Any]:
    """The JSON-ready figures of one :func:`~dimensioning.simulate.estimates.simulate_pool_latency` run.

    Through the on-disk result cache: a rerun with the same pool, seed and
    code reads them back (the same bytes) instead of simulating again.
    """
    def compute() -> dict[str, Any]:
        from dimensioning.simulate.estimates import simulate_pool_latency

        return _estimate_dict(simulate_pool_latency(buckets, arrival_rate, replicas, **kwargs), slos)

    return cached("plan.pool_latency", (buckets, arrival_rate, replicas, slos, kwargs), compute,
                  packages=_SIMULATION_CODE)


def _estimate_dict(est: LatencyEstimate, slo_by_bucket: dict[str, float] | None = None) -> dict[str, Any]:
    buckets = {}
    for name, figure in est.bucket_latency_p99_s.items():
        if figure is None:
            continue
        row = {"latency_p99_s": figure.value, "latency_p99_s_ci95": figure.interval}
        mean = est.bucket_latency_mean_s.get(name)
        if mean is not None:
            row.update(latency_mean_s=mean.value, latency_mean_s_ci95=mean.interval)
        if slo_by_bucket and name in slo_by_bucket:
            row["slo_s"] = slo_by_bucket[name]
            # judged on the interval's upper end: a figure whose interval crosses the SLO is not a pass
            row["within_slo"] = figure.high <= slo_by_bucket[name]
        buckets[name] = row
    return {
        "method": "simulated",
        "note": est.note,
        "requests": est.requests,
        "seed": est.seed,
        "utilization": est.utilization,
        "wait_p99_s": est.wait_p99_s.value,
        "wait_p99_s_ci95": est.wait_p99_s.interval,
        "wait_mean_s": est.wait_mean_s.value,
        "wait_mean_s_ci95": est.wait_mean_s.interval,
        "latency_p99_s": est.latency_p99_s.value,
        "latency_p99_s_ci95": est.latency_p99_s.interval,
        "buckets": buckets,
    }


# the M/G/c approximation is seldom more than a replica or two off; stop well after that
_MAX_REFEREE_STEPS = 12


def shared_pool_referee_skip(shared: SharedPoolSizing) -> str | None:
    """Why the shared pool needs no referee (None: it does), as the plan's ``simulated.skipped`` says it.

    The rule is the dedicated pools' (:func:`referee_dedicated`): only a
    figure that decides N and is an approximation without a safe margin is
    refereed. The shared pool's p99 for c > 1 is :class:`~dimensioning.queueing.MGc`,
    decided by simulation at the upper end of its 95% interval: a central
    FCFS queue over every slot (Kiefer-Wolfowitz recursion), the arrival
    process and service mixture the referee would simulate, and the same
    constraints (every bucket's e2el p99 is ``W_p99 + S_bucket``: under FCFS
    a request's wait does not depend on its own bucket, so the referee's
    per-bucket p99 estimates the same figure from fewer requests), normal at
    N and degraded at N - replicas lost. The referee would re-check a
    simulation with a second simulation of the same model; with an exact
    figure (M/D/c, M/G/1) it would check an exact figure with a noisy one.
    """
    if shared.unsafe_figures or shared.pool is None:
        return None
    kinds = [k for k in shared.figure_kinds if k != "exact"]
    decided = "exact" + "".join(f" or {k}" for k in kinds)
    return (f"shared pool: no referee: every figure deciding its {shared.replicas} replicas is {decided}"
            + (f" (the sizing's simulation, {shared.method_note}: the model the referee would simulate again)"
               if "simulated" in kinds else "")
            + "; the referee runs only for an approximation without a safe margin")


def _referee_shared_pool(buckets: list, shared: SharedPoolSizing, shares: list[float], arrival_scv: float, seed: int,
                         extra: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Simulate the shared pool, normal and degraded; add replicas until every bucket's p99 meets its SLO.

    Run only where a figure that decides the shared pool's N is an
    approximation without a safe margin (:func:`shared_pool_referee_skip`):
    the simulator referees it with N replicas (normal SLOs) and with
    N - replicas_lost (degraded SLOs), each at the conservative end of its
    95% interval. Each step is a fresh seeded simulation, so the result is
    reproducible.
    """
    slos = {v.name: v.slo_s for v in shared.buckets}
    spec = shared.pool
    degraded_slos = ({c.name: c.e2el_slo_degraded_s for c in spec.classes} if spec is not None else slos)
    lost = spec.replicas_lost if spec is not None else 0
    replicas = shared.replicas
    degraded_figures: dict[str, Any] | None = None
    for step in range(_MAX_REFEREE_STEPS):
        say(f"simulating the shared pool with {replicas} replicas")
        figures = _latency_figures(buckets, shared.arrival_rate, replicas, slos, shares=shares,
                                   arrival_scv=arrival_scv, seed=seed, **extra)
        ok = all(row.get("within_slo", True) for row in figures["buckets"].values())
        degraded_figures = None
        if ok and lost > 0:
            if replicas - lost < 1:
                ok = False
            else:
                say(f"simulating the shared pool with {replicas - lost} replicas (degraded)")
                degraded_figures = _latency_figures(buckets, shared.arrival_rate, replicas - lost, degraded_slos,
                                                    shares=shares, arrival_scv=arrival_scv, seed=seed + 1, **extra)
                ok = all(row.get("within_slo", True) for row in degraded_figures["buckets"].values())
        if ok:
            break
        if step < _MAX_REFEREE_STEPS - 1:
            replicas += 1
    figures["replicas"] = replicas
    figures["replicas_from_approximation"] = shared.replicas
    figures["degraded"] = degraded_figures
    figures["within_slo"] = ok
    return figures


def simulate_plan(
    project: Project,
    dedicated: tuple[BucketSizing, ...],
    shared: SharedPoolSizing,
    *,
    seed: int = SIMULATION_SEED,
    requests: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulatedFigures:
    """Run the plan's simulations (a few seconds for the example)."""
    say = progress or (lambda _msg: None)
    extra: dict[str, Any] = {} if requests is None else {"requests": requests}
    workload = project.workload
    buckets = list(project.buckets)
    skipped: list[str] = []
    slos = {b.name: b.slo_s for b in dedicated}
    served = [b for b in dedicated if b.traffic.arrival_rate > 0]
    dedicated_ok = bool(served) and all(b.replicas > 0 and b.feasible for b in served)
    served_rate = sum(b.traffic.arrival_rate for b in served)
    shares = [b.traffic.arrival_rate / served_rate if served_rate else 0.0 for b in dedicated]
    replicas = [max(b.replicas, 1) for b in dedicated]

    expected = None
    if not dedicated_ok:
        skipped.append("expected latency: a bucket has no feasible sizing")
    else:
        say("simulating dedicated pools with real output lengths")
        pairs = None
        if workload.trace is not None:
            trace = read_trace(workload.trace)
            pairs = (trace.prompt_tokens, trace.output_tokens)
        expected = _latency_figures(
            buckets, workload.lambda_peak, replicas, slos, arrival_scv=workload.arrival_scv,
            prompt_tokens=workload.prompt_tokens, output_tokens=workload.output_tokens, trace_pairs=pairs,
            seed=seed, **extra,
        )

    bursty = None
    if workload.arrival_scv != 1.0 and dedicated_ok:
        say("simulating dedicated pools at the bound with bursty arrivals")
        bursty = _latency_figures(buckets, served_rate, replicas, slos, shares=shares,
                                  arrival_scv=workload.arrival_scv, seed=seed + 1, **extra)

    shared_fig = None
    if shared.replicas * shared.slots > 1 and shared.arrival_rate > 0:
        if not shared.feasible:
            skipped.append(f"shared pool: not sized ({shared.infeasible_reason})")
        elif len({b.slots for b in buckets}) > 1:
            skipped.append("shared pool: buckets have different slots; the simulator's shared pool needs one value")
        elif (reason := shared_pool_referee_skip(shared)) is not None:
            skipped.append(reason)
        else:
            shared_fig = _referee_shared_pool(buckets, shared, shares, workload.arrival_scv, seed + 2, extra, say)
    return SimulatedFigures(expected, bursty, shared_fig, tuple(skipped))
