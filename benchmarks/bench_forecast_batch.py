"""Batch forecasting: many real series in one vectorised Forecaster call, against per-series loops.

The series are 1,000-point windows cut from the real traces of the forecast
benchmark (NASA requests per 5 minutes and Azure total CPU per 5 minutes, at
evenly spaced offsets, gaps kept as NaN), each with a daily period of 288
steps. In one process:

- ``batch``: ``Forecaster(seasonal_periods=[288]).fit(Y).predict_arrays(h)``
  on the whole ``(1000, n_series)`` matrix -- fit, interval calibration and
  forecast;
- ``loop``: the same model fitted series by series (the result must equal
  the batch's to rounding; checked);
- ``holt_winters``: statsmodels' ETS(A,A,A) with heuristic initialisation
  (the forecast benchmark's baseline) on a sample of the series, per series.

Reported: seconds for the batch, and the loop's and Holt-Winters' per-series
times scaled to the same number of series, as ratios against the batch.
BLAS runs single-threaded (``--threads``), as in the forecast benchmark.

Usage::

    python -m benchmarks.bench_forecast_batch                  # 400 series x 1,000 points
    python -m benchmarks.bench_forecast_batch --series 100 --hw-sample 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

import numpy as np

from autoopt import Forecaster
from benchmarks._shared import blas_threads
from benchmarks.forecast.data import load_dataset

PERIOD = 288


def windows(n_series: int, length: int) -> np.ndarray:
    """``(length, n_series)`` windows of the 5-minute NASA and Azure traces, evenly spaced, NaN gaps kept.

    Windows more than a fifth missing (inside NASA's unlogged days and outage) are passed over for
    the next offsets, so every series can also be fitted on its own.
    """
    sources = [
        load_dataset("nasa_5min").to_numpy(dtype=float),
        load_dataset("azure_cpu").to_numpy(dtype=float),
    ]
    cols: list[np.ndarray] = []
    for j, y in enumerate(sources):
        want = (n_series + 1 - j) // 2
        starts = np.linspace(0, y.size - length, 4 * want).astype(int)
        picked = [y[s : s + length] for s in starts if np.isnan(y[s : s + length]).mean() <= 0.2][:want]
        if len(picked) < want:
            raise ValueError(f"only {len(picked)} usable windows of {length} points in source {j}")
        cols.extend(w / np.nanmean(w) for w in picked)  # comparable scales; each series is fitted alone
    return np.column_stack(cols[:n_series])


def run(n_series: int, length: int, horizon: int, hw_sample: int) -> dict[str, Any]:
    Y = windows(n_series, length)
    model = Forecaster(seasonal_periods=[PERIOD])
    model.fit(Y[:, :2]).predict_arrays(horizon)  # warm caches and imports on a small batch
    start = time.perf_counter()
    mean, lower, upper = Forecaster(seasonal_periods=[PERIOD]).fit(Y).predict_arrays(horizon)
    batch_s = time.perf_counter() - start
    loop_n = min(n_series, 50)
    start = time.perf_counter()
    worst = 0.0
    for j in range(loop_n):
        m, _, hi = Forecaster(seasonal_periods=[PERIOD]).fit(Y[:, j]).predict_arrays(horizon)
        scale = max(1.0, float(np.abs(m).max()))
        worst = max(worst, float(np.abs(m[:, 0] - mean[:, j]).max()) / scale)
        worst = max(worst, float(np.abs(hi[:, 0] - upper[:, j]).max()) / scale)
    loop_per_series = (time.perf_counter() - start) / loop_n
    import pandas as pd

    from benchmarks.forecast.baselines import holt_winters

    idx = pd.date_range("2024-01-01", periods=length, freq="5min")
    start = time.perf_counter()
    hw_ok = 0
    for j in range(min(hw_sample, n_series)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                holt_winters(pd.Series(Y[:, j], index=idx), horizon, 0.05, PERIOD)
                hw_ok += 1
            except Exception as exc:  # a failed fit still cost its time; report how many
                print(f"holt_winters failed on series {j}: {exc}", file=sys.stderr)
    hw_per_series = (time.perf_counter() - start) / max(1, min(hw_sample, n_series))
    return {
        "series": n_series,
        "length": length,
        "horizon": horizon,
        "missing_share": float(np.isnan(Y).mean()),
        "batch_seconds": batch_s,
        "batch_ms_per_series": 1e3 * batch_s / n_series,
        "loop_ms_per_series": 1e3 * loop_per_series,
        "loop_series_timed": loop_n,
        "holt_winters_ms_per_series": 1e3 * hw_per_series,
        "holt_winters_series_timed": min(hw_sample, n_series),
        "holt_winters_ok": hw_ok,
        "loop_over_batch": loop_per_series * n_series / batch_s,
        "holt_winters_over_batch": hw_per_series * n_series / batch_s,
        "max_rel_diff_batch_vs_loop": worst,
        "finite": bool(np.isfinite(mean).all() and np.isfinite(lower).all() and np.isfinite(upper).all()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--hw-sample", type=int, default=20, help="series timed with Holt-Winters")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: the library default)")
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    with blas_threads(args.threads):
        result = run(args.series, args.length, args.horizon, args.hw_sample)
    print(
        f"{result['series']} series x {result['length']} points ({100 * result['missing_share']:.1f} % missing), "
        f"{result['horizon']} steps ahead\n"
        f"  batch:        {result['batch_seconds']:.3f} s  ({result['batch_ms_per_series']:.2f} ms per series)\n"
        f"  loop:         {result['loop_ms_per_series']:.2f} ms per series -> {result['loop_over_batch']:.1f}x "
        f"the batch's time (batch == loop to {result['max_rel_diff_batch_vs_loop']:.1e} relative)\n"
        f"  Holt-Winters: {result['holt_winters_ms_per_series']:.2f} ms per series -> "
        f"{result['holt_winters_over_batch']:.1f}x the batch's time"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0 if result["finite"] else 1


if __name__ == "__main__":
    sys.exit(main())
