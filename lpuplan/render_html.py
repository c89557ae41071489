"""One self-contained HTML report of a plan: verdict first, tables, plots inline.

The page reads library results only (the plan, its sweep, its sensitivity);
nothing is recomputed here. Self-contained: inline CSS, plots as base64 PNG
``data:`` URIs, no scripts, no external URLs, so it opens from a mail
attachment or an air-gapped share. Every user string goes through
:func:`html.escape`. Same inputs give the same bytes (the PNGs carry fixed
metadata; no dates are written).
"""

from __future__ import annotations

import base64
import html
from typing import Any, Iterable, Sequence

from dimensioning.keys import MS_PER_S

from lpuplan.latency_cdf import LatencyCurve
from lpuplan.plan import Plan
from lpuplan.sensitivity import Sensitivity
from lpuplan.sweep import FleetSweep

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.8em}
p.verdict{font-size:1.15em;font-weight:600;padding:.6em .8em;border-radius:4px}
p.pass{background:#e8f6ec;border-left:6px solid #27ae60}p.fail{background:#fdecea;border-left:6px solid #c0392b}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.l,th.l{text-align:left;white-space:normal}
td.ok{color:#1e8449;font-weight:600}td.bad{color:#c0392b;font-weight:600}
.wide{overflow-x:auto}img{max-width:100%;height:auto;border:1px solid #ddd}
.note{color:#555;font-size:.9em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1, cls: str = "", text_last: bool = False) -> str:
    """A table; the first ``left`` columns (and the last with ``text_last``) are text: left-aligned, wrapped."""
    last = len(header) - 1 if text_last else -1
    def cell(tag: str, i: int, value: Any) -> str:
        klass = ["l"] if i < left or i == last else []
        if value in ("PASS", "FAIL"):
            klass.append("ok" if value == "PASS" else "bad")
        attr = f' class="{" ".join(klass)}"' if klass else ""
        return f"<{tag}{attr}>{_e(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "\n".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="wide"><table{f" class={cls!r}" if cls else ""}><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>'


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _g(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _provenance_rows(inputs: dict[str, Any]) -> list[list[str]]:
    rows = []
    for section, figures in inputs.items():
        if section == "buckets":
            for bucket in figures:
                for key, fig in bucket["figures"].items():
                    rows.append([f"bucket {bucket['name']}", key, _g(fig["value"]), fig["unit"], fig["source"], fig.get("note") or ""])
        else:
            for key, fig in figures.items():
                rows.append([section, key, _g(fig["value"]), fig["unit"], fig["source"], fig.get("note") or ""])
    return rows


def _check_figures(check: Any) -> list[str]:
    """value, limit, unit of a check; a latency (seconds inside) in ms as every table shows it."""
    scale, unit = (MS_PER_S, "ms") if check.unit == "s" else (1.0, check.unit)
    return ["-" if check.value is None else f"{check.value * scale:.4g}",
            "-" if check.limit is None else f"{check.limit * scale:.4g}", unit]


def _pass(flag: bool) -> str:
    return "PASS" if flag else "FAIL"


def render_html(plan: Plan, sweep: FleetSweep | None, sensitivity: Sensitivity | None, *,
                knee_png: bytes | None = None, rack_png: bytes | None = None,
                curves: Sequence[LatencyCurve] = (), cdf_png: bytes | None = None) -> str:
    """The report page as a string. ``knee_png``/``rack_png``/``cdf_png``: the already rendered plots (omitted
    when None); ``curves``: the latency CDFs (:func:`lpuplan.latency_cdf.latency_curves`) ``cdf_png`` draws."""
    from lpuplan.render_terminal import sizing_rows
    from lpuplan.verdict import plan_verdict

    verdict = plan_verdict(plan)
    name = plan.project.name
    parts: list[str] = []
    parts.append(f'<p class="verdict {"pass" if verdict.passed else "fail"}" id="verdict">{_e(verdict.headline())}</p>')
    parts.append(f"<h1>lpuplan report: {_e(name)}</h1>")

    header, rows = sizing_rows(plan)
    parts.append("<h2 id=\"sizing\">Sizing: dedicated pool per bucket</h2>")
    parts.append(_table(header, rows, left=1, cls="sizing"))
    shared = plan.shared
    parts.append(f'<p>Shared pool alternative: {_e(shared.replicas)} replicas'
                 + (f" ({_e(plan.shared_chips)} chips)" if plan.shared_chips is not None else "")
                 + f"; dedicated pools: {_e(plan.dedicated_replicas)} replicas"
                 + (f" ({_e(plan.dedicated_chips)} chips)" if plan.dedicated_chips is not None else "") + ".</p>")
    parts.append('<h2 id="checks">Checks</h2>')
    parts.append(_table(["check", "subject", "result", "value", "limit", "unit", "kind", "detail"],
                        [[c.name, c.subject, _pass(c.passed), *_check_figures(c), c.kind or "-", c.detail]
                         for c in plan.checks],
                        left=3, text_last=True))

    parts.append('<h2 id="knee">Knee of every pool</h2>')
    if sweep is not None:
        parts.append(f"<p>Max sustainable peak {sweep.max_sustainable_lambda_peak:.4g} req/s against a planned "
                     f"{sweep.lambda_peak:.4g} req/s (limited by {_e(sweep.limiting)}): {_pass(sweep.passed)}.</p>")
        parts.append(_table(["pool", "replicas", "operating req/s", "knee req/s", "max sustainable req/s", "saturation req/s",
                             "headroom", "binding", "method"],
                            [[p.pool, p.replicas, f"{p.operating_rps:.4g}", f"{p.knee_rps:.4g}", f"{p.max_sustainable_rps:.4g}",
                              f"{p.saturation_rps:.4g}", f"{p.headroom:+.1%}", p.binding, p.method] for p in sweep.normal],
                            left=1))
        for note in sweep.notes:
            parts.append(f'<p class="note">{_e(note)}</p>')
    if knee_png is not None:
        parts.append(_img(knee_png, "p99 latency against offered load per pool, with the operating point and the SLO"))

    if curves:
        parts.append('<h2 id="cdf">Latency CDF of every pool</h2>')
        parts.append("<p>P(latency &lt;= t) of each dedicated pool: e2el (queueing delay + S), and TTFT where a TTFT SLO"
                     " is given; exact (M/D/c waiting time) where the model is exact, simulated otherwise.</p>")
        parts.append(_table(["pool", "latency", "state", "method", "p99 (ms)", "SLO (ms)", "result", "note"],
                            [[c.pool, "e2el" if c.metric == "e2el" else "TTFT", c.state, c.method, f"{c.p99_ms:,.1f}",
                              "-" if c.slo_ms is None else f"{c.slo_ms:,.0f}",
                              "-" if c.slo_ms is None else _pass(c.p99_ms <= c.slo_ms * (1 + 1e-12)), c.note]
                             for c in curves], left=3, text_last=True))
        if cdf_png is not None:
            parts.append(_img(cdf_png, "latency CDF per pool with the SLO marked"))

    if plan.facility is not None:
        parts.append('<h2 id="facility">Rack plan</h2>')
        if rack_png is not None:
            parts.append(_img(rack_png, "rack plan"))
        parts.append('<h2 id="nplusk">N+k per failure-domain level</h2>')
        parts.append(_table(["level", "N+k", "", "domains", "worst domain", "worst replicas lost", "result"],
                            [[v.level, f"N+{v.n_plus}", "required" if v.required else "reported", v.domains, v.worst_domain or "-",
                              v.worst_replicas_lost, _pass(v.passed)] for v in plan.facility.levels], left=1))

    parts.append('<h2 id="provenance">Provenance of every input</h2>')
    parts.append(_table(["where", "input", "value", "unit", "source", "note"], _provenance_rows(plan.inputs), left=2, text_last=True))
    if plan.assumptions:
        parts.append("<h3>Assumptions</h3><ul>" + "".join(f"<li>{_e(a)}</li>" for a in plan.assumptions) + "</ul>")

    if sensitivity is not None:
        parts.append('<h2 id="sensitivity">Which assumptions move N the most</h2>')
        parts.append(f"<p>Each assumed input moved by ±{sensitivity.step:.0%} one at a time, re-sized exactly (no facility "
                     f"feedback); change in total dedicated replicas from {sensitivity.base_replicas}, largest first.</p>")
        parts.append(_table(["input", "base", "moved to", "unit", "replicas", "change", "note"],
                            [[m.figure, _g(m.base_value), _g(m.value), m.unit,
                              "-" if m.replicas is None else m.replicas,
                              "-" if m.delta is None else f"{m.delta:+d}",
                              m.note or (f"cannot size: {', '.join(m.infeasible)}" if m.infeasible else "")]
                             for m in sensitivity.ranked()], left=1, text_last=True))

    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>lpuplan report: {_e(name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
