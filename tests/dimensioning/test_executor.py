"""The executor seam: same results in this process, in local processes and on a Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest

from dimensioning.errors import InvalidInput
from dimensioning.executor import run_tasks, task_seeds


def draw(task: tuple[int, int]) -> list[float]:
    """A seeded task: its result depends on the task only."""
    index, seed = task
    return [index, *np.random.default_rng(seed).random(3).tolist()]


def test_task_seeds_are_stable_prefixes() -> None:
    assert task_seeds(5, 3) == task_seeds(5, 10)[:3]
    assert len(set(task_seeds(5, 100))) == 100
    with pytest.raises(InvalidInput):
        task_seeds(-1, 2)


def test_local_processes_match_in_process_in_task_order() -> None:
    tasks = list(enumerate(task_seeds(1, 9)))
    seen = []
    serial = run_tasks(draw, tasks, workers=1, progress=lambda done, total: seen.append((done, total)))
    assert serial == run_tasks(draw, tasks, workers=2)
    assert [r[0] for r in serial] == list(range(9))
    assert seen[-1] == (9, 9) and len(seen) == 9
    assert run_tasks(draw, [], workers=2) == []


def test_bad_settings_name_the_option() -> None:
    with pytest.raises(InvalidInput) as err:
        run_tasks(draw, [(0, 1)], workers=0)
    assert err.value.field == "--workers"
    with pytest.raises(InvalidInput) as err:
        run_tasks(draw, [(0, 1)], scheduler="localhost")
    assert err.value.field == "--scheduler"


def test_dask_cluster_gives_the_same_results() -> None:
    try:
        from distributed import LocalCluster
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: Dask distributed is not installed (pip install 'lpuplan[test]')")
    tasks = list(enumerate(task_seeds(2, 6)))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        on_dask = run_tasks(draw, tasks, scheduler=cluster.scheduler_address)
    assert on_dask == run_tasks(draw, tasks, workers=1)


def test_unreachable_scheduler_is_an_input_error(monkeypatch) -> None:
    pytest.importorskip("distributed", reason="SKIPPED LOUDLY: Dask distributed is not installed")
    monkeypatch.setattr("dimensioning.executor._CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(InvalidInput) as err:
        run_tasks(draw, [(0, 1)], scheduler="tcp://127.0.0.1:9")
    assert "scheduler" in err.value.fix
