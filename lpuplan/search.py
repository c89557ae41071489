"""``lpuplan search``: size every configuration of ``[search]``, rank them, recommend one.

Each candidate (:mod:`dimensioning.search_space`) is the project with some
settings changed; it is sized exactly by the same pipeline as ``lpuplan
size`` (sizing and admission; no simulation, no placement). Per candidate:

- SLO compliance: every bucket (or the shared pool) sizeable and every check
  of the plan passing;
- replicas and chips; racks and typical IT power *scaled per chip from a
  placement of the project's own plan on the same platform* (an estimate:
  the placement of the candidate itself may pack differently; ``lpuplan
  plan`` on the chosen configuration gives the placed figures);
- worst e2el and TTFT p99 (normal state) and their SLOs;
- the max sustainable peak (:mod:`dimensioning.knee`: the largest scale of
  every bucket's traffic the pools still pass, normal and degraded);
- cost per hour and QPS per dollar when ``[cost]`` is given.

The report: the recommended configuration (best fitness when ``weights`` are
given, else the cheapest that meets every SLO), a budget alternative (the
cheapest compliant) and a premium one (the compliant one with the most
headroom), the Pareto frontier of cost against worst p99 and against the max
sustainable peak, and every candidate with its raw metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

from dimensioning.cost import CostSpec, FleetFootprint, fleet_cost
from dimensioning.errors import InvalidInput
from dimensioning.knee import CERTIFIED, max_sustainable
from dimensioning.search_space import Candidate, SearchSpec, candidates, fitness, pareto_front
from lpuplan.cost import plan_work
from lpuplan.footprint import final_chips, it_power_kw, populated_racks
from lpuplan.plan import Plan, build_plan
from lpuplan.project import Project

# the max sustainable peak of a candidate to 0.01%: finer than any input it depends on
_RATE_TOL = 1e-4

__all__ = ["CandidateResult", "SearchResult", "apply_candidate", "evaluate_candidate", "search"]


@dataclass(frozen=True)
class CandidateResult:
    """One configuration's metrics (units in the names; None where not computable)."""

    index: int
    label: str
    pool: str
    compliant: bool
    failures: tuple[str, ...]
    replicas: int
    chips: int | None
    racks_estimate: float | None
    it_power_kw_estimate: float | None
    e2el_p99_ms: float
    e2el_slo_ms: float
    ttft_p99_ms: float
    max_sustainable_rps: float
    headroom: float
    cost_per_hour: float | None
    qps_per_dollar: float | None
    fitness: float | None = None
    # how the max rate's pass is certified: the weakest over the pools and states
    # (exact | bound | simulated-at-conservative-end, dimensioning.knee.CERTIFIED)
    max_rate_certified: str = CERTIFIED[0]

    def metrics(self) -> dict[str, float | None]:
        return {"cost_per_hour": self.cost_per_hour, "chips": None if self.chips is None else float(self.chips),
                "e2el_p99_ms": self.e2el_p99_ms, "ttft_p99_ms": self.ttft_p99_ms,
                "max_sustainable_rps": self.max_sustainable_rps, "headroom": self.headroom}

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    """Every candidate, the frontiers and the picks (indices into ``candidates``)."""

    candidates: tuple[CandidateResult, ...]
    recommended: int | None
    budget: int | None
    premium: int | None
    frontier_cost_p99: tuple[int, ...]
    frontier_cost_rate: tuple[int, ...]
    cost_metric: str
    notes: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.recommended is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "lpuplan.search/1",
            "passed": self.passed,
            "cost_metric": self.cost_metric,
            "recommended": self.recommended,
            "budget": self.budget,
            "premium": self.premium,
            "frontier_cost_p99": list(self.frontier_cost_p99),
            "frontier_cost_rate": list(self.frontier_cost_rate),
            "candidates": [c.to_dict() for c in self.candidates],
            "notes": list(self.notes),
        }


def apply_candidate(project: Project, candidate: Candidate) -> Project:
    """The project with the candidate's settings (validated like a project file)."""
    buckets = list(project.buckets)
    keep = candidate.value("buckets")
    if keep is not None:
        names = [b.label for b in buckets]
        unknown = [k for k in keep if k not in names]
        if unknown:
            raise InvalidInput("search.buckets", list(keep), f"names unknown buckets {unknown}; use some of {names}")
        if names[-1] not in keep:
            raise InvalidInput("search.buckets", list(keep),
                               f"drops the largest bucket {names[-1]!r}: its prompts would go unserved; keep it in every set")
        buckets = [b for b in buckets if b.label in keep]
    update: dict[str, Any] = {}
    if candidate.value("max_output_tokens") is not None:
        update["max_output_tokens"] = candidate.value("max_output_tokens")
    if candidate.value("slots") is not None:
        update["slots"] = candidate.value("slots")
    if update:
        buckets = [_revalidated(b, update) for b in buckets]
    headroom = project.headroom
    for name in ("rho_target_normal", "rho_target_degraded"):
        if candidate.value(name) is not None:
            headroom = headroom.model_copy(update={name: candidate.value(name)})
    redundancy = project.redundancy
    if candidate.value("replicas_lost_worst") is not None:
        redundancy = redundancy.model_copy(update={"replicas_lost_worst": candidate.value("replicas_lost_worst")})
    hardware = project.hardware
    if candidate.value("platform") is not None:
        if hardware is None:
            raise InvalidInput("search.platform", candidate.value("platform"), "needs a [hardware] table to change")
        hardware = hardware.model_copy(update={"platform": candidate.value("platform")})
    return project.model_copy(update={"buckets": tuple(buckets), "headroom": headroom, "redundancy": redundancy,
                                      "hardware": hardware})


def _revalidated(bucket: Any, update: dict[str, Any]) -> Any:
    """The bucket with ``update`` applied and validated again (a rates table must still fit the new slots)."""
    from pydantic import ValidationError

    try:
        fresh = type(bucket).model_validate({**bucket.model_dump(), **update})
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        name = next(iter(update))
        raise InvalidInput(f"search.{name}", update[name], f"bucket {bucket.label}: {problem}") from None
    return fresh.model_copy(update={"measured": bucket.measured})


@dataclass(frozen=True)
class _PerChip:
    racks: float | None
    it_power_kw: float | None


def _per_chip(project: Project) -> _PerChip:
    """Racks and typical IT kW per chip of the project's own placed plan (None without [facility])."""
    if project.facility is None:
        return _PerChip(None, None)
    plan = build_plan(project, place=True, shared_pool=False)
    chips = final_chips(plan)
    if plan.facility is None or not chips:
        return _PerChip(None, None)
    racks = populated_racks(plan.facility)
    power = it_power_kw(plan.facility)
    return _PerChip(racks / chips, power / chips)


def _pool_metrics(plan: Plan, shared: bool) -> tuple[int, int | None, float, float, float, float, str, list[str]]:
    """replicas, chips, worst e2el p99 (s), its SLO (s), worst TTFT p99 (s), max sustainable scale, how the
    max rate is certified, failures."""
    failures: list[str] = []
    if shared:
        sh = plan.shared
        assert sh is not None, "a shared candidate's plan sizes the shared pool"
        pools = [(sh.pool, sh.replicas)] if sh.pool is not None else []
        replicas = sh.replicas
        chips = plan.shared_chips
        if not sh.feasible:
            failures.append(f"shared pool: {sh.infeasible_reason}")
        verdicts = [sh.verdict_normal] if sh.verdict_normal is not None else []
    else:
        pools = [(b.pool, b.replicas) for b in plan.dedicated if b.pool is not None and b.traffic.arrival_rate > 0]
        replicas = sum(b.replicas for b in plan.dedicated)
        chips = final_chips(plan)
        failures += [f"{b.name}: {b.infeasible_reason}" for b in plan.dedicated if not b.feasible]
        failures += [f"{c.name} [{c.subject}]" for c in plan.checks if not c.passed and not c.subject.startswith("shared")]
        verdicts = [b.verdict_normal for b in plan.dedicated if b.verdict_normal is not None]
    worst_e2el, worst_slo, worst_ttft = 0.0, math.inf, 0.0
    for verdict in verdicts:
        for check in verdict.checks:
            if check.constraint == "e2el_p99" and (check.value / check.limit > worst_e2el / worst_slo if math.isfinite(worst_slo) else True):
                worst_e2el, worst_slo = check.value, check.limit
            if check.constraint == "ttft_p99":
                worst_ttft = max(worst_ttft, check.value)
    scale = math.inf
    certified = CERTIFIED[0]
    for spec, n in pools:
        if spec.arrival_rate <= 0:
            continue
        for best in (max_sustainable(spec, n, degraded=False, rel_tol=_RATE_TOL),
                     max_sustainable(spec, max(n - spec.replicas_lost, 0), degraded=True, rel_tol=_RATE_TOL)):
            scale = min(scale, best.rps / spec.arrival_rate)
            certified = max(certified, best.certified, key=CERTIFIED.index)
    return replicas, chips, worst_e2el, worst_slo, worst_ttft, scale, certified, failures


def evaluate_candidate(project: Project, candidate: Candidate, per_chip: _PerChip, cost: CostSpec | None,
                       plan: Plan | None = None) -> CandidateResult:
    """Size one candidate and compute its metrics (see the module docstring).

    ``plan`` is the candidate's plan when the caller already built it (candidates
    that differ only in ``pool`` share one).
    """
    shared = candidate.value("pool") == "shared"
    if plan is None:
        plan = build_plan(apply_candidate(project, candidate), place=False, shared_pool=shared)
    replicas, chips, e2el, slo, ttft, scale, certified, failures = _pool_metrics(plan, shared)
    lam = plan.traffic.lambda_peak
    max_rps = lam * scale if math.isfinite(scale) else 0.0
    racks = per_chip.racks * chips if per_chip.racks is not None and chips is not None else None
    power = per_chip.it_power_kw * chips if per_chip.it_power_kw is not None and chips is not None else None
    cost_h = qpd = None
    if cost is not None and chips is not None:
        footprint = FleetFootprint(chips=chips, racks=None if racks is None else math.ceil(racks - 1e-9),
                                   it_power_kw=power, max_sustainable_rps=max_rps)
        breakdown = fleet_cost(cost, footprint, plan_work(plan))
        cost_h, qpd = breakdown.total_h, breakdown.qps_per_dollar
    return CandidateResult(
        index=candidate.index,
        label=candidate.label(),
        pool="shared" if shared else "dedicated",
        compliant=not failures,
        failures=tuple(failures),
        replicas=replicas,
        chips=chips,
        racks_estimate=racks,
        it_power_kw_estimate=power,
        e2el_p99_ms=e2el * 1e3,
        e2el_slo_ms=slo * 1e3,
        ttft_p99_ms=ttft * 1e3,
        max_sustainable_rps=max_rps,
        headroom=scale - 1.0 if math.isfinite(scale) else math.inf,
        cost_per_hour=cost_h,
        qps_per_dollar=qpd,
        max_rate_certified=certified,
    )


def _evaluate_group(task: tuple[Project, tuple[Candidate, ...], _PerChip, CostSpec | None]) -> list[CandidateResult]:
    """Candidates that differ only in ``pool``: one plan sizes both the dedicated pools and the shared one."""
    project, group, per_chip, cost = task
    # the shared pool's M/G/c figures are simulated (about a second each): sized only when a candidate asks
    wants_shared = any(c.value("pool") == "shared" for c in group)
    plan = build_plan(apply_candidate(project, group[0]), place=False, shared_pool=wants_shared)
    return [evaluate_candidate(project, c, per_chip, cost, plan) for c in group]


# dimensions that change only the targets, not the pools' service times: candidates that differ only in
# these share most pools, so they run in one task (and one process's memo of max sustainable rates)
_TARGET_ONLY = ("rho_target_normal", "rho_target_degraded", "pool")


def _evaluate_batch(task: tuple[Project, tuple[tuple[Candidate, ...], ...], _PerChip, CostSpec | None]
                    ) -> list[CandidateResult]:
    """Groups of candidates with the same pools' service times, evaluated in one process (one task)."""
    project, groups, per_chip, cost = task
    return [r for group in groups for r in _evaluate_group((project, group, per_chip, cost))]


def search(project: Project, spec: SearchSpec | None = None, *, scheduler: str | None = None, workers: int | None = None,
           progress: Callable[[int, int], None] | None = None) -> SearchResult:
    """Evaluate every candidate of ``spec`` (default: the project's ``[search]``) and rank them."""
    spec = spec or project.search
    if spec is None:
        raise InvalidInput("search", None, "add a [search] table listing the values to try (see docs/whatif.md)")
    total = spec.size()
    if total > spec.max_candidates:
        raise InvalidInput("search", f"{total} candidates", f"above max_candidates = {spec.max_candidates}:"
                           " narrow the dimensions or raise search.max_candidates")
    cands = candidates(spec)
    platforms = sorted({c.value("platform") for c in cands}, key=lambda p: (p is not None, p or ""))
    per_chip = {p: _per_chip(project if p is None else apply_candidate(project, Candidate(-1, (("platform", p),))))
                for p in platforms}
    cost = project.cost
    groups: dict[tuple[tuple[str, Any], ...], list[Candidate]] = {}
    for c in cands:
        groups.setdefault(tuple(kv for kv in c.choice if kv[0] != "pool"), []).append(c)
    batches: dict[tuple[tuple[str, Any], ...], list[tuple[Candidate, ...]]] = {}
    for key, group in groups.items():
        batches.setdefault(tuple(kv for kv in key if kv[0] not in _TARGET_ONLY), []).append(tuple(group))
    tasks = [(project, tuple(batch), per_chip[batch[0][0].value("platform")], cost) for batch in batches.values()]
    from dimensioning.executor import run_tasks

    sizes = [sum(len(g) for g in batch) for _, batch, _, _ in tasks]
    done_before = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    told = None if progress is None else (lambda done, _total: progress(done_before[done], total))
    evaluated = run_tasks(_evaluate_batch, tasks, scheduler=scheduler, workers=workers, progress=told)
    results = sorted((r for batch in evaluated for r in batch), key=lambda r: r.index)
    cost_metric = "cost_per_hour" if cost is not None else "chips"
    scores = fitness([r.metrics() for r in results], spec.weights) if spec.weights else [None] * len(results)
    results = [replace(r, fitness=s) for r, s in zip(results, scores)]
    compliant = [r for r in results if r.compliant]

    def cost_of(r: CandidateResult) -> float:
        value = r.metrics()[cost_metric]
        return math.inf if value is None else value

    budget = min(compliant, key=lambda r: (cost_of(r), r.e2el_p99_ms, r.index), default=None)
    premium = max(compliant, key=lambda r: (r.headroom, -cost_of(r), -r.index), default=None)
    if spec.weights and compliant:
        recommended = max(compliant, key=lambda r: (r.fitness if r.fitness is not None else -1.0, -cost_of(r), -r.index))
    else:
        recommended = budget
    front_p99 = pareto_front([(cost_of(r), r.e2el_p99_ms) for r in compliant])
    front_rate = pareto_front([(cost_of(r), r.max_sustainable_rps) for r in compliant], maximise_second=True)
    notes = []
    if any(p.racks is not None for p in per_chip.values()):
        notes.append("racks and power are scaled per chip from a placement of the project's own plan on the same"
                     " platform: run `lpuplan plan` on the chosen configuration for placed figures")
    if cost is None:
        notes.append("no [cost] table: configurations are ranked by chips")
    return SearchResult(
        candidates=tuple(results),
        recommended=None if recommended is None else recommended.index,
        budget=None if budget is None else budget.index,
        premium=None if premium is None else premium.index,
        frontier_cost_p99=tuple(compliant[i].index for i in front_p99),
        frontier_cost_rate=tuple(compliant[i].index for i in front_rate),
        cost_metric=cost_metric,
        notes=tuple(notes),
    )
