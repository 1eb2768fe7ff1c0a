"""The held-out test functions of the tuning benchmark: frozen before any sampler work (issue 13).

The development suite (:data:`benchmarks.tuning.functions.PROBLEMS`) is what the strategies were
built and tuned on. These nine problems are not: they judge whether a strategy holds up on objectives
it was never tuned on. Their list, bounds, minimisers, noise, seeds and initial points are fixed
here, in one commit, before any change to a sampler; changing them afterwards would defeat their
purpose. Domains and minima of the classical functions follow the Virtual Library of Simulation
Experiments (S. Surjanovic and D. Bingham, https://www.sfu.ca/~ssurjano/optimization.html).

================ ===== ============================= =========================================
problem          d     domain                        global minimum
================ ===== ============================= =========================================
zakharov4        4     [-5, 10]^4                    0 at 0 (quartic growth: a huge range)
levy4            4     [-10, 10]^4                   0 at (1, ..., 1)
griewank5        5     [-600, 600]^5 (shifted)       0 at the shift
dixon_price4     4     [-10, 10]^4                   0 at x_i = 2^(-(2^i - 2) / 2^i)
michalewicz5     5     [0, pi]^5, m = 10             -4.687658... (steep, narrow valleys)
powell4          4     [-4, 5]^4                     0 at 0
hartmann6_noisy  6     [0, 1]^6                      Hartmann-6 plus N(0, 0.05^2) per evaluation
plateau4         4     [0, 1]^4                      1 except in a ball of radius 0.25; 0 at its centre
logscale3        3     2 log-floats, 1 float         0 at lr = 10^-4.2, reg = 10^-0.7, x = 0.3
================ ===== ============================= =========================================

- **Noise.** ``hartmann6_noisy`` is observed with Gaussian noise (:attr:`Problem.noise_sd`), drawn
  from the run's own generator; its regret is scored on the noise-free value of the incumbent (the
  trial with the best *observed* value).
- **Plateau.** ``plateau4`` is scored by the trials needed to leave the plateau (the first value
  below 1), not by its regret; about 2 % of the box lies off the plateau.
- **Seeds.** :data:`SEEDS`, 20 of them, for every method.
- **Initial points.** :data:`INITIAL`: one fixed off-centre first point per problem, far from the
  minimiser, given to every method in the runs "with an initial point" (and none in the runs
  without).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from optuna.distributions import FloatDistribution

from benchmarks.tuning.functions import Array, Problem, _box, _names, _point, _rows, _shifted, hartmann6

__all__ = [
    "GRIEWANK_SHIFT",
    "HELDOUT",
    "INITIAL",
    "MICHALEWICZ_X",
    "PLATEAU_CENTRE",
    "SEEDS",
    "dixon_price",
    "griewank",
    "levy",
    "logscale3",
    "michalewicz",
    "plateau4",
    "powell",
    "zakharov",
]

SEEDS = tuple(range(20))
"""The seeds of every held-out run, for every method."""


def zakharov(x: Any) -> Array:
    """Zakharov: ``sum x_i^2 + (sum 0.5 i x_i)^2 + (sum 0.5 i x_i)^4``."""
    x = np.asarray(x, dtype=float)
    s = np.sum(0.5 * np.arange(1, x.shape[-1] + 1) * x, axis=-1)
    return np.sum(x**2, axis=-1) + s**2 + s**4


def levy(x: Any) -> Array:
    """Levy: with ``w = 1 + (x - 1) / 4``, ``sin^2(pi w_1) + sum (w_i - 1)^2 (1 + 10 sin^2(pi w_i + 1)) + ...``."""
    x = np.asarray(x, dtype=float)
    w = 1 + (x - 1) / 4
    head = np.sin(math.pi * w[..., 0]) ** 2
    mid = np.sum((w[..., :-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[..., :-1] + 1) ** 2), axis=-1)
    tail = (w[..., -1] - 1) ** 2 * (1 + np.sin(2 * math.pi * w[..., -1]) ** 2)
    return head + mid + tail


def griewank(x: Any) -> Array:
    """Griewank: ``sum x_i^2 / 4000 - prod cos(x_i / sqrt(i)) + 1``."""
    x = np.asarray(x, dtype=float)
    i = np.sqrt(np.arange(1, x.shape[-1] + 1))
    return np.sum(x**2, axis=-1) / 4000 - np.prod(np.cos(x / i), axis=-1) + 1


def dixon_price(x: Any) -> Array:
    """Dixon-Price: ``(x_1 - 1)^2 + sum_{i >= 2} i (2 x_i^2 - x_{i-1})^2``."""
    x = np.asarray(x, dtype=float)
    i = np.arange(2, x.shape[-1] + 1)
    return (x[..., 0] - 1) ** 2 + np.sum(i * (2 * x[..., 1:] ** 2 - x[..., :-1]) ** 2, axis=-1)


def michalewicz(x: Any, m: int = 10) -> Array:
    """Michalewicz: ``-sum sin(x_i) sin^(2m)(i x_i^2 / pi)``, m = 10."""
    x = np.asarray(x, dtype=float)
    i = np.arange(1, x.shape[-1] + 1)
    return -np.sum(np.sin(x) * np.sin(i * x**2 / math.pi) ** (2 * m), axis=-1)


def powell(x: Any) -> Array:
    """Powell (d a multiple of 4): per block, ``(a + 10b)^2 + 5(c - d)^2 + (b - 2c)^4 + 10(a - d)^4``."""
    x = np.asarray(x, dtype=float)
    a, b, c, d = (x[..., k::4] for k in range(4))
    return np.sum((a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4, axis=-1)


PLATEAU_CENTRE = np.array([0.72, 0.31, 0.58, 0.19])
PLATEAU_RADIUS = 0.25


def plateau4(x: Any) -> Array:
    """1 on most of the box; ``(r / R)^2`` within ``R = 0.25`` of :data:`PLATEAU_CENTRE`."""
    x = _rows(x, 4)
    r2 = np.sum((x - PLATEAU_CENTRE) ** 2, axis=-1) / PLATEAU_RADIUS**2
    return np.minimum(r2, 1.0)


def logscale3(x: Any) -> Array:
    """``(log10 lr + 4.2)^2 + 0.5 (log10 reg + 0.7)^2 + (x - 0.3)^2``: columns lr, reg (log-scaled), x."""
    x = _rows(x, 3)
    return (np.log10(x[..., 0]) + 4.2) ** 2 + 0.5 * (np.log10(x[..., 1]) + 0.7) ** 2 + (x[..., 2] - 0.3) ** 2


GRIEWANK_SHIFT = np.array([183.0, -241.0, 77.0, -402.0, 296.0])
# The 5-D minimiser (VLSE's 5-digit point, refined by L-BFGS-B; the tests redo it).
MICHALEWICZ_X = np.array(
    [2.2029055159753708, 1.5707963225218824, 1.284991565640026, 1.9230584650230071, 1.7204697673967841]
)
_DP_X = np.array([2.0 ** (-(2.0**i - 2) / 2.0**i) for i in range(1, 5)])

_VLSE = "Surjanovic & Bingham, Virtual Library of Simulation Experiments"

HELDOUT: dict[str, Problem] = {
    p.name: p
    for p in (
        Problem("zakharov4", _box(_names(4), -5.0, 10.0), zakharov, _point(4, np.zeros(4)), 0.0,
                f"Zakharov, {_VLSE}."),
        Problem("levy4", _box(_names(4), -10.0, 10.0), levy, _point(4, np.ones(4)), 0.0, f"Levy, {_VLSE}."),
        Problem("griewank5", _box(_names(5), -600.0, 600.0), _shifted(griewank, GRIEWANK_SHIFT),
                _point(5, GRIEWANK_SHIFT), 0.0,
                f"Griewank, {_VLSE}, shifted by s = {GRIEWANK_SHIFT.tolist()} (minimum at s)."),
        Problem("dixon_price4", _box(_names(4), -10.0, 10.0), dixon_price, _point(4, _DP_X), 0.0,
                f"Dixon-Price, {_VLSE}."),
        Problem("michalewicz5", _box(_names(5), 0.0, math.pi), michalewicz, _point(5, MICHALEWICZ_X),
                float(michalewicz(MICHALEWICZ_X)), f"Michalewicz (m = 10), {_VLSE}; f* = -4.687658."),
        Problem("powell4", _box(_names(4), -4.0, 5.0), powell, _point(4, np.zeros(4)), 0.0, f"Powell, {_VLSE}."),
        Problem("hartmann6_noisy", _box(_names(6), 0.0, 1.0), hartmann6,
                _point(6, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]), -3.3223680114155147,
                "Hartmann 6-D observed with N(0, 0.05^2) noise; regret on the incumbent's noise-free value.",
                noise_sd=0.05),
        Problem("plateau4", _box(_names(4), 0.0, 1.0), plateau4, _point(4, PLATEAU_CENTRE), 0.0,
                "Constructed here: 1 outside a ball of radius 0.25 (about 2 % of the box); scored by the "
                "trials needed to leave the plateau."),
        Problem("logscale3", {"lr": FloatDistribution(1e-7, 1.0, log=True),
                              "reg": FloatDistribution(1e-6, 10.0, log=True), "x": FloatDistribution(0.0, 1.0)},
                logscale3, {"lr": 10**-4.2, "reg": 10**-0.7, "x": 0.3}, 0.0,
                "Constructed here: the optimum of two log-scaled parameters, far from their log-centres."),
    )
}  # fmt: skip
"""The held-out problems, by name."""

INITIAL: dict[str, dict[str, float]] = {
    "zakharov4": _point(4, [7.0, -3.5, 6.0, 8.5]),
    "levy4": _point(4, [-7.5, 6.0, -4.0, 8.0]),
    "griewank5": _point(5, [-420.0, 350.0, -510.0, 260.0, -330.0]),
    "dixon_price4": _point(4, [-7.0, 8.0, -6.5, 9.0]),
    "michalewicz5": _point(5, [0.4, 2.8, 0.5, 2.9, 0.3]),
    "powell4": _point(4, [3.5, -3.0, 4.2, -2.5]),
    "hartmann6_noisy": _point(6, [0.85, 0.9, 0.1, 0.8, 0.9, 0.1]),
    "plateau4": _point(4, [0.1, 0.85, 0.1, 0.9]),
    "logscale3": {"lr": 0.3, "reg": 5e-6, "x": 0.95},
}
"""One off-centre first point per problem, far from its minimiser (the runs with an initial point)."""
