"""``lpuplan facility``: exit codes, outputs written even when a check fails, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

PROJECT = """
name = "facility cli test"

[workload]
lambda_peak = 12.0
prompt_tokens = { distribution = "lognormal", mean = 1500.0, std = 1000.0 }
output_tokens = { distribution = "lognormal", mean = 300.0, std = 200.0 }

[slo]
p99_ms = 8000.0

[redundancy]
level = "rack"
n_plus = 1

[[bucket]]
name = "short"
max_prompt_tokens = 2048
max_output_tokens = 1024
r_prefill = 30000.0
r_decode = 280.0
l_fixed_ms = 30.0
slots = 16
chips_per_replica = 576

[[bucket]]
name = "long"
max_prompt_tokens = 8192
max_output_tokens = 1024
r_prefill = 24000.0
r_decode = 280.0
l_fixed_ms = 30.0
slots = 16

[hardware]
platform = "groqrack-gen1"
model = "llama-3.3-70b"
precision = "int8"

[facility]
site = "SITE"
rows = 3
pods_per_row = 3
racks_per_pod = 9
nodes_per_rack = 9
spare_nodes_per_rack = 1
rack_power_budget_kw = 30.0
node_power_kw = { typical = 2.4, max = 3.3 }
feed = { voltage = FEED_V, amperage = 60.0, phases = 3, power_factor = 0.95, derate = 0.8 }
cooling = { unit_kw = 150.0, racks_per_zone = 9, redundancy = 1, delta_t_f = 20.0 }
"""


@pytest.fixture(scope="module")
def app():
    from lpuplan.cli import app as cli_app

    return cli_app


def write_project(tmp_path: Path, feed_v: float = 415.0, site: str = "dammam-1") -> Path:
    path = tmp_path / "project.toml"
    path.write_text(PROJECT.replace("FEED_V", f"{feed_v}").replace('"SITE"', json.dumps(site)), encoding="utf-8")
    return path


def test_passing_plan_writes_every_output(app, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["facility", str(write_project(tmp_path)), "--out", str(out),
                                      "--graph", str(tmp_path / "g.graphml")])
    assert result.exit_code == 0, result.output
    assert "all facility checks pass" in result.output
    assert "KV cache = 16 slots x 9216 tokens" in result.output  # the memory fit's arithmetic is shown
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"facility.json", "rack_plan.csv", "budgets.csv", "failure_domains.csv", "rack_plan.xlsx",
            "rack_plan.png", "netbox/racks.csv", "netbox/devices.csv", "netbox/power_feeds.csv"} <= names
    assert (tmp_path / "g.graphml").read_text().startswith("<graphml")
    data = json.loads((out / "facility.json").read_text())
    assert data["passed"] is True
    # the long bucket had no compiler figure: the memory fit sized it, arithmetic included
    long = next(p for p in data["pools"] if p["name"] == "long")
    assert long["size"]["source"] == "derived" and any("KV cache" in line for line in long["size"]["arithmetic"])


def test_json_prints_one_object(app, tmp_path):
    result = CliRunner().invoke(app, ["facility", str(write_project(tmp_path)), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["required_level"] == "rack" and data["files"] == []
    assert {v["level"] for v in data["levels"]} >= {"node", "rack", "pod", "row", "feed", "cooling"}


def test_failing_budget_still_writes_outputs_and_exits_3(app, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["facility", str(write_project(tmp_path, feed_v=208.0)), "--out", str(out)])
    assert result.exit_code == 3, result.output
    data = json.loads((out / "facility.json").read_text())
    assert data["passed"] is False
    short = [c for c in data["budget_checks"] if c["kind"] == "single feed carries rack" and not c["passed"]]
    assert short and short[0]["margin"] < 0
    assert "FAIL" in result.output


def test_missing_facility_table_is_exit_2(app, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROJECT.split("[hardware]")[0], encoding="utf-8")
    result = CliRunner().invoke(app, ["facility", str(path)])
    assert result.exit_code == 2
    assert "facility" in result.stderr and "Traceback" not in result.output


def test_bad_facility_value_is_exit_2(app, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(write_project(tmp_path).read_text().replace("rows = 3", "rows = 0"), encoding="utf-8")
    result = CliRunner().invoke(app, ["facility", str(path)])
    assert result.exit_code == 2
    assert "facility.rows" in result.stderr


def test_replica_larger_than_a_pod_is_exit_2(app, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(write_project(tmp_path).read_text().replace("racks_per_pod = 9", "racks_per_pod = 4"), encoding="utf-8")
    result = CliRunner().invoke(app, ["facility", str(path)])
    assert result.exit_code == 2
    assert "racks_per_pod" in result.stderr


def test_no_chip_figure_and_no_model_is_exit_2(app, tmp_path):
    path = tmp_path / "p.toml"
    text = write_project(tmp_path).read_text()
    path.write_text(text.replace('model = "llama-3.3-70b"\n', ""), encoding="utf-8")
    result = CliRunner().invoke(app, ["facility", str(path)])
    assert result.exit_code == 2
    assert "bucket[1].chips_per_replica" in result.stderr


PANELS = """
name = "two rows of two racks"

[workload]
lambda_peak = 10.0
prompt_tokens = { distribution = "lognormal", mean = 1500.0, std = 1000.0 }
output_tokens = { distribution = "lognormal", mean = 300.0, std = 200.0 }

[slo]
p99_ms = 8000.0

[redundancy]
level = "feed"
n_plus = 2

[[bucket]]
name = "chat"
max_prompt_tokens = 2048
max_output_tokens = 1024
r_prefill = 30000.0
r_decode = 280.0
l_fixed_ms = 30.0
slots = 16
chips_per_replica = 64

[facility]
site = "panels"
rows = 2
pods_per_row = 1
racks_per_pod = 2
nodes_per_rack = 9
spare_nodes_per_rack = 1
rack_power_budget_kw = 30.0
node_power_kw = { typical = 2.4, max = 3.3 }
feed = { voltage = 415.0, amperage = 60.0, phases = 3, power_factor = 0.95, derate = 0.8 }
cooling = { unit_kw = 150.0, racks_per_zone = 2, redundancy = 1, delta_t_f = 20.0 }
"""


def test_panel_a_and_panel_b_of_a_row_fail_feed_n_plus_2_with_exit_3(app, tmp_path):
    # 4 racks, one 64-chip replica each, 2 per row. One feed element alone takes nothing (the other side
    # carries every rack); row01's panel A and panel B together darken row01: 2 replicas lost, 2 left,
    # which cannot carry 10 req/s at the degraded targets. The room is full, so no replica can be added.
    path = tmp_path / "panels.toml"
    path.write_text(PANELS, encoding="utf-8")
    result = CliRunner().invoke(app, ["facility", str(path), "--json"])
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    feed = next(v for v in data["levels"] if v["level"] == "feed")
    assert feed["required"] and not feed["passed"]
    assert feed["pools"][0]["lost"] == 2
    assert feed["pools"][0]["worst_domains"] == ["row01-panel-A", "row01-panel-B"]
    assert any("N+2 at level feed fails: worst domain row01-panel-A + row01-panel-B leaves 2 replicas" in f
               for f in data["failures"])
