"""``lpuplan simulate``: exit codes, JSON, files, determinism (typer's CliRunner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lpuplan.cli import app
from lpuplan.project import example_project_text

runner = CliRunner()


@pytest.fixture()
def project(tmp_path):
    path = tmp_path / "lpuplan.toml"
    path.write_text(example_project_text())
    return path


def _json(result) -> dict:
    assert result.stdout.lstrip().startswith("{"), result.stdout
    return json.loads(result.stdout)


def test_json_is_one_object_and_meets_the_slo(project):
    result = runner.invoke(app, ["simulate", str(project), "--requests", "20000", "--replicas", "3,24,6,2", "--json"])
    assert result.exit_code == 0, result.output
    payload = _json(result)
    assert payload["method"] == "simulated"
    assert payload["slo_ok"] is True
    summary = payload["summary"]
    low, high = summary["e2el_p99_ms_ci95"]
    assert low <= summary["e2el_p99_ms"] <= high
    assert summary["wait_p99_9_ms"] >= summary["wait_p99_ms"] and "wait_p999_s" not in summary
    assert [row["bucket"] for row in payload["buckets"]] == ["p512", "p2048", "p4096", "p8192"]


def test_same_seed_same_bytes(project, tmp_path):
    args = ["simulate", str(project), "--requests", "5000", "--replicas", "2", "--seed", "7", "--routing", "jsq"]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--json"])
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "b"), "--json"])
    for name in ("timeseries.csv", "simulate.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    strip = lambda p: {k: v for k, v in _json(p).items() if k not in ("wall_s", "files")}  # noqa: E731
    assert strip(first) == strip(second)


def test_overloaded_pool_fails_the_check_with_exit_3(project):
    result = runner.invoke(app, ["simulate", str(project), "--requests", "20000", "--replicas", "1"])
    assert result.exit_code == 3, result.output
    assert "e2el p99 against the SLO" in result.stdout


def test_failure_writes_series_and_plot(project, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "simulate", str(project), "--duration", "600", "--replicas", "3,24,6,2", "--routing", "round_robin",
            "--fail", "3,4,5,6,7,8,9,10@200:failover=15:unnoticed=timeout:timeout=10:recover=400",
            "--arrivals", "gamma:2", "--out", str(out), "--json",
        ],
    )
    assert result.exit_code in (0, 3), result.output
    payload = _json(result)
    assert payload["failure"]["replicas"] == [3, 4, 5, 6, 7, 8, 9, 10]
    assert payload["summary"]["lost"] > 0
    header = (out / "timeseries.csv").read_text().splitlines()[0]
    assert header.startswith("t_start_s,arrivals,completions,sheds,losses,queue_depth,busy_slots")
    assert (out / "simulate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "summary.json").read_text())["seed"] == 0


def test_shared_pool_with_token_service_and_caps(project):
    result = runner.invoke(
        app,
        [
            "simulate", str(project), "--requests", "20000", "--pool", "shared", "--replicas", "30",
            "--service", "tokens", "--queue-cap", "50", "--jitter", "0.05", "--json",
        ],
    )
    assert result.exit_code in (0, 3), result.output
    payload = _json(result)
    assert payload["scenario"]["service"] == "tokens"
    assert payload["summary"]["rejected"] > 0  # lognormal prompts above 8192 tokens


@pytest.mark.parametrize(
    "args",
    [
        ["--requests", "10", "--duration", "5"],
        ["--routing", "magic"],
        ["--arrivals", "bursty"],
        ["--fail", "0@x"],
        ["--fail", "99@10"],
        ["--replicas", "1,2"],
        ["--pool", "wide"],
    ],
)
def test_bad_input_exits_2_with_the_field(project, args):
    result = runner.invoke(app, ["simulate", str(project), "--replicas", "2", *args] if "--replicas" not in args else
                           ["simulate", str(project), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_default_replicas_come_from_the_sizing(project):
    """Without --replicas, the counts are those `lpuplan size` reports (read from its JSON, not recomputed)."""
    sized = _json(runner.invoke(app, ["size", str(project), "--json"]))
    dedicated = [bucket["replicas"] for bucket in sized["dedicated"]["buckets"]]
    assert all(n >= 1 for n in dedicated)  # every example bucket has traffic
    result = runner.invoke(app, ["simulate", str(project), "--requests", "20000", "--json"])
    assert result.exit_code in (0, 3), result.output
    assert _json(result)["scenario"]["replicas"] == dedicated
    result = runner.invoke(app, ["simulate", str(project), "--requests", "20000", "--pool", "shared", "--json"])
    assert result.exit_code in (0, 3), result.output
    assert _json(result)["scenario"]["replicas"] == [sized["shared"]["replicas"]]


def test_losses_above_the_shed_target_fail_with_exit_3(project):
    """A failure that loses ~1% of requests fails the run against shed_target, whatever the latencies."""
    result = runner.invoke(
        app,
        ["simulate", str(project), "--requests", "40000", "--replicas", "6,40,10,4", "--fail", "6,7,8@60:failover=30",
         "--json"],
    )
    payload = _json(result)
    assert result.exit_code == 3, result.output
    unserved = payload["unserved"]
    assert unserved["unserved_share"] > unserved["target"]
    assert payload["passed"] is False
    assert any("shed + lost" in reason for reason in payload["failures"])


def test_a_zero_rate_is_reported_as_a_bad_rate(project):
    result = runner.invoke(app, ["simulate", str(project), "--replicas", "2", "--rate", "0"])
    assert result.exit_code == 2
    assert "--rate" in result.output and "--arrivals" not in result.output


def test_a_missing_trace_file_is_named(project, tmp_path):
    missing = tmp_path / "nowhere.csv"
    result = runner.invoke(app, ["simulate", str(project), "--replicas", "2", "--arrivals", f"trace:{missing}"])
    assert result.exit_code == 2
    assert "nowhere.csv" in result.output and "no such trace file" in result.output


def test_help_names_the_options():
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    for option in ("--requests", "--duration", "--arrivals", "--routing", "--fail", "--json", "--out"):
        assert option in result.output


def test_trace_replay_uses_each_requests_tokens(project, tmp_path):
    trace = tmp_path / "trace.csv"
    rows = ["timestamp,prompt_tokens,output_tokens"]
    rows += [f"{i * 0.05:.2f},{300 + (i * 37) % 3000},{50 + (i * 13) % 400}" for i in range(2000)]
    trace.write_text("\n".join(rows) + "\n")
    result = runner.invoke(
        app, ["simulate", str(project), "--arrivals", f"trace:{trace}", "--requests", "2000", "--replicas", "4", "--json"]
    )
    assert result.exit_code in (0, 3), result.output
    payload = _json(result)
    assert payload["scenario"]["service"] == "tokens"
    assert payload["summary"]["requests"] == 2000
    assert payload["summary"]["span_s"] == pytest.approx(1999 * 0.05)
    too_many = runner.invoke(app, ["simulate", str(project), "--arrivals", f"trace:{trace}", "--requests", "5000",
                                   "--replicas", "4"])
    assert too_many.exit_code == 2
