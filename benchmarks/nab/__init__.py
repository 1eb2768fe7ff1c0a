"""The NAB benchmark: NAB v1.1 scoring and the Windowed Gaussian detector, reimplemented.

:mod:`benchmarks.nab.scoring` holds the scorer, :mod:`benchmarks.nab.detectors` the detector;
run the benchmark with ``python -m benchmarks.nab.run`` (see :mod:`benchmarks.nab.run`).
"""
