"""Real request traces for replay.

The package ships the NASA Kennedy Space Center WWW trace (July-August 1995,
requests per minute); see ``autoopt/data/LICENSE-DATA.md`` for its licence
and citation.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NASA_TRACE_CITATION", "NASA_TRACE_DAYS", "load_nasa_trace", "nasa_month_demand"]

NASA_TRACE_DAYS = 62
"""Days the shipped NASA trace covers (1 July to 31 August 1995, one row per minute)."""

NASA_TRACE_CITATION = (
    "NASA-HTTP trace (Internet Traffic Archive); M. Arlitt and C. Williamson, "
    '"Web Server Workload Characterization: The Search for Invariants", SIGMETRICS 1996.'
)
_STATUSES = ("ok", "outage", "missing", "partial")


def load_nasa_trace(path: str | Path | None = None) -> pd.DataFrame:
    """Load the NASA-HTTP per-minute request trace.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``timestamp,requests,status``; the copy shipped
        with the package by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by a timezone-aware ``DatetimeIndex`` (UTC-04:00), with
        ``requests`` (float; NaN where ``status == "missing"``: the minute was
        not logged, which is not zero load) and ``status`` (categorical:
        ``ok``, ``outage``, ``missing``, ``partial``).

    Examples
    --------
    >>> trace = load_nasa_trace()
    >>> len(trace), int(trace["requests"].max()), len(trace) == NASA_TRACE_DAYS * 1440
    (89280, 405, True)
    >>> trace["status"].value_counts()["missing"], bool(trace.loc[trace.status == "missing", "requests"].isna().all())
    (np.int64(4947), True)
    """
    import pandas as pd

    if path is None:
        with resources.files("autoopt.data").joinpath("nasa_http_1995_per_minute.csv.gz").open("rb") as fh:
            frame = pd.read_csv(fh, compression="gzip")
    else:
        frame = pd.read_csv(path)
    missing_cols = {"timestamp", "requests", "status"} - set(frame.columns)
    if missing_cols:
        raise ValueError(f"trace is missing column(s) {sorted(missing_cols)}")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("timestamp")), name="timestamp")
    frame["requests"] = frame["requests"].astype(float)
    frame.loc[frame["status"] == "missing", "requests"] = float("nan")
    frame["status"] = pd.Categorical(frame["status"], categories=_STATUSES)
    return frame


def nasa_month_demand(month: int) -> tuple[pd.Series, pd.Series]:
    """One month of the shipped NASA trace as demand for :class:`~autoopt.sim.AutoscalingEnv`.

    Returns the request rate in requests per second (NaN where the minute was not logged) and the
    outage mask (the hurricane's minutes, when nothing was served and nothing is to be judged), for
    ``month`` 7 (July) or 8 (August).
    """
    import pandas as pd

    if month not in (7, 8):
        raise ValueError(f"nasa_month_demand() argument 'month' must be 7 or 8; got {month!r}.")
    frame = load_nasa_trace()
    part = frame[pd.DatetimeIndex(frame.index).month == month]
    return part["requests"] / 60.0, part["status"] == "outage"
