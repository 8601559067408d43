"""Numerical derivatives by Richardson extrapolation, as R's ``numDeriv`` computes them.

lmerTest takes the Hessian of the REML deviance and the Jacobian of the fixed-effect
covariance from ``numDeriv``; :func:`richardson_hessian` and :func:`richardson_jacobian`
follow that algorithm with the same default settings. The engine itself no longer uses
them for Satterthwaite df: its derivatives are exact (:mod:`process_outcome.mixed.varpar`),
because numDeriv's steps are absolute near zero and make the df depend on units; these
functions reproduce lmerTest's behaviour where a test needs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["richardson_hessian", "richardson_jacobian"]


# numDeriv's Richardson defaults: eps, zero.tol, r (extrapolation levels), v (step ratio)
_EPS = 1e-4
_ZERO_TOL = math.sqrt(np.finfo(float).eps / 7e-7)
_R = 4
_V = 2.0


def _initial_steps(x: np.ndarray, d: float) -> np.ndarray:
    return np.abs(d * x) + _EPS * (np.abs(x) < _ZERO_TOL)


def _extrapolate(a: np.ndarray) -> np.ndarray:
    """Richardson-extrapolate along axis 0 (successively halved steps) as numDeriv."""
    for m in range(1, _R):
        a = (a[1:] * 4.0**m - a[:-1]) / (4.0**m - 1.0)
    return a[0]


def richardson_jacobian(
    func: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: float = 1e-4
) -> np.ndarray:
    """Jacobian of a vector function as ``numDeriv::jacobian(method = "Richardson")``.

    Parameters
    ----------
    func : callable
        Maps a parameter vector to a 1-D array.
    x : numpy.ndarray
        Point of differentiation.
    d : float
        Relative initial step (numDeriv's default for ``jacobian`` is 1e-4).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(func(x)), len(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> j = richardson_jacobian(lambda v: v**2, np.array([1.0, 2.0]))
    >>> np.allclose(j, np.diag([2.0, 4.0]))
    True
    """
    x = np.asarray(x, dtype=float)
    h0 = _initial_steps(x, d)
    cols = []
    for i in range(x.size):
        levels = []
        h = h0[i]
        for _ in range(_R):
            e = np.zeros_like(x)
            e[i] = h
            levels.append((np.asarray(func(x + e)) - np.asarray(func(x - e))) / (2.0 * h))
            h /= _V
        cols.append(_extrapolate(np.array(levels)))
    return np.column_stack(cols)


def richardson_hessian(
    func: Callable[[np.ndarray], float], x: np.ndarray, d: float = 0.1
) -> np.ndarray:
    """Hessian of a scalar function as ``numDeriv::hessian`` (``genD``, Richardson).

    Parameters
    ----------
    func : callable
        Scalar function of a parameter vector.
    x : numpy.ndarray
        Point of differentiation.
    d : float
        Relative initial step (numDeriv's default for ``hessian`` is 0.1).

    Returns
    -------
    numpy.ndarray
        Symmetric ``(len(x), len(x))`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> h = richardson_hessian(lambda v: float(v @ v), np.array([1.0, 2.0]))
    >>> np.allclose(h, 2 * np.eye(2))
    True
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    f0 = func(x)
    h0 = _initial_steps(x, d)
    unit = np.eye(n)
    diag = np.empty(n)
    for i in range(n):
        levels = []
        h = h0.copy()
        for _ in range(_R):
            f1 = func(x + unit[i] * h)
            f2 = func(x - unit[i] * h)
            levels.append((f1 - 2.0 * f0 + f2) / h[i] ** 2)
            h = h / _V
        diag[i] = _extrapolate(np.array(levels))
    hess = np.diag(diag)
    for i in range(n):
        for j in range(i):
            levels = []
            h = h0.copy()
            for _ in range(_R):
                step = unit[i] * h + unit[j] * h
                f1 = func(x + step)
                f2 = func(x - step)
                levels.append(
                    (f1 - 2.0 * f0 + f2 - diag[i] * h[i] ** 2 - diag[j] * h[j] ** 2)
                    / (2.0 * h[i] * h[j])
                )
                h = h / _V
            hess[i, j] = hess[j, i] = _extrapolate(np.array(levels))
    return hess
