"""Read SimFaaSInfer's ``capacity_planning_request.yaml`` where it maps onto a project, and say what does not.

SimFaaSInfer (github.com/HaniehKashfii/SimFaaSInfer, docs/capacity_planning.md,
"Capacity Planning Request"; read by ``simfaasinfer/capacity_planning/planner.py``
and ``simfaasinfer/optimizer/vidur_search.py``) describes a GPU capacity
search in four sections: ``workload``, ``constraints``, ``config_space`` and
``simulation``. Its fields and what lpuplan makes of them:

=========================================  ==========================================================
``workload.arrival_rate_range: [lo, hi]``   ``[workload] lambda_peak = hi`` (the peak to size for; each
                                            candidate's max sustainable rate replaces the QPS search)
``workload.prompt_length`` / ``output_length``  ``[workload] prompt_tokens`` / ``output_tokens``: lognormal
                                            and gamma as given; ``normal`` as a gamma with the same mean
                                            and std (token counts are positive); std 0 as a constant
``workload.max_qps``                        not mapped: the upper end of SimFaaSInfer's QPS bisection
                                            (lpuplan's is the utilisation target, exact)
``constraints.max_latency_p99_ms``          ``[slo] p99_ms`` (e2el)
``constraints.max_ttft_p95_ms``             ``[slo] ttft_p99_ms``: a p99 objective at the same limit, which
                                            is stricter (a p99 within it implies the p95 is)
``constraints.max_tbt_p99_ms``              ``[slo] tpot_p99_ms`` (time between tokens = time per output token)
``constraints.max_cost_per_hour``           not mapped: every candidate's ``cost_per_hour`` is reported
``constraints.min_qps``                     not mapped: every candidate's ``max_sustainable_rps`` is reported
``constraints.slo_threshold_ms``            not mapped: a p99 scheduling-delay bound; lpuplan's queueing
                                            delay is inside the e2el and TTFT objectives
``config_space.max_batch_sizes``            ``[search] slots`` (sequences one replica serves at once)
``config_space.gpu_types``, ``num_gpus``,   not mapped: GPU hardware and parallelism; an LPU replica's chip
``tensor_parallel``/``tp_sizes``,           count comes from the model's fit (``[[bucket]] chips_per_replica``,
``pipeline_parallel``/``pp_sizes``          ``[search] platform`` for catalogue hardware)
``config_space.num_replicas``               not mapped: lpuplan computes the replicas (the least that pass)
``config_space.schedulers``                 not mapped: vLLM, Orca, Sarathi batch schedulers have no LPU
                                            counterpart (deterministic compiled service)
``simulation.*``                            not mapped: lpuplan's figures are exact, or simulated with its
                                            own fixed run length and seed
=========================================  ==========================================================

A field that is not part of that format is listed as not mapped, with that
reason. A value of the wrong type or range is refused (field, value, fix).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dimensioning.errors import InvalidInput
from lpuplan.project import Project

__all__ = ["FieldMapping", "SimFaaSInferImport", "read_request", "import_request"]

_OPTION = "--import-simfaasinfer"

_NOT_MAPPED = {
    "workload.max_qps": "the upper end of SimFaaSInfer's QPS bisection; lpuplan's is the utilisation target (exact)",
    "constraints.max_cost_per_hour": "a budget filter; lpuplan reports every candidate's cost_per_hour (with [cost])",
    "constraints.min_qps": "a throughput floor; lpuplan reports every candidate's max_sustainable_rps",
    "constraints.slo_threshold_ms": "a p99 scheduling-delay bound; lpuplan's queueing delay is inside the e2el"
                                    " and TTFT objectives",
    "config_space.gpu_types": "GPU types; an LPU platform comes from the hardware catalogue ([search] platform)",
    "config_space.num_gpus": "GPUs per replica; an LPU replica's chips come from the model's fit (chips_per_replica)",
    "config_space.tensor_parallel": "GPU tensor parallelism: no LPU counterpart (the compiler spreads the model)",
    "config_space.tp_sizes": "GPU tensor parallelism: no LPU counterpart (the compiler spreads the model)",
    "config_space.pipeline_parallel": "GPU pipeline parallelism: no LPU counterpart (the compiler spreads the model)",
    "config_space.pp_sizes": "GPU pipeline parallelism: no LPU counterpart (the compiler spreads the model)",
    "config_space.num_replicas": "lpuplan computes the replicas (the least that pass every check)",
    "config_space.schedulers": "GPU batch schedulers (vLLM, Orca, Sarathi): no LPU counterpart (deterministic"
                               " compiled service)",
    "simulation.duration": "lpuplan's figures are exact, or simulated with its own fixed run length and seed",
    "simulation.warmup_duration": "lpuplan's figures are exact, or simulated with its own fixed run length and seed",
    "simulation.random_seed": "lpuplan's figures are exact, or simulated with its own fixed run length and seed",
}
_MAPPED = ("workload.arrival_rate_range", "workload.prompt_length", "workload.output_length",
           "constraints.max_latency_p99_ms", "constraints.max_ttft_p95_ms", "constraints.max_tbt_p99_ms",
           "config_space.max_batch_sizes")
_SECTIONS = ("workload", "constraints", "config_space", "simulation")
_LENGTH_FORMS = ("normal", "lognormal", "gamma")


@dataclass(frozen=True)
class FieldMapping:
    """One field of the request: where it went (``target``), or None and why not (``note``)."""

    field: str
    value: Any
    target: str | None
    note: str


@dataclass(frozen=True)
class SimFaaSInferImport:
    """What an import mapped and what it did not, field by field."""

    source: str
    mapped: tuple[FieldMapping, ...]
    not_mapped: tuple[FieldMapping, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "mapped": [asdict(m) for m in self.mapped],
                "not_mapped": [asdict(m) for m in self.not_mapped]}


def read_request(path: Path) -> dict[str, Any]:
    """The request file parsed with ``yaml.safe_load`` (a mapping), or InvalidInput naming the problem."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(_OPTION, str(path), f"cannot read it ({exc.strerror}): give a readable YAML file") from None
    except UnicodeDecodeError:
        raise InvalidInput(_OPTION, str(path), "is not UTF-8 text: give SimFaaSInfer's YAML request file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        raise InvalidInput(_OPTION, str(path), f"is not valid YAML{at}: fix the syntax") from None
    if not isinstance(data, dict):
        raise InvalidInput(_OPTION, str(path), "must hold a mapping with workload, constraints, config_space"
                                               " and simulation sections")
    return data


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidInput(field, value, "give a positive number")
    return float(value)


def _length(field: str, value: Any) -> dict[str, Any]:
    """A SimFaaSInfer length distribution as a ``TokenDistribution`` table."""
    if not isinstance(value, dict):
        raise InvalidInput(field, value, "give a mapping such as {distribution: normal, mean: 512, std: 128}")
    form = value.get("distribution", "normal")
    if form not in _LENGTH_FORMS:
        raise InvalidInput(f"{field}.distribution", form, f"use one of {list(_LENGTH_FORMS)}")
    mean = _number(f"{field}.mean", value.get("mean"))
    std = value.get("std", 0.0)
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not math.isfinite(std) or std < 0:
        raise InvalidInput(f"{field}.std", std, "give a standard deviation >= 0 (tokens)")
    if std == 0:
        return {"distribution": "constant", "value": mean}
    return {"distribution": "gamma" if form == "normal" else form, "mean": mean, "std": float(std)}


def import_request(project: Project, request: dict[str, Any], source: str = "") -> tuple[Project, SimFaaSInferImport]:
    """The project with the request's mappable fields applied, and the field-by-field account.

    Raises InvalidInput (field, value, fix) for a value of the wrong type or
    range, or one the project's own validation refuses.
    """
    from pydantic import ValidationError

    from dimensioning.inputs import Slo, Workload
    from dimensioning.search_space import SearchSpec

    mapped: list[FieldMapping] = []
    not_mapped: list[FieldMapping] = []
    workload: dict[str, Any] = {}
    slo: dict[str, Any] = {}
    slots: tuple[int, ...] | None = None
    for section, body in request.items():
        if section not in _SECTIONS:
            not_mapped.append(FieldMapping(str(section), body, None,
                                           "not a section of SimFaaSInfer's capacity_planning_request.yaml"))
            continue
        if body is None:
            continue
        if not isinstance(body, dict):
            raise InvalidInput(section, body, f"give the {section} section as a mapping of fields")
        for key, value in body.items():
            field = f"{section}.{key}"
            if field in _NOT_MAPPED:
                not_mapped.append(FieldMapping(field, value, None, _NOT_MAPPED[field]))
            elif field not in _MAPPED:
                not_mapped.append(FieldMapping(field, value, None,
                                               "not a field SimFaaSInfer's capacity planner reads"))
            elif field == "workload.arrival_rate_range":
                if not isinstance(value, (list, tuple)) or len(value) != 2:
                    raise InvalidInput(field, value, "give [low, high] in requests/s")
                low, high = (_number(field, v) for v in value)
                if low > high:
                    raise InvalidInput(field, value, "give [low, high] with low <= high")
                workload["lambda_peak"] = high
                mapped.append(FieldMapping(field, list(value), "[workload] lambda_peak",
                                           f"the high end, {high:g} req/s, is the peak sized for; each candidate's"
                                           " max sustainable rate replaces the search over the range"))
            elif field in ("workload.prompt_length", "workload.output_length"):
                target = "prompt_tokens" if key == "prompt_length" else "output_tokens"
                workload[target] = _length(field, value)
                note = ("a normal taken as a gamma with the same mean and std (token counts are positive)"
                        if value.get("distribution", "normal") == "normal" and workload[target].get("std")
                        else "as given")
                mapped.append(FieldMapping(field, value, f"[workload] {target}", note))
            elif field == "constraints.max_latency_p99_ms":
                slo["p99_ms"] = _number(field, value)
                mapped.append(FieldMapping(field, value, "[slo] p99_ms", "p99 end-to-end latency (e2el)"))
            elif field == "constraints.max_ttft_p95_ms":
                slo["ttft_p99_ms"] = _number(field, value)
                mapped.append(FieldMapping(field, value, "[slo] ttft_p99_ms",
                                           "lpuplan's TTFT objective is a p99: the same limit on the p99 is"
                                           " stricter (it implies the p95)"))
            elif field == "constraints.max_tbt_p99_ms":
                slo["tpot_p99_ms"] = _number(field, value)
                mapped.append(FieldMapping(field, value, "[slo] tpot_p99_ms",
                                           "time between tokens is the time per output token"))
            else:  # config_space.max_batch_sizes
                if not isinstance(value, (list, tuple)) or not value or any(
                        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
                    raise InvalidInput(field, value, "give a list of whole numbers >= 1 (sequences per replica)")
                slots = tuple(value)
                mapped.append(FieldMapping(field, list(value), "[search] slots",
                                           "sequences one replica serves at once"))
    update: dict[str, Any] = {}
    try:
        if workload:
            if project.workload.trace is not None and ("prompt_tokens" in workload or "output_tokens" in workload):
                raise InvalidInput("workload.prompt_length", request["workload"].get("prompt_length"),
                                   "the project's [workload] is a trace (its rows are the shape): drop the lengths"
                                   " from the request or the trace from the project")
            update["workload"] = Workload.model_validate({**project.workload.model_dump(), **workload})
        if slo:
            update["slo"] = Slo.model_validate({**project.slo.model_dump(), **slo})
        if slots is not None:
            base = project.search.model_dump() if project.search is not None else {}
            update["search"] = SearchSpec.model_validate({**base, "slots": slots})
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise InvalidInput(_OPTION, source or "request",
                           f"{where}: {problem['msg'].removeprefix('Value error, ')}") from None
    report = SimFaaSInferImport(source, tuple(mapped), tuple(not_mapped))
    return project.model_copy(update=update), report
