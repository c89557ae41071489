"""Per-sequence rates of a replica running ``slots`` sequences at once (batch-aware service).

A replica with continuous batching runs every sequence in flight through the
same engine steps, so its per-sequence rates depend on how many are in
flight. A bucket may give that dependence in one of two forms; the sizing
then takes the rates at ``slots`` in flight (the occupancy of a saturated
replica, the conservative end: more sequences never make a step shorter).

1. A table ``concurrency -> (r_prefill, r_decode)`` (tokens/s per sequence),
   interpolated linearly in the concurrency, never extrapolated.

2. The BLIS step form (github.com/inference-sim/inference-sim,
   docs/design/core-engine.md, "Latency Models"): one engine step takes
   ``beta0 + beta1 * prefill_tokens + beta2 * decode_tokens`` (microseconds).
   With B sequences in flight, prompts of P tokens and outputs of O tokens,
   in steady state each request's lifetime contains its own prefill step
   and O decode steps; every decode step carries B decode tokens and, on
   average, the prefill tokens of the other B - 1 sequences spread over
   their O steps (each slot turns over once per lifetime)::

       T_prefill = beta0 + beta1 * P + beta2 * (B - 1)
       T_step    = beta0 + beta2 * B + beta1 * (B - 1) * P / O       (TPOT)
       S         = L_fixed + T_prefill + O * T_step
                 = L_fixed + O (beta0 + beta2 B) + beta1 B P + (beta0 + beta2 (B - 1))

   BLIS's own throughput for a replica of B slots is B / (O (beta0 + beta2 B)
   + beta1 B P); the form here adds one step per request (its prefill
   step is counted apart from the O decode steps: conservative by one step).
   As rates: ``r_prefill = P / T_prefill`` and ``r_decode = 1 / T_step``, so
   ``S_bucket = P / r_prefill + O / r_decode + L_fixed`` holds unchanged
   (``dimensioning.service_time``).
"""

from __future__ import annotations

import bisect

__all__ = ["rates_from_table", "rates_from_step_model"]


def rates_from_table(table: tuple[tuple[float, float, float], ...], occupancy: int) -> tuple[float, float]:
    """(r_prefill, r_decode) at ``occupancy`` from rows (concurrency, r_prefill, r_decode), linear in concurrency."""
    xs = [row[0] for row in table]
    if not xs[0] <= occupancy <= xs[-1]:
        raise ValueError(f"slots = {occupancy} is outside the measured concurrencies [{xs[0]:g}, {xs[-1]:g}]")
    i = bisect.bisect_left(xs, occupancy)
    if xs[i] == occupancy:
        return table[i][1], table[i][2]
    (x0, p0, d0), (x1, p1, d1) = table[i - 1], table[i]
    w = (occupancy - x0) / (x1 - x0)
    return p0 + w * (p1 - p0), d0 + w * (d1 - d0)


def rates_from_step_model(beta0_us: float, beta1_us: float, beta2_us: float, prompt_tokens: int,
                          output_tokens: int, occupancy: int) -> tuple[float, float]:
    """(r_prefill, r_decode) per sequence at ``occupancy`` from the BLIS step form (module docstring)."""
    b = occupancy
    prefill_us = beta0_us + beta1_us * prompt_tokens + beta2_us * (b - 1)
    step_us = beta0_us + beta2_us * b + beta1_us * (b - 1) * prompt_tokens / output_tokens
    return prompt_tokens / prefill_us * 1e6, 1e6 / step_us
