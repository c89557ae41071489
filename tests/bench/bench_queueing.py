"""Speed of the exact M/D/c p99: ``MDc(...).wait.ppf(0.99)``, construction included.

Run on demand (not collected by CI):

    python tests/bench/bench_queueing.py

Target: <= 20 ms per p99 at c = 1024, rho = 0.99. Each cell builds a fresh
model (no caching across calls) and reports the median of several runs.
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console
from rich.table import Table

from dimensioning.queueing import MDc, MG1, MDcK

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
    others.add_row("MDcK c=64 K=96 rho=0.9 blocking + ppf(0.99)",
                   f"{time_call(lambda: MDcK(57.6, 1.0, 64, 96).wait.ppf(0.99), 3):.1f}")
    console.print(others)


if __name__ == "__main__":
    main()
