"""Game-day sweep speed (issue 11, item 7).

Run: ``python tests/bench/bench_gameday.py`` (or ``python -m pytest tests/bench/bench_gameday.py -s``).
Needs the ``test`` extra (distributed). Prints:

- every rack of the example site predicted (``lpuplan gameday --level rack``'s work, the plan
  built beforehand), in this process and with local processes; target: under 10 s;
- a sweep of many distinct (pool, replicas lost) tasks on a ``distributed.LocalCluster`` on
  loopback with 1 and 2 worker processes, and the speed-up of 2 workers over 1 (the same tasks,
  results identical);
- the in-process baseline of that sweep in the same run (the ratio is what to read: the machine
  is shared).
"""

from __future__ import annotations

import time

from dimensioning.executor import run_tasks, task_seeds
from facility.gameday.model import GameDayPool, GameDaySettings
from facility.gameday.transient import RunTask, simulate_pool_run

SETTINGS = GameDaySettings(seeds=10)


def _sweep_tasks() -> list[RunTask]:
    """40 distinct pools x 4 seeds: a campus's worth of distinct losses, scaled down."""
    tasks = []
    for i in range(40):
        pool = GameDayPool(f"p{i}", replicas=8 + i % 5, slots=8, service_time_s=1.0 + 0.05 * i, ttft_offset_s=0.05,
                           arrival_rate=30.0 + i, slo_s=4.0, degraded_slo_s=4.0)
        tasks += [RunTask(pool, 1 + i % 2, SETTINGS, s) for s in task_seeds(i, 4)]
    return tasks


def _timed(run):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def main() -> None:
    from lpuplan.plan import build_plan
    from lpuplan.plan_gameday import predict_plan
    from lpuplan.project import example_project_text, parse_project

    import tomllib
    from pathlib import Path

    project = parse_project(tomllib.loads(example_project_text()), Path("."))
    plan = build_plan(project)
    predict_plan(plan, domains=["row01-pod01-rack01"], workers=1)  # numba's cache and imports warm
    for workers in (1, 2):
        seconds, predictions = _timed(lambda: predict_plan(plan, level="rack", workers=workers))
        print(f"every rack of the example ({len(predictions)} domains), workers={workers}: {seconds:.2f} s"
              f" ({'within' if seconds < 10 else 'ABOVE'} the 10 s budget)")

    from distributed import LocalCluster

    tasks = _sweep_tasks()
    baseline, expected = _timed(lambda: run_tasks(simulate_pool_run, tasks, workers=1))
    print(f"sweep of {len(tasks)} runs in this process: {baseline:.2f} s")
    times = {}
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            run_tasks(simulate_pool_run, tasks[:n], scheduler=cluster.scheduler_address)  # workers import and compile
            seconds, got = _timed(lambda: run_tasks(simulate_pool_run, tasks, scheduler=cluster.scheduler_address))
        same = all(a.phases == b.phases or str(a.phases) == str(b.phases) for a, b in zip(got, expected))
        times[n] = seconds
        print(f"Dask LocalCluster, {n} worker(s): {seconds:.2f} s ({baseline / seconds:.2f}x in-process);"
              f" results identical: {same}")
    print(f"speed-up of 2 workers over 1: {times[1] / times[2]:.2f}x")


def test_bench_gameday() -> None:  # collected only when run explicitly (tests/bench is not in testpaths)
    main()


if __name__ == "__main__":
    main()
