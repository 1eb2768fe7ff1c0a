"""PerformancePredictor: incremental trend forecasts with exact OLS prediction intervals."""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._clock import (
    PANDAS_TIME_RANGE,
    Clock,
    backward_step_error,
    check_sample_time,
    system_clock,
    to_datetime,
)
from autoopt._validation import (
    check_enum,
    check_id,
    check_int,
    check_limit,
    check_real,
    check_size,
    check_str,
    check_sync_callable,
    safe_repr,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.enums import PredictionType
from autoopt.models import Prediction, new_id
from autoopt.prediction._forecaster import Forecaster
from autoopt.prediction._results import PredictionResults
from autoopt.prediction._seasonal_path import SeasonalPath
from autoopt.prediction._series_state import Accuracy, PredictionStore, SeriesState

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ALL_SERIES", "PerformancePredictor"]

logger = logging.getLogger(__name__)

_MODEL_VERSION = "sliding-ols/1"
_SEASONAL_VERSION = "seasonal-ar-conformal/1"

ALL_SERIES: Any = object()
"""Default of ``get_prediction_accuracy(series=...)``: aggregate every series of the metric."""

_TIME_MAX = PANDAS_TIME_RANGE[1]

# The accuracy bucket of a metric's evicted named series (so aggregates stay exact after eviction).
_EVICTED: Any = object()

# Feasible range of each metric; values outside it are rejected and forecasts are truncated to it.
_BOUNDS: dict[PredictionType, tuple[float, float]] = {
    PredictionType.LOAD: (0.0, math.inf),
    PredictionType.LATENCY: (0.0, math.inf),
    PredictionType.ERROR_RATE: (0.0, 1.0),
    PredictionType.RESOURCE_USAGE: (0.0, math.inf),
    PredictionType.THROUGHPUT: (0.0, math.inf),
    PredictionType.COST: (0.0, math.inf),
}


class PerformancePredictor:
    """Forecast metric series by a sliding-window linear trend with exact prediction intervals.

    Each :class:`~autoopt.PredictionType` is its own series; ``series=``
    names further series of a metric (say, per-call latency of one served
    model beside the monitor's p99), kept apart so they never mix. The trend is the
    ordinary least-squares line through the last ``window`` observations,
    regressed on time; it is maintained incrementally with running centred
    moments, so :meth:`record_observation` and :meth:`predict` cost O(1)
    whatever the history length.

    The interval is the OLS *prediction interval* for a new observation,
    ``yhat +- t_{1-alpha/2, n-2} * sqrt(s^2 * (1 + 1/n + (x0 - xbar)^2 / Sxx))``:
    statsmodels' ``obs_ci_lower``/``obs_ci_upper`` for the same window. It
    is truncated to the metric's feasible range (``>= 0``; ``[0, 1]`` for
    ``ERROR_RATE``), which can only raise coverage. It assumes independent
    residuals: on autocorrelated data the nominal level overstates coverage,
    which :meth:`get_prediction_accuracy` measures.

    **Seasonal path.** Once a series spans two ``seasonal_period`` cycles,
    :meth:`predict` uses a :class:`~autoopt.Forecaster` instead: the last
    ``seasonal_cycles`` cycles of observations are put on a regular grid
    (the median spacing, at least ``seasonal_period /
    seasonal_resolution``; each step holds its latest observation, and
    empty steps are gaps, never zeros) and fitted with the seasonal period
    in steps; its conformally calibrated interval is the prediction's
    ``confidence_interval`` and ``model_version`` is
    ``"seasonal-ar-conformal/1"``. The model is refitted every
    ``refit_every`` observations (default: once a 24th of a cycle has
    passed); in between,
    the observations since the fit update its AR state without a refit
    (:meth:`Forecaster.predict_arrays` with ``after=``). So a prediction
    costs O(observations since the fit) and a refit O(seasonal_cycles x
    seasonal_resolution) -- neither
    grows with the history. The refit runs outside the lock (one thread at
    a time per series; the others use the previous model). If the fit fails
    (too irregular, say), the linear path answers. :meth:`predict_frame`
    answers from the same model as :meth:`predict`.

    Parameters
    ----------
    config : AutomationConfig, optional
        ``prediction_horizon_minutes`` is the default horizon.
    window : int, default 100
        Observations the regression uses (>= 3).
    min_observations : int, default 10
        :meth:`predict` returns None until this many observations of the
        metric have been recorded (>= 3).
    sample_interval : float, default 60.0
        Seconds between consecutive observations recorded without a timestamp.
    alpha : float, default 0.05
        ``1 - alpha`` is the nominal coverage of the intervals, reported as
        :attr:`Prediction.confidence`.
    history_size : int, default 10_000
        Raw observations retained per metric (:meth:`get_series`).
    max_predictions : int, default 1000
        Predictions retained for :meth:`validate_prediction` and :meth:`get_predictions`.
    seasonal_period : float or None, default 86400.0
        The seasonal cycle in seconds (a day); None keeps every prediction
        on the linear path.
    seasonal_cycles : int, default 4
        Cycles of history the seasonal model fits (>= 2; also bounded by
        ``history_size``).
    seasonal_resolution : int, default 288
        At most this many grid steps per cycle (5 minutes for a day): faster
        observations are thinned to the latest one per step.
    refit_every : int, optional
        Observations between refits of the seasonal model (default: refit
        once a 24th of a cycle has passed since the fitted data ended).
    forecaster : Forecaster, optional
        Template whose parameters the seasonal model takes (its
        ``seasonal_periods`` and ``alpha`` are set by the predictor).
    max_series : int, default 1000
        Most *named* series (``series=``) held. Beyond it the least recently
        used one (recorded or forecast longest ago) is evicted, counted in
        :meth:`get_stats`' ``series_evicted``; its scored accuracy stays in
        the metric's aggregate. The main series of each metric is never
        evicted. A series' history buffer grows as observations arrive, so
        a series with few observations costs a few kilobytes.
    clock : callable, default time.time
        POSIX-seconds clock; it stamps the first observation recorded
        without a timestamp and each prediction's ``timestamp``.

    Notes
    -----
    Time: an observation recorded without a timestamp is taken to be one
    ``sample_interval`` after the previous observation of its metric (the
    first at ``clock()``); pass ``timestamp=`` to use real times. A
    timestamp at most ``config.max_backward_step_s`` (5 s) earlier than the
    series' previous one is moved up to it and counted in ``get_stats()``'s
    ``clamped_timestamps`` (so concurrent recorders cannot reorder the
    window); an earlier one is refused, and so is one more than
    ``config.max_clock_skew_s`` (a day) ahead of ``clock()``, or outside
    pandas' time range. Forward gaps are legal. Forecasts are made
    ``horizon_minutes`` past the metric's latest observation.

    Thread safety: one lock guards all state; every method holds it for
    O(1) work (O(limit) for :meth:`get_predictions`); neither user code nor
    the injected clock is called under it.

    Examples
    --------
    The seed's example: a load rising by 0.5 % per minute.

    >>> from autoopt import PerformancePredictor, PredictionType
    >>> predictor = PerformancePredictor()
    >>> for i in range(100):
    ...     predictor.record_observation(PredictionType.LOAD, 50.0 + i * 0.5)
    >>> p = predictor.predict(PredictionType.LOAD, horizon_minutes=30)
    >>> round(p.predicted_value, 1)
    114.5
    >>> predictor.validate_prediction(p.prediction_id, 114.0).actual_value
    114.0
    >>> predictor.get_prediction_accuracy(PredictionType.LOAD)["mae"]
    0.5
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        window: int = 100,
        min_observations: int = 10,
        sample_interval: float = 60.0,
        alpha: float = 0.05,
        history_size: int = 10_000,
        max_predictions: int = 1000,
        seasonal_period: float | None = 86_400.0,
        seasonal_cycles: int = 4,
        seasonal_resolution: int = 288,
        refit_every: int | None = None,
        forecaster: Forecaster | None = None,
        max_series: int = 1000,
        clock: Clock = system_clock,
    ) -> None:
        self.config = check_config(config, "PerformancePredictor()")
        self.window = check_size(window, "PerformancePredictor() argument 'window'", low=3)
        self.min_observations = check_int(
            min_observations, "PerformancePredictor() argument 'min_observations'", low=3
        )
        self.sample_interval = check_real(
            sample_interval, "PerformancePredictor() argument 'sample_interval'", low=0.0, low_open=True
        )
        self.alpha = check_real(
            alpha, "PerformancePredictor() argument 'alpha'", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.history_size = check_size(history_size, "PerformancePredictor() argument 'history_size'")
        self.max_predictions = check_size(
            max_predictions, "PerformancePredictor() argument 'max_predictions'", low=1
        )
        where = "PerformancePredictor() argument"
        self.seasonal_period = (
            None
            if seasonal_period is None
            else check_real(seasonal_period, f"{where} 'seasonal_period'", low=0.0, low_open=True)
        )
        self.seasonal_cycles = check_size(seasonal_cycles, f"{where} 'seasonal_cycles'", low=2)
        self.seasonal_resolution = check_size(seasonal_resolution, f"{where} 'seasonal_resolution'", low=4)
        self.refit_every = (
            None if refit_every is None else check_int(refit_every, f"{where} 'refit_every'", low=1)
        )
        if forecaster is not None and not isinstance(forecaster, Forecaster):
            raise TypeError(f"{where} 'forecaster' must be a Forecaster or None; got {forecaster!r}.")
        self.forecaster = forecaster
        self.max_series = check_size(max_series, f"{where} 'max_series'")
        self._clock = check_sync_callable(clock, f"{where} 'clock'")
        self._lock = threading.Lock()
        self._series: dict[tuple[PredictionType, str | None], SeriesState] = {}
        self._named: OrderedDict[tuple[PredictionType, str | None], None] = OrderedDict()  # LRU order
        self._predictions = PredictionStore(self.max_predictions)
        self._accuracy: dict[tuple[PredictionType, Any], Accuracy] = {}
        self._n_predictions = 0
        self._evicted = 0
        self._clamped = 0
        self._seasonal = SeasonalPath(self)

    # ------------------------------------------------------------- observations

    def record_observation(
        self,
        prediction_type: PredictionType,
        value: float,
        timestamp: Any = None,
        *,
        series: str | None = None,
    ) -> None:
        """Record one observation of a metric.

        Parameters
        ----------
        prediction_type : PredictionType or str
        value : float
            Finite and non-negative (``ERROR_RATE`` in [0, 1]).
        timestamp : datetime or float, optional
            When it was observed (naive datetimes are UTC); by default one
            ``sample_interval`` after the previous observation of the series.
        series : str, optional
            A named series of this metric (say, one per served model), kept
            apart from the metric's main series (``None``).

        Raises
        ------
        ValueError, TypeError
            On a bad type, value, timestamp or series name; nothing is recorded.
        """
        ptype = check_enum(prediction_type, PredictionType, "record_observation() argument 'prediction_type'")
        series = _check_series(series, "record_observation")
        y = _check_value(ptype, value, "record_observation() argument 'value'")
        ts, start = self._check_time(timestamp, "record_observation() argument 'timestamp'")
        with self._lock:
            self._append((ptype, series), y, ts, start, "record_observation() argument 'timestamp'")

    def record_observations(
        self,
        values: Mapping[PredictionType, float],
        timestamp: Any = None,
        *,
        series: str | None = None,
    ) -> None:
        """Record observations of several metrics made at one time.

        The same as calling :meth:`record_observation` for each item, but all
        are checked before any is recorded, and the timestamp, the series name
        and the lock are handled once: cheaper on a request path, which
        reports a latency and an outcome per call.

        Parameters
        ----------
        values : dict
            ``{prediction_type: value}``, each value as in :meth:`record_observation`.
        timestamp : datetime or float, optional
        series : str, optional

        Raises
        ------
        ValueError, TypeError
            On a bad type, value, timestamp or series name; nothing is recorded.

        Examples
        --------
        >>> from autoopt import PerformancePredictor, PredictionType
        >>> p = PerformancePredictor()
        >>> p.record_observations({PredictionType.LATENCY: 12.5, PredictionType.ERROR_RATE: 0.0},
        ...                       timestamp=1_700_000_000.0, series="model-a")
        >>> p.observation_count("latency", series="model-a"), p.observation_count("error_rate", series="model-a")
        (1, 1)
        """
        if not isinstance(values, Mapping):
            raise TypeError(
                f"record_observations() argument 'values' must be a dict of prediction type to value; "
                f"got {values!r:.80} of type {type(values).__name__}."
            )
        checked = []
        for ptype, value in values.items():
            ptype = check_enum(ptype, PredictionType, "record_observations() argument 'values' key")
            checked.append(
                (
                    ptype,
                    _check_value(ptype, value, f"record_observations() argument 'values'[{ptype.value!r}]"),
                )
            )
        series = _check_series(series, "record_observations")
        ts, start = self._check_time(timestamp, "record_observations() argument 'timestamp'")
        max_back = self.config.max_backward_step_s
        with self._lock:
            if ts is not None and max_back is not None:  # all or nothing: refuse before recording any
                for ptype, _ in checked:
                    state = self._series.get((ptype, series))
                    if state is not None and state.last_ts - ts > max_back:
                        raise backward_step_error(
                            "record_observations() argument 'timestamp'", ts, state.last_ts, max_back
                        )
            for ptype, y in checked:  # checked above: none of these raises
                self._append((ptype, series), y, ts, start, "record_observations() argument 'timestamp'")

    def _check_time(self, timestamp: Any, name: str) -> tuple[float | None, float]:
        """``(ts, start)``: the checked timestamp (None for "one interval on") and a new series' start."""
        skew = self.config.max_clock_skew_s
        if timestamp is None:
            return None, self._clock()  # start is used only if this is the series' first observation
        now = None if skew is None else self._clock()
        ts = check_sample_time(timestamp, name, now=now, max_skew=skew)
        return ts, ts

    def _append(
        self, key: tuple[PredictionType, str | None], y: float, ts: float | None, start: float, name: str
    ) -> None:
        """Under the lock: add one checked observation to its series (``name``: the timestamp's, for a
        refusal)."""
        state = self._series.get(key)
        if state is None:
            state = self._new_series(key, start)
            t = start
        elif ts is None:
            t = state.last_ts + self.sample_interval
        elif ts >= state.last_ts:
            t = ts
        else:
            max_back = self.config.max_backward_step_s
            if max_back is not None and state.last_ts - ts > max_back:
                raise backward_step_error(name, ts, state.last_ts, max_back)
            self._clamped += 1
            t = state.last_ts
        if key[1] is not None:
            self._named.move_to_end(key)
        state.ols.update((t - state.origin) / 60.0, y)
        state.history.append((t, y))
        state.last_ts = t
        state.n_total += 1

    def _new_series(self, key: tuple[PredictionType, str | None], start: float) -> SeriesState:
        """Under the lock: a new series, evicting the least recently used named series past ``max_series``."""
        state = self._series[key] = SeriesState(self.window, self.history_size, start)
        if key[1] is not None:
            self._named[key] = None
            if len(self._named) > self.max_series:
                old, _ = self._named.popitem(last=False)
                del self._series[old]
                acc = self._accuracy.pop(old, None)
                if acc is not None:  # keep the metric's aggregate exact
                    bucket = (old[0], _EVICTED)
                    self._accuracy[bucket] = self._accuracy.get(bucket, Accuracy()).merged(acc)
                self._evicted += 1
        return state

    def get_series(
        self, prediction_type: PredictionType, *, series: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(timestamps, values)`` retained for a series (POSIX seconds; copies)."""
        ptype = check_enum(prediction_type, PredictionType, "get_series() argument 'prediction_type'")
        key = (ptype, _check_series(series, "get_series"))
        with self._lock:
            state = self._series.get(key)
            if state is None:
                return np.empty(0), np.empty(0)
            data = state.history.view().copy()
        return data[:, 0], data[:, 1]

    def observation_count(self, prediction_type: PredictionType, *, series: str | None = None) -> int:
        """Observations ever recorded for a series."""
        ptype = check_enum(prediction_type, PredictionType, "observation_count() argument 'prediction_type'")
        key = (ptype, _check_series(series, "observation_count"))
        with self._lock:
            state = self._series.get(key)
            return 0 if state is None else state.n_total

    # ---------------------------------------------------------------- predictions

    def _horizon(self, horizon_minutes: Any) -> float:
        if horizon_minutes is None:
            return float(self.config.prediction_horizon_minutes)
        return check_real(horizon_minutes, "predict() argument 'horizon_minutes'", low=0.0, low_open=True)

    def predict(
        self,
        prediction_type: PredictionType,
        horizon_minutes: float | None = None,
        *,
        series: str | None = None,
    ) -> Prediction | None:
        """Forecast a metric ``horizon_minutes`` past its latest observation.

        Parameters
        ----------
        prediction_type : PredictionType or str
        horizon_minutes : float, optional
            Defaults to ``config.prediction_horizon_minutes``.
        series : str, optional
            The named series to forecast (the metric's main series by default).

        Returns
        -------
        Prediction or None
            None until ``min_observations`` observations of the series exist.
        """
        ptype = check_enum(prediction_type, PredictionType, "predict() argument 'prediction_type'")
        key = (ptype, _check_series(series, "predict"))
        horizon = self._horizon(horizon_minutes)
        made_at = to_datetime(self._clock())
        with self._lock:
            state = self._series.get(key)
            if state is None or state.n_total < self.min_observations:
                return None
            if state.last_ts + 60.0 * horizon > _TIME_MAX:
                _check_target(state.last_ts, horizon, "predict() argument 'horizon_minutes'")
            if key[1] is not None:
                self._named.move_to_end(key)
            last_ts = state.last_ts
            linear, job = self._linear_and_job(state, horizon)
        res, row, version = self._answer(state, job, linear, horizon)
        mean, lower, upper = (float(a[row]) for a in (res.mean, res.obs_ci_lower, res.obs_ci_upper))
        lo_b, hi_b = _BOUNDS[ptype]
        pred = Prediction(
            prediction_id=new_id(),
            prediction_type=ptype,
            target_time=to_datetime(last_ts + 60.0 * horizon),
            predicted_value=_clip(mean, lo_b, hi_b),
            confidence_interval=(_clip(lower, lo_b, hi_b), _clip(upper, lo_b, hi_b)),
            confidence=1.0 - self.alpha,
            model_version=version,
            timestamp=made_at,
            series=key[1],
        )
        with self._lock:
            self._predictions.add(pred)
            self._n_predictions += 1
        return pred

    # ------------------------------------------------------------ seasonal path

    def _linear_and_job(self, state: SeriesState, horizons: Any) -> tuple[PredictionResults, Any]:
        """Under the lock: the linear forecasts at ``horizons`` (minutes: a float, or an array) and the
        seasonal path's job."""
        x0 = (state.last_ts - state.origin) / 60.0 + horizons
        linear = state.ols.predict(x0, self.alpha)
        return linear, self._seasonal.job(state)  # last: a refit job marks the series as fitting

    def _answer(
        self, state: SeriesState, job: tuple[str, Any] | None, linear: PredictionResults, horizons: Any
    ) -> tuple[PredictionResults, Any, str]:
        """Outside the lock: the model that answers -- the seasonal one when it can, else the linear trend --
        with its forecast, the index of the rows that answer ``horizons`` (a float, or an array), and its
        version."""
        forecast = (
            None
            if job is None
            else self._seasonal.forecast(state, job, np.atleast_1d(horizons) * 60.0, self._lock)
        )
        if forecast is None:
            return linear, (slice(None) if np.ndim(horizons) else ()), _MODEL_VERSION
        res, rows = forecast
        return res, (rows if np.ndim(horizons) else int(rows[0])), _SEASONAL_VERSION

    def predict_frame(
        self, prediction_type: PredictionType, horizons_minutes: Any, *, series: str | None = None
    ) -> pd.DataFrame | None:
        """Forecasts at several horizons as a statsmodels-style ``summary_frame``, from the model
        :meth:`predict` uses.

        Columns: ``mean, mean_se, mean_ci_lower, mean_ci_upper, obs_ci_lower,
        obs_ci_upper``, indexed by ``horizon_minutes``; values are not
        truncated and nothing is stored. ``attrs["model_version"]`` names the
        model that answered (:attr:`Prediction.model_version`): the
        seasonal one's rows are its grid steps the horizons fall in, and its
        ``mean_se`` is that of the regression part (see
        :meth:`Forecaster.get_forecast`). None before ``min_observations``.
        """
        ptype = check_enum(prediction_type, PredictionType, "predict_frame() argument 'prediction_type'")
        key = (ptype, _check_series(series, "predict_frame"))
        try:
            h = np.atleast_1d(np.asarray(horizons_minutes, dtype=np.float64))
        except (TypeError, ValueError, OverflowError):
            raise TypeError(
                "predict_frame() argument 'horizons_minutes' must be a number or a sequence of numbers; "
                f"got {safe_repr(horizons_minutes)}."
            ) from None
        if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
            raise ValueError(
                "predict_frame() argument 'horizons_minutes' must be finite positive numbers; "
                f"got {safe_repr(horizons_minutes)}."
            )
        with self._lock:
            state = self._series.get(key)
            if state is None or state.n_total < self.min_observations:
                return None
            _check_target(state.last_ts, float(h.max()), "predict_frame() argument 'horizons_minutes'")
            if key[1] is not None:
                self._named.move_to_end(key)
            linear, job = self._linear_and_job(state, h)
        import pandas as pd  # lazily: `import autoopt` does not import pandas

        res, rows, version = self._answer(state, job, linear, h)
        frame = res.summary_frame().iloc[rows]
        frame.index = pd.Index(h, name="horizon_minutes")
        frame.attrs["model_version"] = version
        return frame

    def validate_prediction(self, prediction_id: str, actual_value: float) -> Prediction | None:
        """Record the realised value of a retained prediction and fold it into the accuracy figures.

        Validating the same prediction again replaces its earlier actual value.

        Returns
        -------
        Prediction or None
            The updated prediction; None for an unknown id, or one evicted
            after ``max_predictions`` newer ones (hold the object and use
            :meth:`score_prediction` to score any number of them).
        """
        check_id(prediction_id, "validate_prediction() argument 'prediction_id'")
        with self._lock:
            pred = self._predictions.items.get(prediction_id)
        if pred is None:
            check_real(actual_value, "validate_prediction() argument 'actual_value'", low=0.0)
            logger.debug("validate_prediction: unknown prediction id %r", prediction_id)
            return None
        return self.score_prediction(pred, actual_value, _method="validate_prediction")

    def score_prediction(
        self, prediction: Prediction, actual_value: float, *, _method: str = "score_prediction"
    ) -> Prediction:
        """Record the realised value of a prediction this predictor made, retained or not.

        Like :meth:`validate_prediction`, but takes the :class:`~autoopt.Prediction`
        itself, so it works however many predictions were made since.
        Scoring the same prediction again replaces its earlier actual value.
        """
        if not isinstance(prediction, Prediction):
            raise TypeError(f"{_method}() argument 'prediction' must be a Prediction; got {prediction!r}.")
        hi = _BOUNDS[prediction.prediction_type][1]
        actual = check_real(
            actual_value,
            f"{_method}() argument 'actual_value' for {prediction.prediction_type.value}",
            low=0.0,
            high=None if math.isinf(hi) else hi,
        )
        key = (prediction.prediction_type, prediction.series)
        with self._lock:
            if key[1] is not None and key not in self._series:  # an evicted (or unknown) named series
                key = (key[0], _EVICTED)
            acc = self._accuracy.setdefault(key, Accuracy())
            if prediction.actual_value is not None:
                acc.add(prediction, -1)
            prediction.actual_value = actual
            acc.add(prediction, +1)
        return prediction

    def get_prediction_accuracy(
        self, prediction_type: PredictionType | None = None, *, series: str | object | None = ALL_SERIES
    ) -> dict[str, float]:
        """Accuracy of scored predictions, for one metric or all.

        Parameters
        ----------
        prediction_type : PredictionType, optional
            One metric; all metrics when None.
        series : str or None, optional
            One series of the metric (None: its main series); all its series
            by default.

        Returns
        -------
        dict
            ``count``; ``mae``, ``rmse``; ``mape`` in percent (over non-zero
            actuals); ``coverage``, the share of actuals inside their
            interval; ``mean_interval_width``. NaN where undefined (no
            validations yet).
        """
        ptype = (
            None
            if prediction_type is None
            else check_enum(
                prediction_type, PredictionType, "get_prediction_accuracy() argument 'prediction_type'"
            )
        )
        wanted = series if series is ALL_SERIES else _check_series(series, "get_prediction_accuracy")
        total = Accuracy()
        with self._lock:
            for (t, name), acc in self._accuracy.items():
                if (ptype is None or t is ptype) and (wanted is ALL_SERIES or name == wanted):
                    total = total.merged(acc)
        return total.report()

    def get_predictions(self, limit: int = 100) -> list[Prediction]:
        """The newest ``limit`` retained predictions, oldest first."""
        n = check_limit(limit, "get_predictions() argument 'limit'")
        with self._lock:
            return self._predictions.newest(n)

    def get_stats(self) -> dict[str, Any]:
        """Counts per series and overall, as JSON-serialisable data.

        Keys: ``predictions_made``, ``predictions_held``, ``series`` (per
        series: ``observations``, ``in_window``), ``series_evicted`` (named
        series dropped past ``max_series``), ``max_series``,
        ``clamped_timestamps`` (observations moved up to their series' latest
        time), ``seasonal_fit_errors`` and ``last_seasonal_fit_error`` (refits
        that raised something other than a fit failure), ``window``,
        ``alpha`` and ``model_version``.
        """
        with self._lock:
            return {
                "predictions_made": self._n_predictions,
                "predictions_held": len(self._predictions.items),
                "series_evicted": self._evicted,
                "max_series": self.max_series,
                "clamped_timestamps": self._clamped,
                "seasonal_fit_errors": self._seasonal.fit_errors,
                "last_seasonal_fit_error": self._seasonal.last_fit_error,
                "series": {
                    t.value + ("" if name is None else f"[{name}]"): {
                        "observations": s.n_total,
                        "in_window": s.ols.n,
                    }
                    for (t, name), s in self._series.items()
                },
                "window": self.window,
                "alpha": self.alpha,
                "model_version": _MODEL_VERSION,
            }


def _clip(x: float, low: float, high: float) -> float:
    """``x`` clipped to ``[low, high]``, NaN staying NaN (``np.clip`` on a float, without its ~5 µs)."""
    return min(max(x, low), high)


def _check_target(last_ts: float, horizon_minutes: float, name: str) -> None:
    """Raise unless ``horizon_minutes`` past ``last_ts`` is still a time pandas can hold."""
    if last_ts + 60.0 * horizon_minutes > _TIME_MAX:
        raise ValueError(
            f"{name} ({horizon_minutes!r} minutes) puts the forecast's target past 2262-04-11, "
            "the end of pandas' time range."
        )


def _check_value(ptype: PredictionType, value: Any, name: str) -> float:
    lo, hi = _BOUNDS[ptype]
    return check_real(value, f"{name} for {ptype.value}", low=lo, high=None if math.isinf(hi) else hi)


def _check_series(series: Any, method: str) -> str | None:
    return None if series is None else check_str(series, f"{method}() argument 'series'")
