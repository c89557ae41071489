"""One executor seam for work that grows with the fleet (DESIGN.md, "Scaling out").

:func:`run_tasks` maps a function over a list of tasks and returns the results
in task order. Where it runs:

- ``scheduler=None`` (default): local processes (:mod:`concurrent.futures`,
  one worker per CPU unless ``workers`` says otherwise); ``workers=1`` runs in
  this process, with no pool (tests, notebooks, small sweeps);
- ``scheduler="tcp://host:8786"``: a Dask distributed cluster
  (``distributed.Client``; install the ``distributed`` extra). The workers
  must run the same lpuplan version in the same environment, since tasks are
  pickled by reference to their module-level function.

Results are identical wherever the tasks run, because nothing here draws a
random number: each task carries its own seed (derive them with
:func:`task_seeds`), so a task's result depends only on the task.

Requirements on ``fn`` and the tasks: ``fn`` is a module-level function
(picklable by reference) that takes one task and returns a picklable value;
it must not rely on state of the calling process (globals set at run time).

Example
-------
>>> from dimensioning.executor import run_tasks
>>> run_tasks(abs, [-1, 2, -3], workers=1)
[1, 2, 3]

Game-day sweeps (:mod:`facility.gameday`) run through this seam; so can a
configuration search or a load sweep.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from dimensioning.errors import InvalidInput

__all__ = ["run_tasks", "task_seeds", "Progress"]

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""Told ``(done, total)`` after each finished task (from the calling process)."""

_CONNECT_TIMEOUT_S = 10.0


def task_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent 63-bit seeds from one root seed (``numpy.random.SeedSequence.spawn``).

    The i-th seed depends only on ``seed`` and ``i``, so adding tasks never
    changes the seeds of the first ones.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput("seed", seed, "give a whole number >= 0")
    children = np.random.SeedSequence(int(seed)).spawn(count)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def _local(fn: Callable[[T], R], tasks: Sequence[T], workers: int, progress: Progress | None) -> list[R]:
    total = len(tasks)
    if workers == 1 or total <= 1:
        out = []
        for i, task in enumerate(tasks):
            out.append(fn(task))
            if progress is not None:
                progress(i + 1, total)
        return out
    # chunks amortise the per-task pickling; a few chunks per worker keep the load balanced
    chunk = max(1, total // (4 * workers))
    with ProcessPoolExecutor(max_workers=min(workers, total)) as pool:
        out = []
        for i, result in enumerate(pool.map(fn, tasks, chunksize=chunk)):
            out.append(result)
            if progress is not None:
                progress(i + 1, total)
        return out


def _dask(fn: Callable[[T], R], tasks: Sequence[T], scheduler: str, progress: Progress | None) -> list[R]:
    try:
        from distributed import Client
    except ImportError:
        raise InvalidInput("--scheduler", scheduler,
                           "needs the Dask distributed client: pip install 'lpuplan[distributed]'") from None
    try:
        client = Client(scheduler, timeout=_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InvalidInput("--scheduler", scheduler,
                           f"cannot reach a Dask scheduler there ({exc}); start one (`dask scheduler`) and"
                           " workers (`dask worker ADDRESS`), or omit --scheduler to run locally") from None
    try:
        # pure=False: equal tasks are still computed (and counted) separately
        futures = client.map(fn, list(tasks), pure=False)
        out: list[Any] = []
        # gathered in task order (the cluster computes them all meanwhile); no default client is set
        for done, future in enumerate(futures, start=1):
            out.append(client.gather(future))
            if progress is not None:
                progress(done, len(futures))
        return out
    finally:
        client.close()


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    scheduler: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[R]:
    """``[fn(t) for t in tasks]``, run locally in processes or on a Dask cluster (module notes).

    Parameters
    ----------
    fn
        Module-level function of one task.
    tasks
        The tasks, each carrying its own seed where ``fn`` draws random numbers.
    scheduler
        ``None``: local processes. Otherwise a Dask scheduler address
        (``tcp://host:8786``).
    progress
        Called with ``(done, total)`` as tasks finish.
    workers
        Local processes (default: the CPU count); ``1`` runs in this process.
        Ignored with a scheduler (the cluster has its own workers).

    Returns
    -------
    list
        One result per task, in task order, whatever order they finished in.
    """
    tasks = list(tasks)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InvalidInput("--workers", workers, "give a whole number of local worker processes >= 1")
    if not tasks:
        return []
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise InvalidInput("--scheduler", scheduler, "give a scheduler address such as tcp://host:8786")
        return _dask(fn, tasks, scheduler, progress)
    return _local(fn, tasks, workers or os.cpu_count() or 1, progress)
