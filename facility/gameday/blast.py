"""Blast radius: what one failure domain takes down, read from the facility model.

This is the game day's one adapter over the facility's failure rules
(:class:`facility.failure.FailureModel`, computed over the topology graph):
it turns one domain's :class:`~facility.failure.FailureImpact` into the
replicas, pools, chips and racks it takes down, and the most loaded surviving
power element. Nothing here decides what a domain kills; the facility model does.

Surviving feed load: the power element whose load the loss changes and that
ends nearest its continuous limit (breaker x power factor x 80% derate,
NEC 210.20(A)/215.3); when the loss changes no element's load (a rack or pod
loss only takes load away), the most loaded rack feed of the site in normal
running (each side carrying half its rack's maximum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from dimensioning.errors import InvalidInput

from facility.failure import LEVELS, FailureModel, UnknownDomain
from facility.plan import FacilityResult

__all__ = ["PoolHit", "FeedLoad", "BlastRadius", "blast_radius", "domains_at_level", "failure_model", "GAMEDAY_LEVELS"]

GAMEDAY_LEVELS: tuple[str, ...] = tuple(LEVELS)


def failure_model(facility: FacilityResult) -> FailureModel:
    """The facility's failure rules for this placement (build once per sweep)."""
    return FailureModel.from_result(facility)


@dataclass(frozen=True)
class PoolHit:
    """One pool in a domain's loss."""

    pool: str
    replicas: int
    lost: int
    lost_replicas: tuple[str, ...]

    @property
    def left(self) -> int:
        return self.replicas - self.lost

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "replicas": self.replicas, "lost": self.lost, "left": self.left,
                "lost_replicas": list(self.lost_replicas)}


@dataclass(frozen=True)
class FeedLoad:
    """The most loaded surviving feed after the loss (kW, at maximum draw)."""

    element: str
    load_kw: float
    limit_kw: float

    @property
    def fraction(self) -> float:
        return self.load_kw / self.limit_kw if self.limit_kw > 0 else float("inf")

    @property
    def margin_kw(self) -> float:
        return self.limit_kw - self.load_kw

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "load_kw": self.load_kw, "limit_kw": self.limit_kw,
                "fraction": self.fraction, "margin_kw": self.margin_kw}


@dataclass(frozen=True)
class BlastRadius:
    """What one failure domain takes down."""

    domain: str
    level: str
    kind: str
    pools: tuple[PoolHit, ...]
    chips_lost: int
    racks: tuple[str, ...]
    feed: FeedLoad | None

    @property
    def replicas_lost(self) -> int:
        return sum(p.lost for p in self.pools)

    def signature(self) -> tuple[tuple[str, int], ...]:
        """(pool, replicas lost) pairs: domains with one signature share one prediction."""
        return tuple((p.pool, p.lost) for p in self.pools if p.lost)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "level": self.level,
            "kind": self.kind,
            "replicas_lost": self.replicas_lost,
            "pools": [p.to_dict() for p in self.pools],
            "chips_lost": self.chips_lost,
            "racks": list(self.racks),
            "feed": None if self.feed is None else self.feed.to_dict(),
        }


def domains_at_level(facility: FacilityResult, level: str, model: FailureModel | None = None) -> list[str]:
    """Every domain of ``level`` that touches a placed replica, in site order (feeds often take none down)."""
    if level not in GAMEDAY_LEVELS:
        raise InvalidInput("--level", level, f"use one of {', '.join(GAMEDAY_LEVELS)}")
    return list((model or failure_model(facility)).domains(level))


def _baseline_feed(facility: FacilityResult) -> FeedLoad | None:
    powered = [r for r in facility.racks if r.powered_nodes > 0]
    if not powered:
        return None
    worst = max(powered, key=lambda r: r.per_feed_normal_kw)
    return FeedLoad(f"{worst.rack} (A or B)", worst.per_feed_normal_kw, facility.layout.feed_usable_kw)


def blast_radius(facility: FacilityResult, domain: str | Sequence[str], model: FailureModel | None = None) -> BlastRadius:
    """What ``domain`` (``rack:row01-pod02-rack05`` or ``row01-pod02-rack05``) takes down (module notes).

    Several domains (a sequence, or names joined with ``+``) fail together:
    the facility model evaluates their joint loss (two panels of a row darken
    it, which neither does alone); the blast radius is named ``a+b``.
    """
    model = model or failure_model(facility)
    ids = [d.strip() for d in domain.split("+")] if isinstance(domain, str) else list(domain)
    try:
        names = tuple(dict.fromkeys(model.resolve(d) for d in ids))
        impact = model.impact(list(names))
    except UnknownDomain as exc:
        raise InvalidInput("--domain", domain, f"{exc.fix}; list a level's domains with --level LEVEL") from None
    name = "+".join(names)
    level = model.level_of(names[0]) or "other"
    kind = str(model.graph.nodes[names[0]].get("kind", level)) + (f" x{len(names)}" if len(names) > 1 else "")
    pools = tuple(PoolHit(p.pool, p.replicas, p.lost, p.replicas_lost) for p in impact.pools if p.lost)
    feeds = [f for f in impact.feed_loads if f.limit_kw]
    if feeds:
        worst = max(feeds, key=lambda f: f.load_kw / f.limit_kw)
        feed: FeedLoad | None = FeedLoad(f"{worst.element} ({worst.kind}, side {worst.side})", worst.load_kw, worst.limit_kw)
    else:
        feed = _baseline_feed(facility)
    return BlastRadius(name, level, kind, pools, impact.replica_chips_lost, impact.racks_lost, feed)
