"""Facility: hardware catalogue, topology, placement, budgets, failure domains.

The entry points: :func:`plan_facility` (pools in, :class:`FacilityResult`
out), the exporters (:func:`render_facility_outputs`), the graph
(:func:`build_topology`) and the failure-domain model over it
(:class:`FailureModel`, kept on the result as ``result.failure_model``:
``result.impact("rack:row01-pod02-rack05")`` says which replicas, pools,
chips and feeds a loss, or a set of losses, takes and what survives;
``result.failure_model.worst(level, k)`` the worst ``k`` domains of a level). The mapping from a
project file to pools lives in ``lpuplan.facility_glue`` (facility never
imports lpuplan).
"""

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

# Every name loads on first use (PEP 562): ``import facility.inputs`` (what
# loading a project file needs) must not pull in scipy through the queueing
# model, nor matplotlib and openpyxl through the exporters (docs/performance.md).
_LAZY = {
    "Catalog": "facility.catalog",
    "CatalogFigure": "facility.catalog",
    "ModelSpec": "facility.catalog",
    "Platform": "facility.catalog",
    "load_catalog": "facility.catalog",
    "resolve_model": "facility.catalog",
    "resolve_platform": "facility.catalog",
    "PoolCheck": "facility.demand",
    "PoolDemand": "facility.demand",
    "check_pool": "facility.demand",
    "LEVELS": "facility.failure",
    "FailureImpact": "facility.failure",
    "FailureModel": "facility.failure",
    "FeedLoad": "facility.failure",
    "PoolImpact": "facility.failure",
    "UnknownDomain": "facility.failure",
    "WorstCase": "facility.failure",
    "CoolingSpec": "facility.inputs",
    "FacilitySpec": "facility.inputs",
    "FeedSpec": "facility.inputs",
    "HardwareSpec": "facility.inputs",
    "NodePower": "facility.inputs",
    "SupplySpec": "facility.inputs",
    "ReplicaSize": "facility.memory_fit",
    "fit_memory": "facility.memory_fit",
    "replica_size": "facility.memory_fit",
    "FacilityResult": "facility.plan",
    "plan_facility": "facility.plan",
    "render_facility_outputs": "facility.exports",
    "build_topology": "facility.topology",
    "graphml_text": "facility.topology",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facility' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
