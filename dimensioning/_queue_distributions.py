"""Distribution objects of the queueing models: scalar/array handling only.

A thin layer in the spirit of ``scipy.stats`` frozen distributions: the public
methods validate and broadcast, subclasses implement vectorised kernels over
float64 arrays. Every distribution here is that of a non-negative delay in
seconds, possibly with an atom at 0 (no wait) and possibly infinite (an
unstable queue).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dimensioning.errors import InvalidInput
from dimensioning.root_finding import brent_root

__all__ = [
    "DelayDistribution",
    "InfiniteDelay",
    "ZeroDelay",
    "ShiftedDelay",
    "MixtureShiftedDelay",
    "ScaledDelay",
    "TruncatedDelay",
    "AtomExponentialDelay",
    "NegligibleDelay",
]

FloatOrArray = float | NDArray[np.float64]


def _as_times(t: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    array = np.asarray(t, dtype=float)
    if np.isnan(array).any():
        raise InvalidInput("t", t, "give delays in seconds as numbers, not NaN")
    return np.atleast_1d(array), array.ndim == 0


def _as_probabilities(p: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    array = np.asarray(p, dtype=float)
    if np.isnan(array).any() or (array < 0).any() or (array > 1).any():
        raise InvalidInput("p", p, "give probabilities between 0 and 1")
    return np.atleast_1d(array), array.ndim == 0


def _out(values: NDArray[np.float64], scalar: bool, shape: tuple[int, ...]) -> FloatOrArray:
    if scalar:
        return float(values[0])
    return values.reshape(shape)


class DelayDistribution:
    """Law of a non-negative delay (seconds): ``cdf``, ``sf``, ``ppf``, ``mean``.

    Methods accept a scalar (and return a float) or an array (and return an
    ndarray of the same shape). Subclasses implement ``_cdf``/``_sf`` on
    1-d arrays of t > 0 (finite), ``_ppf`` on 1-d arrays of p strictly between
    ``atom`` and 1, and ``mean``.
    """

    #: P(delay = 0): the probability of not waiting at all.
    atom: float = 0.0

    #: Supremum of the support (seconds): ppf(1); inf for an unbounded delay.
    upper: float = math.inf

    @property
    def positive(self) -> float:
        """P(delay > 0); kernels override it where 1 - atom would lose digits."""
        return 1.0 - self.atom

    # --- public layer -------------------------------------------------
    def cdf(self, t: ArrayLike) -> FloatOrArray:
        """P(delay <= t), t in seconds."""
        times, scalar = _as_times(t)
        shape = np.shape(t)
        flat = times.ravel()
        out = np.zeros_like(flat)
        out[flat == 0] = self.atom
        out[np.isposinf(flat)] = 1.0
        inside = (flat > 0) & np.isfinite(flat)
        if inside.any():
            out[inside] = np.clip(self._cdf(flat[inside]), 0.0, 1.0)
        return _out(out, scalar, shape)

    def sf(self, t: ArrayLike) -> FloatOrArray:
        """P(delay > t), computed directly (not as 1 - cdf) where the tail matters."""
        times, scalar = _as_times(t)
        shape = np.shape(t)
        flat = times.ravel()
        out = np.ones_like(flat)
        out[flat == 0] = self.positive
        out[np.isposinf(flat)] = 0.0
        inside = (flat > 0) & np.isfinite(flat)
        if inside.any():
            out[inside] = np.clip(self._sf(flat[inside]), 0.0, 1.0)
        return _out(out, scalar, shape)

    def ppf(self, p: ArrayLike) -> FloatOrArray:
        """Smallest t with cdf(t) >= p (seconds); 0 for p <= P(no wait); ppf(1) = ``upper``."""
        probabilities, scalar = _as_probabilities(p)
        shape = np.shape(p)
        flat = probabilities.ravel()
        out = np.zeros_like(flat)
        out[flat >= 1.0] = self.upper
        inside = (flat > self.atom) & (flat < 1.0)
        if inside.any():
            out[inside] = self._ppf(flat[inside])
        return _out(out, scalar, shape)

    def mean(self) -> float:
        """E[delay] in seconds (inf when unstable)."""
        raise NotImplementedError

    def var(self) -> float:
        """Var[delay] in seconds squared, where a closed form exists."""
        raise NotImplementedError(f"{type(self).__name__} has no cheap variance")

    # --- kernels ------------------------------------------------------
    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return 1.0 - self._cdf(t)

    def _ppf(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.array([self._ppf_scalar(float(x)) for x in p])

    def _ppf_scalar(self, p: float) -> float:
        """Bracket then Brent on the cdf (continuous for t > 0 in every model here)."""
        return _invert(lambda t: float(self._cdf(np.array([t]))[0]), p, self._scale())

    def _scale(self) -> float:
        """A natural time scale (seconds) to start bracketing from."""
        return 1.0


def _invert(cdf: Callable[[float], float], p: float, scale: float) -> float:
    """Root of cdf(t) = p for t > 0 with cdf continuous and increasing there."""
    low, high = 0.0, scale
    while cdf(high) < p:
        low, high = high, 2.0 * high
        if high > 1e300:
            return math.inf
    return brent_root(lambda t: cdf(t) - p, low, high, xtol=1e-15 * high, rtol=1e-15, maxiter=200)


class InfiniteDelay(DelayDistribution):
    """The delay of an unstable queue (rho >= 1): infinite with probability 1.

    Convention: cdf(t) = 0 and sf(t) = 1 for every finite t, ppf(p) = inf for
    every p in (0, 1] (ppf(0) = 0), mean = var = inf.
    """

    atom = 0.0

    def cdf(self, t: ArrayLike) -> FloatOrArray:
        times, scalar = _as_times(t)
        return _out(np.where(np.isposinf(times), 1.0, 0.0).ravel(), scalar, np.shape(t))

    def sf(self, t: ArrayLike) -> FloatOrArray:
        times, scalar = _as_times(t)
        return _out(np.where(np.isposinf(times), 0.0, 1.0).ravel(), scalar, np.shape(t))

    def ppf(self, p: ArrayLike) -> FloatOrArray:
        probabilities, scalar = _as_probabilities(p)
        return _out(np.where(probabilities > 0, math.inf, 0.0).ravel(), scalar, np.shape(p))

    def mean(self) -> float:
        return math.inf

    def var(self) -> float:
        return math.inf


class ZeroDelay(DelayDistribution):
    """No delay at all (e.g. admitted requests of a loss system M/D/c/c)."""

    atom = 1.0
    upper = 0.0

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.ones_like(t)

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(t)

    def mean(self) -> float:
        return 0.0

    def var(self) -> float:
        return 0.0


class ShiftedDelay(DelayDistribution):
    """``base + shift`` for a constant shift >= 0 seconds (sojourn = wait + D)."""

    def __init__(self, base: DelayDistribution, shift: float) -> None:
        self.base = base
        self.shift = float(shift)
        self.atom = base.atom if self.shift == 0 else 0.0
        self.upper = base.upper + self.shift

    def cdf(self, t: ArrayLike) -> FloatOrArray:
        times, scalar = _as_times(t)
        shape = np.shape(t)
        moved = times.ravel() - self.shift
        out = np.where(moved < 0, 0.0, np.atleast_1d(self.base.cdf(np.maximum(moved, 0.0))))
        return _out(out, scalar, shape)

    def sf(self, t: ArrayLike) -> FloatOrArray:
        times, scalar = _as_times(t)
        shape = np.shape(t)
        moved = times.ravel() - self.shift
        out = np.where(moved < 0, 1.0, np.atleast_1d(self.base.sf(np.maximum(moved, 0.0))))
        return _out(out, scalar, shape)

    def ppf(self, p: ArrayLike) -> FloatOrArray:
        probabilities, scalar = _as_probabilities(p)
        shape = np.shape(p)
        out = np.atleast_1d(self.base.ppf(probabilities.ravel())) + self.shift
        out = np.where(probabilities.ravel() == 0, 0.0 if self.shift == 0 else self.shift, out)
        return _out(out, scalar, shape)

    def mean(self) -> float:
        return self.base.mean() + self.shift

    def var(self) -> float:
        return self.base.var()


class MixtureShiftedDelay(DelayDistribution):
    """``W + S`` with S = shifts[i] with probability weights[i], independent of W.

    cdf(t) = sum_i p_i F_W(t - d_i); sf likewise with the base's sf; ppf by
    bracketing and Brent's method on that cdf.
    """

    def __init__(self, base: DelayDistribution, shifts: Sequence[float], weights: Sequence[float]) -> None:
        self.base = base
        self.shifts = np.asarray(shifts, dtype=float)
        self.weights = np.asarray(weights, dtype=float)
        self.atom = float(self.weights[self.shifts == 0].sum() * base.atom)
        self.upper = base.upper + float(self.shifts.max())

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        moved = t[:, None] - self.shifts[None, :]
        values = np.atleast_1d(self.base.cdf(np.maximum(moved, 0.0).ravel())).reshape(moved.shape)
        return np.where(moved < 0, 0.0, values) @ self.weights

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        moved = t[:, None] - self.shifts[None, :]
        values = np.atleast_1d(self.base.sf(np.maximum(moved, 0.0).ravel())).reshape(moved.shape)
        return np.where(moved < 0, 1.0, values) @ self.weights

    def _scale(self) -> float:
        return float(max(self.shifts.max(), 1e-12))

    def ppf(self, p: ArrayLike) -> FloatOrArray:
        if math.isinf(self.base.mean()):
            return InfiniteDelay().ppf(p)
        return super().ppf(p)

    def mean(self) -> float:
        return self.base.mean() + float(self.shifts @ self.weights)

    def var(self) -> float:
        second = float(self.shifts**2 @ self.weights) - float(self.shifts @ self.weights) ** 2
        return self.base.var() + second


class ScaledDelay(DelayDistribution):
    """``factor * base`` for factor > 0 (the two-moment scaling of approximations)."""

    def __init__(self, base: DelayDistribution, factor: float) -> None:
        self.base = base
        self.factor = float(factor)
        self.atom = base.atom
        self.upper = base.upper * self.factor

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.atleast_1d(self.base.cdf(t / self.factor))

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.atleast_1d(self.base.sf(t / self.factor))

    def _ppf(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.atleast_1d(self.base.ppf(p)) * self.factor

    def mean(self) -> float:
        return self.base.mean() * self.factor

    def var(self) -> float:
        return self.base.var() * self.factor**2


class TruncatedDelay(DelayDistribution):
    """``base`` conditioned on ``base <= bound`` (seconds).

    Exact law of the wait of admitted requests in M/D/1/K (bound = (K-1)D),
    see ``dimensioning._queue_finite``.
    """

    def __init__(self, base: DelayDistribution, bound: float, mass: float | None = None) -> None:
        self.base = base
        self.bound = float(bound)
        # P(base <= bound), the normalising mass (given when known more precisely)
        self.mass = float(base.cdf(self.bound)) if mass is None else float(mass)
        self.atom = min(1.0, base.atom / self.mass)
        self.upper = min(self.bound, base.upper)

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        inside = np.minimum(t, self.bound)
        return np.where(t >= self.bound, 1.0, np.atleast_1d(self.base.cdf(inside)) / self.mass)

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        inside = np.minimum(t, self.bound)
        # P(t < W <= bound) / P(W <= bound), both terms from the tail
        between = np.atleast_1d(self.base.sf(inside)) - float(self.base.sf(self.bound))
        return np.where(t >= self.bound, 0.0, np.maximum(between, 0.0) / self.mass)

    def _ppf(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.minimum(np.atleast_1d(self.base.ppf(np.minimum(p * self.mass, 1.0))), self.bound)

    def _scale(self) -> float:
        return max(self.bound, 1e-12)

    def mean(self) -> float:
        # E[W | W <= b] = (b F(b) - int_0^b F) / F(b), integral by Gauss-Legendre per piece
        from scipy.integrate import quad

        if self.bound == 0:
            return 0.0
        integral, _ = quad(lambda x: float(self.base.sf(x)) - float(self.base.sf(self.bound)),
                           0.0, self.bound, limit=400, epsabs=1e-14 * self.bound, epsrel=1e-12)
        return integral / self.mass


class AtomExponentialDelay(DelayDistribution):
    """P(W = 0) = atom, else exponential with the given overall mean (seconds).

    The heavy-traffic shape (Kingman: W / E[W] -> Exp(1) as rho -> 1), used
    only where exact grids would be too long; always labelled an approximation.
    """

    def __init__(self, atom: float, mean: float) -> None:
        self.atom = min(max(float(atom), 0.0), 1.0)
        self._mean = float(mean)
        positive = 1.0 - self.atom
        self.rate = positive / self._mean if self._mean > 0 else math.inf

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return 1.0 - (1.0 - self.atom) * np.exp(-self.rate * t)

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return (1.0 - self.atom) * np.exp(-self.rate * t)

    def _ppf(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.log((1.0 - self.atom) / (1.0 - p)) / self.rate

    def mean(self) -> float:
        return self._mean


class NegligibleDelay(DelayDistribution):
    """A wait that is positive with a probability below 1e-12: reported as none.

    P(W > 0) is kept (``positive``, ``sf(0)``); for t > 0, cdf = 1 and sf = 0,
    and the mean is 0: absolute errors below 1e-12 (in probability) and
    1e-12 D (in the mean), under the FFT route's own rounding noise.
    """

    upper = 0.0

    def __init__(self, positive: float) -> None:
        self._positive = float(positive)
        self.atom = 1.0 - self._positive

    @property
    def positive(self) -> float:
        return self._positive

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.ones_like(t)

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(t)

    def _ppf(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(p)

    def mean(self) -> float:
        return 0.0

    def var(self) -> float:
        return 0.0
