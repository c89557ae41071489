"""`lpuplan.search` against a brute force: every candidate evaluated on its own, the picks and frontiers by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

from dimensioning.search_space import Candidate, SearchSpec
from lpuplan.project import load_project
from lpuplan.search import _per_chip, evaluate_candidate, search

PROJECT = Path(__file__).with_name("whatif.toml")


def _dominated(p, q, maximise):
    """q dominates p: no worse in both, better in one (cost minimised; second min or max)."""
    second_ok = q[1] >= p[1] if maximise else q[1] <= p[1]
    strictly = q[0] < p[0] or (q[1] > p[1] if maximise else q[1] < p[1])
    return q[0] <= p[0] and second_ok and strictly


def test_search_agrees_with_a_brute_force_over_a_small_space():
    from dimensioning import knee

    project = load_project(PROJECT)
    slots, normal, degraded = (8, 16), (0.6, 0.7, 0.8), (0.85, 0.9)
    spec = SearchSpec(slots=slots, rho_target_normal=normal, rho_target_degraded=degraded)
    result = search(project, spec, workers=1)

    # brute force: each combination on its own (its own plan, no grouping, no memo carried over)
    per_chip = _per_chip(project)
    brute = []
    for i, (s, rn, rd) in enumerate(itertools.product(slots, normal, degraded)):
        knee._max_sustainable.cache_clear()
        cand = Candidate(i, (("slots", s), ("rho_target_normal", rn), ("rho_target_degraded", rd), ("pool", "dedicated")))
        brute.append(evaluate_candidate(project, cand, per_chip, project.cost))
    assert [r.to_dict() | {"fitness": None} for r in result.candidates] == [r.to_dict() for r in brute]

    compliant = [r for r in brute if r.compliant]
    assert compliant, "the example must have compliant configurations to pick from"
    cheapest = min(r.cost_per_hour for r in compliant)
    budget = [r.index for r in compliant if r.cost_per_hour == cheapest]
    assert result.budget == min(budget, key=lambda i: (brute[i].e2el_p99_ms, i))
    assert result.premium == max(compliant, key=lambda r: (r.headroom, -r.cost_per_hour, -r.index)).index
    for key, maximise, frontier in (("e2el_p99_ms", False, result.frontier_cost_p99),
                                    ("max_sustainable_rps", True, result.frontier_cost_rate)):
        points = {r.index: (r.cost_per_hour, getattr(r, key)) for r in compliant}
        undominated = {i for i, p in points.items() if not any(_dominated(p, q, maximise) for q in points.values())}
        assert set(frontier) <= undominated
        assert {points[i] for i in frontier} == {points[i] for i in undominated}
    # every max rate says how it is certified, and the rate passes the pool check there (exact here)
    assert {r.max_rate_certified for r in result.candidates} <= {"exact", "bound"}
