"""The PNG of ``lpuplan simulate --out``: latency and queue over time, failure window shaded."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dimensioning.simulate.scenario import Failure
    from dimensioning.simulate.timeseries import TimeSeries

__all__ = ["plot_png"]


def plot_png(series: TimeSeries, failure: Failure | None, title: str) -> bytes:
    """PNG: latency p50/p99 per interval (top) and queue depth and busy slots (bottom), failure window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    mid = series.t_start_s + series.interval_s / 2
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(mid, series.latency_p99_s, label="p99 latency", color="tab:red")
    top.plot(mid, series.latency_p50_s, label="p50 latency", color="tab:blue")
    top.set_ylabel("latency (s)")
    top.legend(loc="upper right")
    top.set_title(title)
    bottom.plot(mid, series.queue_depth, label="queue depth", color="tab:purple")
    bottom.plot(mid, series.busy_slots, label="busy slots", color="tab:green")
    bottom.plot(mid, series.sheds + series.losses, label="shed + lost (per interval)", color="tab:orange")
    bottom.set_ylabel("requests (interval mean)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right")
    if failure is not None:
        end = failure.recover_at_s if failure.recover_at_s is not None else mid[-1] + series.interval_s
        for axis in (top, bottom):
            axis.axvspan(failure.at_s, end, color="grey", alpha=0.15, label="replicas down")
            axis.axvspan(failure.at_s, failure.at_s + failure.failover_time_s, color="red", alpha=0.12)
    figure.tight_layout()
    buffer = io.BytesIO()
    # No software/version metadata, so the same inputs give the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
