"""The latency CDF plot: one panel per pool, e2el (and TTFT where its SLO is given), the SLO marked.

Draws :func:`lpuplan.latency_cdf.latency_curves` (computed there, not here)
with matplotlib's object API, as :mod:`lpuplan.render_knee` does; PNG
metadata is fixed so the same plan gives the same bytes.
"""

from __future__ import annotations

import io
import math
from typing import Sequence

from dimensioning.keys import E2EL, TTFT, header
from lpuplan.latency_cdf import LatencyCurve

__all__ = ["cdf_png"]

_COLOUR = {E2EL: "#c0392b", TTFT: "#2471a3"}
_LABEL = {E2EL: "e2el", TTFT: "TTFT"}


def cdf_png(curves: Sequence[LatencyCurve]) -> bytes | None:
    """One panel per pool; None when there is no curve to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pools = list(dict.fromkeys(c.pool for c in curves))
    if not pools:
        return None
    cols = min(len(pools), 2)
    rows = math.ceil(len(pools) / cols)
    fig = Figure(figsize=(6.4 * cols, 4.0 * rows), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    for i, pool in enumerate(pools):
        ax = fig.add_subplot(rows, cols, i + 1)
        mine = [c for c in curves if c.pool == pool]
        slos: dict[tuple[str, float], None] = {}
        for c in mine:
            style = "-" if c.state == "normal" else "--"
            ax.plot(c.times_ms, c.cdf, color=_COLOUR[c.metric], lw=2 if c.state == "normal" else 1.3, ls=style,
                    drawstyle="steps-post" if c.method == "simulated" else "default",
                    label=f"{_LABEL[c.metric]} {c.state} (p99 {c.p99_ms:,.0f} ms)")
            if c.slo_ms is not None:
                slos[(c.metric, c.slo_ms)] = None
        for metric, slo in slos:
            ax.axvline(slo, color=_COLOUR[metric], lw=1, ls=":", label=f"{_LABEL[metric]} SLO {slo:,.0f} ms")
        ax.axhline(0.99, color="#888888", lw=0.8, ls="-.", label="p99")
        methods = sorted({c.method for c in mine})
        ax.set_title(f"{pool}: {' + '.join(methods)}", fontsize=10)
        ax.set_xlabel(header("latency"))
        ax.set_ylabel("P(latency <= t)")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Latency CDF per pool (solid: normal; dashed: with the provisioned loss)", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
