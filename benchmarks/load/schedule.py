"""Open-loop send schedules: when each request leaves and what shape it has.

Arrival processes (times in seconds from the run's origin, seeded by an
explicit ``numpy.random.Generator``; the processes are
:mod:`dimensioning.simulate.arrivals`' own, so the load and the simulator
share one definition):

- ``poisson``: exponential gaps of mean ``1/rate``;
- ``gamma``: gamma gaps of mean ``1/rate`` and shape ``burstiness``, as
  vLLM's ``--burstiness`` (1 = Poisson, < 1 burstier); equivalently SCV =
  ``1/burstiness``;
- ``constant``: gaps of exactly ``1/rate``;
- ``trace``: the timestamps of a CSV (``timestamp,prompt_tokens,output_tokens``),
  each request with its own recorded shape.

Shapes: each request draws a :class:`Shape` by its share (prompt and output
tokens are exact counts), independently of the arrival times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.simulate.arrivals import GammaRenewal, Poisson, load_trace

__all__ = ["Shape", "Schedule", "ARRIVALS", "build_schedule", "parse_shape"]

ARRIVALS = ("poisson", "gamma", "constant", "trace")


@dataclass(frozen=True)
class Shape:
    """A request shape: exact prompt and output tokens, its share of requests, its SLO."""

    name: str
    prompt_tokens: int
    output_tokens: int
    share: float = 1.0
    slo_e2el_s: float | None = None

    def __post_init__(self) -> None:
        if self.prompt_tokens < 1:
            raise InvalidInput(f"shape[{self.name}].prompt_tokens", self.prompt_tokens, "give at least 1 token")
        if self.output_tokens < 1:
            raise InvalidInput(f"shape[{self.name}].output_tokens", self.output_tokens, "give at least 1 token")
        if not (self.share >= 0 and math.isfinite(self.share)):
            raise InvalidInput(f"shape[{self.name}].share", self.share, "give a share >= 0")


def parse_shape(text: str) -> Shape:
    """``PROMPT:OUTPUT[:SHARE]`` (tokens, tokens, weight), e.g. ``512:128:0.7``."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        prompt, output = int(parts[0]), int(parts[1])
        share = float(parts[2]) if len(parts) == 3 else 1.0
    except ValueError:
        raise InvalidInput("--shape", text, "write PROMPT:OUTPUT[:SHARE], e.g. 512:128 or 512:128:0.7") from None
    return Shape(f"{prompt}x{output}", prompt, output, share)


@dataclass(frozen=True)
class Schedule:
    """``times_s`` (sorted, from 0) and, per request, its prompt and output tokens and shape index."""

    times_s: np.ndarray = field(repr=False)
    prompt_tokens: np.ndarray = field(repr=False)
    output_tokens: np.ndarray = field(repr=False)
    shape_index: np.ndarray = field(repr=False)
    shapes: tuple[Shape, ...]
    arrivals: str
    rate: float
    seed: int

    def __len__(self) -> int:
        return int(self.times_s.size)


def _gaps_constant(rate: float, count: int | None, duration: float | None) -> np.ndarray:
    n = count if count is not None else int(math.floor(duration * rate - 1e-9)) + 1  # type: ignore[operator]
    return np.arange(n, dtype=float) / rate


def build_schedule(
    shapes: tuple[Shape, ...] | list[Shape],
    rate: float | None,
    *,
    arrivals: str = "poisson",
    burstiness: float = 1.0,
    count: int | None = None,
    duration_s: float | None = None,
    trace: str | Path | None = None,
    seed: int = 0,
) -> Schedule:
    """Draw a schedule (see the module docstring). Exactly one of ``count`` and ``duration_s``."""
    if (count is None) == (duration_s is None):
        raise InvalidInput("--requests/--duration-s", None, "give exactly one of a request count and a duration")
    if count is not None and count < 1:
        raise InvalidInput("--requests", count, "give at least 1 request")
    if duration_s is not None and not (duration_s > 0 and math.isfinite(duration_s)):
        raise InvalidInput("--duration-s", duration_s, "give a positive duration in seconds")
    if arrivals not in ARRIVALS:
        raise InvalidInput("--arrivals", arrivals, f"use one of {', '.join(ARRIVALS)}")
    rng = np.random.default_rng(seed)
    shapes = tuple(shapes)
    if arrivals == "trace":
        if trace is None:
            raise InvalidInput("--trace", None, "arrivals 'trace' needs --trace FILE.csv")
        recorded = load_trace(trace)
        times = recorded.times(rng, count=count, duration=duration_s)
        prompt, output = recorded.tokens(count=count, duration=duration_s)
        if (prompt < 1).any() or (output < 1).any():
            raise InvalidInput("--trace", str(trace), "every row needs prompt_tokens >= 1 and output_tokens >= 1")
        uniq = sorted(set(zip(prompt.tolist(), output.tolist())))
        index = {s: i for i, s in enumerate(uniq)}
        trace_shapes = tuple(Shape(f"{p}x{o}", p, o, 0.0) for p, o in uniq)
        shape_index = np.array([index[(p, o)] for p, o in zip(prompt.tolist(), output.tolist())], dtype=np.int64)
        return Schedule(times, prompt.astype(np.int64), output.astype(np.int64), shape_index, trace_shapes,
                        arrivals, recorded.mean_rate, seed)
    if not shapes:
        raise InvalidInput("--shape/--project", None, "give at least one request shape")
    if rate is None or not (rate > 0 and math.isfinite(rate)):
        raise InvalidInput("--rate", rate, "give a positive rate in requests/s")
    if arrivals == "poisson":
        times = Poisson(rate).times(rng, count=count, duration=duration_s)
    elif arrivals == "gamma":
        if not (burstiness > 0 and math.isfinite(burstiness)):
            raise InvalidInput("--burstiness", burstiness, "give a gamma shape > 0 (1 = Poisson, < 1 burstier)")
        times = GammaRenewal(rate, 1.0 / burstiness).times(rng, count=count, duration=duration_s)
    else:
        times = _gaps_constant(rate, count, duration_s)
    times = times - times[0] if times.size else times  # the first request leaves at the origin
    weights = np.array([s.share for s in shapes], dtype=float)
    if weights.sum() <= 0:
        raise InvalidInput("--shape", [s.share for s in shapes], "give at least one positive share")
    shape_index = rng.choice(len(shapes), size=times.size, p=weights / weights.sum())
    prompt = np.array([s.prompt_tokens for s in shapes], dtype=np.int64)[shape_index]
    output = np.array([s.output_tokens for s in shapes], dtype=np.int64)[shape_index]
    return Schedule(times, prompt, output, shape_index.astype(np.int64), shapes, arrivals, float(rate), seed)
