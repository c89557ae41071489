"""Abort conditions and preconditions, each with the predicted value beside its threshold.

Abort conditions (watched during the game day; the alert rules of
:mod:`facility.gameday.rules` and the chaos experiment's probes encode them),
per pool the domain hits:

- ``p99_e2el``: the p99 end-to-end latency above ``abort_p99_factor`` x the
  degraded SLO for ``abort_for_s``; predicted: the largest interval p99 band
  (upper end) after t0;
- ``shed_rate``: the share of requests shed (429) above ``abort_shed_rate``
  for ``abort_for_s``; predicted: the largest phase shed-rate band after t0;
- ``errors_after_failover``: the error share above half the share the router
  sends to dead replicas (``k / N / 2``), still there ``failover_time_s +
  abort_for_s`` after t0 (the router did not fail over); predicted: the
  degraded phase's error-rate band (upper end);
- ``load_above_sized``: the arrival rate above the sized rate plus three
  standard deviations of a Poisson rate over one interval; predicted: the
  day's rate;
- ``replicas_down``: fewer replicas up than ``N - k`` (a second failure);
  predicted ``N - k``.

Site-wide: ``feed_overload``, the most loaded surviving feed above its usable
capacity (80% continuous rating); predicted: its load at maximum draw.

Each carries ``margin`` (threshold minus predicted, in the direction that is
safe) and ``predicted_to_fire`` (margin < 0: the plan itself says the game
day would be aborted, so do not start it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Sequence

from facility.gameday.blast import BlastRadius
from facility.gameday.model import GameDaySettings

if TYPE_CHECKING:
    from facility.gameday.predict import PoolPrediction

__all__ = ["AbortCondition", "Precondition", "abort_conditions", "preconditions"]


@dataclass(frozen=True)
class AbortCondition:
    """Abort when ``signal`` (of ``pool``) is ``above``/``below`` ``threshold`` for ``for_s`` seconds."""

    name: str
    pool: str | None
    signal: str
    direction: str  # "above" | "below"
    threshold: float
    for_s: float
    unit: str
    predicted: float
    description: str

    @property
    def margin(self) -> float:
        if not math.isfinite(self.predicted):
            return -math.inf if self.direction == "above" else math.inf
        return self.threshold - self.predicted if self.direction == "above" else self.predicted - self.threshold

    @property
    def predicted_to_fire(self) -> bool:
        return self.margin < 0

    def crossed(self, value: float) -> bool:
        """Whether an observed value is past the threshold."""
        return value > self.threshold if self.direction == "above" else value < self.threshold

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["margin"] = self.margin
        out["predicted_to_fire"] = self.predicted_to_fire
        return out


@dataclass(frozen=True)
class Precondition:
    """A check before pulling the domain: ``value`` against ``limit``."""

    name: str
    pool: str | None
    value: float
    limit: float
    unit: str
    passed: bool
    detail: str

    @property
    def margin(self) -> float:
        return self.limit - self.value

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["margin"] = self.margin
        return out


def _max_finite(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def abort_conditions(blast: BlastRadius, pools: Sequence["PoolPrediction"], settings: GameDaySettings) -> list[AbortCondition]:
    """The abort conditions of one domain (module notes)."""
    out: list[AbortCondition] = []
    after = ("failover", "degraded")
    for p in pools:
        g = p.pool
        name = g.name
        worst = p.worst_p99_s if math.isfinite(p.worst_p99_s) else math.inf
        out.append(AbortCondition(
            "p99_e2el", name, "e2el_p99_s", "above", settings.abort_p99_factor * g.degraded_slo_s, settings.abort_for_s, "s",
            worst, f"p99 end-to-end latency of {name} above {settings.abort_p99_factor:g} x the degraded SLO"
                   f" ({g.degraded_slo_s:g} s) for {settings.abort_for_s:g} s"))
        shed = _max_finite([p.phases[ph]["shed_rate"].hi for ph in after])
        out.append(AbortCondition(
            "shed_rate", name, "shed_rate", "above", settings.abort_shed_rate, settings.abort_for_s, "share",
            0.0 if math.isnan(shed) else shed,
            f"share of {name}'s requests shed (429) above {settings.abort_shed_rate:.3g} for {settings.abort_for_s:g} s"))
        error_limit = p.lost / g.replicas / 2
        degraded_err = p.phases["degraded"]["error_rate"].hi
        out.append(AbortCondition(
            "errors_after_failover", name, "error_rate", "above", error_limit, settings.failover_time_s + settings.abort_for_s,
            "share", 0.0 if math.isnan(degraded_err) else degraded_err,
            f"errors on {name} above half the share routed to the dead replicas ({error_limit:.3g}) still"
            f" {settings.failover_time_s + settings.abort_for_s:g} s after t0: the router has not failed over"))
        noise = 3 * math.sqrt(g.arrival_rate / settings.interval_s) if g.arrival_rate > 0 else 0.0
        out.append(AbortCondition(
            "load_above_sized", name, "arrival_rps", "above", g.arrival_rate + noise, settings.abort_for_s, "req/s",
            g.arrival_rate, f"arrivals at {name} above the sized {g.arrival_rate:.4g} req/s (+3 sd of a"
                            f" {settings.interval_s:g} s Poisson count) for {settings.abort_for_s:g} s"))
        left = g.replicas - p.lost
        out.append(AbortCondition(
            "replicas_down", name, "replicas_up", "below", float(left), settings.abort_for_s, "replicas",
            float(left), f"fewer than {left} replicas of {name} up: a second failure; restore now"))
    if blast.feed is not None:
        out.append(AbortCondition(
            "feed_overload", None, "feed_load_kw", "above", blast.feed.limit_kw, settings.abort_for_s, "kW",
            blast.feed.load_kw, f"a surviving feed above its usable capacity {blast.feed.limit_kw:.3g} kW"
                                f" (80% continuous rating); worst predicted: {blast.feed.element}"))
    return out


def preconditions(blast: BlastRadius, pools: Sequence["PoolPrediction"], settings: GameDaySettings, *,
                  rate_scale: float = 1.0) -> list[Precondition]:
    """What must hold before the domain is pulled, with the predicted value beside each limit."""
    out: list[Precondition] = []
    for p in pools:
        g = p.pool
        out.append(Precondition("all replicas up", g.name, float(g.replicas), float(g.replicas), "replicas", True,
                                f"replicas_up of {g.name} must read {g.replicas} before t0"))
        rate = g.arrival_rate * rate_scale
        out.append(Precondition("load within sizing", g.name, rate, g.arrival_rate, "req/s", rate <= g.arrival_rate * (1 + 1e-12),
                                "the day's arrival rate must not exceed what the pool was sized for"))
        before = p.phases["before"]["e2el_p99_s"].hi
        out.append(Precondition("p99 within SLO before the failure", g.name, before, g.slo_s, "s", before <= g.slo_s,
                                "simulated p99 of the before phase (upper band) against the SLO"))
        out.append(Precondition("degraded steady state meets the degraded SLO", g.name, p.degraded.latency_p99_s,
                                g.degraded_slo_s, "s", p.degraded.passed,
                                f"{p.degraded.method}: {g.replicas - p.lost} replicas, utilisation {p.degraded.utilization:.3f}"))
    if blast.feed is not None:
        f = blast.feed
        out.append(Precondition("surviving feed within its usable capacity", None, f.load_kw, f.limit_kw, "kW",
                                f.load_kw <= f.limit_kw, f"{f.element}, maximum draw"))
    return out
