"""The CLI as users and scripts see it: outputs, JSON, exit codes, messages."""

import json
import math

import pytest
from typer.testing import CliRunner

from dimensioning.keys import DURATION_KEYS

from lpuplan.cli import app
from lpuplan.project import example_project_text

runner = CliRunner()


def _example(tmp_path, **replace):
    text = example_project_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "lpuplan.toml"
    path.write_text(text)
    return path


def test_plan_on_the_embedded_example_passes_and_writes_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "lpuplan-out"
    plan = json.loads((out / "plan.json").read_text())
    assert plan["schema"] == "lpuplan.plan/3" and plan["passed"] is True
    assert len(plan["dedicated"]["buckets"]) == 4
    for name in ("dimensioning_inputs.md", "capacity_model.md"):
        text = (out / name).read_text()
        assert "{{" not in text and "assumed" in text
    # figures nobody measured are labelled assumed; r_decode is sourced
    first = plan["inputs"]["buckets"][0]["figures"]
    assert first["r_prefill"]["source"] == "assumed"
    assert first["r_decode"]["source"] == "sourced"


def test_plan_is_deterministic_to_the_byte(tmp_path):
    project = _example(tmp_path)
    runner.invoke(app, ["plan", str(project), "--out", str(tmp_path / "a")])
    runner.invoke(app, ["plan", str(project), "--out", str(tmp_path / "b")])
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 3
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_plan_json_prints_one_object(tmp_path):
    result = runner.invoke(app, ["plan", str(_example(tmp_path)), "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0
    plan = json.loads(result.stdout)
    for bucket in plan["dedicated"]["buckets"]:
        assert bucket["binding"]
        assert bucket["normal"]["e2el_p99_ms"] <= bucket["e2el_slo_ms"]
    # lpuplan.plan/3: every latency in ms under dimensioning.keys names; durations alone keep seconds
    assert plan == json.loads((tmp_path / "o" / "plan.json").read_text())
    seconds = sorted({k for k in _keys(plan) if k.endswith("_s") or "_s_ci" in k} - DURATION_KEYS)
    assert seconds == [] and not [k for k in _keys(plan) if "p999" in k or "latency" in k]
    # the facility is a summary pointing at the file with the detail
    facility = plan["facility"]
    assert facility["detail"] == "facility/facility.json" and "nodes" not in facility
    detail = json.loads((tmp_path / "o" / facility["detail"]).read_text())
    assert len(detail["domains"]) == facility["domains"]["checked"] and detail["passed"] == facility["passed"]
    assert facility["racks"] == len(detail["racks"]) and [lv["level"] for lv in facility["levels"]] == [
        lv["level"] for lv in detail["levels"]]


def _keys(obj):
    """Every dict key in ``obj``, recursively."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from _keys(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _keys(value)


def test_a_plan_that_misses_its_slo_exits_3_and_still_writes(tmp_path):
    # 1200 ms cannot hold a 1024-token output at 280 tok/s (3.7 s)
    project = _example(tmp_path, **{"p99_ms = 6000.0": "p99_ms = 1200.0"})
    result = runner.invoke(app, ["plan", str(project), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3, result.output
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert plan["passed"] is False
    failing = [c for c in plan["checks"] if not c["passed"]]
    assert any("exceeds the SLO" in c["detail"] for c in failing)


def test_unserved_prompts_fail_the_plan(tmp_path):
    project = _example(tmp_path, **{"mean = 1400.0, std = 900.0": "mean = 3000.0, std = 3000.0"})
    result = runner.invoke(app, ["size", str(project), "--json"])
    assert result.exit_code == 3
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["unserved prompts"]["passed"] is False


def test_invalid_input_exits_2_without_traceback(tmp_path):
    project = _example(tmp_path, **{"lambda_peak = 40.0": "lambda_peak = -40.0"})
    result = runner.invoke(app, ["plan", str(project), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "workload.lambda_peak" in result.output and "-40.0" in result.output
    assert "Traceback" not in result.output


def test_a_failed_run_leaves_earlier_outputs_intact(tmp_path):
    out = tmp_path / "o"
    assert runner.invoke(app, ["plan", str(_example(tmp_path)), "--out", str(out)]).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(before) > 3  # plan.json, the worksheets and the facility outputs
    bad = _example(tmp_path, **{"slots = 16": "slots = 0"})
    assert runner.invoke(app, ["plan", str(bad), "--out", str(out)]).exit_code == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_queue_json_has_the_documented_keys():
    result = runner.invoke(app, ["queue", "--rate", "0.9", "--service-ms", "1000", "--servers", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("utilization", "prob_wait", "stable", "wait_mean_ms", "wait_p50_ms", "wait_p90_ms", "wait_p95_ms",
                "wait_p99_ms", "wait_p99_9_ms"):
        assert key in out
    assert not [k for k in out if k.endswith("_s") or "p999" in k]  # latencies in ms, p99_9 (dimensioning.keys)
    # M/D/1, rho = 0.9: P-K mean rho D / (2 (1 - rho)) = 4.5 s
    assert out["wait_mean_ms"] == pytest.approx(4500.0, rel=1e-9)
    assert out["utilization"] == pytest.approx(0.9) and out["stable"] is True
    assert "blocking_probability" not in out


def test_queue_with_capacity_reports_blocking():
    result = runner.invoke(app, ["queue", "--rate", "10", "--service-ms", "1000", "--servers", "16", "--capacity", "16", "--json"])
    out = json.loads(result.stdout)
    inv = 1.0
    for k in range(1, 17):
        inv = 1 + inv * k / 10.0
    assert out["blocking_probability"] == pytest.approx(1 / inv, rel=1e-9)


def test_unstable_queue_is_a_result_not_an_error():
    result = runner.invoke(app, ["queue", "--rate", "2", "--service-ms", "1000", "--servers", "1", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["stable"] is False and math.isinf(out["wait_p99_ms"])


@pytest.mark.parametrize(
    "args, field",
    [
        (["--rate", "-1", "--service-ms", "10", "--servers", "1"], "--rate"),
        (["--rate", "1", "--service-ms", "0", "--servers", "1"], "--service-ms"),
        (["--rate", "1", "--service-ms", "10", "--servers", "0"], "--servers"),
        (["--rate", "1", "--service-ms", "10", "--servers", "4", "--capacity", "2"], "--capacity"),
    ],
)
def test_queue_bad_arguments_exit_2(args, field):
    result = runner.invoke(app, ["queue", *args])
    assert result.exit_code == 2 and field in result.output


def test_init_and_validate(tmp_path):
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["validate", str(tmp_path / "lpuplan.toml")]).exit_code == 0
    again = runner.invoke(app, ["init", str(tmp_path)])
    assert again.exit_code == 2 and "--force" in again.output
