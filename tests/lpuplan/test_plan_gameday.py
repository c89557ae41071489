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
