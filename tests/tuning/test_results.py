"""Tuning results: trials_frame against Optuna's own table, importances against Optuna, plots."""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys
import time
from collections.abc import Iterator
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")

import itertools

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance import FanovaImportanceEvaluator
from optuna.trial import FrozenTrial, TrialState, create_trial

from autoopt.tuning import (
    param_importances,
    plot_optimization_history,
    plot_parallel_coordinates,
    trials_frame,
)

NAMES = ["x", "lr", "n", "kind"]
Direction = Literal["minimize", "maximize"]
DISTS: dict[str, BaseDistribution] = {
    "x": FloatDistribution(-3.0, 3.0),
    "lr": FloatDistribution(1e-6, 1.0, log=True),
    "n": IntDistribution(1, 50),
    "kind": CategoricalDistribution(["gbdt", "rf", "lin"]),
}
VOID = {"autoopt:void": "surplus"}
OPTUNA_STATE = {
    "COMPLETE": "complete",
    "FAIL": "failed",
    "PRUNED": "pruned",
    "RUNNING": "running",
    "WAITING": "waiting",
}
COLUMNS_BEFORE = ["number", "state", "score", "datetime_start", "datetime_complete", "duration_s"]
COLUMNS_AFTER = ["message", "last_intermediate", "best_score"]


@pytest.fixture(autouse=True)
def _quiet_optuna_and_close_figures() -> Iterator[None]:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)
    plt.close("all")


def random_params(rng: np.random.Generator, i: int) -> dict[str, Any]:
    return {
        "x": float(rng.uniform(-3.0, 3.0)),
        "lr": float(10.0 ** rng.uniform(-6.0, 0.0)),
        "n": int(rng.integers(1, 51)),
        "kind": ["gbdt", "rf", "lin"][i % 3],
    }


def objective(p: dict[str, Any]) -> float:
    return -(p["x"] ** 2) - 0.3 * (math.log10(p["lr"]) + 3.0) ** 2 + (1.0 if p["kind"] == "rf" else 0.0)


def mixed_study(direction: Direction = "maximize", n_complete: int = 24, seed: int = 0) -> optuna.Study:
    """Complete, failed, pruned (with and without reports, told and created), void and live trials."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction=direction)
    sign = 1.0 if direction == "maximize" else -1.0
    for i in range(n_complete):
        p = random_params(rng, i)
        study.add_trial(create_trial(value=sign * objective(p), params=p, distributions=DISTS))
        if i == 3:
            study.add_trial(
                create_trial(
                    state=TrialState.FAIL,
                    params={"x": p["x"]},
                    distributions={"x": DISTS["x"]},
                    user_attrs={"failure": "boom"},
                )
            )
        if i == 5:
            study.add_trial(
                create_trial(
                    state=TrialState.PRUNED,
                    params=p,
                    distributions=DISTS,
                    intermediate_values={0: -7.0, 3: -4.5, 1: -6.0},
                )
            )
        if i == 7:
            # A bookkeeping trial with an outstanding score: it must not count anywhere.
            study.add_trial(create_trial(value=sign * 1e6, params=p, distributions=DISTS, user_attrs=VOID))
        if i == 9:
            study.add_trial(create_trial(state=TrialState.PRUNED, params=p, distributions=DISTS))
        if i == 11:
            # Pruned through ask/tell: Optuna stores the last report as the trial's value.
            trial = study.ask(DISTS)
            trial.report(-2.5, 0)
            study.tell(trial, state=TrialState.PRUNED)
            assert study.trials[-1].value == -2.5
        if i == 13:
            study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={**VOID, "failure": "surplus"}))
    study.ask(DISTS)  # running
    study.enqueue_trial({"x": 0.5})  # waiting
    return study


def kept(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.trials if "autoopt:void" not in t.user_attrs]


def reference(study: optuna.Study) -> pd.DataFrame:
    ref = study.trials_dataframe(
        attrs=(
            "number",
            "value",
            "datetime_start",
            "datetime_complete",
            "duration",
            "params",
            "user_attrs",
            "state",
        )
    )
    void = {t.number for t in study.trials if "autoopt:void" in t.user_attrs}
    return ref[~ref["number"].isin(void)].reset_index(drop=True)


def local_naive_to_utc(series: pd.Series) -> pd.Series:
    """Optuna's naive local datetimes as aware UTC ones, through pandas."""
    tz = dt.datetime.now().astimezone().tzinfo
    return series.dt.tz_localize(tz).dt.tz_convert("UTC")


# ------------------------------------------------------------------ trials_frame


def test_columns_dtypes_and_index() -> None:
    frame = trials_frame(mixed_study(), NAMES)
    assert list(frame.columns) == [*COLUMNS_BEFORE, *(f"params_{n}" for n in NAMES), *COLUMNS_AFTER]
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame.index.start == 0
    assert frame.index.step == 1
    assert frame["number"].dtype == np.int64
    for col in (
        "score",
        "duration_s",
        "params_x",
        "params_lr",
        "params_n",
        "last_intermediate",
        "best_score",
    ):
        assert frame[col].dtype == np.float64, col  # params_n: the failed trial lacks it
    assert frame["params_kind"].dtype == object
    for col in ("datetime_start", "datetime_complete"):
        assert isinstance(frame[col].dtype, pd.DatetimeTZDtype), col
        assert str(frame[col].dt.tz) == "UTC"
    assert pd.api.types.is_string_dtype(frame["state"])
    assert pd.api.types.is_string_dtype(frame["message"])
    assert frame.attrs["direction"] == "maximize"


def test_rows_are_the_kept_trials_in_number_order() -> None:
    study = mixed_study()
    frame = trials_frame(study, NAMES)
    assert len(study.trials) - len(kept(study)) == 2
    assert frame["number"].tolist() == sorted(t.number for t in kept(study))
    assert set(frame["state"]) == {"complete", "failed", "pruned", "running", "waiting"}


def test_values_match_optunas_own_table() -> None:
    study = mixed_study()
    frame = trials_frame(study, NAMES)
    ref = reference(study)
    assert frame["number"].tolist() == ref["number"].tolist()
    assert frame["state"].tolist() == [OPTUNA_STATE[s] for s in ref["state"]]
    complete = (ref["state"] == "COMPLETE").to_numpy()
    expected_score = np.where(complete, ref["value"].to_numpy(dtype=float), np.nan)
    np.testing.assert_array_equal(frame["score"].to_numpy(), expected_score)
    pruned_told = ref["state"].eq("PRUNED") & ref["value"].notna()
    assert pruned_told.sum() == 1
    assert frame.loc[pruned_told.to_numpy(), "score"].isna().all()
    for col in ("datetime_start", "datetime_complete"):
        expected = local_naive_to_utc(ref[col])
        assert frame[col].isna().tolist() == expected.isna().tolist(), col
        ok = expected.notna()
        assert (frame.loc[ok, col] == expected[ok]).all(), col
    np.testing.assert_allclose(frame["duration_s"], ref["duration"].dt.total_seconds(), rtol=0, atol=1e-6)
    for name in ("x", "lr", "n"):
        np.testing.assert_array_equal(
            frame[f"params_{name}"].to_numpy(), ref[f"params_{name}"].to_numpy(float)
        )
    kinds = ref["params_kind"].astype(object).where(ref["params_kind"].notna(), None).tolist()
    assert [None if isinstance(v, float) and math.isnan(v) else v for v in frame["params_kind"]] == kinds
    assert frame["message"].tolist() == ref["user_attrs_failure"].fillna("").tolist()


def test_last_intermediate_is_the_report_at_the_last_step() -> None:
    study = mixed_study()
    frame = trials_frame(study, NAMES)
    expected = [
        t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else np.nan
        for t in kept(study)
    ]
    np.testing.assert_array_equal(frame["last_intermediate"].to_numpy(), expected)
    # Reports at steps 0, 3, 1: step 3's value, whatever the order they came in.
    assert (frame["last_intermediate"] == -4.5).sum() == 1
    assert (frame["last_intermediate"] == -2.5).sum() == 1


@pytest.mark.parametrize(("direction", "accumulate"), [("maximize", np.maximum), ("minimize", np.minimum)])
def test_best_score_is_the_running_best_of_complete_trials(
    direction: Direction, accumulate: np.ufunc
) -> None:
    frame = trials_frame(mixed_study(direction), NAMES)
    assert frame.attrs["direction"] == direction
    worst = -np.inf if direction == "maximize" else np.inf
    complete = (frame["state"] == "complete").to_numpy()
    running = accumulate.accumulate(np.where(complete, frame["score"].to_numpy(), worst))
    expected = np.where(running == worst, np.nan, running)
    np.testing.assert_array_equal(frame["best_score"].to_numpy(), expected)
    # The void trial's 1e6 never shows.
    assert np.nanmax(np.abs(frame["best_score"])) < 1e3


def test_best_score_is_nan_before_the_first_complete_trial() -> None:
    study = optuna.create_study(direction="maximize")
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"failure": "first"}))
    study.add_trial(create_trial(state=TrialState.PRUNED, intermediate_values={2: 9.0}))
    study.add_trial(create_trial(value=1.0))
    study.add_trial(create_trial(value=0.5))
    frame = trials_frame(study, [])
    np.testing.assert_array_equal(frame["best_score"].to_numpy(), [np.nan, np.nan, 1.0, 1.0])
    assert frame["message"].tolist() == ["first", "", "", ""]


def test_parameter_dtypes_follow_distributions() -> None:
    study = optuna.create_study()
    for i in range(3):
        study.add_trial(
            create_trial(
                value=float(i),
                params={"n": i + 1, "x": 0.5 * i, "c": [1, 2, 3][i], "b": [True, False, None][i]},
                distributions={
                    "n": IntDistribution(1, 3),
                    "x": FloatDistribution(0.0, 1.0),
                    "c": CategoricalDistribution([1, 2, 3]),
                    "b": CategoricalDistribution([True, False, None]),
                },
            )
        )
    frame = trials_frame(study, ["c", "b", "x", "n", "absent"])
    assert frame["params_n"].dtype == np.int64
    assert frame["params_n"].tolist() == [1, 2, 3]
    assert frame["params_x"].dtype == np.float64
    assert frame["params_c"].dtype == object
    assert frame["params_c"].tolist() == [1, 2, 3]
    # None is a choice here, not a missing value.
    assert frame["params_b"].dtype == object
    assert frame["params_b"].tolist() == [True, False, None]
    assert frame["params_absent"].dtype == np.float64
    assert frame["params_absent"].isna().all()
    assert [c for c in frame.columns if c.startswith("params_")] == [
        "params_c",
        "params_b",
        "params_x",
        "params_n",
        "params_absent",
    ]


def test_naive_local_datetimes_are_converted_to_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # Optuna stamps trials with naive local time; in Asia/Kolkata (UTC+05:30, no DST) 12:00 is 06:30 UTC.
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        study = optuna.create_study()
        study.add_trial(
            FrozenTrial(
                number=0,
                state=TrialState.COMPLETE,
                value=1.0,
                datetime_start=dt.datetime(2024, 1, 1, 12, 0, 0),
                datetime_complete=dt.datetime(2024, 1, 1, 12, 0, 30, 250000),
                params={},
                distributions={},
                user_attrs={},
                system_attrs={},
                intermediate_values={},
                trial_id=0,
            )
        )
        frame = trials_frame(study, [])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert frame.loc[0, "datetime_start"] == pd.Timestamp("2024-01-01 06:30:00", tz="UTC")
    assert frame.loc[0, "datetime_complete"] == pd.Timestamp("2024-01-01 06:30:30.25", tz="UTC")
    assert frame.loc[0, "duration_s"] == 30.25


def test_live_trials_have_no_completion() -> None:
    frame = trials_frame(mixed_study(), NAMES)
    running = frame[frame["state"] == "running"]
    waiting = frame[frame["state"] == "waiting"]
    assert len(running) == 1
    assert len(waiting) == 1
    assert running["datetime_start"].notna().all()
    assert running["datetime_complete"].isna().all()
    assert waiting["datetime_start"].isna().all()
    assert frame.loc[frame["state"].isin(["running", "waiting"]), "duration_s"].isna().all()
    assert frame.loc[frame["state"].isin(["running", "waiting"]), "score"].isna().all()


def test_empty_study_gives_the_columns_and_no_rows() -> None:
    frame = trials_frame(optuna.create_study(), ["x"])
    assert list(frame.columns) == [*COLUMNS_BEFORE, "params_x", *COLUMNS_AFTER]
    assert len(frame) == 0
    assert isinstance(frame.index, pd.RangeIndex)
    assert isinstance(frame["datetime_start"].dtype, pd.DatetimeTZDtype)


def test_ten_thousand_trials() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=10_000)
    dist: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0)}
    study = optuna.create_study(direction="maximize")
    study.add_trials(
        [
            create_trial(value=float(v), params={"x": float(i % 97) / 97}, distributions=dist)
            for i, v in enumerate(values)
        ]
    )
    frame = trials_frame(study, ["x"])
    assert len(frame) == 10_000
    np.testing.assert_array_equal(frame["score"].to_numpy(), values)
    np.testing.assert_array_equal(frame["best_score"].to_numpy(), np.maximum.accumulate(values))


def test_bad_study_and_multi_objective_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"trials_frame\(\) argument 'study' must be an optuna.Study"):
        trials_frame("study", [])  # type: ignore[arg-type]
    multi = optuna.create_study(directions=["maximize", "minimize"])
    with pytest.raises(ValueError, match="single-objective study"):
        trials_frame(multi, [])
    with pytest.raises(ValueError, match="single-objective study"):
        param_importances(multi)


@given(
    names=st.one_of(
        st.text(max_size=4),
        st.integers(),
        st.none(),
        st.lists(st.one_of(st.integers(), st.none(), st.floats()), min_size=1, max_size=3),
        st.sets(st.text(min_size=1, max_size=3), min_size=1, max_size=3),
    )
)
@settings(max_examples=40, deadline=None)
def test_names_of_the_wrong_type_raise_type_error(names: Any) -> None:
    with pytest.raises(TypeError, match=r"trials_frame\(\) argument 'names"):
        trials_frame(optuna.create_study(), names)


@given(
    names=st.one_of(
        st.lists(st.sampled_from(["a", "b"]), min_size=3, max_size=5),  # a repeat for sure
        st.lists(st.sampled_from(["", " ", "\t"]), min_size=1, max_size=2),
    )
)
@settings(max_examples=40, deadline=None)
def test_repeated_or_blank_names_raise_value_error(names: list[str]) -> None:
    with pytest.raises(ValueError, match=r"trials_frame\(\) argument 'names"):
        trials_frame(optuna.create_study(), names)


# --------------------------------------------------------------- importances


def importance_study(*, with_void: bool) -> optuna.Study:
    rng = np.random.default_rng(1)
    study = optuna.create_study(direction="maximize")
    dist: dict[str, BaseDistribution] = {
        "x": FloatDistribution(0.0, 1.0),
        "y": FloatDistribution(0.0, 1.0),
        "k": DISTS["kind"],
    }
    for i in range(40):
        x, y, k = float(rng.random()), float(rng.random()), ["gbdt", "rf", "lin"][i % 3]
        p: dict[str, Any] = {"x": x, "y": y, "k": k}
        study.add_trial(create_trial(value=10 * x + y + (k == "rf"), params=p, distributions=dist))
        if i == 4:
            study.add_trial(create_trial(state=TrialState.FAIL, params=p, distributions=dist))
            study.add_trial(create_trial(state=TrialState.PRUNED, params=p, distributions=dist))
        if with_void and i % 10 == 0:
            # Void trials whose scores follow y alone: counted, they would make y matter.
            study.add_trial(create_trial(value=1e3 * y, params=p, distributions=dist, user_attrs=VOID))
    return study


def fanova(study: optuna.Study, seed: int | None = 0) -> dict[str, float]:
    return optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))


def test_importances_match_optuna() -> None:
    study = importance_study(with_void=False)
    ours = param_importances(study)
    theirs = fanova(study)
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        assert type(value) is float
        assert value == pytest.approx(float(theirs[name]), abs=1e-12)
    assert sum(ours.values()) == pytest.approx(1.0)
    assert list(ours.values()) == sorted(ours.values(), reverse=True)
    assert next(iter(ours)) == "x"


def test_importances_leave_out_void_trials(caplog: pytest.LogCaptureFixture) -> None:
    with_void = importance_study(with_void=True)
    without = importance_study(with_void=False)
    filters = list(logging.getLogger("optuna.storages._in_memory").filters)
    with caplog.at_level(logging.INFO):
        ours = param_importances(with_void, seed=7)
    assert not [r for r in caplog.records if "A new study created" in r.getMessage()]
    assert logging.getLogger("optuna.storages._in_memory").filters == filters
    theirs = fanova(without, seed=7)
    assert ours == pytest.approx({k: float(v) for k, v in theirs.items()}, abs=1e-12)
    counted = fanova(with_void, seed=7)  # Optuna itself counts the void trials
    assert counted["y"] > 2 * ours["y"]


def test_importances_are_reproducible_by_seed() -> None:
    study = importance_study(with_void=False)
    assert param_importances(study, seed=3) == param_importances(study, seed=3)
    assert param_importances(study, seed=None).keys() == param_importances(study).keys()


def test_importances_need_two_complete_trials() -> None:
    study = optuna.create_study(direction="maximize")
    dist: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0)}
    with pytest.raises(ValueError, match=r"at least 2 complete trials; .* has 0"):
        param_importances(study)
    study.add_trial(create_trial(value=1.0, params={"x": 0.1}, distributions=dist))
    study.add_trial(create_trial(value=2.0, params={"x": 0.2}, distributions=dist, user_attrs=VOID))
    study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.3}, distributions=dist))
    with pytest.raises(ValueError, match=r"at least 2 complete trials; .* has 1"):
        param_importances(study)
    study.add_trial(create_trial(value=3.0, params={"x": 0.4}, distributions=dist))
    assert param_importances(study) == {"x": 1.0}


def test_importances_need_varying_scores_and_shared_parameters() -> None:
    dist: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0)}
    flat = optuna.create_study()
    flat.add_trials([create_trial(value=1.0, params={"x": i / 4}, distributions=dist) for i in range(4)])
    with pytest.raises(ValueError, match="scores that vary"):
        param_importances(flat)
    unexplained = optuna.create_study()
    unexplained.add_trials(
        [create_trial(value=float(i), params={"x": 0.5}, distributions=dist) for i in range(4)]
    )
    with pytest.raises(ValueError, match="no parameter explains"):
        param_importances(unexplained)
    bare = optuna.create_study()
    bare.add_trials([create_trial(value=float(i)) for i in range(4)])
    with pytest.raises(ValueError, match="found no parameter"):
        param_importances(bare)


@pytest.mark.parametrize(
    ("seed", "error"),
    [("0", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError), (2**32, ValueError)],
)
def test_importances_reject_bad_seeds(seed: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"param_importances\(\) argument 'seed'"):
        param_importances(importance_study(with_void=False), seed=seed)
    with pytest.raises(TypeError, match=r"param_importances\(\) argument 'study'"):
        param_importances(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------- plots


def labelled(ax: Any, label: str) -> list[Any]:
    return [a for a in [*ax.collections, *ax.lines] if a.get_label() == label]


def test_history_plot_draws_every_group() -> None:
    frame = trials_frame(mixed_study(), NAMES)
    ax = plot_optimization_history(frame, ax=Figure().add_subplot())
    assert ax.get_xlabel() == "trial number"
    assert ax.get_ylabel() == "score"
    assert len(ax.collections) == 4
    assert all(isinstance(c, PathCollection) for c in ax.collections)
    assert len(ax.lines) == 1

    complete = frame[frame["state"] == "complete"]
    (dots,) = labelled(ax, "complete")
    np.testing.assert_array_equal(dots.get_offsets(), complete[["number", "score"]].to_numpy())
    reported = frame[(frame["state"] == "pruned") & frame["last_intermediate"].notna()]
    (pruned,) = labelled(ax, "pruned")
    np.testing.assert_array_equal(pruned.get_offsets(), reported[["number", "last_intermediate"]].to_numpy())
    (failed,) = labelled(ax, "failed")
    assert len(failed.get_offsets()) == (frame["state"] == "failed").sum() == 1
    (silent,) = labelled(ax, "pruned (no report)")
    assert len(silent.get_offsets()) == 1

    (best,) = labelled(ax, "best so far")
    assert best.get_drawstyle() == "steps-post"
    np.testing.assert_array_equal(best.get_xdata(), frame["number"].to_numpy(float))
    np.testing.assert_array_equal(best.get_ydata(), frame["best_score"].to_numpy())
    legend = ax.get_legend()
    assert legend is not None
    assert {t.get_text() for t in legend.get_texts()} == {
        "complete",
        "pruned",
        "failed",
        "pruned (no report)",
        "best so far",
    }


def test_history_plot_skips_empty_groups_and_makes_its_own_figure() -> None:
    study = optuna.create_study(direction="maximize")
    study.add_trials([create_trial(value=v) for v in (1.0, 3.0, 2.0)])
    ax = plot_optimization_history(trials_frame(study, []))
    assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    assert [c.get_label() for c in ax.collections] == ["complete"]
    assert np.asarray(ax.lines[0].get_ydata()).tolist() == [1.0, 3.0, 3.0]
    empty = plot_optimization_history(trials_frame(optuna.create_study(), ["x"]), ax=Figure().add_subplot())
    assert not empty.collections
    assert not empty.lines
    assert empty.get_legend() is None


def trials_collection(ax: Any) -> LineCollection:
    (lines,) = labelled(ax, "trials")
    assert isinstance(lines, LineCollection)
    return lines


def test_parallel_coordinates_lines_axes_and_colours() -> None:
    frame = trials_frame(mixed_study(n_complete=30), NAMES)
    ax = plot_parallel_coordinates(frame, ax=Figure().add_subplot())
    complete = frame[frame["state"] == "complete"]
    lines = trials_collection(ax)
    assert ax.collections[-1] is lines
    segments = lines.get_segments()
    assert len(segments) == len(complete) == 30
    assert all(s.shape == (4, 2) for s in segments)
    assert all(np.array_equal(s[:, 0], [0, 1, 2, 3]) for s in segments)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "lr (log)", "n", "kind"]

    # Colours are the scores, worst first so the best is drawn last.
    colours = np.asarray(lines.get_array())
    np.testing.assert_array_equal(colours, np.sort(complete["score"].to_numpy()))
    order = complete["score"].to_numpy().argsort(kind="stable")
    drawn = complete.iloc[order]

    ys = np.array([s[:, 1] for s in segments])
    x = drawn["params_x"].to_numpy()
    np.testing.assert_allclose(ys[:, 0], (x - x.min()) / (x.max() - x.min()))
    loglr = np.log10(drawn["params_lr"].to_numpy())
    np.testing.assert_allclose(ys[:, 1], (loglr - loglr.min()) / (loglr.max() - loglr.min()))
    n = drawn["params_n"].to_numpy()
    np.testing.assert_allclose(ys[:, 2], (n - n.min()) / (n.max() - n.min()))
    codes = {"gbdt": 0.0, "lin": 0.5, "rf": 1.0}  # sorted categories, evenly spaced
    np.testing.assert_array_equal(ys[:, 3], [codes[k] for k in drawn["params_kind"]])
    assert {t.get_text() for t in ax.texts} >= {"gbdt", "lin", "rf", f"{n.min():.3g}", f"{n.max():.3g}"}

    figure_axes = ax.figure.axes
    assert len(figure_axes) == 2
    assert figure_axes[1].get_ylabel() == "score"


def test_parallel_coordinates_axis_labels_never_overlap() -> None:
    """Long parameter names (the README's figure) are slanted: no two drawn labels intersect."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    long_names = {name: f"{name}_{'long_parameter_name'[: 4 * i + 6]}" for i, name in enumerate(NAMES)}
    frame = trials_frame(mixed_study(n_complete=20), NAMES).rename(
        columns={f"params_{n}": f"params_{v}" for n, v in long_names.items()}
    )
    fig = Figure(figsize=(6.5, 4.4))
    FigureCanvasAgg(fig)
    ax = plot_parallel_coordinates(frame, ax=fig.add_subplot())
    fig.canvas.draw()
    labels = ax.get_xticklabels()
    assert len(labels) == len(NAMES)
    # Upright, these names are wider than the gap between axes: they would run into each other.
    tick_px = np.diff([ax.transData.transform((x, 0.0))[0] for x in ax.get_xticks()])
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    widths = []
    for t in labels:
        angle = t.get_rotation()
        t.set_rotation(0)
        widths.append(t.get_window_extent(renderer).width)
        t.set_rotation(angle)
    assert max(widths) > tick_px.min()
    # Slanted, parallel labels are apart when the distance between their baselines exceeds the text height.
    angle = {t.get_rotation() for t in labels}
    assert len(angle) == 1
    (theta,) = angle
    height_px = labels[0].get_fontsize() * fig.dpi / 72.0
    assert tick_px.min() * np.sin(np.radians(theta)) > 1.2 * height_px
    # Short names stay upright, and then their boxes do not overlap.
    short = Figure(figsize=(6.5, 4.4))
    FigureCanvasAgg(short)
    upright = plot_parallel_coordinates(
        trials_frame(mixed_study(n_complete=5), NAMES), ax=short.add_subplot()
    )
    assert {t.get_rotation() for t in upright.get_xticklabels()} == {0.0}
    short.canvas.draw()
    boxes = [t.get_window_extent(short.canvas.get_renderer()) for t in upright.get_xticklabels()]  # type: ignore[attr-defined]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))


def test_parallel_coordinates_top_and_params() -> None:
    frame = trials_frame(mixed_study(n_complete=30), NAMES)
    ax = plot_parallel_coordinates(frame, ax=Figure().add_subplot(), params=["n", "x"], top=5)
    lines = trials_collection(ax)
    best5 = np.sort(frame.loc[frame["state"] == "complete", "score"].to_numpy())[-5:]
    np.testing.assert_array_equal(np.asarray(lines.get_array()), best5)
    assert len(lines.get_segments()) == 5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["n", "x"]


def test_parallel_coordinates_minimising() -> None:
    frame = trials_frame(mixed_study("minimize", n_complete=12), ["x", "n"])
    complete = frame.loc[frame["state"] == "complete", "score"].to_numpy()
    bare = frame.copy()
    bare.attrs.clear()  # no recorded direction: inferred from best_score
    for f in (frame, bare):
        lines = trials_collection(plot_parallel_coordinates(f, ax=Figure().add_subplot(), top=3))
        np.testing.assert_array_equal(np.asarray(lines.get_array()), np.sort(complete)[::-1][-3:])
        assert lines.get_cmap().name == "viridis_r"


def test_parallel_coordinates_gaps_constants_and_one_axis() -> None:
    study = optuna.create_study(direction="maximize")
    dx: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0), "c": FloatDistribution(0.0, 1.0)}
    study.add_trial(create_trial(value=1.0, params={"x": 0.2, "c": 0.5}, distributions=dx))
    study.add_trial(create_trial(value=2.0, params={"c": 0.5}, distributions={"c": dx["c"]}))  # no x
    study.add_trial(create_trial(value=3.0, params={"x": 0.8, "c": 0.5}, distributions=dx))
    frame = trials_frame(study, ["x", "c"])
    # The constant axis sits in the middle; the trial without x loses that vertex (a gap in its line).
    segments = trials_collection(plot_parallel_coordinates(frame, ax=Figure().add_subplot())).get_segments()
    assert [s.tolist() for s in segments] == [
        [[0.0, 0.0], [1.0, 0.5]],
        [[1.0, 0.5]],
        [[0.0, 1.0], [1.0, 0.5]],
    ]

    ax = plot_parallel_coordinates(frame, ax=Figure().add_subplot(), params=["x"])
    (points,) = labelled(ax, "trials")
    assert isinstance(points, PathCollection)
    np.testing.assert_array_equal(np.asarray(points.get_offsets())[:, 1], [0.0, np.nan, 1.0])


def test_parallel_coordinates_scale_choice() -> None:
    study = optuna.create_study(direction="maximize")
    dist: dict[str, BaseDistribution] = {
        "a": FloatDistribution(1.0, 1000.0),
        "b": FloatDistribution(1.0, 1000.0),
        "c": FloatDistribution(-1.0, 1000.0),
    }
    rows = [
        {"a": 1.0, "b": 1.0, "c": -1.0},
        {"a": 50.0, "b": 100.0, "c": 10.0},
        {"a": 101.0, "b": 100.0, "c": 1000.0},
    ]
    study.add_trials([create_trial(value=float(i), params=p, distributions=dist) for i, p in enumerate(rows)])
    ax = plot_parallel_coordinates(trials_frame(study, ["a", "b", "c"]), ax=Figure().add_subplot())
    # a spans 101 (> two decades): log; b spans exactly 100: linear; c is not all positive: linear.
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a (log)", "b", "c"]
    ys = np.array([s[:, 1] for s in trials_collection(ax).get_segments()])
    np.testing.assert_allclose(ys[:, 0], np.log10([1.0, 50.0, 101.0]) / np.log10(101.0))
    np.testing.assert_allclose(ys[:, 1], [0.0, 1.0, 1.0])


def test_plot_input_errors() -> None:
    frame = trials_frame(mixed_study(n_complete=4), NAMES)
    with pytest.raises(TypeError, match=r"must be a pandas\.DataFrame"):
        plot_optimization_history(frame.to_dict())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lacks the columns \['best_score'\]"):
        plot_optimization_history(frame.drop(columns="best_score"))
    with pytest.raises(TypeError, match="argument 'ax' must be a matplotlib Axes"):
        plot_optimization_history(frame, ax=Figure())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown parameters \\['nope'\\]"):
        plot_parallel_coordinates(frame, params=["x", "nope"])
    with pytest.raises(ValueError, match="argument 'top'"):
        plot_parallel_coordinates(frame, top=0)
    with pytest.raises(TypeError, match="argument 'top'"):
        plot_parallel_coordinates(frame, top=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one parameter"):
        plot_parallel_coordinates(frame, params=[])
    with pytest.raises(ValueError, match="at least one complete trial"):
        plot_parallel_coordinates(frame[frame["state"] != "complete"])
    assert not plt.get_fignums()  # nothing drawn on bad input


def test_plots_without_matplotlib_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = trials_frame(mixed_study(n_complete=4), NAMES)
    monkeypatch.setitem(sys.modules, "matplotlib.axes", None)
    for plot in (plot_optimization_history, plot_parallel_coordinates):
        with pytest.raises(ImportError, match=r'pip install "autoopt\[plot\]"'):
            plot(frame)


def test_parameters_searched_on_a_log_scale_get_a_log_axis_even_over_a_narrow_range() -> None:
    import matplotlib

    matplotlib.use("Agg")
    dist = {"lr": FloatDistribution(0.01, 1.0, log=True), "x": FloatDistribution(0.01, 1.0)}
    study = optuna.create_study(direction="maximize")
    for i, (lr, x) in enumerate([(0.01, 0.01), (0.1, 0.5), (0.5, 1.0)]):
        study.add_trial(create_trial(value=float(i), params={"lr": lr, "x": x}, distributions=dist))
    frame = trials_frame(study, ["lr", "x"])
    assert frame.attrs["log_params"] == ["lr"]
    ax = plot_parallel_coordinates(frame)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lr (log)", "x"]
    segments = ax.collections[-1].get_segments()
    ys = np.array([seg[:, 1] for seg in segments])
    order = np.argsort(ys[:, 1])  # x is linear: 0, 0.5, 1
    # Scaled over the values drawn (0.01 to 0.5) on log10: 0.1 sits at log10(10) / log10(50).
    np.testing.assert_allclose(ys[order, 0], [0.0, 1.0 / np.log10(50.0), 1.0])
