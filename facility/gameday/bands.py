"""Expected-signal bands from several seeds: where one more run (the game day) should fall.

A band for a figure seen in K independent seeds with mean ``m`` and standard
deviation ``sd`` is the normal-theory prediction interval for one more
observation, ``m +- t_{K-1}(1 - a/2) * sd * sqrt(1 + 1/K)`` (e.g. Hahn & Meeker,
*Statistical Intervals*, 1991, ch. 4), joined with the seeds' own range, at
the per-check level ``a = alpha / checks`` (Bonferroni: every signal in every
phase is one check, so the whole verification falsely fails with probability
at most ``alpha`` when the model is right).

An observation comes from another system (a real fleet, the emulator) with
its own counting noise and clocks, so :func:`observation_band` widens the
simulated band by what one run of that system adds and the simulator cannot
see: 5% of a latency (client and network overhead, clock resolution), half a
request plus 10% of a queue depth (scrape timing), and the Poisson noise of a
count (three standard deviations of the expected count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import stdtrit

__all__ = ["Band", "band", "bands_over_intervals", "t_multiplier", "observation_band", "LATENCY_TOLERANCE"]

LATENCY_TOLERANCE = 0.05
QUEUE_TOLERANCE = (0.5, 0.10)


@dataclass(frozen=True)
class Band:
    """A predicted figure: mean over seeds and the band ``[lo, hi]`` one more run should fall in."""

    mean: float
    lo: float
    hi: float
    seeds_min: float
    seeds_max: float

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "seeds_min": self.seeds_min, "seeds_max": self.seeds_max}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Band":
        return cls(*(float("nan") if data[k] is None else float(data[k])
                     for k in ("mean", "lo", "hi", "seeds_min", "seeds_max")))


def t_multiplier(seeds: int, alpha: float, checks: int) -> float:
    """``t_{K-1}(1 - alpha/(2*checks)) * sqrt(1 + 1/K)``: the prediction interval's half-width per sd."""
    return float(stdtrit(seeds - 1, 1 - alpha / (2 * checks))) * math.sqrt(1 + 1 / seeds)


def band(values: np.ndarray, multiplier: float) -> Band:
    """Band of one figure over seeds (NaN seeds ignored; all NaN: a NaN band).

    Every game-day figure is >= 0 (latencies, counts, rates), so ``lo`` is
    clipped at 0.
    """
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        nan = float("nan")
        return Band(nan, nan, nan, nan, nan)
    mean = float(finite.mean())
    sd = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    lo, hi = float(finite.min()), float(finite.max())
    return Band(mean, max(min(lo, mean - multiplier * sd), 0.0), max(hi, mean + multiplier * sd), lo, hi)


def bands_over_intervals(runs: np.ndarray, multiplier: float) -> dict[str, list[float | None]]:
    """Per interval (columns of ``runs``, one row per seed): median, lo and hi."""
    out: dict[str, list[float | None]] = {"median": [], "lo": [], "hi": []}
    for column in np.asarray(runs, dtype=float).T:
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            for key in out:
                out[key].append(None)
            continue
        b = band(finite, multiplier)
        out["median"].append(float(np.median(finite)))
        out["lo"].append(b.lo)
        out["hi"].append(b.hi)
    return out


def observation_band(figure: str, predicted: Band, *, arrivals: float, duration_s: float) -> Band:
    """The simulated band widened by one observed run's own noise (module notes).

    ``arrivals`` is the expected number of requests in the phase and
    ``duration_s`` its length, for the counting noise of rates.
    """
    if not math.isfinite(predicted.mean):
        return predicted
    lo, hi = predicted.lo, predicted.hi
    if figure.endswith("_s"):
        lo, hi = lo * (1 - LATENCY_TOLERANCE), hi * (1 + LATENCY_TOLERANCE)
    elif figure.startswith("queue_depth"):
        absolute, relative = QUEUE_TOLERANCE
        lo, hi = lo * (1 - relative) - absolute, hi * (1 + relative) + absolute
    elif figure in ("shed_rate", "error_rate"):
        n = max(arrivals, 1.0)
        count = predicted.mean * n
        noise = 3 * math.sqrt(count + 1) / n
        lo, hi = lo - noise, hi + noise
    elif figure == "errors":
        noise = 3 * math.sqrt(predicted.mean + 1)
        lo, hi = lo - noise, hi + noise
    elif figure == "goodput_rps":
        count = predicted.mean * duration_s
        noise = 3 * math.sqrt(count + 1) / max(duration_s, 1e-9)
        lo, hi = lo * (1 - LATENCY_TOLERANCE) - noise, hi * (1 + LATENCY_TOLERANCE) + noise
    return Band(predicted.mean, max(lo, 0.0), hi, predicted.seeds_min, predicted.seeds_max)
