"""Band plots (PNG): the predicted signals of a domain's hit pools, and observed against predicted.

matplotlib's object API (``Figure`` + the Agg canvas), no pyplot state. One
column per hit pool, one row per signal; the band is shaded, the median of
the seeds drawn, the SLO in force dashed, the failover window shaded red and
the degraded phase grey. Deterministic bytes: fixed size and dpi, no
software or date metadata.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from facility.gameday.predict import DomainPrediction

__all__ = ["bands_png", "PLOTTED"]

PLOTTED: tuple[tuple[str, str], ...] = (
    ("e2el_p99_s", "p99 e2el (s)"),
    ("ttft_p99_s", "p99 TTFT (s)"),
    ("queue_depth", "queue depth"),
    ("shed_rate", "shed share"),
    ("error_rate", "error share"),
    ("goodput_rps", "goodput (req/s)"),
)


def _values(xs: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def bands_png(prediction: "DomainPrediction", observed: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
              observed_t: Sequence[float] | None = None) -> bytes:
    """PNG bytes of the bands (and, when given, ``observed[pool][signal]`` at times ``observed_t`` from t0)."""
    pools = prediction.pools
    cols = max(len(pools), 1)
    fig = Figure(figsize=(4.2 * cols, 2.0 * len(PLOTTED)), dpi=100)
    FigureCanvasAgg(fig)
    bounds = prediction.settings.phase_bounds()
    axes = fig.subplots(len(PLOTTED), cols, squeeze=False, sharex=True)
    for c, p in enumerate(pools):
        t = np.array(p.t_start_s) + prediction.settings.interval_s / 2
        for r, (signal, label) in enumerate(PLOTTED):
            ax = axes[r][c]
            ax.axvspan(*bounds["failover"], color="tab:red", alpha=0.12, lw=0)
            ax.axvspan(*bounds["degraded"], color="0.5", alpha=0.10, lw=0)
            band = p.series[signal]
            lo, hi, med = _values(band["lo"]), _values(band["hi"]), _values(band["median"])
            ax.fill_between(t, lo, hi, color="tab:blue", alpha=0.25, lw=0, label="predicted band")
            ax.plot(t, med, color="tab:blue", lw=1.0, label="median of seeds")
            if signal == "e2el_p99_s":
                ax.axhline(p.pool.degraded_slo_s, color="tab:red", ls="--", lw=0.8, label="degraded SLO")
            if observed is not None and observed_t is not None and p.pool.name in observed:
                values = observed[p.pool.name].get(signal)
                if values is not None:
                    ax.plot(np.asarray(observed_t, float), np.asarray(values, float), color="black", lw=0.9,
                            marker=".", ms=2, label="observed")
            if r == 0:
                ax.set_title(f"{p.pool.name}: {p.pool.replicas} -> {p.pool.replicas - p.lost} replicas", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.ticklabel_format(axis="y", useOffset=False)
            if r == len(PLOTTED) - 1:
                ax.set_xlabel("seconds from the failure (t0)", fontsize=8)
    if pools:
        axes[0][0].legend(fontsize=6, loc="upper left")
    else:
        axes[0][0].text(0.5, 0.5, "no replica lost", ha="center", va="center")
    margin = prediction.margin_s
    fig.suptitle(f"{prediction.domain}: {prediction.verdict()}; margin "
                 f"{margin:.3g} s" if math.isfinite(margin) else f"{prediction.domain}: {prediction.verdict()}", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
