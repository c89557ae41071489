"""The output vocabulary (dimensioning.keys): one home for latency key names, percentiles and units."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from dimensioning.keys import (
    DURATION_KEYS, E2EL, PERCENTILES, TTFT, WAIT, header, latency_key, output_key, percentile_key, percentile_label,
    quantile_key, slo_key, to_ms, to_output, with_kind,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plan-schema.md"


def test_percentile_keys_and_labels():
    assert [percentile_key(q) for q in PERCENTILES] == ["p50", "p90", "p95", "p99", "p99_9"]
    assert [percentile_label(q) for q in PERCENTILES] == ["p50", "p90", "p95", "p99", "p99.9"]
    assert quantile_key(0.999) == "p99_9" and quantile_key(0.5) == "p50" and quantile_key(0.9999) == "p99_99"
    with pytest.raises(ValueError):
        percentile_key(100.0)


def test_composed_names():
    assert latency_key(E2EL, 99.0) == "e2el_p99_ms"
    assert latency_key(WAIT, 99.9, "degraded") == "wait_p99_9_degraded_ms"
    assert latency_key(TTFT, "mean") == "ttft_mean_ms"
    assert slo_key(E2EL) == "e2el_slo_ms" and slo_key(TTFT, "degraded") == "ttft_slo_degraded_ms"
    assert header("p99") == "p99 (ms)" and header("share", "") == "share"


def test_internal_names_map_to_the_vocabulary():
    assert output_key("latency_p999_s") == ("e2el_p99_9_ms", 1e3)
    assert output_key("wait_p999_normal_s") == ("wait_p99_9_normal_ms", 1e3)
    assert output_key("latency_p99_s_ci95") == ("e2el_p99_ms_ci95", 1e3)
    assert output_key("token_s") == ("tpot_ms", 1e3) and output_key("first_token_s") == ("ttft_ms", 1e3)
    assert output_key("slo_s") == ("e2el_slo_ms", 1e3)
    for duration in DURATION_KEYS:
        assert output_key(duration) == (duration, 1.0)
    assert output_key("output_tokens_per_s") == ("output_tokens_per_s", 1.0)  # a rate, not a time
    assert output_key("replicas") == ("replicas", 1.0) and output_key("arrival_rate") == ("arrival_rate", 1.0)


def test_to_output_scales_renames_and_keeps_names_and_durations():
    internal = {
        "latency_p99_s": 1.5, "wait_p99_s_ci95": [0.25, 0.5], "slo_s": None, "wait_mean_s": math.inf,
        "failover_time_s": 30.0, "buckets": {"chat_s": {"latency_mean_s": 0.002}},
        "checks": [{"value": 2.0, "limit": 3.0, "unit": "s"}, {"value": 0.1, "limit": 0.2, "unit": "share"}],
        "settings": {"warmup_s": 1.0, "odd_s": 2.0},
    }
    out = to_output(internal, keep=("settings",))
    assert out == {
        "e2el_p99_ms": 1500.0, "wait_p99_ms_ci95": [250.0, 500.0], "e2el_slo_ms": None, "wait_mean_ms": math.inf,
        "failover_time_s": 30.0, "buckets": {"chat_s": {"e2el_mean_ms": 2.0}},
        "checks": [{"value": 2000.0, "limit": 3000.0, "unit": "ms"}, {"value": 0.1, "limit": 0.2, "unit": "share"}],
        "settings": {"warmup_s": 1.0, "odd_s": 2.0},
    }
    assert internal["latency_p99_s"] == 1.5  # a copy: the result object is not touched


@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False))
def test_to_ms_is_a_scaling(seconds):
    assert to_ms(seconds) == pytest.approx(seconds * 1e3, rel=1e-15)
    assert to_ms([seconds, None]) == [to_ms(seconds), None]


def test_the_published_rename_table_is_what_the_module_does():
    """docs/plan-schema.md's old -> new table (lpuplan.plan/3) agrees with output_key, row by row."""
    text = DOCS.read_text()
    section = text.split("## lpuplan.plan/3", 1)[1].split("## lpuplan.plan/2", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    checked = 0
    for row in rows:
        old_cell, new_cell = row.strip("|").split("|")[:2]
        if "targets." in old_cell or "unit" in old_cell or "value" in old_cell:
            continue  # the targets are named by slo_key in Plan.to_dict; check units are not key renames
        old = [re.sub(r".*\.", "", k) for k in re.findall(r"`([^`]+)`", old_cell)]
        new = [re.sub(r".*\.", "", k) for k in re.findall(r"`([^`]+)`", new_cell)]
        assert len(old) == len(new), row
        for before, after in zip(old, new):
            assert output_key(before)[0] == after, row
            checked += 1
    assert checked >= 30


def test_a_kind_is_said_once():
    """'approximation: approximation: ...' was printed where a note already began with its kind."""
    assert with_kind("approximation", "approximation: exponential tail") == "approximation: exponential tail"
    assert with_kind("exact", "Crommelin chain") == "exact: Crommelin chain"
    assert with_kind("bound", "") == "bound"
