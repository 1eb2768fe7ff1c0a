"""Test problems with known global minima, vectorised, with their search spaces.

Each :class:`Problem` carries a vectorised numpy callable (rows of
parameter values in, values out), its search space as Optuna distributions
and as autoopt's own spec (:meth:`Problem.autoopt_space`), a global
minimiser and the global minimum ``f_opt``.

Domains and minima follow the Virtual Library of Simulation Experiments
(S. Surjanovic and D. Bingham, https://www.sfu.ca/~ssurjano/optimization.html):

============== ===== ============================== =====================================
problem        d     domain                         global minimum
============== ===== ============================== =====================================
branin         2     x1 in [-5, 10], x2 in [0, 15]  5 / (4 pi) = 0.397887... at 3 points
hartmann6      6     [0, 1]^6                       -3.32237 at (0.20169, ..., 0.6573)
sphere5        5     [-5.12, 5.12]^5 (shifted)      0 at the shift
rosenbrock5    5     [-5, 10]^5                     0 at (1, ..., 1)
rastrigin5     5     [-5.12, 5.12]^5 (shifted)      0 at the shift
ackley5        5     [-32.768, 32.768]^5 (shifted)  0 at the shift
styblinski5    5     [-5, 5]^5                      -39.16617 d at (-2.903534, ...)
mixed6         6     2 float, 1 log-float, 2 int,   0, constructed here (see :func:`mixed6`)
                     1 categorical
============== ===== ============================== =====================================

**Shifted functions.** Sphere, Rastrigin and Ackley have their minimum at
the origin, the centre of their box, which a strategy that starts from the
centre (grid search, Sobol', SPSA from the middle) would find at once. They
are used here shifted, ``f(x - s)``, with a fixed shift ``s`` well inside
the box (the CEC benchmark suites do the same); their minimum stays 0, at
``x = s``. No minimiser of any problem lies at the centre of its box.

The benchmark hands the strategies no initial point (``initial=None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = [
    "MIXED6_CHOICES",
    "PROBLEMS",
    "Problem",
    "ackley",
    "branin",
    "get_problem",
    "hartmann6",
    "mixed6",
    "rastrigin",
    "rosenbrock",
    "sphere",
    "styblinski_tang",
]

Array = np.ndarray


def _rows(x: Any, d: int) -> Array:
    """``x`` as a float array whose last axis has length ``d``."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] != d:
        raise ValueError(f"expected points with {d} coordinates on the last axis; got shape {arr.shape}")
    return arr


# ------------------------------------------------------------ the functions
# Every function maps an array of shape (..., d) to shape (...).


def branin(x: Any) -> Array:
    """Branin-Hoo: ``a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s``; three global minima."""
    x = _rows(x, 2)
    x1, x2 = x[..., 0], x[..., 1]
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: Any) -> Array:
    """Hartmann 6-D: ``-sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)``; six local minima."""
    x = _rows(x, 6)
    inner = np.sum(_H6_A * (x[..., None, :] - _H6_P) ** 2, axis=-1)
    return -np.sum(_H6_ALPHA * np.exp(-inner), axis=-1)


def sphere(x: Any) -> Array:
    """Sphere: ``sum x_i^2``."""
    x = np.asarray(x, dtype=float)
    return np.sum(x**2, axis=-1)


def rosenbrock(x: Any) -> Array:
    """Rosenbrock: ``sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``; a curved, narrow valley."""
    x = np.asarray(x, dtype=float)
    return np.sum(100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2, axis=-1)


def rastrigin(x: Any) -> Array:
    """Rastrigin: ``10 d + sum x_i^2 - 10 cos(2 pi x_i)``; a regular grid of local minima."""
    x = np.asarray(x, dtype=float)
    return 10 * x.shape[-1] + np.sum(x**2 - 10 * np.cos(2 * math.pi * x), axis=-1)


def ackley(x: Any) -> Array:
    """Ackley (a=20, b=0.2, c=2 pi): a nearly flat outer region around a deep central hole."""
    x = np.asarray(x, dtype=float)
    d = x.shape[-1]
    rms = np.sqrt(np.sum(x**2, axis=-1) / d)
    mean_cos = np.sum(np.cos(2 * math.pi * x), axis=-1) / d
    return -20 * np.exp(-0.2 * rms) - np.exp(mean_cos) + 20 + math.e


def styblinski_tang(x: Any) -> Array:
    """Styblinski-Tang: ``sum (x_i^4 - 16 x_i^2 + 5 x_i) / 2``; 2^d local minima."""
    x = np.asarray(x, dtype=float)
    return 0.5 * np.sum(x**4 - 16 * x**2 + 5 * x, axis=-1)


# Root of 4x^3 - 32x + 5 = 0 in [-5, 5] with the lowest value (numpy.roots, checked by the tests).
_ST_X = -2.9035340277711783
_ST_F1 = 0.5 * (_ST_X**4 - 16 * _ST_X**2 + 5 * _ST_X)  # -39.16616570377141 per coordinate

# The shifts of the shifted problems: fixed, inside the box, away from its centre.
SPHERE_SHIFT = np.array([1.9, -3.1, 0.7, 2.6, -1.4])
RASTRIGIN_SHIFT = np.array([-2.3, 1.2, 3.4, -0.6, 2.1])
ACKLEY_SHIFT = np.array([12.5, -20.1, 5.3, -8.7, 17.9])


# ------------------------------------------------------------------ mixed6

MIXED6_CHOICES = ("a", "b", "c", "d")
"""The categories of mixed6's ``kind``; ``"c"`` is the best one."""

# Per category: the optimum of (x, y), the depth that suits it, and the value added.
_MIXED_U = np.array([2.0, 4.5, 7.3, 5.5])
_MIXED_V = np.array([3.0, -1.0, -2.1, 1.5])
_MIXED_DEPTH = np.array([3, 5, 9, 7])
_MIXED_PENALTY = np.array([0.6, 0.25, 0.0, 1.2])
_MIXED_LOG_LR = -2.0  # log10 of the best learning rate at the best depth
_MIXED_WIDTH = 96  # the best width; width runs over 16, 32, ..., 512


def mixed6(x: Any) -> Array:
    """A mixed 6-parameter problem with a known optimum, built here.

    Columns: ``x`` in [0, 10], ``y`` in [-5, 5] (floats), ``lr`` in
    [1e-6, 1] (log-scaled float), ``depth`` in 1..12 and ``width`` in
    16, 32, ..., 512 (ints), and ``kind``, the index of a category in
    :data:`MIXED6_CHOICES`. With ``k`` the category, ``dx = x - u_k`` and
    ``dy = y - v_k``::

        f = p_k                                              # the category's own cost
          + (dx + dy)^2 / 4 + (dx - dy)^2 + 0.05 dx dy^2     # a rotated, skewed bowl around (u_k, v_k)
          + (log10(lr) + 2 - 0.3 (depth - depth_k))^2        # the best lr moves with depth
          + 0.1 (depth - depth_k)^2
          + ((width - 96) / 64 - 0.5 dy)^2                    # the best width moves with y

    All terms but the skew are squares. The quadratic part of the bowl has
    eigenvalues 0.5 and 2, so it is at least ``0.5 (dx^2 + dy^2)``; in the
    box ``|dx| <= 8``, so the skew ``0.05 dx dy^2`` is at most ``0.4 dy^2``
    in size and the bowl is positive except at ``dx = dy = 0``. Each
    category moves the optimum of ``(x, y)`` and of ``depth`` and adds its
    own cost ``p_k`` (0.6, 0.25, 0, 1.2), so picking the wrong one costs at
    least 0.25. The global minimum 0 is at ``kind = "c"``, ``x = 7.3``,
    ``y = -2.1``, ``lr = 1e-2``, ``depth = 9``, ``width = 96``: away from
    the centre of every coordinate, on the log scale too (its centre is
    ``lr = 1e-3``).
    """
    x = _rows(x, 6)
    k = x[..., 5].astype(int)
    if np.any((k < 0) | (k >= len(MIXED6_CHOICES))):
        raise ValueError(f"mixed6: category index out of range 0..{len(MIXED6_CHOICES) - 1}")
    dx = x[..., 0] - _MIXED_U[k]
    dy = x[..., 1] - _MIXED_V[k]
    lr, depth, width = x[..., 2], x[..., 3], x[..., 4]
    dd = depth - _MIXED_DEPTH[k]
    bowl = (dx + dy) ** 2 / 4 + (dx - dy) ** 2 + 0.05 * dx * dy**2
    return (
        _MIXED_PENALTY[k]
        + bowl
        + (np.log10(lr) - _MIXED_LOG_LR - 0.3 * dd) ** 2
        + 0.1 * dd**2
        + ((width - _MIXED_WIDTH) / 64 - 0.5 * dy) ** 2
    )


# ----------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """A minimisation problem with a known global minimum.

    Attributes
    ----------
    name : str
    distributions : dict[str, BaseDistribution]
        The search space as Optuna distributions, in column order.
    fn : callable
        The vectorised function: an array ``(..., d)`` of columns in the
        order of ``distributions`` (a categorical as the index of its
        choice) to an array ``(...)``.
    x_opt : dict[str, Any]
        A global minimiser.
    f_opt : float
        The global minimum.
    note : str
        Where the problem comes from and how it was changed (shifts).
    noise_sd : float
        The standard deviation of the Gaussian noise each evaluation is observed with
        (:meth:`observe`); 0 for the noise-free problems. :meth:`f` is always noise-free.
    """

    name: str
    distributions: dict[str, BaseDistribution]
    fn: Callable[[Any], Array]
    x_opt: dict[str, Any]
    f_opt: float
    note: str
    noise_sd: float = 0.0

    @property
    def dim(self) -> int:
        return len(self.distributions)

    def encode(self, params: Mapping[str, Any]) -> Array:
        """The row of ``params`` that :attr:`fn` takes (categoricals as indices)."""
        row = np.empty(self.dim)
        for i, (name, dist) in enumerate(self.distributions.items()):
            value = params[name]
            if isinstance(dist, CategoricalDistribution):
                row[i] = dist.to_internal_repr(value)
            else:
                row[i] = float(value)
        return row

    def f(self, params: Mapping[str, Any]) -> float:
        """The value at ``params`` (a dict name -> value)."""
        return float(self.fn(self.encode(params)))

    def observe(self, params: Mapping[str, Any], rng: np.random.Generator) -> float:
        """What a tuner sees at ``params``: :meth:`f` plus ``N(0, noise_sd^2)`` noise from ``rng``."""
        value = self.f(params)
        return value + float(rng.normal(0.0, self.noise_sd)) if self.noise_sd > 0 else value

    def regret(self, value: float) -> float:
        """Simple regret of ``value``, ``max(value - f_opt, 0)``."""
        return max(value - self.f_opt, 0.0)

    def autoopt_space(self) -> dict[str, Any]:
        """The space as autoopt's spec, ``FloatParam``/``IntParam``/``CategoricalParam``, no initial point."""
        return {name: _autoopt_param(dist) for name, dist in self.distributions.items()}


def _autoopt_param(dist: BaseDistribution) -> Any:
    from autoopt.tuning import CategoricalParam, FloatParam, IntParam

    if isinstance(dist, FloatDistribution):
        if dist.step is not None:
            raise ValueError(f"no stepped floats in the benchmark spaces; got {dist!r}")
        return FloatParam(dist.low, dist.high, log=dist.log, initial=None)
    if isinstance(dist, IntDistribution):
        return IntParam(dist.low, dist.high, step=dist.step, log=dist.log, initial=None)
    if isinstance(dist, CategoricalDistribution):
        return CategoricalParam(tuple(dist.choices), initial=None)
    raise TypeError(f"unsupported distribution {dist!r}")


def _box(names: list[str], low: float, high: float) -> dict[str, BaseDistribution]:
    return {n: FloatDistribution(low, high) for n in names}


def _names(d: int) -> list[str]:
    return [f"x{i + 1}" for i in range(d)]


def _shifted(fn: Callable[[Any], Array], shift: Array) -> Callable[[Any], Array]:
    def shifted(x: Any) -> Array:
        return fn(_rows(x, len(shift)) - shift)

    shifted.__name__ = f"shifted_{fn.__name__}"
    return shifted


def _point(d: int, values: Any) -> dict[str, Any]:
    return {n: float(v) for n, v in zip(_names(d), values, strict=True)}


_VLSE = "Surjanovic & Bingham, Virtual Library of Simulation Experiments"

PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in (
        Problem(
            "branin",
            {"x1": FloatDistribution(-5.0, 10.0), "x2": FloatDistribution(0.0, 15.0)},
            branin,
            {"x1": math.pi, "x2": 2.275},
            5 / (4 * math.pi),
            f"Branin-Hoo, {_VLSE}; minima at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475).",
        ),
        Problem(
            "hartmann6",
            _box(_names(6), 0.0, 1.0),
            hartmann6,
            _point(6, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]),
            # The library gives -3.32237 at the 6-digit point above; this value is the
            # minimum refined by Nelder-Mead from that point (the tests redo it).
            -3.3223680114155147,
            f"Hartmann 6-D, {_VLSE}.",
        ),
        Problem(
            "sphere5",
            _box(_names(5), -5.12, 5.12),
            _shifted(sphere, SPHERE_SHIFT),
            _point(5, SPHERE_SHIFT),
            0.0,
            f"Sphere, {_VLSE}, shifted by s = {SPHERE_SHIFT.tolist()} (minimum at s).",
        ),
        Problem(
            "rosenbrock5",
            _box(_names(5), -5.0, 10.0),
            rosenbrock,
            _point(5, np.ones(5)),
            0.0,
            f"Rosenbrock, {_VLSE}.",
        ),
        Problem(
            "rastrigin5",
            _box(_names(5), -5.12, 5.12),
            _shifted(rastrigin, RASTRIGIN_SHIFT),
            _point(5, RASTRIGIN_SHIFT),
            0.0,
            f"Rastrigin, {_VLSE}, shifted by s = {RASTRIGIN_SHIFT.tolist()} (minimum at s).",
        ),
        Problem(
            "ackley5",
            _box(_names(5), -32.768, 32.768),
            _shifted(ackley, ACKLEY_SHIFT),
            _point(5, ACKLEY_SHIFT),
            0.0,
            f"Ackley, {_VLSE}, shifted by s = {ACKLEY_SHIFT.tolist()} (minimum at s).",
        ),
        Problem(
            "styblinski5",
            _box(_names(5), -5.0, 5.0),
            styblinski_tang,
            _point(5, np.full(5, _ST_X)),
            5 * _ST_F1,
            f"Styblinski-Tang, {_VLSE}.",
        ),
        Problem(
            "mixed6",
            {
                "x": FloatDistribution(0.0, 10.0),
                "y": FloatDistribution(-5.0, 5.0),
                "lr": FloatDistribution(1e-6, 1.0, log=True),
                "depth": IntDistribution(1, 12),
                "width": IntDistribution(16, 512, step=16),
                "kind": CategoricalDistribution(MIXED6_CHOICES),
            },
            mixed6,
            {"x": 7.3, "y": -2.1, "lr": 1e-2, "depth": 9, "width": 96, "kind": "c"},
            0.0,
            "Constructed for this benchmark (see mixed6()): 2 float, 1 log-float, 2 int, 1 categorical.",
        ),
    )
}
"""Every problem of the suite, by name."""


def get_problem(name: str) -> Problem:
    """The problem called ``name``, of the development suite or the held-out one; ``KeyError`` otherwise."""
    from benchmarks.tuning.heldout import HELDOUT

    found = PROBLEMS.get(name) or HELDOUT.get(name)
    if found is None:
        raise KeyError(f"unknown problem {name!r}; known: {', '.join([*PROBLEMS, *HELDOUT])}")
    return found
