"""Service time under load (issue 16 item 2): a bucket's ``service_inflation`` multiplies S, measured or given.

References: hand arithmetic. With one slot per replica and the utilisation
target binding, ``N = ceil(lambda * S / rho_target)`` (normal) and
``N = replicas_lost + ceil(lambda * S / rho_target_degraded)`` (one replica
lost), the larger of the two; a factor ``f`` multiplies S, and N follows.
"""

from __future__ import annotations

import json
import math
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from dimensioning.errors import InvalidInput
from dimensioning.service_time import service_time
from lpuplan.plan import build_plan
from lpuplan.project import load_project

# S = 0.010 + 512/50000 + 128/1000 = 0.14824 s; lambda = 40 req/s; SLO far away: the utilisation binds
PROJECT = textwrap.dedent(
    """
    [workload]
    lambda_peak = 40.0
    prompt_tokens = { distribution = "constant", value = 400.0 }
    output_tokens = { distribution = "constant", value = 100.0 }

    [slo]
    p99_ms = 60000.0

    [headroom]
    rho_target_normal = 0.70
    rho_target_degraded = 0.85

    [[bucket]]
    name = "short"
    max_prompt_tokens = 512
    max_output_tokens = 128
    r_prefill = 50000.0
    r_decode = 1000.0
    l_fixed_ms = 10.0
    slots = 1
    """
)
S = 0.010 + 512 / 50000 + 128 / 1000


def _hand_n(service_s: float) -> int:
    return max(math.ceil(40.0 * service_s / 0.70), 1 + math.ceil(40.0 * service_s / 0.85))


def _load(tmp_path: Path, extra: str = "", headroom: str = "") -> object:
    text = PROJECT.replace("slots = 1", "slots = 1\n" + extra) if extra else PROJECT
    if headroom:
        text = text.replace("rho_target_degraded = 0.85", "rho_target_degraded = 0.85\n" + headroom)
    path = tmp_path / "p.toml"
    path.write_text(text)
    return load_project(path)


def _under_load(tmp_path: Path, value: float = 1.5, ci95=(1.4, 1.6), name: str = "short", shape=(512, 128)) -> Path:
    body = {
        "schema": "lpuplan.under_load/1",
        "created": "2026-12-01T23:40:00+00:00",
        "source": {"command": "lpuplan fidelity", "url": "http://127.0.0.1:8000/v1", "mode": "non-streamed",
                   "runs": 2, "requests_per_run": 3000},
        "pools": {name: {"prompt_tokens": shape[0], "output_tokens": shape[1], "rho": 0.7,
                         "estimator": "departure spacing",
                         "service_inflation": {"value": value, "ci95": list(ci95), "samples": 2400}}},
    }
    path = tmp_path / "ul.json"
    path.write_text(json.dumps(body))
    return path


def test_the_hand_figures_hold_without_a_factor(tmp_path):
    plan = build_plan(_load(tmp_path))
    (pool,) = plan.dedicated
    assert pool.service.total_s == pytest.approx(S, rel=1e-12)
    assert pool.replicas == _hand_n(S) == 9  # ceil(8.47) = 9 against 1 + ceil(6.98) = 8


@pytest.mark.parametrize("factor", [1.5, 2.0, 0.8])
def test_a_given_factor_multiplies_s_and_moves_n_as_hand_arithmetic_says(tmp_path, factor):
    plan = build_plan(_load(tmp_path, f"service_inflation = {factor}"))
    (pool,) = plan.dedicated
    assert pool.service.total_s == pytest.approx(factor * S, rel=1e-12)
    assert pool.service.first_token_s == pytest.approx(factor * (0.010 + 512 / 50000 + 1 / 1000), rel=1e-12)
    assert pool.mu == pytest.approx(1 / (factor * S), rel=1e-12)
    assert pool.replicas == _hand_n(factor * S)  # 1.5: 13, 2.0: 17, 0.8: 7
    figure = plan.inputs["buckets"][0]["figures"]["service_inflation"]
    assert figure["source"] == "given" and figure["value"] == factor


def test_an_absent_factor_changes_nothing(tmp_path):
    without = build_plan(_load(tmp_path))
    one = build_plan(_load(tmp_path, "service_inflation = 1.0"))
    assert "service_inflation" not in without.inputs["buckets"][0]["figures"]
    assert without.dedicated[0].service.inflation == 1.0
    for a, b in zip(without.dedicated, one.dedicated):
        assert (a.replicas, a.service.total_s, a.mu) == (b.replicas, b.service.total_s, b.mu)
    assert without.to_dict()["dedicated"] == one.to_dict()["dedicated"]


def test_a_measured_factor_carries_provenance_measured_and_its_run(tmp_path):
    _under_load(tmp_path)
    project = _load(tmp_path, 'under_load = "ul.json"')
    bucket = project.buckets[0]
    assert bucket.service_inflation == 1.6  # the conservative end of the interval by default
    assert service_time(bucket).total_s == pytest.approx(1.6 * S, rel=1e-12)
    plan = build_plan(project)
    assert plan.dedicated[0].replicas == _hand_n(1.6 * S) == 14
    figure = plan.to_dict()["inputs"]["buckets"][0]["figures"]["service_inflation"]
    assert figure["source"] == "measured" and figure["value"] == 1.6 and figure["ci95"] == (1.4, 1.6)
    for fragment in ("fit 1.5, 95% interval [1.4, 1.6]", "conservative end", "measured by lpuplan fidelity http://127.0.0.1:8000/v1",
                     "2026-12-01T23:40:00+00:00", "rho 0.7", "departure spacing", "2 run(s) x 3000 requests"):
        assert fragment in figure["note"], figure["note"]
    from lpuplan.render_terminal import print_sizing  # the plan output says it

    console = Console(file=StringIO(), width=80)
    print_sizing(plan, console)
    shown = console.file.getvalue()
    assert "service time under load x1.600 (measured" in shown and "ul.json" not in shown


def test_point_estimate_shape_match_and_a_given_value_wins(tmp_path):
    _under_load(tmp_path, name="from-fidelity")  # another name, the bucket's shape
    point = _load(tmp_path, 'under_load = "ul.json"', headroom='measured_estimate = "point"').buckets[0]
    assert point.service_inflation == 1.5 and point.measured["service_inflation"] == (1.5, 1.4, 1.6)
    given = _load(tmp_path, 'under_load = "ul.json"\nservice_inflation = 1.1').buckets[0]
    assert given.service_inflation == 1.1 and "service_inflation" not in given.measured


def test_a_measured_speed_up_never_shortens_s_in_a_conservative_sizing(tmp_path):
    _under_load(tmp_path, value=0.83, ci95=(0.67, 0.99))  # faster loaded than alone, even at the interval's top
    plan = build_plan(_load(tmp_path, 'under_load = "ul.json"'))
    assert plan.dedicated[0].service.total_s == pytest.approx(S, rel=1e-12) and plan.dedicated[0].replicas == 9
    figure = plan.inputs["buckets"][0]["figures"]["service_inflation"]
    assert figure["value"] == 1.0 and figure["source"] == "measured"
    assert "sized at 1;" in figure["note"] and "whole interval lies below 1" in figure["note"]
    point = build_plan(_load(tmp_path, 'under_load = "ul.json"', headroom='measured_estimate = "point"'))
    assert point.dedicated[0].service.total_s == pytest.approx(0.83 * S, rel=1e-12)  # the user asked for the fit


def test_bad_under_load_files_name_the_field(tmp_path):
    _under_load(tmp_path, shape=(256, 32), name="other")
    with pytest.raises(InvalidInput, match="no pool named short") as info:
        _load(tmp_path, 'under_load = "ul.json"')
    assert info.value.field == "bucket[0].under_load"
    with pytest.raises(InvalidInput, match="no such file"):
        _load(tmp_path, 'under_load = "missing.json"')
    _under_load(tmp_path, value=1.5, ci95=(1.6, 1.7))
    with pytest.raises(InvalidInput, match="contain value"):
        _load(tmp_path, 'under_load = "ul.json"')
    with pytest.raises(InvalidInput, match="service_inflation"):
        _load(tmp_path, "service_inflation = 0")
