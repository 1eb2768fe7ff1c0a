"""DQNPolicy: a Double-DQN autoscaler whose decisions run in NumPy (torch only trains it)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._validation import check_real, check_size
from autoopt.decision import Proposal
from autoopt.policy._baselines import HPAPolicy, ScalingPolicy, _to

if TYPE_CHECKING:
    import pandas as pd

    from autoopt.sim import AutoscalingEnv

__all__ = ["DQNPolicy"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FORMAT = "autoopt.DQNPolicy"
WEIGHTS_FILE = "weights.npz"
CONFIG_FILE = "config.json"
DEFAULT_TARGETS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
_ENV_KEYS = ("step_seconds", "capacity_rps", "slo_ms", "min_replicas", "max_replicas", "peak_rps")
_CHECKED = ("features", "step_seconds", "capacity_rps", "slo_ms", "min_replicas", "max_replicas")
_LEVELS = np.linspace(0.0, 1.0, 21)


def _forward(layers: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """The Q-network: ReLU hidden layers, a linear output (float32 throughout)."""
    last = len(layers) - 1
    for i, (w, b) in enumerate(layers):
        x = w @ x + b
        if i < last:
            np.maximum(x, 0.0, out=x)
    return x


class DQNPolicy(ScalingPolicy):
    """A Double-DQN scaling policy, trained on an :class:`~autoopt.sim.AutoscalingEnv` on CPU.

    **Observation**: the environment's feature vector (:data:`~autoopt.sim.FEATURES`), computed
    from the decision context by :func:`~autoopt.sim.context_features` in training and in serving
    alike, standardised by the mean and standard deviation of the training observations (frozen
    when training ends).

    **Actions** (``action_mode``):

    - ``"residual"`` (the default, chosen on the July hold-out): action *k* runs the HPA
      controller (:class:`HPAPolicy`: its tolerance, scale-down stabilisation and scale-up limits)
      at utilisation target ``targets[k]`` for this step. The network steers the HPA's knob; its
      output is still a replica change, clipped to the replica bounds.
    - ``"delta"``: action *k* adds ``action_deltas[k]`` replicas (the environment's), with the
      actions that would leave ``[min_replicas, max_replicas]`` masked.

    Either way a proposal is SCALE_UP, SCALE_DOWN or DEFER with a signed ``{"delta": k}``.
    Failover, alerts and remediation stay with the rules.

    **Confidence**: the margin between the best and the second-best Q-value, mapped to [0, 1] by
    its empirical distribution on the July hold-out (21 quantiles, stored in ``config.json``): a
    confidence of 0.3 means 30 % of hold-out decisions were less decisive. In a
    :class:`~autoopt.DecisionEngine` below ``min_confidence`` the rules decide.

    **Serving** needs NumPy only: :meth:`load` reads ``weights.npz`` (``allow_pickle=False``) and
    ``config.json``; nothing is unpickled. Once trained the policy is frozen (no online learning).
    :meth:`propose` is thread-safe: the network is read-only, and the two pieces of per-stream state
    (the previous request rate, for the rate-change feature, and the HPA's stabilisation window)
    are updated under a lock that no user code runs under.

    **Training** (:meth:`train`, torch, the ``rl`` extra) is Double DQN with a target network,
    Huber loss, gradient-norm clipping and Adam, from a replay buffer that stores truncation apart
    from termination, with an ε schedule linear over ``exploration_fraction`` of the steps. The
    seed's numbers kept: the 128-128-64 network, lr 1e-3, γ 0.99. Changed: the seed's per-episode
    ε decay of 0.995 would reach its floor after about 900 steps if applied per step, so ε falls
    linearly from ``exploration_initial_eps`` to ``exploration_final_eps`` over
    ``exploration_fraction`` of ``total_steps``.

    Parameters
    ----------
    hidden_sizes : sequence of int, default (128, 128, 64)
    action_mode : {"residual", "delta"}, default "residual"
    targets : sequence of float, default (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
        The HPA utilisation targets of the residual actions.
    hpa_tolerance, downscale_stabilization_s : float, default 0.1 and 300
        The residual HPA's settings (Kubernetes' defaults).
    learning_rate, gamma : float, default 1e-3 and 0.99
    buffer_size, batch_size, learning_starts, train_freq, target_update_interval : int
        Replay capacity (200,000), minibatch (64), random steps before learning (10,000), env steps
        per gradient step (4), env steps between target-network copies (2,000).
    exploration_fraction, exploration_initial_eps, exploration_final_eps : float
        0.2, 1.0 and 0.05.
    max_grad_norm : float, default 10
    episode_steps : int, default 1440
        Training episodes: this many steps from a random start, then truncated (not terminated).
    eval_freq : int, default 10,000
        Steps between evaluations (ε = 0) on the hold-out; the best one is kept.
    holdout_days : float, default 7
        Without ``eval_env``, :meth:`train` holds out the training env's last days for evaluation.
    accept_env_mismatch : sequence of str, default ()
        Environment settings (of ``"step_seconds"``, ``"capacity_rps"``, ``"slo_ms"``,
        ``"min_replicas"``, ``"max_replicas"``) allowed to differ from training's in :meth:`bind`;
        a mismatch is otherwise an error.

    Attributes
    ----------
    weights_ : list of (ndarray, ndarray)
        Each layer's weight (out × in) and bias, float32.
    obs_mean_, obs_std_ : ndarray
        The frozen observation normalisation.
    confidence_margins_ : ndarray
        The Q-margin at each of 21 evenly spaced quantiles of the hold-out.
    env_params_ : dict
        The training environment's ``step_seconds``, ``capacity_rps``, ``slo_ms``, replica bounds,
        ``peak_rps`` and ``action_deltas``.
    learning_curve_ : pandas.DataFrame
        One row per evaluation (see :meth:`train`).
    training_ : dict
        Steps, seed, wall time, steps per second and the best evaluation's step.

    Examples
    --------
    A checkpoint ships with the package (trained on NASA July, see the README); deciding needs NumPy
    only:

    >>> from autoopt.policy import DQNPolicy
    >>> policy = DQNPolicy.load(DQNPolicy.pretrained_path())
    >>> ctx = {"timestamp": 0.0, "request_rate": 900.0, "utilization": 0.95, "latency_p99": 400.0,
    ...        "replicas": 10, "pending_replicas": 0, "backlog": 0.0, "drop_fraction": 0.0,
    ...        "slo_ms": 250.0, "capacity_rps": 100.0, "step_seconds": 60.0}
    >>> p = policy.propose(ctx)
    >>> p.decision_type.value, p.parameters["delta"] > 0, 0.0 <= p.confidence <= 1.0
    ('scale_up', True, True)
    """

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (128, 128, 64),
        action_mode: str = "residual",
        targets: Sequence[float] = DEFAULT_TARGETS,
        hpa_tolerance: float = 0.1,
        downscale_stabilization_s: float = 300.0,
        learning_rate: float = 1e-3,
        gamma: float = 0.99,
        buffer_size: int = 200_000,
        batch_size: int = 64,
        learning_starts: int = 10_000,
        train_freq: int = 4,
        target_update_interval: int = 2_000,
        exploration_fraction: float = 0.2,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        max_grad_norm: float = 10.0,
        episode_steps: int = 1440,
        eval_freq: int = 10_000,
        holdout_days: float = 7.0,
        accept_env_mismatch: Sequence[str] = (),
    ) -> None:
        where = "DQNPolicy() argument"
        if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence):
            raise TypeError(f"{where} 'hidden_sizes' must be a sequence of ints; got {hidden_sizes!r}.")
        self.hidden_sizes = tuple(
            check_size(h, f"{where} 'hidden_sizes'[{i}]", high=4096) for i, h in enumerate(hidden_sizes)
        )
        if action_mode not in ("residual", "delta"):
            raise ValueError(f"{where} 'action_mode' must be 'residual' or 'delta'; got {action_mode!r}.")
        self.action_mode = action_mode
        if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence) or not targets:
            raise TypeError(f"{where} 'targets' must be a non-empty sequence of floats; got {targets!r}.")
        self.targets = tuple(
            check_real(t, f"{where} 'targets'[{i}]", low=0.0, high=1.0, low_open=True)
            for i, t in enumerate(targets)
        )
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"{where} 'targets' must be distinct; got {targets!r}.")
        self.hpa_tolerance = check_real(hpa_tolerance, f"{where} 'hpa_tolerance'", low=0.0)
        self.downscale_stabilization_s = check_real(
            downscale_stabilization_s, f"{where} 'downscale_stabilization_s'", low=0.0
        )
        self.learning_rate = check_real(learning_rate, f"{where} 'learning_rate'", low=0.0, low_open=True)
        self.gamma = check_real(gamma, f"{where} 'gamma'", low=0.0, high=1.0, high_open=True)
        self.buffer_size = check_size(buffer_size, f"{where} 'buffer_size'")
        self.batch_size = check_size(batch_size, f"{where} 'batch_size'")
        self.learning_starts = check_size(learning_starts, f"{where} 'learning_starts'", low=0)
        self.train_freq = check_size(train_freq, f"{where} 'train_freq'")
        self.target_update_interval = check_size(target_update_interval, f"{where} 'target_update_interval'")
        self.exploration_fraction = check_real(
            exploration_fraction, f"{where} 'exploration_fraction'", low=0.0, high=1.0
        )
        self.exploration_initial_eps = check_real(
            exploration_initial_eps, f"{where} 'exploration_initial_eps'", low=0.0, high=1.0
        )
        self.exploration_final_eps = check_real(
            exploration_final_eps, f"{where} 'exploration_final_eps'", low=0.0, high=1.0
        )
        self.max_grad_norm = check_real(max_grad_norm, f"{where} 'max_grad_norm'", low=0.0, low_open=True)
        self.episode_steps = check_size(episode_steps, f"{where} 'episode_steps'")
        self.eval_freq = check_size(eval_freq, f"{where} 'eval_freq'")
        self.holdout_days = check_real(holdout_days, f"{where} 'holdout_days'", low=0.0, low_open=True)
        accepted = tuple(accept_env_mismatch)
        unknown = sorted(set(accepted) - set(_CHECKED[1:]))
        if unknown:
            raise ValueError(
                f"{where} 'accept_env_mismatch' has unknown name(s) {unknown}; valid: {list(_CHECKED[1:])}."
            )
        self.accept_env_mismatch = accepted
        self.params: dict[str, Any] = {"action_mode": action_mode, "hidden_sizes": list(self.hidden_sizes)}
        self._lock = threading.Lock()
        self._prev_rate: float | None = None
        self._warned: set[str] = set()
        self._hpa = HPAPolicy(
            self.targets[0],
            tolerance=self.hpa_tolerance,
            downscale_stabilization_s=self.downscale_stabilization_s,
        )
        self.weights_: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.obs_mean_: np.ndarray | None = None
        self.obs_std_: np.ndarray | None = None
        self.confidence_margins_: np.ndarray | None = None
        self.env_params_: dict[str, Any] | None = None
        self.learning_curve_: pd.DataFrame | None = None
        self.training_: dict[str, Any] = {}

    # ------------------------------------------------------------------ the Policy protocol

    @property
    def name(self) -> str:
        return "dqn"

    @property
    def n_actions(self) -> int:
        """How many discrete actions the network scores."""
        if self.action_mode == "residual":
            return len(self.targets)
        if self.env_params_ is None:
            raise RuntimeError("a 'delta' DQNPolicy learns its actions from the env: train or load it first")
        return len(self.env_params_["action_deltas"])

    def reset(self) -> None:
        """Forget the stream's state: the previous request rate and the HPA's window."""
        with self._lock:
            self._prev_rate = None
            self._hpa.reset()

    def bind(self, env: AutoscalingEnv) -> None:
        """Check that ``env`` matches the training environment (see :meth:`check_env`)."""
        self.check_env(env)

    def check_env(self, env: AutoscalingEnv) -> None:
        """Raise ValueError if ``env``'s features, step, capacity, SLO or replica bounds differ from training's.

        Settings named in ``accept_env_mismatch`` are logged at WARNING instead.
        """
        params = self._fitted_env()
        from autoopt.sim._env import FEATURES

        theirs: dict[str, Any] = {k: getattr(env, k) for k in _CHECKED[1:]}
        theirs["features"] = list(getattr(env, "FEATURES", FEATURES))
        ours = {**params, "features": list(self.features_)}
        if self.action_mode == "delta":
            theirs["action_deltas"], ours["action_deltas"] = (
                list(env.action_deltas),
                list(params["action_deltas"]),
            )
        bad = [k for k in theirs if not _same(theirs[k], ours[k])]
        refused = [k for k in bad if k not in self.accept_env_mismatch]
        for k in bad:
            if k not in refused:  # accepted: said once per policy, then at DEBUG
                level = logging.DEBUG if k in self._warned else logging.WARNING
                self._warned.add(k)
                logger.log(
                    level,
                    "DQNPolicy: the env's %s is %r; the policy was trained at %r",
                    k,
                    theirs[k],
                    ours[k],
                )
        if refused:
            detail = "; ".join(f"{k}: env {theirs[k]!r}, checkpoint {ours[k]!r}" for k in refused)
            raise ValueError(f"the env does not match the DQNPolicy's training env ({detail})")

    def propose(self, context: Mapping[str, Any]) -> Proposal | None:
        """Scale by the greedy action's delta, with the Q-margin's confidence (needs the env's context keys)."""
        _, params = self._fitted()
        x = self._observe(context, params)
        total = int(context["replicas"]) + int(context["pending_replicas"])
        action, masked = self._greedy(x, total, params)
        target = self._act(context, action, total, params)
        return _to(total, target, f"dqn action {action}", self._confidence(masked, action))

    # ------------------------------------------------------------------ pieces shared with training

    @property
    def features_(self) -> tuple[str, ...]:
        from autoopt.sim._env import FEATURES

        return FEATURES

    def _fitted(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
        if self.weights_ is None or self.obs_mean_ is None or self.env_params_ is None:
            raise RuntimeError("this DQNPolicy is not trained: call train() or DQNPolicy.load() first")
        return self.weights_, self.env_params_

    def _fitted_env(self) -> dict[str, Any]:
        return self._fitted()[1]

    def _observe(self, context: Mapping[str, Any], params: Mapping[str, Any]) -> np.ndarray:
        """The features of ``context``; remembers its request rate for the next call's rate change."""
        from autoopt.sim._env import context_features

        with self._lock:
            prev = self._prev_rate
            self._prev_rate = float(context["request_rate"])
        return context_features(
            context, prev, peak_rps=params["peak_rps"], max_replicas=params["max_replicas"]
        )

    def _mask(self, total: int, params: Mapping[str, Any]) -> np.ndarray:
        if self.action_mode == "residual":
            return np.ones(len(self.targets), bool)
        deltas = np.asarray(params["action_deltas"])
        return (total + deltas >= params["min_replicas"]) & (total + deltas <= params["max_replicas"])

    def _act(self, context: Mapping[str, Any], action: int, total: int, params: Mapping[str, Any]) -> int:
        """The replica count ``action`` asks for, within the bounds (updates the HPA's window)."""
        if self.action_mode == "residual":
            target = self._hpa.desired(context, self.targets[action])
        else:
            target = total + int(params["action_deltas"][action])
        return int(min(params["max_replicas"], max(params["min_replicas"], target)))

    def _greedy(self, x: np.ndarray, total: int, params: Mapping[str, Any]) -> tuple[int, np.ndarray]:
        """The greedy action for the features ``x``, and the Q-values with invalid actions at -inf."""
        q = _forward(self.weights_, (x - self.obs_mean_) / self.obs_std_)  # type: ignore[arg-type]
        masked = q if self.action_mode == "residual" else np.where(self._mask(total, params), q, -np.inf)
        return int(np.argmax(masked)), masked

    @staticmethod
    def _margin(masked_q: np.ndarray, action: int) -> float | None:
        """The chosen action's Q-value over the second-best valid one (None with a single valid action)."""
        second = float(np.partition(masked_q, -2)[-2]) if len(masked_q) > 1 else -math.inf
        return None if second == -math.inf else float(masked_q[action]) - second

    def _confidence(self, masked_q: np.ndarray, action: int) -> float:
        """The Q-margin through the hold-out's empirical CDF (1 with nothing to be unsure about)."""
        margin = self._margin(masked_q, action)
        if self.confidence_margins_ is None or margin is None:
            return 1.0
        return float(np.interp(margin, self.confidence_margins_, _LEVELS))

    # ------------------------------------------------------------------ training

    def train(
        self,
        env: AutoscalingEnv,
        *,
        total_steps: int = 300_000,
        seed: int = 0,
        eval_env: AutoscalingEnv | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Train on ``env`` (torch, CPU, one thread) and return the learning curve.

        Without ``eval_env`` the last ``holdout_days`` of ``env`` are held out: training episodes
        (``episode_steps`` long, from random starts) never reach them, and every ``eval_freq`` steps
        the greedy policy (ε = 0) runs over them, on a copy of ``env`` with fixed arrivals. The
        checkpoint with the highest hold-out return is kept, and the confidence mapping is fitted on
        the same hold-out. The same ``seed`` on the same machine and thread count gives the same
        weights.

        Returns
        -------
        pandas.DataFrame
            One row per evaluation: ``step``, ``epsilon``, ``train_return`` (the mean return per
            step of the training episodes since the last evaluation, ε-greedy), ``loss``,
            ``eval_return`` (per step, ε = 0), ``eval_cost_vs_oracle``,
            ``eval_violation_minutes_pct``, ``eval_drop_pct``, ``eval_scaling_actions``,
            ``wall_seconds``.

        Raises
        ------
        ImportError
            Without PyTorch (``pip install 'autoopt[rl]'``).
        ValueError
            If ``total_steps`` is not above ``learning_starts`` (nothing would be learned), or the
            hold-out leaves no room for a training episode.
        """
        from autoopt.policy._dqn_train import train_dqn

        return train_dqn(self, env, total_steps=total_steps, seed=seed, eval_env=eval_env, progress=progress)

    def _set_env(self, env: AutoscalingEnv) -> dict[str, Any]:
        params = {k: getattr(env, k) for k in _ENV_KEYS}
        params["peak_rps"] = float(params["peak_rps"])
        params["action_deltas"] = [int(d) for d in env.action_deltas]
        params["readiness_delay_s"] = float(env.readiness_delay_s)
        self.env_params_ = params
        return params

    # ------------------------------------------------------------------ persistence

    @staticmethod
    def pretrained_path() -> Path:
        """The folder of the checkpoint that ships with the package (NASA July, see the README)."""
        return Path(__file__).resolve().parent.parent / "data" / "dqn_nasa_july"

    def save(self, folder: str | Path) -> Path:
        """Write ``weights.npz`` and ``config.json`` into ``folder`` (created if needed)."""
        from autoopt.policy._dqn_io import save

        return save(self, _folder(folder, "save"))

    @classmethod
    def load(cls, folder: str | Path, env: AutoscalingEnv | None = None, **kwargs: Any) -> DQNPolicy:
        """Read a checkpoint written by :meth:`save`; nothing is unpickled.

        ``kwargs`` (for example ``accept_env_mismatch``) override saved constructor parameters.
        With ``env``, the checkpoint must match it (:meth:`check_env`).

        Raises
        ------
        ValueError
            If the folder holds no checkpoint, its JSON or weights are malformed or were changed
            after saving (a SHA-256 of the weights is checked), or it does not match ``env``.
        """
        from autoopt.policy._dqn_io import load

        policy = load(cls, _folder(folder, "load"), kwargs)
        if env is not None:
            policy.check_env(env)
        return policy


def _folder(folder: Any, method: str) -> Path:
    if isinstance(folder, bool) or not isinstance(folder, (str, Path)) or not str(folder):
        raise TypeError(f"{method}() argument 'folder' must be a non-empty str or Path; got {folder!r:.80}.")
    return Path(folder)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9)
        )
    return bool(a == b)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, allow_nan=False)
