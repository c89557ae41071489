"""The catalogue: every figure referenced, resolution, user additions and overrides."""

from __future__ import annotations

import pytest

from dimensioning.errors import InvalidInput
from facility.catalog import PLATFORM_FIGURES, load_catalog, resolve_model, resolve_platform


def test_every_shipped_figure_has_a_reference_and_a_confidence():
    catalog = load_catalog()
    count = 0
    for kind, named in catalog.entries.items():
        for name, entry in named.items():
            for key, value in entry.items():
                if isinstance(value, dict):
                    count += 1
                    assert value["confidence"] in ("confirmed", "reported", "assumed", "derived"), (kind, name, key)
                    assert len(value["reference"]) > 10, (kind, name, key)
                    assert isinstance(value["value"], (int, float))
    assert count >= 30


def test_groqrack_resolves_to_the_alcf_figures():
    # Argonne ALCF user guide (system-overview.md): 230 MB SRAM per chip, 8 cards per node, 9 nodes (8 + 1 spare) per 42U rack
    p = resolve_platform(load_catalog(), "groqrack-gen1")
    assert p.sram_bytes_per_chip.value == 230e6
    assert p.sram_bytes_per_chip.confidence == "confirmed"
    assert p.chips_per_node == 8
    assert p.nodes_per_rack.value == 9 and p.spare_nodes_per_rack.value == 1
    assert p.rack_u_height.value == 42
    assert p.node_power_max_w.confidence == "assumed"  # nobody public states it
    assert p.node_power_max_w.source == "assumed"
    assert p.sram_bytes_per_chip.source == "sourced"
    # the rack's active chips: 8 compute nodes x 8 = 64 (ALCF)
    assert (p.nodes_per_rack.value - p.spare_nodes_per_rack.value) * p.chips_per_node == 64


def test_override_is_labelled_given():
    p = resolve_platform(load_catalog(), "groqrack-gen1", {"node_power_max_w": 3000.0})
    assert p.node_power_max_w.value == 3000.0
    assert p.node_power_max_w.confidence == "given"
    assert p.node_power_max_w.unit == "W"


def test_unknown_override_names_the_field():
    with pytest.raises(InvalidInput) as info:
        resolve_platform(load_catalog(), "groqrack-gen1", {"sram": 1.0})
    assert info.value.field == "hardware.override.sram"
    assert "sram_bytes_per_chip" in info.value.fix
    assert set(PLATFORM_FIGURES) >= {"sram_bytes_per_chip", "node_power_max_w"}


def test_unknown_platform_lists_the_known_ones():
    with pytest.raises(InvalidInput) as info:
        resolve_platform(load_catalog(), "groqrack-gen9")
    assert info.value.field == "hardware.platform"
    assert "groqrack-gen1" in info.value.fix


def test_user_adds_a_rack_built_from_shipped_parts():
    additions = {"rack": {"half-rack": {"node": "groqnode-gen1", "u_height": 24, "nodes": 5, "spare_nodes": 1,
                                        "power_budget_w": {"value": 17000, "confidence": "assumed", "reference": "site survey"}}}}
    p = resolve_platform(load_catalog(additions), "half-rack")
    assert p.nodes_per_rack.value == 5 and p.nodes_per_rack.confidence == "given"
    assert p.rack_power_budget_w.confidence == "assumed"
    assert p.sram_bytes_per_chip.value == 230e6  # inherited through node -> card -> chip


def test_models_carry_their_architecture():
    m = resolve_model(load_catalog(), "llama-3.3-70b")
    assert (m.layers.value, m.hidden_size.value, m.kv_heads.value, m.head_dim.value) == (80, 8192, 8, 128)
    assert m.hidden_size.value == 64 * m.head_dim.value  # 64 attention heads
    with pytest.raises(InvalidInput):
        resolve_model(load_catalog(), "gpt-5")


def test_a_site_too_large_to_plan_in_bounded_time_is_refused():
    import pytest
    from pydantic import ValidationError

    from facility.inputs import MAX_SITE_RACKS, FacilitySpec

    room = dict(feed={"voltage": 415.0, "amperage": 60.0, "phases": 3, "power_factor": 0.95, "derate": 0.8},
                cooling={"unit_kw": 150.0, "racks_per_zone": 9, "redundancy": 1, "delta_t_f": 20.0})
    FacilitySpec(rows=20, pods_per_row=18, racks_per_pod=9, **room)  # the 200,000-chip campus
    with pytest.raises(ValidationError) as err:
        FacilitySpec(rows=100_000, pods_per_row=100_000, racks_per_pod=9, **room)
    assert f"{MAX_SITE_RACKS:,}" in str(err.value) and "several rooms" in str(err.value)
