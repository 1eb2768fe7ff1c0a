"""DQNPolicy: features, the Double-DQN update against closed forms, reproducibility, checkpoints and the policy slot."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from autoopt import DecisionEngine, DecisionType
from autoopt.decision.testing import check_policy
from autoopt.policy import DQNPolicy, threshold_rules
from autoopt.sim import FEATURES, AutoscalingEnv, context_features


def _trace(days: float = 3.0, step: str = "min") -> pd.Series:
    n = int(days * 1440) if step == "min" else int(days * 288)
    index = pd.date_range("2026-01-05", periods=n, freq=step, tz="UTC")
    seconds = (index.asi8 // 10**9) % 86_400
    rate = 2_000.0 + 1_500.0 * np.sin(2 * np.pi * seconds / 86_400) + 300.0 * np.sin(np.arange(n) / 7.0)
    return pd.Series(rate, index=index)


def _env(**kw) -> AutoscalingEnv:
    return AutoscalingEnv(_trace(), capacity_rps=100.0, max_replicas=80, **kw)


def _small(**kw) -> DQNPolicy:
    defaults = {"hidden_sizes": (32, 32), "learning_starts": 500, "eval_freq": 1_000, "episode_steps": 600,
                "holdout_days": 1.0, "buffer_size": 5_000}  # fmt: skip
    return DQNPolicy(**{**defaults, **kw})


@pytest.fixture(scope="module")
def pretrained() -> DQNPolicy:
    return DQNPolicy.load(DQNPolicy.pretrained_path())


def _contexts(env: AutoscalingEnv, n: int, seed: int = 0) -> list[dict]:
    env.reset(seed=seed, options={"steps": n})
    rng = np.random.default_rng(seed)
    out, done = [], False
    while not done:
        out.append(env.context())
        _, _, _, done, _ = env.step(int(rng.choice(np.flatnonzero(env.action_mask()))))
    return out


# ---------------------------------------------------------------------- features


def test_context_features_match_the_documented_formulas_and_the_env_observation():
    env = _env(readiness_delay_s=90.0)
    obs, _ = env.reset(seed=3, options={"steps": 300})
    rng = np.random.default_rng(0)
    prev_rate = None
    done = False
    while not done:
        ctx = env.context()
        feats = context_features(ctx, prev_rate, peak_rps=env.peak_rps, max_replicas=env.max_replicas)
        np.testing.assert_array_equal(feats, obs)  # the env's observation is this function
        # an independent reading of the documented formulas, from the context's plain numbers
        cap = ctx["replicas"] * ctx["capacity_rps"]
        prev = ctx["request_rate"] if prev_rate is None else prev_rate
        when = pd.Timestamp(ctx["timestamp"] + ctx["step_seconds"], unit="s")
        day = (when.hour * 3600 + when.minute * 60 + when.second) / 86_400
        ref = [ctx["utilization"], ctx["request_rate"] / env.peak_rps, (ctx["request_rate"] - prev) / env.peak_rps,
               min(ctx["latency_p99"] / ctx["slo_ms"], 10), min(ctx["backlog"] / (cap * 60.0), 10),
               ctx["drop_fraction"], ctx["replicas"] / 80, ctx["pending_replicas"] / 80,
               min(ctx["request_rate"] / cap, 10), math.sin(2 * math.pi * day), math.cos(2 * math.pi * day)]  # fmt: skip
        np.testing.assert_allclose(feats, np.array(ref, np.float32), rtol=1e-6, atol=1e-6)
        prev_rate = ctx["request_rate"]
        obs, _, _, done, _ = env.step(int(rng.choice(np.flatnonzero(env.action_mask()))))
    assert len(feats) == len(FEATURES)


def test_the_seed_api_stays_torch_free_and_train_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None  # as if torch were not installed
        import autoopt
        from autoopt.policy import DQNPolicy
        p = DQNPolicy.load(DQNPolicy.pretrained_path())
        ctx = {"timestamp": 0.0, "request_rate": 900.0, "utilization": 0.95, "latency_p99": 400.0,
               "replicas": 10, "pending_replicas": 0, "backlog": 0.0, "drop_fraction": 0.0,
               "slo_ms": 250.0, "capacity_rps": 100.0, "step_seconds": 60.0}
        assert p.propose(ctx).decision_type.value == "scale_up"
        import pandas as pd, numpy as np
        from autoopt.sim import AutoscalingEnv
        env = AutoscalingEnv(pd.Series(np.full(3000, 500.0), index=pd.date_range("2026", periods=3000, freq="min")))
        try:
            DQNPolicy(learning_starts=10).train(env, total_steps=20, progress=False)
        except ImportError as exc:
            assert "pip install 'autoopt[rl]'" in str(exc), exc
            print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


# ---------------------------------------------------------------------- the update, against closed forms


def _constant_nets(torch, sizes, online_bias, target_bias):
    """Q-networks whose output is a constant per action (zero weights, the given output bias)."""
    from autoopt.policy import _dqn_train

    nets = []
    for bias in (online_bias, target_bias):
        layers = []
        for i in range(len(sizes) - 1):
            lin = torch.nn.Linear(sizes[i], sizes[i + 1])
            torch.nn.init.zeros_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
            layers += [lin, torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers[:-1])
        with torch.no_grad():
            net[-1].bias.copy_(torch.tensor(bias, dtype=torch.float32))
        nets.append(net)
    return nets, _dqn_train


def test_double_dqn_target_uses_online_argmax_target_value_and_stops_only_at_termination():
    torch = pytest.importorskip("torch")
    policy = DQNPolicy(batch_size=4, gamma=0.9, learning_rate=1e-3, max_grad_norm=1e9)
    online_q, target_q = [0.0, 2.0, 1.0], [5.0, -1.0, 7.0]
    (online, target), mod = _constant_nets(torch, [2, 4, 3], online_q, target_q)
    opt = torch.optim.SGD(online.parameters(), lr=0.0)  # measure the loss, change nothing
    norm = mod._Normalizer(2)
    for x in ([0.0, 1.0], [1.0, 0.0]):
        norm.update(np.array(x))
    n = 4
    obs = np.zeros((n, 2), np.float32)
    act = np.array([0, 1, 2, 1])
    rew = np.array([1.0, -1.0, 0.5, 0.0], np.float32)
    term = np.array([False, True, False, False])
    mask = np.ones((n, 3), bool)
    mask[3, 1] = False  # the online argmax (action 1) is masked: action 2 is chosen instead
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n, n)
    loss = mod._learn(torch, policy, online, target, opt, norm, np.random.default_rng(0), n,
                      (obs, obs, act, rew, term, mask))  # fmt: skip
    # closed form: y = r + gamma (1 - terminated) Q_target(s', argmax_masked Q_online(s')); truncation bootstraps
    nxt = np.array([target_q[1], target_q[1], target_q[1], target_q[2]])
    y = rew + 0.9 * (1 - term) * nxt
    q = np.array(online_q)[act]
    err = np.abs(q - y)[idx]
    huber = np.where(err < 1, 0.5 * err**2, err - 0.5).mean()
    assert loss == pytest.approx(huber, rel=1e-6)


def test_epsilon_is_linear_over_the_stated_fraction():
    from autoopt.policy._dqn_train import _epsilon

    p = DQNPolicy(exploration_fraction=0.25, exploration_initial_eps=1.0, exploration_final_eps=0.05)
    assert _epsilon(p, 0, 1000) == 1.0
    assert _epsilon(p, 125, 1000) == pytest.approx(1.0 - 0.5 * 0.95)
    assert _epsilon(p, 250, 1000) == 0.05 == _epsilon(p, 999, 1000)


def test_normaliser_matches_numpy():
    from autoopt.policy._dqn_train import _Normalizer

    x = np.random.default_rng(1).normal(3.0, 2.0, size=(500, 4))
    x[:, 3] = 1.0  # a constant feature gets the floor, not a zero division
    norm = _Normalizer(4)
    for row in x:
        norm.update(row)
    mean, std = norm.snapshot()
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std[:3], x[:, :3].std(0, ddof=1), rtol=1e-5)
    assert std[3] == pytest.approx(1e-3)


# ---------------------------------------------------------------------- training


def test_two_thousand_steps_are_reproducible_and_the_curve_is_complete():
    pytest.importorskip("torch")
    env = _env()
    a, b = _small(), _small()
    curve_a = a.train(env, total_steps=2_000, seed=7, progress=False)
    curve_b = b.train(_env(), total_steps=2_000, seed=7, progress=False)
    for (wa, ba), (wb, bb) in zip(a.weights_, b.weights_, strict=True):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
    pd.testing.assert_frame_equal(curve_a.drop(columns="wall_seconds"), curve_b.drop(columns="wall_seconds"))
    assert list(curve_a["step"]) == [1_000, 2_000]
    assert {"epsilon", "train_return", "loss", "eval_return", "eval_cost_vs_oracle",
            "eval_violation_minutes_pct", "eval_drop_pct", "eval_scaling_actions"} <= set(curve_a)  # fmt: skip
    assert a.training_["best_step"] in (1_000, 2_000)
    best = curve_a.loc[curve_a["step"] == a.training_["best_step"], "eval_return"].item()
    assert best == curve_a["eval_return"].max()
    c = _small()
    c.train(_env(), total_steps=2_000, seed=8, progress=False)
    assert not np.array_equal(c.weights_[0][0], a.weights_[0][0])


def test_the_kept_checkpoint_is_the_best_evaluation_and_its_return_is_reproduced():
    pytest.importorskip("torch")
    from autoopt.policy._dqn_train import run_episode

    env = _env()
    p = _small()
    curve = p.train(env, total_steps=3_000, seed=1, progress=False)
    hold = int(1.0 * 1440)
    score, _metrics = run_episode(p, env, {"start": env.n_steps - hold})
    assert score == pytest.approx(curve["eval_return"].max(), rel=1e-9)
    # confidence: the hold-out margins' empirical CDF, so the hold-out's confidences average about 1/2
    margins: list[float] = []
    run_episode(p, env, {"start": env.n_steps - hold}, margins)
    np.testing.assert_allclose(p.confidence_margins_, np.quantile(margins, np.linspace(0, 1, 21)))
    conf = np.interp(margins, p.confidence_margins_, np.linspace(0, 1, 21))
    assert 0.4 < conf.mean() < 0.6


def test_train_refuses_a_budget_that_never_learns_and_a_holdout_that_leaves_nothing():
    env = _env()
    with pytest.raises(ValueError, match="learning_starts"):
        _small(learning_starts=5_000).train(env, total_steps=5_000, progress=False)
    with pytest.raises(ValueError, match="holding out"):
        _small(holdout_days=10.0).train(env, total_steps=600, progress=False)
    with pytest.raises(TypeError, match="'env'"):
        _small().train("env", total_steps=600, progress=False)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- checkpoints


def test_save_and_load_round_trip_decides_the_same(tmp_path, pretrained):
    env = AutoscalingEnv(_trace(), capacity_rps=100.0, max_replicas=250, peak_rps=6000.0)
    folder = pretrained.save(tmp_path / "ckpt")
    again = DQNPolicy.load(folder, env=env)
    with np.load(folder / "weights.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W0", "W1", "W2", "W3", "b0", "b1", "b2", "b3"]
        assert npz["W0"].shape == (128, len(FEATURES))
    doc = json.loads((folder / "config.json").read_text())
    assert doc["schema_version"] == 1
    assert doc["features"] == list(FEATURES)
    assert {"env", "normalization", "confidence", "params", "weights", "training"} <= set(doc)
    ctxs = _contexts(env, 400)
    pretrained.reset()
    again.reset()
    assert [pretrained.propose(c) for c in ctxs] == [again.propose(c) for c in ctxs]


def _tamper(folder, edit):
    doc = json.loads((folder / "config.json").read_text())
    edit(doc)
    (folder / "config.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(format="something else"), "not a DQNPolicy checkpoint"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(schema_version="1"), "schema_version"),
        (lambda d: d["features"].reverse(), "features"),
        (lambda d: d["normalization"]["mean"].pop(), "normalization.mean"),
        (lambda d: d["normalization"]["std"].__setitem__(0, -1.0), "normalization.std"),
        (lambda d: d["normalization"]["std"].__setitem__(0, "1"), "normalization.std"),
        (lambda d: d["params"].update(hidden_sizes=[128, 128]), "W3|shape|holds"),
        (lambda d: d["params"].update(targets=[0.5]), "n_actions"),
        (lambda d: d["params"].update(gamma=2.0), "gamma"),
        (lambda d: d["env"].update(capacity_rps="100"), "env.capacity_rps"),
        (lambda d: d["env"].pop("max_replicas"), "env.max_replicas"),
        (lambda d: d["confidence"].update(margins=[1.0] * 20), "confidence.margins"),
        (lambda d: d["weights"].update(sha256="0" * 64), "SHA-256"),
        (lambda d: d.clear(), "not a DQNPolicy checkpoint"),
    ],
)
def test_tampered_json_fails_cleanly(tmp_path, pretrained, edit, match):
    folder = pretrained.save(tmp_path / "ckpt")
    _tamper(folder, edit)
    with pytest.raises(ValueError, match=match):
        DQNPolicy.load(folder)


def _rehash(folder):
    from autoopt.policy._dqn import file_sha256

    _tamper(folder, lambda d: d["weights"].update(sha256=file_sha256(folder / "weights.npz")))


def test_tampered_or_foreign_weights_fail_cleanly(tmp_path, pretrained):
    folder = pretrained.save(tmp_path / "ckpt")
    # the values changed, shapes intact: the digest catches it
    with np.load(folder / "weights.npz") as npz:
        arrays = {k: npz[k].copy() for k in npz.files}
    arrays["b3"][0] += 1.0
    np.savez(folder / "weights.npz", **arrays)
    with pytest.raises(ValueError, match="SHA-256"):
        DQNPolicy.load(folder)
    # with a matching digest, shapes, dtypes and values are still checked
    cases = {
        r"'W0'\] is float32 \(128, 5\); expected float32 \(128, 11\)": {**arrays, "W0": arrays["W0"][:, :5]},
        r"'b0'\] is float64": {**arrays, "b0": arrays["b0"].astype(np.float64)},
        "non-finite": {**arrays, "b1": np.full_like(arrays["b1"], np.nan)},
        "expected": {k: v for k, v in arrays.items() if k != "b2"},
    }
    for match, content in cases.items():
        np.savez(folder / "weights.npz", **content)
        _rehash(folder)
        with pytest.raises(ValueError, match=match):
            DQNPolicy.load(folder)
    # an object array (a pickle inside the npz) is refused, never unpickled
    np.savez(folder / "weights.npz", **{**arrays, "W0": np.array([{"x": 1}], dtype=object)})
    _rehash(folder)
    with pytest.raises(ValueError, match=r"not a NumPy \.npz of plain arrays|float32"):
        DQNPolicy.load(folder)
    # not an npz at all
    (folder / "weights.npz").write_bytes(b"\x80\x04K\x01.")
    _rehash(folder)
    with pytest.raises(ValueError, match=r"not a NumPy \.npz"):
        DQNPolicy.load(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        DQNPolicy.load(folder)
    with pytest.raises(ValueError, match="not a DQNPolicy checkpoint"):
        DQNPolicy.load(tmp_path / "nowhere")
    with pytest.raises(TypeError, match="'folder'"):
        DQNPolicy.load(5)  # type: ignore[arg-type]


def test_load_refuses_an_env_it_was_not_trained_for(pretrained):
    other = AutoscalingEnv(_trace(), capacity_rps=50.0, max_replicas=250, peak_rps=6000.0)
    with pytest.raises(ValueError, match="capacity_rps"):
        DQNPolicy.load(DQNPolicy.pretrained_path(), env=other)
    five_min = AutoscalingEnv(_trace(step="5min"), capacity_rps=100.0, max_replicas=250, peak_rps=6000.0)
    with pytest.raises(ValueError, match="step_seconds"):
        DQNPolicy.load(DQNPolicy.pretrained_path(), env=five_min)
    accepted = DQNPolicy.load(
        DQNPolicy.pretrained_path(), env=five_min, accept_env_mismatch=("step_seconds",)
    )
    assert accepted.accept_env_mismatch == ("step_seconds",)
    with pytest.raises(RuntimeError, match="not trained"):
        DQNPolicy().propose({})


# ---------------------------------------------------------------------- the policy slot


def test_pretrained_policy_conforms(pretrained):
    env = AutoscalingEnv(_trace(), capacity_rps=100.0, max_replicas=250, peak_rps=6000.0)
    check_policy(pretrained, _contexts(env, 60), threads=4)


def test_in_an_engine_low_confidence_defers_to_the_rules_and_guards_veto(pretrained):
    env = AutoscalingEnv(_trace(), capacity_rps=100.0, max_replicas=250, peak_rps=6000.0)
    ctxs = _contexts(env, 300)
    pretrained.reset()
    proposals = [pretrained.propose(c) for c in ctxs]
    engine = threshold_rules()
    engine.set_policy(pretrained, min_confidence=0.6)
    decisions = [engine.evaluate(dict(c)) for c in ctxs]
    for c, p, d in zip(ctxs, proposals, decisions, strict=True):
        vetoed = p.decision_type is DecisionType.SCALE_DOWN and c["latency_p99"] > c["slo_ms"]
        if p.confidence >= 0.6 and not vetoed:
            assert d.source == "dqn"
            assert d.decision_type is p.decision_type
            assert d.parameters == p.parameters
        else:
            assert d is None or d.source != "dqn"
    assert any(p.confidence < 0.6 for p in proposals)
    assert any(p.confidence >= 0.6 for p in proposals)
    stats = engine.get_decision_stats()["policy"]
    assert stats["errors"] == 0


def test_a_context_without_the_env_keys_is_a_recorded_policy_error(pretrained):
    engine = DecisionEngine()
    engine.set_policy(pretrained, min_confidence=0.0)
    assert engine.evaluate({"utilization": 0.9}) is None
    assert engine.get_decision_stats()["policy"]["errors"] == 1


def test_residual_actions_run_the_hpa_at_the_chosen_target(pretrained):
    from autoopt.policy import HPAPolicy

    ctx = {"timestamp": 0.0, "request_rate": 900.0, "utilization": 0.9, "latency_p99": 100.0, "replicas": 10,
           "pending_replicas": 0, "backlog": 0.0, "drop_fraction": 0.0, "slo_ms": 250.0, "capacity_rps": 100.0,
           "step_seconds": 60.0}  # fmt: skip
    params = pretrained.env_params_
    for action, target in enumerate(pretrained.targets):
        pretrained.reset()
        assert pretrained._act(ctx, action, 10, params) == HPAPolicy(target).desired(ctx)


# ---------------------------------------------------------------------- the full budget, against the benchmark


@pytest.mark.slow
def test_retraining_lands_within_the_five_seed_interval():
    """A seed the benchmark did not train (5), at the full budget, falls in the 5 seeds' 95 % prediction interval.

    The reference is ``benchmarks/autoscale/dqn_reference.json``, written from the full tier's JSON by
    ``python -m benchmarks.autoscale.reference``: per seed, the July hold-out return of the kept checkpoint,
    and the cost and violation minutes on NASA August with that seed's arrivals.
    """
    pytest.importorskip("torch")
    from pathlib import Path

    from scipy import stats

    from autoopt.policy import evaluate_policy
    from autoopt.sim import BENCHMARK_SERVICE, nasa_month_demand

    ref = json.loads(
        (Path(__file__).resolve().parents[2] / "benchmarks/autoscale/dqn_reference.json").read_text()
    )

    def env(month):
        demand, outage = nasa_month_demand(month)
        return AutoscalingEnv(demand, excluded=outage, **BENCHMARK_SERVICE)

    policy = DQNPolicy()
    policy.train(env(7), total_steps=ref["total_steps"], seed=5, progress=False)
    august = evaluate_policy(policy, env(8), seed=5)
    got = {"holdout_return": policy.training_["best_eval_return"], "cost_vs_oracle": august.cost_vs_oracle,
           "violation_minutes_pct": august.violation_minutes_pct}  # fmt: skip
    # One-sided: a retraining that lands worse than the interval is a regression; one that lands better is
    # not (torch's CPU kernels differ between machines, so seed 5 is a fresh draw on each: on one machine it
    # scored a hold-out return of -0.0705, above the five seeds' -0.0731..-0.0719).
    worse_sign = {"holdout_return": -1.0, "cost_vs_oracle": 1.0, "violation_minutes_pct": 1.0}
    for key, value in got.items():
        values = np.array([s[key] for s in ref["seeds"]])
        n = len(values)
        half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) * math.sqrt(1 + 1 / n)
        assert worse_sign[key] * (value - values.mean()) <= half, (key, value, values)


def test_in_the_hub_the_dqn_decides_from_the_samples_context_and_stays_frozen(pretrained):
    """A hub whose engine has the DQN in its slot: the env keys come with ``context=``; feedback learns nothing."""
    import threading
    from datetime import UTC, datetime, timedelta

    from autoopt import LoadMetrics, create_intelligent_automation_hub
    from autoopt._clock import ManualClock

    t0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
    hub = create_intelligent_automation_hub(clock=ManualClock(t0.timestamp()))
    hub.decision_engine.set_policy(pretrained, min_confidence=0.0)
    weights = [(w.copy(), b.copy()) for w, b in pretrained.weights_]
    env_keys = {"replicas": 10, "pending_replicas": 0, "backlog": 0.0, "drop_fraction": 0.0, "slo_ms": 250.0,
                "capacity_rps": 100.0, "step_seconds": 60.0}  # fmt: skip
    results, errors = [], []
    ticks = iter(range(10**6))
    lock = threading.Lock()

    def feed() -> None:
        try:
            for _ in range(25):
                with lock:  # one stream, 0.1 s apart: racing threads step back by less than the clamp
                    when = t0 + timedelta(seconds=0.1 * next(ticks))
                m = LoadMetrics(cpu_usage=95.0, memory_usage=40.0, request_rate=950.0, latency_p99=300.0,
                                timestamp=when)  # fmt: skip
                results.append(hub.process_metrics(m, context=env_keys))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    decisions = [r["decision"] for r in results if r["decision"] is not None]
    assert decisions
    assert all(d["source"] == "dqn" and d["decision_type"] == "scale_up" for d in decisions)
    engine = hub.decision_engine
    for d in decisions[:5]:
        engine.record_feedback(d["decision_id"], "made it worse", 0.0)
    for (w, b), (w0, b0) in zip(pretrained.weights_, weights, strict=True):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
    assert engine.get_decision_stats()["policy"]["errors"] == 0
