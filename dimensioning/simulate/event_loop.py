"""The general discrete-event loop, compiled with numba.

Handles what the Lindley fast path cannot: any service times, per-replica
queues behind a router, bounded queues and work-based admission, failures
with failover, timeouts and retries. State lives in flat numpy arrays (FIFO
queues as linked lists over request ids, a binary heap of timed events), so
one request costs O(log n) heap work plus the router's O(replicas) scan.

Each action on that state is written once, as a named helper: schedule an
event, dequeue, enqueue, take or park an idle slot, begin service, hang a
request on a dead replica, release a slot, retry or lose, route, and one
handler per event kind. Helpers take the state as a few tuples of arrays
(``state``: heap, requests, queues, idle slots, slots, replicas, router;
``cfg``: the pool's scalars) and return nothing but scalars.

How the helpers are compiled decides the speed (measured, docs/simulate.md):
they are compiled without numba's reference counting (``_nrt=False``: they
never allocate or keep an array), so passing them arrays costs no atomic
refcount updates, and LLVM inlines the hot ones into the loop. With the
default (reference-counted) compilation every call increfs and decrefs each
array it is passed (numba issue #2345), which made the engine 3-10x slower;
numba's IR-level ``inline="always"`` does not help, as the inlined code keeps
those updates. ``_route`` takes its arrays one by one: LLVM does not inline
it, and a narrow argument list keeps that per-arrival call cheap.

numba was chosen over Cython or a C extension because it needs no compiler at
install time (wheels on PyPI), keeps the loop in readable Python, and caches
the machine code on disk (``cache=True``), so only the first run after an
install pays the compile (a few seconds).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dimensioning.simulate.scenario import (
    COMPLETED,
    LOST,
    PENDING as _PENDING,
    REJECTED,
    ROUTE_CENTRAL as _CENTRAL,
    ROUTE_JSQ as _JSQ,
    ROUTE_LEAST_WORK_LEFT as _LEAST_WORK_LEFT,
    ROUTE_RANDOM as _RANDOM,
    ROUTE_ROUND_ROBIN as _ROUND_ROBIN,
    ROUTING_CODES,
    SHED,
    UNNOTICED_CODES,
    UNNOTICED_LOST as _UNNOTICED_LOST,
    UNNOTICED_RETRY as _UNNOTICED_RETRY,
)

__all__ = ["run_event_loop", "ROUTING_CODES", "UNNOTICED_CODES"]

# Codes handed to helpers are numpy scalars, not ints: numba compiles a helper
# once for each literal int it is passed (measured: 2 s of 14 s CPU, fresh).
# Outcomes (the scenario's codes, as stored in the int8 outcome array).
_COMPLETED, _SHED, _LOST, _REJECTED = np.int8(COMPLETED), np.int8(SHED), np.int8(LOST), np.int8(REJECTED)
# Event kinds (heap entries); arrivals come from the sorted input array instead.
_COMPLETE = np.int8(0)  # a request's service ends
_DEAD_FAIL = np.int8(1)  # a request held by a failed replica fails (at once, or after the timeout)
_RETRY = np.int8(2)  # a request goes back to the router
_FAIL = np.int8(3)  # the scenario's replicas fail
_NOTICE = np.int8(4)  # the router notices (stops routing to them)
_RECOVER = np.int8(5)  # they are back
# Slot states.
_IDLE = 0
_BUSY = 1  # serving a request on a live replica
_HUNG = 2  # holding a request on a failed replica the router has not noticed
_REMOVED = 3  # on a replica known down: out of the pool until it recovers
# Indices of the heap's counters and of the router's counters.
_SIZE, _SEQ = 0, 1
_N_ROUTE, _NEXT_UNIFORM, _NEXT_ROUND_ROBIN = 0, 1, 2

# Helpers never allocate, return or store an array: compiled without reference counting (see above).
_helper = njit(cache=True, _nrt=False)


@_helper
def _heap_push(heap, seq, time, kind, ident, version):
    """Add an event; ``seq`` orders events of the same instant (lower first)."""
    ht, hseq, hkind, hid, hver, count = heap
    i = count[_SIZE]
    count[_SIZE] = i + 1
    ht[i] = time
    hseq[i] = seq
    hkind[i] = kind
    hid[i] = ident
    hver[i] = version
    while i > 0:
        parent = (i - 1) >> 1
        if ht[parent] < ht[i] or (ht[parent] == ht[i] and hseq[parent] < hseq[i]):
            break
        ht[parent], ht[i] = ht[i], ht[parent]
        hseq[parent], hseq[i] = hseq[i], hseq[parent]
        hkind[parent], hkind[i] = hkind[i], hkind[parent]
        hid[parent], hid[i] = hid[i], hid[parent]
        hver[parent], hver[i] = hver[i], hver[parent]
        i = parent


@_helper
def _heap_pop(heap):
    """Remove the earliest event; returns its (time, kind, request, version)."""
    ht, hseq, hkind, hid, hver, count = heap
    top = (ht[0], hkind[0], hid[0], hver[0])
    size = count[_SIZE] - 1
    count[_SIZE] = size
    ht[0] = ht[size]
    hseq[0] = hseq[size]
    hkind[0] = hkind[size]
    hid[0] = hid[size]
    hver[0] = hver[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and (ht[right] < ht[left] or (ht[right] == ht[left] and hseq[right] < hseq[left])):
            child = right
        if ht[i] < ht[child] or (ht[i] == ht[child] and hseq[i] < hseq[child]):
            break
        ht[child], ht[i] = ht[i], ht[child]
        hseq[child], hseq[i] = hseq[i], hseq[child]
        hkind[child], hkind[i] = hkind[i], hkind[child]
        hid[child], hid[i] = hid[i], hid[child]
        hver[child], hver[i] = hver[i], hver[child]
        i = child
    return top


@_helper
def _schedule(state, time, kind, req):
    """Schedule an event for request ``req`` (its current version), after every event already scheduled."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    ht, hseq, hkind, hid, hver, count = heap
    _heap_push(heap, count[_SEQ], time, kind, req, version[req])
    count[_SEQ] += 1


@_helper
def _finish(state, req, t, code):
    """The request leaves at ``t`` unserved: shed, rejected, or lost with nowhere to go."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    outcome[req] = code
    end[req] = t
    left_queue[req] = t


@_helper
def _enqueue(state, service, q, req):
    """Append the request to FIFO queue ``q``."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    qhead, qtail, qlen, qwork, qnext = queues
    qnext[req] = -1
    if qtail[q] >= 0:
        qnext[qtail[q]] = req
    else:
        qhead[q] = req
    qtail[q] = req
    qlen[q] += 1
    qwork[q] += service[req]


@_helper
def _dequeue(state, service, q, t):
    """Take the head of FIFO queue ``q``, which leaves the queue at ``t``; returns its id."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    qhead, qtail, qlen, qwork, qnext = queues
    req = qhead[q]
    qhead[q] = qnext[req]
    qlen[q] -= 1
    if qlen[q] == 0:
        qtail[q] = -1
    qwork[q] -= service[req]
    left_queue[req] = t
    return req


@_helper
def _take_idle_slot(state, cfg, q):
    """The longest-idle slot of queue ``q`` (the caller checked there is one)."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    ring, ring_base, ring_head, ring_count = idle
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    slot = ring[ring_base[q] + ring_head[q]]
    ring_head[q] = (ring_head[q] + 1) % q_slots
    ring_count[q] -= 1
    return slot


@_helper
def _park_idle_slot(state, cfg, q, slot):
    """Put the slot at the back of queue ``q``'s idle ring."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    ring, ring_base, ring_head, ring_count = idle
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    ring[ring_base[q] + (ring_head[q] + ring_count[q]) % q_slots] = slot
    ring_count[q] += 1


@_helper
def _hang(state, cfg, service, req, r, t):
    """Failed replica ``r``, not yet noticed, holds the request until it fails: at once
    (connection refused) or after the timeout. Join-shortest-queue and least-work-left see it meanwhile."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    hung_work[r] += service[req]
    delay = 0.0 if unnoticed_mode == _UNNOTICED_LOST else timeout_s
    _schedule(state, t + delay, _DEAD_FAIL, req)


@_helper
def _begin_service(state, cfg, service, slot, req, t, counted):
    """Put the request on ``slot`` at ``t``: in service on a live replica, hung on a dead one.

    ``counted``: the replica already counts it in ``in_system`` (per-replica
    queues count a request when it is routed there)."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    slot_state, slot_req = slot_tab
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    r = slot // slots
    slot_of[req] = slot
    slot_req[slot] = req
    rep[req] = r
    if not counted:
        in_system[r] += 1
    if alive[r]:
        slot_state[slot] = _BUSY
        start[req] = t
        busy[r] += 1
        finish_sum[r] += t + service[req]
        _schedule(state, t + service[req], _COMPLETE, req)
    else:
        slot_state[slot] = _HUNG
        _hang(state, cfg, service, req, r, t)


@_helper
def _release_slot(state, cfg, service, slot, t):
    """The slot is free at ``t``: it serves the next request waiting in its queue, else goes
    idle, or leaves the pool when its replica is known down."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    qhead, qtail, qlen, qwork, qnext = queues
    slot_state, slot_req = slot_tab
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    slot_req[slot] = -1
    r = slot // slots
    if not alive[r] and not routable[r]:
        slot_state[slot] = _REMOVED
        return
    q = 0 if central else r
    if qlen[q] > 0:
        _begin_service(state, cfg, service, slot, _dequeue(state, service, q, t), t, not central)
    else:
        slot_state[slot] = _IDLE
        _park_idle_slot(state, cfg, q, slot)


@_helper
def _retry_or_lose(state, cfg, req, t, retry):
    """A failure ends the request's attempt at ``t``: it goes back to the router when
    ``retry`` and it has retries left, else it is lost. Cancels its pending event.
    Returns whether it was retried."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    version[req] += 1
    if retry and attempts[req] <= max_retries:
        _schedule(state, t, _RETRY, req)
        return True
    outcome[req] = _LOST
    end[req] = t
    return False


@_helper
def _draw_index(router, uniforms, k):
    """A uniform index in 0..k-1 from the next pre-drawn uniform (reused cyclically)."""
    u = uniforms[router[_NEXT_UNIFORM] % uniforms.shape[0]]
    router[_NEXT_UNIFORM] += 1
    return min(int(u * k), k - 1)


@_helper
def _route(route_list, router, uniforms, routing, in_system, busy, finish_sum, hung_work, qwork, slots, t):
    """The replica the router sends an arrival at ``t`` to (per-replica queues)."""
    n_route = router[_N_ROUTE]
    if routing == _RANDOM:
        return route_list[_draw_index(router, uniforms, n_route)]
    if routing == _ROUND_ROBIN:
        r = route_list[router[_NEXT_ROUND_ROBIN] % n_route]
        router[_NEXT_ROUND_ROBIN] += 1
        return r
    if routing == _JSQ or routing == _LEAST_WORK_LEFT:
        # Scan from a random replica so that ties go to a random one.
        offset = _draw_index(router, uniforms, n_route)
        best = -1
        best_load = np.inf
        for k in range(n_route):
            cand = route_list[(offset + k) % n_route]
            if routing == _JSQ:
                load = float(in_system[cand])
            else:
                load = (finish_sum[cand] - busy[cand] * t + qwork[cand] + hung_work[cand]) / slots
            if load < best_load:
                best_load = load
                best = cand
        return best
    # Power of two choices: the less loaded of two distinct random replicas.
    a = _draw_index(router, uniforms, n_route)
    if n_route == 1:
        return route_list[a]
    b = _draw_index(router, uniforms, n_route - 1)
    if b >= a:
        b += 1
    ra = route_list[a]
    rb = route_list[b]
    return rb if in_system[rb] < in_system[ra] else ra


@_helper
def _on_complete(state, cfg, service, req, t):
    """Service of the request ends at ``t``."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    r = rep[req]
    outcome[req] = _COMPLETED
    end[req] = t
    busy[r] -= 1
    finish_sum[r] -= t
    in_system[r] -= 1
    _release_slot(state, cfg, service, np.int64(slot_of[req]), t)


@_helper
def _on_dead_fail(state, cfg, service, req, t):
    """A request held by a failed replica fails at ``t`` (retried when ``unnoticed`` is retry)."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    slot = np.int64(slot_of[req])
    r = rep[req]
    hung_work[r] -= service[req]
    in_system[r] -= 1
    _retry_or_lose(state, cfg, req, t, unnoticed_mode == _UNNOTICED_RETRY)
    if slot >= 0:
        _release_slot(state, cfg, service, slot, t)


@_helper
def _on_fail(state, cfg, service, failed, t):
    """The scenario's replicas fail at ``t``; the router does not know yet."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    start, end, enter, left_queue, rep, outcome, attempts, version, slot_of = reqs
    qhead, qtail, qlen, qwork, qnext = queues
    ring, ring_base, ring_head, ring_count = idle
    slot_state, slot_req = slot_tab
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    for r in range(failed.shape[0]):
        if not failed[r]:
            continue
        alive[r] = False
        # Requests on the replica: in service, and (per-replica queues) waiting there.
        for s in range(r * slots, (r + 1) * slots):
            victim = slot_req[s]
            if victim < 0 or slot_state[s] != _BUSY:
                continue
            busy[r] -= 1
            finish_sum[r] -= start[victim] + service[victim]
            in_system[r] -= 1
            slot_of[victim] = -1
            if _retry_or_lose(state, cfg, victim, t, in_service_retry):
                start[victim] = np.nan  # its service starts again elsewhere
            if central:
                # The dispatcher sees the slot free again (it does not know why).
                _release_slot(state, cfg, service, s, t)
            else:
                slot_req[s] = -1
                slot_state[s] = _IDLE
        if not central:
            victim = qhead[r]
            while victim >= 0:
                following = qnext[victim]
                left_queue[victim] = t
                in_system[r] -= 1
                _retry_or_lose(state, cfg, victim, t, in_service_retry)
                victim = following
            qhead[r] = -1
            qtail[r] = -1
            qlen[r] = 0
            qwork[r] = 0.0
            # Its slots are idle (nothing is sent to them while it is down).
            ring_head[r] = 0
            ring_count[r] = slots
            for k in range(slots):
                ring[r * slots + k] = r * slots + k


@_helper
def _on_notice_or_recover(state, cfg, service, failed, t, recover):
    """The router notices the failure at ``t`` (``recover`` false), or the replicas are back."""
    heap, reqs, queues, idle, slot_tab, reps, router_tab = state
    ring, ring_base, ring_head, ring_count = idle
    slot_state, slot_req = slot_tab
    alive, routable, in_system, busy, finish_sum, hung_work = reps
    slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry = cfg
    route_list, router = router_tab
    replicas = failed.shape[0]
    for r in range(replicas):
        if not failed[r]:
            continue
        if not recover:
            if alive[r]:
                continue  # recovered before anyone noticed
            routable[r] = False
        else:
            alive[r] = True
            routable[r] = True
    if central:
        # Rebuild the idle ring: drop noticed-dead slots, add recovered ones.
        count = 0
        for k in range(ring_count[0]):
            s = ring[(ring_head[0] + k) % q_slots]
            if alive[s // slots] or routable[s // slots]:
                ring[(ring_head[0] + count) % q_slots] = s
                count += 1
            else:
                slot_state[s] = _REMOVED
        ring_count[0] = count
        if recover:
            for s in range(slot_state.shape[0]):
                if slot_state[s] == _REMOVED and alive[s // slots]:
                    _release_slot(state, cfg, service, s, t)
    n_route = 0
    for r in range(replicas):
        if routable[r]:
            route_list[n_route] = r
            n_route += 1
    router[_N_ROUTE] = n_route


@njit(cache=True)
def run_event_loop(
    arrival,
    service,
    rejected,
    replicas,
    slots,
    routing,
    queue_cap,
    work_cap,
    failed,
    t_fail,
    t_notice,
    t_recover,
    in_service_retry,
    unnoticed_mode,
    timeout_s,
    max_retries,
    uniforms,
):
    """Simulate; returns (start, end, left_queue, entered, replica, outcome, attempts) per request.

    Times in seconds. ``queue_cap < 0`` and ``work_cap = inf`` disable
    admission. ``routing`` and ``unnoticed_mode`` are the codes of
    :mod:`dimensioning.simulate.scenario` (``ROUTING_CODES``,
    ``UNNOTICED_CODES``). ``uniforms``: pre-drawn U(0,1) numbers for the router
    (reused cyclically). An outcome left ``PENDING`` (-1) is a request still
    waiting in a central queue whose every replica is down for good.
    """
    n = arrival.shape[0]
    central = routing == _CENTRAL
    n_slots = replicas * slots
    n_queues = 1 if central else replicas
    q_slots = n_slots if central else slots
    inf = np.inf

    # Per request.
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    enter = np.empty(n)
    left_queue = np.full(n, np.nan)
    rep = np.full(n, -1, np.int32)
    outcome = np.full(n, _PENDING, np.int8)
    attempts = np.zeros(n, np.int8)
    version = np.zeros(n, np.int32)  # bumped to cancel the request's pending event
    slot_of = np.empty(n, np.int32)  # set on every arrival
    # FIFO queues: linked lists over request ids.
    qnext = np.empty(n, np.int32)  # set on every enqueue (ids < 2**31: MAX_REQUESTS)
    qhead = np.full(n_queues, -1, np.int64)
    qtail = np.full(n_queues, -1, np.int64)
    qlen = np.zeros(n_queues, np.int64)
    qwork = np.zeros(n_queues)
    # Idle slots: one ring per queue inside one array.
    ring = np.arange(n_slots).astype(np.int64)
    ring_base = np.arange(n_queues).astype(np.int64) * q_slots
    ring_head = np.zeros(n_queues, np.int64)
    ring_count = np.full(n_queues, q_slots, np.int64)
    # Per slot.
    slot_state = np.zeros(n_slots, np.int8)
    slot_req = np.full(n_slots, -1, np.int64)
    # Per replica: alive, routable (the router believes it up), load figures.
    alive = np.ones(replicas, np.bool_)
    routable = np.ones(replicas, np.bool_)
    in_system = np.zeros(replicas, np.int64)
    busy = np.zeros(replicas, np.int64)
    finish_sum = np.zeros(replicas)
    hung_work = np.zeros(replicas)
    # Router: the replicas it believes up, and its counters.
    route_list = np.arange(replicas).astype(np.int64)
    router = np.zeros(3, np.int64)
    router[_N_ROUTE] = replicas
    # Timed events.
    cap = n + 8
    ht = np.empty(cap)
    hseq = np.empty(cap, np.int64)
    hkind = np.empty(cap, np.int8)
    hid = np.empty(cap, np.int64)
    hver = np.empty(cap, np.int32)
    count = np.zeros(2, np.int64)

    heap = (ht, hseq, hkind, hid, hver, count)
    state = (
        heap,
        (start, end, enter, left_queue, rep, outcome, attempts, version, slot_of),
        (qhead, qtail, qlen, qwork, qnext),
        (ring, ring_base, ring_head, ring_count),
        (slot_state, slot_req),
        (alive, routable, in_system, busy, finish_sum, hung_work),
        (route_list, router),
    )
    cfg = (slots, q_slots, central, routing, queue_cap, work_cap, unnoticed_mode, timeout_s, max_retries, in_service_retry)

    # Scenario events sort after every completion at the same instant (a
    # request that ends exactly at the failure time has completed).
    late = np.int64(1) << np.int64(62)
    if t_fail < inf:
        _heap_push(heap, late, t_fail, _FAIL, -1, 0)
        _heap_push(heap, late + 1, t_notice, _NOTICE, -1, 0)
        if t_recover < inf:
            _heap_push(heap, late + 2, t_recover, _RECOVER, -1, 0)

    i = 0
    while True:
        t_next = arrival[i] if i < n else inf
        if count[_SIZE] > 0 and ht[0] <= t_next:
            t, kind, req, ver = _heap_pop(heap)
            if req >= 0 and ver != version[req]:
                continue  # cancelled by a failure
            if kind == _COMPLETE:
                _on_complete(state, cfg, service, req, t)
                continue
            if kind == _DEAD_FAIL:
                _on_dead_fail(state, cfg, service, req, t)
                continue
            if kind == _FAIL:
                _on_fail(state, cfg, service, failed, t)
                continue
            if kind == _NOTICE or kind == _RECOVER:
                _on_notice_or_recover(state, cfg, service, failed, t, kind == _RECOVER)
                continue
            arriving = req  # a retry
        else:
            if i >= n:
                break
            arriving = i
            t = t_next
            i += 1

        # An arrival (first attempt or a retry) at t: rejected, routed, served, queued or shed.
        req = arriving
        attempts[req] += 1
        enter[req] = t
        slot_of[req] = -1
        if rejected[req]:
            _finish(state, req, t, _REJECTED)
            continue
        if router[_N_ROUTE] == 0:
            _finish(state, req, t, _LOST)  # every replica is known down: nowhere to send it
            continue
        q = 0
        if not central:
            r = _route(route_list, router, uniforms, routing, in_system, busy, finish_sum, hung_work, qwork, slots, t)
            rep[req] = r
            if not alive[r]:
                # Sent to a failed replica the router has not noticed yet.
                left_queue[req] = t
                in_system[r] += 1
                _hang(state, cfg, service, req, r, t)
                continue
            q = r
        if ring_count[q] > 0:
            left_queue[req] = t
            _begin_service(state, cfg, service, _take_idle_slot(state, cfg, q), req, t, False)
            continue
        if (queue_cap >= 0 and qlen[q] >= queue_cap) or qwork[q] / q_slots > work_cap:
            _finish(state, req, t, _SHED)
            if not central:
                rep[req] = -1
            continue
        if not central:
            in_system[q] += 1
        _enqueue(state, service, q, req)

    return start, end, left_queue, enter, rep, outcome, attempts
