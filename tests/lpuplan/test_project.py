"""Project files: the contract form loads; every bad input names field, value, fix."""

import json
import textwrap
import tomllib
from pathlib import Path

import pytest

from dimensioning.errors import InvalidInput
from lpuplan.project import ProjectFileError, example_project_text, load_project, parse_project

CONTRACT = textwrap.dedent(
    """
    [workload]
    lambda_peak = 400.0
    arrival_scv = 1.0
    prompt_tokens = { distribution = "lognormal", mean = 1800.0, std = 1500.0 }
    output_tokens = { distribution = "lognormal", mean = 350.0, std = 250.0 }

    [slo]
    p99_ms = 2500.0

    [headroom]
    rho_target_normal = 0.70
    rho_target_degraded = 0.85

    [redundancy]
    replicas_lost_worst = 1

    [admission]
    shed_target = 0.001

    [[bucket]]
    max_prompt_tokens = 512
    max_output_tokens = 512
    r_prefill = 40000.0
    r_decode = 280.0
    l_fixed_ms = 30.0
    slots = 8
    chips_per_replica = 576
    """
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_the_contract_form_loads(tmp_path):
    project = load_project(_write(tmp_path, CONTRACT))
    bucket = project.buckets[0]
    assert project.workload.lambda_peak == 400.0
    assert bucket.l_fixed_s == pytest.approx(0.030)
    assert bucket.label == "p512"


def test_the_embedded_example_is_valid():
    project = parse_project(tomllib.loads(example_project_text()), Path.cwd())
    assert [b.max_prompt_tokens for b in project.buckets] == [512, 2048, 4096, 8192]


@pytest.mark.parametrize(
    "old, new, field, fix_fragment",
    [
        ("lambda_peak = 400.0", "lambda_peak = -1.0", "workload.lambda_peak", "greater than 0"),
        ("r_decode = 280.0", "r_decode = 0", "bucket[0].r_decode", "greater than 0"),
        ("rho_target_normal = 0.70", "rho_target_normal = 1.5", "headroom.rho_target_normal", "less than 1"),
        ("slots = 8", "slots = 8\nslotz = 9", "bucket[0].slotz", "unknown key"),
        ("p99_ms = 2500.0", "", "slo.p99_ms", "required"),
        ("std = 1500.0 }", "std = 0.0 }", "workload.prompt_tokens", "constant"),
        ("r_prefill = 40000.0", "", "bucket[0]", "missing r_prefill"),
    ],
)
def test_bad_values_name_field_value_and_fix(tmp_path, old, new, field, fix_fragment):
    with pytest.raises(InvalidInput) as info:
        load_project(_write(tmp_path, CONTRACT.replace(old, new)))
    problems = info.value.problems if isinstance(info.value, ProjectFileError) else [info.value]
    assert any(p.field == field and fix_fragment in p.fix for p in problems), [str(p) for p in problems]


def test_buckets_must_increase(tmp_path):
    text = CONTRACT + CONTRACT[CONTRACT.index("[[bucket]]"):].replace("512", "256")
    with pytest.raises(InvalidInput, match="strictly increasing"):
        load_project(_write(tmp_path, text))


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_project(_write(tmp_path, "[workload\n"))
    with pytest.raises(InvalidInput, match="no such file"):
        load_project(tmp_path / "nope.toml")


def _profile(tmp_path: Path, **fit) -> Path:
    body = {
        "schema": "lpuplan.profile/1",
        "artifact": {"id": "a"},
        "fit": {
            "r_prefill": [{"bucket": 512, "value": 41000.0, "ci95": [40000.0, 42000.0]}],
            "r_decode": {"value": 300.0, "ci95": [299.0, 301.0]},
            "l_fixed_s": {"value": 0.025, "ci95": [0.024, 0.026]},
            **fit,
        },
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(body))
    return path


def test_profile_fills_rates_and_explicit_values_win(tmp_path):
    _profile(tmp_path)
    text = CONTRACT.replace("r_prefill = 40000.0\n", "").replace("l_fixed_ms = 30.0\n", "")
    text = text.replace("chips_per_replica = 576", 'chips_per_replica = 576\nprofile = "profile.json"')
    bucket = load_project(_write(tmp_path, text)).buckets[0]
    # by default the sizing takes the conservative end of each 95% interval
    assert bucket.r_prefill == 40000.0
    assert bucket.l_fixed_ms == pytest.approx(26.0)
    assert bucket.r_decode == 280.0  # written in the file: the file wins
    assert bucket.measured == {"r_prefill": (41000.0, 40000.0, 42000.0), "l_fixed_ms": pytest.approx((25.0, 24.0, 26.0))}
    point = load_project(_write(tmp_path, text.replace("rho_target_degraded = 0.85", 'rho_target_degraded = 0.85\nmeasured_estimate = "point"'))).buckets[0]
    assert point.r_prefill == 41000.0 and point.l_fixed_ms == pytest.approx(25.0)


def test_profile_without_the_bucket_is_an_input_error(tmp_path):
    _profile(tmp_path, r_prefill=[{"bucket": 1024, "value": 1.0, "ci95": [0.5, 2.0]}])
    text = CONTRACT.replace("r_prefill = 40000.0\n", "").replace("chips_per_replica = 576", 'profile = "profile.json"')
    with pytest.raises(InvalidInput, match="no r_prefill fit for bucket 512"):
        load_project(_write(tmp_path, text))


def test_profile_with_wrong_schema(tmp_path):
    (tmp_path / "profile.json").write_text(json.dumps({"schema": "other/1"}))
    text = CONTRACT.replace("chips_per_replica = 576", 'profile = "profile.json"')
    with pytest.raises(InvalidInput, match="lpuplan.profile/1"):
        load_project(_write(tmp_path, text))
