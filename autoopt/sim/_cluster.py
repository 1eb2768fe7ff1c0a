"""A small autoscaling cluster model for replaying request traces.

Each instance is an M/M/1 server with service rate ``capacity_rps``; requests
are balanced evenly. For an offered rate ``lam`` over ``n`` instances the
per-instance utilisation is ``rho = lam / (n * mu)`` and the response time is
exponential with rate ``mu - lam / n``, so its median is ``ln 2 / (mu - lam/n)``
and its 99th percentile ``ln 100 / (mu - lam/n)``. Demand beyond
``max_utilization`` of the capacity is dropped and counted as errors. CPU
follows utilisation; memory is a base plus a share proportional to
utilisation. The numbers are a model of a cluster, clearly not measurements.

The reported ``request_rate`` is the offered (incoming) rate and
``error_rate`` the share of it that failed from a client's point of view:
shed at the front door or dropped by overflowing queues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from autoopt._validation import check_int, check_real
from autoopt.models import LoadMetrics

__all__ = ["ClusterSimulator", "ClusterStep", "mm1_latency_ms", "mm1_utilization_for_latency"]

_LN100 = math.log(100.0)
_LN2 = math.log(2.0)


def mm1_latency_ms(utilization: float, capacity_rps: float, quantile: float = 0.99) -> float:
    """The ``quantile`` of an M/M/1 server's response time in ms: ``-ln(1 - q) / (mu (1 - rho))``.

    The response time of an M/M/1 queue with service rate ``mu`` and utilisation ``rho`` is
    exponential with rate ``mu (1 - rho)``, so its p99 is ``ln(100) / (mu (1 - rho))``. This is the
    one latency model of :class:`ClusterSimulator` and :class:`~autoopt.sim.AutoscalingEnv`.

    Examples
    --------
    >>> round(mm1_latency_ms(0.5, 100.0), 2)   # 1000 * ln(100) / (100 * 0.5)
    92.1
    """
    slack = capacity_rps * (1.0 - utilization)
    return 1000.0 * _quantile_log(quantile) / slack


def mm1_utilization_for_latency(slo_ms: float, capacity_rps: float, quantile: float = 0.99) -> float:
    """The highest utilisation at which :func:`mm1_latency_ms` stays within ``slo_ms`` (can be <= 0)."""
    return 1.0 - 1000.0 * _quantile_log(quantile) / (capacity_rps * slo_ms)


def _quantile_log(quantile: float) -> float:
    """``-ln(1 - q)``, exact for the median and the p99."""
    return _LN100 if quantile == 0.99 else _LN2 if quantile == 0.5 else -math.log1p(-quantile)


@dataclass(frozen=True)
class ClusterStep:
    """What the cluster did in one interval."""

    metrics: LoadMetrics
    offered_rps: float
    served_rps: float
    dropped_rps: float
    shed_rps: float
    instances: int


@dataclass
class ClusterSimulator:
    """An autoscaled cluster of identical M/M/1 instances.

    Parameters
    ----------
    instances : int
        Instances serving at the start.
    capacity_rps : float
        Requests per second one instance can serve.
    min_instances, max_instances : int
        Scaling bounds.
    provisioning_delay_s : float
        Seconds between a scale-up decision and the new instances serving.
    max_utilization : float
        Utilisation above which demand is dropped (queues overflow).
    memory_base_pct, memory_per_util_pct : float
        Memory model: ``base + per_util * utilisation`` percent.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> sim = ClusterSimulator(instances=2, capacity_rps=50.0)
    >>> step = sim.step(datetime(2026, 1, 1, tzinfo=UTC), offered_rps=60.0)
    >>> step.metrics.cpu_usage, round(step.metrics.latency_p50, 1)
    (60.0, 34.7)
    >>> sim.scale(3, now=0.0), sim.pending_instances
    (3, 3)
    """

    instances: int = 2
    capacity_rps: float = 50.0
    min_instances: int = 1
    max_instances: int = 40
    provisioning_delay_s: float = 180.0
    max_utilization: float = 0.98
    memory_base_pct: float = 30.0
    memory_per_util_pct: float = 40.0
    _pending: list[tuple[float, int]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        check_int(self.min_instances, "ClusterSimulator.min_instances", low=1)
        check_int(self.max_instances, "ClusterSimulator.max_instances", low=self.min_instances)
        check_int(
            self.instances, "ClusterSimulator.instances", low=self.min_instances, high=self.max_instances
        )
        check_real(self.capacity_rps, "ClusterSimulator.capacity_rps", low=0.0, low_open=True)
        check_real(self.provisioning_delay_s, "ClusterSimulator.provisioning_delay_s", low=0.0)
        check_real(
            self.max_utilization,
            "ClusterSimulator.max_utilization",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        )

    @property
    def pending_instances(self) -> int:
        """Instances ordered but not yet serving."""
        return sum(n for _, n in self._pending)

    def scale(self, delta: int, now: float) -> int:
        """Add (``delta > 0``, after the provisioning delay) or remove (at once) instances.

        The result is clipped to ``[min_instances, max_instances]`` counting
        pending instances; returns the change actually made.
        """
        delta = int(delta)
        total = self.instances + self.pending_instances
        if delta > 0:
            delta = min(delta, self.max_instances - total)
            if delta > 0:
                self._pending.append((now + self.provisioning_delay_s, delta))
            return max(delta, 0)
        delta = max(delta, self.min_instances - self.instances)
        self.instances += delta
        return delta

    def _activate(self, now: float) -> None:
        ready = [n for t, n in self._pending if t <= now]
        if ready:
            self.instances += sum(ready)
            self._pending = [(t, n) for t, n in self._pending if t > now]

    def step(
        self,
        timestamp: datetime,
        offered_rps: float,
        *,
        shed_fraction: float = 0.0,
        down: bool = False,
    ) -> ClusterStep:
        """Serve ``offered_rps`` for one interval and return the resulting metrics.

        ``shed_fraction`` of the demand is refused at the front door before
        it reaches the instances. ``down`` models an outage: nothing is
        served and the error rate is 1.
        """
        self._activate(timestamp.timestamp())
        n, mu = self.instances, self.capacity_rps
        if down:
            metrics = LoadMetrics(
                cpu_usage=0.0,
                memory_usage=self.memory_base_pct,
                request_rate=0.0,
                error_rate=1.0,
                latency_p50=0.0,
                latency_p99=0.0,
                queue_depth=0,
                timestamp=timestamp,
            )
            return ClusterStep(metrics, offered_rps, 0.0, offered_rps, 0.0, n)
        shed = offered_rps * shed_fraction
        admitted = offered_rps - shed
        served = min(admitted, self.max_utilization * n * mu)
        dropped = admitted - served
        rho = served / (n * mu)
        metrics = LoadMetrics(
            cpu_usage=min(100.0, 100.0 * admitted / (n * mu)),
            memory_usage=min(100.0, self.memory_base_pct + self.memory_per_util_pct * rho),
            request_rate=offered_rps,
            error_rate=(dropped + shed) / offered_rps if offered_rps > 0 else 0.0,
            latency_p50=mm1_latency_ms(rho, mu, 0.5),
            latency_p99=mm1_latency_ms(rho, mu, 0.99),
            queue_depth=round(n * rho * rho / (1.0 - rho)),
            timestamp=timestamp,
        )
        return ClusterStep(metrics, offered_rps, served, dropped, shed, n)
