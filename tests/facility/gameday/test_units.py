"""Game-day JSON speaks ms for latencies (dimensioning.keys), seconds for durations, and reads back exactly.

The walker below is the guard against the next regression: every JSON the
game-day commands write (``prediction.json``, ``--json``, ``verify.json``)
is searched for a key ending ``_s`` that is neither a duration
(dimensioning.keys.DURATION_KEYS) nor a time stamp of the game day's
clock, and for a figure named by value in seconds.
"""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from dimensioning.keys import DURATION_KEYS
from facility.gameday.document import SCHEMA, prediction_document, published, read_published
from facility.gameday.metrics import MetricMap
from facility.gameday.units import from_output, to_output
from lpuplan.cli import app
from lpuplan.output import dumps_json
from lpuplan.plan_gameday import predict_plan
from tests.facility.gameday.conftest import SMALL_SITE

# seconds that are not latencies: durations of events, and stamps/spans on the game day's clock
SECONDS_OK = DURATION_KEYS | {"for_s", "from_s", "to_s", "recovered_after_s"}
CLI_FAST = ["--before", "60", "--restore-after", "240", "--recovery", "120", "--seeds", "4", "--workers", "1"]


def latency_keys_in_seconds(obj, path: str = "") -> list[str]:
    """Paths of keys (or named figures) in seconds that are not durations or time stamps."""
    bad: list[str] = []
    if isinstance(obj, dict):
        for key in ("signal", "figure"):
            name = obj.get(key)
            if isinstance(name, str) and name.endswith("_s") and name not in SECONDS_OK:
                bad.append(f"{path}/{key}={name}")
        if obj.get("unit") == "s":
            bad.append(f"{path}/unit=s")
        for key, value in obj.items():
            if isinstance(key, str) and key.endswith("_s") and not key.endswith("_per_s") and key not in SECONDS_OK:
                bad.append(f"{path}/{key}")
            bad += latency_keys_in_seconds(value, f"{path}/{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            bad += latency_keys_in_seconds(value, f"{path}[{i}]")
    return bad


def test_the_walker_catches_a_latency_in_seconds() -> None:
    assert latency_keys_in_seconds({"a": [{"e2el_p99_s": 1.0, "t_start_s": 0.0}]}) == ["/a[0]/e2el_p99_s"]
    assert latency_keys_in_seconds({"signal": "ttft_p99_s", "unit": "s"}) == ["/signal=ttft_p99_s", "/unit=s"]
    assert latency_keys_in_seconds({"failover_time_s": 15.0, "arrival_rate_per_s": 3.0, "e2el_p99_ms": 1.0}) == []


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("gd") / "o"
    run = CliRunner().invoke(app, ["gameday", str(SMALL_SITE), "--domain", "rack:row01-pod01-rack01",
                                   "--out", str(out), "--json", *CLI_FAST])
    assert run.exit_code == 0, run.output
    return out, json.loads(run.output)


def test_prediction_json_and_json_output_hold_no_latency_in_seconds(written) -> None:
    out, printed = written
    document = json.loads((out / "prediction.json").read_text())
    assert document["schema"] == SCHEMA == "lpuplan.gameday/2"
    for doc in (document, printed):
        assert latency_keys_in_seconds(doc) == []
    pool = document["pool_predictions"]["chat:1"]
    # the hand-worked site: SLO 2.5 s, S = 1.0456 s (tests/facility/gameday/conftest.py)
    assert pool["pool"]["e2el_slo_ms"] == pytest.approx(2500.0) and pool["pool"]["e2el_slo_degraded_ms"] == pytest.approx(2500.0)
    assert pool["pool"]["service_time_ms"] == pytest.approx(1045.6)
    assert pool["normal"]["e2el_p99_ms"] == pytest.approx(1045.6)  # deterministic service: p99 = S at no wait
    assert pool["phases"]["before"]["e2el_p99_ms"]["hi"] == pytest.approx(1045.6)
    assert pool["series"]["e2el_p99_ms"]["median"][0] == pytest.approx(1045.6)
    # durations stay in seconds
    assert document["settings"]["failover_time_s"] == 15.0 and pool["t_start_s"][0] == -60.0
    abort = next(a for a in document["domains"][0]["abort_conditions"] if a["name"] == "p99_e2el")
    assert (abort["signal"], abort["unit"], abort["for_s"]) == ("e2el_p99_ms", "ms", 60.0)
    assert abort["threshold"] == pytest.approx(1.5 * 2500.0)
    # Prometheus keeps seconds; the signal as published is in ms
    assert document["metrics"]["signals"]["e2el_p99_ms"].startswith("1e3 * (histogram_quantile(0.99,")
    assert document["metrics"]["histograms"]["e2el_p99_ms"].endswith("_seconds")
    assert "(ms)" in document["signals"]["e2el_p99_ms"]


def _same(a, b, rel: float = 1e-15) -> None:
    """Equal, numbers to within ``rel`` (a value scaled to ms and back may move by an ulp)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], rel)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, rel)
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=rel, abs=0) or (math.isinf(a) and a == b)
    else:
        assert a == b


def test_the_written_document_reads_back_as_computed(small_plan, fast_settings) -> None:
    predictions = predict_plan(small_plan, domains=["row01-pod01-rack01"], settings=fast_settings, workers=1)
    internal = json.loads(dumps_json(prediction_document(predictions, fast_settings, MetricMap())))
    written = json.loads(dumps_json(published(internal)))
    _same(internal, read_published(written))
    _same(internal, from_output(to_output(internal)))


def test_verify_json_holds_no_latency_in_seconds(written, tmp_path) -> None:
    out, _ = written
    internal = read_published(json.loads((out / "prediction.json").read_text()))
    p = internal["pool_predictions"]["chat:1"]
    # the observed p99 four times the prediction: out of band, and past the abort threshold (1.5 x 2.5 s) for 60 s
    rows = ["pool,t_start_s,e2el_p99_s,shed_rate,error_rate,goodput_rps,arrival_rps"]
    for i, t in enumerate(p["t_start_s"]):
        s = p["series"]
        values = [s[k]["median"][i] for k in ("e2el_p99_s", "shed_rate", "error_rate", "goodput_rps", "arrival_rps")]
        values[0] = None if values[0] is None else 4 * values[0]
        rows.append(",".join(["chat", f"{t:g}"] + ["" if v is None else f"{v:.6g}" for v in values]))
    (tmp_path / "intervals.csv").write_text("\n".join(rows) + "\n")
    run = CliRunner().invoke(app, ["gameday", "verify", str(out / "prediction.json"), "--observed",
                                   str(tmp_path / "intervals.csv"), "--out", str(tmp_path / "v"), "--json"])
    assert run.exit_code == 3, run.output
    printed = json.loads(run.output)
    written_verify = json.loads((tmp_path / "v" / "verify.json").read_text())
    for doc in (printed, written_verify):
        assert latency_keys_in_seconds(doc) == []
    # the same intervals with the latency column in ms, as prediction.json names it: the same verdict
    ms_rows = [rows[0].replace("e2el_p99_s", "e2el_p99_ms")]
    for row in rows[1:]:
        cells = row.split(",")
        cells[2] = "" if cells[2] == "" else repr(float(cells[2]) * 1e3)
        ms_rows.append(",".join(cells))
    (tmp_path / "intervals_ms.csv").write_text("\n".join(ms_rows) + "\n")
    in_ms = CliRunner().invoke(app, ["gameday", "verify", str(out / "prediction.json"), "--observed",
                                     str(tmp_path / "intervals_ms.csv"), "--json"])
    assert in_ms.exit_code == 3
    _same({**printed, "files": []}, json.loads(in_ms.output), rel=1e-9)
    crossing = next(c for c in printed["abort_crossed"] if c["name"] == "p99_e2el")
    assert crossing["unit"] == "ms" and crossing["threshold"] == pytest.approx(3750.0) and crossing["worst"] > 3750.0
    figure = next(f for f in printed["figures"] if (f["phase"], f["figure"]) == ("before", "peak_e2el_p99_ms"))
    band = p["phases"]["before"]["peak_e2el_p99_s"]
    assert figure["observed"] == pytest.approx(4 * 1045.6, rel=1e-5) and figure["in_band"] is False
    assert figure["predicted_mean"] == pytest.approx(1e3 * band["mean"])
    assert figure["band"][0] <= 1e3 * band["lo"] and figure["band"][1] >= 1e3 * band["hi"]  # widened by resolution


def test_a_version_1_prediction_is_refused_naming_the_fix(written, tmp_path) -> None:
    out, _ = written
    old = json.loads((out / "prediction.json").read_text())
    old["schema"] = "lpuplan.gameday/1"
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "x.csv").write_text("pool,t_start_s,e2el_p99_s\nchat,0,1\n")
    run = CliRunner().invoke(app, ["gameday", "verify", str(tmp_path / "old.json"), "--observed", str(tmp_path / "x.csv")])
    assert run.exit_code == 2
    assert "lpuplan.gameday/1" in run.output and "gameday predict" in run.output and "Traceback" not in run.output
    # a file in seconds under the new version string is refused too, never read 1000x off
    seconds = dict(old, schema=SCHEMA, margin_s=1.0)
    (tmp_path / "mixed.json").write_text(json.dumps(seconds))
    run = CliRunner().invoke(app, ["gameday", "verify", str(tmp_path / "mixed.json"), "--observed", str(tmp_path / "x.csv")])
    assert run.exit_code == 2 and "margin_s" in run.output
