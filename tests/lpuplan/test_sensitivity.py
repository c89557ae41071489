"""Sensitivity of N to the assumed inputs: moves that must not lower (or must not change) the replica count."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lpuplan.plan import build_plan
from lpuplan.project import example_project_text, parse_project
from lpuplan.sensitivity import sensitivity


def small_project():
    """The embedded example with only lambda_peak and one bucket's chips_per_replica assumed (fast to re-size)."""
    project = parse_project(tomllib.loads(example_project_text()), Path.cwd())
    buckets = [b.model_copy(update={"assumed": ("chips_per_replica",) if i == 0 else ()})
               for i, b in enumerate(project.buckets)]
    return project.model_copy(update={"buckets": tuple(buckets)})


@pytest.fixture(scope="module")
def result():
    return sensitivity(build_plan(small_project(), place=False))


def _move(result, figure, factor):
    return next(m for m in result.moves if m.figure == figure and m.factor == pytest.approx(factor))


def test_more_peak_traffic_never_needs_fewer_replicas(result):
    up, down = _move(result, "workload.lambda_peak", 1.2), _move(result, "workload.lambda_peak", 0.8)
    assert up.value == pytest.approx(48.0) and down.value == pytest.approx(32.0)  # the example's 40 req/s +-20%
    assert up.delta >= 0 >= down.delta
    assert up.delta > 0  # 20% more traffic on 20 replicas at rho up to 0.64 does need more
    assert up.replicas == result.base_replicas + up.delta


def test_an_input_outside_the_sizing_changes_nothing(result):
    label = f"bucket {small_project().buckets[0].label}: chips_per_replica"
    moves = [m for m in result.moves if m.figure == label]
    assert [m.value for m in moves] == [461, 691]  # integers: 576 * 0.8 and 576 * 1.2, rounded
    assert all(m.delta == 0 for m in moves)


def test_only_assumed_figures_move_and_the_ranking_is_by_size(result):
    assert {m.figure for m in result.moves} == {"workload.lambda_peak", f"bucket {small_project().buckets[0].label}: chips_per_replica"}
    ranked = result.ranked()
    assert [abs(m.delta) for m in ranked] == sorted((abs(m.delta) for m in ranked), reverse=True)
    assert ranked[0].figure == "workload.lambda_peak"


def test_a_move_the_project_rejects_is_out_of_range_not_clamped():
    project = small_project()
    # rho_target_normal 0.9 assumed: +20% is 1.08, above the validator's limit of 1
    headroom = project.headroom.model_copy(update={"rho_target_normal": 0.9, "assumed": ("rho_target_normal",)})
    project = project.model_copy(update={"headroom": headroom})
    up = _move(sensitivity(build_plan(project, place=False)), "headroom.rho_target_normal", 1.2)
    assert up.delta is None and up.note.startswith("out of range")
