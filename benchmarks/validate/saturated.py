"""The server's own time per request, measured at saturation: bursts of back-to-back requests.

A single FCFS server (one slot) is busy from the moment a burst of ``B``
requests arrives until the last one leaves. Two things come out of a burst
sent at ``t0`` whose departures are ``e_1 <= ... <= e_B``:

- the MEAN service time, from the burst's makespan. All of the server's work
  for the B requests (HTTP parsing, the queue, compute, the response) lies
  between ``t0`` and ``e_B``, plus the part of ONE request's latency that is
  off the server (the way there for the first, the way back for the last:
  ``o = e2el_alone - S``), so ``e_B - t0 = o + B S`` and

      S = (e_B - t0 - e2el_alone) / (B - 1),

  with ``e2el_alone`` the isolated e2el median, measured in the same run by
  the same client just before the bursts (``alone`` requests, each sent
  when the server is idle), so that both figures come from one moment of the
  machine and one client;
- the SHAPE of the service law, from the departure spacing ``e_i - e_(i-1)``:
  each is one request's time on the server once the next was waiting (the
  return path's delay cancels in the difference). A burst's requests are all
  parsed as they arrive, up front, so the spacing misses that per-request
  work, which under Poisson load falls inside another request's service; the
  law is therefore the spacing sample SHIFTED to the makespan's mean (the
  missing work is taken as the same for every request).

That ``S`` is the queue's service time by definition (the time a request
keeps the server from the next). The isolated e2el is ``S + o``: taking
``isolated e2el - round trip of a trivial request`` for ``S`` assumes ``o`` is
that round trip, and on llama-cpp-python (tiny model, one thread,
docs/validate.md) the service under Poisson load was 0.74-0.88 of that
figure, so the utilisation the loop set was well below the one asked for.

Bursts are sent open loop by :mod:`benchmarks.load` (every request of a
burst leaves at the same instant), ``gap`` apart so that each drains before
the next (``gap = 1.5 B`` x the estimate; the lone requests ``2`` x it apart,
before them, the mean idle time of a server at utilisation 0.5, and only
those that found the server idle count); a spacing counts only when its
request was sent before the previous one ended (the server was busy:
:func:`benchmarks.validate.measured.departure_spacing`), a makespan only
when the whole burst was served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.load import PromptSet, Shape, run_load
from benchmarks.load.schedule import Schedule
from benchmarks.validate.isolated import Mean, mean_interval
from benchmarks.validate.measured import departure_spacing
from dimensioning.errors import InvalidInput

__all__ = ["SaturatedService", "burst_schedule", "measure_saturated"]


@dataclass(frozen=True)
class SaturatedService:
    """One FCFS server in bursts: the service law (s, the spacing shifted to the makespan mean) and its parts."""

    samples_s: tuple[float, ...]
    mean: Mean  # of samples_s
    makespan: Mean  # per-burst service time from the makespan (its mean is samples_s's mean)
    spacing: Mean  # raw departure spacing
    alone: Mean  # e2el of the lone requests sent just before the bursts (its median is e2el_alone)
    bursts: int
    burst_size: int
    shed: int
    errors: int
    send_lag_max_ms: float


def burst_schedule(shape: Shape, bursts: int, burst_size: int, gap_s: float, alone: int = 0,
                   alone_gap_s: float = 0.0) -> Schedule:
    """``alone`` lone requests ``alone_gap_s`` apart, then ``bursts`` groups of ``burst_size`` requests of ``shape``
    (all of a group at one instant) ``gap_s`` apart."""
    if bursts < 1 or burst_size < 2:
        raise InvalidInput("saturation", (bursts, burst_size), "give at least 1 burst of at least 2 requests")
    if not gap_s > 0 or alone_gap_s < 0 or alone < 0:
        raise InvalidInput("saturation gap", gap_s, "give a positive gap between bursts (s)")
    n = alone + bursts * burst_size
    lone = np.arange(alone, dtype=float) * alone_gap_s
    start = alone * alone_gap_s + (gap_s if alone else 0.0)
    times = np.concatenate((lone, start + np.repeat(np.arange(bursts, dtype=float) * gap_s, burst_size)))
    return Schedule(times, np.full(n, shape.prompt_tokens, dtype=np.int64), np.full(n, shape.output_tokens, dtype=np.int64),
                    np.zeros(n, dtype=np.int64), (shape,), "bursts", burst_size / gap_s, 0)


def measure_saturated(url: str, shape: Shape, prompts: PromptSet, *, estimate_s: float, bursts: int = 4,
                      burst_size: int = 16, alone: int = 16, **load_options: Any) -> SaturatedService:
    """Send the lone requests and the bursts; return the service law of the busy server (module docstring).

    ``estimate_s``: a rough e2el of the shape alone (s), which sets the gaps.
    ``load_options`` go to :func:`benchmarks.load.run_load`.
    """
    if alone < 3:
        raise InvalidInput("saturation alone", alone, "give at least 3 lone requests (their median is e2el alone)")
    gap = max(1.5 * burst_size * estimate_s, 0.01)
    run = run_load(url, burst_schedule(shape, bursts, burst_size, gap, alone, max(2.0 * estimate_s, 0.002)), prompts,
                   **load_options)
    first = sorted((r for r in run.records if r.index < alone), key=lambda r: r.index)
    lone = [r.end_s - r.sent_s for prev, r in zip([None, *first], first)  # type: ignore[operator]
            if r.ok and (prev is None or prev.end_s is None or r.sent_s >= prev.end_s)]  # only those that found it idle
    if len(lone) < 3:
        raise InvalidInput("URL", url, f"only {len(lone)} of {alone} lone requests of {shape.prompt_tokens}:"
                           f"{shape.output_tokens} were served: the server fails this shape")
    by_itself = mean_interval(lone)
    alone_s = by_itself.median
    spacing: list[float] = []
    makespan: list[float] = []
    for k in range(bursts):
        first = alone + k * burst_size
        burst = [r for r in run.records if first <= r.index < first + burst_size]
        spacing.extend(departure_spacing(burst))
        served = [r for r in burst if r.ok]
        if len(served) >= 3 and all(r.ok or r.status == 429 for r in burst):  # a 429 (queue full) costs next to nothing
            first_sent = min(r.sent_s for r in burst)
            makespan.append((max(r.end_s for r in served) - first_sent - alone_s) / (len(served) - 1))  # type: ignore[type-var, operator]
    shed = sum(1 for r in run.records if r.status == 429)
    errors = sum(1 for r in run.records if not r.ok and r.status != 429)
    if len(spacing) < 2 or not makespan:
        raise InvalidInput("URL", url, f"the server served too few requests of {shape.prompt_tokens}:{shape.output_tokens}"
                           f" back to back in {bursts} bursts of {burst_size} (shed {shed}, failed {errors}) to measure"
                           " its service time at saturation")
    per_request = mean_interval(makespan)
    raw = mean_interval(spacing)
    shift = per_request.value - raw.value
    samples = [v + shift for v in spacing]
    if min(samples) <= 0:
        raise InvalidInput("URL", url, f"the burst makespan ({per_request.value * 1e3:.3f} ms per request) is below the"
                           f" departure spacing's spread (mean {raw.value * 1e3:.3f} ms): the server is not one FCFS"
                           " server whose work all lies between arrival and departure; measure it with more servers")
    lag = max((r.sent_s - r.scheduled_s for r in run.records), default=0.0) * 1e3
    return SaturatedService(tuple(samples), mean_interval(samples), per_request, raw, by_itself, bursts, burst_size,
                            shed, errors, lag)
