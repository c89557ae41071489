"""Batch-aware service: rates at `slots` in flight from a table or the BLIS step form; the BLIS tutorial case."""

import pytest
from pydantic import ValidationError

from dimensioning.inputs import Bucket
from dimensioning.service_time import service_time
from dimensioning.sizing import Targets, size_bucket
from dimensioning.traffic import BucketTraffic

# BLIS tutorial: Llama-3.1-8B on H100, TP = 2; betas in microseconds; 512-token prompts and outputs; 500 req/s
BETAS = {"beta0_us": 6910.42, "beta1_us": 17.67, "beta2_us": 2.84}


def _blis(slots, **kw):
    return Bucket(max_prompt_tokens=512, max_output_tokens=512, l_fixed_ms=0.0, slots=slots, step_model=BETAS, **kw)


def _size(bucket, rate=500.0):
    targets = Targets(0.7, 0.85, 1, 0.001, e2el_p99_s=30.0, e2el_degraded_p99_s=30.0)
    return size_bucket(bucket, BucketTraffic("b", 512, 1.0, rate, 512.0, 512.0, 0.0), targets=targets)


@pytest.mark.parametrize("slots", [1, 64, 256, 512])
def test_step_model_throughput_is_blis_own_within_one_step(slots):
    # BLIS: a replica of B slots completes B / (O (beta0 + beta2 B) + beta1 B P) requests per microsecond
    b0, b1, b2 = BETAS.values()
    blis_s = (512 * (b0 + b2 * slots) + b1 * slots * 512) / 1e6
    ours = service_time(_blis(slots)).total_s
    assert blis_s <= ours <= blis_s + (b0 + b2 * slots) / 1e6 + 1e-12  # conservative by its own prefill step


def test_the_blis_tutorial_case():
    # 512 slots: 57.4 req/s per instance (BLIS: 57); 500 req/s needs 9 at the stability floor and the
    # e2el p99 alone, 12 with one instance lost at rho 0.85, 13 at rho 0.7 (the binding constraint)
    sizing = _size(_blis(512))
    assert sizing.mu == pytest.approx(57.38, abs=0.01)
    assert sizing.replicas == 13 and sizing.binding == ("utilisation (normal)",)
    needed = {c.name: c.replicas_needed for c in sizing.constraints}
    assert needed["e2el p99 (normal)"] == 9 and needed["utilisation (degraded)"] == 12
    # per-sequence decode slows from 144.6 tok/s alone to 57.5 tok/s at 512 in flight
    assert _blis(1).r_decode == pytest.approx(144.65, abs=0.01)
    assert _blis(512).r_decode == pytest.approx(57.49, abs=0.01)
    assert _blis(512).batch_assumption is None


def test_batch_one_rates_at_512_slots_are_2_5x_optimistic_and_say_so():
    b0, b1, b2 = BETAS.values()
    alone = Bucket(max_prompt_tokens=512, max_output_tokens=512, l_fixed_ms=0.0, slots=512,
                   r_prefill=512 / (b1 * 512 + b0) * 1e6, r_decode=1e6 / (b0 + b2))
    assert _size(alone).replicas == 6  # against 13 with the rates at occupancy
    assert "applied at slots = 512" in alone.batch_assumption
    measured_there = alone.model_copy(update={"rates_concurrency": 512})
    assert measured_there.batch_assumption is None


def test_a_table_is_interpolated_at_slots_and_never_extrapolated():
    bucket = Bucket(max_prompt_tokens=512, max_output_tokens=64, l_fixed_ms=5.0, slots=4,
                    rates_at_concurrency=[[1, 1000.0, 100.0], [8, 800.0, 50.0]])
    assert (bucket.r_prefill, bucket.r_decode) == (pytest.approx(1000 - 3 / 7 * 200), pytest.approx(100 - 3 / 7 * 50))
    assert bucket.batch_assumption is None and "table" in bucket.rates_basis
    with pytest.raises(ValidationError, match="outside the measured concurrencies"):
        Bucket(max_prompt_tokens=512, max_output_tokens=64, l_fixed_ms=5.0, slots=16,
               rates_at_concurrency=[[1, 1000.0, 100.0], [8, 800.0, 50.0]])
    with pytest.raises(ValidationError, match="remove them"):
        Bucket(max_prompt_tokens=512, max_output_tokens=64, l_fixed_ms=5.0, slots=4, r_decode=10.0,
               rates_at_concurrency=[[1, 1000.0, 100.0], [8, 800.0, 50.0]])


def test_a_copy_with_other_slots_is_sized_at_its_own_slots():
    # (lpuplan search copies buckets with other slots without re-validating them)
    copied = _blis(512).model_copy(update={"slots": 64})
    assert service_time(copied).total_s == pytest.approx(service_time(_blis(64)).total_s)
    # a re-validated dump keeps its derived rates; a conflicting rate is refused
    again = Bucket.model_validate(_blis(512).model_dump(exclude={"measured"}))
    assert again.r_decode == pytest.approx(_blis(512).r_decode)
    with pytest.raises(ValidationError, match="remove them"):
        Bucket.model_validate({**_blis(512).model_dump(exclude={"measured"}), "r_decode": 100.0})


def test_a_serving_mode_the_profile_did_not_measure_is_an_assumption(tmp_path):
    bucket = Bucket(max_prompt_tokens=512, max_output_tokens=64, r_prefill=1000.0, r_decode=50.0, l_fixed_ms=5.0,
                    serving_mode="non-streamed", profile=tmp_path / "p.json")
    assert "does not record its serving mode" in bucket.mode_assumption
    assert "was measured streamed" in bucket.model_copy(update={"profile_mode": "streamed"}).mode_assumption
    assert bucket.model_copy(update={"profile_mode": "non-streamed"}).mode_assumption is None
    assert bucket.model_copy(update={"profile": None}).mode_assumption is None
