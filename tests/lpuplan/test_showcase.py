"""The showcase example exercises what the tool is for: queues that fill, TTFT, bursts, a shared-pool choice."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lpuplan.cli import app

runner = CliRunner()


def test_showcase_queues_and_makes_the_shared_pool_matter(tmp_path):
    assert runner.invoke(app, ["init", str(tmp_path), "--example", "showcase"]).exit_code == 0
    result = runner.invoke(app, ["size", str(tmp_path / "lpuplan.toml"), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    buckets = {b["name"]: b for b in plan["dedicated"]["buckets"]}
    short = buckets["short"]
    assert short["admission_normal"]["queue_cap"] > 0  # requests wait: p50 and p99 differ
    assert short["normal"]["e2el_p50_ms"] < 0.7 * short["normal"]["e2el_p99_ms"]
    assert all(b["slots"] == 1 for b in buckets.values())  # one sequence per replica pipeline
    kinds = {c["name"].split(" (")[0] for c in plan["checks"]}
    assert {"ttft_p99", "e2el_p99"} <= kinds
    assert plan["inputs"]["workload"]["arrival_scv"]["value"] > 1  # bursty
    # one pool for both buckets would need fewer replicas: the decision is worth a look
    assert plan["shared"]["replicas"] < plan["dedicated"]["replicas"]
    assert plan["verdict"]["headline"].startswith("PASS: ")
