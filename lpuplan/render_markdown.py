"""Fill the Markdown worksheet templates (``templates/*.md``) from a Plan.

Templates hold ``{{name}}`` placeholders; every placeholder must be filled
and every value provided must be used, so a template and this renderer can
never drift apart silently.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, Mapping

from lpuplan import __version__
from lpuplan.formatting import ms, num, pct, prob
from lpuplan.plan import Plan

__all__ = ["fill_template", "render_inputs_worksheet", "render_capacity_worksheet", "WORKSHEETS"]

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

WORKSHEETS = {
    "dimensioning_inputs.md": "dimensioning_inputs_template.md",
    "capacity_model.md": "capacity_model_template.md",
}


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Replace every ``{{name}}``; raise KeyError on a missing or unused value."""
    names = set(_PLACEHOLDER.findall(template))
    missing = names - values.keys()
    unused = values.keys() - names
    if missing or unused:
        raise KeyError(f"template placeholders missing values {sorted(missing)}, values without placeholder {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _template(name: str) -> str:
    return resources.files("templates").joinpath(name).read_text(encoding="utf-8")


def _cell(text: Any) -> str:
    """Table-safe text: user strings cannot break the Markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _figure_row(symbol: str, fig: dict[str, Any]) -> str:
    return f"| `{symbol}` | {fig['value']:g} | {fig['unit']} | {fig['source']} | {_cell(fig['note'])} |"


def _distribution(dist: Any) -> str:
    if dist is None:
        return "from the trace"
    if dist.histogram is not None:
        return "histogram " + ", ".join(f"<= {e:g}: {s:.3f}" for e, s in dist.histogram)
    if dist.distribution == "constant":
        return f"constant {dist.value:g} tokens"
    return f"{dist.distribution}, mean {dist.mean:g}, std {dist.std:g} tokens"


def render_inputs_worksheet(plan: Plan, source: str) -> str:
    inputs = plan.inputs
    project = plan.project
    objective_rows = []
    for section in ("slo", "headroom", "redundancy", "admission"):
        objective_rows += [_figure_row(k, f) for k, f in inputs[section].items()]
    bucket_rows = []
    provenance = []
    for bucket, entry in zip(project.buckets, inputs["buckets"]):
        f = entry["figures"]
        chips = f"{f['chips_per_replica']['value']:g}" if "chips_per_replica" in f else "-"
        bucket_rows.append(
            f"| {_cell(bucket.label)} | {bucket.max_prompt_tokens} | {bucket.max_output_tokens} | {f['r_prefill']['value']:,.0f} |"
            f" {f['r_decode']['value']:,.1f} | {f['l_fixed_ms']['value']:g} | {bucket.slots} | {chips} | {_cell(entry['profile'] or '-')} |"
        )
        labels = ", ".join(f"{k} {v['source']}" for k, v in f.items())
        provenance.append(f"- {_cell(bucket.label)}: {labels}")
    assumptions = plan.assumptions
    values = {
        "project": _cell(project.name),
        "version": __version__,
        "source": _cell(source),
        "workload_rows": "\n".join(_figure_row(k, f) for k, f in inputs["workload"].items()),
        "prompt_distribution": _distribution(project.workload.prompt_tokens),
        "output_distribution": _distribution(project.workload.output_tokens),
        "objective_rows": "\n".join(objective_rows),
        "bucket_rows": "\n".join(bucket_rows),
        "bucket_provenance": "\n".join(provenance),
        "assumptions": "\n".join(f"- [ ] {_cell(a)}" for a in assumptions) if assumptions else "None: every figure is given, measured or sourced.",
    }
    return fill_template(_template(WORKSHEETS["dimensioning_inputs.md"]), values)


def render_capacity_worksheet(plan: Plan) -> str:
    split = plan.traffic
    traffic_rows, service_rows, replica_rows, constraint_rows, latency_rows, admission_rows = [], [], [], [], [], []
    methods = set()
    for b in plan.dedicated:
        t, s = b.traffic, b.service
        traffic_rows.append(f"| {_cell(b.name)} | {pct(t.share, 2)} | {num(t.arrival_rate, 2)} | {num(t.prompt_mean, 0)} | {num(t.output_mean, 0)} | {pct(t.output_capped_share, 2)} |")
        service_rows.append(f"| {_cell(b.name)} | {ms(s.prefill_s, 1)} | {ms(s.decode_s, 1)} | {ms(s.fixed_s, 1)} | {ms(s.total_s, 1)} | {ms(s.mean_s, 1)} | {num(s.conservatism, 2)}x | {num(b.mu, 3)} |")
        chips = b.replicas * b.chips_per_replica if b.chips_per_replica else "-"
        replica_rows.append(f"| {_cell(b.name)} | {b.replicas} | {', '.join(b.binding)} | {pct(b.normal.utilization)} | {pct(b.degraded.utilization)} | {pct(b.utilization_expected)} | {chips} |")
        constraint_rows.append(f"- {_cell(b.name)}: " + "; ".join(f"{c.name} -> {num(c.replicas_needed) if c.replicas_needed is not None else 'unattainable'}" for c in b.constraints))
        for state, label, slo in ((b.normal, "normal", b.slo_s), (b.degraded, f"degraded (-{b.replicas_lost})", b.degraded_slo_s)):
            methods.add(state.method)
            latency_rows.append(
                f"| {_cell(b.name)} | {label} | {prob(state.prob_wait)} | {ms(state.wait_mean_s, 1)} | {ms(state.latency_p50_s)} | {ms(state.latency_p95_s)} |"
                f" {ms(state.latency_p99_s)} | {ms(state.latency_p999_s)} | {ms(slo)} | {state.method} |"
            )
        for adm, label in ((b.admission_normal, "normal"), (b.admission_degraded, "degraded")):
            if adm is None:
                admission_rows.append(f"| {_cell(b.name)} | {label} | {b.slots} | - | - | - | - | {prob(plan.targets.shed_target)} | S exceeds the SLO |")
                continue
            admission_rows.append(
                f"| {_cell(b.name)} | {label} | {adm.c_max_per_replica} | {adm.queue_cap_per_replica} | {adm.queue_cap} | {ms(adm.max_latency_admitted_s)} |"
                f" {prob(adm.shed_probability)} | {prob(plan.targets.shed_target)} | {adm.method} |"
            )
    sh = plan.shared
    shared_summary = (
        f"N = **{sh.replicas}** replicas x {sh.slots} slots ({num(plan.shared_chips) if plan.shared_chips is not None else '-'} chips), "
        f"binding: {', '.join(sh.binding) or '-'}; E[S] = {ms(sh.service_mean_s, 1)} ms, SCV of S = {num(sh.service_scv, 3)}; "
        f"rho normal {pct(sh.utilization_normal)}, degraded {pct(sh.utilization_degraded)}; "
        f"method: {sh.method} ({sh.method_note}). Dedicated pools need {plan.dedicated_replicas} replicas."
    )
    shared_rows = [
        f"| {_cell(v.name)} | {pct(v.share_of_served, 2)} | {ms(v.service_s, 1)} | {ms(v.latency_p99_normal_s)} | {ms(v.latency_p99_degraded_s)} | {ms(v.slo_s)} |"
        f" {ms(v.work_threshold_s, 1)} |"
        for v in sh.buckets
    ]
    check_rows = [
        f"| {_cell(c.name)} | {_cell(c.subject)} | {'PASS' if c.passed else '**FAIL**'} | {_check_value(c.value, c.unit)} | {_check_value(c.limit, c.unit)} | {_cell(c.detail)} |"
        for c in plan.checks
    ]
    values = {
        "project": _cell(plan.project.name),
        "version": __version__,
        "verdict": "every check passes" if plan.passed else "FAILS " + ", ".join(sorted({f"{c.name} ({c.subject})" for c in plan.checks if not c.passed})),
        "queue_method": "exact" if methods <= {"exact"} else "approximation where labelled (bursty arrivals)",
        "lambda_peak": num(plan.traffic.lambda_peak, 2),
        "traffic_rows": "\n".join(traffic_rows),
        "unserved": f"{pct(split.share_unserved, 3)} of requests ({num(split.lambda_unserved, 3)} req/s)",
        "service_rows": "\n".join(service_rows),
        "replica_rows": "\n".join(replica_rows),
        "constraint_rows": "\n".join(constraint_rows),
        "total_replicas": str(plan.dedicated_replicas),
        "total_chips": num(plan.dedicated_chips) if plan.dedicated_chips is not None else "- (chips_per_replica not given)",
        "latency_rows": "\n".join(latency_rows),
        "admission_rows": "\n".join(admission_rows),
        "shared_summary": shared_summary,
        "shared_rows": "\n".join(shared_rows),
        "check_rows": "\n".join(check_rows),
        "simulated": _simulated_section(plan),
        "facility": _facility_section(plan),
        "assumption_note": (f"{len(plan.assumptions)} figures are assumed, not measured (listed in dimensioning_inputs.md);"
                            " every result below inherits that uncertainty.") if plan.assumptions else
                           "every figure is given, measured or sourced.",
    }
    return fill_template(_template(WORKSHEETS["capacity_model.md"]), values)


def _check_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{ms(value)} ms"
    if unit in ("probability", "share"):
        return prob(value)
    return num(value)


def _interval_ms(value: float, interval: list[float]) -> str:
    return f"{ms(value)} [{ms(interval[0])}, {ms(interval[1])}]"


def _simulated_section(plan: Plan) -> str:
    sim = plan.simulated
    if sim is None:
        return "Not run (`--no-simulate`)."
    parts = []
    for title, figures in (
        ("Dedicated pools, expected latency with the real output lengths (the sizing uses the bound)", sim.expected_with_real_outputs),
        ("Dedicated pools at the bound, bursty arrivals (referee of the GI/D/c approximation)", sim.bursty_at_bound),
        ("Shared pool alternative (referee of the M/G/c approximation)", sim.shared_pool),
    ):
        if figures is None:
            continue
        rows = [f"| {_cell(name)} | {_interval_ms(r['latency_mean_s'], r['latency_mean_s_ci95']) if 'latency_mean_s' in r else '-'} |"
                f" {_interval_ms(r['latency_p99_s'], r['latency_p99_s_ci95'])} | {ms(r.get('slo_s'))} |"
                f" {'PASS' if r.get('within_slo') else 'FAIL'} |" for name, r in figures["buckets"].items()]
        if "replicas" in figures:
            title += (f": {figures['replicas']} replicas" + ("" if figures["replicas"] == figures["replicas_from_approximation"]
                      else f" (the M/G/c approximation said {figures['replicas_from_approximation']}; the simulator needed more)"))
        parts.append(
            f"**{title}.** {_cell(figures['note'])}. Pool-wide e2el p99 {_interval_ms(figures['latency_p99_s'], figures['latency_p99_s_ci95'])} ms,"
            f" p99 wait {_interval_ms(figures['wait_p99_s'], figures['wait_p99_s_ci95'])} ms.\n\n"
            "| bucket | e2el mean (ms) [95% CI] | e2el p99 (ms) [95% CI] | e2el SLO (ms) | verdict |\n|---|---|---|---|---|\n" + "\n".join(rows)
        )
    parts += [f"- skipped: {_cell(reason)}" for reason in sim.skipped]
    return "\n\n".join(parts) if parts else "Nothing needed simulating."


def _facility_section(plan: Plan) -> str:
    result = plan.facility
    if result is None:
        return "No `[facility]` table: replicas are not placed; `replicas_lost_worst` stands in for the failure-domain model."
    lay = result.layout
    rows = [
        f"| {_cell(p.name)} | {p.replicas_initial} | {p.replicas_final} | {p.nodes_per_replica} | {p.unplaced} |"
        for p in result.pools
    ]
    levels = [
        f"| {lv.level} | N+{lv.n_plus} | {'required' if lv.required else 'reported'} | {lv.domains} | {_cell(lv.worst_domain or '-')} |"
        f" {lv.worst_replicas_lost} | {'PASS' if lv.passed else '**FAIL**'} |"
        for lv in result.levels
    ]
    failures = "\n".join(f"- {_cell(f)}" for f in result.failures) or "- none"
    return (
        f"Site `{_cell(lay.site)}`: {lay.rows} rows x {lay.pods_per_row} pods x {lay.racks_per_pod} racks, {lay.nodes_per_rack} nodes per rack"
        f" ({lay.spare_nodes_per_rack} spare). Required: N+{result.n_plus} at {result.required_level} level"
        f" ({result.required_level_source}). Verdict: **{'PASS' if result.passed else 'FAIL'}**."
        " Rack elevations, budgets and NetBox import files are in `facility/`.\n\n"
        "| pool | replicas from sizing | replicas after N+k | nodes per replica | unplaced |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n| level | N+k | | domains | worst domain | replicas lost | verdict |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(levels)
        + "\n\nFailures:\n" + failures
    )
