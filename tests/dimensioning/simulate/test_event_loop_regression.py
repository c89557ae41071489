"""The compiled event loop gives the same bytes as the engine it replaced.

The event loop was restructured (issue 9: named helpers for dequeue, begin
service, release slot; named event codes) without any intended change of
behaviour. The expected digests below were RECORDED from the previous engine
(commit 550711b, before the restructuring), not computed by any formula: a
refactoring that changes one start time, one tie-break or one retry in any of
these scenarios changes a digest. What the loop computes is checked against
independent references elsewhere (test_engine.py: a Kiefer-Wolfowitz
recursion, the Lindley recursion, hand-worked failure scenarios, invariants).

Inputs are built from integers on a dyadic time grid (multiples of 2**-12 s)
and uniforms from PCG64, so every sum the loop forms is exact in binary
floating point and the digests do not depend on the platform's libm. Coarse
grids make ties between arrivals, completions and failure events common, which
is where an ordering change would show.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from dimensioning.simulate.event_loop import run_event_loop
from dimensioning.simulate.scenario import ROUTING_CODES, UNNOTICED_CODES

TICK = 2.0**-12  # seconds: every input time is a whole number of ticks

# name: (replicas, slots, routing, queue_cap, work_cap, requests, mean gap, service ticks,
#        failure: None or (failed replicas, at, notice, recover, in_service_retry, unnoticed, timeout, max_retries),
#        rejected share, grid coarseness)
SCENARIOS: dict[str, tuple] = {
    "central_c4": (4, 1, "central", -1, np.inf, 3000, 0.28, (2048, 4096, 8192), None, 0.0, 1),
    "central_slots_cap": (3, 4, "central", 5, np.inf, 3000, 0.09, (2048, 4096, 12288), None, 0.0, 1),
    "central_work_cap": (2, 3, "central", -1, 2.0, 3000, 0.16, (4096,), None, 0.0, 1),
    "central_loss_k0": (5, 1, "central", 0, np.inf, 3000, 0.2, (4096, 6144), None, 0.0, 1),
    "random_cap": (4, 2, "random", 3, np.inf, 3000, 0.14, (2048, 4096, 8192), None, 0.0, 1),
    "round_robin": (5, 1, "round_robin", -1, np.inf, 3000, 0.22, (4096,), None, 0.0, 1),
    "jsq_ties": (6, 2, "jsq", 4, np.inf, 3000, 0.09, (4096, 8192), None, 0.0, 128),
    "power_of_two": (6, 1, "power_of_two", -1, np.inf, 3000, 0.19, (2048, 4096, 8192), None, 0.0, 1),
    "power_of_two_single": (1, 2, "power_of_two", 6, np.inf, 2000, 0.6, (2048, 4096), None, 0.0, 1),
    "lwl_work_cap": (4, 3, "least_work_left", -1, 1.5, 3000, 0.09, (1024, 4096, 12288), None, 0.0, 1),
    "rejected_share": (3, 2, "central", 8, np.inf, 3000, 0.15, (2048, 4096, 8192), None, 0.1, 1),
    "central_fail_lost": (4, 2, "central", -1, np.inf, 3000, 0.14, (2048, 4096, 8192),
                          ((1, 2), 120.0, 135.0, np.inf, False, "lost", 0.0, 0), 0.0, 1),
    "central_fail_retry_timeout_recover": (4, 2, "central", 10, np.inf, 3000, 0.14, (2048, 4096, 8192),
                                           ((0, 3), 100.0, 110.0, 250.0, True, "timeout", 2.5, 1), 0.0, 1),
    "central_fail_unnoticed_retry": (3, 2, "central", -1, np.inf, 3000, 0.2, (4096, 8192),
                                     ((1,), 80.0, 95.0, 300.0, True, "retry", 1.0, 2), 0.0, 256),
    "jsq_black_hole_recover": (5, 1, "jsq", -1, np.inf, 3000, 0.25, (4096, 6144),
                               ((0,), 150.0, 170.0, 400.0, False, "lost", 0.0, 0), 0.0, 1),
    "lwl_fail_timeout_retry": (4, 2, "least_work_left", 6, np.inf, 3000, 0.15, (2048, 4096, 8192),
                               ((2,), 90.0, 100.0, np.inf, True, "timeout", 3.0, 1), 0.0, 1),
    "random_fail_all": (3, 1, "random", -1, np.inf, 2000, 0.5, (4096,),
                        ((0, 1, 2), 300.0, 310.0, np.inf, True, "retry", 2.0, 1), 0.0, 1),
    "central_fail_all_stranded": (2, 2, "central", -1, np.inf, 2000, 0.3, (4096, 8192),
                                  ((0, 1), 200.0, 204.0, np.inf, False, "timeout", 1.0, 0), 0.0, 1),
    "round_robin_fail_retry_cap": (4, 1, "round_robin", 3, np.inf, 3000, 0.28, (4096, 8192),
                                   ((1, 3), 100.0, 120.0, 320.0, True, "retry", 4.0, 3), 0.0, 512),
    "power_of_two_fail_recover": (5, 2, "power_of_two", 4, 3.0, 3000, 0.1, (2048, 4096, 8192),
                                  ((4,), 60.0, 61.0, 200.0, True, "timeout", 0.5, 1), 0.0, 1),
    "central_ties_fail_at_completion": (2, 1, "central", -1, np.inf, 1500, 0.8, (4096,),
                                        ((0,), 64.0, 64.0, 128.0, True, "lost", 0.0, 1), 0.0, 2048),
}

# Recorded from the previous engine (commit 550711b): sha256 of the seven output
# arrays (first 16 hex digits) and the outcome counts (completed, shed, lost,
# rejected, unresolved = -1).
RECORDED: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {
    'central_c4': ('df90a4c19c902297', (3000, 0, 0, 0, 0)),
    'central_slots_cap': ('78dc6b11fd566879', (2169, 831, 0, 0, 0)),
    'central_work_cap': ('e860cb8892941e43', (2927, 73, 0, 0, 0)),
    'central_loss_k0': ('a519a548a854dfdc', (1997, 1003, 0, 0, 0)),
    'random_cap': ('09e33b6e7f7cb9d3', (2553, 447, 0, 0, 0)),
    'round_robin': ('da40e2db7443c395', (3000, 0, 0, 0, 0)),
    'jsq_ties': ('e9a6754f0844f084', (2267, 733, 0, 0, 0)),
    'power_of_two': ('b7dc9247d0921be3', (3000, 0, 0, 0, 0)),
    'power_of_two_single': ('d00327b71a8758e5', (2000, 0, 0, 0, 0)),
    'lwl_work_cap': ('4df47705a6df6218', (2392, 608, 0, 0, 0)),
    'rejected_share': ('d1a096dba2f1446b', (2278, 443, 0, 279, 0)),
    'central_fail_lost': ('3ee7e36cf0202ab0', (2885, 0, 115, 0, 0)),
    'central_fail_retry_timeout_recover': ('83bd96d5f3c068c5', (2426, 554, 20, 0, 0)),
    'central_fail_unnoticed_retry': ('f02797da922e677f', (3000, 0, 0, 0, 0)),
    'jsq_black_hole_recover': ('3ec90e937ba03e15', (2960, 0, 40, 0, 0)),
    'lwl_fail_timeout_retry': ('ccfacb817e9351e7', (2482, 506, 12, 0, 0)),
    'random_fail_all': ('d6d563980cf53eb1', (585, 0, 1415, 0, 0)),
    'central_fail_all_stranded': ('e7da1837bdf06b8e', (523, 0, 1333, 0, 144)),
    'round_robin_fail_retry_cap': ('c0c4011ab7dbee6a', (1670, 1328, 2, 0, 0)),
    'power_of_two_fail_recover': ('55151fd81aad3dea', (2306, 685, 9, 0, 0)),
    'central_ties_fail_at_completion': ('115f47879491282d', (1499, 0, 1, 0, 0)),
}


def _inputs(name: str):
    replicas, slots, routing, queue_cap, work_cap, n, gap, service_ticks, failure, rejected_share, coarse = SCENARIOS[name]
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))
    mean_gap_ticks = gap / TICK / coarse
    gaps = rng.integers(0, round(2 * mean_gap_ticks) + 1, size=n) * coarse  # mean: mean_gap_ticks
    arrival = np.cumsum(gaps).astype(np.float64) * TICK
    service = np.asarray(service_ticks, dtype=np.float64)[rng.integers(0, len(service_ticks), size=n)] * TICK
    rejected = rng.random(n) < rejected_share
    uniforms = rng.random(997)
    failed = np.zeros(replicas, np.bool_)
    if failure is None:
        timing = (np.inf, np.inf, np.inf, False, UNNOTICED_CODES["lost"], 0.0, 0)
    else:
        down, at, notice, recover, retry, unnoticed, timeout, retries = failure
        failed[list(down)] = True
        timing = (at, notice, recover, retry, UNNOTICED_CODES[unnoticed], timeout, retries)
    return (arrival, service, rejected, replicas, slots, ROUTING_CODES[routing], queue_cap, float(work_cap), failed,
            *timing, uniforms)


def _fingerprint(out) -> tuple[str, tuple[int, ...]]:
    start, end, left_queue, entered, replica, outcome, attempts = out
    digest = hashlib.sha256()
    for array, dtype in ((start, "<f8"), (end, "<f8"), (left_queue, "<f8"), (entered, "<f8"),
                         (replica, "<i4"), (outcome, "i1"), (attempts, "i1")):
        digest.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    counts = tuple(int((outcome == code).sum()) for code in (0, 1, 2, 3, -1))
    return digest.hexdigest()[:16], counts


def fingerprints() -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every scenario's fingerprint from the engine importable now (used to record RECORDED)."""
    return {name: _fingerprint(run_event_loop(*_inputs(name))) for name in SCENARIOS}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_event_loop_reproduces_the_recorded_engine(name):
    digest, counts = _fingerprint(run_event_loop(*_inputs(name)))
    recorded_digest, recorded_counts = RECORDED[name]
    assert counts == recorded_counts
    assert digest == recorded_digest


def test_scenarios_exercise_every_outcome():
    """The recorded scenarios are not all trivial: together they complete, shed, lose, reject and strand requests."""
    totals = np.sum([counts for _, counts in RECORDED.values()], axis=0)
    assert (totals > 0).all()
    assert set(RECORDED) == set(SCENARIOS)


if __name__ == "__main__":
    for key, value in fingerprints().items():
        print(f"    {key!r}: {value!r},")
