"""A plan rerun from the on-disk result cache is the same plan, byte for byte, without simulating."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dimensioning import _queue_simulated, result_cache
from dimensioning.json_text import dumps_json
from lpuplan import plan_simulated
from lpuplan.plan import build_plan
from lpuplan.project import example_project_text, parse_project


def test_a_warm_rerun_of_the_example_is_byte_identical_and_simulates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(result_cache.ENV_DISABLE, raising=False)
    monkeypatch.setenv(result_cache.ENV_DIR, str(tmp_path / "cache"))
    project = parse_project(tomllib.loads(example_project_text()), tmp_path)
    _queue_simulated.run_fcfs.cache_clear()
    cold = dumps_json(build_plan(project, simulate=True).to_dict())
    entries = list((tmp_path / "cache" / "results").glob("*/*.pickle"))
    # the shared pool's M/G/c runs, the plan's latency runs and the game-day summary
    assert len(entries) >= 3
    _queue_simulated.run_fcfs.cache_clear()  # as a new process would start

    def no_simulation(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("simulated again: the cache missed")

    monkeypatch.setattr(_queue_simulated, "_simulate_fcfs", no_simulation)
    monkeypatch.setattr("dimensioning.simulate.estimates.simulate_pool_latency", no_simulation)
    monkeypatch.setattr("lpuplan.plan_gameday.gameday_summary", no_simulation)
    warm = dumps_json(build_plan(project, simulate=True).to_dict())
    _queue_simulated.run_fcfs.cache_clear()
    assert warm == cold
    assert plan_simulated.SIMULATION_SEED  # the default seed is part of every key (the plan's seed argument)


def test_another_seed_is_another_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(result_cache.ENV_DISABLE, raising=False)
    monkeypatch.setenv(result_cache.ENV_DIR, str(tmp_path / "cache"))
    buckets = list(parse_project(tomllib.loads(example_project_text()), tmp_path).buckets)[:1]
    calls = []
    real = plan_simulated._estimate_dict

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_simulated, "_estimate_dict", counting)
    for seed in (1, 2, 1):
        plan_simulated._latency_figures(buckets, 2.0, 2, {}, shares=[1.0], seed=seed, requests=20_000)
    assert len(calls) == 2


def test_the_game_day_summary_computed_beside_the_simulations_is_the_serial_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """build_plan runs the summary in a forked child from a partial plan; the same summary as from the whole plan."""
    from dimensioning import forked
    from lpuplan.plan_gameday import gameday_summary

    project = parse_project(tomllib.loads(example_project_text()), tmp_path)
    beside = build_plan(project, simulate=True)
    monkeypatch.setenv(forked.ENV_NO_FORK, "1")
    serial = build_plan(project, simulate=True)
    assert dumps_json(beside.to_dict()) == dumps_json(serial.to_dict())
    assert beside.gameday is not None
    assert dumps_json(beside.gameday.to_dict()) == dumps_json(gameday_summary(serial, seed=None).to_dict())


def test_a_rerun_of_plan_reads_the_rack_plan_png_back_and_writes_the_same_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PNG (matplotlib: the costliest output to draw) is a function of the project, the seed and the code."""
    from lpuplan.cli_dimensioning import run_plan

    monkeypatch.delenv(result_cache.ENV_DISABLE, raising=False)
    monkeypatch.setenv(result_cache.ENV_DIR, str(tmp_path / "cache"))
    project = parse_project(tomllib.loads(example_project_text()), tmp_path)
    run_plan(project, "example", tmp_path / "cold", simulate=False)
    cold = (tmp_path / "cold" / "facility" / "rack_plan.png").read_bytes()

    def no_drawing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("drawn again: the cache missed")

    monkeypatch.setattr("facility.export_png.rack_plan_png", no_drawing)  # a forked child inherits it too
    run_plan(project, "example", tmp_path / "warm", simulate=False)
    assert (tmp_path / "warm" / "facility" / "rack_plan.png").read_bytes() == cold
    # another seed is another plan: drawn again
    monkeypatch.undo()
    monkeypatch.setenv(result_cache.ENV_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(result_cache.ENV_DISABLE, raising=False)
    calls = []
    import facility.export_png as export_png

    real = export_png.rack_plan_png
    monkeypatch.setenv("LPUPLAN_NO_FORK", "1")  # drawn here, so the call is seen
    monkeypatch.setattr(export_png, "rack_plan_png", lambda result: calls.append(1) or real(result))
    run_plan(project, "example", tmp_path / "seed", simulate=False, seed=7)
    assert calls == [1]
