"""The central FCFS queue's Kiefer-Wolfowitz kernel against a textbook heap (tests/independent_queue.py).

``GeneralFCFS`` keeps the servers' free times as one sorted queue per service
value (a bucket mixture has a few) and falls back to a heap beyond
``MAX_CLASSES`` values; either way the waits must be the textbook
recursion's, bit for bit, across chunks.
"""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.simulate.fcfs import MAX_CLASSES, GeneralFCFS
from tests.independent_queue import heap_waits_reference


def _reference_free_times(arrival, service, servers):
    free = [0.0] * servers
    for a, s in zip(arrival, service):
        start = max(a, heapq.heappop(free))
        heapq.heappush(free, start + s)
    return np.sort(np.array(free))


@settings(max_examples=60, deadline=None)
@given(
    servers=st.integers(1, 40),
    values=st.integers(1, MAX_CLASSES + 4),  # beyond MAX_CLASSES the kernel switches to the heap mid-chunk
    load=st.floats(0.3, 1.3),  # past 1: the queue grows without bound, waits keep rising
    count=st.integers(1, 3000),
    chunks=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_waits_are_the_textbook_recursions_bit_for_bit(servers, values, load, count, chunks, seed):
    rng = np.random.default_rng(seed)
    times = rng.uniform(0.5, 4.0, values)
    service = times[rng.integers(0, values, count)]
    rate = load * servers / times.mean()
    arrival = np.cumsum(rng.standard_exponential(count) / rate)
    engine = GeneralFCFS(servers)
    edges = np.unique(np.concatenate(([0, count], rng.integers(0, count, chunks - 1))))
    got = np.concatenate([engine.waits(arrival[a:b], service[a:b]) for a, b in zip(edges[:-1], edges[1:])])
    assert np.array_equal(got, heap_waits_reference(arrival, service, servers))
    assert np.array_equal(engine.free_times(), _reference_free_times(arrival, service, servers))
    assert (engine.heap is not None) == (values > MAX_CLASSES and len(np.unique(service)) > MAX_CLASSES)


def test_a_pool_too_large_for_the_class_queues_uses_the_heap():
    assert GeneralFCFS(2_000_000).heap is not None
    assert GeneralFCFS(224).heap is None
