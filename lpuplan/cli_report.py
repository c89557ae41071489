"""``lpuplan report``: one self-contained HTML report of a plan.

Parses, calls the library (plan, sweep, sensitivity, plots) and writes what
:func:`lpuplan.render_html.render_html` returns; heavy imports load inside
the command so ``lpuplan --help`` stays fast.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stderr, stdout
from lpuplan.output import check_output_file, write_atomic

__all__ = ["register"]


def _status(message: str) -> Any:
    return stderr.status(message, spinner="dots") if stderr.is_terminal else nullcontext()


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command()
    @guarded
    def report(
        file: Annotated[Optional[Path], typer.Argument(help="Project file (TOML); the embedded example when omitted.")] = None,
        out: Annotated[Path, typer.Option("--out", help="HTML file to write (self-contained: plots inline, no scripts).")] = Path("report.html"),
    ) -> None:
        """Write one self-contained HTML report: verdict, sizing, knees, rack plan, N+k, provenance, sensitivity.

        Example: lpuplan report lpuplan.toml --out report.html
        """
        check_output_file("--out", out)  # before any work
        from lpuplan.cli_dimensioning import _load
        from lpuplan.plan import build_plan
        from lpuplan.render_html import render_html
        from lpuplan.render_knee import knee_png
        from lpuplan.sensitivity import sensitivity
        from lpuplan.sweep import sweep_plan
        from lpuplan.verdict import plan_verdict

        project, _ = _load(file)
        with _status("planning"):
            plan = build_plan(project, place=project.facility is not None)
        with _status("sweeping"):
            sweep = sweep_plan(plan)
            knee = knee_png(sweep, {b.name: b.slo_s for b in plan.dedicated}) if sweep.normal else None
        with _status("latency distributions"):
            from lpuplan.latency_cdf import latency_curves
            from lpuplan.render_cdf import cdf_png

            curves = latency_curves(plan)
            cdf = cdf_png(curves)
        rack = None
        if plan.facility is not None:
            from facility.export_png import rack_plan_png

            rack = rack_plan_png(plan.facility)
        with _status("sensitivity of N to the assumed inputs"):
            sens = sensitivity(plan)
        write_atomic(out, render_html(plan, sweep, sens, knee_png=knee, rack_png=rack, curves=curves, cdf_png=cdf),
                     option="--out")
        verdict = plan_verdict(plan)
        stdout.print(verdict.headline(), markup=False, highlight=False, soft_wrap=True)
        stdout.print(f"wrote {out}", markup=False, highlight=False)
        if not verdict.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)
