"""The unit box: an affine map between a bounded search space and ``[0, 1]^d``.

The samplers of :mod:`autoopt.tuning` that do their own numerics (SPSA,
Sobol exploration, warm-started CMA-ES) work in the unit cube, so that one
step size fits every parameter whatever its units. This module maps Optuna
distributions to and from it. Integers are continuous inside the box and are
rounded only at the Optuna boundary (:meth:`UnitBox.from_unit`).

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import math
import threading
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

__all__ = ["UnitBox", "UnitBoxSampler"]


_LINEAR, _LOG, _LATTICE, _LOG_INT, _CATEGORY = range(5)


class UnitBox:
    """Map the free parameters of a search space to and from the unit cube.

    Every Optuna distribution has a coordinate:

    - linear float: ``x = low + u * (high - low)``;
    - log float: ``log x`` is linear in ``u``;
    - stepped float or int (``low + k * step``, ``n`` levels): a *discrete*
      coordinate, ``k = round(u * (n - 1))`` or ``floor(u * n)``;
    - log int: ``log x`` linear in ``u``, then rounded to an integer;
    - categorical with ``n`` choices: a discrete coordinate indexing them
      (a relaxation: the choices are treated as ordered).

    Parameters
    ----------
    search_space : Mapping[str, BaseDistribution]
        The distributions. Parameters whose distribution is a single point
        are not part of the box (Optuna fills them in on its own).

    Attributes
    ----------
    names : tuple of str
        The free parameters, in the order of the box's coordinates.
    space : dict
        Their distributions.
    dim : int
        The number of free parameters.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution, IntDistribution
    >>> box = UnitBox({"x": FloatDistribution(0.0, 4.0), "n": IntDistribution(10, 20)})
    >>> box.to_unit({"x": 1.0, "n": 15}).tolist()
    [0.25, 0.5]
    >>> box.from_unit(np.array([0.5, 0.26]))
    {'x': 2.0, 'n': 13}
    >>> lr = UnitBox({"lr": FloatDistribution(1e-4, 1.0, log=True)})
    >>> round(lr.from_unit(np.array([0.5]))["lr"], 6)
    0.01
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution]) -> None:
        names: list[str] = []
        kinds: list[int] = []
        lows: list[float] = []
        spans: list[float] = []
        levels: list[int] = []
        self._choices: dict[int, tuple[Any, ...]] = {}
        for name, dist in search_space.items():
            if not isinstance(dist, BaseDistribution):
                raise ValueError(
                    f"UnitBox() argument 'search_space': parameter {name!r} has the unsupported "
                    f"distribution {dist!r}."
                )
            if dist.single():
                continue
            i = len(names)
            if isinstance(dist, CategoricalDistribution):
                kind, lo, span, n = _CATEGORY, 0.0, float(len(dist.choices) - 1), len(dist.choices)
                self._choices[i] = tuple(dist.choices)
            elif isinstance(dist, (FloatDistribution, IntDistribution)):
                is_int = isinstance(dist, IntDistribution)
                if dist.log:
                    kind = _LOG_INT if is_int else _LOG
                    lo, span = math.log(dist.low), math.log(dist.high) - math.log(dist.low)
                    n = int(dist.high - dist.low) + 1 if is_int else 0
                elif dist.step is not None:
                    kind, lo, span = _LATTICE, float(dist.low), float(dist.step)
                    n = round((dist.high - dist.low) / dist.step) + 1
                else:
                    kind, lo, span, n = _LINEAR, float(dist.low), float(dist.high - dist.low), 0
            else:
                raise ValueError(
                    f"UnitBox() argument 'search_space': parameter {name!r} has the unsupported "
                    f"distribution {dist!r}."
                )
            names.append(name)
            kinds.append(kind)
            lows.append(lo)
            spans.append(span)
            levels.append(n)
        self.names: tuple[str, ...] = tuple(names)
        self.space: dict[str, BaseDistribution] = {n: search_space[n] for n in names}
        self.dim = len(names)
        self._kind = np.asarray(kinds, dtype=int)
        self._low = np.asarray(lows, dtype=float)
        self._span = np.asarray(spans, dtype=float)  # the step for lattices
        self._levels = np.asarray(levels, dtype=int)
        self._discrete = np.isin(self._kind, (_LATTICE, _LOG_INT, _CATEGORY))
        self._bounds = [
            (float(d.low), float(d.high))
            if isinstance(d, (FloatDistribution, IntDistribution))
            else (0.0, 0.0)
            for d in self.space.values()
        ]

    @property
    def is_integer(self) -> np.ndarray:
        """Boolean mask of the discrete coordinates: ints, stepped floats, categoricals (a copy)."""
        return self._discrete.copy()

    @property
    def all_continuous(self) -> bool:
        """Whether every free parameter is a float without a step."""
        return not bool(self._discrete.any())

    @property
    def has_categorical(self) -> bool:
        """Whether a free parameter is categorical."""
        return bool((self._kind == _CATEGORY).any())

    @property
    def unit_resolution(self) -> np.ndarray:
        """Width of one discrete step in the unit box per coordinate (0 for continuous ones)."""
        steps = np.maximum(self._levels - 1, 1).astype(float)
        return np.where(self._discrete, 1.0 / steps, 0.0)

    def matches(self, search_space: Mapping[str, BaseDistribution]) -> bool:
        """Whether ``search_space`` holds this box's parameters with the same distributions."""
        return all(search_space.get(n) == d for n, d in self.space.items())

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """The unit-box coordinates of ``params`` (clipped to ``[0, 1]``)."""
        u = np.empty(self.dim)
        for i, name in enumerate(self.names):
            v, kind = params[name], self._kind[i]
            if kind == _CATEGORY:
                k = self._choices[i].index(v)
                u[i] = k / max(len(self._choices[i]) - 1, 1)
            elif kind in (_LOG, _LOG_INT):
                u[i] = (math.log(float(v)) - self._low[i]) / self._span[i]
            elif kind == _LATTICE:
                u[i] = (float(v) - self._low[i]) / self._span[i] / max(self._levels[i] - 1, 1)
            else:
                u[i] = (float(v) - self._low[i]) / self._span[i]
        return np.clip(u, 0.0, 1.0)

    def from_unit(self, u: np.ndarray, *, integers: Literal["round", "floor"] = "round") -> dict[str, Any]:
        """The parameter values at unit-box point ``u``, inside the bounds.

        Parameters
        ----------
        u : numpy.ndarray
            A point of the cube; coordinates outside ``[0, 1]`` are clipped.
        integers : {"round", "floor"}
            How discrete coordinates become levels. ``"round"`` takes the
            nearest level (for local search); ``"floor"`` maps ``[0, 1)``
            onto the ``n`` levels in equal cells, so a uniform ``u`` gives
            uniform levels (for space-filling designs).
        """
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        out: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            kind, lo, span, n = self._kind[i], self._low[i], self._span[i], int(self._levels[i])
            if kind in (_LATTICE, _CATEGORY):
                if integers == "floor":
                    k = min(int(np.floor(u[i] * n)), n - 1)
                else:
                    k = int(np.rint(u[i] * (n - 1)))
                if kind == _CATEGORY:
                    out[name] = self._choices[i][k]
                elif isinstance(self.space[name], IntDistribution):
                    out[name] = round(lo) + k * round(span)
                else:
                    low, high = self._bounds[i]
                    out[name] = float(min(max(lo + k * span, low), high))
                continue
            low, high = self._bounds[i]
            if kind == _LINEAR:
                out[name] = float(min(max(lo + u[i] * span, low), high))
            elif kind == _LOG:
                out[name] = float(min(max(math.exp(lo + u[i] * span), low), high))
            else:  # log int: uniform in log, then the integer cell it falls in
                x = math.exp(lo + u[i] * span)
                k = math.floor(x) if integers == "floor" else round(x)
                out[name] = int(min(max(k, low), high))
        return out


class UnitBoxSampler(BaseSampler):
    """Base of the samplers that propose whole points of a :class:`UnitBox` themselves.

    Optuna calls :meth:`sample_relative` with the trial's relative search
    space; when it is this sampler's box, :meth:`_sample_box` proposes the
    point. Anything else (parameters outside the box, or a different space)
    is sampled by a seeded :class:`~optuna.samplers.RandomSampler`.
    Subclasses set up their own state after calling ``super().__init__``;
    ``self._rng`` is their seeded random stream and ``self._lock`` guards it
    and any state they add.
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution], seed: int | None) -> None:
        self._box = UnitBox(search_space)
        self._independent = RandomSampler(seed=seed)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()

    @abstractmethod
    def _sample_box(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        """Propose the values of the box's parameters for ``trial``."""

    def reseed_rng(self) -> None:
        with self._lock:
            self._rng = np.random.default_rng()
        self._independent.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self._box.space)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._box.dim == 0 or not self._box.matches(search_space):
            return {}
        return self._sample_box(study, trial)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)
