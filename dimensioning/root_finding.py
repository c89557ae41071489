"""Brent's method for a bracketed root of a scalar function.

Why not ``scipy.optimize.brentq``: importing ``scipy.optimize`` pulls in
``scipy.linalg``, ``scipy.sparse`` and ``scipy.fft`` (0.2 to 0.35 s on the
2-core development machine), more than a third of the 0.6 s that
``lpuplan size`` may take as a whole process (issue 15), and the queue models
need nothing else from it. This is the same algorithm with the same
tolerance semantics; ``tests/dimensioning/test_root_finding.py`` checks it
against ``scipy.optimize.brentq``.

Algorithm: R. P. Brent, *Algorithms for Minimization without Derivatives*
(Prentice-Hall, 1973), ch. 4, procedure ``zero``: inverse quadratic
interpolation (secant when only two points are distinct), falling back to
bisection whenever the interpolated step would not shrink the bracket fast
enough, so it never takes more than about the square of bisection's steps
and usually converges superlinearly.
"""

from __future__ import annotations

import math
from typing import Callable

__all__ = ["brent_root"]

_EPSILON = 2.220446049250313e-16  # float64 machine epsilon


def brent_root(function: Callable[[float], float], low: float, high: float, *, xtol: float = 2e-12,
               rtol: float = 4 * _EPSILON, maxiter: int = 100) -> float:
    """A root of ``function`` in [low, high], where the function's signs at the ends differ.

    Converged when the bracket around the best point ``b`` is narrower than
    ``xtol + rtol * |b|`` (scipy's ``brentq`` convention), or the function is
    exactly 0 there. Raises ``ValueError`` for a bracket without a sign change
    or ``rtol < 4 eps``, ``RuntimeError`` when ``maxiter`` iterations do not
    converge.
    """
    if rtol < 4 * _EPSILON:
        raise ValueError(f"rtol {rtol!r} is below 4 * machine epsilon")
    a, b = float(low), float(high)
    fa, fb = function(a), function(b)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0.0) == (fb > 0.0):
        raise ValueError(f"f({a!r}) = {fa!r} and f({b!r}) = {fb!r} have the same sign: no bracketed root")
    c, fc = a, fa
    step = previous = b - a
    for _ in range(maxiter):
        if (fb > 0.0) == (fc > 0.0):  # the root lies between a and b: c takes a's place
            c, fc = a, fa
            step = previous = b - a
        if abs(fc) < abs(fb):  # keep b the point with the smallest |f|
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tolerance = 0.5 * (xtol + rtol * abs(b))
        middle = 0.5 * (c - b)
        if abs(middle) <= tolerance or fb == 0.0:
            return b
        if abs(previous) >= tolerance and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:  # two distinct points: secant
                p = 2.0 * middle * s
                q = 1.0 - s
            else:  # three: inverse quadratic interpolation
                q, r = fa / fc, fb / fc
                p = s * (2.0 * middle * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            # accept the interpolation only if it stays well inside the bracket and shrinks fast enough
            if 2.0 * p < min(3.0 * middle * q - abs(tolerance * q), abs(previous * q)):
                previous, step = step, p / q
            else:
                step = previous = middle
        else:
            step = previous = middle
        a, fa = b, fb
        b += step if abs(step) > tolerance else math.copysign(tolerance, middle)
        fb = function(b)
    raise RuntimeError(f"Brent's method did not converge in {maxiter} iterations (bracket [{b!r}, {c!r}])")
