"""The :class:`Forecaster`: seasonal regression with AR errors and conformal intervals, many series at once."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autoopt._validation import check_int, check_real, check_size
from autoopt.prediction._conformal import conformal_bounds, standardised_errors
from autoopt.prediction._input import SeriesMeta, as_matrix, future_index, step_seconds
from autoopt.prediction._linear import Design, ar_forecast_matrix, design, fit_ar, fourier_orders, psi_weights
from autoopt.prediction._periods import detect_periods
from autoopt.prediction._results import PredictionResults, interval_quantile

__all__ = ["Forecaster", "detect_periods"]

logger = logging.getLogger(__name__)

_HUBER = 2.0
"""Huber's clipping constant, in robust standard deviations."""
_MEAN_COLUMNS = ("mean_se", "mean_ci_lower", "mean_ci_upper")
"""The columns of ``summary_frame`` that ``predict`` leaves out."""


class Forecaster:
    """Seasonal regression with AR(p) errors and conformally calibrated intervals, for one or many series.

    Parameters are set in ``__init__`` and checked by :meth:`fit`; the fitted
    state has a trailing underscore.

    Method
    ------
    Fitted to the last ``window`` points of each series:

    1. **Level, trend and seasonality** by weighted least squares on an
       intercept, a linear trend and ``n_harmonics`` Fourier pairs per
       seasonal period (a pair whose frequency an earlier period already
       has, such as a week's 7th harmonic, a day's first, is left out).
       Periods are detected when not given: the daily and
       weekly ones a time index implies (:func:`detect_periods`). With
       ``halflife``, observation ``h`` steps before the end weighs
       ``2 ** (-h / halflife)``, so the level and trend follow the recent
       data. A ridge of ``1e-3`` times the total weight on every coefficient
       but the intercept shrinks well-determined terms by about 0.2 % and
       stops a term a gap leaves unidentified from extrapolating wildly.
       With ``robust``, the Huber M-estimate (``c = 2`` robust standard
       deviations, the scale fixed at 1.4826 MAD of the least-squares
       residuals) by pseudo-observation refits -- at most 8, fewer once the
       coefficients settle -- keeps outliers from bending the fit. Missing
       values (NaN, or periods absent from a DatetimeIndex) get zero weight:
       they are never treated as zero.
    2. **Short-term dynamics**: an AR(``ar_lags``) model of the residuals by
       least squares on the rows whose target and lags are all observed;
       its ``h``-step forecast decays from the last observed deviation back
       to the seasonal profile.
    3. **Intervals**: the Gaussian AR(p) prediction standard error
       ``s_h = sigma * sqrt(sum_{j<h} psi_j^2)`` (OLS intervals), corrected by
       split-conformal calibration per horizon step on rolling-origin
       residuals. The last ``calibration`` points are split into
       ``calibration_folds`` consecutive blocks; for each block the
       regression is refitted on everything before it (the AR coefficients
       are the full fit's) and forecasts ``1 ..
       horizon`` steps from every origin in the block; with ``robust`` the
       refits are least squares on the full fit's pseudo-observations. The standardised
       errors ``e_{o,h} / s_h`` at step ``h`` give the lower and upper
       conformal quantiles by which ``s_h`` of the final model is
       multiplied: with equal weights the ``floor(a/2 (m+1))``-th and
       ``ceil((1 - a/2)(m + 1))``-th of ``m`` errors (``a = alpha``); with
       ``calibration_halflife`` each error weighs ``2 ** (-age /
       calibration_halflife)`` by its origin's age, the weighted conformal
       quantile of Barber et al. (2023), so the intervals follow the
       current volatility. Errors that grow with ``h``, or are skewed, give
       intervals that do too; nothing is assumed Gaussian.

    With ``transform="log"`` the model is fitted to ``log1p(y)`` (for
    non-negative data whose swings scale with its level, such as request
    rates); the mean and bounds are mapped back with ``expm1``, so the
    ``mean`` column is then the forecast median.

    Several series (a DataFrame, or a 2-D array with one column per series)
    share one design matrix and are fitted in one vectorised pass: batched
    Gram matrices and solves, no Python loop over series.

    Parameters
    ----------
    seasonal_periods : None, int or list of int
        Periods in steps; detected when None.
    window : int, optional
        The most recent points used (all when None).
    alpha : float
        ``1 - alpha`` intervals.
    n_harmonics : int
        Fourier pairs per period (at most ``period // 2``).
    ar_lags : int
        Order of the AR model of the residuals (0 for none).
    trend : bool
        Whether the design has a linear trend.
    halflife : float, optional
        Recency half-life of the observation weights, in steps (None: equal
        weights).
    robust : bool
        Huber M-estimation of the regression.
    calibration : int, optional
        Points at the end of the window used to calibrate the intervals;
        None means a third of the window, at most ``7 * calibration_halflife``
        (older origins would weigh under 1 %).
    calibration_folds : int
        Refits over the calibration stretch (1 is a single split).
    calibration_halflife : float, optional
        Recency half-life, in origins, of the calibration errors' weights
        (None: equal weights).
    transform : None or "log"
    nonnegative : "auto" or bool
        Clip the forecast and both bounds at 0: ``"auto"`` for each series
        whose values in ``y`` are all >= 0 (counts, rates, utilisation), so
        an interval never reaches below what such data can take; ``True``
        for every series, ``False`` never. On data that is never negative
        clipping cannot lower the coverage, and can only shorten the
        interval and the error.

    Attributes
    ----------
    periods_ : list of int
        The seasonal periods used.
    coef_ : ndarray, shape (n_series, n_features)
        The regression coefficients.
    ar_coef_ : ndarray, shape (n_series, ar_lags)
        The AR coefficients of the residuals, lag 1 first.
    sigma_ : ndarray, shape (n_series,)
        The AR innovation standard deviations.
    nonnegative_ : ndarray of bool, shape (n_series,)
        Whether each series' forecasts are clipped at 0.
    skipped_ : list
        Series of a batch with too few observations to fit (``2 x
        n_features + ar_lags + 10``): their forecasts are NaN. A single
        series that short raises ``ValueError`` instead.
    error_quantiles_ : ndarray, shape (2, horizon, n_series)
        The calibrated lower and upper multipliers of ``s_h`` per step, set by
        :meth:`predict`.

    Thread safety
    -------------
    ``fit`` replaces the fitted state; do not call it concurrently with
    ``predict`` on the same instance. ``predict`` on a fitted instance only
    reads the fit, but for caches: the calibration per horizon and the
    calibration refits' coefficients (single dict assignments and pops; two
    threads racing on a new horizon compute the same values, to rounding),
    so concurrent ``predict`` calls are safe.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2024-01-01", periods=24 * 28, freq="h")
    >>> rng = np.random.default_rng(0)
    >>> y = pd.Series(100 + 20 * np.sin(2 * np.pi * t.hour / 24) + rng.normal(0, 2, t.size), index=t)
    >>> f = Forecaster().fit(y)
    >>> f.periods_
    [24, 168]
    >>> frame = f.predict(24)
    >>> list(frame.columns)
    ['mean', 'obs_ci_lower', 'obs_ci_upper']
    >>> bool(abs(frame["mean"].iloc[6] - 120) < 3), str(frame.index[0])
    (True, '2024-01-29 00:00:00')
    """

    def __init__(
        self,
        seasonal_periods: int | Sequence[int] | None = None,
        window: int | None = None,
        alpha: float = 0.05,
        *,
        n_harmonics: int = 10,
        ar_lags: int = 24,
        trend: bool = True,
        halflife: float | None = None,
        robust: bool = True,
        calibration: int | None = None,
        calibration_folds: int = 2,
        calibration_halflife: float | None = 100.0,
        transform: str | None = None,
        nonnegative: str | bool = "auto",
    ) -> None:
        self.seasonal_periods = seasonal_periods
        self.window = window
        self.alpha = alpha
        self.n_harmonics = n_harmonics
        self.ar_lags = ar_lags
        self.trend = trend
        self.halflife = halflife
        self.robust = robust
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.calibration_halflife = calibration_halflife
        self.transform = transform
        self.nonnegative = nonnegative

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` arguments (scikit-learn's convention; ``deep`` is accepted and unused)."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> Forecaster:
        """Set ``__init__`` arguments by name; unknown names raise ``ValueError`` and change nothing."""
        unknown = sorted(set(params) - set(_PARAMS))
        if unknown:
            raise ValueError(f"set_params(): unknown parameter(s) {unknown}; valid: {list(_PARAMS)}.")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = Forecaster().get_params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k]]
        return f"Forecaster({', '.join(changed)})"

    # ------------------------------------------------------------ validation

    def _validate(self) -> list[int] | None:
        where = "Forecaster() argument"
        check_real(self.alpha, f"{where} 'alpha'", low=0.0, high=1.0, low_open=True, high_open=True)
        check_int(self.ar_lags, f"{where} 'ar_lags'", low=0)
        check_int(self.n_harmonics, f"{where} 'n_harmonics'", low=1)
        check_int(self.calibration_folds, f"{where} 'calibration_folds'", low=1)
        if self.calibration is not None:
            check_int(self.calibration, f"{where} 'calibration'", low=10)
        if self.window is not None:
            check_int(self.window, f"{where} 'window'", low=10)
        if self.halflife is not None:
            check_real(self.halflife, f"{where} 'halflife'", low=0.0, low_open=True)
        if self.calibration_halflife is not None:
            check_real(self.calibration_halflife, f"{where} 'calibration_halflife'", low=0.0, low_open=True)
        for name in ("trend", "robust"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{where} '{name}' must be a bool; got {getattr(self, name)!r}.")
        if self.transform not in (None, "log"):
            raise ValueError(f"{where} 'transform' must be None or 'log'; got {self.transform!r}.")
        if not (isinstance(self.nonnegative, bool) or self.nonnegative == "auto"):
            raise ValueError(
                f"{where} 'nonnegative' must be 'auto', True or False; got {self.nonnegative!r}."
            )
        sp = self.seasonal_periods
        if sp is None:
            return None
        if isinstance(sp, bool) or not isinstance(sp, (int, np.integer, Sequence, np.ndarray)):
            raise TypeError(f"{where} 'seasonal_periods' must be None, an int or a list of ints; got {sp!r}.")
        periods = [sp] if isinstance(sp, (int, np.integer)) else list(sp)
        return [check_int(p, f"{where} 'seasonal_periods'", low=2) for p in periods]

    # ------------------------------------------------------------------ fit

    def fit(self, y: Any, timestamps: Any = None) -> Forecaster:
        """Fit to ``y``: a Series (its DatetimeIndex gives the frequency), a DataFrame (one model per column,
        fitted in one vectorised pass), or an array of shape ``(n,)`` or ``(n, n_series)``.

        Parameters
        ----------
        y : pandas.Series, pandas.DataFrame or array-like
            The history; NaN marks a missing value.
        timestamps : array-like of datetimes, optional
            The time of each row of an array ``y`` (a pandas ``y`` brings its
            own index).

        Raises
        ------
        ValueError
            Infinite values, too few observations, or bad parameters.
        TypeError
            ``y`` of an unsupported type.
        """
        periods = self._validate()
        values, names, meta = as_matrix(y, timestamps)
        if np.isinf(values).any():
            raise ValueError("fit() argument 'y' must not contain infinite values (NaN marks a gap).")
        if self.nonnegative == "auto":
            with np.errstate(invalid="ignore"):  # NaN is a gap, neither sign
                nonnegative = ~(values < 0).any(axis=0)
        else:
            nonnegative = np.full(values.shape[1], bool(self.nonnegative))
        if self.transform == "log":
            if (values < 0).any():
                raise ValueError("fit() argument 'y' must be >= 0 for transform='log'.")
            values = np.log1p(values)
        if self.window is not None and values.shape[0] > self.window:
            values = values[-self.window :]
            if meta.index is not None:
                meta = dataclasses.replace(meta, index=meta.index[-self.window :])
        n = values.shape[0]
        step = step_seconds(meta.index)
        if periods is None:
            periods = detect_periods(_first_observed_column(values), step, max_period=n // 2)
        periods = [p for p in periods if p <= n // 2]
        harmonics = tuple(min(self.n_harmonics, p // 2) for p in periods)
        obs = ~np.isnan(values)
        n_features = 1 + int(self.trend) + 2 * sum(j.size for j in fourier_orders(periods, harmonics))
        need = 2 * n_features + self.ar_lags + 10
        counts = obs.sum(axis=0)
        short = counts < need
        if short.all():
            raise ValueError(
                f"fit() argument 'y' has {int(counts.max())} observations in its fullest series; "
                f"the model needs at least {need}."
            )
        if short.any():  # a batch goes on without them: their forecasts are NaN
            labels = [names[j] if names is not None else int(j) for j in np.flatnonzero(short)]
            logger.warning(
                "fit(): %d of %d series have fewer than %d observations and are not forecast: %s",
                int(short.sum()),
                short.size,
                need,
                labels[:10],
            )
            values = np.where(short[None, :], np.nan, values)
            obs = obs & ~short[None, :]
        self.nonnegative_: np.ndarray = np.asarray(nonnegative, dtype=bool)
        self.skipped_ = [names[j] if names is not None else int(j) for j in np.flatnonzero(short)]
        self._short = short
        self.periods_ = periods
        self._alpha = float(self.alpha)
        self._n = n
        self._meta: SeriesMeta = meta
        self._names = names
        self._values = values
        self._obs = obs
        self._pseudo: np.ndarray = values  # the Huber pseudo-observations, set by the full fit
        self._grams: dict[int, np.ndarray] = {}  # Gram matrices of the fits to come, by end row
        self._refits: dict[int, np.ndarray] = {}  # the calibration refits' coefficients, by end row
        self._design_: Design = design(
            n, tuple(periods), harmonics, self.trend, None if self.halflife is None else float(self.halflife)
        )
        # the Gram matrices of the full fit and of the calibration refits (prefixes of the window), together
        bounds = self._calibration_bounds()
        ends = [] if bounds is None else [int(b) for b in bounds[:-1]]
        W = self._obs * self._design_.w[:, None]
        grams = self._design_.prefix_grams(W, [*ends, n])
        self._grams = dict(zip([*ends, n], grams, strict=True))
        self.coef_, resid = self._fit_window()
        self.ar_coef_, var = fit_ar(resid, self.ar_lags, self._design_.w)
        self.sigma_ = np.sqrt(var)
        self._resid = resid
        self._calibration: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._cov: tuple[np.ndarray, np.ndarray, Any] | None = None  # coefficients' covariance, dof and t
        return self

    def _fit_window(self) -> tuple[np.ndarray, np.ndarray]:
        """The full fit on the window: coefficients, and residuals over the window (NaN where y is missing).

        The Huber M-estimate when ``robust``. It keeps its Gram matrix (for
        the coefficients' covariance) and its pseudo-observations: the data
        with outliers pulled in to ``+-c`` scales of the fit, on which the
        calibration refits (:meth:`_refit_residuals`) are plain weighted least
        squares.
        """
        d = self._design_
        W = self._obs * d.w[:, None]
        gram = self._grams.pop(self._n, None)
        self._gram = d.grams(W) if gram is None else gram
        coef, scale = d.fit(self._values, W, huber=_HUBER if self.robust else None, gram=self._gram)
        self._pseudo = self._values
        if scale is not None:
            fitted = d.X @ coef.T
            bound = _HUBER * scale
            self._pseudo = fitted + np.clip(self._values - fitted, -bound, bound)  # NaN stays NaN
        return coef, self._values - d.X @ coef.T

    def _refit_residuals(self, end: int) -> np.ndarray:
        """Residuals over the whole window of the calibration refit on rows ``[0, end)``, ``end < n``.

        The refit is weighted least squares on the full fit's
        pseudo-observations -- one solve, no Huber passes -- and its
        coefficients are kept, so each is solved once.
        """
        d = self._design_
        coef = self._refits.get(end)
        if coef is None:
            W = self._obs[:end] * d.w[:end, None]
            coef = d.solve(self._pseudo[:end], W, self._grams.pop(end, None))
            self._refits[end] = coef
        return np.asarray(self._values - d.X @ coef.T)

    # ------------------------------------------------------------ calibration

    def _calibration_bounds(self) -> np.ndarray | None:
        """The calibration folds' bounds: fold ``j`` covers the origins in ``[bounds[j], bounds[j + 1])`` and
        its refit the rows before ``bounds[j]``. None when the window is too short to calibrate."""
        n, p = self._n, self.ar_lags
        size = self.calibration if self.calibration is not None else n // 3
        if self.calibration_halflife is not None:  # older origins would weigh under 1 %
            size = min(size, math.ceil(7 * float(self.calibration_halflife)))
        # every refit keeps at least 1.25 cycles of the longest period and 2 points per coefficient
        longest = max(self.periods_, default=0)
        size = min(size, n - max(2 * self._design_.n_features + p + 10, math.ceil(1.25 * longest)))
        if size < 10:
            return None
        folds = max(1, min(self.calibration_folds, size // 10))
        return np.linspace(n - size, n, folds + 1).round().astype(int)

    def _calibrate(self, horizon: int, where: str = "predict") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a ``horizon``-step forecast needs: the :func:`ar_forecast_matrix`, the standard errors
        ``s_h`` (``(horizon, k)``) and their conformal multipliers (``(2, horizon, k)``) from rolling-origin
        refits."""
        n, p = self._n, self.ar_lags
        bounds = self._calibration_bounds()
        if bounds is None:
            raise ValueError(f"{where}(): the window of {n} points is too short to calibrate intervals.")
        folds = bounds.size - 1
        A = ar_forecast_matrix(self.ar_coef_, horizon)
        scale = self._step_scale(horizon, A)
        starts = [max(int(bounds[j]) - 1, p - 1) for j in range(folds)]  # each fold's first origin
        counts = [
            int(bounds[j + 1]) - 1 - starts[j] for j in range(folds)
        ]  # origins o cover o+1 .. o+horizon
        k = self.coef_.shape[0]
        z = np.empty((k, horizon, sum(counts)))  # (k, H, m), NaN where the target is missing or beyond n
        col = 0
        for j in range(folds):
            resid = self._refit_residuals(int(bounds[j]))
            standardised_errors(resid, A, starts[j], scale, out=z[:, :, col : col + counts[j]])
            col += counts[j]
        observed = z.shape[2] - np.isnan(z).sum(axis=2)  # (k, H)
        if int(observed[~self._short].min(initial=z.shape[2])) < 10:
            raise ValueError(f"{where}(): too few observed points to calibrate {horizon}-step intervals.")
        age = np.concatenate([n - 1 - np.arange(o, o + c) for o, c in zip(starts, counts, strict=True)])
        hl = self.calibration_halflife
        weights = np.ones(age.size) if hl is None else 2.0 ** (-age / float(hl))
        a = self._alpha  # the level fixed by fit(), whatever set_params() did since
        lo, hi = conformal_bounds(z.reshape(k * horizon, -1), weights, 1 - a / 2, observed.ravel())
        q = np.stack([np.minimum(lo, 0.0), np.maximum(hi, 0.0)]).reshape(2, k, horizon).transpose(0, 2, 1)
        q[:, :, self._short] = np.nan  # skipped series: no errors to calibrate on
        return A, scale, q

    def _step_scale(self, horizon: int, A: np.ndarray | None = None) -> np.ndarray:
        """The Gaussian AR(p) prediction standard errors ``s_h``, shape ``(horizon, k)`` (``A``: the
        :func:`ar_forecast_matrix` of that horizon, when at hand)."""
        psi = psi_weights(self.ar_coef_, horizon, A)
        return np.asarray(self.sigma_[None, :] * np.sqrt(np.cumsum(psi**2, axis=1)).T)

    # -------------------------------------------------------------- predict

    def get_forecast(self, horizon: int, after: Any = None) -> PredictionResults:
        """Forecast ``horizon`` steps past the end of the fitted data (or of ``after``).

        Parameters
        ----------
        horizon : int
        after : array-like, optional
            Values observed since the end of the fitted data, shape ``(m,)``
            or ``(m, n_series)``, one row per step, NaN where missing. They
            update the AR state without refitting the coefficients
            (statsmodels' ``append(refit=False)``), and the forecast starts
            after them: O(m p + horizon p), whatever the history length.

        Returns
        -------
        PredictionResults
            Its intervals are fixed at the fitted ``alpha``:

            - ``obs_ci_lower``/``obs_ci_upper``: the conformally calibrated
              interval for the observation (see the class docstring);
            - ``mean_se``: the standard error of the regression part ``x_h^T
              beta`` of the forecast, from the weighted least-squares
              covariance of the coefficients (:meth:`Design.coef_cov`; the
              Huber fit's pseudo-observations when ``robust``; the AR
              coefficients and state taken as known). NaN with
              ``transform="log"`` (the log-scale error is not one of the
              mean), for a skipped series, or without residual degrees of
              freedom;
            - ``mean_ci_lower``/``mean_ci_upper``: ``mean +- t * mean_se``,
              ``t`` the ``1 - alpha / 2`` quantile of Student's t with
              ``n_obs - n_features`` degrees of freedom (``dof``), mapped
              back by ``expm1`` with ``transform="log"``, and clipped at 0
              like the forecast.

            Rows are the future timestamps when ``fit`` saw a time index
            (else step numbers ``n, n + 1, ...``); one series gives 1-D
            arrays and flat :meth:`~PredictionResults.summary_frame` columns,
            several ``(horizon, n_series)`` arrays and ``(series, column)``
            columns.

        Examples
        --------
        >>> rng = np.random.default_rng(1)
        >>> y = 50 + 10 * np.sin(2 * np.pi * np.arange(480) / 24) + rng.normal(0, 1, 480)
        >>> res = Forecaster(seasonal_periods=24).fit(y).get_forecast(3)
        >>> list(res.summary_frame().columns)
        ['mean', 'mean_se', 'mean_ci_lower', 'mean_ci_upper', 'obs_ci_lower', 'obs_ci_upper']
        >>> bool((res.mean_ci_lower < res.mean).all() and (res.mean < res.obs_ci_upper).all())
        True
        """
        return self._forecast(horizon, after, "get_forecast")

    def _forecast(self, horizon: int, after: Any, where: str) -> PredictionResults:
        if not hasattr(self, "coef_"):
            raise RuntimeError(f"{where}(): call fit() first.")
        horizon = check_size(horizon, f"{where}() argument 'horizon'")
        n, p, k = self._n, self.ar_lags, self.coef_.shape[0]
        m = 0
        tail = self._resid[n - p :] if p else np.empty((0, k))
        if after is not None:
            try:
                new = np.asarray(after, dtype=float)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{where}() argument 'after' must be an array of numbers (NaN for a gap); got {after!r:.80}."
                ) from None
            new = new[:, None] if new.ndim == 1 else new
            if new.ndim != 2 or new.shape[1] != k or np.isinf(new).any():
                raise ValueError(
                    f"{where}() argument 'after' must be finite or NaN with {k} column(s); "
                    f"got shape {new.shape}."
                )
            if self.transform == "log":
                new = np.log1p(np.maximum(new, 0.0))
            m = new.shape[0]
            if m:
                fitted = self._design_.rows(np.arange(n, n + m, dtype=float)) @ self.coef_.T
                tail = np.concatenate([tail, new - fitted])[-p:] if p else tail
        cached = self._calibration.get(horizon)
        if cached is None:
            cached = self._calibrate(horizon, where)
            self._calibration[horizon] = cached
        A, s, q = cached
        self.error_quantiles_ = q
        X = self._design_.rows(np.arange(n + m, n + m + horizon, dtype=float))
        mean = X @ self.coef_.T
        if p:
            last = np.nan_to_num(tail[::-1], nan=0.0)  # (p, k), most recent first
            mean += np.einsum("khp,pk->hk", A, last)
        if self._cov is None:  # once per fit, when first asked
            W = self._obs * self._design_.w[:, None]
            cov, dof = self._design_.coef_cov(self._gram, W, self._pseudo - self._design_.X @ self.coef_.T)
            self._cov = (cov, dof, interval_quantile(dof, 1.0 - self._alpha / 2.0))
        cov, dof, t = self._cov
        se = np.sqrt(np.sum((X @ cov) * X, axis=-1)).T  # sqrt(x_h^T cov x_h), (horizon, k)
        bounds = [mean + q[0] * s, mean + q[1] * s, mean - t * se, mean + t * se]
        if self.transform == "log":
            mean, bounds, se = np.expm1(mean), [np.expm1(b) for b in bounds], np.full_like(se, np.nan)
        if self.nonnegative_.all():
            for a in (mean, *bounds):
                np.maximum(a, 0.0, out=a)
        elif self.nonnegative_.any():
            clip = self.nonnegative_[None, :]
            mean, *bounds = (np.where(clip, np.maximum(a, 0.0), a) for a in (mean, *bounds))
        if self._short.any():
            mean, se, *bounds = (np.where(self._short[None, :], np.nan, a) for a in (mean, se, *bounds))
        single = k == 1 and self._names is None
        cut = (lambda a: a[:, 0]) if single else (lambda a: a)
        lower, upper, mean_lo, mean_hi = (cut(b) for b in bounds)
        return PredictionResults(
            cut(mean),
            cut(se),
            alpha=self._alpha,
            dof=int(dof[0]) if single else dof,
            obs_ci=(lower, upper),
            mean_ci=(mean_lo, mean_hi),
            index=future_index(self._meta, n, horizon, skip=m),
            columns=None if single else (self._names if self._names is not None else list(range(k))),
            name=self._meta.name if single else self._meta.columns_name,
        )

    def predict(self, horizon: int) -> Any:
        """Forecast ``horizon`` steps past the end of the fitted data: :meth:`get_forecast`'s
        ``mean`` and observation interval.

        Returns
        -------
        pandas.DataFrame
            Columns ``mean``, ``obs_ci_lower``, ``obs_ci_upper`` (statsmodels'
            names), indexed by the future timestamps when ``fit`` saw a time
            index (else by step number ``n, n + 1, ...``). For several series,
            the columns are a MultiIndex ``(series, column)``.
        """
        out = self._forecast(horizon, None, "predict").summary_frame()
        return out.drop(columns=list(_MEAN_COLUMNS), level=None if out.columns.nlevels == 1 else 1)

    def predict_arrays(self, horizon: int, after: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`get_forecast`'s ``mean``, ``obs_ci_lower`` and ``obs_ci_upper``, each of shape ``(horizon,
        n_series)``."""
        res = self._forecast(horizon, after, "predict_arrays")
        h = res.mean.shape[0]
        return res.mean.reshape(h, -1), res.obs_ci_lower.reshape(h, -1), res.obs_ci_upper.reshape(h, -1)


_PARAMS = tuple(p for p in inspect.signature(Forecaster.__init__).parameters if p != "self")


def _first_observed_column(values: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(values)).sum(axis=0)
    return values[:, int(np.argmax(counts))]
