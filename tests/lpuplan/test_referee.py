"""Bursty pools are sized safely (simulated figures at the conservative end), checked by an independent simulation;
the simulator referee stands in for any figure that is an approximation without a safe margin."""

import dataclasses
import tomllib
from pathlib import Path

import numpy as np

from dimensioning.pool import queue_factor
from dimensioning.sizing import Targets, size_bucket
from dimensioning.traffic import split_traffic
from lpuplan.plan_simulated import referee_dedicated
from lpuplan.project import example_project_text, parse_project
from tests.independent_queue import _waits, heap_waits_reference, shed_fraction


def _issue_example():
    # issue 8: `lpuplan init`, then arrival_scv = 4, rho_target_normal 0.95, rho_target_degraded 0.98
    data = tomllib.loads(example_project_text())
    data["workload"]["arrival_scv"] = 4.0
    data["headroom"]["rho_target_normal"] = 0.95
    data["headroom"]["rho_target_degraded"] = 0.98
    project = parse_project(data, Path.cwd())
    targets = Targets.from_inputs(project.workload, project.slo, project.headroom, project.redundancy, project.admission)
    split = split_traffic(project.workload, project.buckets)
    index = next(i for i, b in enumerate(project.buckets) if b.label == "p2048")
    return size_bucket(project.buckets[index], split.buckets[index], targets=targets)


def _independent_shed(sizing, operational):
    spec = sizing.pool
    cls = spec.classes[0]
    servers = operational * spec.slots
    cap = queue_factor(cls, spec, True) * servers
    return shed_fraction(spec.arrival_rate, cls.service.total_s, servers, servers + cap, spec.arrival_scv,
                         2_000_000, seed=99)


def test_the_independent_queue_matches_a_plain_heap_recursion():
    rng = np.random.default_rng(3)
    arrival = np.cumsum(rng.exponential(0.1, 2000))
    service = rng.choice([0.2, 1.5], size=2000)
    assert np.allclose(_waits(arrival, service, 7), heap_waits_reference(arrival, service, 7))


def test_bursty_shed_p2048_is_never_undersized_and_n_minus_1_fails_independently():
    sizing = _issue_example()
    kinds = sizing.figure_kinds
    assert kinds["shed (degraded)"] == "simulated" and kinds["e2el_p99 (degraded)"] == "simulated"
    assert not sizing.unsafe_figures
    n, lost, target = sizing.replicas, sizing.replicas_lost, sizing.pool.shed_target
    assert n >= 12  # the issue's independent simulation needs 12; the old approximation said 10
    assert "shed (degraded)" in sizing.binding
    assert _independent_shed(sizing, n - lost).high <= target  # N meets the shed target with a replica down
    assert _independent_shed(sizing, n - 1 - lost).high > target  # N - 1 cannot be shown to


def test_the_referee_decides_a_figure_that_is_an_approximation_without_margin():
    sizing = _issue_example()
    # pretend the deciding figures came from an unmargined approximation (and the pool was sized 3 short)
    def relabel(verdict):
        return dataclasses.replace(verdict, checks=tuple(
            dataclasses.replace(c, kind="approximation") if c.constraint == "shed" else c for c in verdict.checks))
    rough = dataclasses.replace(sizing, replicas=sizing.replicas - 3, verdict_normal=relabel(sizing.verdict_normal),
                                verdict_degraded=relabel(sizing.verdict_degraded))
    assert rough.unsafe_figures
    decision = referee_dedicated(rough)
    assert decision.confirmed and decision.replicas_from_model == sizing.replicas - 3
    # the referee lands where the simulated model does, give or take its interval
    assert abs(decision.replicas - sizing.replicas) <= 1
    assert all(r["passed"] for r in decision.figures)
    assert {(r["state"], r["constraint"]) for r in decision.figures} == {("normal", "shed"), ("degraded", "shed")}
