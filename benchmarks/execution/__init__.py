"""Benchmarks of the scheduler's drivers on each executor (see :mod:`benchmarks.execution.run`)."""
