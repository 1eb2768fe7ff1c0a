"""AutoscalingEnv: a trace-driven service with replicas, a backlog and a p99 SLO, behind the Gymnasium API."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from autoopt._clock import to_timestamp
from autoopt._validation import check_int, check_random_state, check_real, check_size
from autoopt.sim._cluster import mm1_latency_ms

if TYPE_CHECKING:
    import pandas as pd

try:  # the Gymnasium API when it is installed; the same class without it
    import gymnasium as _gym

    _Base: Any = _gym.Env
except ImportError:  # pragma: no cover - exercised by the no-extras test in a subprocess
    _gym = None  # type: ignore[assignment]
    _Base = object

__all__ = ["BENCHMARK_SERVICE", "ENV_CONTEXT_KEYS", "FEATURES", "AutoscalingEnv", "context_features"]

FEATURES: tuple[str, ...] = (
    "utilization",
    "request_rate",
    "request_rate_change",
    "p99_over_slo",
    "backlog",
    "drop_fraction",
    "ready_replicas",
    "pending_replicas",
    "load_ratio",
    "time_of_day_sin",
    "time_of_day_cos",
)
"""The observation vector's entries, in order (see :class:`AutoscalingEnv`)."""

BENCHMARK_SERVICE: dict[str, Any] = {
    "peak_rps": 6000.0,
    "capacity_rps": 100.0,
    "slo_ms": 250.0,
    "queue_timeout_s": 10.0,
    "readiness_delay_s": 120.0,
    "min_replicas": 1,
    "max_replicas": 250,
    "pending_costs": True,
}
"""The service model of ``benchmarks/autoscale``, the demo's comparison and the shipped DQN checkpoint:
the trace rescaled to a 6,000 requests/s peak, 100 requests/s replicas, a 250 ms p99 SLO, a 10 s
queue-time limit, a 2-minute readiness delay, 1 to 250 replicas, pending replicas billed."""


def context_features(
    context: Mapping[str, Any], previous_rate: float | None, *, peak_rps: float, max_replicas: int
) -> np.ndarray:
    """The observation vector (:data:`FEATURES`) from a decision context, as the env computes it.

    ``context`` holds the keys :meth:`AutoscalingEnv.context` gives (``utilization``,
    ``request_rate``, ``latency_p99``, ``slo_ms``, ``backlog``, ``drop_fraction``, ``replicas``,
    ``pending_replicas``, ``capacity_rps``, ``step_seconds``, ``timestamp``); ``previous_rate`` is
    the request rate of the step before (None: no change). ``peak_rps`` and ``max_replicas`` are
    the environment's. A policy that computes its features with this function sees in serving
    exactly what it saw in training: ``env.reset`` and ``env.step`` return the same vector.

    Raises
    ------
    KeyError
        If a key is missing.
    """
    rate = float(context["request_rate"])
    prev = rate if previous_rate is None else float(previous_rate)
    ready, pending = float(context["replicas"]), float(context["pending_replicas"])
    step = float(context["step_seconds"])
    cap = ready * float(context["capacity_rps"])
    rate_cap = cap if cap > 0 else 1.0
    peak = peak_rps or 1.0
    seconds = (to_timestamp(context["timestamp"], "context['timestamp']") + step) % 86_400
    angle = 2 * np.pi * math.floor(seconds) / 86_400
    return np.array(
        [
            float(context["utilization"]),
            rate / peak,
            (rate - prev) / peak,
            min(float(context["latency_p99"]) / float(context["slo_ms"]), 10.0),
            min(float(context["backlog"]) / (rate_cap * step), 10.0),
            float(context["drop_fraction"]),
            ready / max_replicas,
            pending / max_replicas,
            min(rate / rate_cap, 10.0),
            math.sin(angle),
            math.cos(angle),
        ],
        dtype=np.float32,
    )


_MAX_UTIL = 0.98  # the latency model's utilisation cap (the M/M/1 p99 diverges at 1)
_P99_CAP_MS = 60_000.0


class _Box:
    """A minimal stand-in for ``gymnasium.spaces.Box`` when Gymnasium is not installed."""

    def __init__(self, low: float, high: float, shape: tuple[int, ...]) -> None:
        self.low = np.full(shape, low, np.float32)
        self.high = np.full(shape, high, np.float32)
        self.shape, self.dtype = shape, np.dtype(np.float32)

    def contains(self, x: Any) -> bool:
        a = np.asarray(x)
        return a.shape == self.shape and bool(np.all((a >= self.low) & (a <= self.high)))


class _Discrete:
    """A minimal stand-in for ``gymnasium.spaces.Discrete``."""

    def __init__(self, n: int) -> None:
        self.n, self.shape, self.dtype = n, (), np.dtype(np.int64)

    def contains(self, x: Any) -> bool:
        return isinstance(x, (int, np.integer)) and 0 <= int(x) < self.n

    def sample(self, mask: np.ndarray | None = None) -> int:
        options = np.flatnonzero(mask) if mask is not None else np.arange(self.n)
        return int(np.random.default_rng().choice(options))


class AutoscalingEnv(_Base):
    """A service replayed on a request trace: replicas, a backlog queue and a p99 latency SLO.

    Each step is one interval of the trace (its median spacing). A step:

    1. applies the action: a replica delta (added replicas become ready ``readiness_delay_s``
       later; removed ones, pending first, stop at once; the count stays within
       ``[min_replicas, max_replicas]``);
    2. draws the step's arrivals, Poisson around ``rate * step`` (seeded by :meth:`reset`);
    3. serves ``min(backlog + arrivals, capacity)``, where capacity counts each replica for the part
       of the step it was ready (``capacity_rps`` each), and drops the backlog that would wait longer
       than ``queue_timeout_s``;
    4. models the p99 latency: the M/M/1 p99 of a replica at the step's utilisation
       (:func:`~autoopt.sim.mm1_latency_ms`, utilisation capped at 0.98) plus the time to clear the
       remaining backlog, capped at 60 s. The step violates the SLO when it exceeds ``slo_ms``;
    5. bills ready replicas (and pending ones, with ``pending_costs``) in replica-minutes.

    **Missing values stay missing**: a NaN in the trace (or a time missing from its regular grid)
    holds the previous rate and flags the step; it is never read as zero. Missing steps and
    ``excluded`` ones (the NASA trace's outage minutes, when nothing was served) are left out of
    every metric's denominator. Metrics are time-weighted in minutes, so traces with different steps
    compare.

    **Observation**: a float32 vector of :data:`FEATURES`: utilisation, the request rate and its
    change (both over ``peak_rps``), p99 / SLO (capped at 10), the backlog (in steps of capacity,
    capped at 10), the share of arrivals dropped, ready and pending replicas (over
    ``max_replicas``), demand over ready capacity (capped at 10), and the time of day as sin/cos.

    **Actions**: an index into ``action_deltas`` (a :class:`gymnasium.spaces.Discrete`), masked at
    the replica bounds by :meth:`action_mask` (an invalid delta is clipped to the bound). Baseline
    policies may call :meth:`step_target` with a replica count instead.

    **Reward**: ``-(cost + w_slo * violation + w_drop * dropped_share + w_churn * |delta|)``, with
    ``cost`` the billed replicas over ``max_replicas`` for the step and ``|delta|`` over
    ``max_replicas`` too. Episodes end at the trace's end or ``max_episode_steps``, reported as
    *truncation* (``terminated`` is always False: the service never reaches a terminal state).

    Parameters
    ----------
    trace : pandas.Series
        Demand (requests per second, or anything proportional to it: CPU usage works once
        rescaled) on a :class:`~pandas.DatetimeIndex`.
    peak_rps : float, optional
        Rescale the trace so its maximum is this many requests per second.
    capacity_rps : float, default 100
        Requests per second one replica serves.
    slo_ms : float, default 250
        The p99 latency objective.
    queue_timeout_s : float, default 10
        Requests that would wait longer are dropped.
    readiness_delay_s : float, default 120
        Seconds from ordering a replica to it serving (may be shorter than a step).
    min_replicas, max_replicas : int, default 1 and 100
    initial_replicas : int, optional
        Replicas at reset (default: enough for the first step's demand at 60 % utilisation).
    pending_costs : bool, default True
        Whether pending replicas are billed; without, a replica is billed for the part of each step
        it serves.
    action_deltas : sequence of int, default (-8, -4, -2, -1, 0, 1, 2, 4, 8)
    w_slo, w_drop, w_churn : float, default 1.0, 10.0 and 0.1
        Reward weights.
    max_episode_steps : int, optional
        Truncate episodes after this many steps.
    excluded : pandas.Series of bool, optional
        Steps to leave out of the metrics (outages), on the trace's index.

    Examples
    --------
    >>> import pandas as pd
    >>> trace = pd.Series([100.0, 200.0, float("nan"), 400.0],
    ...                   index=pd.date_range("2026-01-01", periods=4, freq="min", tz="UTC"))
    >>> env = AutoscalingEnv(trace, capacity_rps=100.0, readiness_delay_s=30.0)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, int(env.action_space.n)
    ((11,), 9)
    >>> obs, reward, terminated, truncated, info = env.step_target(5)
    >>> info["ready_replicas"], info["missing"], terminated
    (5, False, False)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    FEATURES = FEATURES

    def __init__(
        self,
        trace: pd.Series,
        *,
        peak_rps: float | None = None,
        capacity_rps: float = 100.0,
        slo_ms: float = 250.0,
        queue_timeout_s: float = 10.0,
        readiness_delay_s: float = 120.0,
        min_replicas: int = 1,
        max_replicas: int = 100,
        initial_replicas: int | None = None,
        pending_costs: bool = True,
        action_deltas: Sequence[int] = (-8, -4, -2, -1, 0, 1, 2, 4, 8),
        w_slo: float = 1.0,
        w_drop: float = 10.0,
        w_churn: float = 0.1,
        max_episode_steps: int | None = None,
        excluded: pd.Series | None = None,
    ) -> None:
        import pandas as pd

        where = "AutoscalingEnv() argument"
        if not isinstance(trace, pd.Series) or not isinstance(trace.index, pd.DatetimeIndex):
            raise TypeError(
                f"{where} 'trace' must be a pandas Series on a DatetimeIndex; got {type(trace).__name__}."
            )
        if len(trace) < 2:
            raise ValueError(f"{where} 'trace' needs at least 2 rows; got {len(trace)}.")
        if not trace.index.is_monotonic_increasing or trace.index.has_duplicates:
            raise ValueError(f"{where} 'trace' must have a strictly increasing index.")
        self.capacity_rps = check_real(capacity_rps, f"{where} 'capacity_rps'", low=0.0, low_open=True)
        self.slo_ms = check_real(slo_ms, f"{where} 'slo_ms'", low=0.0, low_open=True)
        self.queue_timeout_s = check_real(queue_timeout_s, f"{where} 'queue_timeout_s'", low=0.0)
        self.readiness_delay_s = check_real(readiness_delay_s, f"{where} 'readiness_delay_s'", low=0.0)
        self.min_replicas = check_size(min_replicas, f"{where} 'min_replicas'", low=1)
        self.max_replicas = check_size(max_replicas, f"{where} 'max_replicas'", low=self.min_replicas)
        self.initial_replicas = (
            None
            if initial_replicas is None
            else check_int(
                initial_replicas, f"{where} 'initial_replicas'", low=self.min_replicas, high=self.max_replicas
            )
        )
        if not isinstance(pending_costs, bool):
            raise TypeError(f"{where} 'pending_costs' must be a bool; got {pending_costs!r}.")
        self.pending_costs = pending_costs
        deltas = tuple(check_int(d, f"{where} 'action_deltas'[{i}]") for i, d in enumerate(action_deltas))
        if not deltas or len(set(deltas)) != len(deltas):
            raise ValueError(f"{where} 'action_deltas' must be distinct ints; got {action_deltas!r}.")
        self.action_deltas = deltas
        self.w_slo = check_real(w_slo, f"{where} 'w_slo'", low=0.0)
        self.w_drop = check_real(w_drop, f"{where} 'w_drop'", low=0.0)
        self.w_churn = check_real(w_churn, f"{where} 'w_churn'", low=0.0)
        self.max_episode_steps = (
            None
            if max_episode_steps is None
            else check_size(max_episode_steps, f"{where} 'max_episode_steps'")
        )
        # a regular grid: the median spacing; times missing from it are missing values
        index = trace.index.as_unit("ns")
        step = float(np.median(np.diff(index.asi8))) / 1e9
        grid = pd.date_range(index[0], index[-1], freq=pd.Timedelta(seconds=step)).as_unit("ns")
        try:
            numbers = trace.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"{where} 'trace' must hold numbers (NaN for missing); got dtype {trace.dtype}."
            ) from None
        values = pd.Series(numbers, index=index).reindex(grid)
        raw = values.to_numpy(dtype=float)
        if np.isinf(raw).any() or (raw[~np.isnan(raw)] < 0).any():
            raise ValueError(f"{where} 'trace' must hold finite values >= 0 (NaN for missing).")
        if np.isnan(raw).all():
            raise ValueError(f"{where} 'trace' holds no values.")
        peak = float(np.nanmax(raw))
        target = (
            None if peak_rps is None else check_real(peak_rps, f"{where} 'peak_rps'", low=0.0, low_open=True)
        )
        scale = 1.0 if target is None or peak == 0 else target / peak
        self.peak_rps = peak * scale
        self.step_seconds = step
        self.index = grid
        self.missing = np.isnan(raw)
        self.rate = pd.Series(raw * scale).ffill().bfill().to_numpy()  # held, never zero-filled
        mask = self._excluded_mask(excluded, trace, grid)
        self.excluded = mask | self.missing
        self._t = grid.asi8 / 1e9
        self._stamps = grid.to_pydatetime()
        if _gym is not None:
            self.observation_space = _gym.spaces.Box(-10.0, 10.0, shape=(len(FEATURES),), dtype=np.float32)
            self.action_space = _gym.spaces.Discrete(len(deltas))
        else:
            self.observation_space = _Box(-10.0, 10.0, (len(FEATURES),))
            self.action_space = _Discrete(len(deltas))
        self._rng = check_random_state(None)
        self._k = self._start = self._end = 0
        self._ready = self.min_replicas
        self._pending: list[tuple[float, int]] = []
        self._arrivals = np.zeros(0)
        self._totals: dict[str, float] = {}
        self._last: dict[str, Any] = {}

    @staticmethod
    def _excluded_mask(excluded: Any, trace: pd.Series, grid: pd.DatetimeIndex) -> np.ndarray:
        """``excluded`` (a bool Series on the trace's times, or one bool per trace row) on the grid."""
        import pandas as pd

        if excluded is None:
            return np.zeros(len(grid), bool)
        where = "AutoscalingEnv() argument 'excluded'"
        if isinstance(excluded, pd.Series):
            if not isinstance(excluded.index, pd.DatetimeIndex):
                raise TypeError(f"{where} must be a Series on a DatetimeIndex, or one bool per trace row.")
            idx = excluded.index
            if (idx.tz is None) != (grid.tz is None):
                raise ValueError(
                    f"{where}: its index and the trace's must both have a time zone, or neither."
                )
            series = pd.Series(excluded.to_numpy(dtype=bool), index=idx.as_unit("ns"))
        else:
            values = np.asarray(excluded)
            if values.ndim != 1 or len(values) != len(trace) or values.dtype.kind not in "bi":
                raise TypeError(f"{where} must be a bool Series, or {len(trace)} bools (one per trace row).")
            series = pd.Series(values.astype(bool), index=pd.DatetimeIndex(trace.index).as_unit("ns"))
        return series.reindex(grid, fill_value=False).to_numpy(dtype=bool)

    # ---------------------------------------------------------------------------- episode

    @property
    def n_steps(self) -> int:
        """Steps in the trace."""
        return len(self.rate)

    def needed_replicas(self, rate: float, utilization: float) -> int:
        """Replicas that serve ``rate`` at ``utilization``, within the replica bounds."""
        n = math.ceil(rate / (self.capacity_rps * utilization) - 1e-9) if rate > 0 else self.min_replicas
        return int(min(self.max_replicas, max(self.min_replicas, n)))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: ``options`` may give ``start`` (a step index) and ``steps`` (its length).

        ``seed`` seeds the Poisson arrivals (as Gymnasium's ``reset(seed=)`` does).
        """
        if _gym is not None:
            super().reset(seed=seed)
            self._rng = self.np_random
        elif seed is not None:
            self._rng = check_random_state(seed)
        options = dict(options or {})
        start = check_int(options.pop("start", 0), "reset() options['start']", low=0, high=self.n_steps - 1)
        length = options.pop("steps", self.max_episode_steps)
        if options:
            raise ValueError(
                f"reset() argument 'options' has unknown key(s) {sorted(options)}; valid: 'start', 'steps'."
            )
        end = (
            self.n_steps
            if length is None
            else min(self.n_steps, start + check_size(length, "reset() options['steps']"))
        )
        self._start, self._end, self._k = start, end, start
        self._arrivals = self._rng.poisson(self.rate[start:end] * self.step_seconds).astype(float)
        first = self.rate[start]
        self._ready = (
            self.initial_replicas if self.initial_replicas is not None else self.needed_replicas(first, 0.6)
        )
        self._pending = []
        self._backlog = 0.0
        self._totals = dict.fromkeys(
            (
                "cost",
                "violation_minutes",
                "minutes",
                "arrived",
                "dropped",
                "served",
                "scaling_actions",
                "steps",
            ),
            0.0,
        )
        self._last = {
            "utilization": 0.0,
            "rate": first,
            "prev_rate": first,
            "p99_ms": 0.0,
            "drop_fraction": 0.0,
        }
        return self._observation(), self._info(0, 0.0, False, 0.0, 0.0)

    def action_mask(self) -> np.ndarray:
        """Which actions keep the replica count within its bounds."""
        total = self._ready + sum(n for _, n in self._pending)
        return np.array([self.min_replicas <= total + d <= self.max_replicas for d in self.action_deltas])

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action_deltas[action]`` and advance one step (the Gymnasium API)."""
        if (
            not isinstance(action, (int, np.integer))
            or isinstance(action, bool)
            or not 0 <= action < len(self.action_deltas)
        ):
            raise ValueError(
                f"step() argument 'action' must be an int in [0, {len(self.action_deltas)}); got {action!r}."
            )
        return self._advance(self.action_deltas[int(action)])

    def step_target(self, replicas: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Scale to ``replicas`` (ready plus pending, clipped to the bounds) and advance one step."""
        total = self._ready + sum(n for _, n in self._pending)
        return self._advance(int(replicas) - total)

    @property
    def ready_replicas(self) -> int:
        return self._ready

    @property
    def pending_replicas(self) -> int:
        return sum(n for _, n in self._pending)

    def _advance(self, delta: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._k >= self._end:
            raise RuntimeError("step() after the episode ended; call reset().")
        k, dt, mu = self._k, self.step_seconds, self.capacity_rps
        t0 = float(self._t[k])
        total = self._ready + sum(n for _, n in self._pending)
        delta = int(min(self.max_replicas, max(self.min_replicas, total + delta)) - total)
        if delta > 0:
            self._pending.append((t0 + self.readiness_delay_s, delta))
        elif delta < 0:
            remove = -delta
            while remove and self._pending:  # pending replicas go first, the latest ordered first
                when, n = self._pending.pop()
                take = min(n, remove)
                remove -= take
                if n > take:
                    self._pending.append((when, n - take))
            self._ready = max(self.min_replicas, self._ready - remove)
        # capacity: each replica counts for the part of the step it is ready
        ready_time = self._ready * dt
        still: list[tuple[float, int]] = []
        for when, n in self._pending:
            if when < t0 + dt:
                ready_time += n * (t0 + dt - max(when, t0))
                self._ready += n
            else:
                still.append((when, n))
        self._pending = still
        # billing: every replica ordered, or (without pending_costs) the replica-time actually served
        billed = (self._ready + sum(n for _, n in still)) if self.pending_costs else ready_time / dt
        capacity = mu * ready_time
        arrivals = float(self._arrivals[k - self._start])
        work = self._backlog + arrivals
        served = min(work, capacity)
        backlog = work - served
        rate_cap = capacity / dt  # requests per second the replicas can clear
        dropped = max(0.0, backlog - self.queue_timeout_s * rate_cap)
        backlog -= dropped
        self._backlog = backlog
        util = served / capacity if capacity > 0 else (1.0 if work > 0 else 0.0)
        p99 = mm1_latency_ms(min(util, _MAX_UTIL), mu) + (
            1000.0 * backlog / rate_cap if rate_cap > 0 else _P99_CAP_MS
        )
        p99 = min(p99, _P99_CAP_MS)
        violation = p99 > self.slo_ms
        drop_share = dropped / work if work > 0 else 0.0  # the share of the step's work dropped, <= 1
        counted = not self.excluded[k]
        tot = self._totals
        tot["steps"] += 1
        tot["scaling_actions"] += delta != 0
        if counted:
            minutes = dt / 60.0
            tot["minutes"] += minutes
            tot["cost"] += billed * minutes
            tot["violation_minutes"] += minutes * violation
            tot["arrived"] += arrivals
            tot["dropped"] += dropped
            tot["served"] += served
        last = self._last
        last["prev_rate"], last["rate"] = last["rate"], self.rate[k]
        last.update(utilization=util, p99_ms=p99, drop_fraction=drop_share)
        reward = -(
            billed / self.max_replicas
            + self.w_slo * violation
            + self.w_drop * drop_share
            + self.w_churn * abs(delta) / self.max_replicas
        )
        self._k += 1
        truncated = self._k >= self._end
        obs = self._observation()
        return obs, float(reward), False, truncated, self._info(delta, arrivals, violation, dropped, billed)

    def _observation(self) -> np.ndarray:
        # one home for the features: a policy serving from contexts computes the same vector
        return context_features(
            self.context(), self._last["prev_rate"], peak_rps=self.peak_rps, max_replicas=self.max_replicas
        )

    def _info(
        self, delta: int, arrivals: float, violation: bool, dropped: float, billed: float
    ) -> dict[str, Any]:
        k = max(self._k - 1, self._start)
        last = self._last
        return {
            "step": k,
            "timestamp": self._stamps[k],
            "request_rate": float(last["rate"]),
            "arrivals": arrivals,
            "utilization": float(last["utilization"]),
            "latency_p99": float(last["p99_ms"]),
            "violation": bool(violation),
            "dropped": dropped,
            "backlog": self._backlog,
            "ready_replicas": self._ready,
            "pending_replicas": sum(n for _, n in self._pending),
            "billed_replicas": billed,
            "delta": delta,
            "missing": bool(self.missing[k]),
            "excluded": bool(self.excluded[k]),
        }

    def context(self) -> dict[str, Any]:
        """The decision context of the latest step, for the DecisionEngine and policies.

        The default keys (``request_rate``, ``utilization``, ``latency_p99``, ``timestamp``) plus
        ``replicas``, ``pending_replicas``, ``backlog``, ``drop_fraction``, ``slo_ms``, ``capacity_rps``,
        ``readiness_delay_s`` and ``step_seconds`` (:data:`ENV_CONTEXT_KEYS`, which
        :func:`autoopt.policy.threshold_rules` registers on its engine).
        """
        last = self._last
        k = self._k - 1
        # before the first step the context describes the moment just before the episode
        ts = float(self._t[k]) if k >= self._start else float(self._t[self._start]) - self.step_seconds
        return {
            "timestamp": ts,
            "request_rate": float(last["rate"]),
            "utilization": float(last["utilization"]),
            "latency_p99": float(last["p99_ms"]),
            "replicas": self._ready,
            "pending_replicas": sum(n for _, n in self._pending),
            "backlog": self._backlog,
            "drop_fraction": float(last["drop_fraction"]),
            "slo_ms": self.slo_ms,
            "capacity_rps": self.capacity_rps,
            "readiness_delay_s": self.readiness_delay_s,
            "step_seconds": self.step_seconds,
        }

    def episode_metrics(self) -> dict[str, float]:
        """The running episode's metrics (missing and excluded steps out of every denominator).

        Keys: ``cost_replica_minutes``, ``minutes`` (counted), ``violation_minutes``,
        ``violation_minutes_pct``, ``arrived``, ``dropped``, ``drop_pct``, ``scaling_actions``, ``steps``.
        """
        t = self._totals
        minutes = t["minutes"]
        return {
            "cost_replica_minutes": t["cost"],
            "minutes": minutes,
            "violation_minutes": t["violation_minutes"],
            "violation_minutes_pct": 100.0 * t["violation_minutes"] / minutes if minutes else 0.0,
            "arrived": t["arrived"],
            "dropped": t["dropped"],
            "drop_pct": 100.0 * t["dropped"] / t["arrived"] if t["arrived"] else 0.0,
            "scaling_actions": int(t["scaling_actions"]),
            "steps": int(t["steps"]),
        }


ENV_CONTEXT_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("replicas", "number", "replicas", "replicas serving"),
    ("pending_replicas", "number", "replicas", "replicas ordered, not yet ready"),
    ("backlog", "number", "requests", "requests waiting"),
    ("drop_fraction", "number", "fraction", "the share of the step's work dropped (0 to 1)"),
    ("slo_ms", "number", "ms", "the p99 latency objective"),
    ("capacity_rps", "number", "requests/s", "what one replica serves"),
    ("readiness_delay_s", "number", "s", "from ordering a replica to it serving"),
    ("step_seconds", "number", "s", "the trace's step"),
)
"""The keys :meth:`AutoscalingEnv.context` adds to the default context, for ``register_context_key``."""
