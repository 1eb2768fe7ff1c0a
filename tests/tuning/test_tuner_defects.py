"""Regression tests for the tuner's defects found by adversarial probing (issue 13, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoopt.tuning import FloatParam, SelfTuner

SPACE = {"x": (0.0, 1.0, 0.5)}


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_load_session_on_a_missing_path_raises_and_creates_nothing(tmp_path: Path, kind: str) -> None:
    target = tmp_path / ("nope.log" if kind == "journal" else "nope.db")
    storage = str(target) if kind == "journal" else f"sqlite:///{target}"
    with pytest.raises(ValueError, match="does not exist; nothing was created"):
        SelfTuner().load_session("exp", storage)
    assert list(tmp_path.iterdir()) == []


def test_load_session_still_reads_an_existing_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", lambda x: -x, max_iterations=3, storage=url,
                                   session_name="exp")  # fmt: skip
    tuner.optimize(session.session_id)
    resumed = SelfTuner().load_session("exp", url)
    assert resumed.iterations == 3


def test_a_stepped_float_refuses_an_initial_point_off_its_grid() -> None:
    with pytest.raises(
        ValueError, match=r"'initial' \(0\.5\) must be one of low \+ k \* step.*0\.3 and 0\.6"
    ):
        FloatParam(0, 1, step=0.3, initial=0.5)
    assert FloatParam(0, 1, step=0.3, initial=0.6).initial == 0.6  # on the grid, within Optuna's tolerance
    assert FloatParam(0.1, 1, step=0.3, initial=0.1 + 0.3 * 3).initial == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [5, "cb", print])
def test_callbacks_that_are_not_an_iterable_of_callables_are_named(bad) -> None:
    tuner = SelfTuner(seed=0)
    session = tuner.create_session(SPACE, "random_search", lambda x: x, max_iterations=3)
    with pytest.raises(TypeError, match="'callbacks' must be an iterable of callables"):
        tuner.optimize(session.session_id, callbacks=bad)
    assert tuner.get_session(session.session_id).iterations == 0
