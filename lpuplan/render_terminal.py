"""The plan for people on a terminal or a pipe: the verdict first, tables that fit the width.

Plain text, no box drawing: a table is laid out in columns when it fits the
console's width (80 columns when piped) and stacked one ``field: value`` block
per row when it does not, so no number is ever cut. Units are in the headers;
latencies in ms. The verdict line comes first and again last (the last screen
of a long plan still says the answer). Renderers never compute: every figure
comes from the :class:`~lpuplan.plan.Plan` and :func:`lpuplan.verdict.plan_verdict`.
"""

from __future__ import annotations

from typing import Sequence

from rich.console import Console

from dimensioning.keys import E2EL, MS_PER_S, TTFT, latency_key, slo_key
from lpuplan.formatting import console_width, ms, num, pct, prob, say
from lpuplan.plan import Plan
from lpuplan.verdict import plan_verdict

__all__ = ["layout_table", "print_sizing", "print_simulated", "print_checks", "print_facility", "print_plan",
           "sizing_rows", "sizing_csv_rows"]

_SAFE_KINDS = ("exact", "bound", "approximation+margin", "simulated")


def layout_table(header: Sequence[str], rows: Sequence[Sequence[str]], width: int,
                 right: Sequence[bool] | None = None) -> list[str]:
    """Columns when they fit ``width``; else one stacked block per row (``header: value``)."""
    right = list(right) if right is not None else [i > 0 for i in range(len(header))]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    if sum(widths) + 2 * (len(widths) - 1) <= width:
        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()
        return [line(header)] + [line(r) for r in rows]
    out = []
    label = max(len(h) for h in header[1:]) if len(header) > 1 else 0
    for r in rows:
        out.append(f"{header[0]} {r[0]}")
        out += [f"  {h.ljust(label)}  {v}" for h, v in zip(header[1:], r[1:])]
    return out


def _print_table(console: Console, title: str, header: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Sequence[bool] | None = None) -> None:
    console.print()
    say(console, title)
    for line in layout_table(header, rows, console_width(console), right):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def sizing_rows(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The per-bucket sizing table (also the CSV of ``--format csv``)."""
    header = ["bucket", "share", "req/s", "S (ms)", "S mean (ms)", "N", "rho", "rho deg", "p50 (ms)", "p99 (ms)",
              "p99 deg (ms)", "SLO (ms)", "TTFT p99 (ms)", "C_max", "Queue_cap", "shed", "shed deg", "binding"]
    rows = []
    for b in plan.dedicated:
        adm, adm_d = b.admission_normal, b.admission_degraded
        ttft = b.verdict_normal.check("ttft_p99") if b.verdict_normal is not None else None
        rows.append([
            b.name, pct(b.traffic.share, 2), num(b.traffic.arrival_rate, 2), ms(b.service.total_s), ms(b.service.mean_s),
            str(b.replicas) if b.feasible else "FAIL", pct(b.normal.utilization), pct(b.degraded.utilization),
            ms(b.normal.latency_p50_s), ms(b.normal.latency_p99_s), ms(b.degraded.latency_p99_s), ms(b.slo_s),
            ms(ttft.value) if ttft is not None else "-", str(b.slots),
            num(adm.queue_cap) if adm else "-", prob(adm.shed_probability) if adm else "-",
            prob(adm_d.shed_probability) if adm_d else "-", "; ".join(b.binding),
        ])
    return header, rows


def sizing_csv_rows(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The per-bucket sizing as plain numbers for ``--format csv`` (ms, shares as fractions; empty: none)."""
    header = ["bucket", "feasible", "share", "arrival_rate_rps", "s_bucket_ms", "s_mean_ms", "replicas", "rho", "rho_degraded",
              latency_key(E2EL, 50.0), latency_key(E2EL, 99.0), latency_key(E2EL, 99.9), latency_key(E2EL, 99.0, "degraded"),
              slo_key(E2EL), latency_key(TTFT, 99.0), "c_max", "queue_cap", "shed", "shed_degraded", "binding"]

    def g(value: float | None, scale: float = 1.0) -> str:
        return "" if value is None else f"{value * scale:.9g}"

    rows = []
    for b in plan.dedicated:
        adm, adm_d = b.admission_normal, b.admission_degraded
        ttft = b.verdict_normal.check("ttft_p99") if b.verdict_normal is not None else None
        rows.append([
            b.name, str(b.feasible).lower(), g(b.traffic.share), g(b.traffic.arrival_rate), g(b.service.total_s, 1e3),
            g(b.service.mean_s, 1e3), str(b.replicas), g(b.normal.utilization), g(b.degraded.utilization),
            g(b.normal.latency_p50_s, 1e3), g(b.normal.latency_p99_s, 1e3), g(b.normal.latency_p999_s, 1e3),
            g(b.degraded.latency_p99_s, 1e3), g(b.slo_s, 1e3), g(ttft.value if ttft else None, 1e3), str(b.slots),
            "" if adm is None else str(adm.queue_cap), g(adm.shed_probability if adm else None),
            g(adm_d.shed_probability if adm_d else None), "; ".join(b.binding),
        ])
    return header, rows


def print_sizing(plan: Plan, console: Console, *, verdict_first: bool = True) -> None:
    """Verdict, then pools, latency, admission, figure kinds and assumptions."""
    verdict = plan_verdict(plan)
    if verdict_first:
        say(console, verdict.headline())
    header, rows = sizing_rows(plan)
    pick = {h: i for i, h in enumerate(header)}

    def cols(names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
        return list(names), [[r[pick[n]] for n in names] for r in rows]

    _print_table(console, f"Dedicated pools: {plan.project.name} (S = the bucket bound, output at its cap)",
                 *cols(["bucket", "share", "req/s", "S (ms)", "S mean (ms)", "N", "rho", "rho deg"]))
    for b in plan.dedicated:
        if b.feasible:
            say(console, f"{b.name}: N = {b.replicas}, binding: {', '.join(b.binding) or '-'}", indent="  ")
        else:
            say(console, f"{b.name}: FAIL, cannot be sized: {b.infeasible_reason}", indent="  ")
    latency = ["bucket", "p50 (ms)", "p99 (ms)", "p99 deg (ms)", "SLO (ms)"]
    if any(r[pick["TTFT p99 (ms)"]] != "-" for r in rows):
        latency.append("TTFT p99 (ms)")
    _print_table(console, "e2el latency (queueing delay + S; deg = with the provisioned loss)", *cols(latency))
    _print_table(console, "Admission (C_max per replica; Queue_cap pool-wide; shed at the peak)",
                 *cols(["bucket", "C_max", "Queue_cap", "shed", "shed deg"]))
    chips = plan.dedicated_chips
    console.print()
    say(console, f"dedicated: {plan.dedicated_replicas} replicas" + (f", {chips:,} chips" if chips is not None else "")
         + f"; unserved (prompt above the largest bucket): {pct(plan.traffic.share_unserved, 3)}")
    sh = plan.shared
    if sh.feasible:
        say(console, f"shared pool alternative: {sh.replicas} replicas"
             + (f", {plan.shared_chips:,} chips" if plan.shared_chips is not None else "")
             + f" (binding: {', '.join(sh.binding) or '-'}; {sh.method})")
    else:
        say(console, f"shared pool alternative: FAIL, {sh.infeasible_reason}")
    # the rule: every figure that decides N says its kind (docs/queueing.md, "The rule")
    kinds: dict[str, set[str]] = {}
    for b in plan.dedicated:
        for kind in b.figure_kinds.values():
            kinds.setdefault(kind, set()).add(b.name)
    shown = ", ".join(f"{kind} ({len(names)} bucket{'s' if len(names) != 1 else ''})" for kind, names in sorted(kinds.items()))
    say(console, f"figures deciding N: {shown or '-'} (exact | bound | approximation+margin | simulated)")
    if sh.method not in _SAFE_KINDS:
        say(console, f"shared pool: {sh.method} ({sh.method_note}); refereed only by `lpuplan plan --simulate`")
    for entry in plan.inputs["buckets"]:
        inflation = entry["figures"].get("service_inflation")
        if inflation is not None:  # S is multiplied by it (dimensioning.service_time)
            say(console, f"bucket {entry['name']}: service time under load x{inflation['value']:.3f}"
                 f" ({inflation['source']}{': ' + inflation['note'] if inflation['note'] else ''})")
    for bucket in plan.project.buckets:
        for text in (bucket.batch_assumption, bucket.mode_assumption):
            if text is not None:
                say(console, f"assumption: bucket {bucket.label}: {text}")
    if plan.assumptions:
        say(console, f"{len(plan.assumptions)} figures are assumed (listed in dimensioning_inputs.md);"
             " validate them with `lpuplan bench`.")


def print_checks(plan: Plan, console: Console) -> None:
    """Failed checks in full; passing ones counted (plan.json has every one)."""
    failed = [c for c in plan.checks if not c.passed]
    console.print()
    say(console, f"Checks: {len(plan.checks) - len(failed)} of {len(plan.checks)} pass"
         + ("" if failed else " (plan.json lists each with its figure and method)"))
    for c in failed:
        # a latency check's figures are in seconds inside; people read ms (dimensioning.keys)
        scale, unit = (MS_PER_S, "ms") if c.unit == "s" else (1.0, c.unit)
        value = "" if c.value is None else f" {c.value * scale:.4g}{(' ' + unit) if unit else ''}"
        limit = "" if c.limit is None else f" vs {c.limit * scale:.4g}{(' ' + unit) if unit else ''}"
        say(console, f"FAIL {c.name} [{c.subject}]{value}{limit}: {c.detail}", indent="  ")


def print_simulated(plan: Plan, console: Console) -> None:
    sim = plan.simulated
    if sim is None:
        return
    rows = []
    for label, figures in (("real outputs", sim.expected_with_real_outputs),
                           ("bursty, bound", sim.bursty_at_bound), ("shared pool", sim.shared_pool)):
        if figures is None:
            continue
        for name, row in figures["buckets"].items():
            lo, hi = row["latency_p99_s_ci95"]
            rows.append([label, name, ms(row.get("latency_mean_s")), ms(row["latency_p99_s"]), f"{ms(lo)}-{ms(hi)}",
                         ms(row.get("slo_s"))])
    _print_table(console, "Simulated (95% intervals; the sizing uses the exact bounds above)",
                 ["figure", "bucket", "mean (ms)", "p99 (ms)", "p99 95% CI (ms)", "SLO (ms)"], rows,
                 [False, False, True, True, True, True])
    shared = sim.shared_pool
    if shared is not None and shared["replicas"] != shared["replicas_from_approximation"]:
        say(console, f"shared pool: the simulator needed {shared['replicas']} replicas where the M/G/c approximation "
             f"said {shared['replicas_from_approximation']}")
    for reason in sim.skipped:
        say(console, f"skipped: {reason}")


def print_facility(plan: Plan, console: Console) -> None:
    result = plan.facility
    if result is None:
        return
    rows = [[p.name, str(p.replicas_initial), str(p.replicas_final), str(p.nodes_per_replica), str(p.unplaced)]
            for p in result.pools]
    _print_table(console, f"Facility {result.layout.site}: N+{result.n_plus} at {result.required_level} level:"
                 f" {'PASS' if result.passed else 'FAIL'}",
                 ["pool", "replicas (sizing)", "after N+k", "nodes/replica", "unplaced"], rows)
    levels = []
    for level in result.levels:
        state = "PASS" if level.passed else "FAIL"
        need = "required" if level.required else "reported"
        levels.append([level.level, f"N+{level.n_plus}", need, level.worst_domain or "-",
                       str(level.worst_replicas_lost), state])
    _print_table(console, "Failure domains (worst domain per level)",
                 ["level", "N+k", "", "worst domain", "replicas lost", "result"], levels,
                 [False, False, False, False, True, False])
    for failure in result.failures:
        say(console, f"FAIL {failure}", indent="  ")


def print_plan(plan: Plan, console: Console, files_note: str | None = None) -> None:
    """The whole plan: verdict, sizing, facility, simulation, checks, the files written, verdict again."""
    print_sizing(plan, console)
    print_facility(plan, console)
    print_simulated(plan, console)
    from lpuplan.plan_gameday import summary_lines  # the game-day section (issue 11)

    lines = list(summary_lines(plan.gameday))
    if lines:
        console.print()
    for line in lines:
        say(console, line)
    print_checks(plan, console)
    if files_note:
        say(console, files_note)
    console.print()
    say(console, plan_verdict(plan).headline())
