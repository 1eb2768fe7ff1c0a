"""DQNPolicy checkpoints: ``weights.npz`` (no pickles) and a validated ``config.json``."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt.policy._dqn import (
    CONFIG_FILE,
    FORMAT,
    SCHEMA_VERSION,
    WEIGHTS_FILE,
    dumps,
    file_sha256,
)

if TYPE_CHECKING:
    from autoopt.policy._dqn import DQNPolicy

__all__ = ["load", "save"]

_PARAMS = (
    "hidden_sizes",
    "action_mode",
    "targets",
    "hpa_tolerance",
    "downscale_stabilization_s",
    "learning_rate",
    "gamma",
    "buffer_size",
    "batch_size",
    "learning_starts",
    "train_freq",
    "target_update_interval",
    "exploration_fraction",
    "exploration_initial_eps",
    "exploration_final_eps",
    "max_grad_norm",
    "episode_steps",
    "eval_freq",
    "holdout_days",
)


def save(policy: DQNPolicy, folder: Path) -> Path:
    layers, env = policy._fitted()
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(layers):
        arrays[f"W{i}"] = np.ascontiguousarray(w, np.float32)
        arrays[f"b{i}"] = np.ascontiguousarray(b, np.float32)
    weights = folder / WEIGHTS_FILE
    with open(weights, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    params = {k: getattr(policy, k) for k in _PARAMS}
    params["hidden_sizes"] = list(params["hidden_sizes"])
    params["targets"] = list(params["targets"])
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "features": list(policy.features_),
        "n_actions": policy.n_actions,
        "params": params,
        "env": dict(env),
        "normalization": {
            "mean": [float(v) for v in policy.obs_mean_],  # type: ignore[union-attr]
            "std": [float(v) for v in policy.obs_std_],  # type: ignore[union-attr]
        },
        "confidence": {
            "method": "empirical CDF of the Q-margin (best minus second best) on the hold-out",
            "levels": [float(v) for v in np.linspace(0.0, 1.0, 21)],
            "margins": None
            if policy.confidence_margins_ is None
            else [float(v) for v in policy.confidence_margins_],
        },
        "training": _plain(policy.training_),
        "weights": {
            "file": WEIGHTS_FILE,
            "sha256": file_sha256(weights),
            "shapes": {k: list(v.shape) for k, v in arrays.items()},
        },
    }
    (folder / CONFIG_FILE).write_text(dumps(doc) + "\n", encoding="utf-8")
    return folder


def _plain(value: Any) -> Any:
    """JSON-safe copies of numbers, strings, lists and dicts (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return str(value)


class _Doc:
    """Typed reads from the parsed JSON, each failure naming its path."""

    def __init__(self, doc: Any, where: str) -> None:
        self.doc, self.where = doc, where

    def fail(self, path: str, why: str) -> ValueError:
        return ValueError(f"{self.where}: {path} {why}")

    def get(self, path: str, kind: type | tuple[type, ...]) -> Any:
        node = self.doc
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise self.fail(path, "is missing")
            node = node[part]
        if kind is float:
            ok = isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node)
        elif kind is int:
            ok = isinstance(node, int) and not isinstance(node, bool)
        else:
            ok = isinstance(node, kind)
        if not ok:
            raise self.fail(path, f"must be {getattr(kind, '__name__', kind)}; got {node!r:.80}")
        return node

    def numbers(self, path: str, n: int | None, integer: bool = False) -> list[Any]:
        values = self.get(path, list)
        if n is not None and len(values) != n:
            raise self.fail(path, f"must hold {n} values; got {len(values)}")
        for v in values:
            if (
                isinstance(v, bool)
                or not isinstance(v, int if integer else (int, float))
                or not math.isfinite(v)
            ):
                raise self.fail(path, f"must hold finite {'ints' if integer else 'numbers'}; got {v!r:.80}")
        return values


def load(cls: type[DQNPolicy], folder: Path, overrides: dict[str, Any]) -> DQNPolicy:
    where = f"DQNPolicy.load({str(folder)!r})"
    config, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config.is_file() or not weights.is_file():
        raise ValueError(
            f"{where}: argument 'folder' is not a DQNPolicy checkpoint (needs {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    try:
        raw = json.loads(config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: {CONFIG_FILE} is not valid JSON ({exc})") from None
    doc = _Doc(raw, where)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise doc.fail("format", f"must be {FORMAT!r}: this is not a DQNPolicy checkpoint")
    version = doc.get("schema_version", int)
    if version != SCHEMA_VERSION:
        raise doc.fail("schema_version", f"is {version}; this autoopt reads version {SCHEMA_VERSION}")
    from autoopt.sim._env import FEATURES

    features = doc.get("features", list)
    if features != list(FEATURES):
        raise doc.fail("features", f"are {features!r:.200}; this autoopt's env has {list(FEATURES)}")
    params = doc.get("params", dict)
    kwargs: dict[str, Any] = {}
    for key in _PARAMS:
        if key not in params:
            raise doc.fail(f"params.{key}", "is missing")
        kwargs[key] = params[key]
    kwargs.update(overrides)
    try:
        policy = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: params are invalid: {exc}") from None
    env: dict[str, Any] = {}
    for key in ("step_seconds", "capacity_rps", "slo_ms", "peak_rps", "readiness_delay_s"):
        env[key] = doc.get(f"env.{key}", float)
    for key in ("min_replicas", "max_replicas"):
        env[key] = doc.get(f"env.{key}", int)
    env["action_deltas"] = doc.numbers("env.action_deltas", None, integer=True)
    policy.env_params_ = env
    n_actions = doc.get("n_actions", int)
    if n_actions != policy.n_actions:
        raise doc.fail("n_actions", f"is {n_actions}; the params give {policy.n_actions} actions")
    d = len(FEATURES)
    mean = np.array(doc.numbers("normalization.mean", d), np.float32)
    std = np.array(doc.numbers("normalization.std", d), np.float32)
    if (std <= 0).any():
        raise doc.fail("normalization.std", "must be > 0")
    margins = doc.get("confidence.margins", (list, type(None)))
    if margins is not None:
        margins = np.array(doc.numbers("confidence.margins", 21), float)
        if (np.diff(margins) < 0).any():
            raise doc.fail("confidence.margins", "must be non-decreasing")
    digest = doc.get("weights.sha256", str)
    if file_sha256(weights) != digest:
        raise ValueError(
            f"{where}: {WEIGHTS_FILE} does not match the SHA-256 in {CONFIG_FILE}: it was changed"
        )
    layers = _read_weights(weights, where, [d, *policy.hidden_sizes, n_actions])
    policy.weights_, policy.obs_mean_, policy.obs_std_ = layers, mean, std
    policy.confidence_margins_ = margins
    training = raw.get("training", {})
    policy.training_ = dict(training) if isinstance(training, dict) else {}
    curve = policy.training_.get("learning_curve")
    if isinstance(curve, dict):
        import pandas as pd

        try:
            policy.learning_curve_ = pd.DataFrame(curve).astype(float)
        except (TypeError, ValueError) as exc:
            raise doc.fail("training.learning_curve", f"is not a table of numbers ({exc})") from None
    return policy


def _read_weights(path: Path, where: str, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{where}: {WEIGHTS_FILE} is not a NumPy .npz of plain arrays ({exc})") from None
    expected = {f"{p}{i}" for i in range(len(sizes) - 1) for p in "Wb"}
    if set(arrays) != expected:
        raise ValueError(f"{where}: {WEIGHTS_FILE} holds {sorted(arrays)}; expected {sorted(expected)}")
    layers = []
    for i in range(len(sizes) - 1):
        w, b = arrays[f"W{i}"], arrays[f"b{i}"]
        for name, a, shape in ((f"W{i}", w, (sizes[i + 1], sizes[i])), (f"b{i}", b, (sizes[i + 1],))):
            if a.dtype != np.float32 or a.shape != shape:
                raise ValueError(
                    f"{where}: {WEIGHTS_FILE}[{name!r}] is {a.dtype} {a.shape}; expected float32 {shape}"
                )
            if not np.isfinite(a).all():
                raise ValueError(f"{where}: {WEIGHTS_FILE}[{name!r}] holds non-finite values")
        layers.append((w, b))
    return layers
