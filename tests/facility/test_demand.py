"""One pool check: the facility's N+k feedback judges a pool with the sizing's model (dimensioning.pool).

The pinned case: 22 req/s of 1 s requests on replicas of 10 slots, p99 e2el
SLO 1.5 s (so the p99 wait must stay within 0.5 s), rho_target 0.9. With 3
replicas (30 servers) the M/D/c p99 wait is 0.16 s (Poisson: passes) while
the GI/D/c wait for arrivals with SCV 4 is 0.65 s (bursty: fails); with 4
replicas both wait 0. So rack-level N+1 needs 4 replicas for Poisson arrivals
and 5 for the bursty ones, and the facility must follow the arrival process
the sizing used.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dimensioning.inputs import Redundancy
from dimensioning.pool import PoolSpec, ServiceClass, evaluate_pool
from dimensioning.service_time import ServiceTime
from facility.demand import PoolDemand, check_pool, pool_spec
from facility.plan import plan_facility
from lpuplan.facility_glue import pool_demands
from lpuplan.project import example_project_text, parse_project

from .conftest import make_facility


def bursty_spec(scv: float) -> PoolSpec:
    service = ServiceTime(prefill_s=0.0, decode_s=1.0, fixed_s=0.0, mean_decode_s=1.0)
    cls = ServiceClass("chat", 1.0, service, 1.5, 1.5)
    return PoolSpec("chat", 22.0, (cls,), 10, 0.9, 0.9, None, 1, scv)


def demand(scv: float) -> PoolDemand:
    return PoolDemand("chat", 4, 64, 10, 1.0, 22.0, 1.5, 0.9, rho_target_normal=0.9, arrival_scv=scv,
                      pool=bursty_spec(scv))


def one_pod_of_six():
    return make_facility(rows=1, pods_per_row=1, racks_per_pod=6,
                         cooling={"unit_kw": 150.0, "racks_per_zone": 6, "redundancy": 1})


def test_the_pinned_case_is_where_the_models_part():
    poisson, bursty = bursty_spec(1.0), bursty_spec(4.0)
    assert evaluate_pool(poisson, 3, degraded=True).passed
    assert not evaluate_pool(bursty, 3, degraded=True).passed
    assert evaluate_pool(bursty, 4, degraded=True).passed
    assert evaluate_pool(poisson, 3, degraded=True).wait_p99_s == pytest.approx(0.162, abs=2e-3)


@pytest.mark.parametrize("scv, replicas", [(1.0, 4), (4.0, 5)])
def test_rack_n_plus_1_follows_the_sizings_arrival_model(scv, replicas):
    # 64 chips = one rack per replica: a rack loss takes exactly one replica
    r = plan_facility(None, one_pod_of_six(), Redundancy(level="rack", n_plus=1), [demand(scv)])
    assert r.pool("chat").replicas_final == replicas
    rack = r.level("rack").pools[0]
    assert rack.check.n_operational == replicas - 1 and rack.check.passed
    # the facility's verdict at every count is the sizing's own
    for n in range(0, 6):
        assert check_pool(demand(scv), n).passed == evaluate_pool(bursty_spec(scv), n, degraded=True).passed


def test_the_check_reports_the_sizings_figures():
    c = check_pool(demand(4.0), 3)
    v = evaluate_pool(bursty_spec(4.0), 3, degraded=True)
    assert c.p99_s == pytest.approx(v.check("e2el_p99").value)
    assert c.failed == ("e2el_p99[chat]",) and c.method == v.check("e2el_p99").kind
    # mu is per replica: 10 slots / 1 s; capacity margin = 0.9 x 3 x 10 - 22
    assert demand(4.0).mu == 10.0
    assert c.capacity_margin_rps == pytest.approx(5.0)


def test_a_hand_built_demand_gets_a_one_class_spec_with_its_scv():
    d = PoolDemand("a", 2, 64, 10, 1.0, 22.0, 1.5, 0.9, arrival_scv=4.0)
    spec = pool_spec(d)
    assert spec.arrival_scv == 4.0 and spec.service_times == (1.0,) and spec.mu == 10.0
    assert check_pool(d, 3).passed == evaluate_pool(bursty_spec(4.0), 3, degraded=True).passed


def test_the_project_glue_hands_the_sizings_spec_to_the_facility():
    data = tomllib.loads(example_project_text())
    data["workload"]["arrival_scv"] = 3.0
    data["bucket"] = data["bucket"][:1]  # one bucket: the bursty sizing's simulator referee runs once
    project = parse_project(data, Path("."))
    demands, _sizes = pool_demands(project)
    assert demands and all(d.pool is not None and d.pool.arrival_scv == 3.0 and d.arrival_scv == 3.0 for d in demands)
