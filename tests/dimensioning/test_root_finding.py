"""Brent's method (dimensioning.root_finding) against scipy.optimize.brentq, the library it stands in for."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from dimensioning.root_finding import brent_root

# Classic bracketing test functions (Alefeld, Potra & Shi, ACM TOMS 21(3), 1995, and Brent 1973 ch. 4):
# smooth, flat near the root, steep, a multiple root, and one whose interpolation steps overshoot.
_CASES = [
    (lambda x: math.sin(x) - x / 2.0, math.pi / 2.0, math.pi),
    (lambda x: x**3 - 2.0 * x - 5.0, 2.0, 3.0),  # Wallis's cubic
    (lambda x: math.exp(x) - 1e6, 0.0, 20.0),
    (lambda x: (x - 1.0) ** 3, 0.0, 3.5),  # triple root: no sign change of the slope
    (lambda x: x**9 - 1e-9, -1.0, 4.0),  # flat over most of the bracket
    (lambda x: math.log1p(x) / x - 0.999, 1e-6, 1.0),  # decay_excess near rho = 1
    (lambda x: math.atan(1e4 * (x - 0.3)), -1.0, 2.0),  # steep
    (lambda x: 2.0 * x * math.exp(-20.0) - 2.0 * math.exp(-20.0 * x) + 1.0, 0.0, 1.0),
]


@pytest.mark.parametrize("case", range(len(_CASES)))
@pytest.mark.parametrize("rtol", [4 * 2.220446049250313e-16, 1e-15, 1e-10])
def test_agrees_with_scipy_brentq_within_the_tolerance_on_classic_functions(case, rtol):
    function, low, high = _CASES[case]
    xtol = 1e-300
    ours = brent_root(function, low, high, xtol=xtol, rtol=rtol, maxiter=500)
    theirs = brentq(function, low, high, xtol=xtol, rtol=rtol, maxiter=500)
    # each is within its bracket tolerance of the root, so they are within twice it of each other
    assert abs(ours - theirs) <= 2.0 * (xtol + rtol * abs(theirs)) + 1e-300
    assert low <= ours <= high


@settings(max_examples=200, deadline=None)
@given(
    roots=st.lists(st.floats(-100.0, 100.0), min_size=1, max_size=5),
    left=st.floats(0.01, 50.0),
    right=st.floats(0.01, 50.0),
    pick=st.integers(0, 4),
)
def test_lands_on_a_sign_change_of_a_polynomial_as_scipy_does(roots, left, right, pick):
    """Polynomials with known roots: the answer brackets a sign change to within the tolerance."""
    target = sorted(roots)[pick % len(roots)]
    low, high = target - left, target + right

    def polynomial(x: float) -> float:
        return math.prod(x - r for r in roots)

    f_low, f_high = polynomial(low), polynomial(high)
    assume(f_low != 0.0 and f_high != 0.0 and (f_low > 0) != (f_high > 0))
    xtol, rtol = 1e-12, 1e-14
    ours = brent_root(polynomial, low, high, xtol=xtol, rtol=rtol, maxiter=500)
    theirs = brentq(polynomial, low, high, xtol=xtol, rtol=rtol, maxiter=500)
    assert low <= ours <= high
    width = xtol + rtol * abs(ours)
    # Brent's guarantee: the last bracket [b, c] holds a sign change and is at most 2 x width wide. Around the
    # answer that reads: a known root within that distance, or the sign changes across it (a window holding
    # two roots, e.g. 1e-43 and -1e-173 with width 1e-12, shows no sign change although both are found)
    assert (polynomial(ours) == 0.0 or any(abs(ours - r) <= 2.0 * width for r in roots)
            or polynomial(ours - 2.0 * width) * polynomial(ours + 2.0 * width) <= 0.0)
    # both stop next to a root; where several lie in the bracket they may pick different ones
    if sum(low <= r <= high for r in roots) == 1:
        assert abs(ours - theirs) <= 2.0 * width + 2.0 * (xtol + rtol * abs(theirs))


def test_returns_an_endpoint_that_is_a_root():
    assert brent_root(lambda x: x - 1.0, 1.0, 5.0) == 1.0
    assert brent_root(lambda x: x - 5.0, 1.0, 5.0) == 5.0


def test_refuses_a_bracket_without_a_sign_change_naming_both_values():
    with pytest.raises(ValueError, match="same sign"):
        brent_root(lambda x: x * x + 1.0, -1.0, 1.0)


def test_refuses_a_relative_tolerance_below_four_machine_epsilons_as_scipy_does():
    with pytest.raises(ValueError, match="rtol"):
        brent_root(lambda x: x, -1.0, 1.0, rtol=1e-17)
    with pytest.raises(ValueError):
        brentq(lambda x: x, -1.0, 1.0, rtol=1e-17)


def test_says_when_it_runs_out_of_iterations():
    with pytest.raises(RuntimeError, match="did not converge in 3"):
        brent_root(lambda x: math.exp(x) - 1e6, 0.0, 20.0, xtol=1e-300, rtol=1e-15, maxiter=3)


def test_takes_few_evaluations_on_a_smooth_function_like_scipy():
    calls = []

    def counted(x: float) -> float:
        calls.append(x)
        return x**3 - 2.0 * x - 5.0

    brent_root(counted, 2.0, 3.0, xtol=1e-300, rtol=1e-15)
    ours = len(calls)
    _, report = brentq(lambda x: x**3 - 2.0 * x - 5.0, 2.0, 3.0, xtol=1e-300, rtol=1e-15, full_output=True)
    assert ours <= report.function_calls + 2
