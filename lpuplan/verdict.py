"""The plan's answer in one sentence: what to buy, whether it meets the SLO, what fails.

:func:`plan_verdict` reads a :class:`~lpuplan.plan.Plan` (it computes
nothing new) and returns a :class:`Verdict` that every renderer prints first
(and the terminal prints last again, so it is on the last screen). An
infeasible bucket is never counted in the answer: its replicas are not a
recommendation, and the verdict says which buckets cannot be sized and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lpuplan.footprint import it_power_kw, populated_racks
from lpuplan.plan import Plan

__all__ = ["Verdict", "plan_verdict"]


@dataclass(frozen=True)
class Verdict:
    """Headline figures of a plan (SI seconds; MW of maximum draw)."""

    passed: bool
    replicas: int
    chips: int | None
    racks: int | None
    power_mw: float | None
    worst_bucket: str | None
    worst_p99_s: float | None
    worst_slo_s: float | None
    worst_state: str
    degraded_phrase: str
    shared_replicas: int | None
    shared_chips: int | None
    infeasible: tuple[tuple[str, str], ...]
    failed_checks: tuple[str, ...]

    def headline(self) -> str:
        """One sentence, verdict word first (PASS or FAIL)."""
        size = [f"{self.chips:,} chips" if self.chips is not None else None,
                f"{self.racks:,} racks" if self.racks is not None else None,
                f"{self.power_mw:.2f} MW max" if self.power_mw is not None else None]
        detail = ", ".join(s for s in size if s)
        fleet = f"{self.replicas:,} replicas" + (f" ({detail})" if detail else "")
        if self.worst_p99_s is not None and self.worst_slo_s is not None and math.isfinite(self.worst_p99_s):
            seconds = self.worst_slo_s >= 10  # one unit for both figures
            meets = (f"meet p99 {_ms(self.worst_slo_s, seconds)} (worst {_ms(self.worst_p99_s, seconds)}, {self.worst_bucket})"
                     if self.worst_p99_s <= self.worst_slo_s else
                     f"miss p99 {_ms(self.worst_slo_s, seconds)} ({self.worst_bucket}: {_ms(self.worst_p99_s, seconds)})")
        else:
            meets = "carry no traffic"
        shared = (f"; a shared pool would need {self.shared_replicas:,} replicas" if self.shared_replicas else "")
        if self.passed:
            return f"PASS: {fleet} {meets} {self.degraded_phrase}{shared}"
        parts = []
        if self.infeasible:
            parts.append("cannot size " + ", ".join(f"{name} ({why})" for name, why in self.infeasible))
        others = [c for c in self.failed_checks if not c.startswith("sizing feasible")]
        if others:
            first = others[0] if len(others[0]) <= 100 else others[0][:99] + "…"
            parts.append(f"{len(others)} check(s) fail, first: {first}")
        counted = "the feasible buckets need " if self.infeasible else ""
        return f"FAIL: {'; '.join(parts)}; {counted}{fleet}"

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        out["headline"] = self.headline()
        out["infeasible"] = [{"bucket": b, "reason": r} for b, r in self.infeasible]
        return out


def _ms(value_s: float, in_seconds: bool) -> str:
    return f"{value_s:,.1f} s" if in_seconds else f"{value_s * 1e3:,.0f} ms"


def plan_verdict(plan: Plan) -> Verdict:
    """The headline of ``plan`` (see the module docstring)."""
    final = plan.final_replicas
    feasible = [b for b in plan.dedicated if b.feasible]
    infeasible = tuple((b.name, _short(b.infeasible_reason)) for b in plan.dedicated if not b.feasible)
    replicas = sum(final.get(b.name, b.replicas) for b in feasible)
    chips: int | None = 0
    for b in feasible:
        n = final.get(b.name, b.replicas)
        if n and b.chips_per_replica is None:
            chips = None
            break
        if chips is not None:
            chips += n * (b.chips_per_replica or 0)
    racks = power = None
    facility = plan.facility
    if facility is not None:
        racks = populated_racks(facility)
        power = it_power_kw(facility, "max") / 1e3
        level, n_plus = facility.required_level, facility.n_plus
        phrase = f"with a {level} down" if n_plus == 1 else f"with {n_plus} {level}s down"
    else:
        lost = plan.dedicated[0].replicas_lost if plan.dedicated else 0
        phrase = f"with {lost} replica{'s' if lost != 1 else ''} down" if lost else "with nothing down"
    worst = None
    worst_key = -math.inf
    for b in feasible:
        if b.traffic.arrival_rate == 0:
            continue
        for state, p99, slo in (("degraded", b.degraded.latency_p99_s, b.degraded_slo_s),
                                ("normal", b.normal.latency_p99_s, b.slo_s)):
            key = p99 / slo if slo > 0 else math.inf
            if key > worst_key:
                worst_key, worst = key, (b.name, p99, slo, state)
    sh = plan.shared
    return Verdict(
        passed=plan.passed,
        replicas=replicas,
        chips=chips,
        racks=racks,
        power_mw=power,
        worst_bucket=worst[0] if worst else None,
        worst_p99_s=worst[1] if worst else None,
        worst_slo_s=worst[2] if worst else None,
        worst_state=worst[3] if worst else "",
        degraded_phrase=phrase,
        shared_replicas=sh.replicas if sh.feasible else None,
        shared_chips=plan.shared_chips if sh.feasible else None,
        infeasible=infeasible,
        failed_checks=tuple(f"{c.name} [{c.subject}]" + (f": {c.detail}" if c.detail else "")
                            for c in plan.checks if not c.passed),
    )


def _short(reason: str) -> str:
    """The first clause of a reason (the fix follows in the full report)."""
    head = reason.split(":")[0].split(";")[0].strip()
    return head or "not attainable"
