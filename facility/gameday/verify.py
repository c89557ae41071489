"""Verify a game day: what monitoring recorded against the prediction, phase by phase.

:func:`verify_domain` takes the prediction document (``prediction.json``,
:mod:`facility.gameday.document`) and one :class:`Observed` per hit pool,
and answers, per pool, phase and figure, whether the observation stayed in
its band (the simulated band widened by one observed run's own noise,
:func:`facility.gameday.bands.observation_band`), and whether an abort
condition was crossed (its signal past the threshold in every interval for
at least ``for_s``, between t0 and the restore). It passes when every
observed figure is in its band and no abort condition was crossed.

A figure read from a Prometheus histogram (``histogram_quantile``) is only
known to lie in the histogram bucket that holds it; it is in band when that
bucket overlaps the band (exact: the true quantile of the recorded latencies
is in the same bucket). ``Observed.edges`` carries the bucket edges.

Loaders for per-request CSV, per-interval CSV and ``lpuplan load`` JSONL are
here (:func:`observed_from_requests`, :func:`observed_from_intervals`); the
Prometheus loader lives with the CLI (``lpuplan.gameday_observe``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from dimensioning.errors import InvalidInput

from facility.gameday.bands import Band, observation_band
from facility.gameday.model import PHASES
from facility.gameday.signals import Events, measure

__all__ = ["Observed", "FigureResult", "AbortCrossing", "Verification", "verify_domain", "observed_from_requests",
           "pick_domain", "CHECKED_FIGURES", "OK", "SHED", "ERROR"]

CHECKED_FIGURES: tuple[str, ...] = ("e2el_p99_s", "ttft_p99_s", "peak_e2el_p99_s", "queue_depth_mean", "shed_rate",
                                    "error_rate", "goodput_rps")
"""The phase figures verify holds against their bands."""

OK, SHED, ERROR = 0, 1, 2


@dataclass(frozen=True)
class Observed:
    """One pool's observations: per-interval signals on ``t_start_s`` (from t0) and per-phase figures.

    A signal or figure that was not observed is absent (or NaN). ``edges``:
    histogram bucket edges for figures read from a histogram (e.g.
    ``{"e2el_p99_s": (..., 4.0, 5.0, ...)}``).
    """

    pool: str
    interval_s: float
    t_start_s: np.ndarray
    series: Mapping[str, np.ndarray]
    phases: Mapping[str, Mapping[str, float]]
    edges: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class FigureResult:
    pool: str
    phase: str
    figure: str
    observed: float | None
    band: Band
    resolution: tuple[float, float] | None
    in_band: bool | None  # None: not observed

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "phase": self.phase, "figure": self.figure, "observed": self.observed,
                "band": [self.band.lo, self.band.hi], "predicted_mean": self.band.mean,
                "resolution": None if self.resolution is None else list(self.resolution), "in_band": self.in_band}


@dataclass(frozen=True)
class AbortCrossing:
    name: str
    pool: str | None
    threshold: float
    worst: float
    from_s: float
    to_s: float
    unit: str = ""  # of threshold and worst (the abort condition's)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pool": self.pool, "threshold": self.threshold, "worst": self.worst,
                "unit": self.unit, "from_s": self.from_s, "to_s": self.to_s}


@dataclass(frozen=True)
class Verification:
    """The verdict: every observed figure in band and no abort condition crossed."""

    domain: str
    figures: tuple[FigureResult, ...]
    crossings: tuple[AbortCrossing, ...]
    unchecked: tuple[str, ...]

    @property
    def out_of_band(self) -> tuple[FigureResult, ...]:
        return tuple(f for f in self.figures if f.in_band is False)

    @property
    def passed(self) -> bool:
        return not self.out_of_band and not self.crossings and any(f.in_band for f in self.figures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "passed": self.passed,
            "checked": sum(f.in_band is not None for f in self.figures),
            "out_of_band": [f.to_dict() for f in self.out_of_band],
            "abort_crossed": [c.to_dict() for c in self.crossings],
            "figures": [f.to_dict() for f in self.figures],
            "unchecked": list(self.unchecked),
        }


def pick_domain(document: Mapping[str, Any], domain: str | None) -> Mapping[str, Any]:
    """The document's entry for ``domain`` (the only one when None)."""
    domains = document.get("domains") or []
    if domain is None:
        if len(domains) != 1:
            raise InvalidInput("--domain", None, f"the prediction holds {len(domains)} domains: name one with --domain")
        return domains[0]
    for d in domains:
        if d["domain"] == domain or domain.endswith(":" + d["domain"]):
            return d
    raise InvalidInput("--domain", domain, f"not in the prediction; it holds {', '.join(d['domain'] for d in domains[:5])}...")


def _bucket(value: float, edges: tuple[float, ...]) -> tuple[float, float]:
    """The histogram bucket (lower, upper] holding ``value``."""
    upper = next((e for e in edges if value <= e * (1 + 1e-9)), math.inf)
    lower = max((e for e in edges if e < upper * (1 - 1e-12)), default=0.0)
    return lower, upper


def _crossings(condition: Mapping[str, Any], obs: Observed, restore_after_s: float) -> AbortCrossing | None:
    values = obs.series.get(condition["signal"])
    if values is None:
        return None
    values = np.asarray(values, float)
    t = np.asarray(obs.t_start_s, float)
    above = condition["direction"] == "above"
    window = (t >= -1e-9) & (t + obs.interval_s <= restore_after_s + 1e-9)
    past = window & np.isfinite(values) & ((values > condition["threshold"]) if above else (values < condition["threshold"]))
    need = max(1, int(math.ceil(condition["for_s"] / obs.interval_s - 1e-9)))
    run = 0
    for i, hit in enumerate(past):
        run = run + 1 if hit else 0
        if run >= need:
            seg = slice(i - run + 1, i + 1)
            worst = float(np.max(values[seg]) if above else np.min(values[seg]))
            return AbortCrossing(condition["name"], condition.get("pool"), float(condition["threshold"]), worst,
                                 float(t[i - run + 1]), float(t[i] + obs.interval_s), str(condition.get("unit", "")))
    return None


def verify_domain(document: Mapping[str, Any], observed: Mapping[str, Observed], *, domain: str | None = None) -> Verification:
    """Hold ``observed`` (per pool) against the prediction for one domain (module notes)."""
    entry = pick_domain(document, domain)
    phases = {k: tuple(v) for k, v in document["phases"].items()}
    restore = phases["recovery"][0]
    figures: list[FigureResult] = []
    unchecked: list[str] = []
    for key in entry["pools"]:
        pp = document["pool_predictions"][key]
        name = pp["pool"]["name"]
        obs = observed.get(name)
        if obs is None:
            unchecked.append(f"pool {name}: no observation")
            continue
        rate = pp["pool"]["arrival_rate"]
        for phase in PHASES:
            a, b = phases[phase]
            if b <= a:
                continue
            for fig in CHECKED_FIGURES:
                raw = pp["phases"][phase][fig]
                band = Band.from_dict(raw)
                if math.isnan(band.mean):
                    continue
                wide = observation_band(fig, band, arrivals=rate * (b - a), duration_s=b - a)
                value = obs.phases.get(phase, {}).get(fig)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    figures.append(FigureResult(name, phase, fig, None, wide, None, None))
                    continue
                resolution = _bucket(value, tuple(obs.edges[fig])) if fig in obs.edges else None
                if resolution is not None:
                    ok = resolution[0] <= wide.hi and resolution[1] >= wide.lo
                else:
                    ok = wide.lo <= value <= wide.hi
                figures.append(FigureResult(name, phase, fig, float(value), wide, resolution, bool(ok)))
    crossings = []
    for cond in entry["abort_conditions"]:
        pool = cond.get("pool")
        if pool is None or pool not in observed:
            if cond["name"] != "feed_overload" or pool is not None:
                continue
            unchecked.append(f"{cond['name']}: not observed")
            continue
        crossed = _crossings(cond, observed[pool], restore)
        if crossed is not None:
            crossings.append(crossed)
    return Verification(entry["domain"], tuple(figures), tuple(crossings), tuple(unchecked))


def observed_from_requests(pool: str, arrival_s: np.ndarray, end_s: np.ndarray, ttft_s: np.ndarray,
                           outcome: np.ndarray, document: Mapping[str, Any], *, source: str = "") -> Observed:
    """Per-request records of one pool (times relative to t0, seconds of the fleet) as :class:`Observed`.

    ``end_s``: completion (or failure) time; ``ttft_s``: NaN where unknown;
    ``outcome``: :data:`OK`, :data:`SHED` or :data:`ERROR`. The queue is not
    seen from the client, so queue depth is not observed.
    """
    arrival_s, end_s = np.asarray(arrival_s, float), np.asarray(end_s, float)
    ttft_s, outcome = np.asarray(ttft_s, float), np.asarray(outcome, int)
    settings = document["settings"]
    phases = {k: tuple(v) for k, v in document["phases"].items()}
    interval = float(settings["interval_s"])
    start, stop = phases["before"][0], phases["recovery"][1]
    count = int(math.ceil((stop - start) / interval - 1e-9))
    edges = start + interval * np.arange(count + 1)
    ok = outcome == OK
    known = ok & np.isfinite(ttft_s)
    pp = next((p for p in document["pool_predictions"].values() if p["pool"]["name"] == pool), None)
    if pp is None:
        raise InvalidInput("observations", pool, "this pool is not in the prediction: check the pool/shape column")
    events = Events(
        arrival=arrival_s,
        end=end_s[ok],
        e2el=(end_s - arrival_s)[ok],
        first_token=(arrival_s + ttft_s)[known],
        ttft=ttft_s[known],
        shed=end_s[outcome == SHED],
        lost=end_s[outcome == ERROR],
    )
    degraded_until = phases["recovery"][0] if pp["lost"] else 0.0
    series, figs = measure(events, edges, phases, pp["pool"]["slo_s"], pp["pool"]["degraded_slo_s"], degraded_until)
    return Observed(pool, interval, edges[:-1], series, figs, {}, source)
