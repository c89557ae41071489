"""Facility: hardware catalogue, topology, placement, budgets, failure domains.

The entry points: :func:`plan_facility` (pools in, :class:`FacilityResult`
out), :func:`plan_project_facility` (from a project file), the exporters
(:func:`render_facility_outputs`) and the graph (:func:`build_topology`).
"""

from facility.catalog import Catalog, CatalogFigure, ModelSpec, Platform, load_catalog, resolve_model, resolve_platform
from facility.demand import PoolCheck, PoolDemand, check_pool
from facility.inputs import CoolingSpec, FacilitySpec, FeedSpec, HardwareSpec, NodePower, SupplySpec
from facility.memory_fit import ReplicaSize, fit_memory, replica_size
from facility.plan import FacilityResult, plan_facility

__all__ = [
    "Catalog",
    "CatalogFigure",
    "ModelSpec",
    "Platform",
    "load_catalog",
    "resolve_model",
    "resolve_platform",
    "PoolCheck",
    "PoolDemand",
    "check_pool",
    "render_facility_outputs",
    "plan_project_facility",
    "pool_demands",
    "CoolingSpec",
    "FacilitySpec",
    "FeedSpec",
    "HardwareSpec",
    "NodePower",
    "SupplySpec",
    "ReplicaSize",
    "fit_memory",
    "replica_size",
    "FacilityResult",
    "plan_facility",
    "build_topology",
    "graphml_text",
]

_LAZY = {
    "plan_project_facility": "facility.from_project",
    "pool_demands": "facility.from_project",
    "render_facility_outputs": "facility.exports",
    "build_topology": "facility.topology",
    "graphml_text": "facility.topology",
}


def __getattr__(name: str):  # exporters pull in matplotlib, traffic scipy: load on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facility' has no attribute {name!r}")
