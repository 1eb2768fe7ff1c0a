"""The autoscaling benchmark: ``python -m benchmarks.autoscale`` (see :mod:`benchmarks.autoscale.run`)."""
