"""Small facilities worked by hand, shared by the facility tests."""

from __future__ import annotations

from typing import Any

import pytest

from facility.inputs import FacilitySpec

CONTRACT_FACILITY: dict[str, Any] = dict(
    rows=2,
    pods_per_row=2,
    racks_per_pod=9,
    nodes_per_rack=9,
    spare_nodes_per_rack=1,
    rack_power_budget_kw=30.0,
    node_power_kw={"typical": 2.4, "max": 3.3},
    feed={"voltage": 415.0, "amperage": 60.0, "phases": 3, "power_factor": 0.95, "derate": 0.8},
    cooling={"unit_kw": 150.0, "racks_per_zone": 9, "redundancy": 1, "delta_t_f": 20.0},
)


def make_facility(**changes: Any) -> FacilitySpec:
    """The issue's contract facility with ``changes`` applied (nested dicts replace whole tables)."""
    data = dict(CONTRACT_FACILITY)
    data.update(changes)
    return FacilitySpec.model_validate(data)


@pytest.fixture
def contract_facility() -> FacilitySpec:
    return make_facility()
