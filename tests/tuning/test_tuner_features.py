"""SelfTuner's richer spaces, strategy choices, optimize() options and pruning."""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt import CategoricalParam, FloatParam, IntParam, SelfTuner, TrialPruned, TuningStatus
from autoopt._clock import ManualClock
from autoopt.tuning import ExploreWhileTied, PortfolioSampler, SobolSampler, TrialResult
from autoopt.tuning.samplers._strategies import gp_available, parameter_grids

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # CMA-ES with_margin

MIXED = {
    "x": FloatParam(-2.0, 2.0),
    "lr": FloatParam(1e-4, 1.0, log=True),
    "n": IntParam(0, 20, step=4),
    "act": CategoricalParam(["relu", "tanh", None]),
}


def mixed_score(x: float, lr: float, n: int, act: str | None) -> float:
    return -(x**2) - (math.log10(lr) + 2) ** 2 - (n - 8) ** 2 / 16 - (act != "tanh")


# ------------------------------------------------------------------ spaces


@pytest.mark.parametrize("strategy", ["random_search", "genetic", "gradient_descent", "grid_search"])
def test_values_respect_log_step_and_categorical_specs(strategy: str) -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(MIXED, strategy, max_iterations=60, patience=1000)
    seen: list[dict[str, Any]] = []
    while (values := tuner.step(session.session_id)) is not None:
        seen.append(values)
        assert tuner.record_result(session.session_id, values, mixed_score(**values))
    assert len(seen) == 60
    for v in seen:
        assert type(v["x"]) is float
        assert -2.0 <= v["x"] <= 2.0
        assert type(v["lr"]) is float
        assert 1e-4 <= v["lr"] <= 1.0
        assert type(v["n"]) is int
        assert v["n"] in range(0, 21, 4)
        assert v["act"] in ("relu", "tanh", None)
    assert {v["act"] for v in seen} == {"relu", "tanh", None}
    assert session.parameters["act"].best_value in ("relu", "tanh", None)


def test_random_search_is_log_uniform_on_log_parameters() -> None:
    tuner = SelfTuner(seed=1)
    sid = tuner.create_session(
        {"lr": FloatParam(1e-6, 1.0, log=True)}, "random_search", max_iterations=512, patience=10_000
    ).session_id
    logs = []
    while (v := tuner.step(sid)) is not None:
        logs.append(math.log10(v["lr"]))
        tuner.record_result(sid, v, 0.0)
    assert len(logs) == 512
    counts, _ = np.histogram(logs, bins=6, range=(-6, 0))
    # A scrambled Sobol' design puts almost exactly 512 / 6 points in each decade.
    assert counts.min() >= 80
    assert counts.max() <= 91


def test_grid_covers_log_step_and_categorical_axes() -> None:
    from autoopt.tuning._params import parse_parameter

    records = {n: parse_parameter(n, p)[0] for n, p in MIXED.items()}
    grids = parameter_grids(records)
    assert grids["act"] == ["relu", "tanh", None]
    assert grids["n"] == [0, 4, 8, 12, 16, 20]
    np.testing.assert_allclose(np.log10(grids["lr"]), np.linspace(-4, 0, 11), atol=1e-12)
    assert grids["x"][0] == -2.0
    assert grids["x"][-1] == 2.0
    assert len(grids["x"]) == 11
    tuner = SelfTuner(seed=2)
    session = tuner.create_session(MIXED, "grid_search", mixed_score, max_iterations=10_000)
    tuner.optimize(session.session_id)
    assert session.status is TuningStatus.CONVERGED
    assert session.iterations == 3 * 6 * 11 * 11  # every grid point once
    assert session.best_parameters == {
        "x": pytest.approx(0.0, abs=1e-12),
        "lr": pytest.approx(0.01),
        "n": 8,
        "act": "tanh",
    }


def test_optuna_distributions_and_seed_tuples_mix() -> None:
    space = {
        "a": optuna.distributions.FloatDistribution(0.0, 1.0, step=0.25),
        "b": (1, 5, 3),
        "c": optuna.distributions.CategoricalDistribution([True, False]),
    }
    tuner = SelfTuner(seed=3)
    session = tuner.create_session(space, "random_search", max_iterations=20)
    first = tuner.step(session.session_id)
    assert first is not None
    assert first["b"] == 3  # the tuple's initial value is evaluated first
    assert first["a"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert first["c"] in (True, False)


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        (FloatParam, ValueError, "'low'"),
        (lambda: FloatParam(0.0, 1.0, log=True), ValueError, "> 0 when log=True"),
        (lambda: IntParam(1, 10, step=0), ValueError, "'step' must be >= 1"),
        (lambda: IntParam(1.0, 10), TypeError, "'low' must be an int"),  # type: ignore[arg-type]
        (lambda: IntParam(0, 10, step=3, initial=4), ValueError, "low \\+ k \\* step"),
        (lambda: CategoricalParam([]), ValueError, "must not be empty"),
        (lambda: CategoricalParam(["a", "a"]), ValueError, "duplicates"),
        (lambda: CategoricalParam([[1]]), TypeError, "may hold None, bool"),
        (lambda: CategoricalParam(["a"], initial="b"), ValueError, "not one of"),
        (lambda: CategoricalParam("ab"), TypeError, "must be a sequence"),
    ],
)
def test_malformed_specs_raise_naming_the_field(spec: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        spec(2.0, 1.0) if spec is FloatParam else spec()


def test_bad_values_for_rich_parameters_are_refused_and_nothing_recorded() -> None:
    tuner = SelfTuner(seed=4)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=10).session_id
    good = {"x": 0.0, "lr": 0.01, "n": 8, "act": "tanh"}
    for bad, match in [
        ({**good, "act": "gelu"}, "must be one of"),
        ({**good, "n": 6}, r"0 \+ k \* 4"),
        ({**good, "lr": 2.0}, "'lr'"),
        ({**good, "act": 1}, "must be one of"),
    ]:
        with pytest.raises(ValueError, match=match):
            tuner.record_result(sid, bad, 1.0)
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 0
    assert tuner.record_result(sid, good, 1.0)
    assert session.best_parameters == good


@given(low=st.floats(-1e6, 1e6), width=st.floats(0.0, 1e6), log=st.booleans())
@settings(max_examples=50, deadline=None)
def test_float_param_round_trips_to_optuna(low: float, width: float, log: bool) -> None:
    if log:
        low = abs(low) + 1e-3
    p = FloatParam(low, low + width, log=log)
    d = p.to_distribution()
    assert (d.low, d.high, d.log) == (low, low + width, log)


# -------------------------------------------------------------- strategies


def sampler_of(tuner: SelfTuner, session_id: str) -> optuna.samplers.BaseSampler:
    study = tuner.get_study(session_id)
    assert study is not None
    return study.sampler


def test_strategy_choices_follow_the_space_and_the_budget() -> None:
    tuner = SelfTuner(seed=5)
    numeric = {"x": FloatParam(0, 1), "n": IntParam(0, 9)}

    def kind(space: dict[str, Any], strategy: str, budget: int = 100) -> str:
        """The sampler's class; for a tie-guarded portfolio (a Sobol' explorer + one model), the model's."""
        sid = tuner.create_session(space, strategy, max_iterations=budget).session_id
        sampler = sampler_of(tuner, sid)
        if isinstance(sampler, PortfolioSampler) and strategy != "adaptive":
            explorer, model = sampler.members
            assert isinstance(explorer, SobolSampler)
            assert isinstance(sampler.rule, ExploreWhileTied)
            sampler = model
        return type(sampler).__name__

    assert kind(numeric, "genetic") == "CmaEsSampler"
    assert kind(MIXED, "genetic") == "NSGAIISampler"
    assert kind({"x": FloatParam(0, 1)}, "genetic") == "NSGAIISampler"
    assert kind(MIXED, "gradient_descent") == "SPSASampler"
    assert kind(MIXED, "random_search") == "SobolSampler"
    assert kind(MIXED, "bayesian", 1000) == "TPESampler"  # beyond the GP's budget
    assert kind(MIXED, "bayesian", 100) == ("WarpedSampler" if gp_available() else "TPESampler")
    if gp_available():  # the GP, seeing the objective through a power transform
        sid = tuner.create_session(MIXED, "bayesian", max_iterations=100).session_id
        assert type(sampler_of(tuner, sid).members[1].inner).__name__ == "GPSampler"  # type: ignore[attr-defined]
    assert kind(MIXED, "adaptive") == "PortfolioSampler"


@pytest.mark.skipif(not gp_available(), reason="needs torch for Optuna's GPSampler")
def test_adaptive_stages_sobol_then_gp() -> None:
    tuner = SelfTuner(seed=6)
    sid = tuner.create_session(MIXED, "adaptive", mixed_score, max_iterations=16).session_id
    tuner.optimize(sid)
    portfolio = sampler_of(tuner, sid)
    assert [type(m).__name__ for m in portfolio.members] == ["SobolSampler", "WarpedSampler", "TPESampler"]  # type: ignore[attr-defined]
    assert type(portfolio.members[1].inner).__name__ == "GPSampler"  # type: ignore[attr-defined]
    assert portfolio.member_trials == (3, 13, 0)  # n_startup = 16 // 5  # type: ignore[attr-defined]


# --------------------------------------------------------------- optimize


def test_timeout_uses_the_tuner_clock() -> None:
    clock = ManualClock(0.0)
    tuner = SelfTuner(seed=7, clock=clock)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=100, patience=1000).session_id

    def slow(**values: Any) -> float:
        clock.advance(10.0)
        return mixed_score(**values)

    session = tuner.optimize(sid, slow, timeout=35.0)
    assert session.iterations == 4  # started at t = 0, 10, 20, 30; none at 40
    assert session.status is TuningStatus.EXPLORING


def test_callbacks_see_every_trial_and_a_failing_callback_is_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tuner = SelfTuner(seed=8)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=12, patience=1000).session_id
    results: list[TrialResult] = []

    def objective(**values: Any) -> float:
        if len(results) == 3:
            raise ValueError("bad point")
        return mixed_score(**values)

    def broken(session: Any, result: TrialResult) -> None:
        raise RuntimeError("callback bug")

    tuner.optimize(sid, objective, callbacks=[lambda s, r: results.append(r), broken])
    assert [r.number for r in results] == list(range(12))
    assert [r.state for r in results].count("failed") == 1
    failed = next(r for r in results if r.state == "failed")
    assert failed.message == "objective raised ValueError: bad point"
    assert failed.score is None
    assert all(r.score == pytest.approx(mixed_score(**r.values)) for r in results if r.state == "complete")
    failures = tuner.get_failures(sid)
    assert failures is not None
    assert sum("callback" in f and "RuntimeError: callback bug" in f for f in failures) == 12


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_parallel_trials_keep_the_budget_exact(backend: str) -> None:
    tuner = SelfTuner(seed=9)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=24, patience=1000).session_id
    session = tuner.optimize(sid, mixed_score, n_jobs=3, backend=backend)  # type: ignore[arg-type]
    assert session.iterations == 24
    study = tuner.get_study(sid)
    assert study is not None
    assert len(study.trials) == 24
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert all(t.value == pytest.approx(mixed_score(**t.params)) for t in study.trials)


def test_threads_really_overlap() -> None:
    tuner = SelfTuner(seed=10)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=4).session_id
    barrier = threading.Barrier(4, timeout=30)

    def objective(**values: Any) -> float:
        barrier.wait()  # deadlocks (and times out) unless four trials run at once
        return mixed_score(**values)

    assert tuner.optimize(sid, objective, n_jobs=4).iterations == 4
    assert tuner.get_failures(sid) == []


@pytest.mark.parametrize("n_jobs", [1, 3])
def test_an_async_objective_is_awaited(n_jobs: int) -> None:
    """async def objectives score like their sync twins (they used to fail: a coroutine is not a score)."""

    async def objective(x: float, lr: float, n: int, act: str | None) -> float:
        await asyncio.sleep(0)
        return mixed_score(x, lr, n, act)

    tuner = SelfTuner(seed=3)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=6).session_id
    tuner.optimize(sid, objective, n_jobs=n_jobs)
    assert tuner.get_failures(sid) == []
    frame = tuner.get_session(sid).trials_dataframe()
    assert len(frame) == 6
    for _, row in frame.iterrows():
        act = row["params_act"] if isinstance(row["params_act"], str) else None
        want = mixed_score(row["params_x"], row["params_lr"], int(row["params_n"]), act)
        assert row["score"] == pytest.approx(want, rel=1e-12)


def test_n_jobs_one_is_reproducible() -> None:
    def best(seed: int) -> Any:
        tuner = SelfTuner(seed=seed)
        s = tuner.create_session(MIXED, "genetic", mixed_score, max_iterations=30, patience=1000)
        tuner.optimize(s.session_id)
        return s.trials_dataframe()["score"].tolist()

    assert best(11) == best(11)
    assert best(11) != best(12)


def test_optimize_argument_errors() -> None:
    tuner = SelfTuner()
    sid = tuner.create_session(MIXED, max_iterations=5).session_id
    with pytest.raises(ValueError, match="'n_jobs'"):
        tuner.optimize(sid, mixed_score, n_jobs=0)
    with pytest.raises(ValueError, match="'backend'"):
        tuner.optimize(sid, mixed_score, backend="gpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'timeout'"):
        tuner.optimize(sid, mixed_score, timeout=-1.0)
    with pytest.raises(TypeError, match="'callbacks'\\[0\\]"):
        tuner.optimize(sid, mixed_score, callbacks=[42])  # type: ignore[list-item]

    def with_trial(trial: Any, **values: Any) -> float:
        return 0.0

    with pytest.raises(ValueError, match="storage given as a path or URL"):
        tuner.optimize(sid, with_trial, n_jobs=2, backend="processes")
    session = tuner.get_session(sid)
    assert session is not None
    assert session.iterations == 0


def test_progress_bar_counts_trials(capsys: pytest.CaptureFixture[str]) -> None:
    tuner = SelfTuner(seed=13)
    sid = tuner.create_session(MIXED, "random_search", max_iterations=7).session_id
    tuner.optimize(sid, mixed_score, n_trials=7, show_progress_bar=True)
    assert "7/7" in capsys.readouterr().err
    # without n_trials the total is the budget left
    sid = tuner.create_session(MIXED, "random_search", max_iterations=9).session_id
    tuner.optimize(sid, mixed_score, n_trials=4)
    tuner.optimize(sid, mixed_score, show_progress_bar=True)
    assert "5/5" in capsys.readouterr().err


# ----------------------------------------------------------------- pruning


def staged(trial: Any, x: float, lr: float, n: int, act: str | None) -> float:
    """A learning curve: approaches the final score from below in 10 steps."""
    final = mixed_score(x, lr, n, act)
    for step in range(10):
        trial.report(final - 5.0 / (step + 1), step)
        if trial.should_prune():
            raise TrialPruned(f"at step {step}")
    return final


@pytest.mark.parametrize("pruner", ["median", "hyperband", optuna.pruners.PercentilePruner(25.0)])
def test_pruners_stop_unpromising_trials(pruner: Any) -> None:
    tuner = SelfTuner(seed=14)
    session = tuner.create_session(MIXED, "random_search", max_iterations=40, patience=1000, pruner=pruner)
    tuner.optimize(session.session_id, staged)
    frame = session.trials_dataframe()
    counts = frame["state"].value_counts().to_dict()
    assert counts.get("pruned", 0) >= 5
    assert counts["complete"] + counts["pruned"] == 40 == session.iterations
    pruned = frame[frame["state"] == "pruned"]
    assert pruned["score"].isna().all()
    assert pruned["last_intermediate"].notna().all()
    # Every complete trial's score is its true final score; pruned ones never become the best.
    complete = frame[frame["state"] == "complete"]
    assert session.best_score == complete["score"].max()


def test_pruning_matches_optunas_own_median_pruner() -> None:
    """The same trials and reports, judged by Optuna's MedianPruner directly, prune the same steps."""
    tuner = SelfTuner(seed=15)
    session = tuner.create_session(MIXED, "random_search", max_iterations=30, patience=1000, pruner="median")
    tuner.optimize(session.session_id, staged)
    ours = tuner.get_study(session.session_id)
    assert ours is not None
    reference = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner())
    for t in ours.trials:
        trial = reference.ask(dict(t.distributions))
        for step, value in sorted(t.intermediate_values.items()):
            trial.report(value, step)
            if trial.should_prune():
                assert t.state is optuna.trial.TrialState.PRUNED
                assert step == max(t.intermediate_values)
                reference.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            assert t.state is optuna.trial.TrialState.COMPLETE
            reference.tell(trial, t.value)


def test_pruning_on_processes_with_a_journal_storage(tmp_path: Path) -> None:
    tuner = SelfTuner(seed=16)
    session = tuner.create_session(
        MIXED,
        "random_search",
        max_iterations=16,
        patience=1000,
        pruner="median",
        storage=str(tmp_path / "j.log"),
    )
    tuner.optimize(session.session_id, staged, n_jobs=2, backend="processes")
    states = session.trials_dataframe()["state"].value_counts().to_dict()
    assert sum(states.values()) == 16
    assert states.get("pruned", 0) >= 1


def test_without_a_pruner_nothing_is_pruned_and_pruned_trials_keep_their_message() -> None:
    tuner = SelfTuner(seed=17)
    plain = tuner.create_session(MIXED, "random_search", max_iterations=20, patience=1000)
    tuner.optimize(plain.session_id, staged)
    assert set(plain.trials_dataframe()["state"]) == {"complete"}  # Optuna's default would be a MedianPruner

    pruned = tuner.create_session(MIXED, "random_search", max_iterations=20, patience=1000, pruner="median")
    tuner.optimize(pruned.session_id, staged)
    frame = pruned.trials_dataframe()
    messages = frame.loc[frame["state"] == "pruned", "message"]
    assert len(messages) > 0
    assert messages.str.match(r"pruned: at step \d").all()


def test_genetic_with_categoricals_emits_no_experimental_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SelfTuner(seed=18).create_session(MIXED, "genetic", max_iterations=30)
