"""PredictionResults: the one result type of autoopt's forecasts, in statsmodels' terms.

:meth:`Forecaster.get_forecast <autoopt.Forecaster.get_forecast>` and
:meth:`SlidingOLS.predict <autoopt.prediction.SlidingOLS.predict>` return one;
``Forecaster.predict``'s DataFrame and :class:`~autoopt.PerformancePredictor`'s
``Prediction`` and ``predict_frame`` are read off one.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri, stdtrit

from autoopt._validation import check_real

__all__ = ["PredictionResults", "interval_quantile", "t_quantile"]

COLUMNS = ("mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper")
"""statsmodels' ``summary_frame`` columns, in its order."""


@lru_cache(maxsize=4096)
def t_quantile(dof: int, q: float) -> float:
    """The ``q`` quantile of Student's t with ``dof`` degrees of freedom (cached)."""
    return float(stdtrit(dof, q))


def interval_quantile(dof: Any, q: float) -> Any:
    """The ``q`` quantile of t with ``dof`` degrees of freedom (a scalar or an array; None: the normal)."""
    if dof is None:
        return float(ndtri(q))
    if np.ndim(dof) == 0:
        return t_quantile(int(dof), q) if dof >= 1 else math.nan
    d = np.asarray(dof, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(d >= 1, stdtrit(np.maximum(d, 1.0), q), np.nan)


def _check_alpha(alpha: Any, where: str) -> float:
    return check_real(alpha, f"{where} argument 'alpha'", low=0.0, high=1.0, low_open=True, high_open=True)


class PredictionResults:
    """Forecasts with standard errors and intervals, read as statsmodels' ``PredictionResults``.

    ``mean`` and ``mean_se`` are the point forecasts and the standard
    errors of their regression part; the intervals are either

    - **parametric** (``obs_se`` given): ``mean +- q * se`` with ``q`` the
      ``1 - alpha / 2`` quantile of Student's t with ``dof`` degrees of
      freedom (the normal when ``dof`` is None), at any ``alpha``; or
    - **fixed** (``obs_ci`` and ``mean_ci`` given): bounds computed for
      ``alpha`` when the model was fitted -- conformally calibrated ones,
      say, which have no standard error to rescale. Asking for another
      ``alpha`` raises ``ValueError``.

    Arrays have shape ``(horizon,)`` for one series, ``(horizon,
    n_series)`` for several; NaN marks what is undefined (a series too
    short to fit, a standard error on a transformed scale).

    Parameters
    ----------
    mean, mean_se : array-like
        Point forecasts and the standard errors of the fitted mean.
    obs_se : array-like, optional
        Standard errors for a new observation (parametric intervals).
    t_value : float, optional
        The ``1 - alpha / 2`` quantile the parametric intervals use at
        ``alpha`` (computed from ``dof`` when None).
    alpha : float, default 0.05
        The default (for fixed bounds: the only) ``alpha``.
    dof : int, array-like or None
        Degrees of freedom of the t quantiles (per series, or one for all);
        None for the normal.
    obs_ci, mean_ci : pair of array-like, optional
        Fixed ``(lower, upper)`` bounds for a new observation and for the
        mean, at ``alpha``.
    index : pandas.Index, optional
        Row labels of :meth:`summary_frame` (default ``0 .. horizon - 1``).
    columns : sequence, optional
        The series' labels: :meth:`summary_frame` then has MultiIndex
        columns ``(series, column)``. Without it, one series, flat columns.
    name : hashable, optional
        The frame's ``columns.name``: the series' name, or the name of
        the series level.

    Examples
    --------
    >>> res = PredictionResults([10.0, 11.0], [1.0, 1.5], obs_se=[2.0, 2.5], dof=20)
    >>> res.summary_frame(alpha=0.1).round(2)
       mean  mean_se  mean_ci_lower  mean_ci_upper  obs_ci_lower  obs_ci_upper
    0  10.0      1.0           8.28          11.72          6.55         13.45
    1  11.0      1.5           8.41          13.59          6.69         15.31
    >>> fixed = PredictionResults([5.0], [np.nan], alpha=0.05, obs_ci=([1.0], [9.0]), mean_ci=([np.nan], [np.nan]))
    >>> fixed.obs_ci_upper
    array([9.])
    >>> fixed.summary_frame(alpha=0.1)
    Traceback (most recent call last):
    ...
    ValueError: summary_frame() argument 'alpha' must be the level these intervals were calibrated for, 0.05; got 0.1 (refit the model with alpha=0.1).
    """

    def __init__(
        self,
        mean: ArrayLike,
        mean_se: ArrayLike,
        obs_se: ArrayLike | None = None,
        t_value: float | None = None,
        alpha: float = 0.05,
        dof: Any = None,
        *,
        obs_ci: tuple[ArrayLike, ArrayLike] | None = None,
        mean_ci: tuple[ArrayLike, ArrayLike] | None = None,
        index: Any = None,
        columns: Sequence[Hashable] | None = None,
        name: Hashable | None = None,
    ) -> None:
        self.alpha = _check_alpha(alpha, "PredictionResults()")
        self.mean: NDArray[np.float64] = np.asarray(mean, dtype=np.float64)
        self.mean_se: NDArray[np.float64] = np.asarray(mean_se, dtype=np.float64)
        if (obs_se is None) == (obs_ci is None):
            raise ValueError("PredictionResults() needs exactly one of 'obs_se' and 'obs_ci'.")
        if obs_ci is not None and mean_ci is None:
            raise ValueError("PredictionResults() argument 'mean_ci' is needed with fixed 'obs_ci' bounds.")
        self.obs_se: NDArray[np.float64] | None = None if obs_se is None else np.asarray(obs_se, dtype=float)
        self.dof = dof
        self._fixed: dict[str, NDArray[np.float64]] | None = None
        if obs_ci is not None and mean_ci is not None:
            self._fixed = {
                "mean_ci_lower": np.asarray(mean_ci[0], dtype=np.float64),
                "mean_ci_upper": np.asarray(mean_ci[1], dtype=np.float64),
                "obs_ci_lower": np.asarray(obs_ci[0], dtype=np.float64),
                "obs_ci_upper": np.asarray(obs_ci[1], dtype=np.float64),
            }
        self._t_value = t_value
        self.index = index
        self.columns = None if columns is None else list(columns)
        self.name = name
        shapes = {a.shape for a in (self.mean, self.mean_se, *(self._fixed or {}).values())}
        if self.obs_se is not None:
            shapes.add(self.obs_se.shape)
        if len(shapes) != 1:
            raise ValueError(f"PredictionResults() arrays must share one shape; got {sorted(shapes)}.")

    # ---------------------------------------------------------------- statsmodels' names

    @property
    def predicted_mean(self) -> NDArray[np.float64]:
        """The point forecasts (statsmodels' name for :attr:`mean`)."""
        return self.mean

    @property
    def se_mean(self) -> NDArray[np.float64]:
        """The standard errors of the mean (statsmodels' name for :attr:`mean_se`)."""
        return self.mean_se

    @property
    def se_obs(self) -> NDArray[np.float64] | None:
        """The standard errors for a new observation (statsmodels' name for :attr:`obs_se`)."""
        return self.obs_se

    @property
    def calibrated(self) -> bool:
        """Whether the intervals are fixed at :attr:`alpha` (True) or parametric (False)."""
        return self._fixed is not None

    @property
    def t_value(self) -> Any:
        """The ``1 - alpha / 2`` quantile of the parametric intervals at :attr:`alpha` (None if fixed)."""
        if self._fixed is not None:
            return None
        if self._t_value is not None:
            return self._t_value
        return interval_quantile(self.dof, 1.0 - self.alpha / 2.0)

    @property
    def mean_ci_lower(self) -> NDArray[np.float64]:
        return self._bound("mean_ci_lower", None)

    @property
    def mean_ci_upper(self) -> NDArray[np.float64]:
        return self._bound("mean_ci_upper", None)

    @property
    def obs_ci_lower(self) -> NDArray[np.float64]:
        return self._bound("obs_ci_lower", None)

    @property
    def obs_ci_upper(self) -> NDArray[np.float64]:
        return self._bound("obs_ci_upper", None)

    def _level(self, alpha: float | None, where: str) -> float:
        if alpha is None:
            return self.alpha
        a = _check_alpha(alpha, where)
        if self._fixed is not None and a != self.alpha:
            raise ValueError(
                f"{where} argument 'alpha' must be the level these intervals were calibrated for, "
                f"{self.alpha!r}; got {alpha!r} (refit the model with alpha={alpha!r})."
            )
        return a

    def _bound(self, column: str, alpha: float | None) -> NDArray[np.float64]:
        if self._fixed is not None:
            return self._fixed[column]
        a = self.alpha if alpha is None else alpha
        q = self.t_value if a == self.alpha else interval_quantile(self.dof, 1.0 - a / 2.0)
        assert self.obs_se is not None
        se = self.mean_se if column.startswith("mean") else self.obs_se
        sign = -1.0 if column.endswith("lower") else 1.0
        return np.asarray(self.mean + sign * q * se, dtype=np.float64)

    def conf_int(self, obs: bool = False, alpha: float | None = None) -> NDArray[np.float64]:
        """Interval bounds, last axis ``(lower, upper)``: of the mean, or for a new observation if ``obs``.

        Shape ``(horizon, 2)`` for one series, ``(horizon, n_series, 2)`` for
        several (statsmodels' ``conf_int``).
        """
        if not isinstance(obs, (bool, np.bool_)):
            raise TypeError(f"conf_int() argument 'obs' must be a bool; got {obs!r}.")
        a = self._level(alpha, "conf_int()")
        kind = "obs" if obs else "mean"
        lo = np.atleast_1d(self._bound(f"{kind}_ci_lower", a))
        hi = np.atleast_1d(self._bound(f"{kind}_ci_upper", a))
        return np.stack([lo, hi], axis=-1)

    def summary_frame(self, alpha: float | None = None) -> Any:
        """A DataFrame with statsmodels' columns ``mean, mean_se, mean_ci_lower, mean_ci_upper, obs_ci_lower,
        obs_ci_upper``.

        Rows are :attr:`index`. For several series the columns are a
        MultiIndex ``(series, column)``.

        Raises
        ------
        ValueError
            ``alpha`` outside (0, 1), or, for fixed intervals, any ``alpha``
            but the one they were calibrated for.
        """
        import pandas as pd  # lazily: `import autoopt` does not import pandas

        a = self._level(alpha, "summary_frame()")
        data = {
            "mean": self.mean,
            "mean_se": self.mean_se,
            **{c: self._bound(c, a) for c in COLUMNS[2:]},
        }
        data = {c: np.atleast_1d(v) for c, v in data.items()}
        rows = data["mean"].shape[0]
        index = self.index if self.index is not None else pd.RangeIndex(rows)
        if self.columns is None:
            if data["mean"].ndim != 1:
                raise ValueError("PredictionResults: several series need 'columns' to label them.")
            out = pd.DataFrame(data, index=index)
            out.columns.name = self.name
            return out
        stacked = np.stack(list(data.values()), axis=-1).reshape(rows, -1)
        cols = pd.MultiIndex.from_product([self.columns, list(COLUMNS)], names=[self.name, None])
        return pd.DataFrame(stacked, index=index, columns=cols)

    def __repr__(self) -> str:
        kind = f"calibrated at alpha={self.alpha}" if self._fixed is not None else f"dof={self.dof}"
        return f"PredictionResults(shape={self.mean.shape}, {kind})"
