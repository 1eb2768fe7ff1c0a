"""Observability: Prometheus metrics of a hub (the optional ``prometheus`` extra, imported lazily).

:class:`PrometheusExporter` gives each hub a ``CollectorRegistry`` of its own.
Most metrics are read from the components' statistics when the registry is
scraped; only the request-duration histogram of instrumented providers costs
anything on the request path.
"""

from __future__ import annotations

from autoopt.observability._prometheus import DEFAULT_BUCKETS, OTHER, PrometheusExporter

__all__ = ["DEFAULT_BUCKETS", "OTHER", "PrometheusExporter"]
