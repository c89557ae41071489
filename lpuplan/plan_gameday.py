"""Game days from a project: the pools' figures, the prediction pipeline, the plan's summary.

Glue between the project (sizing, admission, facility placement) and
:mod:`facility.gameday`: each bucket's dedicated pool becomes a
:class:`~facility.gameday.model.GameDayPool` with the sizing's own figures
(S_bucket at the bound, the per-replica queue cap the admission derives from
the SLO, the final replica count after the facility's N+k feedback).

:func:`gameday_summary` is the plan's game-day section: every domain at the
N+k level and at the level above it, whether the SLO holds through each, the
smallest margin and the worst transient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from dimensioning.errors import InvalidInput
from facility.gameday.blast import domains_at_level
from facility.gameday.model import GameDayPool, GameDaySettings

# the prediction (simulator, numba, scipy.stats) loads where a prediction runs: rendering a
# summary read from the result cache needs none of it
if TYPE_CHECKING:
    from facility.failure import FailureModel
    from facility.gameday.predict import DomainPrediction
    from lpuplan.plan import Plan

__all__ = ["gameday_pools", "predict_plan", "LevelSummary", "GameDaySummary", "gameday_summary", "summary_lines",
           "LEVEL_ABOVE", "parse_domain", "SUMMARY_SETTINGS", "SUMMARY_MAX_REQUESTS"]

LEVEL_ABOVE: dict[str, str | None] = {"node": "rack", "rack": "pod", "pod": "row", "row": None, "feed": "row", "cooling": "row"}
"""The level whose domains contain the given level's (for "one above" in the plan's summary)."""


def gameday_pools(plan: "Plan", *, queue_cap: bool = True, rate_scale: float = 1.0) -> dict[str, GameDayPool]:
    """One :class:`GameDayPool` per bucket with traffic, from the plan's sizing and facility."""
    if plan.facility is None:
        raise InvalidInput("facility", None, "a game day needs the facility model: add a [facility] table (see docs/facility.md)")
    if not (rate_scale > 0 and math.isfinite(rate_scale)):
        raise InvalidInput("--rate", rate_scale, "give the day's load as a positive rate")
    counts = plan.facility.replica_counts
    buckets = {b.label: b for b in plan.project.buckets}
    out = {}
    for sizing in plan.dedicated:
        if sizing.name not in counts:
            continue
        bucket = buckets[sizing.name]
        s = sizing.service
        assert bucket.r_decode is not None
        # the cap the emulator and the plan configure: the admission's per-replica SLO-safe cap (normal state)
        admission = sizing.admission_normal
        cap = admission.queue_cap_per_replica if (queue_cap and admission is not None) else None
        out[sizing.name] = GameDayPool(
            name=sizing.name,
            replicas=counts[sizing.name],
            slots=sizing.slots,
            service_time_s=s.total_s,
            ttft_offset_s=min(s.first_token_s, s.total_s),
            arrival_rate=sizing.traffic.arrival_rate * rate_scale,
            slo_s=sizing.slo_s,
            degraded_slo_s=sizing.degraded_slo_s,
            arrival_scv=plan.targets.arrival_scv,
            queue_cap=cap,
            shed_target=plan.targets.shed_target,
            rho_target_normal=plan.targets.rho_target_normal,
            rho_target_degraded=plan.targets.rho_target_degraded,
            spec=getattr(sizing, "pool", None),
        )
    return out


def parse_domain(text: str) -> str:
    """A domain id as given (``rack:row01-pod02-rack05`` or ``row01-pod02-rack05``; the facility resolves it)."""
    return text.strip()


def predict_plan(
    plan: "Plan",
    *,
    domains: Sequence[str] = (),
    level: str | None = None,
    settings: GameDaySettings | None = None,
    rate_scale: float = 1.0,
    queue_cap: bool = True,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    model: FailureModel | None = None,
) -> list[DomainPrediction]:
    """Predict the named domains, or every domain at ``level``, for a plan.

    ``model``: the facility's failure model if the caller has built it (it is built otherwise).
    """
    from facility.gameday.predict import predict_domains

    settings = settings or GameDaySettings()
    pools = gameday_pools(plan, queue_cap=queue_cap, rate_scale=rate_scale)
    names = [parse_domain(d) for d in domains]
    assert plan.facility is not None
    if level is not None:
        names += domains_at_level(plan.facility, level, model)
    if not names:
        raise InvalidInput("--domain", None, "name a failure domain (--domain rack:NAME) or a level (--level rack)")
    names = list(dict.fromkeys(names))
    return predict_domains(plan.facility, pools, names, settings, rate_scale=rate_scale, scheduler=scheduler,
                           workers=workers, progress=progress, model=model)


@dataclass(frozen=True)
class LevelSummary:
    """Every domain of one level: how many, whether the SLO holds through each, margin, worst transient."""

    level: str
    domains: int
    domains_with_loss: int
    slo_holds: bool
    failing: tuple[str, ...]
    min_margin_s: float
    worst_domain: str | None
    worst_p99_s: float
    worst_recovery_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "domains": self.domains,
            "domains_with_loss": self.domains_with_loss,
            "slo_holds": self.slo_holds,
            "failing": list(self.failing),
            "min_margin_s": self.min_margin_s,
            "worst_domain": self.worst_domain,
            "worst_p99_s": self.worst_p99_s,
            "worst_recovery_s": self.worst_recovery_s,
        }


@dataclass(frozen=True)
class GameDaySummary:
    """The plan's game-day section (levels: the N+k level and the one above).

    ``not_simulated``: why no level was predicted (a pool too large to simulate in the summary), else None.
    """

    levels: tuple[LevelSummary, ...]
    settings: GameDaySettings
    not_simulated: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"levels": [lv.to_dict() for lv in self.levels], "settings": self.settings.to_dict()}
        if self.not_simulated is not None:
            out["not_simulated"] = self.not_simulated
        return out


def _level_summary(level: str, predictions: Sequence[DomainPrediction]) -> LevelSummary:
    with_loss = [p for p in predictions if p.pools]
    failing = tuple(p.domain for p in with_loss if not p.slo_holds)
    margin = min((p.margin_s for p in with_loss), default=math.inf)
    worst = max(with_loss, key=lambda p: (p.worst_p99_s if math.isfinite(p.worst_p99_s) else -1.0), default=None)
    recovery = max((pp.recovered_after_s.hi for p in with_loss for pp in p.pools
                    if math.isfinite(pp.recovered_after_s.hi)), default=0.0)
    return LevelSummary(level, len(predictions), len(with_loss), not failing, failing, margin,
                        None if worst is None else worst.domain, math.nan if worst is None else worst.worst_p99_s, recovery)


SUMMARY_SETTINGS = dict(before_s=60.0, restore_after_s=300.0, recovery_s=120.0, seeds=5)
"""The plan's summary runs a shorter game day with fewer seeds than ``lpuplan gameday`` (it sweeps two
levels); its verdicts use the same rules. Run ``lpuplan gameday`` for the full prediction of one domain."""

SUMMARY_MAX_REQUESTS = 5_000_000
"""Most arrivals one seed of one pool may take in the plan's summary (about 350 MB of records and a
second of simulation each); a pool whose game day needs more is not simulated there, and the summary
says so, rather than holding the plan up for minutes or exhausting memory."""


def _too_large(pools: dict[str, GameDayPool], settings: GameDaySettings) -> str | None:
    """Why the summary cannot simulate these pools' game days (None: it can)."""
    over = [(name, pool.arrival_rate * settings.end_s) for name, pool in sorted(pools.items())
            if pool.arrival_rate * settings.end_s > SUMMARY_MAX_REQUESTS]
    if not over:
        return None
    listed = ", ".join(f"{name} {count:,.0f}" for name, count in over)
    return (f"pool(s) too large for the plan's summary: {listed} simulated requests per run over"
            f" {settings.end_s:g} s, above its cap of {SUMMARY_MAX_REQUESTS:,}; the degraded steady state is"
            " still checked (the N+k checks), the transient is not")


def gameday_summary(plan: "Plan", settings: GameDaySettings | None = None, *, seed: int | None = None) -> GameDaySummary | None:
    """The N+k level and the one above, every domain (None without a facility).

    With N+k for k >= 2 a third row (``"rack x2"``) holds the worst k domains
    of the level failing together, one set per pool (the facility model's
    exact worst sets).
    """
    if plan.facility is None:
        return None
    from facility.gameday.blast import failure_model

    settings = settings or GameDaySettings(**SUMMARY_SETTINGS, seed=seed or 0)
    too_large = _too_large(gameday_pools(plan), settings)
    if too_large is not None:
        return GameDaySummary((), settings, too_large)
    level = plan.facility.required_level
    model = failure_model(plan.facility)  # one model lists every row's domains
    rows: list[tuple[str, list[str]]] = [(lv, domains_at_level(plan.facility, lv, model))
                                         for lv in [level] + ([LEVEL_ABOVE[level]] if LEVEL_ABOVE.get(level) else [])
                                         if lv is not None]
    k = plan.facility.n_plus
    if k >= 2:
        # N+k for k >= 2: the worst k domains of the level fail together (the facility's exact worst sets, per pool)
        worst = model.worst(level, k, pools=sorted(plan.facility.replica_counts))
        rows.append((f"{level} x{k}", sorted({"+".join(w.domains) for pool, w in worst.items()
                                              if pool is not None and w.domains})))
    # One prediction for every row's domains: a domain's prediction depends only on its own losses
    # (each (pool, replicas lost) is simulated with the same seeds whatever else is predicted), so the
    # rows share the runs of the losses they have in common (rack and pod often lose one replica per pool).
    names = list(dict.fromkeys(name for _, row in rows for name in row))
    predictions = (dict(zip(names, predict_plan(plan, domains=names, settings=settings, workers=1, model=model)))
                   if names else {})
    return GameDaySummary(tuple(_level_summary(lv, [predictions[n] for n in row]) for lv, row in rows), settings)


def _margin(x: float) -> str:
    if math.isinf(x):
        return "none (overloaded)" if x < 0 else "unbounded"
    return f"{x * 1e3:,.0f} ms"  # latencies in ms, as every table shows them


def summary_lines(summary: GameDaySummary | None) -> list[str]:
    """The plan's game-day section as text lines (renderers print them; nothing is recomputed)."""
    if summary is None:
        return []
    s = summary.settings
    if summary.not_simulated is not None:
        return [f"Game days: not simulated: {summary.not_simulated}."]
    out = [f"Game days (simulated, {s.seeds} seeds; failover {s.failover_time_s:g} s; `lpuplan gameday` for one domain):"]
    for lv in summary.levels:
        worst = "-" if lv.worst_domain is None else f"{lv.worst_domain} p99 {lv.worst_p99_s * 1e3:,.0f} ms"
        out.append(f"  {lv.level:<8} {lv.domains} domain(s): SLO {'holds' if lv.slo_holds else 'FAILS'} through"
                   f" {'every one' if lv.slo_holds else ', '.join(lv.failing[:3]) + (' ...' if len(lv.failing) > 3 else '')};"
                   f" margin {_margin(lv.min_margin_s)}; worst transient {worst}")
    return out
