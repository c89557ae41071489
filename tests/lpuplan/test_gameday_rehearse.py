"""Rehearsal on real sockets: lpuplan emulate + open-loop load + a real Prometheus on loopback + verify.

Bounded: a 5x time-scaled game day of 150 emulated seconds (30 wall seconds of traffic, about 20 requests
per wall second: slow enough that a loaded 2-core machine keeps the emulator on time). The same observations with the p99 doubled must fail verification.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from facility.gameday.document import published
from facility.gameday.model import GameDaySettings
from facility.gameday.verify import verify_domain
from lpuplan.cli import app
from typer.testing import CliRunner
from lpuplan.gameday_rehearse import rehearse
from tests.facility.gameday.conftest import SMALL_SITE

REHEARSAL_SITE = SMALL_SITE.with_name("rehearsal_site.toml")
SETTINGS = GameDaySettings(warmup_s=10.0, before_s=30.0, restore_after_s=80.0, recovery_s=30.0, interval_s=10.0,
                           seeds=6, seed=3)


def _doubled(observed: dict) -> dict:
    out = {}
    for pool, obs in observed.items():
        phases = {ph: {k: (2 * v if k.endswith("e2el_p99_s") and v is not None else v) for k, v in figs.items()}
                  for ph, figs in obs.phases.items()}
        series = dict(obs.series)
        series["e2el_p99_s"] = 2 * np.asarray(series["e2el_p99_s"], float)
        out[pool] = dataclasses.replace(obs, phases=phases, series=series)
    return out


def test_rehearsal_with_prometheus_verifies_and_a_doubled_p99_fails(tmp_path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("SKIPPED LOUDLY: Prometheus (Debian package 'prometheus') is not installed; run .ci/prometheus.sh")
    from lpuplan.plan import build_plan
    from lpuplan.project import load_project

    plan = build_plan(load_project(REHEARSAL_SITE))
    cli: dict = {}

    def verify_with_the_cli(url: str, t0: float, document: dict) -> None:
        # `lpuplan gameday verify --prometheus` against the live server, as a game-day lead would run it
        folder = tmp_path
        (folder / "prediction.json").write_text(json.dumps(published(document)))
        run = CliRunner().invoke(app, ["gameday", "verify", str(folder / "prediction.json"), "--prometheus", url,
                                       "--t0", repr(t0), "--time-scale", "5", "--json"])
        cli["exit"], cli["output"] = run.exit_code, run.output

    result = rehearse(plan, REHEARSAL_SITE, "rack:row01-pod01-rack01", SETTINGS, time_scale=5.0,
                      prometheus_binary=binary, seed=5, while_prometheus=verify_with_the_cli)
    assert cli["exit"] == (0 if result.passed else 3), cli["output"]
    assert json.loads(cli["output"])["passed"] is result.passed
    assert result.prometheus_verdict is not None
    prom = result.prometheus_verdict
    assert prom.passed, [f.to_dict() for f in prom.out_of_band] + [c.to_dict() for c in prom.crossings]
    assert sum(f.in_band is not None for f in prom.figures) >= 20
    # the failure really happened: errors while the router still routed to the dead replica, none after
    errors = {(f.phase, f.figure): f.observed for f in prom.figures}
    assert errors[("failover", "error_rate")] > 0.02 and errors[("degraded", "error_rate")] < 0.01
    assert result.passed
    doubled = verify_domain(result.document, _doubled(result.prometheus))
    assert not doubled.passed
    assert ("before", "e2el_p99_s") in {(f.phase, f.figure) for f in doubled.out_of_band}
    assert not verify_domain(result.document, _doubled(result.client)).passed
