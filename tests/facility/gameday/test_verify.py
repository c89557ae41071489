"""Verify: an independent run of the same system passes; a doubled p99 or a stuck router fails."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from facility.gameday.document import prediction_document, published
from facility.gameday.metrics import MetricMap
from facility.gameday.model import GameDaySettings
from facility.gameday.observe import load_observations
from facility.gameday.transient import RunTask, simulate_pool_requests
from facility.gameday.verify import verify_domain
from lpuplan.cli import app
from lpuplan.output import dumps_json
from lpuplan.plan_gameday import predict_plan
from tests.facility.gameday.conftest import FAST


@pytest.fixture(scope="module")
def predicted(small_plan):
    settings = GameDaySettings(**{**FAST, "seeds": 6})
    (d,) = predict_plan(small_plan, domains=["row01-pod01-rack01"], settings=settings, workers=1)
    return d, json.loads(dumps_json(prediction_document([d], settings, MetricMap())))


def _day(predicted, seed: int = 987_654_321, **changes):
    """A game day the prediction never saw (a seed outside its seeds), as a client records it."""
    d, _ = predicted
    p = d.pools[0]
    settings = d.settings if not changes else GameDaySettings(**{**d.settings.to_dict(), "assumed": (), **changes})
    return simulate_pool_requests(RunTask(p.pool, p.lost, settings, seed))


def _csv(day, *, scale_e2el: float = 1.0) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["pool", "arrival_s", "e2el_s", "ttft_s", "status"])
    status = {0: "ok", 1: "shed", 2: "error"}
    for a, e, t, o in zip(day["arrival_s"], day["end_s"], day["ttft_s"], day["outcome"]):
        w.writerow(["chat", f"{a:.6f}", f"{(e - a) * scale_e2el:.6f}", "" if np.isnan(t) else f"{t:.6f}", status[int(o)]])
    return out.getvalue()


def test_an_independent_day_is_in_band_and_crosses_nothing(predicted, tmp_path) -> None:
    _, doc = predicted
    path = tmp_path / "day.csv"
    path.write_text(_csv(_day(predicted)))
    result = verify_domain(doc, load_observations(path, doc))
    assert result.passed, [f.to_dict() for f in result.out_of_band]
    assert sum(f.in_band is not None for f in result.figures) >= 20
    assert not result.crossings


def test_a_doubled_p99_is_out_of_band_and_crosses_the_abort_threshold(predicted, tmp_path) -> None:
    _, doc = predicted
    path = tmp_path / "slow.csv"
    path.write_text(_csv(_day(predicted), scale_e2el=2.0))
    result = verify_domain(doc, load_observations(path, doc))
    assert not result.passed
    bad = {(f.phase, f.figure) for f in result.out_of_band}
    assert ("degraded", "e2el_p99_s") in bad and ("before", "e2el_p99_s") in bad


def test_a_router_that_never_fails_over_crosses_errors_after_failover(predicted, tmp_path) -> None:
    _, doc = predicted
    # the same day with a router that keeps sending 1/8 of the traffic to the dead replica until the restore
    stuck = _day(predicted, failover_time_s=200.0)
    path = tmp_path / "stuck.csv"
    path.write_text(_csv(stuck))
    result = verify_domain(doc, load_observations(path, doc))
    assert "errors_after_failover" in {c.name for c in result.crossings}
    assert not result.passed


def test_per_interval_csv_and_the_cli(predicted, tmp_path) -> None:
    d, doc = predicted
    (tmp_path / "prediction.json").write_text(json.dumps(published(doc)))  # as `gameday predict --out` writes it
    p = d.pools[0]
    rows = ["pool,t_start_s,e2el_p99_s,shed_rate,error_rate,goodput_rps,arrival_rps"]
    for i, t in enumerate(p.t_start_s):
        s = p.series
        rows.append(",".join(["chat", f"{t:g}"] + [
            "" if s[k]["median"][i] is None else f"{s[k]['median'][i]:.6g}"
            for k in ("e2el_p99_s", "shed_rate", "error_rate", "goodput_rps", "arrival_rps")]))
    (tmp_path / "intervals.csv").write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["gameday", "verify", str(tmp_path / "prediction.json"), "--observed",
                             str(tmp_path / "intervals.csv"), "--out", str(tmp_path / "v")])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("VERIFIED: row01-pod01-rack01")
    assert (tmp_path / "v" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "slow.csv").write_text(_csv(_day(predicted), scale_e2el=2.0))
    bad = runner.invoke(app, ["gameday", "verify", str(tmp_path / "prediction.json"), "--observed",
                              str(tmp_path / "slow.csv"), "--json"])
    assert bad.exit_code == 3
    assert json.loads(bad.output)["passed"] is False
    missing = runner.invoke(app, ["gameday", "verify", str(tmp_path / "prediction.json")])
    assert missing.exit_code == 2 and "--observed" in missing.output


def test_load_jsonl_on_a_time_scaled_clock(predicted, tmp_path) -> None:
    _, doc = predicted
    day = _day(predicted)
    scale, t0_wall = 10.0, 50.0  # a 10x emulator; the failure 50 wall seconds into the run
    lines = [json.dumps({"kind": "run", "time_scale": scale})]
    for a, e, t, o in zip(day["arrival_s"], day["end_s"], day["ttft_s"], day["outcome"]):
        lines.append(json.dumps({"kind": "request", "shape": "chat", "sent_s": t0_wall + a / scale,
                                 "first_token_s": None if np.isnan(t) else t0_wall + (a + t) / scale,
                                 "end_s": t0_wall + e / scale, "status": {0: 200, 1: 429, 2: 503}[int(o)]}))
    path = tmp_path / "load.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = verify_domain(doc, load_observations(path, doc, t0=t0_wall))
    assert result.passed, [f.to_dict() for f in result.out_of_band]
