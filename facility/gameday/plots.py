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
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dimensioning.keys import MS_PER_S
from facility.gameday.units import latency_name

if TYPE_CHECKING:
    from facility.gameday.predict import DomainPrediction

__all__ = ["bands_png", "comparison_png", "PLOTTED"]

PLOTTED: tuple[tuple[str, str], ...] = (
    ("e2el_p99_s", "p99 e2el (ms)"),
    ("ttft_p99_s", "p99 TTFT (ms)"),
    ("queue_depth", "queue depth"),
    ("shed_rate", "shed share"),
    ("error_rate", "error share"),
    ("goodput_rps", "goodput (req/s)"),
)


def _values(xs: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def _draw(panels: Sequence[Mapping[str, Any]], bounds: Mapping[str, Sequence[float]], interval_s: float, title: str,
          observed: Mapping[str, Any] | None = None) -> bytes:
    """The figure: one column per pool prediction (``PoolPrediction.to_dict()`` form), one row per signal."""
    cols = max(len(panels), 1)
    fig = Figure(figsize=(4.2 * cols, 2.0 * len(PLOTTED)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PLOTTED), cols, squeeze=False, sharex=True)
    for c, p in enumerate(panels):
        pool = p["pool"]
        t = np.array(p["t_start_s"], float) + interval_s / 2
        obs = None if observed is None else observed.get(pool["name"])
        for r, (signal, label) in enumerate(PLOTTED):
            ax = axes[r][c]
            ax.axvspan(*bounds["failover"], color="tab:red", alpha=0.12, lw=0)
            ax.axvspan(*bounds["degraded"], color="0.5", alpha=0.10, lw=0)
            band = p["series"][signal]
            k = MS_PER_S if latency_name(signal) else 1.0  # latencies drawn in ms, like the JSON
            lo, hi, med = k * _values(band["lo"]), k * _values(band["hi"]), k * _values(band["median"])
            ax.fill_between(t, lo, hi, color="tab:blue", alpha=0.25, lw=0, label="predicted band")
            ax.plot(t, med, color="tab:blue", lw=1.0, label="median of seeds")
            if signal == "e2el_p99_s":
                ax.axhline(k * pool["degraded_slo_s"], color="tab:red", ls="--", lw=0.8, label="degraded SLO")
            if obs is not None and signal in obs.series:
                ax.plot(np.asarray(obs.t_start_s, float) + obs.interval_s / 2, k * np.asarray(obs.series[signal], float),
                        color="black", lw=0.9, marker=".", ms=2, label="observed")
            if r == 0:
                ax.set_title(f"{pool['name']}: {pool['replicas']} -> {pool['replicas'] - p['lost']} replicas", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.ticklabel_format(axis="y", useOffset=False)
            if r == len(PLOTTED) - 1:
                ax.set_xlabel("seconds from the failure (t0)", fontsize=8)
    if panels:
        axes[0][0].legend(fontsize=6, loc="upper left")
    else:
        axes[0][0].text(0.5, 0.5, "no replica lost", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def bands_png(prediction: "DomainPrediction") -> bytes:
    """PNG bytes of the predicted bands of one domain's hit pools."""
    margin = prediction.margin_s
    title = (f"{prediction.domain}: {prediction.verdict()}; margin {margin:.3g} s" if math.isfinite(margin)
             else f"{prediction.domain}: {prediction.verdict()}")
    return _draw([p.to_dict() for p in prediction.pools], prediction.settings.phase_bounds(),
                 prediction.settings.interval_s, title)


def comparison_png(document: Mapping[str, Any], entry: Mapping[str, Any], observed: Mapping[str, Any],
                   verdict: str) -> bytes:
    """PNG bytes of the bands with the observed series drawn over them (``lpuplan gameday verify``)."""
    panels = [document["pool_predictions"][k] for k in entry["pools"]]
    return _draw(panels, document["phases"], float(document["settings"]["interval_s"]),
                 f"{entry['domain']}: observed vs predicted: {verdict}", observed)
