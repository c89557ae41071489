"""Predicted vs measured on a real server: bench, predict, load, compare.

:func:`run_fidelity` for each pool design (a request shape, its share of the
traffic and the slots that serve it):

1. measures the shape's isolated e2el alone (:mod:`benchmarks.validate.isolated`,
   the harness's sweep, in the load's serving mode) and the client's round
   trip ``delta`` (a trivial request); the queue's ``D`` is the MEDIAN
   isolated e2el - delta (the slot time: the round trip holds no slot; the
   median because scheduler and network hiccups only ever add time, in a
   heavy upper tail that is not the server's service), at most halving it;
   ONE pool served by ONE server (``servers == 1``) is measured better, just
   before each utilisation's load: its service LAW at saturation
   (:mod:`benchmarks.validate.saturated`: bursts, the makespan per request
   and the departure spacing: the time a request keeps the server from the
   next, which is the queue's service time by definition) and its e2el alone
   from the same client; ``overhead`` = e2el alone - the law's median (the
   part of a latency that holds no server). The isolated e2el less the round
   trip of a trivial request was 1.1-1.4x the service on llama-cpp-python
   (idle wake-ups and client work that overlap another request's service
   under load), which set the utilisation that much too high;
2. for each utilisation ``rho`` sets the total rate so that the busiest pool
   runs at ``rho`` (``lambda = rho / max_b(share_b D_b / c_b)``) and predicts
   each pool's e2el p50/p95/p99 with the exact M/D/c model (one server with a
   measured law: the exact M/G/1 with that law) and the model's run-to-run
   range for exactly the measured design (:mod:`benchmarks.validate.predict`);
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
spacing with one server) and its inflation over the isolated figure (one
server: over the law measured just before), and lists what may explain a
residual, among them the CPU time the generator's machine lost to its
hypervisor during the runs (``steal_s``, Linux). With one server it predicts once more with the law measured UNDER
the load (``PoolResult.given_service``): the queue model without the error of
its input, which tells a server that changed speed from a wrong model. ``passed`` is False when any verdict is
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
from benchmarks.validate.saturated import SaturatedService, measure_saturated
from benchmarks.validate.steal import steal_seconds
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
    # One FCFS server: the same model fed the service law measured UNDER this load (busy-period departure
    # spacing): what the queue model predicts given the service the server really gave. It separates a wrong
    # service input (the server ran slower or faster than measured before the load) from a wrong queue model.
    # Reported and judged alike; ``passed`` rests on ``comparisons`` only.
    given_service: Prediction | None = None
    given_service_comparisons: tuple[Comparison, ...] = ()


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
    saturated: SaturatedService | None = None  # one server: its service law measured just before this load
    steal_s: float | None = None  # CPU time the generator's machine lost to its hypervisor during the runs (Linux)


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
                if p_obj.given_service is not None:
                    for key in ("point_s", "run_range_s"):
                        p["given_service"][key] = {quantile_key(q): v for q, v in getattr(p_obj.given_service, key).items()}
                for c_obj, c in zip(p_obj.comparisons + p_obj.given_service_comparisons,
                                    p["comparisons"] + p["given_service_comparisons"]):
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


def _compare(prediction: Prediction, per_run: list[np.ndarray], tolerance: float, fell_behind: bool) -> tuple[Comparison, ...]:
    out = []
    for q in QUANTILES:
        m = measured_percentile(per_run, q)
        lo, hi = prediction.run_range_s[q]
        decision = (lo * (1 - tolerance), hi * (1 + tolerance))
        judged = "untrusted" if fell_behind else verdict(m, decision)
        out.append(Comparison(q, prediction.point_s[q], (lo, hi), decision, m, (prediction.point_s[q] - m.value_s) / m.value_s,
                              judged))
    return tuple(out)


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
              summary: dict[str, Any], results: Sequence[PoolResult], rtt: Mean, server_time_scale: float,
              saturated: SaturatedService | None = None) -> list[str]:
    if saturated is None:
        notes = [f"client round trip {rtt.value * 1e3:.2f} ms (95% CI {rtt.ci95[0] * 1e3:.2f}-{rtt.ci95[1] * 1e3:.2f}):"
                 " taken out of D (it holds no slot) and added to every predicted latency"]
    else:
        (design,), (result,) = pools, results
        iso, pred, law = isolated[design.name], result.prediction, saturated.mean
        alone = saturated.alone.median
        old_d = iso.e2el.median - min(rtt.value, 0.5 * iso.e2el.median)
        notes = [f"{design.name}: service on the server (measured just before this load: {saturated.bursts} bursts of"
                 f" {saturated.burst_size}, makespan per request and departure spacing) mean {law.value * 1e3:.2f} ms"
                 f" (95% CI {law.ci95[0] * 1e3:.2f}-{law.ci95[1] * 1e3:.2f}), median {law.median * 1e3:.2f} ms, CV"
                 f" {law.cv:.2f}, {law.n} samples: M/G/1 with this law (M/D/1 would understate the mean wait"
                 f" x{1 + law.cv ** 2:.2f})",
                 f"{design.name}: e2el alone (same client, same moment) median {alone * 1e3:.2f} ms exceeds the service"
                 f" median by {pred.overhead_s * 1e3:.2f} ms (client round trip {rtt.value * 1e3:.2f} ms, client and"
                 " server work that overlaps another request's service, idle wake-ups): it holds no server, so it is"
                 " added to every predicted latency, not to the service"
                 + (f"; D = isolated sweep e2el - round trip ({old_d * 1e3:.2f} ms) would have set the utilisation"
                    f" {old_d / law.value:.2f}x too high" if abs(old_d / law.value - 1) > 0.05 else "")]
        if saturated.shed or saturated.errors:
            notes.append(f"{design.name}: the saturation bursts had {saturated.shed} shed and {saturated.errors} failed"
                         " requests, left out of the spacing")
    for infl in inflation:
        lo, hi = infl.ci95
        side = "slower" if lo > 1 + 1e-9 else ("faster" if hi < 1 - 1e-9 else "no different (within its interval)")
        before = "figure at saturation just before" if saturated is not None else "isolated figure"
        notes.append(f"service under load ({infl.source}): x{infl.ratio:.3f} (95% CI {lo:.3f}-{hi:.3f}) of the"
                     f" {before}, {side}; {infl.note}")
    for design in pools:
        iso = isolated[design.name]
        if saturated is None and iso.e2el.cv > 0.05:
            notes.append(f"{design.name}: isolated service CV {iso.e2el.cv:.2f}: not deterministic; M/D/c then"
                         f" understates waits (P-K: mean wait x{(1 + iso.e2el.cv ** 2):.2f} against M/D/1)")
        if iso.server is not None:
            outside = iso.e2el.value - iso.server.value / server_time_scale
            notes.append(f"{design.name}: isolated e2el exceeds the server-reported service by {outside * 1e3:.1f} ms"
                         " (round trip, HTTP, and any fixed overhead the server leaves out of its timing)")
    for result in results:
        given = result.given_service
        if given is None:
            continue
        parts = ", ".join(f"p{c.quantile * 100:g} {c.predicted_s * 1e3:.1f} ms ({c.verdict}, error {c.relative_error:+.1%})"
                          for c in result.given_service_comparisons)
        notes.append(f"{result.name}: given the service law measured under this load (busy-period departure spacing,"
                     f" {given.service_samples} samples, mean {given.service_s * 1e3:.2f} ms, CV {given.service_cv:.2f}:"
                     f" utilisation {given.utilization:.2f} where {result.prediction.utilization:.2f} was set), M/G/1"
                     f" predicts {parts}: the queue model alone, without the error of its service input")
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
    bench_warmup: int = 2,
    client: str = "auto",
    event_loop: str = "auto",
    spin_s: float = 0.0,
    saturation_bursts: int = 4,
    saturation_burst_size: int = 16,
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
                                      warmup=bench_warmup, api=api, end_token_id=end_token_id, timeout_s=timeout_s,
                                      seed=seed)
    isolated = {p.name: measured_alone[(p.prompt_tokens, p.output_tokens)] for p in pools}
    rtt = round_trip_s(url, timeout_s=timeout_s)
    overhead = {p.name: min(rtt.value, 0.5 * isolated[p.name].e2el.median) for p in pools}
    slot_time = {p.name: isolated[p.name].e2el.median - overhead[p.name] for p in pools}
    total_share = math.fsum(p.share for p in pools)
    shares = {p.name: p.share / total_share for p in pools}
    load_shapes = tuple(Shape(p.name, p.prompt_tokens, p.output_tokens, shares[p.name]) for p in pools)
    prompts = build_prompts(sorted({p.prompt_tokens for p in pools}), tokenizer, url, model, timeout_s=timeout_s,
                            seed=seed, api=api, variants=prompt_variants)
    extra = {"logit_bias": {str(end_token_id): -100}} if end_token_id is not None else None
    load_options = dict(model=model, api=api, stream=stream, timeout_s=timeout_s, extra_body=extra, client=client,
                        event_loop=event_loop, spin_s=spin_s)
    # One FCFS server: its service law from departure spacing at saturation, re-measured before each load
    # (benchmarks.validate.saturated); otherwise D = isolated e2el - round trip (M/D/c).
    single = len(pools) == 1 and pools[0].servers == 1 and saturation_bursts > 0
    results = []
    for i_rho, rho in enumerate(rhos):
        saturated: SaturatedService | None = None
        if single:
            (design,) = pools
            saturated = measure_saturated(url, load_shapes[0], prompts, estimate_s=isolated[design.name].e2el.median,
                                          bursts=saturation_bursts, burst_size=saturation_burst_size, **load_options)
            law = np.asarray(saturated.samples_s)
            slot_time[design.name] = float(law.mean())
            overhead[design.name] = max(saturated.alone.median - float(np.median(law)), 0.0)
        busiest = max(shares[p.name] * slot_time[p.name] / p.servers for p in pools)
        rate = rho / busiest
        loaded = []
        stolen_before = steal_seconds()
        for k in range(runs):
            schedule = build_schedule(load_shapes, rate, count=requests, seed=seed + 1000 * i_rho + k)
            loaded.append(run_load(url, schedule, prompts, **load_options))
        stolen_after = steal_seconds()
        stolen = stolen_after - stolen_before if stolen_before is not None and stolen_after is not None else None
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
                                      overhead_s=overhead[design.name],
                                      service_samples_s=saturated.samples_s if saturated is not None else None)
            comparisons = _compare(prediction, per_run, tolerance, pooled_summary["fell_behind"])
            given, given_comparisons = None, ()
            if saturated is not None:
                spacing = [x for run in loaded for x in departure_spacing([r for r in run.records if r.shape == design.name])]
                if len(spacing) >= 20:
                    given = predict_pool(rate, 0.0, 1, requests_per_run=requests, runs=runs, replications=replications,
                                         seed=seed + 7919 * (i_rho + 1) + j, overhead_s=overhead[design.name],
                                         service_samples_s=spacing)
                    given_comparisons = _compare(given, per_run, tolerance, pooled_summary["fell_behind"])
            pool_results.append(PoolResult(design.name, prediction, completed, comparisons, given, given_comparisons))
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
                if saturated is not None:
                    alone, note = saturated.mean, ("busy-period departure spacing under this load vs the same in"
                                                  " bursts at saturation just before it (both the server's time)")
                else:
                    alone = _less(iso.e2el, overhead[design.name])
                    note = ("busy-period departure spacing vs isolated client e2el less the client round trip (both"
                            " the server's time)")
                found = inflation_from("departure spacing", spacing, alone, note, pool=design.name)
                if found is not None:
                    inflation.append(found)
        residual = _residual(pools, isolated, inflation, pooled_summary, pool_results, rtt, server_time_scale,
                             saturated)
        if stolen:
            residual.append(f"this machine lost {stolen * 1e3:.0f} ms of CPU time to its hypervisor (steal, all CPUs,"
                            f" /proc/stat) during these {runs} run(s): the generator stopped that long, and so did the"
                            " server if it runs here; a stall of T ms can lift any latency by up to T")
        results.append(RhoResult(rho, rate, tuple(pool_results), tuple(inflation), lag_p99,
                                 pooled_summary["fell_behind"], pooled_summary["shed"], pooled_summary["errors"],
                                 tuple(residual), saturated, stolen))
    notes = (
        ("prediction: exact M/G/1 with the service law measured at saturation just before each load, plus the e2el"
         " alone less the law's median; decision range" if single else
         "prediction: exact M/D/c with D = isolated e2el - round trip, plus the round trip; decision range") + ": the model's 95% run-to-run"
        f" range for {runs} run(s) of {requests} requests, widened by the tolerance {tolerance:.0%}",
        "iid_ci95: order-statistic interval assuming independent latencies; it understates the uncertainty of"
        " correlated queue latencies and is never used alone to decide",
    )
    mode = "streamed" if stream else "non-streamed"
    return FidelityReport(url, mode, tolerance, requests, runs, isolated, rtt, tuple(results), notes)
