"""A bucket with a profile is sized from the fit of the mode its traffic uses (issue 16 item 1, sizing side).

Reference: hand arithmetic on the profile's own figures. A profile measured in
both modes holds a streamed fit (slower decode: each streamed token pays a
send cost) and a non-streamed one; a bucket whose ``serving_mode`` is
non-streamed must be sized from the non-streamed figures, and a mode the
profile did not measure (or does not record, or a bucket that does not say
its mode) is an assumption in the plan output, never a silent substitution.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dimensioning.profile import Profile
from dimensioning.service_time import service_time
from lpuplan.plan import build_plan
from lpuplan.project import load_project

PROJECT = textwrap.dedent(
    """
    [workload]
    lambda_peak = 40.0
    prompt_tokens = { distribution = "constant", value = 400.0 }
    output_tokens = { distribution = "constant", value = 100.0 }

    [slo]
    p99_ms = 5000.0

    [[bucket]]
    max_prompt_tokens = 512
    max_output_tokens = 128
    slots = 1
    profile = "profile.json"
    """
)


def _fit(mode: str | None, r_decode: float) -> dict:
    fit = {
        "r_prefill": [{"bucket": 512, "value": 50000.0, "ci95": [50000.0, 50000.0]}],
        "r_decode": {"value": r_decode, "ci95": [r_decode, r_decode]},
        "l_fixed_s": {"value": 0.010, "ci95": [0.010, 0.010]},
    }
    if mode is not None:
        fit["mode"] = mode
    return fit


def _profile(tmp_path: Path, modes: tuple[str, ...] | None) -> Path:
    rates = {"streamed": 400.0, "non-streamed": 1000.0}
    if modes is None:  # an older or imported profile: no mode recorded
        body = {"schema": "lpuplan.profile/1", "fit": _fit(None, 400.0)}
    else:
        primary = "streamed" if "streamed" in modes else modes[0]
        body = {"schema": "lpuplan.profile/1", "fit": _fit(primary, rates[primary]),
                "fits": {m: _fit(m, rates[m]) for m in modes}}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(body))
    return path


def _project(tmp_path: Path, serving_mode: str | None):
    text = PROJECT if serving_mode is None else PROJECT.replace("slots = 1", f'slots = 1\nserving_mode = "{serving_mode}"')
    path = tmp_path / "p.toml"
    path.write_text(text)
    return load_project(path)


# S = L_fixed + P/R_prefill + O_cap/R_decode = 0.010 + 512/50000 + 128/R_decode
S_NON_STREAMED = 0.010 + 512 / 50000 + 128 / 1000.0  # 0.14824 s
S_STREAMED = 0.010 + 512 / 50000 + 128 / 400.0  # 0.34024 s


@pytest.mark.parametrize("serving_mode, expected", [("non-streamed", S_NON_STREAMED), ("streamed", S_STREAMED)])
def test_each_bucket_takes_the_fit_of_its_own_mode_when_both_were_measured(tmp_path, serving_mode, expected):
    _profile(tmp_path, ("streamed", "non-streamed"))
    bucket = _project(tmp_path, serving_mode).buckets[0]
    assert service_time(bucket).total_s == pytest.approx(expected, rel=1e-12)
    assert bucket.profile_mode == serving_mode and bucket.mode_assumption is None
    assert bucket.measured["r_decode"][0] == (1000.0 if serving_mode == "non-streamed" else 400.0)
    plan = build_plan(_project(tmp_path, serving_mode))
    assert not [a for a in plan.assumptions if "serving_mode" in a]


def test_a_mode_the_profile_did_not_measure_is_an_assumption_in_the_plan(tmp_path):
    _profile(tmp_path, ("streamed",))
    project = _project(tmp_path, "non-streamed")
    bucket = project.buckets[0]
    # taken as measured (streamed), never silently relabelled, and said
    assert service_time(bucket).total_s == pytest.approx(S_STREAMED, rel=1e-12)
    plan = build_plan(project)
    (said,) = [a for a in plan.assumptions if "serving_mode" in a]
    assert "serving_mode = non-streamed but the profile was measured streamed" in said
    assert said in plan.to_dict()["assumptions"]


def test_a_profile_that_does_not_record_its_mode_is_an_assumption(tmp_path):
    _profile(tmp_path, None)
    plan = build_plan(_project(tmp_path, "non-streamed"))
    (said,) = [a for a in plan.assumptions if "serving_mode" in a]
    assert "does not record its serving mode" in said


def test_a_bucket_that_does_not_say_its_mode_is_an_assumption(tmp_path):
    _profile(tmp_path, ("streamed", "non-streamed"))
    project = _project(tmp_path, None)
    assert service_time(project.buckets[0]).total_s == pytest.approx(S_STREAMED, rel=1e-12)  # the primary fit
    (said,) = [a for a in build_plan(project).assumptions if "serving_mode" in a]
    assert "serving_mode is not given and the profile was measured streamed" in said


def test_fit_for_serving():
    both = Profile.model_validate({"schema": "lpuplan.profile/1", "fit": _fit("streamed", 400.0),
                                   "fits": {m: _fit(m, r) for m, r in (("streamed", 400.0), ("non-streamed", 1000.0))}})
    assert both.fit_for_serving("non-streamed")[0].r_decode.value == 1000.0
    assert both.fit_for_serving("non-streamed")[1] == "non-streamed"
    assert both.fit_for_serving(None) == (both.fit, "streamed")
    bare = Profile.model_validate({"schema": "lpuplan.profile/1", "fit": _fit(None, 400.0)})
    assert bare.fit_for_serving("streamed") == (bare.fit, None)
