"""The forecast benchmark's series: real operational data, each a pandas Series on a regular DatetimeIndex.

- :func:`load_nasa` -- requests per hour or per 5 minutes to NASA Kennedy
  Space Center's WWW server, July-August 1995 (``traces/nasa_http_1995_per_minute.csv``
  of the shared data; the package ships an identical copy, read through
  :func:`autoopt.sim._trace.load_nasa_trace`).
- :func:`load_azure_cpu` -- the CPU usage summed over all VMs of the Azure
  2019 (V2) public trace, every 5 minutes for 30 days
  (``traces/azure_v2/vm_cpu_readings_month_aggregated_cpu_mem.csv``).

Gaps are NaN, never zero. :data:`DATASETS` holds the benchmark's settings
(horizon, seasonal period, training window, origin spacing) for each series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from autoopt.sim._trace import load_azure_trace, nasa_requests
from benchmarks._shared import find_shared_data

__all__ = [
    "AZURE_CPU_FILE",
    "DATASETS",
    "NASA_FILE",
    "DatasetSpec",
    "find_shared_data",
    "load_azure_cpu",
    "load_dataset",
    "load_nasa",
]

ROOT = Path(__file__).resolve().parents[2]
NASA_FILE = Path("traces") / "nasa_http_1995_per_minute.csv"
AZURE_CPU_FILE = Path("traces") / "azure_v2" / "vm_cpu_readings_month_aggregated_cpu_mem.csv"


def load_nasa(
    freq: str = "1h", data_dir: str | Path | None = None, *, outage_as_gap: bool = True
) -> pd.Series:
    """NASA-HTTP requests per hour or per 5 minutes: :func:`autoopt.sim.nasa_requests` on the shared copy.

    The rules (a period is NaN unless every minute of it was logged; the outage's periods are gaps by
    default) are :func:`~autoopt.sim.nasa_requests`'. Gaps, of 1,488 hourly / 17,856 five-minute periods
    (1995-07-01 00:00 to 08-31 23:59 at UTC-04:00):

    - hourly: 122 NaN -- 83 (07-28 13:00 to 07-31 23:00, not logged) and 39
      (08-01 14:00 to 08-03 04:00, the outage); 83 with ``outage_as_gap=False``;
    - 5-min: 1,444 NaN -- 990 (07-28 13:30 to 07-31 23:55) and 454
      (08-01 14:50 to 08-03 04:35); 990 with ``outage_as_gap=False``.

    Parameters
    ----------
    freq : {"1h", "5min"}
        The period (``nasa_requests`` also takes ``"1min"``).
    data_dir : str or Path, optional
        The shared data folder holding ``traces/nasa_http_1995_per_minute.csv``;
        found by :func:`find_shared_data` by default, and the copy shipped with
        autoopt (identical) is read when there is none.
    outage_as_gap : bool
        Whether the outage's periods are NaN (default) rather than 0.

    Returns
    -------
    pandas.Series
        Named ``requests``, on a regular, timezone-aware (UTC-04:00)
        DatetimeIndex with ``freq`` set.
    """
    base = Path(data_dir) if data_dir is not None else find_shared_data()
    path = None if base is None or not (base / NASA_FILE).is_file() else base / NASA_FILE
    return nasa_requests(freq, outage_as_gap=outage_as_gap, path=path)


def load_azure_cpu(data_dir: str | Path | None = None) -> pd.Series:
    """CPU usage summed over all VMs of the Azure 2019 (V2) trace, every 5 minutes for 30 days.

    The trace publishes only seconds from its start, so the index starts at
    a nominal 1970-01-01 00:00 (the offsets read as POSIX seconds): time of
    day and day of week are relative to the trace's start. It has 8,640
    periods and no gaps (0 NaN); a missing timestamp would become a NaN row.
    The other column of the file, the assigned memory, is not used.

    Parameters
    ----------
    data_dir : str or Path, optional
        The shared data folder; found by :func:`find_shared_data` by default.

    Returns
    -------
    pandas.Series
        Named ``cpu_usage``, on a regular DatetimeIndex with ``freq="5min"``.
    """
    base = Path(data_dir) if data_dir is not None else find_shared_data()
    if base is None or not (base / AZURE_CPU_FILE).is_file():
        raise FileNotFoundError(
            f"the Azure V2 CPU trace {AZURE_CPU_FILE} was not found under the shared data folder ({base}); "
            "set AUTOOPT_SHARED_DATA"
        )
    return load_azure_trace(base / AZURE_CPU_FILE)["cpu_usage"]


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark series and its protocol settings (in steps of the series' frequency)."""

    name: str
    load: Callable[[Path | None], pd.Series]
    freq: str  # the series' period, a pandas frequency string
    horizon: int
    season: int  # the seasonal period of the methods and of the MASE/MSIS scale
    window: int  # training window: the last `window` points before each origin
    step: int  # spacing of consecutive origins
    description: str


def _nasa_hourly(data_dir: Path | None) -> pd.Series:
    return load_nasa("1h", data_dir)


def _nasa_5min(data_dir: Path | None) -> pd.Series:
    return load_nasa("5min", data_dir)


DATASETS: dict[str, DatasetSpec] = {
    "nasa_hourly": DatasetSpec(
        name="nasa_hourly",
        load=_nasa_hourly,
        freq="1h",
        horizon=24,
        season=24,
        window=4 * 168,
        step=24,
        description="NASA requests per hour, 24 h ahead, daily season, 4-week window, origins a day apart",
    ),
    "nasa_5min": DatasetSpec(
        name="nasa_5min",
        load=_nasa_5min,
        freq="5min",
        horizon=12,
        season=288,
        window=2 * 2016,
        step=84,
        description="NASA requests per 5 min, 1 h ahead, daily season, 2-week window, origins 7 h apart",
    ),
    "azure_cpu": DatasetSpec(
        name="azure_cpu",
        load=load_azure_cpu,
        freq="5min",
        horizon=12,
        season=288,
        window=2 * 2016,
        step=84,
        description="Azure V2 total CPU per 5 min, 1 h ahead, daily season, 2-week window, origins 7 h apart",
    ),
}
"""The benchmark's series. 5-min origins are 7 h apart so that they cycle through the times of day."""


def load_dataset(name: str, data_dir: str | Path | None = None) -> pd.Series:
    """The series of :data:`DATASETS` ``[name]``."""
    if name not in DATASETS:
        raise ValueError(f"load_dataset() argument 'name' must be one of {sorted(DATASETS)}; got {name!r}.")
    return DATASETS[name].load(None if data_dir is None else Path(data_dir))
