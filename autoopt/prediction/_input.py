"""Input and output of the forecaster and the detector: series as pandas objects or arrays, checked and regularised.

Every time-indexed input goes through :func:`regularise`, which the
forecaster and :func:`~autoopt.prediction.backtest` share:

- a reversed or shuffled index is sorted (stably);
- duplicated timestamps, NaT and an index mixing time zones are refused,
  naming the first bad label;
- a :class:`~pandas.PeriodIndex` is fitted on its start times and the
  forecasts are labelled with the following periods;
- a string index is refused (parse it with :func:`pandas.to_datetime`);
- missing periods become NaN rows (gaps, never zeros), on a grid of at most
  ``max(10 n, n + 100_000)`` rows for ``n`` input rows, so one stray
  timestamp a year late cannot expand minute data to half a million rows.

:class:`SeriesMeta` keeps what the output needs to look like the input: the
index's name, the series' name (it goes in the columns' ``name``), the
periods' frequency, where a ``RangeIndex`` continues.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoopt._validation import safe_repr

__all__ = [
    "MAX_GRID_EXTRA",
    "MAX_GRID_FACTOR",
    "SeriesMeta",
    "as_matrix",
    "as_values",
    "check_unique",
    "check_value",
    "future_index",
    "regularise",
    "step_seconds",
    "time_index",
]

MAX_GRID_FACTOR = 10
MAX_GRID_EXTRA = 100_000
"""The regular grid of ``n`` rows' timestamps may hold at most ``max(MAX_GRID_FACTOR n, n + MAX_GRID_EXTRA)``
rows."""


@dataclass(frozen=True, slots=True)
class SeriesMeta:
    """What the forecasts' frame takes from the fitted input.

    Attributes
    ----------
    index : pandas.DatetimeIndex or None
        The regular time grid of the rows (None without a time index).
    index_name : hashable
        The input index's name, kept on the forecasts' index.
    name : hashable
        A Series' name: the forecast frame's ``columns.name``.
    columns_name : hashable
        A DataFrame's ``columns.name``: the first level's name of the forecast's MultiIndex columns.
    period_freq : pandas offset or None
        The frequency of a PeriodIndex input: the forecasts are labelled with periods too.
    range_next : tuple of int or None
        ``(next label, step)`` of a RangeIndex input, which the forecasts' labels continue.
    """

    index: Any = None
    index_name: Hashable | None = None
    name: Hashable | None = None
    columns_name: Hashable | None = None
    period_freq: Any = None
    range_next: tuple[int, int] | None = None


def time_index(index: Any, where: str) -> Any:
    """``index`` as a DatetimeIndex when it holds times (an object index of Timestamps in one zone), else
    None; an index of strings, or of times in several zones, raises naming ``where``."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return index
    inferred = index.inferred_type if isinstance(index, pd.Index) else None
    if inferred in ("string", "mixed") and index.size and all(isinstance(v, str) for v in index[:100]):
        raise TypeError(
            f"{where} has an index of strings ({safe_repr(index[0])}, ...); parse it first, for example "
            "with y.index = pandas.to_datetime(y.index)."
        )
    if (
        inferred in ("datetime", "mixed")
        and index.size
        and isinstance(index[0], pd.Timestamp | np.datetime64)
    ):
        first_tz = getattr(pd.Timestamp(index[0]), "tz", None)
        for pos, label in enumerate(index):
            tz = getattr(pd.Timestamp(label), "tz", None) if label is not None else None
            if str(tz) != str(first_tz):
                raise ValueError(
                    f"{where} has an index mixing time zones: label {pos} ({label!s}) is in {tz}, "
                    f"label 0 ({index[0]!s}) in {first_tz}; convert every label to one zone first "
                    "(pandas.to_datetime(index, utc=True))."
                )
        return pd.DatetimeIndex(index)
    return None


def regularise(y: Any, where: str) -> tuple[Any, SeriesMeta]:
    """A pandas Series or DataFrame ``y`` in time order on a regular grid, and what its forecasts keep.

    Raises
    ------
    ValueError
        Duplicated timestamps, NaT, mixed time zones, or a grid too large for the rows.
    TypeError
        An index of strings.
    """
    import pandas as pd

    index = y.index
    meta: dict[str, Any] = {"index_name": index.name}
    if isinstance(y, pd.Series):
        meta["name"] = y.name
    else:
        meta["columns_name"] = y.columns.name
    if isinstance(index, pd.PeriodIndex):
        return _regularise_periods(y, meta, where)
    times = time_index(index, where)
    if times is None:
        if isinstance(index, pd.RangeIndex) and index.size:
            meta["range_next"] = (int(index[-1]) + index.step, int(index.step))
        return y, SeriesMeta(**meta)
    if times.hasnans:
        raise ValueError(f"{where} has NaT in its index at position {int(np.argmax(times.isna()))}.")
    y = y.set_axis(times)
    if not times.is_monotonic_increasing:  # reversed or shuffled: put in time order
        y = y.sort_index(kind="stable")
        times = y.index
    check_unique(times, where)
    if times.size >= 2 and (times.freq is None or times.freq.n <= 0):
        freq: Any = _infer_freq(times) if times.size >= 3 else None
        if freq is None:  # gaps: the typical spacing
            freq = pd.tseries.frequencies.to_offset(times.to_series().diff().median())
        try:
            rows = int((times[-1] - times[0]) // pd.Timedelta(freq)) + 1
        except (ValueError, TypeError):  # a calendar frequency (months): count the grid itself
            rows = len(pd.date_range(times[0], times[-1], freq=freq))
        _check_grid(rows, times.asi8, times, freq, where)
        y = y.asfreq(freq)  # missing periods become NaN rows, never zeros
    return y, SeriesMeta(index=y.index, **meta)


def _infer_freq(times: Any) -> Any:
    """``pandas.infer_freq`` as an offset (None when irregular), without pandas 3's FutureWarning."""
    import pandas as pd

    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            freq = pd.infer_freq(times)
    except (KeyError, pd.errors.OptionError):  # a pandas without the option returns a string
        freq = pd.infer_freq(times)
    return None if freq is None else pd.tseries.frequencies.to_offset(freq)


def check_unique(labels: Any, where: str) -> None:
    if labels.has_duplicates:
        first = labels[int(np.argmax(labels.duplicated()))]
        raise ValueError(
            f"{where} has duplicate timestamps: {first} appears more than once; aggregate them first "
            "(for example y.groupby(level=0).mean())."
        )


def _check_grid(rows: int, positions: np.ndarray, labels: Any, freq: Any, where: str) -> None:
    """Refuse a regular grid of more than ``max(10 n, n + 100_000)`` rows for ``n`` labels."""
    n = labels.size
    limit = max(MAX_GRID_FACTOR * n, n + MAX_GRID_EXTRA)
    if rows > limit:
        k = int(np.argmax(np.diff(positions)))
        raise ValueError(
            f"{where} spans {rows} steps of {getattr(freq, 'freqstr', freq)} for {n} rows (at most "
            f"{limit} are put on the regular grid); the largest gap is from {labels[k]} to "
            f"{labels[k + 1]}. Drop or fix the stray timestamps, or resample to a coarser step."
        )


def _regularise_periods(y: Any, meta: dict[str, Any], where: str) -> tuple[Any, SeriesMeta]:
    """A PeriodIndex input: sorted, every period present (NaN rows for the missing), on their start times."""
    import pandas as pd

    index = y.index
    if index.hasnans:
        raise ValueError(f"{where} has NaT in its index at position {int(np.argmax(index.isna()))}.")
    if not index.is_monotonic_increasing:
        y = y.sort_index(kind="stable")
        index = y.index
    check_unique(index, where)
    if index.size:
        ordinals = index.asi8
        _check_grid(int(ordinals[-1] - ordinals[0]) + 1, ordinals, index, index.freq, where)
        y = y.reindex(pd.period_range(index[0], index[-1], freq=index.freq))
    y = y.set_axis(y.index.to_timestamp(how="start"))
    return y, SeriesMeta(index=y.index, period_freq=index.freq, **meta)


def as_matrix(
    y: Any, timestamps: Any, where: str = "fit() argument 'y'"
) -> tuple[np.ndarray, list[Any] | None, SeriesMeta]:
    """``(values (n, k), column names or None, meta)``, with gaps as NaN rows."""
    import pandas as pd

    if isinstance(y, pd.Series | pd.DataFrame):
        y, meta = regularise(y, where)
        names = list(y.columns) if isinstance(y, pd.DataFrame) else None
        values = y.to_numpy(dtype=float)
        return (values[:, None] if values.ndim == 1 else values), names, meta
    if isinstance(y, np.ndarray | list | tuple):
        try:
            values = np.array(y, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where} must hold numbers; {exc}") from None
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{where} must be 1-D or 2-D; got shape {values.shape}.")
        if timestamps is None:
            return values, None, SeriesMeta()
        try:
            index = pd.DatetimeIndex(timestamps)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"fit() argument 'timestamps' must be times in one time zone; {exc}") from None
        if index.size != values.shape[0]:
            raise ValueError(
                f"fit() argument 'timestamps' has {index.size} entries for {values.shape[0]} rows of 'y'."
            )
        frame, meta = regularise(pd.DataFrame(values, index=index), "fit() argument 'timestamps'")
        return frame.to_numpy(dtype=float), None, meta
    raise TypeError(f"{where} must be a pandas Series or DataFrame or an array; got {type(y).__name__}.")


def step_seconds(index: Any) -> float | None:
    """Seconds between the rows of a regular DatetimeIndex; None without one, or for calendar frequencies."""
    import pandas as pd

    if index is None or index.size < 2 or index.freq is None:
        return None
    try:
        return float(pd.Timedelta(index.freq).total_seconds())
    except ValueError:  # a calendar frequency (months) has no fixed length
        return None


def future_index(meta: SeriesMeta, n: int, horizon: int, skip: int = 0) -> Any:
    """The labels of the ``horizon`` steps after the fitted data (``n`` rows) and ``skip`` steps more."""
    import pandas as pd

    index = meta.index
    if meta.period_freq is not None and index is not None:
        first = pd.Period(index[-1], freq=meta.period_freq) + 1 + skip
        future: Any = pd.period_range(first, periods=horizon, freq=meta.period_freq)
    elif index is not None and index.freq is not None:
        future = pd.date_range(index[-1] + (1 + skip) * index.freq, periods=horizon, freq=index.freq)
    elif meta.range_next is not None:
        start, step = meta.range_next
        start += step * skip
        future = pd.RangeIndex(start, start + step * horizon, step)
    else:
        future = pd.RangeIndex(n + skip, n + skip + horizon)
    future.name = meta.index_name
    return future


# ------------------------------------------------------------------ the detector's input


def check_value(value: Any, name: str) -> float:
    """A real number as float; NaN passes (a gap), infinity raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number (NaN for a gap); got {safe_repr(value)} of type {type(value).__name__}."
        )
    try:
        x = float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be finite or NaN (a gap); got {safe_repr(value)}, too large for a float."
        ) from None
    if math.isinf(x):
        raise ValueError(f"{name} must be finite or NaN (a gap); got {value!r}.")
    return x


def as_values(series: Any, name: str) -> tuple[list[float], list[float] | None, np.ndarray | None]:
    """Values (floats, NaN allowed) and POSIX timestamps (or None) of a series in time order, validated;
    with the permutation that sorted them (None when they came in order)."""
    import pandas as pd  # lazily: `import autoopt` does not import pandas

    times: list[float] | None = None
    order: np.ndarray | None = None
    if isinstance(series, pd.Series):
        index = series.index
        if isinstance(index, pd.PeriodIndex):
            index = index.to_timestamp(how="start")
        index = time_index(index, name)  # refuses strings and mixed time zones
        raw = series.to_numpy()
        if index is not None:
            if index.hasnans:
                raise ValueError(f"{name} has a missing timestamp (NaT) in its index.")
            if not index.is_monotonic_increasing:  # scored in time order, returned in the input's
                order = np.argsort(index.asi8, kind="stable")
                index, raw = index[order], raw[order]
            naive = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
            times = ((naive - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64).tolist()
    else:
        raw = np.asarray(series)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {raw.shape}.")
    if raw.dtype == np.bool_ or not (
        np.issubdtype(raw.dtype, np.number) or (raw.dtype == object and _all_real(raw))
    ):
        raise TypeError(f"{name} must hold real numbers (NaN for gaps); got dtype {raw.dtype}.")
    if np.issubdtype(raw.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers (NaN for gaps); got dtype {raw.dtype}.")
    values = raw.astype(np.float64)
    bad = np.isinf(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite or NaN (a gap); got {float(values[i])!r} at row {i}.")
    return values.tolist(), times, order


def _all_real(raw: np.ndarray) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in raw.tolist())
