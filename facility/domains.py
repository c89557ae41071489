"""Failure domains, what each one takes down, and N+1 (N+k) per level.

A failure domain is an element whose loss removes everything that depends on
it (DESIGN.md, "Facility"). Domains and what they kill:

- ``node``: the replica on it (until the rack's spare takes over);
- ``rack``, ``pod``, ``row``: every replica with a node inside;
- ``feed``: a row's panel on side A or B, or one rack PDU; the other side takes
  the load, so it kills only racks whose maximum the other feed alone cannot
  carry (a rack, phase-leg or row-supply check that fails);
- ``cooling``: one unit of a zone; kills the zone's racks only when the units
  left cannot remove the zone's heat;
- ``fabric`` (reported, never a required level): a rack's chip-to-chip link
  group kills the multi-rack replicas through that rack; a pod's Ethernet
  uplink group kills every replica of the pod.

Domains are computed from the placement's rack membership (a node, not each
chip: exact, since a replica dies whole), not by walking the graph per domain.

N+k at a level: for every pool, with ``lost`` the replicas its worst domain at
that level takes (k = 1, exact) or the sum of its k largest losses (k >= 2, an
upper bound on the loss of any k domains), the survivors must pass
``lambda <= rho_target_degraded * N_operational * slots / S`` and the degraded
p99 (:func:`facility.demand.check_pool`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from facility.checks import BudgetCheck
from facility.cooling import ZoneCooling
from facility.demand import PoolCheck, PoolDemand, check_pool
from facility.layout import Layout
from facility.placement import ReplicaPlacement

__all__ = [
    "LEVELS",
    "Domain",
    "PoolLoss",
    "DomainImpact",
    "PoolLevelVerdict",
    "LevelVerdict",
    "enumerate_domains",
    "worst_losses",
    "evaluate_domains",
]

LEVELS: tuple[str, ...] = ("node", "rack", "pod", "row", "feed", "cooling", "fabric")


@dataclass(frozen=True)
class Domain:
    """One failure domain and the replicas (indices into the placement) it takes down."""

    name: str
    level: str
    kind: str
    lost: tuple[int, ...]


def enumerate_domains(
    layout: Layout,
    placements: Sequence[ReplicaPlacement],
    budget_checks: Sequence[BudgetCheck],
    zones: Sequence[ZoneCooling],
) -> Iterator[Domain]:
    """Every failure domain of the populated facility, in site order (module rules)."""
    rack_replicas: list[list[int]] = [[] for _ in range(layout.racks)]
    for rid, p in enumerate(placements):
        for span in p.spans:
            rack_replicas[span.rack_index].append(rid)
    for rid, p in enumerate(placements):
        for span in p.spans:
            for pos in range(span.first_position, span.first_position + span.nodes):
                yield Domain(layout.node_name(span.rack_index, pos), "node", "node", (rid,))
    for g, rids in enumerate(rack_replicas):
        if rids:
            yield Domain(layout.rack_name(g), "rack", "rack", tuple(rids))
    pod_sets: list[set[int]] = [set() for _ in range(layout.pods)]
    row_sets: list[set[int]] = [set() for _ in range(layout.rows)]
    for g, rids in enumerate(rack_replicas):
        pod_sets[layout.pod_of(g)].update(rids)
        row_sets[layout.row_of(g)].update(rids)
    for pod, rids in enumerate(pod_sets):
        if rids:
            yield Domain(layout.pod_name(pod), "pod", "pod", tuple(sorted(rids)))
    for row, rids in enumerate(row_sets):
        if rids:
            yield Domain(layout.row_name(row), "row", "row", tuple(sorted(rids)))
    # feeds: a rack dies with one side down when the other side alone cannot carry it
    weak_racks = {c.element for c in budget_checks if not c.passed and c.kind in ("single feed carries rack", "phase leg max")}
    weak_rows = {c.element for c in budget_checks if not c.passed and c.kind == "row supply per side"}
    for row in range(layout.rows):
        row_name = layout.row_name(row)
        racks = range(row * layout.racks_per_row, (row + 1) * layout.racks_per_row)
        if row_name in weak_rows:
            lost = sorted(row_sets[row])
        else:
            lost = sorted({r for g in racks if layout.rack_name(g) in weak_racks for r in rack_replicas[g]})
        if row_sets[row]:
            for side in ("A", "B"):
                yield Domain(f"{row_name}-panel-{side}", "feed", "power panel", tuple(lost))
    for g, rids in enumerate(rack_replicas):
        if rids:
            name = layout.rack_name(g)
            lost = tuple(rids) if name in weak_racks else ()
            for side in ("A", "B"):
                yield Domain(f"{name}-pdu-{side}", "feed", "rack PDU", lost)
    zone_sets: list[set[int]] = [set() for _ in range(layout.zones)]
    for g, rids in enumerate(rack_replicas):
        zone_sets[layout.zone_of(g)].update(rids)
    for zone in zones:
        if zone.units_installed == 0 or not zone_sets[zone.index]:
            continue
        lost = () if zone.survives_one_unit_loss else tuple(sorted(zone_sets[zone.index]))
        for unit in range(zone.units_installed):
            yield Domain(f"{zone.zone}-unit{unit + 1:02d}", "cooling", "cooling unit", lost)
    for g, rids in enumerate(rack_replicas):
        spanning = tuple(r for r in rids if len(placements[r].spans) > 1)
        if rids:
            yield Domain(f"{layout.rack_name(g)}-c2c", "fabric", "chip-to-chip link group", spanning)
    for pod, rids in enumerate(pod_sets):
        if rids:
            yield Domain(f"{layout.pod_name(pod)}-uplink", "fabric", "Ethernet uplink group", tuple(sorted(rids)))


def worst_losses(
    domains: Sequence[Domain], placements: Sequence[ReplicaPlacement], level: str, n_plus: int
) -> dict[str, tuple[int, str | None]]:
    """Per pool at ``level``: replicas lost (worst domain; sum of the ``n_plus`` worst) and the worst domain."""
    per_pool: dict[str, list[tuple[int, int, str]]] = {}
    for order, domain in enumerate(domains):
        if domain.level != level:
            continue
        counts: dict[str, int] = {}
        for rid in domain.lost:
            pool = placements[rid].pool
            counts[pool] = counts.get(pool, 0) + 1
        for pool, count in counts.items():
            per_pool.setdefault(pool, []).append((-count, order, domain.name))
    out: dict[str, tuple[int, str | None]] = {}
    for pool, losses in per_pool.items():
        losses.sort()
        top = losses[: max(n_plus, 1)]
        out[pool] = (sum(-c for c, _, _ in top[:n_plus]) if n_plus else 0, top[0][2])
    return out


@dataclass(frozen=True)
class PoolLoss:
    """One pool in one domain's loss: replicas lost and left, capacity left (req/s at rho = 1)."""

    pool: str
    lost: int
    left: int
    capacity_left_rps: float
    passed: bool


@dataclass(frozen=True)
class DomainImpact:
    """One domain: the replicas that die, what each pool keeps, and whether every pool survives it."""

    domain: str
    level: str
    kind: str
    replicas_lost: tuple[str, ...]
    pools: tuple[PoolLoss, ...]
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "level": self.level,
            "kind": self.kind,
            "replicas_lost": list(self.replicas_lost),
            "pools": {
                p.pool: {"lost": p.lost, "left": p.left, "capacity_left_rps": p.capacity_left_rps, "passed": p.passed}
                for p in self.pools
            },
            "passed": self.passed,
        }


@dataclass(frozen=True)
class PoolLevelVerdict:
    pool: str
    replicas: int
    lost: int
    worst_domain: str | None
    check: PoolCheck
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "replicas": self.replicas,
            "lost": self.lost,
            "worst_domain": self.worst_domain,
            "method": self.method,
            "check": self.check.to_dict(),
        }


@dataclass(frozen=True)
class LevelVerdict:
    """N+k at one level: per pool, the worst loss and whether the survivors carry the load."""

    level: str
    n_plus: int
    required: bool
    domains: int
    worst_domain: str | None
    worst_replicas_lost: int
    pools: tuple[PoolLevelVerdict, ...]
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "n_plus": self.n_plus,
            "required": self.required,
            "domains": self.domains,
            "worst_domain": self.worst_domain,
            "worst_replicas_lost": self.worst_replicas_lost,
            "pools": [p.to_dict() for p in self.pools],
            "passed": self.passed,
        }


def evaluate_domains(
    domains: Sequence[Domain],
    placements: Sequence[ReplicaPlacement],
    pools: Mapping[str, PoolDemand],
    replicas: Mapping[str, int],
    *,
    required_level: str,
    n_plus: int,
) -> tuple[list[LevelVerdict], list[DomainImpact]]:
    """Impact of every domain and the N+k verdict of every level (module rules)."""
    cache: dict[tuple[str, int], PoolCheck] = {}

    def check(pool: str, n_op: int) -> PoolCheck:
        key = (pool, n_op)
        if key not in cache:
            cache[key] = check_pool(pools[pool], n_op, degraded=True)
        return cache[key]

    impacts: list[DomainImpact] = []
    level_worst: dict[str, tuple[int, str]] = {}
    level_count: dict[str, int] = {}
    for domain in domains:
        counts: dict[str, int] = {}
        for rid in domain.lost:
            pool = placements[rid].pool
            counts[pool] = counts.get(pool, 0) + 1
        losses = tuple(
            PoolLoss(
                pool,
                lost,
                replicas[pool] - lost,
                max(replicas[pool] - lost, 0) * pools[pool].slots / pools[pool].service_time_s,
                check(pool, replicas[pool] - lost).passed,
            )
            for pool, lost in sorted(counts.items())
        )
        impacts.append(
            DomainImpact(
                domain.name,
                domain.level,
                domain.kind,
                tuple(placements[r].replica for r in domain.lost),
                losses,
                all(p.passed for p in losses),
            )
        )
        level_count[domain.level] = level_count.get(domain.level, 0) + 1
        best = level_worst.get(domain.level)
        if best is None or len(domain.lost) > best[0]:
            level_worst[domain.level] = (len(domain.lost), domain.name)
    verdicts: list[LevelVerdict] = []
    for level in LEVELS:
        pool_verdicts = []
        worst = worst_losses(domains, placements, level, n_plus)
        for pool in sorted(pools):
            lost, where = worst.get(pool, (0, None))
            n_op = replicas[pool] - lost
            pool_verdicts.append(
                PoolLevelVerdict(pool, replicas[pool], lost, where, check(pool, n_op), "exact" if n_plus <= 1 else "bound")
            )
        worst_lost, worst_name = level_worst.get(level, (0, None))
        verdicts.append(
            LevelVerdict(
                level=level,
                n_plus=n_plus,
                required=level == required_level,
                domains=level_count.get(level, 0),
                worst_domain=worst_name if worst_lost > 0 else None,
                worst_replicas_lost=worst_lost,
                pools=tuple(pool_verdicts),
                passed=all(p.check.passed for p in pool_verdicts),
            )
        )
    return verdicts, impacts
