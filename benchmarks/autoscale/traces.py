"""The demand traces of the autoscaling benchmark: built-in names or a CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from autoopt.sim import nasa_month_demand
from benchmarks._shared import find_shared_data

__all__ = ["BUILTIN", "Trace", "load_trace"]

BUILTIN = ("nasa-july", "nasa-august", "azure-cpu")
"""``nasa-july`` and ``nasa-august``: the package's NASA-HTTP trace (requests per minute, 1995);
``azure-cpu``: the Azure 2019 V2 total CPU usage every 5 minutes (shared data)."""

AZURE_EPOCH = pd.Timestamp("2019-11-01", tz="UTC")
"""The Azure trace's timestamps are seconds from its start; they are placed from this (arbitrary) date."""


@dataclass(frozen=True)
class Trace:
    """Demand on a DatetimeIndex, the steps to leave out of the metrics, and where it came from."""

    name: str
    demand: pd.Series
    excluded: pd.Series | None
    source: str


def _nasa(month: int) -> Trace:
    demand, excluded = nasa_month_demand(month)
    return Trace(
        f"nasa-{'july' if month == 7 else 'august'}",
        demand,  # requests per second; NaN where the minute was not logged
        excluded,  # the hurricane: nothing was served, so nothing to judge
        "autoopt/data/nasa_http_1995_per_minute.csv.gz (requests per minute / 60)",
    )


def _azure() -> Trace:
    shared = find_shared_data()
    if shared is None:
        raise FileNotFoundError(
            "the azure-cpu trace lives in the shared data folder (../shared/data); set AUTOOPT_SHARED_DATA"
        )
    path = shared / "traces" / "azure_v2" / "vm_cpu_readings_month_aggregated_cpu_mem.csv"
    frame = pd.read_csv(path)
    index = AZURE_EPOCH + pd.to_timedelta(frame["timestamp"], unit="s")
    return Trace("azure-cpu", pd.Series(frame["cpu_usage"].to_numpy(float), index=index), None, str(path))


def _csv(path: str, value_column: str) -> Trace:
    frame = pd.read_csv(path)
    if "timestamp" not in frame.columns or value_column not in frame.columns:
        raise ValueError(f"{path}: a trace CSV needs a 'timestamp' column and a {value_column!r} column")
    ts = frame["timestamp"]
    index = (
        pd.DatetimeIndex(pd.Timestamp("1970-01-01", tz="UTC") + pd.to_timedelta(ts, unit="s"))
        if pd.api.types.is_numeric_dtype(ts)
        else pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    )
    demand = pd.Series(pd.to_numeric(frame[value_column], errors="coerce").to_numpy(float), index=index)
    return Trace(Path(path).stem, demand.sort_index(), None, path)


def load_trace(name_or_csv: str, value_column: str = "value") -> Trace:
    """A built-in trace (:data:`BUILTIN`) or a CSV with ``timestamp`` (ISO or POSIX seconds) and a value column."""
    if name_or_csv == "nasa-july":
        return _nasa(7)
    if name_or_csv == "nasa-august":
        return _nasa(8)
    if name_or_csv == "azure-cpu":
        return _azure()
    if name_or_csv.endswith(".csv") or Path(name_or_csv).is_file():
        return _csv(name_or_csv, value_column)
    raise ValueError(f"unknown trace {name_or_csv!r}: give one of {list(BUILTIN)} or a CSV path")
