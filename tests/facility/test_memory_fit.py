"""Memory fit: hand arithmetic against the module's formula."""

from __future__ import annotations

import math

import pytest

from dimensioning.errors import InvalidInput
from facility.catalog import load_catalog, resolve_model, resolve_platform
from facility.inputs import HardwareSpec
from facility.memory_fit import fit_memory, replica_size

PLATFORM = resolve_platform(load_catalog(), "groqrack-gen1")


def test_llama2_70b_int8_by_hand():
    # Worked by hand: weights 68.98e9 B; KV/token 2*80*8*128*1 = 163,840 B;
    # 16 slots x 4096 tokens -> 10,737,418,240 B; reserve 10%; usable 230 MB x 0.9 = 207 MB.
    model = resolve_model(load_catalog(), "llama-2-70b")
    fit = fit_memory(model, HardwareSpec(precision="int8"), PLATFORM, context_tokens=4096, slots=16)
    total = (68.98e9 + 10_737_418_240) * 1.1
    chips = math.ceil(total / 207e6)
    assert chips == 424
    assert fit.chips_requested == chips
    assert fit.nodes_per_replica == 53 and fit.chips_per_replica == 424
    assert fit.kv_cache_bytes == pytest.approx(10_737_418_240)
    assert fit.source == "derived"
    assert any("163,840 B" in line for line in fit.arithmetic)
    # the published deployment (576 chips, "over 500") is above this lower bound
    assert fit.chips_per_replica < 576


def test_fp16_doubles_weights():
    model = resolve_model(load_catalog(), "llama-3.1-8b")
    a = fit_memory(model, HardwareSpec(precision="int8"), PLATFORM, context_tokens=2048, slots=1)
    b = fit_memory(model, HardwareSpec(precision="fp16", kv_precision="int8"), PLATFORM, context_tokens=2048, slots=1)
    assert b.weights_bytes == pytest.approx(2 * a.weights_bytes)
    assert b.kv_cache_bytes == pytest.approx(a.kv_cache_bytes)


def test_compiler_figure_wins_and_rounds_to_whole_nodes():
    assert replica_size(PLATFORM, chips_given=576).nodes_per_replica == 72
    r = replica_size(PLATFORM, chips_given=570)
    assert (r.nodes_per_replica, r.chips_per_replica, r.chips_requested, r.source) == (72, 576, 570, "given")


def test_context_beyond_the_model_is_refused():
    model = resolve_model(load_catalog(), "llama-2-70b")
    with pytest.raises(InvalidInput) as info:
        fit_memory(model, HardwareSpec(), PLATFORM, context_tokens=8192, slots=1)
    assert "4096" in info.value.fix


def test_neither_figure_nor_model_is_an_input_error():
    with pytest.raises(InvalidInput) as info:
        replica_size(PLATFORM, chips_given=None, field="bucket[0].chips_per_replica")
    assert info.value.field == "bucket[0].chips_per_replica"


def test_given_figure_is_compared_with_the_fit():
    model = resolve_model(load_catalog(), "llama-2-70b")
    r = replica_size(PLATFORM, chips_given=576, model=model, hardware=HardwareSpec(), context_tokens=4096, slots=16)
    assert r.chips_per_replica == 576 and "at least 424 chips" in r.arithmetic[-1]
    low = replica_size(PLATFORM, chips_given=256, model=model, hardware=HardwareSpec(), context_tokens=4096, slots=16)
    assert "below the memory fit" in low.arithmetic[-1]
