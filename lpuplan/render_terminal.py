"""Rich tables for people: the sizing summary and the checks of a Plan."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from lpuplan.formatting import ms, num, pct, prob
from lpuplan.plan import Plan

__all__ = ["print_sizing", "print_simulated", "print_checks", "print_plan"]


def print_sizing(plan: Plan, console: Console) -> None:
    table = Table(title=f"Dedicated pools - {plan.project.name}", title_justify="left")
    for column, justify in (
        ("bucket", "left"), ("share", "right"), ("req/s", "right"), ("S ms", "right"), ("S mean ms", "right"),
        ("mu /replica", "right"), ("N", "right"), ("binding", "left"), ("rho", "right"), ("rho deg", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for b in plan.dedicated:
        table.add_row(
            b.name, pct(b.traffic.share, 2), num(b.traffic.arrival_rate, 2), ms(b.service.total_s), ms(b.service.mean_s),
            num(b.mu, 3), str(b.replicas), ", ".join(b.binding), pct(b.normal.utilization), pct(b.degraded.utilization),
        )
    console.print(table)
    table = Table(title="Latency (wait + S_bucket) and admission", title_justify="left")
    for column in ("bucket", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "p99 deg ms", "SLO ms", "C_max", "Queue_cap",
                   "shed", "shed deg"):
        table.add_column(column, justify="left" if column == "bucket" else "right")
    for b in plan.dedicated:
        adm, adm_d = b.admission_normal, b.admission_degraded
        table.add_row(
            b.name, ms(b.normal.latency_p50_s), ms(b.normal.latency_p95_s), ms(b.normal.latency_p99_s),
            ms(b.normal.latency_p999_s), ms(b.degraded.latency_p99_s), ms(b.slo_s), str(b.slots),
            num(adm.queue_cap) if adm else "-", prob(adm.shed_probability) if adm else "-",
            prob(adm_d.shed_probability) if adm_d else "-",
        )
    console.print(table)
    chips = plan.dedicated_chips
    console.print(
        f"dedicated: [bold]{plan.dedicated_replicas}[/] replicas"
        + (f", {chips:,} chips" if chips is not None else "")
        + f"; unserved (prompt above the largest bucket): {pct(plan.traffic.share_unserved, 3)}"
    )
    sh = plan.shared
    shared_chips = plan.shared_chips
    console.print(
        f"shared pool alternative: [bold]{sh.replicas}[/] replicas"
        + (f", {shared_chips:,} chips" if shared_chips is not None else "")
        + f" (binding: {', '.join(sh.binding) or '-'}; {sh.method})"
    )
    # the rule: every figure that decides N says its kind (docs/queueing.md, "The rule")
    console.print("figure kinds (exact | bound | approximation+margin | simulated):")
    for b in plan.dedicated:
        kinds: dict[str, list[str]] = {}
        for figure, kind in b.figure_kinds.items():
            kinds.setdefault(kind, []).append(figure)
        if kinds:
            console.print(f"  {b.name}: " + "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(kinds.items())))
    if sh.method not in ("exact", "bound", "approximation+margin", "simulated"):
        console.print(f"  shared pool: {sh.method} ({sh.method_note}); refereed only by `lpuplan plan --simulate`")
    for bucket in plan.project.buckets:
        if bucket.batch_assumption is not None:
            console.print(f"[yellow]assumption[/] bucket {bucket.label}: {bucket.batch_assumption}")
    if plan.assumptions:
        console.print(f"[yellow]{len(plan.assumptions)} figures are assumed[/] (see dimensioning_inputs.md); validate them with `lpuplan bench`.")


def print_checks(plan: Plan, console: Console) -> None:
    table = Table(title="Checks", title_justify="left")
    for column in ("check", "subject", "result", "kind", "detail"):
        table.add_column(column)
    for c in plan.checks:
        table.add_row(c.name, c.subject, "[green]PASS[/]" if c.passed else "[bold red]FAIL[/]", c.kind or "-", c.detail)
    console.print(table)
    console.print("[green]every check passes[/]" if plan.passed else "[bold red]the plan fails a check[/] (exit 3)")


def print_simulated(plan: Plan, console: Console) -> None:
    sim = plan.simulated
    if sim is None:
        return
    table = Table(title="Simulated (95% intervals; the sizing above uses exact bounds)", title_justify="left")
    for column in ("figure", "bucket", "mean ms", "p99 latency ms", "95% CI ms", "SLO ms"):
        table.add_column(column)
    for label, figures in (("expected, real outputs", sim.expected_with_real_outputs),
                           ("bursty arrivals, bound", sim.bursty_at_bound), ("shared pool", sim.shared_pool)):
        if figures is None:
            continue
        for name, row in figures["buckets"].items():
            lo, hi = row["latency_p99_s_ci95"]
            table.add_row(label, name, ms(row.get("latency_mean_s")), ms(row["latency_p99_s"]), f"{ms(lo)} - {ms(hi)}",
                          ms(row.get("slo_s")))
    console.print(table)
    shared = sim.shared_pool
    if shared is not None and shared["replicas"] != shared["replicas_from_approximation"]:
        console.print(f"shared pool: the simulator needed {shared['replicas']} replicas where the M/G/c approximation "
                      f"said {shared['replicas_from_approximation']}")
    for reason in sim.skipped:
        console.print(f"skipped: {reason}")


def print_facility(plan: Plan, console: Console) -> None:
    result = plan.facility
    if result is None:
        return
    table = Table(title=f"Facility {result.layout.site}: N+{result.n_plus} at {result.required_level} level", title_justify="left")
    for column in ("pool", "replicas (sizing)", "replicas (after N+k)", "nodes/replica", "unplaced"):
        table.add_column(column, justify="left" if column == "pool" else "right")
    for p in result.pools:
        table.add_row(p.name, str(p.replicas_initial), str(p.replicas_final), str(p.nodes_per_replica), str(p.unplaced))
    console.print(table)
    for level in result.levels:
        console.print(f"  {level.level:<8} N+{level.n_plus} {'required' if level.required else 'reported'}: "
                      f"worst {level.worst_domain or '-'} ({level.worst_replicas_lost} replica(s) lost) -> "
                      + ("[green]pass[/]" if level.passed else "[red]fail[/]"))


def print_plan(plan: Plan, console: Console) -> None:
    print_sizing(plan, console)
    print_facility(plan, console)
    from lpuplan.plan_gameday import summary_lines  # the game-day section (issue 11)

    for line in summary_lines(plan.gameday):
        console.print(line, markup=False)
    print_simulated(plan, console)
    print_checks(plan, console)
