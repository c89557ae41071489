"""Service time in isolation: the harness's sweep, one request at a time.

For each request shape the validation will load, :func:`measure_isolated`
runs :func:`benchmarks.sweep.run_sweep` (the harness's own sweep: warm-up,
shuffled order, retries) in the SAME serving mode as the load (streamed or
not), and keeps per shape: the client-observed end-to-end times (the
service time ``D`` the queue models take, network and client overhead
included) and the server-reported service where the server gives it
(Groq ``total_time``; llama.cpp ``prompt_ms + predicted_ms``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy import stats

from benchmarks.openai_backend import OpenAIBackend
from benchmarks.protocol import Measurement
from benchmarks.samples import MemoryStore
from benchmarks.sweep import SweepPlan, run_sweep
from dimensioning.errors import InvalidInput

__all__ = ["Mean", "IsolatedService", "mean_interval", "server_service_s", "measure_isolated", "round_trip_s"]


@dataclass(frozen=True)
class Mean:
    """A sample mean (s) with its Student-t 95% interval, the sample's CV, size and median."""

    value: float
    ci95: tuple[float, float]
    cv: float
    n: int
    median: float = math.nan


def mean_interval(values: Iterable[float]) -> Mean:
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        raise InvalidInput("samples", 0, "no successful sample to average")
    m = float(data.mean())
    med = float(np.median(data))
    if data.size < 2:
        return Mean(m, (m, m), 0.0, 1, med)
    sd = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.975, data.size - 1)) * sd / math.sqrt(data.size)
    return Mean(m, (m - half, m + half), sd / m if m > 0 else 0.0, int(data.size), med)


def server_service_s(server: object) -> float | None:
    """Server-reported service (s) of one request: Groq total_time, or llama.cpp prompt + predicted."""
    if server is None:
        return None
    total = getattr(server, "total_s", None)
    if total is not None:
        return float(total)
    prompt, completion = getattr(server, "prompt_s", None), getattr(server, "completion_s", None)
    if prompt is not None and completion is not None:
        return float(prompt) + float(completion)
    return None


@dataclass(frozen=True)
class IsolatedService:
    """One shape measured alone: client e2el (the queue's D) and the server's own figure."""

    prompt_tokens: int
    output_tokens: int
    mode: str
    e2el: Mean
    server: Mean | None


def round_trip_s(url: str, samples: int = 15, timeout_s: float = 10.0) -> Mean:
    """Round trip of a trivial request (``GET {url}/models``) on a kept-alive connection, s.

    The client and network part of every request's latency: what an isolated
    e2el holds beyond the server's slot time (the queue's ``D``).
    """
    import httpx

    values = []
    with httpx.Client(timeout=timeout_s) as client:
        client.get(url.rstrip("/") + "/models")  # open the connection first
        for _ in range(samples):
            start = time.perf_counter()
            client.get(url.rstrip("/") + "/models")
            values.append(time.perf_counter() - start)
    return mean_interval(sorted(values)[: max(2, samples * 2 // 3)])  # the quieter two thirds: delays only add


def measure_isolated(
    url: str,
    shapes: Iterable[tuple[int, int]],
    *,
    model: str,
    stream: bool = True,
    repeats: int = 10,
    warmup: int = 2,
    api: str = "completions",
    end_token_id: int | None = None,
    timeout_s: float = 60.0,
    seed: int = 0,
) -> dict[tuple[int, int], IsolatedService]:
    """Sweep every (prompt, output) shape ``repeats`` times, one at a time (see the module docstring)."""
    wanted = sorted(set((int(p), int(o)) for p, o in shapes))
    mode = "streamed" if stream else "non-streamed"
    plan = SweepPlan(
        buckets=tuple(sorted({p for p, _ in wanted})), outputs=tuple(sorted({o for _, o in wanted})),
        repeats=repeats, warmup=warmup, seed=seed, floor=False, modes=(mode,),
    )
    store = MemoryStore()
    with OpenAIBackend(url, model, api_key_env=None, api=api, timeout_s=timeout_s,  # type: ignore[arg-type]
                       end_token_id=end_token_id) as backend:
        run_sweep(backend, plan, store)
    by_shape: dict[tuple[int, int], list[Measurement]] = {}
    for record in store.records():
        if record.status == "ok" and record.measurement is not None and record.mode == mode:
            by_shape.setdefault((record.bucket, record.output_tokens), []).append(record.measurement)
    out: dict[tuple[int, int], IsolatedService] = {}
    for shape in wanted:
        samples = by_shape.get(shape, [])
        if len(samples) < 2:
            raise InvalidInput("URL", url, f"fewer than 2 successful isolated samples of shape {shape[0]}:{shape[1]}:"
                               " the server failed the sweep; check it answers this shape")
        server_values = [v for v in (server_service_s(m.server) for m in samples) if v is not None]
        out[shape] = IsolatedService(
            prompt_tokens=shape[0], output_tokens=shape[1], mode=mode,
            e2el=mean_interval(m.e2el_s for m in samples),
            server=mean_interval(server_values) if len(server_values) == len(samples) else None,
        )
    return out
