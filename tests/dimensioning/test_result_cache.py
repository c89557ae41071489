"""The on-disk cache of seeded simulation results: a hit is the same result, a change misses."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dimensioning import _queue_simulated, result_cache
from dimensioning.result_cache import NotCanonical, cached, canonical, entry_key


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache switched on (the suite switches it off) in a fresh folder."""
    monkeypatch.delenv(result_cache.ENV_DISABLE, raising=False)
    monkeypatch.setenv(result_cache.ENV_DIR, str(tmp_path / "cache"))
    return tmp_path / "cache" / "results"


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*.pickle"))


@dataclass(frozen=True)
class _Point:
    x: float
    label: str


def test_canonical_tells_apart_what_a_result_depends_on() -> None:
    assert canonical(0.1) != canonical(0.1 + 1e-17 * 100)
    assert canonical(0.0) != canonical(-0.0)
    assert canonical(1) != canonical(1.0)  # an int and a float are different inputs
    assert canonical((1, 2)) != canonical([1, 2])
    assert canonical(np.arange(3.0)) != canonical(np.arange(3))  # dtype
    assert canonical(np.zeros((2, 3))) != canonical(np.zeros((3, 2)))  # shape
    big = np.zeros(10_000)
    changed = big.copy()
    changed[5_000] = 1e-300
    assert canonical(big) != canonical(changed)  # by bytes, not by a (truncated) repr
    assert canonical({"b": 1, "a": 2}) == canonical({"a": 2, "b": 1})
    assert canonical(_Point(1.0, "a")) != canonical(_Point(1.0, "b"))


def test_canonical_paths_carry_the_files_bytes(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("prompt,output\n10,20\n")
    before = canonical(trace)
    trace.write_text("prompt,output\n10,21\n")
    assert canonical(trace) != before


def test_objects_without_a_canonical_form_are_computed_not_cached(cache: Path) -> None:
    with pytest.raises(NotCanonical):
        canonical(object())
    calls = []
    for _ in range(2):
        cached("test.opaque", (object(),), lambda: calls.append(1) or 7)
    assert len(calls) == 2
    assert not cache.exists()


def test_a_hit_returns_the_stored_result_without_computing(cache: Path) -> None:
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"wait": np.array([0.5, 0.25]), "p99": 0.1 + 0.2, "ci": (1.0, 2.0)}

    first = cached("test.hit", (1.5, 3, "x"), compute)
    second = cached("test.hit", (1.5, 3, "x"), compute)
    assert len(calls) == 1
    assert pickle.dumps(first) == pickle.dumps(second)  # same types (a tuple stays a tuple), same bits
    assert second is not first  # a hit is a fresh object: callers cannot alias each other's results
    cached("test.hit", (1.5, 4, "x"), compute)  # another argument: computed
    assert len(calls) == 2
    assert len(_entries(cache)) == 2
    assert not list(cache.glob("*/.tmp-*"))  # no temporary file left behind


def test_switched_off_by_the_environment(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(result_cache.ENV_DISABLE, "1")
    calls = []
    for _ in range(2):
        cached("test.off", (1,), lambda: calls.append(1) or 1)
    assert len(calls) == 2
    assert not cache.exists()


def test_a_code_change_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    root = tmp_path / "tree"
    (root / "pkg" / "sub").mkdir(parents=True)
    source = root / "pkg" / "sub" / "model.py"
    source.write_text("X = 1\n")
    (root / "pkg" / "__pycache__").mkdir()
    monkeypatch.setattr(result_cache, "_ROOT", root)
    result_cache.code_fingerprint.cache_clear()
    try:
        calls = []
        cached("test.code", (1,), lambda: calls.append(1) or 1, packages=("pkg",))
        (root / "pkg" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"compiled")  # not code: still a hit
        result_cache.code_fingerprint.cache_clear()
        cached("test.code", (1,), lambda: calls.append(1) or 1, packages=("pkg",))
        assert len(calls) == 1
        source.write_text("X = 2\n")  # the simulation's code changed
        result_cache.code_fingerprint.cache_clear()
        cached("test.code", (1,), lambda: calls.append(1) or 1, packages=("pkg",))
        assert len(calls) == 2
    finally:
        result_cache.code_fingerprint.cache_clear()


def test_a_damaged_entry_is_a_miss_and_is_rewritten(cache: Path) -> None:
    assert cached("test.damaged", (2,), lambda: [1.0, 2.0]) == [1.0, 2.0]
    (entry,) = _entries(cache)
    entry.write_bytes(entry.read_bytes()[:10])  # a writer that died half-way (or a full disk)
    calls = []
    assert cached("test.damaged", (2,), lambda: calls.append(1) or [1.0, 2.0]) == [1.0, 2.0]
    assert calls == [1]
    assert pickle.loads(entry.read_bytes()) == (entry.stem, [1.0, 2.0])


def test_an_entry_under_another_key_is_not_returned(cache: Path) -> None:
    """A file copied over another key's name is a miss (each entry stores its own key)."""
    cached("test.a", (1,), lambda: "a")
    cached("test.b", (1,), lambda: "b")
    key_a, key_b = (entry_key(name, (1,), ("dimensioning",)) for name in ("test.a", "test.b"))
    path_a, path_b = (cache / key[:2] / f"{key}.pickle" for key in (key_a, key_b))
    path_a.write_bytes(path_b.read_bytes())
    assert cached("test.a", (1,), lambda: "fresh") == "fresh"


def test_the_folder_is_pruned_oldest_first(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(result_cache, "MAX_BYTES", 3 * 1200)
    monkeypatch.setattr(result_cache, "PRUNE_ONE_IN", 1)  # every write checks the folder
    for i in range(6):
        cached("test.prune", (i,), lambda: b"x" * 1000)
        (path,) = [p for p in _entries(cache) if p.stem == entry_key("test.prune", (i,), ("dimensioning",))]
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    kept = {p.stem for p in _entries(cache)}
    assert len(kept) <= 3
    assert entry_key("test.prune", (5,), ("dimensioning",)) in kept
    assert entry_key("test.prune", (0,), ("dimensioning",)) not in kept


def test_most_writes_do_not_list_the_folder(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = []
    monkeypatch.setattr(result_cache, "_prune", lambda folder: listed.append(folder))
    for i in range(64):
        cached("test.seldom", (i,), lambda: i)
    expected = sum(int(entry_key("test.seldom", (i,), ("dimensioning",))[:8], 16) % 16 == 0 for i in range(64))
    assert len(listed) == expected < 64


def _race(folder: str) -> bytes:
    os.environ[result_cache.ENV_DIR] = folder
    os.environ.pop(result_cache.ENV_DISABLE, None)
    return pickle.dumps(cached("test.race", (42,), lambda: np.arange(50_000, dtype=float)))


def test_concurrent_runs_agree_and_leave_one_whole_entry(tmp_path: Path) -> None:
    folder = str(tmp_path / "cache")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_race, [folder] * 8)
    assert len(set(results)) == 1
    entries = list((tmp_path / "cache" / "results").glob("*/*"))
    assert len(entries) == 1 and entries[0].suffix == ".pickle"
    key, value = pickle.loads(entries[0].read_bytes())
    np.testing.assert_array_equal(value, np.arange(50_000, dtype=float))


def test_a_simulated_queue_read_back_is_the_same_run(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_fcfs (the M/G/c and GI/D/c referee): a rerun in a fresh process reads the same figures."""
    args = (3.0, 1.0, (0.2, 0.9), (0.7, 0.3), 2, None, 20_000, 7)
    _queue_simulated.run_fcfs.cache_clear()
    first = _queue_simulated.run_fcfs(*args)
    _queue_simulated.run_fcfs.cache_clear()  # as a new process would start

    def no_simulation(*_args: object) -> None:
        raise AssertionError("simulated again: the cache missed")

    monkeypatch.setattr(_queue_simulated, "_simulate_fcfs", no_simulation)
    second = _queue_simulated.run_fcfs(*args)
    _queue_simulated.run_fcfs.cache_clear()
    assert pickle.dumps(first) == pickle.dumps(second)
    assert second.quantile(0.99) == first.quantile(0.99)
