"""The unit box: an affine map between a bounded search space and ``[0, 1]^d``.

The samplers of :mod:`autoopt.tuning` that do their own numerics (SPSA,
Sobol exploration, warm-started CMA-ES) work in the unit cube, so that one
step size fits every parameter whatever its units. This module maps Optuna
distributions to and from it. Integers are continuous inside the box and are
rounded only at the Optuna boundary (:meth:`UnitBox.from_unit`).

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

__all__ = ["UnitBox", "UnitBoxSampler"]


class UnitBox:
    """Map the free parameters of a search space to and from the unit cube.

    Parameters
    ----------
    search_space : Mapping[str, BaseDistribution]
        Linear (non-log) :class:`~optuna.distributions.FloatDistribution`
        without a step, or :class:`~optuna.distributions.IntDistribution`
        with step 1. Parameters whose distribution is a single point are not
        part of the box (Optuna fills them in on its own).

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
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution]) -> None:
        names: list[str] = []
        lows: list[float] = []
        highs: list[float] = []
        ints: list[bool] = []
        for name, dist in search_space.items():
            if isinstance(dist, FloatDistribution) and not dist.log and dist.step is None:
                is_int = False
            elif isinstance(dist, IntDistribution) and not dist.log and dist.step == 1:
                is_int = True
            else:
                raise ValueError(
                    f"UnitBox() argument 'search_space': parameter {name!r} has the unsupported "
                    f"distribution {dist!r}; only linear floats without step and ints with step 1 are."
                )
            if dist.single():
                continue
            names.append(name)
            lows.append(float(dist.low))
            highs.append(float(dist.high))
            ints.append(is_int)
        self.names: tuple[str, ...] = tuple(names)
        self.space: dict[str, BaseDistribution] = {n: search_space[n] for n in names}
        self.dim = len(names)
        self._low = np.asarray(lows, dtype=float)
        self._high = np.asarray(highs, dtype=float)
        self._span = self._high - self._low
        self._is_int = np.asarray(ints, dtype=bool)

    @property
    def is_integer(self) -> np.ndarray:
        """Boolean mask of the integer coordinates (a copy)."""
        return self._is_int.copy()

    @property
    def all_continuous(self) -> bool:
        """Whether no free parameter is an integer."""
        return not bool(self._is_int.any())

    @property
    def unit_resolution(self) -> np.ndarray:
        """Width of one integer step in the unit box per coordinate (0 for floats)."""
        return np.where(self._is_int, 1.0 / self._span, 0.0)

    def matches(self, search_space: Mapping[str, BaseDistribution]) -> bool:
        """Whether ``search_space`` holds this box's parameters with the same distributions."""
        return all(search_space.get(n) == d for n, d in self.space.items())

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """The unit-box coordinates of ``params`` (clipped to ``[0, 1]``)."""
        x = np.fromiter((float(params[n]) for n in self.names), dtype=float, count=self.dim)
        return np.clip((x - self._low) / self._span, 0.0, 1.0)

    def from_unit(
        self, u: np.ndarray, *, integers: Literal["round", "floor"] = "round"
    ) -> dict[str, float | int]:
        """The parameter values at unit-box point ``u``, inside the bounds.

        Parameters
        ----------
        u : numpy.ndarray
            A point of the cube; coordinates outside ``[0, 1]`` are clipped.
        integers : {"round", "floor"}
            How integer coordinates become ints. ``"round"`` takes the nearest
            integer (for local search); ``"floor"`` maps ``[0, 1)`` onto the
            ``span + 1`` integers in equal cells, so a uniform ``u`` gives
            uniform integers (for space-filling designs).
        """
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        out: dict[str, float | int] = {}
        for i, name in enumerate(self.names):
            lo, hi, span = self._low[i], self._high[i], self._span[i]
            if self._is_int[i]:
                if integers == "floor":
                    k = min(int(np.floor(u[i] * (span + 1.0))), int(span))
                else:
                    k = int(np.rint(u[i] * span))
                out[name] = int(lo) + k
            else:
                out[name] = float(min(max(lo + u[i] * span, lo), hi))
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
