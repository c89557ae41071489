"""The general discrete-event loop, compiled with numba.

Handles what the Lindley fast path cannot: any service times, per-replica
queues behind a router, bounded queues and work-based admission, failures
with failover, timeouts and retries. State lives in flat numpy arrays (FIFO
queues as linked lists over request ids, a binary heap of timed events), so
one request costs O(log n) heap work plus the router's O(replicas) scan.

numba was chosen over Cython or a C extension because it needs no compiler at
install time (wheels on PyPI), keeps the loop in readable Python, and caches
the machine code on disk (``cache=True``), so only the first run after an
install pays the compile (a few seconds).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dimensioning.simulate.scenario import (
    COMPLETED as _COMPLETED,
    LOST as _LOST,
    REJECTED as _REJECTED,
    ROUTING_CODES,
    SHED as _SHED,
    UNNOTICED_CODES,
)

__all__ = ["run_event_loop", "ROUTING_CODES", "UNNOTICED_CODES"]

# Routing and unnoticed-failure codes: the scenario's names (numba folds them as constants).
_CENTRAL = ROUTING_CODES["central"]
_RANDOM = ROUTING_CODES["random"]
_ROUND_ROBIN = ROUTING_CODES["round_robin"]
_JSQ = ROUTING_CODES["jsq"]
_LEAST_WORK_LEFT = ROUTING_CODES["least_work_left"]
_UNNOTICED_LOST = UNNOTICED_CODES["lost"]
_UNNOTICED_RETRY = UNNOTICED_CODES["retry"]

# Event kinds (heap entries); arrivals come from the sorted input array instead.
_COMPLETE, _DEAD_FAIL, _RETRY, _FAIL, _NOTICE, _RECOVER = 0, 1, 2, 3, 4, 5
# Slot states.
_IDLE, _BUSY, _HUNG, _REMOVED = 0, 1, 2, 3


@njit(cache=True)
def _heap_push(ht, hseq, hkind, hid, hver, size, seq, time, kind, ident, version):
    i = size
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
    return size + 1


@njit(cache=True)
def _heap_pop(ht, hseq, hkind, hid, hver, size):
    """Remove the top entry (read it before calling); returns the new size."""
    size -= 1
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
    return size


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
    admission. ``unnoticed_mode``: 0 lost, 1 timeout, 2 retry. ``uniforms``:
    pre-drawn U(0,1) numbers for the router (reused cyclically).
    """
    n = arrival.shape[0]
    central = routing == _CENTRAL
    n_slots = replicas * slots
    n_queues = 1 if central else replicas
    inf = np.inf

    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    enter = np.empty(n)
    left_queue = np.full(n, np.nan)
    rep = np.full(n, -1, np.int32)
    outcome = np.full(n, -1, np.int8)
    attempts = np.zeros(n, np.int8)
    version = np.zeros(n, np.int32)
    slot_of = np.empty(n, np.int32)  # set on every arrival

    # FIFO queues: linked lists over request ids.
    qnext = np.empty(n, np.int32)  # set on every enqueue (ids < 2**31: MAX_REQUESTS)
    qhead = np.full(n_queues, -1, np.int64)
    qtail = np.full(n_queues, -1, np.int64)
    qlen = np.zeros(n_queues, np.int64)
    qwork = np.zeros(n_queues)
    q_slots = n_slots if central else slots

    # Idle slots: one ring per queue inside one array.
    ring = np.empty(n_slots, np.int64)
    ring_base = np.zeros(n_queues, np.int64)
    ring_head = np.zeros(n_queues, np.int64)
    ring_count = np.zeros(n_queues, np.int64)
    for q in range(n_queues):
        ring_base[q] = q * q_slots
    for s in range(n_slots):
        ring[s] = s
    for q in range(n_queues):
        ring_count[q] = q_slots
    slot_state = np.zeros(n_slots, np.int8)
    slot_req = np.full(n_slots, -1, np.int64)

    # Per replica: alive, routable (the router believes it up), load figures.
    alive = np.ones(replicas, np.bool_)
    routable = np.ones(replicas, np.bool_)
    in_system = np.zeros(replicas, np.int64)
    busy = np.zeros(replicas, np.int64)
    finish_sum = np.zeros(replicas)
    hung_work = np.zeros(replicas)
    route_list = np.arange(replicas).astype(np.int64)
    n_route = replicas
    rr = 0
    ui = 0
    n_uniform = uniforms.shape[0]

    cap = n + 8
    ht = np.empty(cap)
    hseq = np.empty(cap, np.int64)
    hkind = np.empty(cap, np.int8)
    hid = np.empty(cap, np.int64)
    hver = np.empty(cap, np.int32)
    size = 0
    seq = 0
    # Scenario events sort after every completion at the same instant (a
    # request that ends exactly at the failure time has completed).
    late = np.int64(1) << np.int64(62)
    if t_fail < inf:
        size = _heap_push(ht, hseq, hkind, hid, hver, size, late, t_fail, _FAIL, -1, 0)
        size = _heap_push(ht, hseq, hkind, hid, hver, size, late + 1, t_notice, _NOTICE, -1, 0)
        if t_recover < inf:
            size = _heap_push(ht, hseq, hkind, hid, hver, size, late + 2, t_recover, _RECOVER, -1, 0)

    i = 0
    while True:
        t_next = arrival[i] if i < n else inf
        if size > 0 and ht[0] <= t_next:
            t = ht[0]
            kind = hkind[0]
            req = hid[0]
            ver = hver[0]
            size = _heap_pop(ht, hseq, hkind, hid, hver, size)
            if req >= 0 and ver != version[req]:
                continue  # cancelled by a failure
            if kind == _RETRY:
                arriving = req
            else:
                arriving = -1
                if kind == _COMPLETE or kind == _DEAD_FAIL:
                    slot = slot_of[req]
                    r = rep[req]
                    if kind == _COMPLETE:
                        outcome[req] = _COMPLETED
                        end[req] = t
                        busy[r] -= 1
                        finish_sum[r] -= end[req]
                        in_system[r] -= 1
                    else:
                        hung_work[r] -= service[req]
                        in_system[r] -= 1
                        if unnoticed_mode == _UNNOTICED_RETRY and attempts[req] <= max_retries:
                            version[req] += 1
                            size = _heap_push(ht, hseq, hkind, hid, hver, size, seq, t, _RETRY, req, version[req])
                            seq += 1
                        else:
                            outcome[req] = _LOST
                            end[req] = t
                    if slot >= 0:
                        # Free the slot: serve the next waiting request, or go idle.
                        slot_req[slot] = -1
                        sr = slot // slots
                        if not alive[sr] and not routable[sr]:
                            slot_state[slot] = _REMOVED
                        else:
                            q = 0 if central else sr
                            if qlen[q] > 0:
                                nxt = qhead[q]
                                qhead[q] = qnext[nxt]
                                qlen[q] -= 1
                                if qlen[q] == 0:
                                    qtail[q] = -1
                                qwork[q] -= service[nxt]
                                left_queue[nxt] = t
                                slot_of[nxt] = slot
                                slot_req[slot] = nxt
                                rep[nxt] = sr
                                if alive[sr]:
                                    slot_state[slot] = _BUSY
                                    start[nxt] = t
                                    busy[sr] += 1
                                    finish_sum[sr] += t + service[nxt]
                                    if central:
                                        in_system[sr] += 1  # per-replica queues counted it on routing
                                    size = _heap_push(
                                        ht, hseq, hkind, hid, hver, size, seq, t + service[nxt], _COMPLETE, nxt, version[nxt]
                                    )
                                else:
                                    slot_state[slot] = _HUNG
                                    if central:
                                        in_system[sr] += 1
                                    hung_work[sr] += service[nxt]
                                    delay = 0.0 if unnoticed_mode == _UNNOTICED_LOST else timeout_s
                                    size = _heap_push(
                                        ht, hseq, hkind, hid, hver, size, seq, t + delay, _DEAD_FAIL, nxt, version[nxt]
                                    )
                                seq += 1
                            else:
                                slot_state[slot] = _IDLE
                                pos = ring_base[q] + (ring_head[q] + ring_count[q]) % q_slots
                                ring[pos] = slot
                                ring_count[q] += 1
                elif kind == _FAIL:
                    for r in range(replicas):
                        if not failed[r]:
                            continue
                        alive[r] = False
                        # Requests on the replica: in service, and (per-replica queues) waiting there.
                        for s in range(r * slots, (r + 1) * slots):
                            victim = slot_req[s]
                            if victim >= 0 and slot_state[s] == _BUSY:
                                version[victim] += 1
                                busy[r] -= 1
                                finish_sum[r] -= start[victim] + service[victim]
                                in_system[r] -= 1
                                slot_req[s] = -1
                                slot_of[victim] = -1
                                if in_service_retry and attempts[victim] <= max_retries:
                                    start[victim] = np.nan
                                    size = _heap_push(ht, hseq, hkind, hid, hver, size, seq, t, _RETRY, victim, version[victim])
                                    seq += 1
                                else:
                                    outcome[victim] = _LOST
                                    end[victim] = t
                                slot_state[s] = _IDLE
                                if central:
                                    # The dispatcher sees the slot free again (it does not know why).
                                    if qlen[0] > 0:
                                        nxt = qhead[0]
                                        qhead[0] = qnext[nxt]
                                        qlen[0] -= 1
                                        if qlen[0] == 0:
                                            qtail[0] = -1
                                        qwork[0] -= service[nxt]
                                        left_queue[nxt] = t
                                        slot_of[nxt] = s
                                        slot_req[s] = nxt
                                        rep[nxt] = r
                                        slot_state[s] = _HUNG
                                        in_system[r] += 1
                                        hung_work[r] += service[nxt]
                                        delay = 0.0 if unnoticed_mode == _UNNOTICED_LOST else timeout_s
                                        size = _heap_push(
                                            ht, hseq, hkind, hid, hver, size, seq, t + delay, _DEAD_FAIL, nxt, version[nxt]
                                        )
                                        seq += 1
                                    else:
                                        pos = (ring_head[0] + ring_count[0]) % q_slots
                                        ring[pos] = s
                                        ring_count[0] += 1
                        if not central:
                            victim = qhead[r]
                            while victim >= 0:
                                following = qnext[victim]
                                version[victim] += 1
                                left_queue[victim] = t
                                in_system[r] -= 1
                                if in_service_retry and attempts[victim] <= max_retries:
                                    size = _heap_push(ht, hseq, hkind, hid, hver, size, seq, t, _RETRY, victim, version[victim])
                                    seq += 1
                                else:
                                    outcome[victim] = _LOST
                                    end[victim] = t
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
                elif kind == _NOTICE or kind == _RECOVER:
                    for r in range(replicas):
                        if not failed[r]:
                            continue
                        if kind == _NOTICE:
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
                        if kind == _RECOVER:
                            for s in range(n_slots):
                                if slot_state[s] == _REMOVED and alive[s // slots]:
                                    slot_state[s] = _IDLE
                                    if qlen[0] > 0:
                                        nxt = qhead[0]
                                        qhead[0] = qnext[nxt]
                                        qlen[0] -= 1
                                        if qlen[0] == 0:
                                            qtail[0] = -1
                                        qwork[0] -= service[nxt]
                                        left_queue[nxt] = t
                                        slot_of[nxt] = s
                                        slot_req[s] = nxt
                                        rep[nxt] = s // slots
                                        slot_state[s] = _BUSY
                                        start[nxt] = t
                                        busy[s // slots] += 1
                                        finish_sum[s // slots] += t + service[nxt]
                                        in_system[s // slots] += 1
                                        size = _heap_push(
                                            ht, hseq, hkind, hid, hver, size, seq, t + service[nxt], _COMPLETE, nxt, version[nxt]
                                        )
                                        seq += 1
                                    else:
                                        pos = (ring_head[0] + ring_count[0]) % q_slots
                                        ring[pos] = s
                                        ring_count[0] += 1
                    n_route = 0
                    for r in range(replicas):
                        if routable[r]:
                            route_list[n_route] = r
                            n_route += 1
                if arriving < 0:
                    continue
        else:
            if i >= n:
                break
            arriving = i
            t = t_next
            i += 1

        # An arrival (first attempt or a retry) at time t.
        req = arriving
        attempts[req] += 1
        enter[req] = t
        slot_of[req] = -1
        if rejected[req]:
            outcome[req] = _REJECTED
            end[req] = t
            left_queue[req] = t
            continue
        if n_route == 0:
            outcome[req] = _LOST  # every replica is known down: nowhere to send it
            end[req] = t
            left_queue[req] = t
            continue
        if central:
            q = 0
        else:
            if routing == _RANDOM:
                r = route_list[min(int(uniforms[ui % n_uniform] * n_route), n_route - 1)]
                ui += 1
            elif routing == _ROUND_ROBIN:
                r = route_list[rr % n_route]
                rr += 1
            elif routing == _JSQ or routing == _LEAST_WORK_LEFT:
                offset = min(int(uniforms[ui % n_uniform] * n_route), n_route - 1)
                ui += 1
                best = -1
                best_load = inf
                for k in range(n_route):
                    cand = route_list[(offset + k) % n_route]
                    if routing == _JSQ:
                        load = float(in_system[cand])
                    else:
                        load = (finish_sum[cand] - busy[cand] * t + qwork[cand] + hung_work[cand]) / slots
                    if load < best_load:
                        best_load = load
                        best = cand
                r = best
            else:
                a = min(int(uniforms[ui % n_uniform] * n_route), n_route - 1)
                ui += 1
                if n_route > 1:
                    b = min(int(uniforms[ui % n_uniform] * (n_route - 1)), n_route - 2)
                    ui += 1
                    if b >= a:
                        b += 1
                    ra = route_list[a]
                    rb = route_list[b]
                    r = rb if in_system[rb] < in_system[ra] else ra
                else:
                    r = route_list[a]
            rep[req] = r
            if not alive[r]:
                # Sent to a failed replica the router has not noticed yet.
                left_queue[req] = t
                in_system[r] += 1
                hung_work[r] += service[req]
                delay = 0.0 if unnoticed_mode == _UNNOTICED_LOST else timeout_s
                size = _heap_push(ht, hseq, hkind, hid, hver, size, seq, t + delay, _DEAD_FAIL, req, version[req])
                seq += 1
                continue
            q = r
        if ring_count[q] > 0:
            slot = ring[ring_base[q] + ring_head[q]]
            ring_head[q] = (ring_head[q] + 1) % q_slots
            ring_count[q] -= 1
            sr = slot // slots
            left_queue[req] = t
            slot_of[req] = slot
            slot_req[slot] = req
            rep[req] = sr
            in_system[sr] += 1
            if alive[sr]:
                slot_state[slot] = _BUSY
                start[req] = t
                busy[sr] += 1
                finish_sum[sr] += t + service[req]
                size = _heap_push(ht, hseq, hkind, hid, hver, size, seq, t + service[req], _COMPLETE, req, version[req])
            else:
                slot_state[slot] = _HUNG
                hung_work[sr] += service[req]
                delay = 0.0 if unnoticed_mode == _UNNOTICED_LOST else timeout_s
                size = _heap_push(ht, hseq, hkind, hid, hver, size, seq, t + delay, _DEAD_FAIL, req, version[req])
            seq += 1
            continue
        if (queue_cap >= 0 and qlen[q] >= queue_cap) or qwork[q] / q_slots > work_cap:
            outcome[req] = _SHED
            end[req] = t
            left_queue[req] = t
            if not central:
                rep[req] = -1
            continue
        if not central:
            in_system[q] += 1
        slot_of[req] = -1
        qnext[req] = -1
        if qtail[q] >= 0:
            qnext[qtail[q]] = req
        else:
            qhead[q] = req
        qtail[q] = req
        qlen[q] += 1
        qwork[q] += service[req]

    return start, end, left_queue, enter, rep, outcome, attempts
