"""Pools from a sizing: each bucket's dedicated pool as the plan sized it.

``replicas`` and the pool-wide ``Queue_cap`` (the SLO-safe cap of
:mod:`dimensioning.admission`, normal state) come from
:class:`dimensioning.sizing.BucketSizing`; the service law from the bucket's
resolved rates (given or measured). A bucket the sizing gives no replica (no
traffic) gets one idle replica, so every compiled shape answers.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from benchmarks.emulator.config import PoolSpec
from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket
from dimensioning.sizing import BucketSizing

__all__ = ["pools_from_sizing"]


def pools_from_sizing(
    buckets: Sequence[Bucket],
    sizings: Sequence[BucketSizing],
    replicas: Mapping[str, int] | None = None,
    slots: Mapping[str, int] | None = None,
    queue_caps: Mapping[str, int | None] | None = None,
    per_replica_queue: bool = False,
) -> tuple[PoolSpec, ...]:
    """One :class:`PoolSpec` per bucket; the mappings override by bucket name.

    ``per_replica_queue``: take the per-replica queue cap (for routings that
    queue at each replica) instead of the pool-wide one.
    """
    replicas = dict(replicas or {})
    slots = dict(slots or {})
    queue_caps = dict(queue_caps or {})
    names = [b.label for b in buckets]
    for option, mapping in (("--replicas", replicas), ("--slots", slots), ("--queue-cap", queue_caps)):
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise InvalidInput(option, unknown, f"name buckets of the project: {', '.join(names)}")
    pools = []
    for bucket, sizing in zip(buckets, sizings):
        name = bucket.label
        assert bucket.r_prefill is not None and bucket.r_decode is not None
        admission = sizing.admission_normal
        if name in queue_caps:
            cap = queue_caps[name]
        elif admission is None:
            cap = None  # the service time alone exceeds the SLO: no cap helps, none is set
        else:
            cap = admission.queue_cap_per_replica if per_replica_queue else admission.queue_cap
        pools.append(PoolSpec(
            name=name,
            max_prompt_tokens=bucket.max_prompt_tokens,
            max_output_tokens=bucket.max_output_tokens,
            r_prefill=float(bucket.r_prefill),
            r_decode=float(bucket.r_decode),
            l_fixed_s=bucket.l_fixed_s,
            slots=slots.get(name, bucket.slots),
            replicas=replicas.get(name, max(sizing.replicas, 1)),
            queue_cap=cap,
            slo_s=sizing.slo_s,
        ))
    return tuple(pools)
