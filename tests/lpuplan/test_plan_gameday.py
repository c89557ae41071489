"""The plan's game-day summary: each row is its level's own prediction."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lpuplan.plan import build_plan
from lpuplan.plan_gameday import _level_summary, gameday_summary, predict_plan
from lpuplan.project import example_project_text, parse_project


@pytest.mark.parametrize("n_plus", [1, 2])
def test_every_row_is_the_prediction_of_its_level_alone(tmp_path: Path, n_plus: int) -> None:
    # the summary predicts every row's domains in one call (the rows share the runs of the losses they have
    # in common); each row must be what predicting its own domains alone gives
    text = example_project_text().replace("n_plus = 1", f"n_plus = {n_plus}")
    plan = build_plan(parse_project(tomllib.loads(text), tmp_path), simulate=False)
    summary = gameday_summary(plan, seed=3)
    assert summary is not None
    rows = [lv.level for lv in summary.levels]
    assert rows == (["rack", "pod"] if n_plus == 1 else ["rack", "pod", "rack x2"])
    for row in summary.levels:
        if row.level.endswith(" x2"):
            from facility.gameday.blast import failure_model

            worst = failure_model(plan.facility).worst("rack", 2, pools=sorted(plan.facility.replica_counts))
            alone = predict_plan(plan, domains=sorted({"+".join(w.domains) for p, w in worst.items() if p and w.domains}),
                                 settings=summary.settings, workers=1)
        else:
            alone = predict_plan(plan, level=row.level, settings=summary.settings, workers=1)
        assert row == _level_summary(row.level, alone)


def test_a_pool_too_large_to_simulate_leaves_the_summary_unsimulated_and_says_why(tmp_path: Path, monkeypatch) -> None:
    """The example at lambda_peak = 1e4: its main pool's 8-minute game day is about 4.5 million arrivals per
    seed at 7,500 requests/s; with the summary's cap lowered below that, the summary names the pool and the
    count instead of simulating (at 1e6 requests/s the run would need 36 GB)."""
    from lpuplan import plan_gameday
    from lpuplan.plan_gameday import summary_lines

    text = example_project_text().replace("lambda_peak = 40.0", "lambda_peak = 10000.0")
    plan = build_plan(parse_project(tomllib.loads(text), tmp_path), simulate=False)
    monkeypatch.setattr(plan_gameday, "SUMMARY_MAX_REQUESTS", 1_000_000)
    summary = gameday_summary(plan, seed=3)
    assert summary is not None and summary.levels == ()
    assert summary.not_simulated is not None and "p2048" in summary.not_simulated
    assert "cap of 1,000,000" in summary.not_simulated and "N+k checks" in summary.not_simulated
    assert summary.to_dict()["not_simulated"] == summary.not_simulated
    assert summary_lines(summary) == [f"Game days: not simulated: {summary.not_simulated}."]
