"""Forecast scenarios: re-plan the fleet for each workload delta and find what runs out first.

Each ``[[forecast.scenario]]`` is applied to the project's workload
(:func:`dimensioning.forecast.apply_scenario`), the whole plan is rebuilt
(sizing, and placement with the N+k feedback when there is a ``[facility]``),
and every resource is set against its capacity:

- the plan's own checks (a bucket no replica count can serve, prompts above
  the largest bucket, the facility's budgets and N+k) are listed as failures;
- chips and racks of the site; IT power (maximum draw of the room) against
  the room supply of one side (A or B must each carry the whole room);
- the API's requests/min and tokens/min limits, when given.

``headroom = 1 - demand / capacity``; the resource with the least headroom
runs out first (negative: already short).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from dimensioning.forecast import ForecastSpec, Scenario, TokenShape, apply_scenario, token_shape
from lpuplan.footprint import final_chips, it_power_kw, populated_racks, site_capacity
from lpuplan.plan import Plan, build_plan
from lpuplan.project import Project

__all__ = ["ResourceUse", "ScenarioResult", "Forecast", "forecast"]


@dataclass(frozen=True)
class ResourceUse:
    """Demand of one resource against its capacity (``unit`` for both)."""

    name: str
    demand: float
    capacity: float
    unit: str
    note: str = ""

    @property
    def headroom(self) -> float:
        if self.capacity <= 0:
            return -math.inf
        return 1.0 - self.demand / self.capacity

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "demand": self.demand, "capacity": self.capacity, "unit": self.unit,
                "headroom": self.headroom, "note": self.note}


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario re-planned: its token shape, its fleet, its resources."""

    name: str
    lambda_peak: float
    shape: TokenShape
    replicas: int
    chips: int | None
    racks: int | None
    it_power_max_kw: float | None
    passed: bool
    failures: tuple[str, ...]
    resources: tuple[ResourceUse, ...]
    notes: tuple[str, ...]

    @property
    def first_exhausted(self) -> ResourceUse | None:
        """The resource with the least headroom (None when nothing is bounded)."""
        return min(self.resources, key=lambda r: r.headroom) if self.resources else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_exhausted
        return {
            "name": self.name,
            "lambda_peak": self.lambda_peak,
            "shape": self.shape.to_dict(),
            "replicas": self.replicas,
            "chips": self.chips,
            "racks": self.racks,
            "it_power_max_kw": self.it_power_max_kw,
            "passed": self.passed,
            "failures": list(self.failures),
            "resources": [r.to_dict() for r in self.resources],
            "first_exhausted": first.name if first is not None else None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Forecast:
    """The baseline and every scenario."""

    baseline: ScenarioResult
    scenarios: tuple[ScenarioResult, ...]

    @property
    def passed(self) -> bool:
        return self.baseline.passed and all(s.passed for s in self.scenarios)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "lpuplan.forecast/1", "passed": self.passed, "baseline": self.baseline.to_dict(),
                "scenarios": [s.to_dict() for s in self.scenarios]}


def _resources(plan: Plan, shape: TokenShape, spec: ForecastSpec) -> list[ResourceUse]:
    out: list[ResourceUse] = []
    site = site_capacity(plan)
    chips = final_chips(plan)
    if site.chips is not None and chips is not None:
        out.append(ResourceUse("site chips", float(chips), float(site.chips), "chips"))
    facility = plan.facility
    if facility is not None:
        out.append(ResourceUse("racks", float(populated_racks(facility)), float(site.racks or 0), "racks"))
        if site.supply_kw is not None:
            out.append(ResourceUse("room power (one side)", it_power_kw(facility, "max"), site.supply_kw, "kW",
                                   "maximum draw of every powered node against the room supply of feed A (or B) alone"))
    limits = spec.api_limits
    if limits.requests_per_min is not None:
        out.append(ResourceUse("API requests/min", 60.0 * shape.requests_per_s, limits.requests_per_min, "requests/min"))
    if limits.tokens_per_min is not None:
        out.append(ResourceUse("API tokens/min", shape.tokens_per_min, limits.tokens_per_min, "tokens/min"))
    return out


def _run(project: Project, spec: ForecastSpec, scenario: Scenario, place: bool) -> ScenarioResult:
    workload, buckets, notes = apply_scenario(project.workload, project.buckets, scenario, spec.cache_hit_rate)
    changed = project.model_copy(update={"workload": workload, "buckets": buckets})
    plan = build_plan(changed, place=place and project.facility is not None)
    shape = token_shape(workload, buckets, plan.traffic)
    facility = plan.facility
    return ScenarioResult(
        name=scenario.name,
        lambda_peak=workload.lambda_peak,
        shape=shape,
        replicas=sum(plan.final_replicas.values()),
        chips=final_chips(plan),
        racks=populated_racks(facility) if facility is not None else None,
        it_power_max_kw=it_power_kw(facility, "max") if facility is not None else None,
        passed=plan.passed,
        failures=tuple(f"{c.name} [{c.subject}]: {c.detail}" if c.detail else f"{c.name} [{c.subject}]"
                       for c in plan.checks if not c.passed),
        resources=tuple(_resources(plan, shape, spec)),
        notes=notes,
    )


def forecast(project: Project, spec: ForecastSpec | None = None, *, place: bool = True,
             progress: Callable[[str], None] | None = None) -> Forecast:
    """Re-plan the baseline and each scenario of ``spec`` (default: the project's ``[forecast]``)."""
    spec = spec or project.forecast or ForecastSpec()
    baseline = _run(project, spec, Scenario(name="baseline"), place)
    results = []
    for scenario in spec.scenario:
        if progress is not None:
            progress(f"scenario {scenario.name}")
        results.append(_run(project, spec, scenario, place))
    return Forecast(baseline, tuple(results))
