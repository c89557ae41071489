"""Benchmark: `lpuplan search` at 45 candidates and at about 10,000, with 1 and 2 local workers.

Run: python tests/bench/bench_search.py [--large N] [--repeats R] [--compare PATH]

Targets (issue 13): 45 candidates in under 1 s; a 10,000-candidate search
timed and reported; the speed-up with 1 vs 2 local workers.

Every figure is measured in a fresh process (no warm caches), two ways:

- whole process: ``python -m lpuplan.cli search FILE --json`` (interpreter
  start-up, imports, loading, searching, printing); its baseline in the same
  run is ``python -c "import lpuplan.cli"``;
- in process: :func:`lpuplan.search.search` alone (wall and CPU seconds of the
  calling process; with 2 workers the CPU of the workers is not counted), after
  the imports and the project load; CPU includes the worker processes'.

The on-disk cache of simulation results is off (``LPUPLAN_NO_CACHE=1``), so
every figure is computed. ``--compare PATH`` times the same in-process search with the lpuplan source
tree at PATH (e.g. a checkout of the previous version) in the same run and
prints the ratio, so a speed-up is a paired figure, not one against a number
measured on another day. The load average is printed with the results: on a
shared machine wall times move with it; CPU times much less.

The 45 candidates are the embedded example (`lpuplan init`) with slots x
rho_target_normal x rho_target_degraded (3 x 5 x 3). The large grid is bucket
sets x max_output_tokens x slots x rho_target_normal x rho_target_degraded x
replicas_lost_worst (4 x k x 5 x 5 x 5 x 2, k = N / 1000 rounded up), dedicated
pools; ``--shared`` doubles it with pool = shared (each shared candidate sizes
an M/G/c pool by simulation, about a second each).
"""

from __future__ import annotations

import argparse
import json
import math
import os
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

_IN_PROCESS = """
import json, os, sys, time
if os.environ.get("BENCH_TREE"):  # the tree to time, ahead of an editable install's import hook
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in (getattr(f, "__module__", "") or "")]
    sys.path.insert(0, os.environ["BENCH_TREE"])
from lpuplan.project import load_project
from lpuplan.search import search
project = load_project(sys.argv[1])
import resource
def cpu_now():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime
wall, (cpu, cpu_workers) = time.perf_counter(), cpu_now()
result = search(project, workers=int(sys.argv[2]))
wall = time.perf_counter() - wall
after = cpu_now()
cpu, cpu_workers = after[0] - cpu, after[1] - cpu_workers
kinds = {}
for c in result.candidates:
    k = getattr(c, "max_rate_certified", "unlabelled")
    kinds[k] = kinds.get(k, 0) + 1
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "cpu_workers_s": cpu_workers, "candidates": len(result.candidates), "certified": kinds,
                  "recommended": result.recommended}))
"""


def _large(n: int, shared: bool) -> str:
    outs = [256 + 128 * i for i in range(max(1, math.ceil(n / 1000)))]
    return ('\n[search]\nbuckets = [["p512", "p2048", "p4096", "p8192"], ["p2048", "p4096", "p8192"],'
            ' ["p512", "p2048", "p8192"], ["p2048", "p8192"]]\n'
            f"max_output_tokens = {outs}\nslots = [2, 4, 8, 16, 32]\n"
            "rho_target_normal = [0.5, 0.55, 0.6, 0.65, 0.7]\n"
            "rho_target_degraded = [0.75, 0.8, 0.85, 0.9, 0.95]\nreplicas_lost_worst = [1, 2]\n"
            + ('pool = ["dedicated", "shared"]\n' if shared else "") + "max_candidates = 1000000\n")


def _whole(cmd: list[str], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode not in (0, 3):
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-400:]}")
        out.append(time.perf_counter() - start)
    return out


def _in_process(project: Path, workers: int, tree: str | None = None) -> dict:
    env = dict(os.environ)
    if tree is not None:
        env["BENCH_TREE"] = str(Path(tree).resolve())
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(project), str(workers)], check=False,
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"in-process search failed: {done.stderr[-600:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    # every run computes: no figure read back from the on-disk cache of simulations (dimensioning.result_cache)
    os.environ["LPUPLAN_NO_CACHE"] = "1"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=0, help="also time a search of about N candidates")
    parser.add_argument("--shared", action="store_true", help="the large grid also tries one shared pool")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", help="another lpuplan source tree to time the 45-candidate search with")
    parser.add_argument("--large-only", action="store_true", help="skip the 45-candidate figures")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "lpuplan.cli", "init", tmp], check=True, stdout=subprocess.DEVNULL)
        base_text = (Path(tmp) / "lpuplan.toml").read_text()
        small = Path(tmp) / "s45.toml"
        small.write_text(base_text + _SEARCH_45)

        def show(name: str, runs: list[dict]) -> dict:
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] + r["cpu_workers_s"] for r in runs)
            print(f"{name:<48} wall {wall:8.3f} s  cpu {cpu:8.3f} s  ({runs[0]['candidates']} candidates;"
                  f" max rate certified {runs[0]['certified']})")
            return {"wall": wall, "cpu": cpu}

        if not args.large_only:
            base = _whole([sys.executable, "-c", "import lpuplan.cli"], args.repeats)
            rows = [("import lpuplan.cli (baseline)", base)]
            for workers in (1, 2):
                cmd = [sys.executable, "-m", "lpuplan.cli", "search", str(small), "--json", "--workers", str(workers)]
                rows.append((f"whole process, 45 candidates, {workers} worker(s)", _whole(cmd, args.repeats)))
            print(f"{'command':<48} {'median s':>9} {'min s':>9} {'x baseline':>10}")
            b = statistics.median(base)
            for name, times in rows:
                print(f"{name:<48} {statistics.median(times):9.3f} {min(times):9.3f} {statistics.median(times) / b:10.2f}")


            print("in process (search() only, fresh process each):")
            one = show("  45 candidates, 1 worker", [_in_process(small, 1) for _ in range(args.repeats)])
            two = show("  45 candidates, 2 workers", [_in_process(small, 2) for _ in range(args.repeats)])
            print(f"  45 candidates, 1 worker: target < 1 s {'met' if one['wall'] < 1.0 else 'MISSED'} in wall time,"
                  f" {'met' if one['cpu'] < 1.0 else 'MISSED'} in CPU time (wall moves with the load average);"
                  f" 1 worker / 2 workers wall = {one['wall'] / two['wall']:.2f}")
            if args.compare:
                old = show(f"  45 candidates, 1 worker, {args.compare}",
                           [_in_process(small, 1, args.compare) for _ in range(args.repeats)])
                print(f"  speed-up against {args.compare}: wall x{old['wall'] / one['wall']:.1f},"
                      f" cpu x{old['cpu'] / one['cpu']:.1f}")
        if args.large:
            large = Path(tmp) / "large.toml"
            large.write_text(base_text + _large(args.large, args.shared))
            l1 = show("  large grid, 1 worker", [_in_process(large, 1)])
            l2 = show("  large grid, 2 workers", [_in_process(large, 2)])
            print(f"  large grid: 1 worker / 2 workers wall = {l1['wall'] / l2['wall']:.2f}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
