"""Every numeric input of the project-file tables is finite and inside its physical range.

One validation path per model (issue 12): the shared base refuses inf/nan in
every float field, and every numeric field carries a lower bound and a
documented upper limit. The structural test below fails the day a new field
forgets either, so the guarantee does not depend on remembering it.
"""

from __future__ import annotations

import inspect
import math
import types
import typing

import annotated_types
import pytest
from pydantic import BaseModel, ValidationError

import dimensioning.inputs as inputs
import dimensioning.profile as profile
import facility.inputs as facility_inputs
from dimensioning.inputs import Bucket, Slo, TokenDistribution, Workload

# fields whose numbers are checked by a model validator instead of Field bounds
_CHECKED_BY_VALIDATOR = {
    ("TokenDistribution", "histogram"),  # edges > 0, increasing, <= MAX_TOKENS; shares in [0, 1]
    ("Bucket", "rates_at_concurrency"),  # concurrency >= 1, increasing, <= MAX_SLOTS; rates in (0, MAX_RATE_TOKENS_S]
    ("Bucket", "measured"),  # set by the loader from a validated profile, then re-validated as r_prefill etc.
}


def _models(module: types.ModuleType) -> list[type[BaseModel]]:
    return [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseModel) and obj.__module__ == module.__name__ and obj.model_fields
    ]


def _is_numeric(annotation: object) -> bool:
    if annotation in (int, float):
        return True
    return any(_is_numeric(arg) for arg in typing.get_args(annotation))


def test_every_numeric_field_has_a_lower_bound_and_a_documented_limit():
    missing = []
    for model in _models(inputs):
        for name, field in model.model_fields.items():
            if not _is_numeric(field.annotation) or (model.__name__, name) in _CHECKED_BY_VALIDATOR:
                continue
            lower = any(isinstance(m, (annotated_types.Gt, annotated_types.Ge)) for m in field.metadata)
            upper = any(isinstance(m, (annotated_types.Lt, annotated_types.Le)) for m in field.metadata)
            if not (lower and upper):
                missing.append(f"{model.__name__}.{name}")
    assert not missing, f"numeric fields without both bounds: {missing}"


@pytest.mark.parametrize("module", [inputs, facility_inputs, profile], ids=lambda m: m.__name__)
def test_every_model_refuses_inf_and_nan(module):
    for model in _models(module):
        assert model.model_config.get("allow_inf_nan") is False, model.__name__


def _bucket(**changes):
    base = dict(max_prompt_tokens=512, max_output_tokens=1024, r_prefill=40000.0, r_decode=280.0, l_fixed_ms=30.0)
    return Bucket(**{**base, **changes})


@pytest.mark.parametrize("field", ["r_prefill", "r_decode", "l_fixed_ms", "slo_p99_ms"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_bucket_figures_refuse_non_finite(field, value):
    with pytest.raises(ValidationError) as info:
        _bucket(**{field: value})
    assert info.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("field, value", [
    ("slots", 10**9), ("max_output_tokens", 10**12), ("max_prompt_tokens", 10**9), ("chips_per_replica", 10**9),
    ("r_prefill", 1e12), ("l_fixed_ms", 1e12),
])
def test_huge_figures_are_refused_at_the_documented_limit(field, value):
    with pytest.raises(ValidationError) as info:
        _bucket(**{field: value})
    error = info.value.errors()[0]
    assert error["type"] == "less_than_equal" and error["loc"] == (field,)


def test_the_limits_themselves_are_accepted():
    bucket = _bucket(slots=inputs.MAX_SLOTS, max_output_tokens=inputs.MAX_TOKENS, max_prompt_tokens=inputs.MAX_TOKENS)
    assert bucket.slots == inputs.MAX_SLOTS


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_workload_and_slo_refuse_non_finite(value):
    dist = {"distribution": "constant", "value": 100.0}
    with pytest.raises(ValidationError):
        Workload(lambda_peak=value, prompt_tokens=dist, output_tokens=dist)
    with pytest.raises(ValidationError):
        Workload(lambda_peak=1.0, arrival_scv=value, prompt_tokens=dist, output_tokens=dist)
    with pytest.raises(ValidationError):
        Slo(p99_ms=value)


@pytest.mark.parametrize("histogram", [
    [[100.0, math.nan], [200.0, 1.0]],
    [[math.inf, 1.0]],
    [[100.0, 0.5], [math.nan, 0.5]],
    [[100.0, 1.5], [200.0, -0.5]],  # sums to 1 but shares outside [0, 1]
    [[1e12, 1.0]],  # above the documented token limit
])
def test_histograms_refuse_nan_inf_and_impossible_shares(histogram):
    with pytest.raises(ValidationError):
        TokenDistribution(histogram=histogram)


def test_facility_free_form_tables_refuse_non_finite():
    with pytest.raises(ValidationError, match=r"override\.rack_power_kw = nan"):
        facility_inputs.HardwareSpec(override={"rack_power_kw": math.nan})
    with pytest.raises(ValidationError, match=r"catalog\.chip\.x\.sram_mb = inf"):
        facility_inputs.HardwareSpec(catalog={"chip": {"x": {"sram_mb": math.inf}}})


@pytest.mark.parametrize("model, values, name", [
    (facility_inputs.CoolingSpec, {"unit_kw": 1e12, "racks_per_zone": 9}, "unit_kw"),
    (facility_inputs.CoolingSpec, {"unit_kw": 150.0, "racks_per_zone": 10**9}, "racks_per_zone"),
    (facility_inputs.NodePower, {"typical": 2.4, "max": 1e10}, "max"),
])
def test_facility_figures_without_their_own_bound_meet_the_generic_limits(model, values, name):
    with pytest.raises(ValidationError, match=f"{name} = .* is above"):
        model(**values)
    assert facility_inputs.CoolingSpec(unit_kw=facility_inputs.MAX_FIGURE, racks_per_zone=facility_inputs.MAX_COUNT)


@pytest.mark.parametrize("table", [
    [[1.0, 40000.0, math.nan]],
    [[1.0, 40000.0, 280.0], [math.inf, 30000.0, 200.0]],
    [[1.0, 40000.0, 280.0], [1e9, 30000.0, 200.0]],
    [[1.0, 1e12, 280.0]],
])
def test_rates_by_concurrency_refuse_non_finite_and_huge(table):
    with pytest.raises(ValidationError):
        Bucket(max_prompt_tokens=512, max_output_tokens=1024, l_fixed_ms=30.0, slots=1, rates_at_concurrency=table)
