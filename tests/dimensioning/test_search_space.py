"""Search space: enumeration order, Pareto frontier against brute force, fitness ratios."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from dimensioning.search_space import SearchSpec, candidates, fitness, pareto_front


def test_candidates_are_the_product_in_a_fixed_order():
    spec = SearchSpec(slots=(1, 8), rho_target_normal=(0.6, 0.7, 0.8), pool=("dedicated", "shared"))
    cands = candidates(spec)
    assert len(cands) == spec.size() == 12
    assert [c.index for c in cands] == list(range(12))
    assert cands[0].value("slots") == 1 and cands[0].value("rho_target_normal") == 0.6
    assert cands[1].value("pool") == "shared"
    assert cands[0].value("platform") is None  # not searched: the project's own
    assert candidates(spec) == cands


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=25), st.booleans())
def test_pareto_front_matches_brute_force(points, maximise):
    front = set(pareto_front(points, maximise_second=maximise))

    def dominates(a, b):
        better2 = a[1] >= b[1] if maximise else a[1] <= b[1]
        strictly = a[0] < b[0] or (a[1] > b[1] if maximise else a[1] < b[1])
        return a[0] <= b[0] and better2 and strictly

    undominated = {i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)}
    # duplicates of an undominated point: exactly one of them is kept
    assert front <= undominated
    assert {points[i] for i in front} == {points[i] for i in undominated}


def test_fitness_is_a_ratio_to_the_best():
    metrics = [{"cost_per_hour": 100.0, "max_sustainable_rps": 50.0}, {"cost_per_hour": 200.0, "max_sustainable_rps": 100.0}]
    scores = fitness(metrics, {"cost_per_hour": 1.0, "max_sustainable_rps": 1.0})
    assert scores == [pytest.approx((1.0 + 0.5) / 2), pytest.approx((0.5 + 1.0) / 2)]
    assert fitness(metrics, {"cost_per_hour": 3.0, "max_sustainable_rps": 1.0})[0] == pytest.approx((3 + 0.5) / 4)


def test_unknown_weight_and_bad_values_are_refused():
    for bad in ({"weights": {"p99_ttft": 1.0}}, {"slots": (0,)}, {"rho_target_normal": (1.2,)}):
        with pytest.raises(ValidationError):
            SearchSpec(**bad)


def test_size_counts_only_searched_dimensions():
    assert SearchSpec().size() == 1
    spec = SearchSpec(buckets=(("a", "b"), ("b",)), max_output_tokens=(256, 512, 1024))
    assert spec.size() == 6 == len(list(itertools.product(spec.buckets, spec.max_output_tokens)))
