"""SlidingOLS and the PredictionResults it returns, against statsmodels' OLS."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from autoopt.prediction import PredictionResults, SlidingOLS


def _reference(x: np.ndarray, y: np.ndarray, x0: np.ndarray):
    c = x.mean()  # a well-conditioned reference: statsmodels on centred x
    fit = sm.OLS(y, sm.add_constant(x - c)).fit()
    return fit.get_prediction(np.column_stack([np.ones(x0.size), x0 - c]))


@pytest.mark.parametrize("days", [0, 100, 400, 36_500])
def test_sliding_ols_matches_statsmodels_at_any_uptime(days):
    """x = minutes of uptime: precision and identifiability do not decay as x grows."""
    rng = np.random.default_rng(days)
    ols = SlidingOLS(100)
    x = days * 1440.0 + np.arange(1000) / 60.0  # one point per second
    y = 5 * np.arange(1000) / 60 + rng.normal(0, 1, 1000)
    for a, b in zip(x, y, strict=True):
        ols.update(a, b)
    xs, ys = x[-100:], y[-100:]
    frame = _reference(xs, ys, np.array([xs[-1] + 30])).summary_frame(alpha=0.05)
    pred = ols.predict(xs[-1] + 30)
    assert ols.dof == 98
    for col in ("mean", "mean_se", "obs_ci_lower", "obs_ci_upper"):
        assert float(np.asarray(getattr(pred, col))) == pytest.approx(frame[col].iloc[0], rel=1e-9)


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.32])
def test_results_answer_any_alpha_like_statsmodels(alpha):
    """Parametric results: summary_frame, conf_int and se_obs at any level, as statsmodels has them."""
    rng = np.random.default_rng(5)
    x = np.arange(40, dtype=float)
    y = 3.0 - 0.2 * x + rng.normal(0, 1.5, 40)
    ols = SlidingOLS(40)
    for a, b in zip(x, y, strict=True):
        ols.update(a, b)
    x0 = np.array([40.0, 45.0, 60.0])
    res = ols.predict(x0)  # fitted at the default 0.05; asked at another level below
    ref = _reference(x, y, x0)
    got = res.summary_frame(alpha=alpha)
    want = ref.summary_frame(alpha=alpha)
    assert list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(
        res.conf_int(obs=True, alpha=alpha), ref.conf_int(obs=True, alpha=alpha), rtol=1e-9
    )
    np.testing.assert_allclose(res.conf_int(alpha=alpha), ref.conf_int(alpha=alpha), rtol=1e-9)
    np.testing.assert_allclose(res.se_obs, ref.se_obs, rtol=1e-9)
    np.testing.assert_allclose(res.predicted_mean, ref.predicted_mean, rtol=1e-9)
    assert not res.calibrated
    assert res.dof == ref.df


def test_sliding_ols_constant_x_falls_back_to_the_mean():
    ols = SlidingOLS(10)
    for i in range(10):
        ols.update(1e6, float(i))
    assert ols.dof == 9
    assert ols.slope == 0.0
    pred = ols.predict(2e6)
    assert float(pred.mean) == pytest.approx(4.5)


def test_the_former_constructor_still_builds_one() -> None:
    """OLSPrediction(mean, mean_se, obs_se, t_value, alpha, dof), positionally, is a PredictionResults."""
    res = PredictionResults(np.array([1.0]), np.array([0.5]), np.array([2.0]), 2.0, 0.05, 10)
    assert float(res.obs_ci_upper[0]) == 5.0
    assert float(res.mean_ci_lower[0]) == 0.0
    assert res.t_value == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"obs_se": None}, "exactly one of 'obs_se' and 'obs_ci'"),
        ({"obs_ci": ([0.0], [2.0])}, "exactly one of"),
        ({"obs_se": None, "obs_ci": ([0.0], [2.0])}, "'mean_ci' is needed"),
        ({"alpha": 1.5}, "'alpha' must be a finite number in \\(0, 1\\); got 1.5"),
        ({"mean_se": [1.0, 2.0]}, "must share one shape"),
    ],
)
def test_malformed_results_are_refused(kwargs, match) -> None:
    args = {"mean": [1.0], "mean_se": [0.5], "obs_se": [1.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        PredictionResults(**args)
