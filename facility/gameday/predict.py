"""Prediction per failure domain: steady degraded state, transient, bands, verdict.

:func:`predict_domains` is the library entry point (``lpuplan gameday`` and
the plan's game-day summary call it). For each domain it reads the blast
radius (:mod:`facility.gameday.blast`), and for each pool the domain hits:

- the exact steady states, normal and degraded (:mod:`facility.gameday.steady`);
- the transient from the simulator, ``settings.seeds`` seeds
  (:mod:`facility.gameday.transient`), summarised into bands
  (:mod:`facility.gameday.bands`);
- the closed-form expectations a reader can check by hand (requests lost
  during failover, in flight at t0).

Domains that take the same number of replicas from the same pools share one
simulation (with symmetric routing which replicas die does not matter), so
the sweep costs one set of seeds per distinct (pool, replicas lost), however
many domains the site has. The runs go through the executor seam
(:func:`dimensioning.executor.run_tasks`): local processes, or a Dask cluster.

The verdict for a pool: the SLO holds through the failure when the exact
degraded steady state meets the degraded SLO and the upper ends of the
simulated p99 bands of the failover and degraded phases do too (the
conservative end of the simulator's interval); the margin is the degraded
SLO minus the largest of those figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.executor import run_tasks, task_seeds

from facility.gameday.abort import AbortCondition, Precondition, abort_conditions, preconditions
from facility.gameday.bands import Band, band, bands_over_intervals, t_multiplier
from facility.failure import FailureModel
from facility.gameday.blast import BlastRadius, blast_radius, failure_model
from facility.gameday.model import PHASES, SIGNALS, GameDayPool, GameDaySettings
from facility.gameday.steady import (
    SteadyState,
    expected_lost_failover,
    expected_lost_in_flight,
    poisson_interval,
    steady_state,
)
from facility.gameday.signals import PHASE_FIGURES
from facility.gameday.transient import PoolRun, RunTask, simulate_pool_run
from facility.plan import FacilityResult

__all__ = ["PoolPrediction", "DomainPrediction", "predict_domains", "predict_pool", "checks_per_pool"]


def checks_per_pool() -> int:
    """Checked figures per pool (every phase figure in every phase): the Bonferroni count."""
    return len(PHASE_FIGURES) * len(PHASES)


@dataclass(frozen=True)
class PoolPrediction:
    """One pool losing ``lost`` of ``replicas`` replicas: what the game day should show."""

    pool: GameDayPool
    lost: int
    normal: SteadyState
    degraded: SteadyState
    expected_lost_failover: float | None
    expected_lost_failover_interval: tuple[int, int] | None
    expected_lost_in_flight: float | None
    lost_failover: Band
    lost_in_flight: Band
    recovered_after_s: Band
    phases: dict[str, dict[str, Band]]
    t_start_s: tuple[float, ...]
    series: dict[str, dict[str, list[float | None]]]
    seeds: int
    slo_holds: bool
    margin_s: float
    worst_p99_s: float
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.pool.name}:{self.lost}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "pool": self.pool.to_dict(),
            "lost": self.lost,
            "left": self.pool.replicas - self.lost,
            "normal": self.normal.to_dict(),
            "degraded": self.degraded.to_dict(),
            "expected_lost_failover": self.expected_lost_failover,
            "expected_lost_failover_interval99": None if self.expected_lost_failover_interval is None
            else list(self.expected_lost_failover_interval),
            "expected_lost_in_flight": self.expected_lost_in_flight,
            "lost_failover": self.lost_failover.to_dict(),
            "lost_in_flight": self.lost_in_flight.to_dict(),
            "recovered_after_s": self.recovered_after_s.to_dict(),
            "phases": {ph: {k: b.to_dict() for k, b in figs.items()} for ph, figs in self.phases.items()},
            "t_start_s": list(self.t_start_s),
            "series": self.series,
            "seeds": self.seeds,
            "slo_holds": self.slo_holds,
            "margin_s": self.margin_s,
            "worst_p99_s": self.worst_p99_s,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class DomainPrediction:
    """One failure domain: blast radius, each hit pool's prediction, abort conditions, preconditions."""

    blast: BlastRadius
    pools: tuple[PoolPrediction, ...]
    aborts: tuple[AbortCondition, ...]
    preconditions: tuple[Precondition, ...]
    settings: GameDaySettings
    notes: tuple[str, ...] = field(default=())

    @property
    def domain(self) -> str:
        return self.blast.domain

    @property
    def slo_holds(self) -> bool:
        return all(p.slo_holds for p in self.pools)

    @property
    def margin_s(self) -> float:
        return min((p.margin_s for p in self.pools), default=math.inf)

    @property
    def worst_p99_s(self) -> float:
        return max((p.worst_p99_s for p in self.pools), default=math.nan)

    @property
    def go(self) -> bool:
        """Safe to run: the SLO holds, no abort condition is predicted to fire, every precondition passes."""
        return self.slo_holds and not any(a.predicted_to_fire for a in self.aborts) and all(p.passed for p in self.preconditions)

    def reasons(self) -> list[str]:
        """Why the verdict is NO-GO (empty when GO)."""
        out = []
        for p in self.pools:
            g = p.pool
            if p.degraded.failed:
                out.append(f"{g.name}: the pool check fails with {g.replicas - p.lost} replicas: {', '.join(p.degraded.failed)}"
                           + (f" (shed probability {p.degraded.shed_probability:.3g}, target {g.shed_target:g})"
                              if p.degraded.shed_probability is not None and p.degraded.shed_probability > g.shed_target else ""))
            if p.margin_s < 0:
                out.append(f"{g.name}: p99 {p.pool.degraded_slo_s - p.margin_s:.3g} s above the degraded SLO {g.degraded_slo_s:g} s")
        out += [f"abort condition {a.name} ({a.pool or 'site'}) predicted to fire: {a.predicted:.3g} vs {a.threshold:.3g} {a.unit}"
                for a in self.aborts if a.predicted_to_fire]
        out += [f"precondition fails: {c.name} ({c.pool or 'site'})" for c in self.preconditions if not c.passed]
        return out

    def verdict(self) -> str:
        if self.go:
            return "GO"
        return "NO-GO"

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "verdict": self.verdict(),
            "go": self.go,
            "slo_holds": self.slo_holds,
            "margin_s": self.margin_s,
            "worst_p99_s": self.worst_p99_s,
            "blast_radius": self.blast.to_dict(),
            "pools": [p.key for p in self.pools],
            "abort_conditions": [a.to_dict() for a in self.aborts],
            "preconditions": [p.to_dict() for p in self.preconditions],
            "reasons": self.reasons(),
            "notes": list(self.notes),
        }


def _summarise(pool: GameDayPool, lost: int, runs: Sequence[PoolRun], settings: GameDaySettings) -> PoolPrediction:
    k = len(runs)
    mult = t_multiplier(k, settings.alpha, checks_per_pool())
    phases = {ph: {fig: band(np.array([r.phases[ph][fig] for r in runs]), mult) for fig in PHASE_FIGURES} for ph in PHASES}
    series = {sig: bands_over_intervals(np.vstack([r.series[sig] for r in runs]), mult) for sig in SIGNALS}
    normal = steady_state(pool, pool.replicas, degraded=False)
    degraded = steady_state(pool, pool.replicas - lost, degraded=True)
    mean_fail = expected_lost_failover(pool, lost, settings)
    notes = []
    if mean_fail is None and lost:
        notes.append(f"no closed form for requests lost during failover with routing {settings.routing} and"
                     f" unnoticed={settings.unnoticed}: simulated only")
    transient = [phases[ph]["e2el_p99_s"].hi for ph in ("failover", "degraded") if settings.phase_bounds()[ph][1] > settings.phase_bounds()[ph][0]]
    figures = [degraded.latency_p99_s] + [x for x in transient if math.isfinite(x)]
    if lost and any(math.isnan(x) for x in transient):
        figures.append(math.inf)  # no completion at all in a phase: nothing was served
    worst_figure = max(figures)
    holds = degraded.passed and worst_figure <= pool.degraded_slo_s
    peaks = [phases[ph]["peak_e2el_p99_s"].hi for ph in ("failover", "degraded")]
    worst_peak = max((x for x in peaks if math.isfinite(x)), default=math.nan)
    return PoolPrediction(
        pool=pool,
        lost=lost,
        normal=normal,
        degraded=degraded,
        expected_lost_failover=mean_fail,
        expected_lost_failover_interval=None if mean_fail is None else poisson_interval(mean_fail),
        expected_lost_in_flight=expected_lost_in_flight(pool, lost, settings),
        lost_failover=band(np.array([r.lost_failover for r in runs], float), mult),
        lost_in_flight=band(np.array([r.lost_in_flight for r in runs], float), mult),
        recovered_after_s=band(np.array([r.recovered_after_s for r in runs], float), mult),
        phases=phases,
        t_start_s=tuple(float(t) for t in runs[0].t_start_s),
        series=series,
        seeds=k,
        slo_holds=bool(holds),
        margin_s=pool.degraded_slo_s - worst_figure,
        worst_p99_s=worst_peak,
        notes=tuple(notes),
    )


def predict_pool(pool: GameDayPool, lost: int, settings: GameDaySettings, *, scheduler: str | None = None,
                 workers: int | None = None) -> PoolPrediction:
    """One pool losing ``lost`` replicas (all seeds)."""
    seeds = task_seeds(settings.seed, settings.seeds)
    runs = run_tasks(simulate_pool_run, [RunTask(pool, lost, settings, s) for s in seeds], scheduler=scheduler, workers=workers)
    return _summarise(pool, lost, runs, settings)


def predict_domains(
    facility: FacilityResult,
    pools: Mapping[str, GameDayPool],
    domains: Sequence[str],
    settings: GameDaySettings,
    *,
    rate_scale: float = 1.0,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    model: FailureModel | None = None,
) -> list[DomainPrediction]:
    """Predict every domain in ``domains`` (module notes).

    ``pools`` maps each pool name of the facility to its game-day figures
    (replica counts must match the facility's final counts). ``rate_scale``
    is the day's load over the sized peak (shown in the preconditions).
    ``model``: the facility's failure model if the caller has built it
    (:func:`~facility.gameday.blast.failure_model` of the same ``facility``).
    """
    if not domains:
        raise InvalidInput("--domain", [], "give at least one failure domain (or --level LEVEL)")
    for name, count in facility.replica_counts.items():
        if name not in pools:
            raise InvalidInput("pools", sorted(pools), f"pool {name} of the facility has no game-day figures")
        if pools[name].replicas != count:
            raise InvalidInput(f"pools[{name}].replicas", pools[name].replicas,
                               f"the facility places {count}: build the game-day pools from the same plan")
    model = model or failure_model(facility)
    blasts = [blast_radius(facility, d, model) for d in domains]
    keys = sorted({(pool, lost) for b in blasts for pool, lost in b.signature()})
    seeds = task_seeds(settings.seed, settings.seeds)
    tasks = [RunTask(pools[pool], lost, settings, s) for pool, lost in keys for s in seeds]
    runs = run_tasks(simulate_pool_run, tasks, scheduler=scheduler, workers=workers, progress=progress)
    by_key: dict[tuple[str, int], PoolPrediction] = {}
    for i, (pool, lost) in enumerate(keys):
        chunk = runs[i * len(seeds):(i + 1) * len(seeds)]
        by_key[(pool, lost)] = _summarise(pools[pool], lost, chunk, settings)
    out = []
    for b in blasts:
        hit = tuple(by_key[key] for key in b.signature())
        out.append(DomainPrediction(
            blast=b,
            pools=hit,
            aborts=tuple(abort_conditions(b, hit, settings)),
            preconditions=tuple(preconditions(b, hit, settings, rate_scale=rate_scale)),
            settings=settings,
            notes=() if hit else ("this domain takes no replica down: the fleet should show no change"
                                  " beyond the surviving feed's load",),
        ))
    return out
