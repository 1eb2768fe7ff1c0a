"""The forecast benchmark: classic baselines (and autoopt.Forecaster) on real operational series.

:mod:`benchmarks.forecast.data` loads the series, :mod:`benchmarks.forecast.baselines`
holds the methods; run the benchmark with ``python -m benchmarks.forecast.run``
(see :mod:`benchmarks.forecast.run`).
"""
