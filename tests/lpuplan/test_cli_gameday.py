"""``lpuplan gameday``: verdict first, one JSON object, exit codes, artifacts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lpuplan.cli import app
from tests.facility.gameday.conftest import SMALL_SITE

runner = CliRunner()
FAST = ["--before", "60", "--restore-after", "240", "--recovery", "120", "--seeds", "4", "--workers", "1"]


def test_rack_loss_is_go_verdict_first() -> None:
    result = runner.invoke(app, ["gameday", str(SMALL_SITE), "--domain", "rack:row01-pod01-rack01", *FAST])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("GO: row01-pod01-rack01 (rack); SLO holds, margin")
    assert "abort conditions" in result.output


def test_pod_loss_is_no_go_exit_3_and_json_is_one_object() -> None:
    result = runner.invoke(app, ["gameday", "predict", str(SMALL_SITE), "--domain", "row01-pod01", "--json", *FAST])
    assert result.exit_code == 3
    doc = json.loads(result.output)
    assert doc["schema"] == "lpuplan.gameday/2" and doc["go"] is False
    assert doc["domains"][0]["reasons"]


def test_level_sweep_and_artifacts(tmp_path) -> None:
    result = runner.invoke(app, ["gameday", str(SMALL_SITE), "--level", "rack", "--out", str(tmp_path / "o"),
                                 "--artifacts", "2", *FAST])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("GO: 8 of 8 domains GO")
    assert len(json.loads((tmp_path / "o" / "prediction.json").read_text())["domains"]) == 8
    folders = sorted(p for p in (tmp_path / "o").iterdir() if p.is_dir())
    assert len(folders) == 2  # the two smallest margins (ties: site order)
    assert {p.name for p in folders[0].iterdir()} == {"runbook.md", "bands.png", "alerts.yml", "experiment.json"}


def test_bad_input_exits_2_naming_the_option() -> None:
    result = runner.invoke(app, ["gameday", str(SMALL_SITE), "--domain", "rack:nowhere", *FAST])
    assert result.exit_code == 2 and "--domain" in result.output
    result = runner.invoke(app, ["gameday", str(SMALL_SITE), "--level", "rack", "--seeds", "1"])
    assert result.exit_code == 2 and "--seeds" in result.output
    result = runner.invoke(app, ["gameday", str(SMALL_SITE), "--level", "rack", "--routing", "fastest"])
    assert result.exit_code == 2 and "--routing" in result.output


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["gameday", "--help"])
    assert result.exit_code == 0 and "predict" in result.output


def test_plan_carries_the_game_day_summary_of_the_n_plus_k_level_and_the_one_above() -> None:
    from lpuplan.plan import build_plan
    from lpuplan.plan_gameday import summary_lines
    from lpuplan.project import load_project

    plan = build_plan(load_project(SMALL_SITE), simulate=True)
    rack, pod = plan.gameday.levels
    assert (rack.level, rack.domains, rack.slo_holds) == ("rack", 8, True) and rack.min_margin_s > 0
    # losing a pod leaves 4 of 8 replicas at rho 1.31: the SLO cannot hold
    assert (pod.level, pod.domains, pod.slo_holds) == ("pod", 2, False)
    assert set(pod.failing) == {"row01-pod01", "row01-pod02"}
    assert plan.to_dict()["gameday"]["levels"][0]["level"] == "rack"
    assert summary_lines(plan.gameday)[1].startswith("  rack     8 domain(s): SLO holds")
    assert build_plan(load_project(SMALL_SITE), simulate=False).gameday is None


def test_n_plus_2_summary_predicts_the_worst_two_domains_together(tmp_path) -> None:
    from lpuplan.plan import build_plan
    from lpuplan.plan_gameday import predict_plan
    from lpuplan.project import load_project

    site = tmp_path / "n2.toml"
    site.write_text(SMALL_SITE.read_text().replace("n_plus = 1", "n_plus = 2"))
    plan = build_plan(load_project(site), simulate=True)
    pair = plan.gameday.levels[-1]
    assert pair.level == "rack x2" and pair.domains == 1
    (both,) = predict_plan(plan, domains=[pair.worst_domain], workers=1)
    assert "+" in both.domain and both.blast.replicas_lost == 2
    assert both.pools[0].lost == 2 and pair.slo_holds == both.slo_holds
