"""The one home of ``S_bucket`` and ``mu``: how long a request holds a slot.

The LPU service model (DESIGN.md, the capacity worksheet). A request of a
bucket is padded to the compiled prompt length and its output is capped, so
every request of the bucket needs at most::

    S_bucket = L_fixed + P_bucket / R_prefill + O_cap / R_decode        (seconds)

with ``P_bucket = max_prompt_tokens`` (tokens), ``O_cap = max_output_tokens``
(tokens), ``R_prefill`` (prompt tokens/s at the padded length), ``R_decode``
(output tokens/s per sequence, at the occupancy the replica runs: ``slots``
sequences in flight, from a table or the BLIS step form where the bucket
gives one, ``dimensioning.occupancy``) and ``L_fixed`` (s). Its parts:

- ``TTFT`` service part (time to first token once a slot is free)::

      T_first = L_fixed + P_bucket / R_prefill + 1 / R_decode

  so a request's TTFT is its queueing delay plus ``T_first`` (vLLM's
  ``ttft_ms``);
- ``TPOT`` (time per output token after the first, vLLM's ``tpot_ms``)::

      T_token = 1 / R_decode

- e2el (vLLM's ``e2el_ms``) is the queueing delay plus ``S_bucket``.

Service rate, requests/s PER REPLICA (not per slot)::

    mu = slots / S_bucket

A replica of ``slots`` slots completes at most ``mu`` requests/s; a pool of N
replicas is an M/D/c queue with ``c = N * slots`` servers of rate
``1 / S_bucket`` each (DESIGN.md, "Queueing core").

Service time under load (``service_inflation``, issue 16): a server's
compute may run slower while it is loaded than alone (measured by
``lpuplan fidelity``: server timings, or departure spacing in busy
periods, against the isolated figure). A bucket's ``service_inflation``
``f`` (a ratio, default 1) slows every part of the service alike::

    S_bucket = f * (L_fixed + P_bucket / R_prefill + O_cap / R_decode)

i.e. the sizing takes ``R_prefill / f``, ``R_decode / f`` and ``f * L_fixed``
(:func:`sizing_rates`), so TTFT and TPOT scale with it too. That the
slowdown is uniform across prefill, decode and the fixed part is an
ASSUMPTION (the fidelity loop measures the whole request's time, not its
parts); ``mu = slots / S_bucket`` then falls by ``f``.

Prefix caching (``prefix_cache_hit_rate`` h, the share of prompt tokens
served from the cache): cached prefix tokens skip prefill, so the prefill
takes ``(1 - h) P_bucket / R_prefill``, i.e. the sizing takes the prefill
rate ``R_prefill / (1 - h)`` whatever gives ``R_prefill`` (a figure, a
rates-at-concurrency table, a profile). Under the BLIS step form the cached
tokens leave the prefill step and the prefill load the other sequences put
on each decode step, so both rates come from the step form at ``(1 - h) P``
(its per-step overhead stays whole). h is a mean: a request that misses the
cache still takes the full prefill, so p99 figures taken with h > 0 are
optimistic for such requests (``lpuplan forecast`` says so).

The sizing (``dimensioning.sizing``), the shared pool
(``dimensioning.shared_pool``), the pool check (``dimensioning.pool``) and the
simulator (``dimensioning.simulate.service``) take the service time from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dimensioning.inputs import Bucket

__all__ = ["ServiceTime", "service_time", "service_seconds", "rates_at_slots", "sizing_rates", "S_bucket", "mu"]


@dataclass(frozen=True)
class ServiceTime:
    """Deterministic service time of a bucket and its parts (seconds).

    ``total_s`` is ``S_bucket`` (output at its cap); ``mean_s`` uses the mean
    output length ``E[min(O, cap)]``; ``conservatism = total_s / mean_s``;
    ``first_token_s`` is the TTFT service part ``L_fixed + prefill + 1/R_decode``;
    ``token_s`` is the TPOT ``1/R_decode``; ``inflation`` is the bucket's
    ``service_inflation`` (1 when none), already applied to every part.
    """

    prefill_s: float
    decode_s: float
    fixed_s: float
    mean_decode_s: float
    token_s: float = 0.0
    inflation: float = 1.0

    @property
    def total_s(self) -> float:
        """S_bucket: L_fixed + P_bucket/R_prefill + O_cap/R_decode."""
        return self.prefill_s + self.decode_s + self.fixed_s

    @property
    def mean_s(self) -> float:
        return self.prefill_s + self.mean_decode_s + self.fixed_s

    @property
    def conservatism(self) -> float:
        return self.total_s / self.mean_s

    @property
    def first_token_s(self) -> float:
        """TTFT service part: L_fixed + P_bucket/R_prefill + 1/R_decode (one output token)."""
        return self.fixed_s + self.prefill_s + self.token_s


def service_seconds(prompt_tokens: float, output_tokens: float, r_prefill: float, r_decode: float,
                    fixed_s: float) -> float:
    """``P/R_prefill + O/R_decode + L_fixed`` (s) for any prompt and output length (fitted lines, plots).

    The same terms as :class:`ServiceTime`; ``S_bucket`` is this at the
    bucket's edge ``P_bucket`` and output cap ``O_cap``.
    """
    return prompt_tokens / r_prefill + output_tokens / r_decode + fixed_s


def service_time(bucket: Bucket, output_mean: float | None = None) -> ServiceTime:
    """The service time of a bucket whose rates are resolved (given or from a profile).

    ``output_mean`` (tokens) is ``E[min(O, cap)]`` for the mean figure; None
    takes the output at its cap (then ``mean_s == total_s``).
    """
    r_prefill, r_decode, fixed_s = sizing_rates(bucket)
    cap = bucket.max_output_tokens
    mean_output = cap if output_mean is None else min(output_mean, cap)
    return ServiceTime(
        prefill_s=bucket.max_prompt_tokens / r_prefill,
        decode_s=cap / r_decode,
        fixed_s=fixed_s,
        mean_decode_s=mean_output / r_decode,
        token_s=1.0 / r_decode,
        inflation=bucket.service_inflation or 1.0,
    )


def sizing_rates(bucket: Bucket) -> tuple[float, float, float]:
    """``(R_prefill / f, R_decode / f, f * L_fixed)``: the rates (tokens/s) and fixed time (s) the sizing takes.

    The rates at ``slots`` in flight (:func:`rates_at_slots`), with the prefix
    cache's share of the prompt skipping prefill (module docstring), slowed by the
    bucket's ``service_inflation`` ``f`` (module docstring; 1 when none). The
    simulator takes its per-request service times from these too.
    """
    r_prefill, r_decode = _cached_rates(bucket) if bucket.prefix_cache_hit_rate > 0 else rates_at_slots(bucket)
    if r_prefill is None or r_decode is None or bucket.l_fixed_ms is None:
        raise ValueError(f"bucket {bucket.label}: resolve r_prefill, r_decode and l_fixed_ms before use")
    f = bucket.service_inflation or 1.0
    return r_prefill / f, r_decode / f, bucket.l_fixed_s * f


def _cached_rates(bucket: Bucket) -> tuple[float | None, float | None]:
    """(R_prefill per padded prompt token, R_decode) with a share h of the prompt served from the prefix cache.

    ``P_bucket / R = (1 - h) P_bucket / R_prefill`` (module docstring); the step
    form is evaluated at the uncached prompt ``(1 - h) P_bucket``.
    """
    from dimensioning.occupancy import rates_from_step_model

    h = bucket.prefix_cache_hit_rate
    if bucket.step_model is not None:
        m = bucket.step_model
        r_prefill, r_decode = rates_from_step_model(m.beta0_us, m.beta1_us, m.beta2_us,
                                                    (1.0 - h) * bucket.max_prompt_tokens, bucket.max_output_tokens,
                                                    bucket.slots)
        return r_prefill / (1.0 - h), r_decode
    r_prefill, r_decode = rates_at_slots(bucket)
    return (None if r_prefill is None else r_prefill / (1.0 - h)), r_decode


def rates_at_slots(bucket: Bucket) -> tuple[float | None, float | None]:
    """(r_prefill, r_decode) per sequence with ``slots`` in flight (``dimensioning.occupancy``).

    Recomputed here from the step model or table (not read from the stored
    fields), so a bucket copied with other ``slots`` is sized at its own.
    """
    from dimensioning.occupancy import rates_from_step_model, rates_from_table

    if bucket.step_model is not None:
        m = bucket.step_model
        return rates_from_step_model(m.beta0_us, m.beta1_us, m.beta2_us, bucket.max_prompt_tokens,
                                     bucket.max_output_tokens, bucket.slots)
    if bucket.rates_at_concurrency is not None:
        return rates_from_table(bucket.rates_at_concurrency, bucket.slots)
    return bucket.r_prefill, bucket.r_decode


def S_bucket(bucket: Bucket) -> float:  # noqa: N802 - the worksheet's symbol
    """``S_bucket`` in seconds (output at its cap)."""
    return service_time(bucket).total_s


def mu(slots: int, service_s: float) -> float:
    """Requests/s one REPLICA of ``slots`` slots completes: ``slots / S_bucket``."""
    return slots / service_s
