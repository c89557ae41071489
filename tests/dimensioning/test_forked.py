"""A computation in a forked child returns what it returns here; a failing child changes nothing."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dimensioning import forked
from dimensioning.forked import ForkedCall, can_fork

needs_fork = pytest.mark.skipif(not can_fork(), reason="no fork here (not Linux, one core, or LPUPLAN_NO_FORK)")


def _seeded() -> dict:
    rng = np.random.default_rng(7)
    return {"pid": os.getpid(), "draws": rng.standard_exponential(100_000), "label": ("a", 1.5)}


@needs_fork
def test_the_child_computes_the_same_result():
    call = ForkedCall(_seeded)
    assert call.forked
    got = call.result()
    assert got["pid"] != os.getpid()  # computed in the child
    here = _seeded()
    np.testing.assert_array_equal(got["draws"], here["draws"])
    assert got["label"] == here["label"]


def test_without_fork_it_computes_here(monkeypatch):
    monkeypatch.setenv(forked.ENV_NO_FORK, "1")
    call = ForkedCall(_seeded)
    assert not call.forked
    assert call.result()["pid"] == os.getpid()


@needs_fork
def test_a_failing_child_is_computed_here_and_raises_the_real_error():
    parent = os.getpid()

    def broken():
        raise ValueError("here" if os.getpid() == parent else "in the child")

    with pytest.raises(ValueError, match="here"):
        ForkedCall(broken).result()


@needs_fork
def test_a_child_that_dies_is_computed_here():
    parent = os.getpid()
    assert ForkedCall(lambda: os._exit(3) if os.getpid() != parent else "here").result() == "here"


@needs_fork
def test_an_abandoned_child_is_reaped():
    call = ForkedCall(lambda: b"x" * 10_000_000)  # more than a pipe holds: the child blocks writing
    pid = call._pid
    call.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _describe(values: list, scale: float) -> dict:
    return {"pid": os.getpid(), "scaled": [v * scale for v in values], "json": "json" in __import__("sys").modules}


@needs_fork
def test_a_worker_loads_its_modules_then_computes_the_call_sent_to_it():
    from dimensioning.forked import ForkedWorker

    worker = ForkedWorker(["json"])
    assert worker.ready
    call = worker.submit(_describe, [1.0, 2.5], 2.0)
    assert not worker.ready  # one call per worker
    got = call.result()
    assert got["pid"] != os.getpid() and got["scaled"] == [2.0, 5.0] and got["json"]


@needs_fork
def test_a_worker_given_no_work_is_dismissed_without_waiting(monkeypatch):
    from dimensioning.forked import ForkedWorker

    worker = ForkedWorker(["json"])
    pid = worker._pid
    later = ForkedCall(lambda: 1)  # a child forked later holds a copy of the worker's request pipe
    worker.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped
    assert later.result() == 1


@needs_fork
def test_a_call_the_worker_cannot_take_runs_here_and_raises_the_real_error():
    from dimensioning.forked import ForkedWorker

    parent = os.getpid()
    worker = ForkedWorker([])
    local = worker.submit(lambda: os.getpid())  # a lambda does not pickle by reference
    assert local.result() == parent and not worker.ready

    with pytest.raises(ValueError, match="here"):
        ForkedWorker([]).submit(_raise_here, parent).result()


def _raise_here(parent: int) -> None:
    raise ValueError("here" if os.getpid() == parent else "in the child")


def test_without_fork_a_worker_computes_here(monkeypatch):
    from dimensioning.forked import ForkedWorker

    monkeypatch.setenv(forked.ENV_NO_FORK, "1")
    worker = ForkedWorker(["json"])
    assert not worker.ready
    assert worker.submit(_describe, [1.0], 3.0).result()["pid"] == os.getpid()


def _size(payload: bytes) -> int:
    return len(payload)


@needs_fork
def test_submitting_does_not_wait_for_the_workers_imports(tmp_path, monkeypatch):
    """The request (more than a pipe holds) is written by a thread: this process goes on while the child imports."""
    import sys
    import time

    from dimensioning.forked import ForkedWorker

    (tmp_path / "slow_to_import_for_lpuplan_test.py").write_text("import time\ntime.sleep(2.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    worker = ForkedWorker(["slow_to_import_for_lpuplan_test"])
    started = time.monotonic()
    call = worker.submit(_size, b"x" * 5_000_000)
    assert time.monotonic() - started < 1.0  # not held up by the child's 2 s import
    assert call.result() == 5_000_000
    assert "slow_to_import_for_lpuplan_test" not in sys.modules


@needs_fork
def test_an_abandoned_worker_call_is_stopped_not_waited_for(tmp_path, monkeypatch):
    import time

    from dimensioning.forked import ForkedWorker

    (tmp_path / "slower_to_import_for_lpuplan_test.py").write_text("import time\ntime.sleep(30.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    call = ForkedWorker(["slower_to_import_for_lpuplan_test"]).submit(_size, b"x" * 1_000_000)
    pid = call._pid
    started = time.monotonic()
    call.close()
    assert time.monotonic() - started < 10.0
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
