"""Predicted vs measured: the statistics of the comparison, then the whole loop on real sockets.

The end-to-end checks load ``lpuplan emulate``'s server (in its own process,
time-scaled 10x: a 1 s emulated service takes 100 ms of wall time) and
compare the measured e2el percentiles with the exact M/D/c prediction. The
loop must also FAIL (exit 3) when the prediction is wrong: told the server
has twice the slots it has, the predicted latencies at rho 0.9 are far below
what the overloaded server does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from benchmarks.emulator import EmulatorConfig, PoolSpec
from benchmarks.emulator.process import EmulatorProcess
from benchmarks.load import RequestRecord
from benchmarks.validate import (
    Mean,
    MeasuredPercentile,
    PoolDesign,
    departure_spacing,
    order_statistic_interval,
    predict_pool,
    ratio_interval,
    run_fidelity,
    under_load_document,
    verdict,
)
from dimensioning.queueing import MDc
from lpuplan.cli import app
from tests.facility.gameday.test_units import latency_keys_in_seconds


def test_order_statistic_interval_covers_the_quantile_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    truth = stats.expon.ppf(0.99)
    hits = 0
    for _ in range(400):
        sample = np.sort(rng.exponential(1.0, 1000))
        lo, hi = order_statistic_interval(sample, 0.99)
        hits += lo <= truth <= hi
    assert 0.92 <= hits / 400 <= 0.99


def test_prediction_point_is_the_exact_mdc_and_its_run_range_holds_it():
    pred = predict_pool(7.0, 0.1, 1, requests_per_run=4000, runs=2, replications=100, seed=1)
    model = MDc(arrival_rate=7.0, service_time=0.1, servers=1)
    assert pred.point_s[0.99] == pytest.approx(float(model.sojourn.ppf(0.99)))
    lo, hi = pred.run_range_s[0.99]
    assert lo < pred.point_s[0.99] < hi
    short = predict_pool(7.0, 0.1, 1, requests_per_run=300, runs=1, replications=100, seed=1)
    assert short.run_range_s[0.99][1] - short.run_range_s[0.99][0] > hi - lo  # fewer requests: a wider range
    shifted = predict_pool(7.0, 0.1, 1, requests_per_run=300, replications=20, seed=1, overhead_s=0.005)
    assert shifted.point_s[0.5] == pytest.approx(float(model.sojourn.ppf(0.5)) + 0.005)


def test_verdicts():
    m = lambda value, runs: MeasuredPercentile(value, (value, value), runs)  # noqa: E731
    assert verdict(m(1.0, (0.9, 1.1)), (0.8, 1.2)) == "consistent"
    assert verdict(m(2.0, (1.9, 2.1)), (0.8, 1.2)) == "miss"
    assert verdict(m(1.3, (1.1, 1.5)), (0.8, 1.2)) == "undecided"  # one run inside: run-to-run too wide


def test_ratio_interval_matches_the_delta_method_by_hand():
    a = Mean(2.0, (1.9, 2.1), 0.1, 30)
    b = Mean(1.0, (0.95, 1.05), 0.1, 30)
    ratio, (lo, hi) = ratio_interval(a, b)
    t = stats.t.ppf(0.975, 29)
    rel = np.hypot(0.1 / t / 2.0, 0.05 / t / 1.0)
    assert ratio == 2.0 and hi - ratio == pytest.approx(1.959964 * 2.0 * rel)


def test_departure_spacing_reads_service_inside_busy_periods():
    def rec(i, sent, end):
        return RequestRecord(i, "a", 1, 1, sent, sent, sent, (end,), end, 200)

    # one server, 30 ms service: 0 and 1 arrive together (busy), 2 arrives after an idle gap
    records = [rec(0, 0.0, 0.031), rec(1, 0.001, 0.061), rec(2, 0.2, 0.231)]
    assert departure_spacing(records) == pytest.approx([0.030])


@pytest.fixture(scope="module")
def emulated():
    # S = 0.4 + 0.1 + 0.5 = 1.0 s emulated, 100 ms wall at time scale 10; 8 slots, no queue cap
    spec = PoolSpec("p64", 64, 50, 640.0, 100.0, 0.4, 4, 2, queue_cap=None)
    with EmulatorProcess(EmulatorConfig(pools=(spec,), time_scale=10.0)) as emu:
        yield emu


def test_prediction_meets_measurement_on_the_emulator(emulated):
    report = run_fidelity(emulated.url, [PoolDesign("p64", 64, 50, 1.0, 8)], rhos=(0.5, 0.7, 0.9), requests=200,
                          runs=2, tokenizer="words", bench_repeats=6, replications=100, max_send_lag_ms=25.0,
                          server_time_scale=10.0)
    assert report.isolated["p64"].e2el.median == pytest.approx(0.100, abs=0.015)
    trusted = 0
    for result in report.results:
        (pool,) = result.pools
        assert pool.prediction.utilization == pytest.approx(result.rho, rel=1e-9)
        assert [c.quantile for c in pool.comparisons] == [0.5, 0.95, 0.99]
        # the emulator's own service under load is the isolated one (server timings, exactly)
        assert result.inflation and result.inflation[0].ratio == pytest.approx(1.0, abs=1e-9)
        if result.fell_behind:
            assert all(c.verdict == "untrusted" for c in pool.comparisons)
            continue
        trusted += 1
        p99 = pool.comparisons[-1]
        assert p99.verdict in ("consistent", "undecided"), (result.rho, p99)
    data = json.loads(json.dumps(report.to_dict()))
    # every latency leaves in ms under dimensioning.keys names; no JSON mixes units
    assert latency_keys_in_seconds(data) == []
    assert data["round_trip"]["mean_ms"] == pytest.approx(report.round_trip.value * 1e3)
    assert data["round_trip"]["mean_ci95_ms"] == pytest.approx([v * 1e3 for v in report.round_trip.ci95])
    assert data["isolated"]["p64"]["e2el"]["p50_ms"] == pytest.approx(report.isolated["p64"].e2el.median * 1e3)
    first, p = report.results[0].pools[0], data["results"][0]["pools"][0]
    assert p["prediction"]["point_ms"]["p99"] == pytest.approx(first.prediction.point_s[0.99] * 1e3)
    assert p["comparisons"][-1]["predicted_ms"] == pytest.approx(first.comparisons[-1].predicted_s * 1e3)
    assert p["comparisons"][-1]["measured"]["value_ms"] == pytest.approx(first.comparisons[-1].measured.value_s * 1e3)
    assert data["results"][0]["inflation"][0]["ratio"] == pytest.approx(report.results[0].inflation[0].ratio)  # unitless
    # the inflation is writable into a project (issue 16 item 2): every utilisation kept, the conservative one named
    document = under_load_document(report, created="2026-12-01T00:00:00+00:00")
    pool = document["pools"]["p64"]
    assert (pool["prompt_tokens"], pool["output_tokens"], pool["estimator"]) == (64, 50, "server timings")
    assert [row["rho"] for row in pool["by_rho"]] == [0.5, 0.7, 0.9]
    on_schedule = [row for row in pool["by_rho"] if row["generator_on_schedule"]] or pool["by_rho"]
    assert pool["service_inflation"]["ci95"][1] == max(row["ci95"][1] for row in on_schedule)
    assert pool["generator_on_schedule"] == any(row["generator_on_schedule"] for row in pool["by_rho"])
    assert pool["service_inflation"]["value"] == pytest.approx(1.0, abs=1e-9)
    assert document["source"] == {"command": "lpuplan fidelity", "url": emulated.url, "mode": "streamed", "runs": 2,
                                  "requests_per_run": 200}
    if trusted == 0:  # a machine so loaded that the generator fell behind at every load: nothing was measured
        pytest.skip("LOUD SKIP: the load generator fell behind its schedule at every utilisation (send lag p99 >"
                    " 25 ms): this machine is too loaded to measure latency; rerun on a quieter one")
    assert report.passed == all(not r.fell_behind for r in report.results)


def test_a_wrong_prediction_exits_3(emulated, tmp_path):
    written = tmp_path / "under_load.json"
    result = CliRunner().invoke(app, [
        "fidelity", emulated.url, "--shape", "64:50", "--servers", "16", "--rho", "0.9", "--requests", "200",
        "--runs", "1", "--tokenizer", "words", "--bench-repeats", "4", "--replications", "50",
        "--max-send-lag-ms", "1000", "--time-scale", "10", "--write-under-load", str(written),
    ])
    assert result.exit_code == 3, result.output
    assert result.output.startswith("FAIL")
    assert "-> miss" in result.output, result.output
    # the measured inflation is written even when a prediction misses (it is a measurement, not a verdict)
    from dimensioning.under_load import load_under_load

    under = load_under_load(written)
    assert list(under.pools) == ["64x50"] and under.pools["64x50"].rho == 0.9
    assert f"wrote {written}: 64x50 service_inflation" in result.output.replace("\n", "")


def test_fidelity_cli_rejects_bad_input():
    runner = CliRunner()
    result = runner.invoke(app, ["fidelity", "http://127.0.0.1:9/v1", "--shape", "64:50", "--rho", "1.2"])
    assert result.exit_code == 2 and "--rho" in result.output
    result = runner.invoke(app, ["fidelity", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 2 and "--project/--shape" in result.output


def test_an_empirical_service_law_gives_the_exact_mg1_and_a_simulated_range_around_it():
    from dimensioning.queueing import MG1

    constant = predict_pool(7.0, 0.0, 1, requests_per_run=300, replications=20, seed=1, service_samples_s=[0.1] * 30)
    assert constant.model == "M/G/1" and constant.service_cv == pytest.approx(0.0, abs=1e-12)
    assert constant.point_s[0.99] == pytest.approx(float(MDc(arrival_rate=7.0, service_time=0.1, servers=1).sojourn.ppf(0.99)))
    two = [0.05] * 10 + [0.15] * 10  # mean 0.1, CV 0.5
    pred = predict_pool(7.0, 0.0, 1, requests_per_run=4000, runs=2, replications=100, seed=2, service_samples_s=two,
                        overhead_s=0.002)
    exact = MG1(7.0, (0.05, 0.15), (0.5, 0.5))
    assert pred.utilization == pytest.approx(0.7) and pred.service_s == pytest.approx(0.1)
    assert pred.point_s[0.99] == pytest.approx(float(exact.sojourn.ppf(0.99)) + 0.002)
    lo, hi = pred.run_range_s[0.99]
    assert lo < pred.point_s[0.99] < hi  # the simulated runs (bootstrap of the law) straddle the exact law
    assert pred.point_s[0.99] > predict_pool(7.0, 0.1, 1, requests_per_run=300, replications=10).point_s[0.99] + 0.002
    with pytest.raises(Exception, match="one server"):
        predict_pool(7.0, 0.0, 2, requests_per_run=300, service_samples_s=two)


def test_many_samples_become_at_most_48_atoms_with_the_mean_kept():
    from benchmarks.validate.predict import _atoms

    sample = np.random.default_rng(3).gamma(4.0, 0.002, 1001)
    times, weights = _atoms(sample)
    assert len(times) == 48 and sum(weights) == pytest.approx(1.0)
    assert float(np.dot(times, weights)) == pytest.approx(float(sample.mean()), rel=1e-12)


def test_one_server_on_the_emulator_the_saturated_service_law_is_the_emulated_one():
    """One FCFS server (1 replica x 1 slot) with S = 20 ms of wall time: the bursts measure S, the model is M/G/1."""
    spec = PoolSpec("p64", 64, 50, 640.0, 100.0, 0.4, 1, 1, queue_cap=None)  # S = 1.0 s emulated, 20 ms wall at x50
    with EmulatorProcess(EmulatorConfig(pools=(spec,), time_scale=50.0)) as emu:
        report = run_fidelity(emu.url, [PoolDesign("p64", 64, 50, 1.0, 1)], rhos=(0.7,), requests=150, runs=1,
                              tokenizer="words", bench_repeats=6, replications=100, max_send_lag_ms=25.0,
                              server_time_scale=50.0, stream=False)
    (result,) = report.results
    (pool,) = result.pools
    saturated = result.saturated
    assert saturated is not None and saturated.shed == 0 and saturated.errors == 0
    # the emulator's schedule is exact: its time per request at saturation is S (to its timer's wake-up jitter)
    assert saturated.makespan.value == pytest.approx(0.020, rel=0.05)
    assert saturated.mean.value == pytest.approx(saturated.makespan.value, rel=1e-9)
    assert pool.prediction.model == "M/G/1" and pool.prediction.utilization == pytest.approx(0.7, rel=1e-9)
    assert pool.prediction.service_s == pytest.approx(saturated.mean.value, rel=1e-9)
    assert pool.given_service is not None and len(pool.given_service_comparisons) == 3
    assert any("service on the server" in line for line in result.residual)
    data = json.loads(json.dumps(report.to_dict()))
    assert latency_keys_in_seconds(data) == []
    assert data["results"][0]["saturated"]["makespan"]["mean_ms"] == pytest.approx(saturated.makespan.value * 1e3)
    if not result.fell_behind:
        assert pool.comparisons[-1].verdict in ("consistent", "undecided"), pool.comparisons[-1]


def test_steal_is_read_from_the_cpu_line_of_proc_stat(tmp_path):
    import os

    from benchmarks.validate.steal import steal_seconds

    stat = tmp_path / "stat"
    stat.write_text("cpu  2851259 1324 324955 934726 6201 0 8171 8467 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    assert steal_seconds(str(stat)) == pytest.approx(8467 / os.sysconf("SC_CLK_TCK"))
    stat.write_text("cpu  1 2 3 4\n")  # an old kernel without the column
    assert steal_seconds(str(stat)) is None
    assert steal_seconds(str(tmp_path / "absent")) is None
