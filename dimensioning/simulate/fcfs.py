"""One central FCFS queue with c servers, optional capacity K: waits only, O(1) per request.

The queue's own dynamics, written as recursions over the admitted requests
(no event heap, no per-request records beyond the wait):

- Deterministic service D (M/D/c, GI/D/c, and with a capacity M/D/c/K,
  GI/D/c/K): admitted request m starts at ``S_m = max(T, S_{m-c} + D)``
  (the server that request m-c took is the first to free; departures leave
  in start order). With capacity K, an arrival at T finds K in the system iff
  the K-th most recent admitted request is still there, ``S_{m-K} + D > T``;
  it is then blocked (a departure at exactly T leaves first). A ring of the
  last max(c, K) start times carries the state: O(1) per request.
- Any service times, no capacity (M/G/c of a bucket mixture): the
  Kiefer-Wolfowitz recursion ``S = max(T, min_j F_j)``, ``F_j <- S + S_n``
  over the c servers' free times. Start times never decrease under FCFS, so
  the free times ``S + s`` made with one service value ``s`` arrive in
  sorted order: with a few distinct values (a bucket mixture) the free times
  are kept as one sorted queue per value and the minimum is the least of
  their heads, O(number of values) per request; with more distinct values
  than ``MAX_CLASSES``, in a binary min-heap, O(log c). Both hold the same
  multiset of free times, so they give the same waits, bit for bit (tested).

Both run in chunks: the state (ring or heap, admitted count) is carried from
one chunk to the next, so a run of any length needs only one chunk of
arrivals in memory. A blocked request's wait is written as -1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["DeterministicFCFS", "GeneralFCFS", "BLOCKED", "MAX_STATE", "MAX_CLASSES"]

BLOCKED = -1.0
#: Largest ring (max(c, K)) or heap (c) the kernels hold: 8 bytes each, 80 MB at the limit.
MAX_STATE = 10_000_000
#: Most distinct service values kept as sorted queues (beyond: the heap); their c x values state, at most:
MAX_CLASSES = 8
_MAX_CLASS_STATE = 1 << 23  # 64 MB


@njit(cache=True, nogil=True)
def _deterministic_chunk(arrival, service_s, servers, capacity, ring, admitted, wait):
    """Waits of one chunk; returns the new admitted count. ``capacity <= 0``: no capacity."""
    size = ring.shape[0]
    m = admitted
    head = m % size  # where S_m goes
    back_c = (m - servers) % size  # where S_{m-c} is
    back_k = (m - capacity) % size if capacity > 0 else 0
    for i in range(arrival.shape[0]):
        t = arrival[i]
        if capacity > 0 and m >= capacity and ring[back_k] + service_s > t:
            wait[i] = -1.0
            continue
        s = t
        if m >= servers:
            free = ring[back_c] + service_s
            if free > s:
                s = free
        ring[head] = s
        wait[i] = s - t
        m += 1
        head += 1
        if head == size:
            head = 0
        back_c += 1
        if back_c == size:
            back_c = 0
        if capacity > 0:
            back_k += 1
            if back_k == size:
                back_k = 0
    return m


@njit(cache=True, nogil=True)
def _general_chunk(arrival, service, heap, wait):
    """Waits of one chunk on a min-heap of server free times (FCFS, no capacity)."""
    c = heap.shape[0]
    for i in range(arrival.shape[0]):
        t = arrival[i]
        s = heap[0]
        if t > s:
            s = t
        wait[i] = s - t
        # replace the root by s + service and sift down
        value = s + service[i]
        j = 0
        while True:
            left = 2 * j + 1
            if left >= c:
                break
            child = left
            if left + 1 < c and heap[left + 1] < heap[left]:
                child = left + 1
            if heap[child] >= value:
                break
            heap[j] = heap[child]
            j = child
        heap[j] = value


@njit(cache=True, nogil=True)
def _classes_chunk(arrival, service, values, queues, heads, sizes, state, wait):
    """Waits of one chunk with one sorted queue of free times per service value; returns the requests done.

    ``values[:state[1]]``: the service values seen; ``queues[k]``: a ring of the
    free times made with ``values[k]`` (``heads[k]`` the oldest, ``sizes[k]``
    how many); ``state[0]``: servers never used yet (free at 0). Stops early,
    returning the index of the request, at a service value beyond ``values``' room.
    """
    c = queues.shape[1]
    room = values.shape[0]
    fresh = state[0]
    used = state[1]
    n = arrival.shape[0]
    for i in range(n):
        t = arrival[i]
        x = service[i]
        k = 0
        while k < used and values[k] != x:
            k += 1
        if k == used:
            if used == room:
                n = i
                break
            values[used] = x
            used += 1
        # the earliest free time: a never-used server (0), else the least head
        if fresh > 0:
            fresh -= 1
            s = t if t > 0.0 else 0.0
        else:
            best = -1
            free = 0.0
            for j in range(used):
                if sizes[j] > 0:
                    head = queues[j, heads[j]]
                    if best < 0 or head < free:
                        best = j
                        free = head
            h = heads[best] + 1
            heads[best] = 0 if h == c else h
            sizes[best] -= 1
            s = t if t > free else free
        wait[i] = s - t
        tail = heads[k] + sizes[k]
        if tail >= c:
            tail -= c
        queues[k, tail] = s + x
        sizes[k] += 1
    state[0] = fresh
    state[1] = used
    return n


class DeterministicFCFS:
    """State of a c-server FCFS queue with service D and optional capacity K (seconds)."""

    def __init__(self, service_s: float, servers: int, capacity: int | None = None) -> None:
        size = max(servers, capacity or 0)
        if size > MAX_STATE:
            raise ValueError(f"state of {size:,} places exceeds {MAX_STATE:,}")
        self.service_s = float(service_s)
        self.servers = int(servers)
        self.capacity = 0 if capacity is None else int(capacity)
        self.ring = np.zeros(size)
        self.admitted = 0

    def waits(self, arrival: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Waits (s) of the sorted ``arrival`` times, continuing the state; -1 where blocked."""
        arrival = np.ascontiguousarray(arrival, dtype=float)
        wait = np.empty(arrival.shape[0]) if out is None else out
        self.admitted = _deterministic_chunk(arrival, self.service_s, self.servers, self.capacity,
                                             self.ring, self.admitted, wait)
        return wait


class GeneralFCFS:
    """State of a c-server FCFS queue with any service times and no capacity (module notes: two layouts)."""

    def __init__(self, servers: int) -> None:
        if servers > MAX_STATE:
            raise ValueError(f"{servers:,} servers exceed {MAX_STATE:,}")
        c = int(servers)
        self.heap: np.ndarray | None = None
        self._queues: tuple[np.ndarray, ...] | None = None
        if c * MAX_CLASSES <= _MAX_CLASS_STATE:
            self._queues = (np.empty(MAX_CLASSES), np.empty((MAX_CLASSES, c)), np.zeros(MAX_CLASSES, np.int64),
                            np.zeros(MAX_CLASSES, np.int64), np.array([c, 0], np.int64))
        else:
            self.heap = np.zeros(c)

    def free_times(self) -> np.ndarray:
        """The servers' free times, sorted (s)."""
        if self.heap is not None:
            return np.sort(self.heap)
        assert self._queues is not None
        values, queues, heads, sizes, state = self._queues
        c = queues.shape[1]
        parts = [np.zeros(int(state[0]))]
        parts += [queues[k, (heads[k] + np.arange(sizes[k])) % c] for k in range(int(state[1]))]
        return np.sort(np.concatenate(parts))

    def waits(self, arrival: np.ndarray, service: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        arrival = np.ascontiguousarray(arrival, dtype=float)
        service = np.ascontiguousarray(service, dtype=float)
        wait = np.empty(arrival.shape[0]) if out is None else out
        done = 0
        if self._queues is not None:
            done = _classes_chunk(arrival, service, *self._queues, wait)
            if done < arrival.shape[0]:
                # one service value more than the queues hold: the same free times, as a heap from here on
                self.heap = self.free_times()  # a sorted array is a min-heap
                self._queues = None
        if done < arrival.shape[0]:
            assert self.heap is not None
            _general_chunk(arrival[done:], service[done:], self.heap, wait[done:])
        return wait
