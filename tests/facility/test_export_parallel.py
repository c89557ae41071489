"""Outputs rendered in a forked child are the bytes rendered here; a child that fails changes nothing."""

from __future__ import annotations

import os

import pytest

from dimensioning.inputs import Redundancy
from dimensioning import forked
from dimensioning.forked import can_fork
from facility.demand import PoolDemand
from facility.export_parallel import ForkedRender
from facility.exports import output_renderers, render_facility_outputs
from facility.plan import plan_facility

from .conftest import make_facility

needs_fork = pytest.mark.skipif(not can_fork(), reason="no fork here (not Linux, one core, or LPUPLAN_NO_FORK)")


@pytest.fixture(scope="module")
def result():
    fac = make_facility(rows=1, pods_per_row=2, racks_per_pod=4)
    return plan_facility(None, fac, Redundancy(level="rack"), [PoolDemand("chat", 3, 96, 10, 1.0, 9.0, 2.0, 0.5)])


@needs_fork
def test_a_child_renders_the_same_bytes(result):
    labels = ["rack plan xlsx", "rack plan PNG"]
    job = ForkedRender(result, labels)
    assert job.forked
    got = job.collect()
    assert sorted(got) == sorted(labels)
    here = render_facility_outputs(result)
    assert got["rack plan xlsx"]["rack_plan.xlsx"] == here["rack_plan.xlsx"]
    assert got["rack plan PNG"]["rack_plan.png"] == here["rack_plan.png"]


def test_serial_where_forking_is_switched_off(result, monkeypatch):
    monkeypatch.setenv(forked.ENV_NO_FORK, "1")
    job = ForkedRender(result, ["rack plan CSV"])
    assert not job.forked
    assert job.collect() == {"rack plan CSV": dict(output_renderers())["rack plan CSV"](result)}


@needs_fork
def test_a_failing_child_is_rendered_here_and_raises_the_real_error(result, monkeypatch):
    parent = os.getpid()

    def broken(_result):
        raise RuntimeError(f"rendering failed in {'the parent' if os.getpid() == parent else 'the child'}")

    monkeypatch.setattr("facility.exports._png", broken)
    job = ForkedRender(result, ["rack plan PNG"])
    with pytest.raises(RuntimeError, match="in the parent"):
        job.collect()


@needs_fork
def test_an_abandoned_child_is_reaped(result):
    job = ForkedRender(result, ["rack plan xlsx"])
    pid = job._call._pid
    job.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already waited for: no zombie left
