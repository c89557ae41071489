"""Simulator speed against Ciw on the same M/D/c model (issue 3, item 6).

Run: ``python tests/bench/bench_simulate.py`` (or ``python -m pytest tests/bench/bench_simulate.py -s``).
Needs the ``test`` extra (ciw). Prints requests simulated per second for

- Ciw 3 (the reference discrete-event library), M/D/c with the same parameters;
- the general compiled event loop (forced with an unreachable Queue_cap);
- the Lindley fast path, compiled and vectorised (engine only, arrivals given);
- ``simulate()`` end to end on the fast path (arrival draws + engine, no summary);

- ``lpuplan queue --simulate N`` as a whole process (arrivals, engine,
  percentiles, intervals, JSON out) at N = 2e6 and 2e7: the MARGINAL rate
  (N2 - N1) / (t2 - t1), in wall time and in the child's CPU time (the
  development machine is shared, so wall time alone swings with the load),
  beside the baseline in the same run: the general ``simulate()`` (records +
  summary, what ``queue --simulate`` ran before) at the same two sizes;

and checks agreement: Ciw's p99 wait and the exact M/D/c p99 against the
simulator's 95% interval, Ciw's own sectioning interval against ours (overlap).
Targets: event loop >= 100x Ciw; fast path >= 10 million requests/s;
``queue --simulate`` marginal >= 10 million requests/s (issue 8, item 7).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dimensioning.simulate import DeterministicService, Poisson, Pool, simulate
from dimensioning.simulate.lindley import lindley_start_times
from dimensioning.simulate.statistics import quantile, sectioning_estimate

SERVERS = 4
RHO = 0.8
SERVICE_S = 1.0
RATE = RHO * SERVERS / SERVICE_S
CIW_REQUESTS = 40_000
EVENT_REQUESTS = 4_000_000
FAST_REQUESTS = 20_000_000


def _best(run, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def run_ciw(requests: int, seed: int = 1) -> tuple[float, np.ndarray]:
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE)],
        service_distributions=[ciw.dists.Deterministic(value=SERVICE_S)],
        number_of_servers=[SERVERS],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    started = time.perf_counter()
    simulation.simulate_until_max_customers(requests, method="Finish")
    wall = time.perf_counter() - started
    records = sorted(simulation.get_all_records(), key=lambda r: r.arrival_date)
    return wall, np.array([r.waiting_time for r in records])


QUEUE_SIZES = (2_000_000, 20_000_000)


def _queue_cli(requests: int) -> tuple[float, float]:
    """(wall s, CPU s) of one ``lpuplan queue --simulate`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [str(Path(sys.executable).with_name("lpuplan")), "queue", "--rate", str(RATE), "--service-ms", str(SERVICE_S * 1e3),
         "--servers", str(SERVERS), "--simulate", str(requests), "--json"],
        check=True, capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert json.loads(out.stdout)["simulated"]["requests"] == requests
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def queue_marginal() -> dict[str, float]:
    """Marginal requests/s of ``lpuplan queue --simulate`` and of the general ``simulate()`` baseline."""
    _queue_cli(QUEUE_SIZES[0])  # warm the numba cache
    small, large = (min((_queue_cli(n) for _ in range(2)), key=lambda x: x[1]) for n in QUEUE_SIZES)
    extra = QUEUE_SIZES[1] - QUEUE_SIZES[0]
    baseline = []
    for n in QUEUE_SIZES:
        cpu = time.process_time()
        simulate(Pool(replicas=SERVERS), Poisson(RATE), DeterministicService(SERVICE_S), seed=5, requests=n)
        baseline.append(time.process_time() - cpu)
    return {
        "queue_cli_marginal_wall_rps": extra / max(large[0] - small[0], 1e-9),
        "queue_cli_marginal_cpu_rps": extra / max(large[1] - small[1], 1e-9),
        "baseline_simulate_marginal_cpu_rps": extra / max(baseline[1] - baseline[0], 1e-9),
    }


def main() -> dict[str, float]:
    figures: dict[str, float] = {}
    figures.update(queue_marginal())
    ciw_wall, ciw_waits = run_ciw(CIW_REQUESTS)
    figures["ciw_rps"] = CIW_REQUESTS / ciw_wall

    pool_event = Pool(replicas=SERVERS, queue_cap=10**12)  # unreachable cap: forces the event loop
    simulate(pool_event, Poisson(RATE), DeterministicService(SERVICE_S), seed=0, requests=1000)  # compile/load
    arrival = np.cumsum(np.random.default_rng(0).exponential(1 / RATE, FAST_REQUESTS))
    from dimensioning.simulate.event_loop import run_event_loop

    event_arrival = arrival[:EVENT_REQUESTS].copy()
    service = np.full(EVENT_REQUESTS, SERVICE_S)
    rejected = np.zeros(EVENT_REQUESTS, dtype=np.bool_)
    uniforms = np.random.default_rng(1).random(1024)

    def event_loop() -> None:
        run_event_loop(event_arrival, service, rejected, SERVERS, 1, 0, -1, np.inf, np.zeros(SERVERS, np.bool_),
                       np.inf, np.inf, np.inf, False, 0, 0.0, 0, uniforms)

    figures["event_loop_rps"] = EVENT_REQUESTS / _best(event_loop)
    lindley_start_times(arrival[:100], SERVICE_S, SERVERS)
    figures["lindley_compiled_rps"] = FAST_REQUESTS / _best(lambda: lindley_start_times(arrival, SERVICE_S, SERVERS))
    figures["lindley_vectorised_rps"] = FAST_REQUESTS / _best(
        lambda: lindley_start_times(arrival, SERVICE_S, SERVERS, method="vectorised")
    )

    def end_to_end() -> None:
        rng = np.random.default_rng(3)
        times = Poisson(RATE).times(rng, count=FAST_REQUESTS)
        lindley_start_times(times, SERVICE_S, SERVERS)

    figures["fast_path_with_arrivals_rps"] = FAST_REQUESTS / _best(end_to_end)
    started = time.perf_counter()
    big = simulate(Pool(replicas=SERVERS), Poisson(RATE), DeterministicService(SERVICE_S), seed=5, requests=4_000_000)
    figures["simulate_with_summary_rps"] = 4_000_000 / (time.perf_counter() - started)

    ours = big.summary.wait["p99"]
    warm = ciw_waits[len(ciw_waits) // 50 :]
    ciw_p99 = float(quantile(warm, 0.99))
    ciw_interval = sectioning_estimate(warm, lambda x: np.atleast_1d(quantile(x, 0.99)))[0]
    figures["ours_p99_s"], figures["ours_p99_low"], figures["ours_p99_high"] = ours.value, ours.low, ours.high
    figures["ciw_p99_s"], figures["ciw_p99_low"], figures["ciw_p99_high"] = ciw_p99, ciw_interval.low, ciw_interval.high
    try:
        from dimensioning.queueing import MDc

        figures["exact_p99_s"] = float(MDc(arrival_rate=RATE, service_time=SERVICE_S, servers=SERVERS).wait.ppf(0.99))
    except ImportError:
        pass

    print(f"M/D/{SERVERS}, rho = {RHO}, D = {SERVICE_S} s")
    for key, value in figures.items():
        print(f"  {key:32s} {value:16,.4f}" if value < 1000 else f"  {key:32s} {value:16,.0f}")
    print(f"  event loop / Ciw: {figures['event_loop_rps'] / figures['ciw_rps']:,.0f}x (target >= 100x)")
    print(f"  fast path: {figures['lindley_compiled_rps'] / 1e6:,.1f} M requests/s (target >= 10)")
    print(f"  queue --simulate marginal: {figures['queue_cli_marginal_cpu_rps'] / 1e6:,.1f} M requests/s CPU, "
          f"{figures['queue_cli_marginal_wall_rps'] / 1e6:,.1f} M wall (target >= 10); "
          f"{figures['queue_cli_marginal_cpu_rps'] / figures['baseline_simulate_marginal_cpu_rps']:,.1f}x "
          "the general simulate() baseline")
    agree = ours.low <= ciw_p99 <= ours.high or (ciw_interval.low <= ours.high and ours.low <= ciw_interval.high)
    print(f"  Ciw p99 {ciw_p99:.4f} s vs ours {ours.value:.4f} s [{ours.low:.4f}, {ours.high:.4f}]: "
          f"{'agree' if agree else 'DISAGREE'} (intervals overlap or Ciw's point inside ours)")
    if "exact_p99_s" in figures:
        print(f"  exact p99 {figures['exact_p99_s']:.4f} s inside ours: {ours.contains(figures['exact_p99_s'])}")
    return figures


def test_bench_simulate() -> None:
    figures = main()
    assert figures["event_loop_rps"] >= 100 * figures["ciw_rps"]
    assert figures["lindley_compiled_rps"] >= 10e6
    assert figures["queue_cli_marginal_cpu_rps"] >= 10e6


if __name__ == "__main__":
    main()
