"""DQNPolicy's training loop: Double DQN on CPU with torch (the ``rl`` extra), imported lazily."""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._validation import check_int, check_size

if TYPE_CHECKING:
    import pandas as pd

    from autoopt.policy._dqn import DQNPolicy
    from autoopt.sim import AutoscalingEnv

__all__ = ["require_torch", "run_episode", "train_dqn"]

logger = logging.getLogger(__name__)

EVAL_SEED = 0
"""The arrivals' seed of every hold-out evaluation, so checkpoints compare on the same draws."""


def require_torch() -> Any:
    """Import torch, or raise an ImportError saying how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised by the no-torch test in a subprocess
        raise ImportError(
            "DQNPolicy.train() needs PyTorch, the 'rl' extra: pip install 'autoopt[rl]' "
            "(or pip install torch; the CPU build is enough). Deciding with a trained or shipped "
            "checkpoint needs NumPy only."
        ) from exc
    return torch


class _Normalizer:
    """Running mean and variance of the observations (Welford), read as frozen float32 snapshots."""

    def __init__(self, d: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(d), np.zeros(d)

    def update(self, x: np.ndarray) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        var = self.m2 / max(self.n - 1, 1)
        return self.mean.astype(np.float32), np.maximum(np.sqrt(var), 1e-3).astype(np.float32)


def run_episode(
    policy: DQNPolicy, env: AutoscalingEnv, options: dict[str, Any] | None, margins: list[float] | None = None
) -> tuple[float, dict[str, Any]]:
    """The greedy policy over one episode (arrivals seeded with :data:`EVAL_SEED`): mean return per step and metrics."""
    from autoopt.policy._evaluate import _oracle_cost

    policy.reset()
    env.reset(seed=EVAL_SEED, options=options)
    _, params = policy._fitted()
    total_reward, steps, truncated = 0.0, 0, False
    while not truncated:  # propose()'s steps, keeping the margins
        ctx = env.context()
        total = int(ctx["replicas"]) + int(ctx["pending_replicas"])
        action, masked = policy._greedy(policy._observe(ctx, params), total, params)
        margin = policy._margin(masked, action)
        if margins is not None and margin is not None:
            margins.append(margin)
        _, reward, _, truncated, _ = env.step_target(policy._act(ctx, action, total, params))
        total_reward += reward
        steps += 1
    metrics = env.episode_metrics()
    metrics["cost_vs_oracle"] = metrics["cost_replica_minutes"] / _oracle_cost(env, EVAL_SEED, options)
    return total_reward / max(steps, 1), metrics


def train_dqn(
    policy: DQNPolicy,
    env: AutoscalingEnv,
    *,
    total_steps: int,
    seed: int,
    eval_env: AutoscalingEnv | None,
    progress: bool,
) -> pd.DataFrame:
    import pandas as pd

    total_steps = check_size(total_steps, "train() argument 'total_steps'")
    seed = check_int(seed, "train() argument 'seed'", low=0, high=2**32 - 1)
    if total_steps <= policy.learning_starts:
        raise ValueError(
            f"train() argument 'total_steps' ({total_steps}) must exceed learning_starts "
            f"({policy.learning_starts}): no gradient step would be taken."
        )
    from autoopt.sim import AutoscalingEnv

    for name, value in (("env", env), ("eval_env", eval_env)):
        if not isinstance(value, AutoscalingEnv) and not (name == "eval_env" and value is None):
            raise TypeError(
                f"train() argument {name!r} must be an AutoscalingEnv; got {type(value).__name__}."
            )
    if not isinstance(progress, bool):
        raise TypeError(f"train() argument 'progress' must be a bool; got {progress!r}.")
    torch = require_torch()
    n = env.n_steps
    if eval_env is None:
        hold = round(policy.holdout_days * 86_400 / env.step_seconds)
        n_train = n - hold
        eval_env, eval_options = copy.deepcopy(env), {"start": n_train}
    else:
        n_train, eval_options = n, None
    length = min(policy.episode_steps, n_train)
    if n_train < 2:
        raise ValueError(
            f"train(): holding out {policy.holdout_days} days leaves {n_train} of {n} steps to train on."
        )
    params = policy._set_env(env)
    d, n_actions = len(policy.features_), policy.n_actions
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        sizes = [d, *policy.hidden_sizes, n_actions]

        def net() -> Any:
            mods: list[Any] = []
            for i in range(len(sizes) - 1):
                mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    mods.append(torch.nn.ReLU())
            return torch.nn.Sequential(*mods)

        online, target = net(), net()
        target.load_state_dict(online.state_dict())
        optimizer = torch.optim.Adam(online.parameters(), lr=policy.learning_rate)
        linears = [m for m in online if isinstance(m, torch.nn.Linear)]
        # NumPy views that share the online network's memory: acting reads the latest weights
        policy.weights_ = [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in linears]
        norm = _Normalizer(d)
        cap = min(policy.buffer_size, total_steps)
        obs_buf = np.zeros((cap, d), np.float32)
        next_buf = np.zeros((cap, d), np.float32)
        act_buf = np.zeros(cap, np.int64)
        rew_buf = np.zeros(cap, np.float32)
        term_buf = np.zeros(cap, bool)  # the service never terminates; kept for the Bellman target
        trunc_buf = np.zeros(cap, bool)  # time limits: the target still bootstraps through them
        mask_buf = np.ones((cap, n_actions), bool)

        rows: list[dict[str, Any]] = []
        best: tuple[float, Any, int] | None = None
        start_wall = time.perf_counter()
        losses: list[float] = []
        ep_returns: list[float] = []
        ep_return = ep_len = 0.0
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, disable=not progress, file=sys.stderr, unit="step", desc="dqn",
                   mininterval=1.0)  # fmt: skip
        truncated = True
        ctx: dict[str, Any] = {}
        x = np.zeros(d, np.float32)
        for t in range(total_steps):
            if truncated:
                begin = int(rng.integers(0, n_train - length + 1))
                policy.reset()
                env.reset(seed=int(rng.integers(2**31)), options={"start": begin, "steps": length})
                ctx = env.context()
                x = policy._observe(ctx, params)
                ep_return = ep_len = 0.0
            norm.update(x)
            total = int(ctx["replicas"]) + int(ctx["pending_replicas"])
            mask = policy._mask(total, params)
            eps = _epsilon(policy, t, total_steps)
            if rng.random() < eps:
                action = int(rng.choice(np.flatnonzero(mask)))
            else:
                policy.obs_mean_, policy.obs_std_ = norm.snapshot()
                action, _ = policy._greedy(x, total, params)
            _, reward, terminated, truncated, _ = env.step_target(policy._act(ctx, action, total, params))
            ctx = env.context()
            x2 = policy._observe(ctx, params)
            i = t % cap
            obs_buf[i], next_buf[i], act_buf[i], rew_buf[i] = x, x2, action, reward
            term_buf[i], trunc_buf[i] = terminated, truncated
            mask_buf[i] = policy._mask(int(ctx["replicas"]) + int(ctx["pending_replicas"]), params)
            x = x2
            ep_return += reward
            ep_len += 1
            if truncated:
                ep_returns.append(ep_return / ep_len)
            if t >= policy.learning_starts and t % policy.train_freq == 0:
                losses.append(_learn(torch, policy, online, target, optimizer, norm, rng, min(t + 1, cap),
                                     (obs_buf, next_buf, act_buf, rew_buf, term_buf, mask_buf)))  # fmt: skip
            if t % policy.target_update_interval == 0:
                target.load_state_dict(online.state_dict())
            bar.update(1)
            if (t + 1) % policy.eval_freq == 0 or t + 1 == total_steps:
                snapshot = _snapshot(policy.weights_, norm)
                frozen = _frozen(policy, snapshot)
                score, metrics = run_episode(frozen, eval_env, eval_options)
                rows.append(
                    {
                        "step": t + 1,
                        "epsilon": eps,
                        "train_return": float(np.mean(ep_returns)) if ep_returns else math.nan,
                        "loss": float(np.mean(losses)) if losses else math.nan,
                        "eval_return": score,
                        "eval_cost_vs_oracle": metrics["cost_vs_oracle"],
                        "eval_violation_minutes_pct": metrics["violation_minutes_pct"],
                        "eval_drop_pct": metrics["drop_pct"],
                        "eval_scaling_actions": metrics["scaling_actions"],
                        "wall_seconds": time.perf_counter() - start_wall,
                    }
                )
                logger.info("dqn step %d: hold-out return %.5f per step", t + 1, score)
                losses, ep_returns = [], []
                if t >= policy.learning_starts and (best is None or score > best[0]):
                    best = (score, snapshot, t + 1)
        bar.close()
        wall = time.perf_counter() - start_wall
    finally:
        torch.set_num_threads(threads)
    if best is None:  # pragma: no cover - total_steps > learning_starts guarantees one evaluation after it
        raise RuntimeError("no evaluation after learning started")
    _, (layers, mean, std), best_step = best
    policy.weights_, policy.obs_mean_, policy.obs_std_ = layers, mean, std
    margins: list[float] = []
    policy.confidence_margins_ = None
    run_episode(policy, eval_env, eval_options, margins)
    policy.confidence_margins_ = (
        np.quantile(np.asarray(margins), np.linspace(0.0, 1.0, 21)) if margins else None
    )
    policy.reset()
    curve = pd.DataFrame(rows)
    policy.learning_curve_ = curve
    policy.training_ = {
        "total_steps": total_steps,
        "seed": seed,
        "wall_seconds": wall,
        "steps_per_second": total_steps / wall if wall > 0 else math.nan,
        "best_step": best_step,
        "best_eval_return": best[0],
        "holdout": "the last holdout_days of the training env" if eval_options else "eval_env",
        "train_steps": n_train,
        "torch": str(torch.__version__),
        "learning_curve": {
            k: [None if isinstance(v, float) and math.isnan(v) else v for v in col]
            for k, col in curve.to_dict("list").items()
        },
    }
    return curve


def _epsilon(policy: DQNPolicy, t: int, total: int) -> float:
    span = policy.exploration_fraction * total
    if span <= 0 or t >= span:
        return policy.exploration_final_eps
    frac = t / span
    return policy.exploration_initial_eps + frac * (
        policy.exploration_final_eps - policy.exploration_initial_eps
    )


def _snapshot(
    layers: Any, norm: _Normalizer
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    mean, std = norm.snapshot()
    return [(w.copy(), b.copy()) for w, b in layers], mean, std


def _frozen(policy: DQNPolicy, snapshot: Any) -> DQNPolicy:
    """A copy of ``policy`` with ``snapshot``'s weights and normalisation (its own state and lock)."""
    frozen = copy.copy(policy)
    import threading

    from autoopt.policy._baselines import HPAPolicy

    frozen._lock = threading.Lock()
    frozen._hpa = HPAPolicy(
        policy.targets[0],
        tolerance=policy.hpa_tolerance,
        downscale_stabilization_s=policy.downscale_stabilization_s,
    )
    frozen.weights_, frozen.obs_mean_, frozen.obs_std_ = snapshot
    frozen.confidence_margins_ = None
    return frozen


def _learn(
    torch: Any,
    policy: DQNPolicy,
    online: Any,
    target: Any,
    optimizer: Any,
    norm: _Normalizer,
    rng: np.random.Generator,
    size: int,
    buffers: tuple[np.ndarray, ...],
) -> float:
    """One Double-DQN gradient step on a uniform minibatch; returns the Huber loss."""
    obs, nxt, act, rew, term, mask = buffers
    idx = rng.integers(0, size, policy.batch_size)
    mean, std = norm.snapshot()
    o = torch.from_numpy((obs[idx] - mean) / std)
    o2 = torch.from_numpy((nxt[idx] - mean) / std)
    m2 = torch.from_numpy(mask[idx])
    with torch.no_grad():
        q_next = online(o2).masked_fill(~m2, -math.inf)
        best = q_next.argmax(dim=1, keepdim=True)  # the online net chooses, the target net values
        value = target(o2).gather(1, best).squeeze(1)
        y = torch.from_numpy(rew[idx]) + policy.gamma * (1.0 - torch.from_numpy(term[idx]).float()) * value
    q = online(o).gather(1, torch.from_numpy(act[idx]).unsqueeze(1)).squeeze(1)
    loss = torch.nn.functional.smooth_l1_loss(q, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(online.parameters(), policy.max_grad_norm)
    optimizer.step()
    return float(loss.detach())
