"""Which monitoring query measures each predicted signal: a mapping the user can edit.

The alert rules, the chaos experiment's probes and ``lpuplan gameday verify
--prometheus`` all take their PromQL from one :class:`MetricMap`. The
defaults read the metrics of ``lpuplan emulate`` (``lpu_emulator_*``, label
``pool``); a fleet with other names writes its own TOML file and passes it
with ``--metrics FILE``::

    [signals]
    e2el_p99_s = 'histogram_quantile(0.99, sum by (le) (rate(my_latency_seconds_bucket{model="$pool"}[$window])))'
    feed_load_kw = 'max(pdu_output_watts{feed=~"$feeds"}) / 1000'

Placeholders (:class:`string.Template`): ``$pool`` (the pool's name),
``$window`` (the evaluation window, e.g. ``1m``), ``$slo`` (the SLO in force,
seconds, as the histogram's ``le`` label writes it) and ``$feeds`` (a regex of
the surviving feeds' names). Latencies are in seconds, rates per second.
``feed_load_kw`` has no default (sites name PDU metrics differently): without
it the feed abort condition has no alert rule and the runbook says so.
A ``[histograms]`` table names the histogram behind ``e2el_p99_s`` and
``ttft_p99_s`` (verify reads its bucket edges) and ``pool_label`` the label
that names the pool.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Mapping

from dimensioning.errors import InvalidInput

__all__ = ["MetricMap", "DEFAULT_SIGNALS", "load_metric_map", "duration_text"]

_REQUESTS = 'sum(rate(lpu_emulator_requests_total{pool="$pool"}[$window]))'
DEFAULT_SIGNALS: dict[str, str] = {
    "e2el_p99_s": 'histogram_quantile(0.99, sum by (le) (rate(lpu_emulator_request_latency_seconds_bucket{pool="$pool"}[$window])))',
    "ttft_p99_s": 'histogram_quantile(0.99, sum by (le) (rate(lpu_emulator_ttft_seconds_bucket{pool="$pool"}[$window])))',
    "queue_depth": 'avg_over_time(lpu_emulator_queue_depth{pool="$pool"}[$window])',
    "shed_rate": f'sum(rate(lpu_emulator_shed_total{{pool="$pool"}}[$window])) / clamp_min({_REQUESTS}, 1e-9)',
    "error_rate": f'sum(rate(lpu_emulator_errors_total{{pool="$pool"}}[$window])) / clamp_min({_REQUESTS}, 1e-9)',
    "goodput_rps": 'sum(rate(lpu_emulator_request_latency_seconds_bucket{pool="$pool",le="$slo"}[$window]))',
    "arrival_rps": _REQUESTS,
    "replicas_up": 'min(lpu_emulator_replicas_up{pool="$pool"})',
}
"""Default PromQL per signal: ``lpuplan emulate``'s metric names."""

_KNOWN = set(DEFAULT_SIGNALS) | {"feed_load_kw"}
DEFAULT_HISTOGRAMS: dict[str, str] = {
    "e2el_p99_s": "lpu_emulator_request_latency_seconds",
    "ttft_p99_s": "lpu_emulator_ttft_seconds",
}
"""The histogram behind each quantile signal (verify reads its bucket edges, label ``le``)."""


def duration_text(seconds: float) -> str:
    """A Prometheus duration (``90s``, ``1m``, ``1500ms``) for a time in seconds."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    if ms % 60000 == 0:
        return f"{ms // 60000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


@dataclass(frozen=True)
class MetricMap:
    """PromQL per signal (module notes); ``source`` says where the mapping came from."""

    signals: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SIGNALS))
    source: str = "default: lpuplan emulate's metrics"
    histograms: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_HISTOGRAMS))
    pool_label: str = "pool"

    def has(self, signal: str) -> bool:
        return signal in self.signals

    def query(self, signal: str, *, pool: str = "", window_s: float = 60.0, slo_s: float | None = None,
              feeds: str = ".*") -> str:
        """The PromQL for ``signal`` with its placeholders filled."""
        if signal not in self.signals:
            raise InvalidInput("metrics.signals", signal, f"no query for {signal}: add it to the metric mapping (--metrics FILE)")
        slo = "" if slo_s is None else _le_text(slo_s)
        return Template(self.signals[signal]).safe_substitute(pool=pool, window=duration_text(window_s), slo=slo, feeds=feeds)

    def to_dict(self) -> dict[str, Any]:
        return {"signals": dict(self.signals), "histograms": dict(self.histograms), "pool_label": self.pool_label,
                "source": self.source}


def _le_text(value: float) -> str:
    """How prometheus-client writes a bucket edge in ``le`` (Go's float formatting: ``6.0``, ``0.25``)."""
    text = repr(float(value))
    return text


def load_metric_map(path: str | Path | None) -> MetricMap:
    """The defaults, overridden by a TOML file's ``[signals]`` table (unknown names are an error)."""
    if path is None:
        return MetricMap()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput("--metrics", str(path), "no such file: write a TOML file with a [signals] table") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("--metrics", str(path), f"not valid TOML: {exc}") from None
    table = data.get("signals")
    if not isinstance(table, dict):
        raise InvalidInput("--metrics", str(path), "needs a [signals] table mapping signal names to PromQL")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise InvalidInput(f"{path}: signals", unknown, f"unknown signal names; use some of {sorted(_KNOWN)}")
    for name, query in table.items():
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput(f"{path}: signals.{name}", query, "give a PromQL expression as a string")
    merged = dict(DEFAULT_SIGNALS)
    merged.update(table)
    histograms = dict(DEFAULT_HISTOGRAMS)
    extra = data.get("histograms", {})
    if not isinstance(extra, dict) or set(extra) - set(DEFAULT_HISTOGRAMS):
        raise InvalidInput(f"{path}: histograms", extra, f"map some of {sorted(DEFAULT_HISTOGRAMS)} to histogram names")
    histograms.update(extra)
    label = data.get("pool_label", "pool")
    if not isinstance(label, str) or not label:
        raise InvalidInput(f"{path}: pool_label", label, "give the label that names the pool, e.g. pool")
    return MetricMap(merged, str(path), histograms, label)
