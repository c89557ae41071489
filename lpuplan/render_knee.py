"""The knee plot: p99 latency against offered load per pool, operating point and headroom marked.

Drawn with matplotlib's object API (no pyplot: no global figure state, and a
third of the import time). PNG metadata is fixed so the same sweep gives the
same bytes.
"""

from __future__ import annotations

import io
import math

from lpuplan.sweep import FleetSweep

__all__ = ["knee_png"]


def knee_png(sweep: FleetSweep, slo_s: dict[str, float]) -> bytes:
    """One panel per pool: p50/p99 e2el and p99 TTFT (s, log scale) vs offered load (req/s)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pools = list(sweep.normal)
    cols = min(len(pools), 2) or 1
    rows = max(math.ceil(len(pools) / cols), 1)
    fig = Figure(figsize=(6.4 * cols, 4.2 * rows), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    for i, pool in enumerate(pools):
        ax = fig.add_subplot(rows, cols, i + 1)
        pts = [p for p in pool.points if math.isfinite(p.e2el_p99_s)]
        x = [p.offered_rps for p in pts]
        ax.plot(x, [p.e2el_p99_s for p in pts], color="#c0392b", lw=2, label="e2el p99")
        ax.plot(x, [p.e2el_p50_s for p in pts], color="#c0392b", lw=1, ls="--", label="e2el p50")
        ax.plot(x, [p.ttft_p99_s for p in pts], color="#2471a3", lw=1.5, label="TTFT p99")
        slo = slo_s.get(pool.pool)
        if slo is not None:
            ax.axhline(slo, color="#555555", lw=1, ls=":", label=f"e2el SLO {slo:g} s")
        ax.axvline(pool.operating_rps, color="#27ae60", lw=1.5, label=f"operating {pool.operating_rps:.3g} req/s")
        if pool.max_sustainable_rps > 0:
            ax.axvspan(pool.max_sustainable_rps, pool.saturation_rps * 1.2, color="#f5b7b1", alpha=0.35, lw=0,
                       label=f"past max sustainable {pool.max_sustainable_rps:.3g} req/s")
        if 0 < pool.knee_rps:
            ax.axvline(pool.knee_rps, color="#7d3c98", lw=1, ls="-.", label=f"knee {pool.knee_rps:.3g} req/s")
        ax.set_yscale("log")
        ax.set_xlabel("offered load (requests/s)")
        ax.set_ylabel("latency (s)")
        headroom = f"{pool.headroom:+.0%}" if math.isfinite(pool.headroom) else "n/a"
        ax.set_title(f"{pool.pool}: {pool.replicas} replicas x {pool.servers // max(pool.replicas, 1)} slots,"
                     f" headroom {headroom}", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Knee per pool: max sustainable peak {sweep.max_sustainable_lambda_peak:.3g} req/s"
                 f" (planned {sweep.lambda_peak:.3g}; limited by {sweep.limiting})", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
