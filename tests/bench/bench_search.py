"""Benchmark: `lpuplan search` as a whole process, at 45 candidates and a larger search.

Run: python tests/bench/bench_search.py [--large N] [--repeats R]

Targets (issue 13): 45 candidates in under 1 s; a 10,000-candidate search
reported; the speed-up with 1 and 2 local workers. The baseline in the same
run is `python -c "import lpuplan.cli"` (interpreter start-up and imports).
The searched project is the embedded example with a [search] table: slots x
rho_target_normal x rho_target_degraded x pool (45 = 3 x 5 x 3 x 1, or the
large grid from max_output_tokens x slots x rho targets x pool).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SEARCH_45 = """
[search]
slots = [4, 8, 16]
rho_target_normal = [0.5, 0.6, 0.7, 0.8, 0.9]
rho_target_degraded = [0.8, 0.85, 0.9]
"""


def _large(n: int) -> str:
    # max_output_tokens x slots x rho_normal x rho_degraded x pool, trimmed to about n candidates
    outs = [256 * (i + 1) for i in range(max(1, round((n / 2 / 4 / 5 / 5) ** 1.0)))]
    return ("\n[search]\nmax_output_tokens = " + str(outs) + "\nslots = [2, 4, 8, 16]\n"
            "rho_target_normal = [0.5, 0.6, 0.7, 0.8, 0.9]\nrho_target_degraded = [0.8, 0.85, 0.9, 0.93, 0.95]\n"
            'pool = ["dedicated", "shared"]\nmax_candidates = 1000000\n')


def _time(cmd: list[str], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode not in (0, 3):
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-400:]}")
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=0, help="also time a search of about N candidates")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "lpuplan.cli", "init", tmp], check=True, stdout=subprocess.DEVNULL)
        base_text = (Path(tmp) / "lpuplan.toml").read_text()
        small = Path(tmp) / "s45.toml"
        small.write_text(base_text + _SEARCH_45)
        base = _time([sys.executable, "-c", "import lpuplan.cli"], args.repeats)
        rows = [("import lpuplan.cli (baseline)", base)]
        for workers in (1, 2):
            cmd = [sys.executable, "-m", "lpuplan.cli", "search", str(small), "--json", "--workers", str(workers)]
            rows.append((f"search 45 candidates, {workers} worker(s)", _time(cmd, args.repeats)))
        if args.large:
            large = Path(tmp) / "large.toml"
            large.write_text(base_text + _large(args.large))
            for workers in (1, 2):
                cmd = [sys.executable, "-m", "lpuplan.cli", "search", str(large), "--json", "--workers", str(workers)]
                rows.append((f"search large grid, {workers} worker(s)", _time(cmd, 1)))
    print(f"{'command':<44} {'median s':>9} {'min s':>9} {'x baseline':>10}")
    b = statistics.median(base)
    for name, times in rows:
        print(f"{name:<44} {statistics.median(times):9.3f} {min(times):9.3f} {statistics.median(times) / b:10.2f}")
    one, two = statistics.median(rows[1][1]), statistics.median(rows[2][1])
    print(f"45 candidates: 2 workers / 1 worker = {two / one:.2f}; target < 1 s: {'met' if min(one, two) < 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
