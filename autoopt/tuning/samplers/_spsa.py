"""SPSA: simultaneous perturbation stochastic approximation as an Optuna sampler.

The ``GRADIENT_DESCENT`` strategy of :class:`~autoopt.tuning.SelfTuner`.
SPSA (Spall 1998) estimates the gradient from two evaluations per
iteration, whatever the dimension, by perturbing every coordinate at once
along a random Rademacher direction. It is meant for *smooth* objectives;
on noisy, flat or multi-modal ones prefer ``BAYESIAN`` or ``ADAPTIVE``.

This module imports Optuna; :mod:`autoopt.tuning` loads it lazily.

References
----------
J. C. Spall, "Implementation of the simultaneous perturbation algorithm for
stochastic optimization", IEEE Transactions on Aerospace and Electronic
Systems 34(3), 817-823, 1998.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt._validation import check_int, check_real
from autoopt.tuning.samplers._space import UnitBoxSampler

__all__ = ["SPSASampler"]

logger = logging.getLogger(__name__)

# Spall's recommended decay exponents of the gain and perturbation sequences.
_ALPHA = 0.602
_GAMMA = 0.101
# Per-iteration decay of the running scale of |y+ - y-|.
_SCALE_DECAY = 0.1


@dataclass(slots=True)
class _Pair:
    """The two evaluations theta +/- c_k * Delta of one gradient estimate."""

    values: tuple[dict[str, Any], dict[str, Any]]
    direction: np.ndarray  # realised sign(u_plus - u_minus) per coordinate, 0 where they coincide
    results: list[float | None] = field(default_factory=lambda: [None, None])
    failures: int = 0


class SPSASampler(UnitBoxSampler):
    """Maximise (or minimise) a smooth objective with SPSA.

    The sampler works in the unit box ``[0, 1]^d`` of the free parameters and
    keeps an estimate ``theta``, starting at ``x0``. Iteration ``k`` asks the
    pair ``theta + c_k * Delta`` and ``theta - c_k * Delta`` with a Rademacher
    ``Delta`` (each coordinate +/-1) and, once both results are told, moves

    .. math::

        \\theta \\leftarrow \\Pi_{[0,1]^d}\\Big(\\theta + a_k \\,
        \\frac{y_+ - y_-}{s_k}\\, \\Delta\\Big), \\qquad
        a_k = \\frac{a}{(k + 1 + A)^{0.602}}, \\quad c_k = \\frac{c}{(k + 1)^{0.101}},

    where ``s_k = max(|y+ - y-|, 0.9 s_{k-1})`` is a running scale of the
    differences. The ratio is at most 1 in magnitude, so no coordinate moves by
    more than ``a_k`` in the unit box (step-size control), whatever the units
    of the objective; as the differences shrink near an optimum the steps
    shrink with them. ``A`` is a tenth of ``n_iterations`` (Spall's rule) and
    ``a`` is chosen so that the first step is ``first_step``.

    Integer parameters are continuous inside the box and rounded when handed
    to Optuna; their perturbation is at least one integer step so the pair
    never collapses. Only the realised signs of ``u_+ - u_-`` enter the
    update, so clipping at a bound or rounding is accounted for. Every
    ``center_every`` updates the estimate itself is evaluated once, so the
    study's best trial tracks ``theta``.

    Parameters
    ----------
    search_space : Mapping[str, BaseDistribution]
        Linear float and step-1 int distributions (see
        :class:`~autoopt.tuning.samplers._space.UnitBox`).
    x0 : Mapping[str, float] or "best", optional
        The starting point; the centre of the box when omitted. ``"best"``
        starts at the study's best complete trial when the first pair opens
        (the centre if there is none yet): a local refinement of whatever
        an earlier sampler found, as in the ``GRADIENT_DESCENT`` strategy,
        where a Sobol' design comes first.
    n_iterations : int
        The number of pairs the budget allows (about half the trials); sets
        the stability constant ``A``.
    first_step : float
        The largest move of a coordinate in the first update, in unit-box
        lengths, in ``(0, 1]``.
    perturbation : float
        ``c``, the initial half-width of the pair in unit-box lengths, in
        ``(0, 0.5]``.
    max_retries : int
        How many times a pair whose evaluation failed is re-asked before it
        is abandoned for a fresh one.
    center_every : int
        After every ``center_every`` updates one trial evaluates ``theta``
        itself (0: never). The pairs never do, so without these the best
        trial of the study would lag ``c_k`` behind the estimate.
    seed : int, optional
        Seed of the perturbation directions.

    Notes
    -----
    *Call order.* Each trial the sampler serves is one member of a pair or
    a centre evaluation: :meth:`sample_relative` hands out first any member
    to re-ask, then the other member of the open pair, then a centre
    evaluation if one is due, else opens a new pair at the current
    ``theta``. :meth:`after_trial` records the result in O(1) (a dict keyed
    by trial number, never a scan of the study) and updates ``theta`` when
    both members of a pair are in, in whatever order they arrive. With
    several trials in flight, pairs opened at an older ``theta`` still update
    the current one (asynchronous SPSA). A failed member is re-asked with the
    same values; after ``max_retries`` failures the pair is dropped. Trials
    the sampler did not propose (enqueued or added ones) are ignored.

    Thread safety: the sampler's state is guarded by an internal lock.

    Examples
    --------
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"x": FloatDistribution(-5, 5), "y": FloatDistribution(-5, 5)}
    >>> sampler = SPSASampler(space, x0={"x": -4.0, "y": 4.0}, n_iterations=40, seed=0)
    >>> study = optuna.create_study(direction="maximize", sampler=sampler)
    >>> for _ in range(80):
    ...     trial = study.ask(space)
    ...     _ = study.tell(trial, -((trial.params["x"] - 1) ** 2) - (trial.params["y"] + 2) ** 2)
    >>> x, y = sampler.theta["x"], sampler.theta["y"]
    >>> bool(abs(x - 1) < 0.5 and abs(y + 2) < 0.5), sampler.iteration
    (True, 36)
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution],
        x0: Mapping[str, float] | Literal["best"] | None = None,
        *,
        n_iterations: int = 50,
        first_step: float = 0.2,
        perturbation: float = 0.1,
        max_retries: int = 2,
        center_every: int = 5,
        seed: int | None = None,
    ) -> None:
        where = "SPSASampler() argument"
        super().__init__(search_space, seed)
        n_iterations = check_int(n_iterations, f"{where} 'n_iterations'", low=1)
        first_step = check_real(first_step, f"{where} 'first_step'", low=0.0, high=1.0, low_open=True)
        self._c = check_real(perturbation, f"{where} 'perturbation'", low=0.0, high=0.5, low_open=True)
        self._max_retries = check_int(max_retries, f"{where} 'max_retries'", low=0)
        self._center_every = check_int(center_every, f"{where} 'center_every'", low=0)
        self._center_due = False
        self._warm_start = isinstance(x0, str)
        if isinstance(x0, str) and x0 != "best":
            raise ValueError(f"{where} 'x0' must be a mapping of parameter values or 'best'; got {x0!r}.")
        if x0 is not None and not isinstance(x0, str):
            missing = [n for n in self._box.names if n not in x0]
            if missing:
                raise ValueError(f"{where} 'x0' lacks the parameters {missing!r}.")
            self._theta = self._box.to_unit(x0)
        else:
            self._theta = np.full(self._box.dim, 0.5)
        self._stability = max(1.0, 0.1 * n_iterations)
        self._a = first_step * (1.0 + self._stability) ** _ALPHA
        self._min_half_width = self._box.unit_resolution
        self._k = 0
        self._scale = 0.0
        self._pairs: dict[int, _Pair] = {}
        self._next_pair = 0
        self._to_hand: deque[tuple[int, int]] = deque()
        self._slot_of_trial: dict[int, tuple[int, int]] = {}

    # ------------------------------------------------------------------ state

    @property
    def theta(self) -> dict[str, float | int]:
        """The current estimate of the optimum (integers rounded)."""
        with self._lock:
            return self._box.from_unit(self._theta)

    @property
    def iteration(self) -> int:
        """The number of updates of ``theta`` so far."""
        return self._k

    # -------------------------------------------------------- BaseSampler API

    def _sample_box(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        if self._warm_start:
            self._start_at_best(study)
        with self._lock:
            if not self._to_hand and self._center_due:
                self._center_due = False
                return self._box.from_unit(self._theta)
            slot = self._to_hand.popleft() if self._to_hand else self._open_pair()
            self._slot_of_trial[trial.number] = slot
            return dict(self._pairs[slot[0]].values[slot[1]])

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            slot = self._slot_of_trial.pop(trial.number, None)
            if slot is None:
                return
            pair_id, member = slot
            pair = self._pairs.get(pair_id)
            if pair is None:  # abandoned after too many failures
                return
            if state == TrialState.COMPLETE and values:
                pair.results[member] = float(values[0])
                y_plus, y_minus = pair.results
                if y_plus is not None and y_minus is not None:
                    del self._pairs[pair_id]
                    sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
                    self._update(sign * (y_plus - y_minus), pair.direction)
                return
            pair.failures += 1
            if pair.failures > self._max_retries:
                logger.debug("SPSA pair %d abandoned after %d failed evaluations.", pair_id, pair.failures)
                del self._pairs[pair_id]
                self._to_hand = deque(s for s in self._to_hand if s[0] != pair_id)
            else:
                self._to_hand.appendleft(slot)

    # -------------------------------------------------------------- internals

    def _start_at_best(self, study: Study) -> None:
        try:  # outside the lock: the study's storage may be slow
            best = study.best_trial.params
        except ValueError:  # no complete trial yet: start at the centre
            best = None
        with self._lock:
            if self._warm_start:
                self._warm_start = False
                if best is not None and all(n in best for n in self._box.names):
                    self._theta = self._box.to_unit(best)

    def _open_pair(self) -> tuple[int, int]:
        c_k = self._c / (self._k + 1.0) ** _GAMMA
        half_width = np.maximum(c_k, self._min_half_width)
        delta = self._rng.choice(np.array([-1.0, 1.0]), size=self._box.dim)
        plus = self._box.from_unit(self._theta + half_width * delta)
        minus = self._box.from_unit(self._theta - half_width * delta)
        direction = np.sign(self._box.to_unit(plus) - self._box.to_unit(minus))
        pair_id = self._next_pair
        self._next_pair += 1
        self._pairs[pair_id] = _Pair((plus, minus), direction)
        self._to_hand.append((pair_id, 1))
        return (pair_id, 0)

    def _update(self, difference: float, direction: np.ndarray) -> None:
        self._scale = max(abs(difference), (1.0 - _SCALE_DECAY) * self._scale)
        if self._scale > 0.0:
            gain = self._a / (self._k + 1.0 + self._stability) ** _ALPHA
            step = gain * (difference / self._scale) * direction
            self._theta = np.clip(self._theta + step, 0.0, 1.0)
        self._k += 1
        if self._center_every and self._k % self._center_every == 0:
            self._center_due = True
