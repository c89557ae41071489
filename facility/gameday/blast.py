"""Blast radius: what one failure domain takes down, read from the facility model.

This is the game day's one adapter over :mod:`facility.domains`: it reads the
domain impacts the facility model computed (:class:`facility.plan.FacilityResult`)
and turns one domain into the replicas, pools, chips and racks it takes down,
and the load the surviving power feeds then carry. Nothing here decides what
a domain kills; the facility model does.

Surviving feed load: a rack is fed from A and B; with one side of a rack
(its PDU) or of a row (its panel) gone, the other side carries the rack's
whole maximum draw; otherwise each side carries half. The limit is the feed's
usable continuous capacity (``Layout.feed_usable_kw``: the rating times the
80% continuous-load derate, NEC 210.20(A)/215.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dimensioning.errors import InvalidInput

from facility.plan import FacilityResult

__all__ = ["PoolHit", "FeedLoad", "BlastRadius", "blast_radius", "domains_at_level", "GAMEDAY_LEVELS"]

GAMEDAY_LEVELS: tuple[str, ...] = ("node", "rack", "pod", "row", "feed", "cooling", "fabric")


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


def domains_at_level(facility: FacilityResult, level: str) -> list[str]:
    """Names of every domain at ``level``, in site order (feed domains often take no replica down)."""
    if level not in GAMEDAY_LEVELS:
        raise InvalidInput("--level", level, f"use one of {', '.join(GAMEDAY_LEVELS)}")
    return [d.domain for d in facility.domains if d.level == level]


def _racks_of(facility: FacilityResult, domain: str, level: str, kind: str) -> tuple[str, ...]:
    populated = [r.rack for r in facility.racks if r.powered_nodes > 0]
    if level == "node":
        return tuple(r for r in populated if domain.startswith(r + "-"))
    if kind == "rack PDU" or kind == "chip-to-chip link group":
        return tuple(r for r in populated if domain.startswith(r + "-"))
    if level == "rack":
        return (domain,) if domain in populated else ()
    prefix = domain.split("-panel-")[0].split("-uplink")[0].split("-unit")[0]
    if level == "cooling":
        zone = next((z for z in facility.zones if z.zone == prefix), None)
        if zone is not None:
            return tuple(r.rack for r in facility.racks if r.powered_nodes > 0
                         and facility.layout.zone_of(r.index) == zone.index)
        return ()
    return tuple(r for r in populated if r.startswith(prefix + "-"))


def _feed_load(facility: FacilityResult, kind: str, racks: tuple[str, ...]) -> FeedLoad | None:
    powered = [r for r in facility.racks if r.powered_nodes > 0]
    if not powered:
        return None
    limit = facility.layout.feed_usable_kw
    if kind in ("power panel", "rack PDU"):
        hit = [r for r in powered if r.rack in racks] or powered
        worst = max(hit, key=lambda r: r.max_kw)
        side = "other side"
        return FeedLoad(f"{worst.rack} ({side})", worst.max_kw, limit)
    worst = max(powered, key=lambda r: r.per_feed_normal_kw)
    return FeedLoad(f"{worst.rack} (A or B)", worst.per_feed_normal_kw, limit)


def blast_radius(facility: FacilityResult, domain: str) -> BlastRadius:
    """What ``domain`` (e.g. ``row01-pod02-rack05``) takes down (module notes)."""
    impact = next((d for d in facility.domains if d.domain == domain), None)
    if impact is None:
        levels = sorted({d.level for d in facility.domains})
        example = next((d.domain for d in facility.domains if d.level == "rack"), None)
        raise InvalidInput("--domain", domain,
                           f"no such failure domain in this facility (levels: {', '.join(levels)}; e.g. rack:{example});"
                           " list them with --level LEVEL")
    counts = facility.replica_counts
    by_pool: dict[str, list[str]] = {}
    for name in impact.replicas_lost:
        pool = name.rsplit("/", 1)[0]
        by_pool.setdefault(pool, []).append(name)
    placements = {p.replica: p for p in facility.placements}
    chips = 0
    for name in impact.replicas_lost:
        pool = placements[name].pool if name in placements else name.rsplit("/", 1)[0]
        chips += facility.pool(pool).demand.chips_per_replica
    pools = tuple(PoolHit(pool, counts[pool], len(names), tuple(names)) for pool, names in sorted(by_pool.items()))
    racks = _racks_of(facility, impact.domain, impact.level, impact.kind)
    return BlastRadius(impact.domain, impact.level, impact.kind, pools, chips, racks,
                       _feed_load(facility, impact.kind, racks))
