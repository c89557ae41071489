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
    assert doc["schema"] == "lpuplan.gameday/1" and doc["go"] is False
    assert doc["domains"][0]["reasons"]


def test_level_sweep_and_artifacts(tmp_path) -> None:
    result = runner.invoke(app, ["gameday", str(SMALL_SITE), "--level", "rack", "--out", str(tmp_path), *FAST])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("GO: 8 of 8 domains GO")
    assert (tmp_path / "prediction.json").exists()
    folder = tmp_path / "row01-pod01-rack01"
    assert {p.name for p in folder.iterdir()} == {"runbook.md", "bands.png", "alerts.yml", "experiment.json"}


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
