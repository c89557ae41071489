"""Which assumed inputs move N the most: a one-at-a-time sensitivity of the sizing.

Every numeric input the plan marks ``assumed`` (``plan.inputs``, source
``"assumed"``) is moved by -20% and +20% in turn, the project is re-sized with
the exact sizing (:func:`lpuplan.plan.build_plan` with ``place=False``: no
facility feedback, no simulator) and the change in total dedicated replicas is
recorded. Results are ranked by the largest absolute change. One-at-a-time
moves miss interactions between inputs; they answer "which figure should be
measured first", not "what is the worst case".

Integer figures (``slots``, token caps, chips) are rounded after the move; a
move that rounds to the same value is skipped. A moved value the project's
own validation rejects (e.g. a utilisation target above 1) is reported as
out of range, never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from dimensioning.errors import InvalidInput
from lpuplan.plan import Plan, build_plan
from lpuplan.project import Project

__all__ = ["Move", "Sensitivity", "sensitivity"]

STEP = 0.20
"""Relative move applied to every assumed figure (the issue's default: no stated uncertainties exist yet)."""

# plan.inputs names that differ from the model field they describe
_FIELD = {("slo", "degraded_p99_ms"): "degraded_ms"}


@dataclass(frozen=True)
class Move:
    """One assumed input moved by ``factor`` and what the sizing made of it."""

    figure: str        # e.g. "workload.lambda_peak" or "bucket p512: slots"
    unit: str
    base_value: float
    factor: float      # 0.8 or 1.2
    value: float       # the moved value (rounded for integer figures)
    replicas: int | None  # total dedicated replicas of the feasible buckets; None when out of range
    delta: int | None     # replicas - base replicas; None when out of range
    infeasible: tuple[str, ...]  # buckets that cannot be sized after the move
    note: str = ""        # why the move was not sized (out of range), else ""


@dataclass(frozen=True)
class Sensitivity:
    """All moves, ranked: largest absolute replica change first (ties: figure order in the plan)."""

    base_replicas: int
    step: float
    moves: tuple[Move, ...]

    def ranked(self) -> tuple[Move, ...]:
        order = {m: i for i, m in enumerate(self.moves)}
        return tuple(sorted(self.moves, key=lambda m: (-(abs(m.delta) if m.delta is not None else -1), order[m])))

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"base_replicas": self.base_replicas, "step": self.step,
                "moves": [asdict(m) for m in self.ranked()]}


def _assumed(plan: Plan) -> list[tuple[str, str | int, str, float, str]]:
    """(section, field or bucket index, key, value, unit) of every assumed numeric input figure."""
    out: list[tuple[str, str | int, str, float, str]] = []
    for section, figures in plan.inputs.items():
        if section == "buckets":
            for i, bucket in enumerate(figures):
                for key, fig in bucket["figures"].items():
                    if fig["source"] == "assumed" and isinstance(fig["value"], (int, float)):
                        out.append(("buckets", i, key, fig["value"], fig["unit"]))
        else:
            for key, fig in figures.items():
                if fig["source"] == "assumed" and isinstance(fig["value"], (int, float)):
                    out.append((section, key, key, fig["value"], fig["unit"]))
    return out


def _revalidate(model: BaseModel, field: str, value: float) -> BaseModel:
    """``model`` with ``field`` set to ``value``, checked by the model's own validators."""
    moved = model.model_copy(update={field: value})
    type(model).model_validate(moved.model_dump(by_alias=True, exclude_unset=False))
    return moved


def _model_field(project: Project, section: str, where: str | int, key: str) -> tuple[BaseModel, str]:
    if section == "buckets":
        assert isinstance(where, int)
        return project.buckets[where], key
    return getattr(project, section), _FIELD.get((section, key), key)


def _moved_project(project: Project, section: str, where: str | int, key: str, value: float) -> Project:
    if section == "buckets":
        assert isinstance(where, int)
        buckets = list(project.buckets)
        buckets[where] = _revalidate(buckets[where], key, value)  # type: ignore[assignment]
        return project.model_copy(update={"buckets": tuple(buckets)})
    field = _FIELD.get((section, key), key)
    table = getattr(project, section)
    return project.model_copy(update={section: _revalidate(table, field, value)})


def _total(plan: Plan) -> tuple[int, tuple[str, ...]]:
    return (sum(b.replicas for b in plan.dedicated if b.feasible),
            tuple(b.name for b in plan.dedicated if not b.feasible))


def sensitivity(plan: Plan, step: float = STEP) -> Sensitivity:
    """Move each assumed input of ``plan`` by ``-step`` and ``+step``; re-size; rank by |change in replicas|."""
    project = plan.project
    base, _ = _total(plan)
    moves = []
    for section, where, key, value, unit in _assumed(plan):
        label = (f"bucket {plan.inputs['buckets'][where]['name']}: {key}" if section == "buckets"
                 else f"{section}.{key}")
        for factor in (1.0 - step, 1.0 + step):
            moved: float = value * factor
            model, field = _model_field(project, section, where, key)
            if isinstance(getattr(model, field), int) and not isinstance(getattr(model, field), bool):
                moved = round(moved)
                if moved == value:
                    continue
            try:
                sized = build_plan(_moved_project(project, section, where, key, moved), place=False)
            except (ValidationError, InvalidInput, ValueError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                moves.append(Move(label, unit, value, factor, moved, None, None, (), f"out of range: {first}"))
                continue
            total, infeasible = _total(sized)
            moves.append(Move(label, unit, value, factor, moved, total, total - base, infeasible))
    return Sensitivity(base, step, tuple(moves))
