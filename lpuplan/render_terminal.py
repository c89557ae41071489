"""Rich tables for people: the sizing summary and the checks of a Plan."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from lpuplan.formatting import ms, num, pct, prob
from lpuplan.plan import Plan

__all__ = ["print_sizing", "print_checks", "print_plan"]


def print_sizing(plan: Plan, console: Console) -> None:
    table = Table(title=f"Dedicated pools - {plan.project.name}", title_justify="left")
    for column, justify in (
        ("bucket", "left"), ("share", "right"), ("lambda req/s", "right"), ("S ms", "right"), ("S mean ms", "right"),
        ("N", "right"), ("binding", "left"), ("rho", "right"), ("rho deg", "right"), ("p50 ms", "right"),
        ("p95 ms", "right"), ("p99 ms", "right"), ("p99.9 ms", "right"), ("p99 deg ms", "right"), ("SLO ms", "right"),
        ("Queue_cap", "right"), ("shed", "right"), ("shed deg", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for b in plan.dedicated:
        adm, adm_d = b.admission_normal, b.admission_degraded
        table.add_row(
            b.name, pct(b.traffic.share, 2), num(b.traffic.arrival_rate, 2), ms(b.service.total_s), ms(b.service.mean_s),
            str(b.replicas), ", ".join(b.binding), pct(b.normal.utilization), pct(b.degraded.utilization),
            ms(b.normal.latency_p50_s), ms(b.normal.latency_p95_s), ms(b.normal.latency_p99_s), ms(b.normal.latency_p999_s),
            ms(b.degraded.latency_p99_s), ms(b.slo_s),
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
    methods = {b.normal.method for b in plan.dedicated}
    note = "M/D/c exact, service at the bucket bound (output at its cap)" if methods <= {"exact"} else \
        "approximation: " + "; ".join(sorted({b.normal.method_note for b in plan.dedicated if b.normal.method != 'exact'}))
    console.print(f"latency method: {note}")
    if plan.assumptions:
        console.print(f"[yellow]{len(plan.assumptions)} figures are assumed[/] (see dimensioning_inputs.md); validate them with `lpuplan bench`.")


def print_checks(plan: Plan, console: Console) -> None:
    table = Table(title="Checks", title_justify="left")
    for column in ("check", "subject", "result", "detail"):
        table.add_column(column)
    for c in plan.checks:
        table.add_row(c.name, c.subject, "[green]PASS[/]" if c.passed else "[bold red]FAIL[/]", c.detail)
    console.print(table)
    console.print("[green]every check passes[/]" if plan.passed else "[bold red]the plan fails a check[/] (exit 3)")


def print_plan(plan: Plan, console: Console) -> None:
    print_sizing(plan, console)
    print_checks(plan, console)
