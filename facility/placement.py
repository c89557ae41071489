"""Placement of replicas on nodes, racks and pods: deterministic, spread, explained.

Rules (issue 5):

- a replica takes whole nodes; the spare nodes of each rack stay free;
- a replica that fits one rack's usable nodes is placed in one rack; a larger
  one spans ``ceil(nodes / usable_nodes_per_rack)`` contiguous racks of one pod
  (possibly one more, when it starts in a partly used rack): its interior racks
  are whole, its end racks may be shared with other replicas;
- replicas of one pool are spread so the largest loss from any single domain is
  as small as possible: greedy, one replica at a time, each goes to the window
  that minimises, lexicographically, the pool's replica count in the most loaded
  domain it touches at the required level, then per row, pod, cooling zone and
  rack; then the number of racks it would share with other replicas; then the
  site order (first window wins), so the result is deterministic.

Replicas are placed in rounds (first replica of every pool, then the second...),
pools with the largest replicas first. :class:`Placer` keeps the state so the
N+1 feedback can add replicas to an existing placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facility.layout import Layout

__all__ = ["ReplicaSpan", "ReplicaPlacement", "Placer", "SPREAD_LEVEL"]

SPREAD_LEVEL: dict[str, str] = {
    "node": "rack",
    "rack": "rack",
    "pod": "pod",
    "row": "row",
    "feed": "rack",
    "cooling": "zone",
}
"""Which domain counter stands for each redundancy level when spreading (feeds are per rack side)."""

_LEVELS = ("rack", "pod", "row", "zone")


@dataclass(frozen=True)
class ReplicaSpan:
    """The part of a replica in one rack: ``nodes`` nodes from position ``first_position`` up."""

    rack: str
    rack_index: int
    first_position: int
    nodes: int


@dataclass(frozen=True)
class ReplicaPlacement:
    """Where one replica is, and why."""

    replica: str
    pool: str
    index: int
    nodes: int
    pod: str
    spans: tuple[ReplicaSpan, ...]
    reason: str
    added_by_feedback: bool = False

    @property
    def rack_indices(self) -> tuple[int, ...]:
        return tuple(s.rack_index for s in self.spans)

    def to_dict(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "pool": self.pool,
            "index": self.index,
            "nodes": self.nodes,
            "pod": self.pod,
            "racks": [s.rack for s in self.spans],
            "spans": [
                {"rack": s.rack, "first_position": s.first_position + 1, "nodes": s.nodes} for s in self.spans
            ],
            "reason": self.reason,
            "added_by_feedback": self.added_by_feedback,
        }


def replica_name(pool: str, index: int) -> str:
    return f"{pool}/{index + 1}"


class Placer:
    """Greedy spreading placer over a :class:`Layout` (mutable; one per plan)."""

    def __init__(self, layout: Layout, required_level: str) -> None:
        self.layout = layout
        self.spread_level = SPREAD_LEVEL[required_level]
        self.required_level = required_level
        self.fill = [0] * layout.racks  # used nodes per rack, counted from the bottom
        self.rack_replicas: list[list[int]] = [[] for _ in range(layout.racks)]
        self.placements: list[ReplicaPlacement] = []
        self.pod_free = [layout.racks_per_pod * layout.usable_nodes_per_rack] * layout.pods
        self._counts: dict[str, dict[str, list[int]]] = {}
        self._rack_row = [layout.row_of(g) for g in range(layout.racks)]
        self._rack_zone = [layout.zone_of(g) for g in range(layout.racks)]

    def _pool_counts(self, pool: str) -> dict[str, list[int]]:
        counts = self._counts.get(pool)
        if counts is None:
            lay = self.layout
            sizes = {"rack": lay.racks, "pod": lay.pods, "row": lay.rows, "zone": lay.zones}
            counts = {level: [0] * size for level, size in sizes.items()}
            self._counts[pool] = counts
        return counts

    def _windows(self, pod: int, nodes: int, allow_split: bool) -> list[list[tuple[int, int]]]:
        """Candidate allocations ``[(rack, nodes), ...]`` in ``pod`` (module rules)."""
        lay = self.layout
        usable = lay.usable_nodes_per_rack
        base = pod * lay.racks_per_pod
        free = [usable - self.fill[g] for g in range(base, base + lay.racks_per_pod)]
        out: list[list[tuple[int, int]]] = []
        if nodes <= usable:
            out.extend([[(base + i, nodes)] for i, f in enumerate(free) if f >= nodes])
            if out or not allow_split:
                return out
        k_min = max(2, -(-nodes // usable))
        size = lay.racks_per_pod
        for k in (k_min, k_min + 1):
            inner = (k - 2) * usable
            if inner >= nodes:
                continue
            for a in range(0, size - k + 1):
                b = a + k - 1
                if any(free[i] != usable for i in range(a + 1, b)):
                    continue
                left = min(free[a], nodes - inner - 1)
                right = nodes - inner - left
                if left < 1 or right < 1 or right > free[b]:
                    continue
                alloc = [(base + a, left)] + [(base + i, usable) for i in range(a + 1, b)] + [(base + b, right)]
                out.append(alloc)
        return out

    def _key(self, pool_counts: dict[str, list[int]], alloc: list[tuple[int, int]], pod: int) -> tuple[int, ...]:
        racks = [g for g, _ in alloc]
        per_level = {
            "rack": max(pool_counts["rack"][g] for g in racks) + 1,
            "pod": pool_counts["pod"][pod] + 1,
            "row": pool_counts["row"][self._rack_row[racks[0]]] + 1,
            "zone": max(pool_counts["zone"][self._rack_zone[g]] for g in racks) + 1,
        }
        shared = sum(1 for g in racks if self.rack_replicas[g])
        return (
            per_level[self.spread_level],
            per_level["row"],
            per_level["pod"],
            per_level["zone"],
            per_level["rack"],
            shared,
            len(racks),
            racks[0],
        )

    def place(self, pool: str, index: int, nodes: int, *, added_by_feedback: bool = False) -> ReplicaPlacement | None:
        """Place one replica of ``nodes`` nodes; ``None`` when no window is left anywhere."""
        counts = self._pool_counts(pool)
        best: tuple[tuple[int, ...], list[tuple[int, int]], int] | None = None
        for allow_split in (False, True):
            for pod in range(self.layout.pods):
                if self.pod_free[pod] < nodes:
                    continue
                for alloc in self._windows(pod, nodes, allow_split):
                    key = self._key(counts, alloc, pod)
                    if best is None or key < best[0]:
                        best = (key, alloc, pod)
            if best is not None:
                break
        if best is None:
            return None
        key, alloc, pod = best
        return self._commit(pool, index, nodes, alloc, pod, key, added_by_feedback)

    def _commit(
        self,
        pool: str,
        index: int,
        nodes: int,
        alloc: list[tuple[int, int]],
        pod: int,
        key: tuple[int, ...],
        added_by_feedback: bool,
    ) -> ReplicaPlacement:
        lay = self.layout
        rid = len(self.placements)
        name = replica_name(pool, index)
        shared_with = sorted(
            {self.placements[r].replica for g, _ in alloc for r in self.rack_replicas[g]}
        )
        spans = []
        for g, count in alloc:
            spans.append(ReplicaSpan(lay.rack_name(g), g, self.fill[g], count))
            self.fill[g] += count
            self.rack_replicas[g].append(rid)
        self.pod_free[pod] -= nodes
        counts = self._pool_counts(pool)
        racks = [g for g, _ in alloc]
        for g in racks:
            counts["rack"][g] += 1
        for zone in {self._rack_zone[g] for g in racks}:
            counts["zone"][zone] += 1
        counts["pod"][pod] += 1
        counts["row"][self._rack_row[racks[0]]] += 1
        where = (
            f"{lay.rack_name(racks[0])}"
            if len(racks) == 1
            else f"{lay.rack_name(racks[0])} .. {lay.rack_name(racks[-1])} ({len(racks)} contiguous racks)"
        )
        reason = (
            f"{where}: the window that keeps pool {pool} at {key[0]} replica(s) per {self.spread_level}"
            f" (then {key[1]} per row, {key[2]} per pod, {key[3]} per cooling zone, {key[4]} per rack)"
        )
        if shared_with:
            reason += f"; shares racks with {', '.join(shared_with)} (no window free of other replicas scored better)"
        else:
            reason += "; shares no rack with another replica"
        reason += "; first such window in site order"
        if added_by_feedback:
            reason += f"; added by the N+1 feedback at level {self.required_level}"
        placement = ReplicaPlacement(name, pool, index, nodes, lay.pod_name(pod), tuple(spans), reason, added_by_feedback)
        self.placements.append(placement)
        return placement
