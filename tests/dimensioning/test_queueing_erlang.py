"""Erlang B and C at any c, against mpmath: B = a^c e^{-a} / Gamma(c + 1, a) (upper incomplete gamma),
evaluated at 40 digits; and their cost stays bounded (no loop once per server)."""

from __future__ import annotations

import math
import time

import mpmath
import pytest

from dimensioning.queueing import MDc, MDcK, erlang_b, erlang_c


def reference_b(offered: float, servers: int) -> float:
    with mpmath.workdps(40):
        a = mpmath.mpf(offered)
        return float(mpmath.exp(servers * mpmath.log(a) - a) / mpmath.gammainc(servers + 1, a))


@pytest.mark.parametrize("servers", [1, 7, 4096, 4097, 100_000])
@pytest.mark.parametrize("load", [0.3, 0.9, 0.999, 1.0, 1.02, 3.0])
def test_erlang_b_matches_mpmath(servers: int, load: float) -> None:
    offered = load * servers
    # the closed form loses about 1e-16 * ln(c!) relative (ln(1e5!) ~ 1e6): documented in _queue_erlang
    tolerance = 1e-11 if servers <= 4097 else 1e-9
    assert erlang_b(offered, servers) == pytest.approx(reference_b(offered, servers), rel=tolerance, abs=1e-300)


def test_erlang_b_at_a_billion_servers_matches_asymptotics() -> None:
    """mpmath's incomplete gamma is too slow at c = 1e9; the asymptotic expansions are exact there
    to O(c^-1/2) relative: 1/B(c, c) = sqrt(pi c / 2) + 2/3 + O(c^-1/2) (Jagerman 1974), and
    B(a, c) = 1 - c/a + O(1/c) for a > c."""
    c = 10**9
    assert erlang_b(float(c), c) == pytest.approx(1.0 / (math.sqrt(math.pi * c / 2.0) + 2.0 / 3.0), rel=1e-7)
    assert erlang_b(3.0 * c, c) == pytest.approx(2.0 / 3.0, rel=1e-8)
    assert erlang_b(0.3 * c, c) == 0.0  # exp(-1e8) underflows, as it should


def test_erlang_c_from_b() -> None:
    b = reference_b(45.0, 50)
    assert erlang_c(45.0, 50) == pytest.approx(b / (1 - 0.9 * (1 - b)), rel=1e-11)
    assert erlang_c(50.0, 50) == 1.0


def test_a_billion_servers_answers_quickly() -> None:
    started = time.perf_counter()
    loss = MDcK(arrival_rate=0.999e9, service_time=1.0, servers=10**9, capacity=10**9)
    assert loss.method == "exact" and 0.0 < loss.blocking_probability < 1e-3
    assert MDc(1e6, 1.0, 10**9).wait.ppf(0.99) == 0.0  # light traffic at any c
    assert time.perf_counter() - started < 5.0
