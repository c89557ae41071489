"""A small site worked by hand for the game-day tests (tests/facility/gameday/small_site.toml).

One bucket: S = 512/20000 + 256/256 + 0.020 = 1.0456 s, 8 slots, 40 req/s
(41.8 erlangs). The sizing gives 8 replicas (rho 0.654); each takes one rack
(8 usable nodes x 8 chips = 64 chips), four per pod. Losing a rack leaves 7
(rho 0.747); losing a pod leaves 4 (rho 1.31: overload, shed by the queue cap
of 8 waiting requests per replica, floor(2.5/1.0456) - 1 = 1 per slot).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from facility.gameday.model import GameDaySettings

SMALL_SITE = Path(__file__).with_name("small_site.toml")
FAST = dict(warmup_s=60.0, before_s=60.0, restore_after_s=240.0, recovery_s=120.0, interval_s=10.0, seeds=4)


@pytest.fixture(scope="session")
def small_plan():
    from lpuplan.plan import build_plan
    from lpuplan.project import load_project

    return build_plan(load_project(SMALL_SITE))


@pytest.fixture
def fast_settings() -> GameDaySettings:
    return GameDaySettings(**FAST)
