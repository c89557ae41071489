"""Failure-domain verdicts: what each domain takes, and N+k per level, per pool.

The rules of what a loss takes live in :mod:`facility.failure` (computed over
the topology graph); this module turns them into verdicts:

- every domain of every level (:data:`facility.failure.LEVELS`) alone: the
  replicas it takes, what each pool keeps, and whether each pool still passes
  its degraded check (:class:`DomainImpact`);
- N+k at a level: for every pool, the worst ``k`` domains of the level taken
  together (exact: :meth:`facility.failure.FailureModel.worst`), and whether
  the survivors pass the degraded check (:func:`facility.demand.check_pool`:
  ``lambda <= rho_target_degraded * N_operational * mu`` with ``mu`` per replica,
  and the degraded p99).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from facility.demand import PoolCheck, PoolDemand, check_pool
from facility.failure import LEVELS, FailureModel, WorstCase

__all__ = [
    "LEVELS",
    "PoolLoss",
    "DomainImpact",
    "PoolLevelVerdict",
    "LevelVerdict",
    "evaluate_domains",
]


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
    """N+k at one level for one pool: the worst ``k`` domains, replicas lost, and the survivors' check.

    ``method`` is ``"exact"`` (the worst ``k``-subset, found exactly) or
    ``"bound"`` (a supply that can trip made losses non-monotone; ``lost`` is
    then an upper bound: the safe direction).
    """

    pool: str
    replicas: int
    lost: int
    worst_domains: tuple[str, ...]
    check: PoolCheck
    method: str

    @property
    def worst_domain(self) -> str | None:
        """The worst set as one label (``"a + b"``), ``None`` when nothing is lost."""
        return " + ".join(self.worst_domains) if self.worst_domains else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "replicas": self.replicas,
            "lost": self.lost,
            "worst_domain": self.worst_domain,
            "worst_domains": list(self.worst_domains),
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
    worst_domains: tuple[str, ...]
    worst_replicas_lost: int
    pools: tuple[PoolLevelVerdict, ...]
    passed: bool

    @property
    def worst_domain(self) -> str | None:
        """The set of ``n_plus`` domains taking the most replicas over all pools, as one label."""
        return " + ".join(self.worst_domains) if self.worst_domains else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "n_plus": self.n_plus,
            "required": self.required,
            "domains": self.domains,
            "worst_domain": self.worst_domain,
            "worst_domains": list(self.worst_domains),
            "worst_replicas_lost": self.worst_replicas_lost,
            "pools": [p.to_dict() for p in self.pools],
            "passed": self.passed,
        }


def pool_level_verdicts(
    model: FailureModel,
    level: str,
    n_plus: int,
    replicas: Mapping[str, int],
    check: Callable[[str, int], PoolCheck],
) -> tuple[list[PoolLevelVerdict], WorstCase]:
    """Per pool, N+``n_plus`` at ``level``; and the worst set over all pools."""
    worst = model.worst(level, n_plus, pools=sorted(replicas))
    verdicts = []
    for pool in sorted(replicas):
        w = worst[pool]
        verdicts.append(PoolLevelVerdict(pool, replicas[pool], w.lost, w.domains, check(pool, replicas[pool] - w.lost),
                                         "exact" if w.exact else "bound"))
    return verdicts, worst[None]


def evaluate_domains(
    model: FailureModel,
    pools: Mapping[str, PoolDemand],
    replicas: Mapping[str, int],
    *,
    required_level: str,
    n_plus: int,
    check: Callable[[str, int], PoolCheck] | None = None,
) -> tuple[list[LevelVerdict], list[DomainImpact]]:
    """Impact of every domain alone and the N+``n_plus`` verdict of every level (module rules)."""
    cache: dict[tuple[str, int], PoolCheck] = {}

    def cached(pool: str, n_op: int) -> PoolCheck:
        key = (pool, n_op)
        if key not in cache:
            cache[key] = check(pool, n_op) if check is not None else check_pool(pools[pool], n_op, degraded=True)
        return cache[key]

    impacts: list[DomainImpact] = []
    verdicts: list[LevelVerdict] = []
    for level in LEVELS:
        domains = model.domains(level)
        for name in domains:
            lost = sorted(model.lost_replicas([name]))
            counts: dict[str, int] = {}
            for rid in lost:
                pool = model.replica_pool[rid]
                counts[pool] = counts.get(pool, 0) + 1
            losses = tuple(
                PoolLoss(
                    pool,
                    n,
                    replicas[pool] - n,
                    max(replicas[pool] - n, 0) * pools[pool].mu,
                    cached(pool, replicas[pool] - n).passed,
                )
                for pool, n in sorted(counts.items())
            )
            impacts.append(DomainImpact(name, level, model.graph.nodes[name]["kind"],
                                        tuple(model.replica_names[r] for r in lost), losses,
                                        all(p.passed for p in losses)))
        pool_verdicts, overall = pool_level_verdicts(model, level, n_plus, replicas, cached)
        verdicts.append(
            LevelVerdict(
                level=level,
                n_plus=n_plus,
                required=level == required_level,
                domains=len(domains),
                worst_domains=overall.domains if overall.lost > 0 else (),
                worst_replicas_lost=overall.lost,
                pools=tuple(pool_verdicts),
                passed=all(p.check.passed for p in pool_verdicts),
            )
        )
    return verdicts, impacts
