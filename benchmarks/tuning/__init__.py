"""The tuning benchmark: autoopt's strategies against Optuna's samplers on standard test problems.

:mod:`benchmarks.tuning.functions` holds the problems; run the benchmark with
``python -m benchmarks.tuning.run`` (see :mod:`benchmarks.tuning.run`).
"""
