"""Predicted vs measured on a real server: bench, predict, load, compare.

:func:`run_fidelity` for each pool design (a request shape, its share of the
traffic and the slots that serve it):

1. measures the shape's isolated e2el alone (:mod:`benchmarks.validate.isolated`,
   the harness's sweep, in the load's serving mode) and the client's round
   trip ``delta`` (a trivial request); the queue's ``D`` is the MEDIAN
   isolated e2el - delta (the slot time: the round trip holds no slot; the
   median because scheduler and network hiccups only ever add time, in a
   heavy upper tail that is not the server's service), at most halving it;
2. for each utilisation ``rho`` sets the total rate so that the busiest pool
   runs at ``rho`` (``lambda = rho / max_b(share_b D_b / c_b)``) and predicts
   each pool's e2el p50/p95/p99 with the exact M/D/c model and the model's
   run-to-run range for exactly the measured design (:mod:`benchmarks.validate.predict`);
3. loads the server open loop (:mod:`benchmarks.load`), ``runs`` independent
   runs of ``requests`` each (Poisson, seeds ``seed + 1000 * i_rho + k``);
4. compares, per pool and percentile: the measured value (pooled runs) with
   its i.i.d. order-statistic interval and the spread across runs, the
   relative error of the point prediction, and a verdict:

   - ``consistent``: the measured value lies inside the model's 95% run range
     widened by ``tolerance`` on each side;
   - ``miss``: it lies outside, and so does every single run;
   - ``undecided``: outside, but the runs themselves straddle the range's edge:
     the run-to-run spread is too wide to decide (run longer);
   - ``untrusted``: the generator fell behind its schedule in that
     utilisation's runs (send lag p99 above ``max_send_lag_ms``): the load
     was not the one predicted for, so nothing is decided.

   A decision never rests on the i.i.d. interval, which is narrower than the
   run-to-run spread of correlated queue latencies.

It also estimates the service time UNDER LOAD (server timings, or departure
spacing with one server) and its inflation over the isolated figure, and
lists what may explain a residual. ``passed`` is False when any verdict is
``miss`` or ``untrusted`` (the CLI exits 3).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from benchmarks.load import Shape, build_prompts, build_schedule, run_load, summarize
from benchmarks.validate.isolated import IsolatedService, Mean, measure_isolated, round_trip_s
from benchmarks.validate.measured import (
    Inflation,
    MeasuredPercentile,
    departure_spacing,
    inflation_from,
    measured_percentile,
    server_service_under_load,
)
from benchmarks.validate.predict import QUANTILES, Prediction, predict_pool
from dimensioning.errors import InvalidInput
from dimensioning.keys import output_key, quantile_key, to_ms

__all__ = ["PoolDesign", "Comparison", "PoolResult", "RhoResult", "FidelityReport", "run_fidelity", "verdict"]


@dataclass(frozen=True)
class PoolDesign:
    """A pool to validate: requests of one shape, their share, the slots serving them."""

    name: str
    prompt_tokens: int
    output_tokens: int
    share: float
    servers: int

    def __post_init__(self) -> None:
        if self.servers < 1:
            raise InvalidInput(f"pool[{self.name}].servers", self.servers, "give at least 1 server (replicas x slots)")
        if not self.share > 0:
            raise InvalidInput(f"pool[{self.name}].share", self.share, "give a share > 0")


@dataclass(frozen=True)
class Comparison:
    quantile: float
    predicted_s: float
    run_range_s: tuple[float, float]
    decision_range_s: tuple[float, float]
    measured: MeasuredPercentile
    relative_error: float  # (predicted - measured) / measured
    verdict: str


@dataclass(frozen=True)
class PoolResult:
    name: str
    prediction: Prediction
    completed: int
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class RhoResult:
    rho: float
    arrival_rate: float
    pools: tuple[PoolResult, ...]
    inflation: tuple[Inflation, ...]
    send_lag_p99_ms: float
    fell_behind: bool
    shed: int
    errors: int
    residual: tuple[str, ...]


@dataclass(frozen=True)
class FidelityReport:
    url: str
    mode: str
    tolerance: float
    requests_per_run: int
    runs: int
    isolated: dict[str, IsolatedService]
    round_trip: Mean
    results: tuple[RhoResult, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not any(c.verdict in ("miss", "untrusted") for r in self.results for p in r.pools for c in p.comparisons)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        for r_obj, r in zip(self.results, out["results"]):
            for p_obj, p in zip(r_obj.pools, r["pools"]):
                for key in ("point_s", "run_range_s"):
                    # percentile keys as every lpuplan output names them (dimensioning.keys): p50, p99, p99_9
                    p["prediction"][key] = {quantile_key(q): v for q, v in getattr(p_obj.prediction, key).items()}
                for c_obj, c in zip(p_obj.comparisons, p["comparisons"]):
                    c["measured"]["run_spread_s"] = c_obj.measured.run_spread_s
        return _output(out)


def _scaled(obj: Any, factor: float) -> Any:
    if isinstance(obj, dict):
        return {k: _scaled(v, factor) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_scaled(v, factor) for v in obj]
    return to_ms(obj) if factor != 1.0 else obj


def _output(obj: Any, *, names: bool = False) -> Any:
    """The report in the output vocabulary (dimensioning.keys): every latency in ms, named ``*_ms``.

    A :class:`Mean` of seconds (the round trip, the isolated e2el and server
    figures, the service under load) leaves as ``mean_ms``, ``mean_ci95_ms``,
    ``p50_ms`` (its median), ``cv``, ``n``; a key ``<name>_s`` as
    ``<name>_ms`` with its numbers scaled (``point_ms: {"p99": ...}``).
    Ratios (an inflation's ``ratio`` and ``ci95``) and rates are unitless and
    stay. Keys of ``isolated`` are pool names and stay as they are.
    """
    if isinstance(obj, (list, tuple)):
        return [_output(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if {"value", "ci95", "cv", "n"} <= obj.keys():  # a Mean (s)
        return {"mean_ms": to_ms(obj["value"]), "mean_ci95_ms": to_ms(list(obj["ci95"])), "cv": obj["cv"],
                "n": obj["n"], "p50_ms": to_ms(obj.get("median", math.nan))}
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if names:
            result[key] = _output(value)
            continue
        new, factor = output_key(key)
        result[new] = _scaled(_output(value, names=key == "isolated"), factor)
    return result


def _less(mean: Mean, shift_s: float) -> Mean:
    """A mean (s) less a constant: the isolated e2el less the client's round trip."""
    return Mean(mean.value - shift_s, (mean.ci95[0] - shift_s, mean.ci95[1] - shift_s),
                mean.cv * mean.value / (mean.value - shift_s), mean.n, mean.median - shift_s)


def verdict(measured: MeasuredPercentile, decision: tuple[float, float]) -> str:
    lo, hi = decision
    if lo <= measured.value_s <= hi:
        return "consistent"
    inside = [lo <= v <= hi for v in measured.runs_s]
    below = [v < lo for v in measured.runs_s]
    above = [v > hi for v in measured.runs_s]
    if any(inside) or (any(below) and any(above)):
        return "undecided"
    return "miss"


def _residual(pools: Sequence[PoolDesign], isolated: dict[str, IsolatedService], inflation: Sequence[Inflation],
              summary: dict[str, Any], results: Sequence[PoolResult], rtt: Mean, server_time_scale: float) -> list[str]:
    notes = [f"client round trip {rtt.value * 1e3:.2f} ms (95% CI {rtt.ci95[0] * 1e3:.2f}-{rtt.ci95[1] * 1e3:.2f}):"
             " taken out of D (it holds no slot) and added to every predicted latency"]
    for infl in inflation:
        lo, hi = infl.ci95
        side = "slower" if lo > 1 + 1e-9 else ("faster" if hi < 1 - 1e-9 else "no different (within its interval)")
        notes.append(f"service under load ({infl.source}): x{infl.ratio:.3f} (95% CI {lo:.3f}-{hi:.3f}) of the"
                     f" isolated figure, {side}; {infl.note}")
    for design in pools:
        iso = isolated[design.name]
        if iso.e2el.cv > 0.05:
            notes.append(f"{design.name}: isolated service CV {iso.e2el.cv:.2f}: not deterministic; M/D/c then"
                         f" understates waits (P-K: mean wait x{(1 + iso.e2el.cv ** 2):.2f} against M/D/1)")
        if iso.server is not None:
            outside = iso.e2el.value - iso.server.value / server_time_scale
            notes.append(f"{design.name}: isolated e2el exceeds the server-reported service by {outside * 1e3:.1f} ms"
                         " (round trip, HTTP, and any fixed overhead the server leaves out of its timing)")
    lag = summary["send_lag_ms"]
    notes.append(f"generator send lag p50 {lag['p50']:.2f} ms, p99 {lag['p99']:.2f} ms, max {lag['max']:.2f} ms"
                 + (" (FELL BEHIND: not trusted)" if summary["fell_behind"] else ""))
    if summary["shed"]:
        notes.append(f"{summary['shed']} requests shed (429): admitted latencies follow M/D/c/K, below M/D/c's")
    if summary["errors"]:
        notes.append(f"{summary['errors']} requests failed ({summary['failures']}): not in the measured figures")
    return notes


def run_fidelity(
    url: str,
    pools: Sequence[PoolDesign],
    *,
    rhos: Sequence[float] = (0.5, 0.7, 0.9),
    requests: int = 2000,
    runs: int = 2,
    tolerance: float = 0.10,
    model: str = "default",
    api: str = "completions",
    stream: bool = True,
    tokenizer: str = "server",
    end_token_id: int | None = None,
    bench_repeats: int = 10,
    replications: int = 200,
    timeout_s: float = 60.0,
    seed: int = 0,
    max_send_lag_ms: float = 2.0,
    server_time_scale: float = 1.0,
    prompt_variants: int = 8,
) -> FidelityReport:
    """Bench, predict, load and compare (see the module docstring)."""
    if not pools:
        raise InvalidInput("pools", [], "give at least one pool design")
    for rho in rhos:
        if not 0 < rho < 1:
            raise InvalidInput("--rho", rho, "give utilisations strictly between 0 and 1")
    if requests < 50:
        raise InvalidInput("--requests", requests, "give at least 50 requests per run (a p99 needs them)")
    if runs < 1:
        raise InvalidInput("--runs", runs, "give at least 1 run per utilisation")
    if not 0 <= tolerance < 1:
        raise InvalidInput("--tolerance", tolerance, "give a relative tolerance in [0, 1)")
    names = [p.name for p in pools]
    if len(set(names)) != len(names):
        raise InvalidInput("pools", names, "give each pool a unique name")
    shapes_needed = {(p.prompt_tokens, p.output_tokens) for p in pools}
    measured_alone = measure_isolated(url, shapes_needed, model=model, stream=stream, repeats=bench_repeats,
                                      api=api, end_token_id=end_token_id, timeout_s=timeout_s, seed=seed)
    isolated = {p.name: measured_alone[(p.prompt_tokens, p.output_tokens)] for p in pools}
    rtt = round_trip_s(url, timeout_s=timeout_s)
    overhead = {p.name: min(rtt.value, 0.5 * isolated[p.name].e2el.median) for p in pools}
    slot_time = {p.name: isolated[p.name].e2el.median - overhead[p.name] for p in pools}
    total_share = math.fsum(p.share for p in pools)
    shares = {p.name: p.share / total_share for p in pools}
    busiest = max(shares[p.name] * slot_time[p.name] / p.servers for p in pools)
    load_shapes = tuple(Shape(p.name, p.prompt_tokens, p.output_tokens, shares[p.name]) for p in pools)
    prompts = build_prompts(sorted({p.prompt_tokens for p in pools}), tokenizer, url, model, timeout_s=timeout_s,
                            seed=seed, api=api, variants=prompt_variants)
    extra = {"logit_bias": {str(end_token_id): -100}} if end_token_id is not None else None
    results = []
    for i_rho, rho in enumerate(rhos):
        rate = rho / busiest
        loaded = []
        for k in range(runs):
            schedule = build_schedule(load_shapes, rate, count=requests, seed=seed + 1000 * i_rho + k)
            loaded.append(run_load(url, schedule, prompts, model=model, api=api, stream=stream, timeout_s=timeout_s,
                                   extra_body=extra))
        summaries = [summarize(run, max_send_lag_ms=max_send_lag_ms) for run in loaded]
        lag_p99 = max(s["send_lag_ms"]["p99"] for s in summaries)
        pooled_summary = dict(summaries[0])
        pooled_summary["send_lag_ms"] = {key: max(s["send_lag_ms"][key] for s in summaries) for key in ("p50", "p99", "max")}
        pooled_summary["fell_behind"] = any(s["fell_behind"] for s in summaries)
        pooled_summary["shed"] = sum(s["shed"] for s in summaries)
        pooled_summary["errors"] = sum(s["errors"] for s in summaries)
        pool_results = []
        for j, design in enumerate(pools):
            per_run = [np.array([r.end_s - r.sent_s for r in run.records if r.ok and r.shape == design.name])  # type: ignore[operator]
                       for run in loaded]
            completed = int(sum(a.size for a in per_run))
            if completed < 20:
                raise InvalidInput("--requests", requests, f"pool {design.name} completed only {completed} requests"
                                   " at rho {rho}: give more requests or a larger share")
            prediction = predict_pool(rate * shares[design.name], slot_time[design.name], design.servers,
                                      requests_per_run=max(int(round(requests * shares[design.name])), 1), runs=runs,
                                      replications=replications, seed=seed + 7919 * (i_rho + 1) + j,
                                      overhead_s=overhead[design.name])
            comparisons = []
            for q in QUANTILES:
                m = measured_percentile(per_run, q)
                lo, hi = prediction.run_range_s[q]
                decision = (lo * (1 - tolerance), hi * (1 + tolerance))
                judged = "untrusted" if pooled_summary["fell_behind"] else verdict(m, decision)
                comparisons.append(Comparison(q, prediction.point_s[q], (lo, hi), decision, m,
                                              (prediction.point_s[q] - m.value_s) / m.value_s, judged))
            pool_results.append(PoolResult(design.name, prediction, completed, tuple(comparisons)))
        inflation: list[Inflation] = []
        for design in pools:
            iso = isolated[design.name]
            records = [r for run in loaded for r in run.records if r.shape == design.name]
            if iso.server is not None:
                found = inflation_from("server timings", server_service_under_load(records), iso.server,
                                       "the server's own per-request service, loaded vs alone", pool=design.name)
                if found is not None:
                    inflation.append(found)
            elif len(pools) == 1 and design.servers == 1:
                spacing = [x for run in loaded for x in departure_spacing([r for r in run.records if r.shape == design.name])]
                alone = _less(iso.e2el, overhead[design.name])
                found = inflation_from("departure spacing", spacing, alone,
                                       "busy-period departure spacing vs isolated client e2el less the client round"
                                       " trip (both the server's time)", pool=design.name)
                if found is not None:
                    inflation.append(found)
        residual = _residual(pools, isolated, inflation, pooled_summary, pool_results, rtt, server_time_scale)
        results.append(RhoResult(rho, rate, tuple(pool_results), tuple(inflation), lag_p99,
                                 pooled_summary["fell_behind"], pooled_summary["shed"], pooled_summary["errors"],
                                 tuple(residual)))
    notes = (
        "prediction: exact M/D/c with D = isolated e2el - round trip, plus the round trip; decision range: the model's 95% run-to-run"
        f" range for {runs} run(s) of {requests} requests, widened by the tolerance {tolerance:.0%}",
        "iid_ci95: order-statistic interval assuming independent latencies; it understates the uncertainty of"
        " correlated queue latencies and is never used alone to decide",
    )
    mode = "streamed" if stream else "non-streamed"
    return FidelityReport(url, mode, tolerance, requests, runs, isolated, rtt, tuple(results), notes)
