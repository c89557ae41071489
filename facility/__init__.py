"""Facility: hardware catalogue, topology, placement, budgets, failure domains.

The entry points: :func:`plan_facility` (pools in, :class:`FacilityResult`
out), the exporters (:func:`render_facility_outputs`), the graph
(:func:`build_topology`) and the failure-domain model over it
(:class:`FailureModel`: ``FailureModel.from_result(result).impact("rack:row01-pod02-rack05")``
says which replicas, pools, chips and feeds a loss takes and what survives;
``.worst(level, k)`` the worst ``k`` domains of a level). The mapping from a
project file to pools lives in ``lpuplan.facility_glue`` (facility never
imports lpuplan).
"""

from facility.catalog import Catalog, CatalogFigure, ModelSpec, Platform, load_catalog, resolve_model, resolve_platform
from facility.demand import PoolCheck, PoolDemand, check_pool
from facility.failure import LEVELS, FailureImpact, FailureModel, FeedLoad, PoolImpact, UnknownDomain, WorstCase
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
    "LEVELS",
    "FailureModel",
    "FailureImpact",
    "PoolImpact",
    "FeedLoad",
    "WorstCase",
    "UnknownDomain",
    "PoolCheck",
    "PoolDemand",
    "check_pool",
    "render_facility_outputs",
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
    "render_facility_outputs": "facility.exports",
    "build_topology": "facility.topology",
    "graphml_text": "facility.topology",
}


def __getattr__(name: str):  # exporters pull in matplotlib, traffic scipy: load on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facility' has no attribute {name!r}")
