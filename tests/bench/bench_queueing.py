"""Speed of the exact M/D/c p99: ``MDc(...).wait.ppf(0.99)``, construction included.

Run on demand (not collected by CI):

    python tests/bench/bench_queueing.py

Target: <= 20 ms per p99 at c = 1024, rho = 0.99. Each cell builds a fresh
model (no caching across calls) and reports the median of several runs. The
second table times the simulated models (a fresh seed per call, so no cache
hit) and Erlang B at a billion servers.
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console
from rich.table import Table

import itertools

from dimensioning.queueing import GIDc, GIDcK, MDc, MDcK, MG1, MGc, erlang_b

_SEEDS = itertools.count(1)  # simulated models are cached per seed: a fresh seed is a fresh run

SERVERS = (1, 8, 64, 512, 1024)
LOADS = (0.5, 0.9, 0.99)
SERVICE_TIME = 0.25  # seconds; the time scale does not change the work


def time_p99(servers: int, rho: float, repeats: int) -> tuple[float, float]:
    """Median milliseconds for one fresh MDc(...).wait.ppf(0.99), and the p99 it returned."""
    samples = []
    value = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = MDc(servers * rho / SERVICE_TIME, SERVICE_TIME, servers).wait.ppf(0.99)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), value


def time_call(build, repeats: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        build()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main() -> None:
    console = Console()
    time_p99(8, 0.9, 2)  # warm imports and caches of numpy/scipy
    table = Table(title="MDc(...).wait.ppf(0.99): median ms per fresh model (p99 in units of D)")
    table.add_column("c", justify="right")
    for rho in LOADS:
        table.add_column(f"rho={rho} ms", justify="right")
        table.add_column("p99/D", justify="right")
    for servers in SERVERS:
        row = [str(servers)]
        for rho in LOADS:
            milliseconds, p99 = time_p99(servers, rho, repeats=7)
            row += [f"{milliseconds:.2f}", f"{p99 / SERVICE_TIME:.4g}"]
        table.add_row(*row)
    console.print(table)
    others = Table(title="other models: median ms per fresh model and p99")
    others.add_column("model")
    others.add_column("ms", justify="right")
    others.add_row("MG1 two buckets rho=0.9 ppf(0.99)",
                   f"{time_call(lambda: MG1(0.9 / 0.55, [0.1, 1.0], [0.5, 0.5]).wait.ppf(0.99), 5):.1f}")
    others.add_row("MG1 two buckets rho=0.99 ppf(0.99)",
                   f"{time_call(lambda: MG1(0.99 / 0.55, [0.1, 1.0], [0.5, 0.5]).wait.ppf(0.99), 3):.1f}")
    others.add_row("MDcK c=1 K=1000 rho=0.9 blocking + ppf(0.99)",
                   f"{time_call(lambda: MDcK(0.9, 1.0, 1, 1000).wait.ppf(0.99), 3):.1f}")
    others.add_row("MDcK c=64 K=80 rho=0.95 (simulated, 2e6 requests) blocking + ppf(0.99)",
                   f"{time_call(lambda: MDcK(60.8, 1.0, 64, 80, seed=next(_SEEDS)).wait.ppf(0.99), 3):.1f}")
    others.add_row("GIDcK c=16 K=32 rho=0.9 SCV 4 (simulated) blocking",
                   f"{time_call(lambda: GIDcK(14.4, 1.0, 16, 32, 4.0, seed=next(_SEEDS)).blocking_probability, 3):.1f}")
    others.add_row("GIDc c=64 rho=0.8 SCV 8 (simulated) ppf(0.99)",
                   f"{time_call(lambda: GIDc(51.2, 1.0, 64, 8.0, seed=next(_SEEDS)).wait.ppf(0.99), 3):.1f}")
    others.add_row("MGc c=32 rho=0.9 [0.05, 2.0] s 95/5% (simulated) ppf(0.99)",
                   f"{time_call(lambda: MGc(32 * 0.9 / 0.1475, [0.05, 2.0], [0.95, 0.05], 32, seed=next(_SEEDS)).wait.ppf(0.99), 3):.1f}")
    others.add_row("erlang_b(0.999e9, 1e9)", f"{time_call(lambda: erlang_b(0.999e9, 10**9), 5):.3f}")
    others.add_row("erlang_b(1e9, 1e9)", f"{time_call(lambda: erlang_b(1e9, 10**9), 5):.3f}")
    console.print(others)


if __name__ == "__main__":
    main()
