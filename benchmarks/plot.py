"""A PNG of a profile's fits with the samples behind them (matplotlib, Agg).

Three panels: prefill time per bucket (samples, server-reported or
TTFT-derived, against ``P / R_prefill``), time per output token (samples
against ``1 / R_decode`` and its interval) and end-to-end service time
against output length per bucket (samples against the fitted line
``P/R_prefill + O/R_decode + L_fixed``). Renderers never recompute a fit:
the lines come from the profile.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

__all__ = ["plot_profile"]


def plot_profile(profile: dict[str, Any], samples_path: str | None = None) -> bytes:
    """PNG bytes of the profile's fits, with its raw samples where the file is readable."""
    import matplotlib

    from dimensioning.service_time import service_seconds  # one home of P/R_prefill + O/R_decode + L_fixed

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.samples import read_samples

    records = []
    if samples_path and Path(samples_path).exists():
        records = [r for r in read_samples(samples_path) if r.status == "ok" and r.measurement is not None]
    fit = profile["fit"]
    rates = {e["bucket"]: e for e in fit["r_prefill"]}
    r_decode = fit["r_decode"]
    l_fixed = fit["l_fixed_s"]["value"]

    figure, (ax_prefill, ax_decode, ax_e2e) = plt.subplots(1, 3, figsize=(15, 4.5), dpi=100)
    buckets = sorted(rates)
    ax_prefill.set_title("prefill time per bucket")
    for i, bucket in enumerate(buckets):
        fitted = bucket / rates[bucket]["value"] * 1e3
        lo, hi = (bucket / rates[bucket]["ci95"][1] * 1e3, bucket / rates[bucket]["ci95"][0] * 1e3)
        ax_prefill.hlines(fitted, i - 0.3, i + 0.3, colors="C3", label="fit" if i == 0 else None)
        ax_prefill.fill_between([i - 0.3, i + 0.3], lo, hi, color="C3", alpha=0.2)
        server_times = [
            r.measurement.server.prompt_s * 1e3
            for r in records
            if r.bucket == bucket and r.measurement.server is not None and r.measurement.server.prompt_s
        ]
        # Without server prompt times, the fitted quantity: TTFT less one decode step and L_fixed.
        client_times = [
            (r.measurement.ttft_s - 1.0 / r_decode["value"] - l_fixed) * 1e3
            for r in records
            if r.bucket == bucket and (r.measurement.server is None or not r.measurement.server.prompt_s)
        ]
        if server_times:
            ax_prefill.plot([i] * len(server_times), server_times, ".", color="C0", alpha=0.5, label="samples (server)" if i == 0 else None)
        if client_times:
            ax_prefill.plot([i] * len(client_times), client_times, ".", color="C2", alpha=0.5, label="samples (TTFT-derived)" if i == 0 else None)
    ax_prefill.set_xticks(range(len(buckets)), [str(b) for b in buckets])
    ax_prefill.set_xlabel("bucket (prompt tokens)")
    ax_prefill.set_ylabel("ms")
    ax_prefill.legend(fontsize=8)

    ax_decode.set_title("time per output token")
    tpots = [r.measurement.tpot_s * 1e3 for r in records if r.measurement.tpot_s is not None]
    if tpots:
        ax_decode.hist(tpots, bins=min(40, max(5, len(tpots) // 3)), color="C0", alpha=0.6, label="samples (inter-token)")
    ax_decode.axvline(1e3 / r_decode["value"], color="C3", label=f"fit 1/R_decode ({r_decode['value']:.1f} tok/s)")
    ax_decode.axvspan(1e3 / r_decode["ci95"][1], 1e3 / r_decode["ci95"][0], color="C3", alpha=0.2)
    ax_decode.set_xlabel("ms per token")
    ax_decode.legend(fontsize=8)

    ax_e2e.set_title("service time vs output length")
    outputs = sorted({r.output_tokens for r in records}) or [1, 256]
    for i, bucket in enumerate(buckets):
        color = f"C{i % 10}"
        xs = [r.output_tokens for r in records if r.bucket == bucket]
        ys = [r.measurement.service_s * 1e3 for r in records if r.bucket == bucket]
        if xs:
            ax_e2e.plot(xs, ys, ".", color=color, alpha=0.4)
        line_x = [0, max(outputs)]
        line_y = [service_seconds(bucket, o, rates[bucket]["value"], r_decode["value"], l_fixed) * 1e3 for o in line_x]
        ax_e2e.plot(line_x, line_y, "-", color=color, label=f"bucket {bucket}")
    ax_e2e.set_xlabel("output tokens")
    ax_e2e.set_ylabel("ms")
    ax_e2e.legend(fontsize=8)

    artifact = profile.get("artifact", {})
    figure.suptitle(f"profile {artifact.get('id', '')}  L_fixed = {l_fixed * 1e3:.2f} ms")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
