"""Arrival processes: when requests reach the router.

Every process draws its times from an explicit ``numpy.random.Generator`` and
returns sorted absolute times in seconds from 0. Give either ``count`` (that
many arrivals) or ``duration`` (every arrival in ``[0, duration)``).

- :class:`Poisson`: exponential inter-arrival times (rate lambda, requests/s).
- :class:`GammaRenewal`: gamma inter-arrival times with a given squared
  coefficient of variation (SCV); shape ``1/SCV`` is the "burstiness" knob of
  vLLM's and AIPerf's load generators (1 = Poisson).
- :class:`MMPP2`: a two-state Markov-modulated Poisson process; mean rate
  ``(l1 r2 + l2 r1)/(r1 + r2)`` and ``IDC(inf) = 1 + 2 r1 r2 (l1-l2)^2 / (mean (r1+r2)^3)``
  (docs/simulate.md, "Arrivals").
- :class:`PiecewiseRate`: a non-homogeneous Poisson process with a piecewise
  constant rate (a peak hour), by inverting the cumulative intensity.
- :class:`TraceArrivals`: replay of recorded timestamps (with token counts).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from dimensioning.errors import InvalidInput

__all__ = [
    "ArrivalProcess",
    "Poisson",
    "GammaRenewal",
    "MMPP2",
    "PiecewiseRate",
    "TraceArrivals",
    "load_trace",
    "parse_arrivals",
]


class ArrivalProcess(Protocol):
    """What the simulator asks of an arrival process."""

    @property
    def mean_rate(self) -> float:
        """Long-run arrival rate, requests/s."""
        ...

    def times(self, rng: np.random.Generator, *, count: int | None = None, duration: float | None = None) -> np.ndarray:
        """Sorted arrival times (s), ``count`` of them or all in ``[0, duration)``."""
        ...


def _check_horizon(count: int | None, duration: float | None) -> None:
    if (count is None) == (duration is None):
        raise InvalidInput("requests/duration", (count, duration), "give exactly one of requests or duration")
    if count is not None and count < 1:
        raise InvalidInput("requests", count, "give a positive number of requests")
    if duration is not None and not (duration > 0 and math.isfinite(duration)):
        raise InvalidInput("duration", duration, "give a positive, finite duration in seconds")


def _renewal(draw, mean_gap: float, count: int | None, duration: float | None) -> np.ndarray:
    """Cumulative sums of i.i.d. gaps; for a duration, draw in chunks until past it."""
    if count is not None:
        return np.cumsum(draw(count))
    assert duration is not None
    chunks: list[np.ndarray] = []
    start = 0.0
    chunk = max(1024, int(1.1 * duration / mean_gap) + 64)
    while True:
        times = start + np.cumsum(draw(chunk))
        chunks.append(times)
        if times[-1] >= duration:
            break
        start = float(times[-1])
    out = np.concatenate(chunks)
    return out[: np.searchsorted(out, duration, side="left")]


@dataclass(frozen=True)
class Poisson:
    """Poisson arrivals at ``rate`` requests/s."""

    rate: float

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise InvalidInput("arrival_rate", self.rate, "give a positive, finite rate in requests/s")

    @property
    def mean_rate(self) -> float:
        return self.rate

    def times(self, rng: np.random.Generator, *, count: int | None = None, duration: float | None = None) -> np.ndarray:
        _check_horizon(count, duration)
        scale = 1.0 / self.rate
        return _renewal(lambda n: rng.exponential(scale, n), scale, count, duration)


@dataclass(frozen=True)
class GammaRenewal:
    """Renewal arrivals with gamma gaps: mean ``1/rate``, SCV ``scv`` (shape ``1/scv``)."""

    rate: float
    scv: float

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise InvalidInput("arrival_rate", self.rate, "give a positive, finite rate in requests/s")
        if not (self.scv > 0 and math.isfinite(self.scv)):
            raise InvalidInput("arrivals.scv", self.scv, "give a positive SCV (1 = Poisson, > 1 bursty)")

    @property
    def mean_rate(self) -> float:
        return self.rate

    def times(self, rng: np.random.Generator, *, count: int | None = None, duration: float | None = None) -> np.ndarray:
        _check_horizon(count, duration)
        shape = 1.0 / self.scv
        scale = self.scv / self.rate
        return _renewal(lambda n: rng.gamma(shape, scale, n), 1.0 / self.rate, count, duration)


@dataclass(frozen=True)
class MMPP2:
    """Two-state MMPP: rate ``rate_1``/``rate_2`` (requests/s) in state 1/2;
    leaves state 1 at ``switch_1_to_2`` per second and state 2 at ``switch_2_to_1``.

    Starts in the stationary state distribution.
    """

    rate_1: float
    rate_2: float
    switch_1_to_2: float
    switch_2_to_1: float

    def __post_init__(self) -> None:
        for name in ("rate_1", "rate_2"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise InvalidInput(f"arrivals.{name}", value, "give a finite rate >= 0 in requests/s")
        if self.rate_1 + self.rate_2 <= 0:
            raise InvalidInput("arrivals.rate_1", self.rate_1, "at least one of the two rates must be positive")
        for name in ("switch_1_to_2", "switch_2_to_1"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise InvalidInput(f"arrivals.{name}", value, "give a positive, finite switching rate per second")

    @property
    def mean_rate(self) -> float:
        r1, r2 = self.switch_1_to_2, self.switch_2_to_1
        return (self.rate_1 * r2 + self.rate_2 * r1) / (r1 + r2)

    @property
    def index_of_dispersion(self) -> float:
        """IDC(inf) = 1 + 2 r1 r2 (l1 - l2)^2 / (mean (r1 + r2)^3) (queueing.md)."""
        r1, r2 = self.switch_1_to_2, self.switch_2_to_1
        return 1.0 + 2 * r1 * r2 * (self.rate_1 - self.rate_2) ** 2 / (self.mean_rate * (r1 + r2) ** 3)

    def times(self, rng: np.random.Generator, *, count: int | None = None, duration: float | None = None) -> np.ndarray:
        _check_horizon(count, duration)
        r1, r2 = self.switch_1_to_2, self.switch_2_to_1
        state = 0 if rng.random() < r2 / (r1 + r2) else 1
        rates = (self.rate_1, self.rate_2)
        leave = (r1, r2)
        chunks: list[np.ndarray] = []
        total = 0
        t = 0.0
        while True:
            # Phases in blocks: sojourns alternate between the two states.
            block = 256
            first = state
            means = np.where((np.arange(block) + first) % 2 == 0, 1.0 / leave[0], 1.0 / leave[1])
            lengths = rng.exponential(means)
            phase_rates = np.where((np.arange(block) + first) % 2 == 0, rates[0], rates[1])
            counts = rng.poisson(phase_rates * lengths)
            starts = t + np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
            offsets = rng.random(int(counts.sum()))
            times = np.repeat(starts, counts) + offsets * np.repeat(lengths, counts)
            # Sort within each phase only: phases are disjoint and in order.
            owner = np.repeat(np.arange(block), counts)
            times = times[np.lexsort((times, owner))]
            chunks.append(times)
            total += times.size
            t = float(starts[-1] + lengths[-1])
            state = (first + block) % 2
            if (count is not None and total >= count) or (duration is not None and t >= duration):
                break
        out = np.concatenate(chunks)
        if count is not None:
            return out[:count]
        return out[: np.searchsorted(out, duration, side="left")]


@dataclass(frozen=True)
class PiecewiseRate:
    """Poisson arrivals whose rate is ``rates[i]`` on ``[starts[i], starts[i+1])``.

    ``starts[0]`` must be 0; the last rate holds for ever after. Times are
    drawn by inverting the cumulative intensity of unit-rate Poisson points
    (Cinlar's method), so the draws are exact.
    """

    starts: tuple[float, ...]
    rates: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.rates) or not self.starts:
            raise InvalidInput("arrivals.rates", self.rates, "give one rate per start time")
        if self.starts[0] != 0 or any(b <= a for a, b in zip(self.starts, self.starts[1:])):
            raise InvalidInput("arrivals.starts", self.starts, "start at 0 and strictly increase (seconds)")
        if any(not (r >= 0 and math.isfinite(r)) for r in self.rates):
            raise InvalidInput("arrivals.rates", self.rates, "give finite rates >= 0 in requests/s")
        if self.rates[-1] <= 0:
            raise InvalidInput("arrivals.rates", self.rates, "the last rate holds for ever: make it positive")

    @property
    def mean_rate(self) -> float:
        return self.rates[-1]

    def _cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        starts = np.asarray(self.starts, dtype=float)
        rates = np.asarray(self.rates, dtype=float)
        cumulative = np.concatenate(([0.0], np.cumsum(np.diff(starts) * rates[:-1])))
        return starts, cumulative

    def times(self, rng: np.random.Generator, *, count: int | None = None, duration: float | None = None) -> np.ndarray:
        _check_horizon(count, duration)
        starts, cumulative = self._cumulative()
        rates = np.asarray(self.rates, dtype=float)
        if count is not None:
            unit = np.cumsum(rng.exponential(1.0, count))
        else:
            assert duration is not None
            piece = np.searchsorted(starts, duration, side="right") - 1
            total = cumulative[piece] + (duration - starts[piece]) * rates[piece]
            unit = np.sort(rng.random(rng.poisson(total)) * total)
        piece = np.searchsorted(cumulative, unit, side="right") - 1
        # A zero-rate piece has no unit points inside it; searchsorted skips it.
        with np.errstate(divide="ignore", invalid="ignore"):
            out = starts[piece] + (unit - cumulative[piece]) / rates[piece]
        return out


@dataclass(frozen=True)
class TraceArrivals:
    """Replay recorded arrivals: ``timestamps`` (s, shifted to start at 0), with tokens."""

    timestamps: np.ndarray = field(repr=False)
    prompt_tokens: np.ndarray = field(repr=False)
    output_tokens: np.ndarray = field(repr=False)
    source: str = ""

    @property
    def mean_rate(self) -> float:
        span = float(self.timestamps[-1] - self.timestamps[0]) if self.timestamps.size > 1 else 0.0
        return (self.timestamps.size - 1) / span if span > 0 else float("inf")

    def _cut(self, count: int | None, duration: float | None) -> int:
        _check_horizon(count, duration)
        if count is not None:
            if count > self.timestamps.size:
                raise InvalidInput(
                    "requests", count, f"the trace holds {self.timestamps.size} requests: ask for at most that many"
                )
            return count
        return int(np.searchsorted(self.timestamps, duration, side="left"))

    def times(self, rng: np.random.Generator, *, count: int | None = None, duration: float | None = None) -> np.ndarray:
        return self.timestamps[: self._cut(count, duration)].copy()

    def tokens(self, count: int | None = None, duration: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prompt and output tokens of the requests that :meth:`times` returns."""
        n = self._cut(count, duration)
        return self.prompt_tokens[:n].copy(), self.output_tokens[:n].copy()


def load_trace(path: str | Path) -> TraceArrivals:
    """Read a trace CSV with columns ``timestamp,prompt_tokens,output_tokens``.

    ``timestamp`` is in seconds (any origin; rows may come in any order).
    """
    path = Path(path)
    field_name = "arrivals.trace"
    from dimensioning.traffic import read_trace_text  # on use: traffic pulls the token distributions

    # one decoder for every trace CSV: UTF-8 with or without BOM; others named with file and byte offset
    rows = list(csv.DictReader(io.StringIO(read_trace_text(path, field_name), newline="")))
    needed = ("timestamp", "prompt_tokens", "output_tokens")
    if not rows or any(column not in rows[0] for column in needed):
        raise InvalidInput(field_name, str(path), f"needs a header with columns {', '.join(needed)} and at least one row")
    try:
        data = np.array([[float(row[c]) for c in needed] for row in rows], dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field_name, str(path), f"every value must be a number ({exc})") from None
    if not np.isfinite(data).all() or (data[:, 1:] < 0).any():
        raise InvalidInput(field_name, str(path), "timestamps must be finite and token counts >= 0")
    order = np.argsort(data[:, 0], kind="stable")
    data = data[order]
    return TraceArrivals(
        timestamps=data[:, 0] - data[0, 0],
        prompt_tokens=data[:, 1].astype(np.int64),
        output_tokens=data[:, 2].astype(np.int64),
        source=str(path),
    )


def parse_arrivals(spec: str, rate: float) -> ArrivalProcess:
    """Build an arrival process from the CLI's ``--arrivals`` text.

    Forms: ``poisson``; ``gamma:SCV``; ``mmpp:RATE1,RATE2,SWITCH12,SWITCH21``;
    ``piecewise:T0=R0,T1=R1,...`` (seconds=requests/s); ``trace:PATH``.
    ``rate`` (requests/s) is used by ``poisson`` and ``gamma``.
    """
    kind, _, argument = spec.partition(":")
    kind = kind.strip().lower()
    field_name = "--arrivals"
    try:
        if kind == "poisson" and not argument:
            return Poisson(rate)
        if kind == "gamma":
            return GammaRenewal(rate, float(argument))
        if kind == "mmpp":
            values = [float(v) for v in argument.split(",")]
            if len(values) != 4:
                raise ValueError("four numbers")
            return MMPP2(*values)
        if kind == "piecewise":
            pairs = [item.split("=") for item in argument.split(",")]
            return PiecewiseRate(tuple(float(t) for t, _ in pairs), tuple(float(r) for _, r in pairs))
        if kind == "trace" and argument:
            return load_trace(argument)
    except InvalidInput:
        raise  # a named problem (a bad rate, a missing trace file) keeps its own field and fix
    except (ValueError, TypeError):
        pass
    raise InvalidInput(
        field_name,
        spec,
        "use poisson, gamma:SCV, mmpp:RATE1,RATE2,SWITCH12,SWITCH21, piecewise:0=R0,T1=R1,... or trace:PATH",
    )
