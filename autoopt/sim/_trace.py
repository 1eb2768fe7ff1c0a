"""Real request traces for replay.

The package ships the NASA Kennedy Space Center WWW trace (July-August 1995,
requests per minute) and the Azure 2019 (V2) trace's total CPU and memory
(30 days, every 5 minutes); see ``autoopt/data/LICENSE-DATA.md`` for their
licences and citations.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AZURE_TRACE_CITATION",
    "NASA_TRACE_CITATION",
    "NASA_TRACE_DAYS",
    "load_azure_trace",
    "load_nasa_trace",
    "nasa_month_demand",
    "nasa_requests",
]

NASA_TRACE_DAYS = 62
"""Days the shipped NASA trace covers (1 July to 31 August 1995, one row per minute)."""

NASA_TRACE_CITATION = (
    "NASA-HTTP trace (Internet Traffic Archive); M. Arlitt and C. Williamson, "
    '"Web Server Workload Characterization: The Search for Invariants", SIGMETRICS 1996.'
)
_STATUSES = ("ok", "outage", "missing", "partial")

AZURE_TRACE_CITATION = (
    "Azure Public Dataset (Microsoft), V2 2019 trace, CC BY 4.0; aggregated by the DataCenter-Traces-Datasets "
    "project (doi:10.5281/zenodo.14564847)."
)
_MINUTES = {"1h": 60, "5min": 5, "1min": 1}


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

    frame = _read_trace("nasa_http_1995_per_minute.csv.gz", path, ("timestamp", "requests", "status"))
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


def nasa_requests(
    freq: str = "1h", *, outage_as_gap: bool = True, path: str | Path | None = None
) -> pd.Series:
    """The NASA trace's requests per hour, per 5 minutes or per minute, with its gaps as NaN.

    Each period is the sum of its per-minute counts, and is NaN unless every one of its minutes was logged:
    1995-07-28 13:33 to 07-31 23:59 is a gap, never zero load. During the hurricane outage (1995-08-01
    14:52 to 08-03 04:36) the server served 0 requests; the demand was not observed, so by default those
    periods are gaps too (``outage_as_gap=False`` keeps the served zeros).

    Parameters
    ----------
    freq : {"1h", "5min", "1min"}
    outage_as_gap : bool
    path : str or Path, optional
        A copy of the per-minute CSV (:func:`load_nasa_trace`); the shipped one by default.

    Returns
    -------
    pandas.Series
        Named ``requests``, on a regular, timezone-aware (UTC-04:00) DatetimeIndex.

    Examples
    --------
    >>> hourly = nasa_requests("1h")
    >>> len(hourly), int(hourly.isna().sum()), int(nasa_requests("1h", outage_as_gap=False).isna().sum())
    (1488, 122, 83)
    """
    import numpy as np

    if freq not in _MINUTES:
        raise ValueError(f"nasa_requests() argument 'freq' must be one of {sorted(_MINUTES)}; got {freq!r}.")
    trace = load_nasa_trace(path)
    requests = trace["requests"].copy()
    if outage_as_gap:
        requests[trace["status"] == "outage"] = np.nan
    series = requests.resample(freq).sum(min_count=_MINUTES[freq])
    series.name = "requests"
    return series


def load_azure_trace(path: str | Path | None = None) -> pd.DataFrame:
    """The Azure 2019 (V2) trace's total CPU usage and assigned memory, every 5 minutes for 30 days.

    The trace publishes only seconds from its start, so the index starts at a nominal 1970-01-01 00:00 (the
    offsets read as POSIX seconds): time of day and day of week are relative to the trace's start. A missing
    timestamp would become a NaN row; there is none.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``timestamp,cpu_usage,assigned_mem``; the copy shipped with the package by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``cpu_usage`` and ``assigned_mem`` (float) on a regular DatetimeIndex with ``freq="5min"``.

    Examples
    --------
    >>> azure = load_azure_trace()
    >>> azure.shape, str(azure.index.freq), int(azure.isna().sum().sum())
    ((8640, 2), '<5 * Minutes>', 0)
    """
    import pandas as pd

    frame = _read_trace("azure_v2_cpu_mem_5min.csv.gz", path, ("timestamp", "cpu_usage", "assigned_mem"))
    index = pd.DatetimeIndex(pd.to_datetime(frame.pop("timestamp").to_numpy(), unit="s"), name="timestamp")
    frame = frame.set_axis(index).astype(float)
    return frame.asfreq("5min")


def _read_trace(shipped: str, path: str | Path | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """The CSV at ``path``, or the gzipped copy ``shipped`` in ``autoopt/data``; refused without ``columns``."""
    import pandas as pd

    if path is None:
        with resources.files("autoopt.data").joinpath(shipped).open("rb") as fh:
            frame = pd.read_csv(fh, compression="gzip")
    else:
        frame = pd.read_csv(path)
    missing_cols = set(columns) - set(frame.columns)
    if missing_cols:
        raise ValueError(f"trace is missing column(s) {sorted(missing_cols)}")
    return frame
