"""The ``plan`` pipeline: project -> traffic -> sizing -> admission -> checks.

:func:`build_plan` chains the library packages and returns one
:class:`Plan`; renderers (terminal, Markdown, JSON) only format what it holds.
Every input figure carries its provenance (given, assumed, measured, sourced)
and every computed figure its method (exact, bound, approximation, simulated).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from dimensioning.inputs import Bucket
from dimensioning.keys import E2EL, TPOT, TTFT, slo_key, to_ms, to_output, with_kind
from dimensioning.provenance import Figure, Source
from dimensioning.shared_pool import SharedPoolSizing, size_shared_pool
from dimensioning.sizing import BucketSizing, Targets, size_bucket
from dimensioning.traffic import TrafficSplit, split_traffic
from lpuplan.project import Project

# the facility model (networkx) loads where a plan is placed: `lpuplan size` never places one
if TYPE_CHECKING:
    from facility import FacilityResult
    from lpuplan.plan_simulated import SimulatedFigures

__all__ = ["PLAN_SCHEMA", "Check", "Plan", "build_plan", "size_project"]

PLAN_SCHEMA = "lpuplan.plan/3"  # changes: docs/plan-schema.md


@dataclass(frozen=True)
class Check:
    """One pass/fail verdict with the figures behind it."""

    name: str
    subject: str
    passed: bool
    value: float | None
    limit: float | None
    unit: str
    detail: str
    kind: str = ""  # the figure's kind (exact | bound | approximation+margin | simulated | approximation); "" if none


@dataclass(frozen=True)
class Plan:
    project: Project
    targets: Targets
    traffic: TrafficSplit
    dedicated: tuple[BucketSizing, ...]
    shared: SharedPoolSizing | None  # None only from build_plan(shared=False) (a search sizing dedicated pools)
    inputs: dict[str, Any]
    checks: tuple[Check, ...]
    simulated: SimulatedFigures | None = None
    facility: FacilityResult | None = None
    gameday: Any = None  # lpuplan.plan_gameday.GameDaySummary: the N+k level and the one above

    @property
    def final_replicas(self) -> dict[str, int]:
        """Replicas per bucket after the facility's N+k feedback (the sizing's where no facility)."""
        if self.facility is not None:
            return self.facility.replica_counts
        return {b.name: b.replicas for b in self.dedicated}

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def dedicated_replicas(self) -> int:
        return sum(b.replicas for b in self.dedicated)

    @property
    def dedicated_chips(self) -> int | None:
        if any(b.chips_per_replica is None for b in self.dedicated if b.replicas):
            return None
        return sum(b.replicas * (b.chips_per_replica or 0) for b in self.dedicated)

    @property
    def shared_chips(self) -> int | None:
        if self.shared is None or self.shared.chips_per_replica is None:
            return None
        return self.shared.replicas * self.shared.chips_per_replica

    @property
    def assumptions(self) -> list[str]:
        out = []
        for section, figures in self.inputs.items():
            if section == "buckets":
                for bucket in figures:
                    for key, fig in bucket["figures"].items():
                        if fig["source"] == "assumed":
                            out.append(f"bucket {bucket['name']}: {key} = {fig['value']:g} {fig['unit']}")
            else:
                for key, fig in figures.items():
                    if fig["source"] == "assumed":
                        out.append(f"{section}.{key} = {fig['value']:g} {fig['unit']}")
        for bucket in self.project.buckets:
            if bucket.batch_assumption is not None:
                out.append(f"bucket {bucket.label}: {bucket.batch_assumption}")
            if bucket.mode_assumption is not None:
                out.append(f"bucket {bucket.label}: {bucket.mode_assumption}")
        workload = self.project.workload
        for key in ("prompt_tokens", "output_tokens", "trace"):
            if key in workload.assumed:
                out.append(f"workload.{key}: the {key.replace('_', ' ')} distribution")
        if self.facility is not None:
            layout = self.facility.layout
            shown = {
                "node_power_kw": f"typical {layout.node_power_typical_w / 1e3:g} kW, max {layout.node_power_max_w / 1e3:g} kW per node",
                "rack_power_budget_kw": f"{layout.rack_power_budget_w / 1e3:g} kW per rack",
                "nodes_per_rack": f"{layout.nodes_per_rack} nodes per rack",
                "spare_nodes_per_rack": f"{layout.spare_nodes_per_rack} spare nodes per rack",
            }
            out += [f"facility.{name}: {shown.get(name, 'see facility/facility.json')}"
                    for name, source in sorted(layout.sources.items()) if source == "assumed"]
        return out

    def to_dict(self, *, facility_detail: str | None = None) -> dict[str, Any]:
        """Plain JSON-ready form in the output vocabulary (:mod:`dimensioning.keys`: latencies in ms,
        ``e2el``/``ttft``/``tpot``, ``p99_9``; ``Infinity`` where a queue is unstable).

        The facility appears as its summary (:func:`lpuplan.facility_summary.facility_summary`);
        ``facility_detail`` is the relative path of the facility.json that keeps the detail
        (``lpuplan plan`` passes ``facility/facility.json``; None when none is written).
        """
        from lpuplan.facility_summary import facility_summary
        from lpuplan.verdict import plan_verdict  # the headline is read off this plan, never recomputed

        return {
            "schema": PLAN_SCHEMA,
            "verdict": to_output(plan_verdict(self).to_dict()),
            "project": self.project.name,
            "passed": self.passed,
            "inputs": self.inputs,
            "assumptions": self.assumptions,
            "targets": _targets_dict(self.targets),
            "traffic": _plain(self.traffic),
            "dedicated": {
                "replicas": self.dedicated_replicas,
                "chips": self.dedicated_chips,
                "buckets": [to_output(_bucket_dict(b)) for b in self.dedicated],
            },
            "shared": to_output({**_plain(self.shared), "chips": self.shared_chips}),
            "checks": [to_output(dataclasses.asdict(c)) for c in self.checks],
            "simulated": to_output(_plain(self.simulated)),
            "final_replicas": self.final_replicas,
            "facility": facility_summary(self.facility, facility_detail) if self.facility is not None else None,
            "gameday": to_output(self.gameday.to_dict()) if self.gameday is not None else None,
        }


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _targets_dict(targets: Targets) -> dict[str, Any]:
    """The project-wide objectives under their output names (``<metric>_slo[_degraded]_ms``)."""
    return {
        "rho_target_normal": targets.rho_target_normal,
        "rho_target_degraded": targets.rho_target_degraded,
        "replicas_lost": targets.replicas_lost,
        "shed_target": targets.shed_target,
        "arrival_scv": targets.arrival_scv,
        slo_key(E2EL): to_ms(targets.e2el_p99_s),
        slo_key(E2EL, "degraded"): to_ms(targets.e2el_degraded_p99_s),
        slo_key(TTFT): to_ms(targets.ttft_p99_s),
        slo_key(TTFT, "degraded"): to_ms(targets.ttft_degraded_p99_s),
        slo_key(TPOT): to_ms(targets.tpot_p99_s),
    }


def _bucket_dict(sizing: BucketSizing) -> dict[str, Any]:
    """A bucket's sizing with its internal (SI) field names; :func:`to_output` renames them."""
    out = _plain(sizing)
    out["service"].update(
        total_s=sizing.service.total_s, mean_s=sizing.service.mean_s, conservatism=sizing.service.conservatism,
        first_token_s=sizing.service.first_token_s,
    )
    out["replicas_operational_degraded"] = sizing.replicas_operational_degraded
    if out.get("referee"):
        # a refereed latency row is in seconds, a shed row a share: say so, so the edge converts the first
        out["referee"] = {**out["referee"], "figures": [
            {**row, "unit": "s" if row["constraint"].endswith("_p99") else "share"}
            for row in out["referee"]["figures"]]}
    return out


def _figure(value: float, unit: str, key: str, assumed: tuple[str, ...],
            measured: tuple[float, float, float] | None = None, sources: dict[str, str] | None = None,
            measured_from: str = "") -> dict[str, Any]:
    """An input figure with its provenance: measured beats sourced beats given; assumed is said last."""
    source: Source = "given"
    note = ""
    ci95 = None
    if sources and key in sources:
        source, note = "sourced", sources[key]
    if measured is not None:
        point, low, high = measured
        source, ci95 = "measured", (low, high)
        sized = "" if value == point else (
            "; sized at the interval's conservative end" if value in (low, high) else f"; sized at {value:g}")
        note = f"fit {point:g}, 95% interval [{low:g}, {high:g}]{sized}" + (f"; {measured_from}" if measured_from else "")
    if key in assumed:
        source = "assumed"
    return Figure(value=value, unit=unit, source=source, note=note, ci95=ci95).model_dump()


def _input_figures(project: Project) -> dict[str, Any]:
    w = project.workload
    inputs: dict[str, Any] = {
        "workload": {
            "lambda_peak": _figure(w.lambda_peak, "req/s", "lambda_peak", w.assumed),
            "arrival_scv": _figure(w.arrival_scv, "", "arrival_scv", w.assumed),
        },
        "slo": {
            "p99_ms": _figure(project.slo.p99_ms, "ms", "p99_ms", project.slo.assumed),
            "degraded_p99_ms": _figure(project.slo.degraded_ms, "ms", "degraded_p99_ms", project.slo.assumed),
        },
        "headroom": {
            "rho_target_normal": _figure(project.headroom.rho_target_normal, "", "rho_target_normal", project.headroom.assumed),
            "rho_target_degraded": _figure(project.headroom.rho_target_degraded, "", "rho_target_degraded", project.headroom.assumed),
        },
        "redundancy": {
            "replicas_lost_worst": _figure(project.redundancy.replicas_lost_worst, "replicas", "replicas_lost_worst", project.redundancy.assumed),
        },
        "admission": {
            "shed_target": _figure(project.admission.shed_target, "", "shed_target", project.admission.assumed),
        },
        "buckets": [_bucket_figures(b) for b in project.buckets],
    }
    return inputs


def _bucket_figures(bucket: Bucket) -> dict[str, Any]:
    figures = {
        "max_prompt_tokens": _figure(bucket.max_prompt_tokens, "tokens", "max_prompt_tokens", bucket.assumed),
        "max_output_tokens": _figure(bucket.max_output_tokens, "tokens", "max_output_tokens", bucket.assumed),
        "slots": _figure(bucket.slots, "sequences", "slots", bucket.assumed, sources=bucket.sources),
    }
    for key, unit in (("r_prefill", "tok/s"), ("r_decode", "tok/s"), ("l_fixed_ms", "ms")):
        figures[key] = _figure(getattr(bucket, key), unit, key, bucket.assumed,
                               measured=bucket.measured.get(key), sources=bucket.sources)
    if bucket.service_inflation is not None:  # service time under load over the isolated one (a ratio)
        figures["service_inflation"] = _figure(bucket.service_inflation, "", "service_inflation", bucket.assumed,
                                               measured=bucket.measured.get("service_inflation"),
                                               measured_from=bucket.measured_from.get("service_inflation", ""))
    if bucket.chips_per_replica is not None:
        figures["chips_per_replica"] = _figure(bucket.chips_per_replica, "chips", "chips_per_replica", bucket.assumed, sources=bucket.sources)
    return {"name": bucket.label, "profile": str(bucket.profile) if bucket.profile else None, "figures": figures}


def size_project(project: Project, *, shared_pool: bool = True
                 ) -> tuple[Targets, TrafficSplit, tuple[BucketSizing, ...], SharedPoolSizing | None]:
    """Traffic split, dedicated pools per bucket, and the shared-pool alternative (None without ``shared_pool``)."""
    targets = Targets.from_inputs(project.workload, project.slo, project.headroom, project.redundancy, project.admission)
    split = split_traffic(project.workload, project.buckets)
    dedicated = tuple(size_bucket(b, t, targets=targets) for b, t in zip(project.buckets, split.buckets))
    shared = size_shared_pool(project.buckets, split, None, targets) if shared_pool else None
    return targets, split, dedicated, shared


def _figure_checks(b: BucketSizing) -> list[Check]:
    """One check per deciding figure of a dedicated pool, each with its kind (the rule).

    A figure that is an approximation without a safe margin does not decide:
    where the simulator referee judged it, the referee's figure (conservative
    end of its interval) stands in its place.
    """
    refereed = {(r["state"], r["constraint"]): r for r in (b.referee or {}).get("figures", [])}
    checks = []
    for state, verdict in (("normal", b.verdict_normal), ("degraded", b.verdict_degraded)):
        if verdict is None:
            continue
        lost = f"; {b.replicas_lost} replica(s) lost" if state == "degraded" else ""
        for f in verdict.checks:
            name = f"{f.constraint} ({state})"
            row = refereed.get((state, f.constraint))
            if not f.safe and row is not None:
                high = row["ci95"][1]
                checks.append(Check(name, b.name, bool(row["passed"]), high, row["limit"], f.unit,
                                    f"simulated, conservative end of the 95% interval [{row['ci95'][0]:.4g}, {high:.4g}]"
                                    f" with {row['replicas_operational']} replicas up (the {f.kind} figure"
                                    f" {f.value:.4g} does not decide){lost}", "simulated"))
            elif not f.safe:
                checks.append(Check(name, b.name, False, f.value, f.limit, f.unit,
                                    f"{f.kind} without a safe margin and not refereed by the simulator: {f.note}{lost}",
                                    f.kind))
            else:
                checks.append(Check(name, b.name, f.passed, f.value, f.limit, f.unit, f"{with_kind(f.kind, f.note)}{lost}",
                                    f.kind))
    return checks


def _checks(project: Project, targets: Targets, split: TrafficSplit, dedicated: tuple[BucketSizing, ...]) -> list[Check]:
    checks = [
        Check("unserved prompts", "workload", split.share_unserved <= targets.shed_target, split.share_unserved,
              targets.shed_target, "share",
              f"{split.share_unserved:.3%} of prompts exceed the largest bucket ({project.buckets[-1].max_prompt_tokens} tokens)"
              " and cannot be served; add a larger bucket if this exceeds the shed target", "exact"),
    ]
    for b in dedicated:
        if b.traffic.arrival_rate == 0:
            continue
        checks.append(Check("sizing feasible", b.name, b.feasible, None, None, "", b.infeasible_reason or "every constraint attainable"))
        if not b.feasible:
            continue
        checks += _figure_checks(b)
    return checks


def _facility_checks(result: FacilityResult) -> list[Check]:
    """The facility's verdicts: budgets, placement, N+k at the required level."""
    level = f"N+{result.n_plus} at {result.required_level} level"
    if result.passed:
        return [Check("facility", result.layout.site, True, None, None, "",
                      f"every budget, placement and {level} check passes")]
    return [Check("facility", result.layout.site, False, None, None, "", failure) for failure in result.failures]


def _simulated_checks(simulated: SimulatedFigures) -> list[Check]:
    """The simulator referees the approximate figures (bursty arrivals)."""
    checks = []
    if simulated.bursty_at_bound is not None:
        for name, row in simulated.bursty_at_bound["buckets"].items():
            if "slo_s" not in row:
                continue
            checks.append(Check("p99 latency (simulated, bursty arrivals)", name, row["within_slo"], row["latency_p99_s"], row["slo_s"], "s",
                                "simulated at the bucket bound; passes when the 95% interval's upper end is within the SLO",
                                "simulated"))
    return checks


_GAMEDAY_CODE = ("dimensioning", "facility", "lpuplan")


def _start_gameday_summary(plan: Plan, seed: int | None) -> Any:
    """The plan's game-day summary (every domain of two levels, simulated), started beside the plan's simulations.

    It reads only the project, the sizing and the facility of ``plan`` (not
    its simulated figures or checks), so it runs in a forked child
    (:mod:`dimensioning.forked`) while this process runs ``simulate_plan``.
    The plan is a function of the project and the seed (and the code): a
    rerun of the same project reads the summary from the on-disk result cache
    and forks nothing. Returns an object whose ``result()`` is the summary.
    """
    from dimensioning.forked import ForkedCall
    from dimensioning.result_cache import lookup, store

    arguments = (plan.project, seed)
    hit, summary = lookup("plan.gameday_summary", arguments, packages=_GAMEDAY_CODE)
    if hit:
        return _Ready(summary)

    def compute() -> Any:
        from lpuplan.plan_gameday import gameday_summary  # the simulator (numba) loads only on a miss

        value = gameday_summary(plan, seed=seed)
        store("plan.gameday_summary", arguments, value, packages=_GAMEDAY_CODE)
        return value

    return ForkedCall(compute)


@dataclass(frozen=True)
class _Ready:
    value: Any

    def result(self) -> Any:
        return self.value

    def close(self) -> None:
        pass


def build_plan(project: Project, *, simulate: bool = False, place: bool = True, seed: int | None = None,
               progress: Callable[[str], None] | None = None,
               on_facility: Callable[[FacilityResult], None] | None = None, shared_pool: bool = True) -> Plan:
    """Run the whole pipeline on a validated project.

    With ``simulate``, the simulator adds what has no exact formula (expected
    latency with real output lengths, bursty arrivals, the shared pool with
    c > 1), seeded so the plan stays byte-for-byte reproducible. With
    ``place`` and a ``[facility]`` table, the facility model places the pools
    and checks budgets and N+k. ``on_facility`` is called with the facility
    result as soon as it is final (before the simulations), so a writer can
    start drawing it meanwhile. ``shared_pool=False`` skips the shared-pool
    alternative (``plan.shared`` is None; its M/G/c figures are simulated,
    about a second per plan): for callers that use only the dedicated pools
    (``lpuplan search``), never for a plan that is rendered.
    """
    if simulate and not shared_pool:
        raise ValueError("simulate=True needs the shared pool: call build_plan with shared_pool=True")
    targets, split, dedicated, shared = size_project(project, shared_pool=shared_pool)
    if any(b.unsafe_figures for b in dedicated):
        # the rule: a figure that decides N is exact, a bound, an approximation with a safe margin, or
        # decided by the simulator at the conservative end of its interval; the referee does the last
        from lpuplan.plan_simulated import referee_project

        dedicated, _ = referee_project(dedicated, **({} if seed is None else {"seed": seed}), progress=progress)
    checks = _checks(project, targets, split, dedicated)
    facility = None
    unsized = [b.name for b in dedicated if not b.feasible]
    if place and project.facility is not None:
        if unsized:
            checks.append(Check("facility", "site", False, None, None, "",
                                f"not run: bucket(s) {', '.join(unsized)} cannot be sized, so there is nothing to place"))
        else:
            from facility import plan_facility
            from lpuplan.facility_glue import pool_demands

            demands, sizes = pool_demands(project, dedicated)
            facility = plan_facility(project.hardware, project.facility, project.redundancy, demands, sizes=sizes, progress=progress)
            checks += _facility_checks(facility)
            if on_facility is not None:
                on_facility(facility)
    gameday = None
    if simulate and facility is not None:
        gameday = _start_gameday_summary(Plan(project, targets, split, dedicated, shared, {}, (), None, facility), seed)
    try:
        simulated = None
        if simulate:
            from lpuplan.plan_simulated import simulate_plan  # numba compiles on first use: only when asked

            kwargs = {} if seed is None else {"seed": seed}
            simulated = simulate_plan(project, dedicated, shared, progress=progress, **kwargs)
            checks += _simulated_checks(simulated)
        plan = Plan(project, targets, split, dedicated, shared, _input_figures(project), tuple(checks), simulated,
                    facility, gameday.result() if gameday is not None else None)
    finally:
        if gameday is not None:
            gameday.close()
    return plan

