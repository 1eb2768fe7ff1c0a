"""The tuning benchmark's problems (known optima, checked independently) and its metrics."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from scipy.optimize import minimize

from benchmarks.tuning import run as bench
from benchmarks.tuning.functions import (
    ACKLEY_SHIFT,
    MIXED6_CHOICES,
    PROBLEMS,
    RASTRIGIN_SHIFT,
    SPHERE_SHIFT,
    Problem,
    ackley,
    branin,
    get_problem,
    hartmann6,
    rastrigin,
    rosenbrock,
    styblinski_tang,
)
from benchmarks.tuning.heldout import (
    GRIEWANK_SHIFT,
    HELDOUT,
    INITIAL,
    MICHALEWICZ_X,
    SEEDS,
    dixon_price,
    griewank,
    levy,
    michalewicz,
    plateau4,
    powell,
    zakharov,
)

NAMES = [*PROBLEMS, *HELDOUT]
NUMERIC = [n for n in NAMES if n != "mixed6"]


@pytest.fixture(autouse=True)
def _restore_optuna_globals() -> Iterator[None]:
    """The benchmark quiets Optuna for its own process; do not let that leak into the other tests."""
    verbosity = optuna.logging.get_verbosity()
    with warnings.catch_warnings():
        yield
    optuna.logging.set_verbosity(verbosity)


def sample(problem: Problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform rows of the problem's space (log-uniform for log floats, choice indices)."""
    cols = []
    for dist in problem.distributions.values():
        if isinstance(dist, CategoricalDistribution):
            cols.append(rng.integers(len(dist.choices), size=n).astype(float))
        elif isinstance(dist, IntDistribution):
            k = rng.integers((dist.high - dist.low) // dist.step + 1, size=n)
            cols.append((dist.low + k * dist.step).astype(float))
        elif isinstance(dist, FloatDistribution) and dist.log:
            cols.append(np.exp(rng.uniform(math.log(dist.low), math.log(dist.high), n)))
        else:
            assert isinstance(dist, FloatDistribution)
            cols.append(rng.uniform(dist.low, dist.high, n))
    return np.column_stack(cols)


# ------------------------------------------------------------------ optima


@pytest.mark.parametrize("name", NAMES)
def test_value_at_the_known_minimiser_is_f_opt(name):
    p = get_problem(name)
    assert p.f(p.x_opt) == pytest.approx(p.f_opt, abs=1e-6)
    assert p.regret(p.f(p.x_opt)) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_minimiser_is_inside_the_box_and_not_at_its_centre(name):
    p = get_problem(name)
    centre = {}
    for n, dist in p.distributions.items():
        v = p.x_opt[n]
        if isinstance(dist, CategoricalDistribution):
            assert v in dist.choices
            centre[n] = dist.choices[0]
            continue
        assert dist.low <= v <= dist.high
        if isinstance(dist, FloatDistribution) and dist.log:
            centre[n] = math.sqrt(dist.low * dist.high)
        else:
            centre[n] = (dist.low + dist.high) / 2
        if isinstance(dist, IntDistribution):
            centre[n] = dist.low + round((centre[n] - dist.low) / dist.step) * dist.step
    assert p.f(centre) - p.f_opt > 0.1


@pytest.mark.parametrize("name", NAMES)
def test_no_sampled_point_beats_f_opt(name):
    p = get_problem(name)
    x = sample(p, 50_000, np.random.default_rng(0))
    values = p.fn(x)
    assert values.shape == (50_000,)
    assert values.min() >= p.f_opt - 1e-9


@pytest.mark.parametrize("name", NUMERIC)
def test_local_search_from_near_the_minimiser_does_not_beat_f_opt(name):
    p = get_problem(name)
    dists = list(p.distributions.values())
    bounds = [(d.low, d.high) for d in dists]
    x0 = p.encode(p.x_opt)
    rng = np.random.default_rng(1)
    for _ in range(3):
        start = np.clip(
            x0 + rng.normal(0, 1e-3, x0.shape) * [h - lo for lo, h in bounds], *np.array(bounds).T
        )
        res = minimize(lambda x: float(p.fn(x)), start, method="L-BFGS-B", bounds=bounds)
        assert res.fun >= p.f_opt - 1e-9


def test_vectorised_matches_row_by_row():
    rng = np.random.default_rng(2)
    for p in PROBLEMS.values():
        x = sample(p, 20, rng)
        batch = p.fn(x)
        rows = [float(p.fn(row)) for row in x]
        np.testing.assert_allclose(batch, rows, rtol=1e-12, atol=0)
        # and on a (2, 10, d) array
        np.testing.assert_allclose(p.fn(x.reshape(2, 10, -1)), batch.reshape(2, 10), rtol=1e-12)


# ------------------------------------------------------ closed-form values


def test_branin_closed_forms():
    # (x2 - b x1^2 + c x1 - 6)^2 + 10 (1 - 1/(8 pi)) cos(x1) + 10 at (0, 0): 36 + 20 - 10/(8 pi)
    assert float(branin([0.0, 0.0])) == pytest.approx(56 - 10 / (8 * math.pi), rel=1e-14)
    for x in ([-math.pi, 12.275], [math.pi, 2.275], [3 * math.pi, 2.475]):
        assert float(branin(x)) == pytest.approx(5 / (4 * math.pi), abs=1e-12)


def test_hartmann6_minimum_matches_the_literature_and_a_fresh_refinement():
    p = get_problem("hartmann6")
    assert p.f_opt == pytest.approx(-3.32237, abs=5e-6)  # the library's five digits
    res = minimize(
        lambda x: float(hartmann6(x)),
        p.encode(p.x_opt),
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20_000},
    )
    assert res.fun == pytest.approx(p.f_opt, abs=1e-10)


def test_hartmann6_at_a_corner_is_a_sum_of_four_bumps():
    # Written out independently of the module's vectorised form.
    a = [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
    pp = [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
    alpha = [1.0, 1.2, 3.0, 3.2]
    x = [0.1, 0.9, 0.3, 0.5, 0.7, 0.2]
    expected = -sum(
        alpha[i] * math.exp(-sum(a[i][j] * (x[j] - pp[i][j] * 1e-4) ** 2 for j in range(6))) for i in range(4)
    )
    assert float(hartmann6(x)) == pytest.approx(expected, rel=1e-13)


def test_textbook_values_of_the_unshifted_functions():
    z = np.zeros(5)
    assert float(rosenbrock(z)) == pytest.approx(4.0)  # (d - 1) * (1 - 0)^2
    assert float(rosenbrock(np.ones(5))) == 0.0
    assert float(rastrigin(z)) == 0.0
    assert float(rastrigin(np.ones(5))) == pytest.approx(5.0)  # 10 d + d - 10 d
    assert abs(float(ackley(z))) < 1e-14
    roots = np.roots([4, 0, -32, 5])  # d/dx (x^4 - 16 x^2 + 5 x) / 2 = 0
    x_st = min(r.real for r in roots)
    assert float(styblinski_tang(np.full(5, x_st))) == pytest.approx(-39.16617 * 5, abs=1e-4)
    assert get_problem("styblinski5").f_opt == pytest.approx(
        float(styblinski_tang(np.full(5, x_st))), abs=1e-12
    )


@pytest.mark.parametrize(
    ("name", "shift", "base"),
    [
        ("sphere5", SPHERE_SHIFT, None),
        ("rastrigin5", RASTRIGIN_SHIFT, rastrigin),
        ("ackley5", ACKLEY_SHIFT, ackley),
    ],
)
def test_shifted_problems_are_the_originals_moved_by_the_shift(name, shift, base):
    p = get_problem(name)
    assert p.encode(p.x_opt).tolist() == shift.tolist()
    x = sample(p, 10, np.random.default_rng(3))
    expected = np.sum((x - shift) ** 2, axis=-1) if base is None else base(x - shift)
    np.testing.assert_allclose(p.fn(x), expected, rtol=1e-12)


# ------------------------------------------------------------------ mixed6


def test_mixed6_space_has_the_required_kinds():
    d = get_problem("mixed6").distributions
    kinds = [type(v).__name__ + ("-log" if getattr(v, "log", False) else "") for v in d.values()]
    assert sorted(kinds) == sorted(
        ["FloatDistribution"] * 2
        + ["FloatDistribution-log", "IntDistribution", "IntDistribution"]
        + ["CategoricalDistribution"]
    )


def test_mixed6_category_moves_the_optimum_and_costs_its_penalty():
    p = get_problem("mixed6")
    # Each category's own optimum (from the construction) has the category's penalty as value.
    own = {
        "a": {"x": 2.0, "y": 3.0, "depth": 3, "kind": "a"},
        "b": {"x": 4.5, "y": -1.0, "depth": 5, "kind": "b"},
        "d": {"x": 5.5, "y": 1.5, "depth": 7, "kind": "d"},
    }
    penalties = {"a": 0.6, "b": 0.25, "d": 1.2}
    for k, point in own.items():
        params = {**p.x_opt, **point}
        assert p.f(params) == pytest.approx(penalties[k], abs=1e-12)
        # and at the global optimum's (x, y, depth) the wrong category costs more than its penalty
        assert p.f({**p.x_opt, "kind": k}) > penalties[k] + 1.0
    # a dense sample restricted to each category never beats that category's penalty
    x = sample(p, 40_000, np.random.default_rng(4))
    for i, k in enumerate(MIXED6_CHOICES):
        xk = x.copy()
        xk[:, 5] = i
        assert p.fn(xk).min() >= penalties.get(k, 0.0) - 1e-9


def test_mixed6_learning_rate_matters_on_a_log_scale():
    p = get_problem("mixed6")
    for a in (-2.0, -0.5, 0.5, 2.0):
        moved = {**p.x_opt, "lr": p.x_opt["lr"] * 10**a}
        assert p.f(moved) == pytest.approx(a**2, rel=1e-9)  # regret is the squared log10 ratio


def test_mixed6_terms_interact():
    p = get_problem("mixed6")
    # the best lr moves with depth: one step deeper, the best lr is 10^0.3 larger
    deeper = {**p.x_opt, "depth": p.x_opt["depth"] + 1}
    assert p.f({**deeper, "lr": p.x_opt["lr"] * 10**0.3}) < p.f(deeper)
    # x and y interact: moving both together costs less than the sum of moving each
    dx = p.f({**p.x_opt, "x": 8.3}) - p.f_opt
    dy = p.f({**p.x_opt, "y": -1.1, "width": 128}) - p.f_opt
    both = p.f({**p.x_opt, "x": 8.3, "y": -1.1, "width": 128}) - p.f_opt
    assert both < dx + dy


def test_get_problem_names_the_known_ones():
    with pytest.raises(KeyError, match="branin"):
        get_problem("nope")


def test_autoopt_space_mirrors_the_distributions_without_an_initial_point():
    for p in PROBLEMS.values():
        space = p.autoopt_space()
        assert list(space) == list(p.distributions)
        for name, spec in space.items():
            assert spec.initial is None
            assert spec.to_distribution() == p.distributions[name]


# ----------------------------------------------------------------- metrics


def test_regret_trace_is_best_so_far_and_padded():
    trace = bench.regret_trace([5.0, 3.0, 4.0, 1.0], f_opt=1.0, n_trials=6)
    assert trace.tolist() == [4.0, 2.0, 2.0, 0.0, 0.0, 0.0]
    assert bench.regret_trace([], 0.0, 3).tolist() == [math.inf] * 3
    assert bench.regret_trace([0.5], 1.0, 1).tolist() == [0.0]  # never negative


def test_anytime_auc_and_geo_mean():
    trace = np.array([1.0, 0.1, 0.01, 0.0])
    assert bench.anytime_auc(trace) == pytest.approx((0 - 1 - 2 - 12) / 4, abs=1e-9)
    assert bench.geo_mean([1.0, 0.01]) == pytest.approx(0.1)
    assert bench.geo_mean([0.0, 1.0]) == pytest.approx(1e-6)  # clipped at 1e-12


def _cell(method, problem, seed, values, wall=1.0, objective=0.5):
    return {
        "method": method,
        "problem": problem,
        "seed": seed,
        "values": values,
        "wall_s": wall,
        "objective_s": objective,
        "error": None,
    }


def test_summarise_normalises_against_random_with_medians():
    f_b = get_problem("branin").f_opt
    f_s = get_problem("sphere5").f_opt
    cells = [
        # random: branin regrets 1, 2, 3 (median 2); sphere regrets 4, 8 (median 6)
        *(_cell(bench.RANDOM, "branin", s, [f_b + r + 1, f_b + r]) for s, r in enumerate([1.0, 2.0, 3.0])),
        *(_cell(bench.RANDOM, "sphere5", s, [f_s + r]) for s, r in enumerate([4.0, 8.0])),
        # adaptive: branin 0.2 (median of 0.1, 0.2, 0.3), sphere 0.06 (median of 0.03, 0.09)
        *(_cell("autoopt.adaptive", "branin", s, [f_b + r]) for s, r in enumerate([0.1, 0.2, 0.3])),
        *(_cell("autoopt.adaptive", "sphere5", s, [f_s + r], wall=2.0) for s, r in enumerate([0.03, 0.09])),
    ]
    out = bench.summarise(cells, n_trials=2)
    row = out["table"]["autoopt.adaptive"]
    assert row["branin"]["median_regret"] == pytest.approx(0.2)
    assert row["branin"]["normalised_regret"] == pytest.approx(0.1)
    assert row["sphere5"]["normalised_regret"] == pytest.approx(0.01)
    s = out["summary"]["autoopt.adaptive"]
    assert s["arith_mean_normalised_regret"] == pytest.approx(0.055)
    assert s["geo_mean_normalised_regret"] == pytest.approx(math.sqrt(0.1 * 0.01))
    # overhead: (wall - objective) / trials in ms; sphere cells ran 1 trial of 1.5 s
    assert row["sphere5"]["median_overhead_ms"] == pytest.approx(1500.0)
    assert out["summary"][bench.RANDOM]["geo_mean_normalised_regret"] == pytest.approx(1.0)
    # AUC of random on branin, seed 1: regrets 3 then 2
    assert out["table"][bench.RANDOM]["branin"]["median_auc"] == pytest.approx(
        (math.log10(3 + 1e-12) + math.log10(2 + 1e-12)) / 2
    )


def test_checks_flag_a_strategy_worse_than_random():
    f_b = get_problem("branin").f_opt
    cells = [
        _cell(bench.RANDOM, "branin", 0, [f_b + 1.0]),
        _cell("autoopt.genetic", "branin", 0, [f_b + 2.0]),
    ]
    summary = bench.summarise(cells, n_trials=1)
    checks = {c["check"]: c for c in bench.run_checks(summary, {})}
    worse = next(c for name, c in checks.items() if name.startswith("no autoopt strategy worse"))
    assert worse["status"] == "FAIL"
    assert "autoopt.genetic on branin: 2" in worse["detail"]
    assert checks["adaptive geo-mean normalised regret <= 0.01"]["status"] == "SKIP"


def test_errors_are_reported_not_scored():
    cells = [{**_cell(bench.RANDOM, "branin", 0, []), "error": "ValueError: boom"}]
    summary = bench.summarise(cells, n_trials=1)
    assert summary["table"] == {}
    checks = bench.run_checks(summary, {})
    assert checks[-1]["status"] == "FAIL"
    assert "boom" in checks[-1]["detail"]


def test_parse_seeds():
    assert bench.parse_seeds("0-2,7, 9") == {0, 1, 2, 7, 9}


def test_plan_cells_gives_gp_methods_fewer_seeds():
    tier = bench.TIERS["full"]
    cells = bench.plan_cells(tier)
    per_method = {m: len({s for mm, _, s in cells if mm == m}) for m in tier.methods}
    assert per_method["optuna.GP"] == per_method["autoopt.adaptive"] == per_method["autoopt.bayesian"] == 5
    assert per_method[bench.RANDOM] == per_method["autoopt.genetic"] == 10
    assert len(cells) == len(PROBLEMS) * (8 * 10 + 3 * 5)
    assert {s for _, _, s in bench.plan_cells(tier, {7})} == {7}
    assert not [c for c in bench.plan_cells(tier, {7}) if c[0] in bench.GP_BACKED]


@pytest.mark.parametrize("method", [bench.RANDOM, "autoopt.random_search", "autoopt.genetic"])
def test_run_cell_records_every_value_reproducibly(method):
    cell = bench.run_cell(method, "mixed6", 0, 5)
    assert cell["error"] is None
    assert len(cell["values"]) == 5
    assert 0 <= cell["objective_s"] <= cell["wall_s"]
    again = bench.run_cell(method, "mixed6", 0, 5)
    assert again["values"] == cell["values"]  # seeded
    assert bench.run_cell(method, "mixed6", 1, 5)["values"] != cell["values"]


def test_run_cell_records_an_error_instead_of_raising():
    cell = bench.run_cell("autoopt.no_such_strategy", "branin", 0, 3)
    assert cell["error"] is not None
    assert "no_such_strategy" in cell["error"]


def test_merge_takes_the_union_of_chunks(tmp_path):
    tier = replace(bench.TIERS["ci"], problems=("branin",), methods=(bench.RANDOM, "optuna.TPE"), n_trials=4)
    a = bench.run(tier, seeds={0}, extras=False, json_path=tmp_path / "a.json")
    b = bench.run(tier, seeds={1}, extras=False, json_path=tmp_path / "b.json")
    merged = bench.merge([tmp_path / "a.json", tmp_path / "b.json"])
    assert len(merged["cells"]) == len(a["cells"]) + len(b["cells"]) == 4
    assert merged["summary"]["table"]["optuna.TPE"]["branin"]["seeds"] == [0, 1]
    # resuming a finished chunk runs nothing new
    again = bench.run(tier, seeds={0}, extras=False, json_path=tmp_path / "a.json", resume=True)
    assert [c["values"] for c in again["cells"]] == [c["values"] for c in a["cells"]]
    assert json.loads((tmp_path / "a.json").read_text())["summary"]["problems"] == ["branin"]


# ------------------------------------------------------------------ the held-out suite (issue 13)


def test_heldout_suite_is_the_frozen_list_and_does_not_overlap_the_development_suite():
    assert list(HELDOUT) == ["zakharov4", "levy4", "griewank5", "dixon_price4", "michalewicz5", "powell4",
                             "hartmann6_noisy", "plateau4", "logscale3"]  # fmt: skip
    assert not set(HELDOUT) & set(PROBLEMS)
    assert tuple(range(20)) == SEEDS
    assert set(INITIAL) == set(HELDOUT)
    assert get_problem("levy4") is HELDOUT["levy4"]


def test_heldout_textbook_values():
    # by hand: Zakharov at ones: 4 + 5^2 + 5^4; Powell at ones: 11^2 + 0 + (-1)^4 + 0; Levy at ones: 0
    assert zakharov(np.ones(4)) == pytest.approx(654.0)
    assert powell(np.ones(4)) == pytest.approx(122.0)
    assert levy(np.ones(4)) == pytest.approx(0.0, abs=1e-30)
    # Levy at 0: w = 3/4; sin^2(3pi/4) + 3 (1/16)(1 + 10 sin^2(3pi/4 + 1)) + (1/16)(1 + sin^2(3pi/2))
    w = 0.75
    ref = math.sin(math.pi * w) ** 2 + 3 * (w - 1) ** 2 * (1 + 10 * math.sin(math.pi * w + 1) ** 2)
    ref += (w - 1) ** 2 * (1 + math.sin(2 * math.pi * w) ** 2)
    assert levy(np.zeros(4)) == pytest.approx(ref)
    assert griewank(np.zeros(5)) == 0.0
    assert griewank(np.full(5, math.pi)) == pytest.approx(
        5 * math.pi**2 / 4000 - math.prod(math.cos(math.pi / math.sqrt(i)) for i in range(1, 6)) + 1
    )
    # Dixon-Price's minimiser satisfies 2 x_i^2 = x_{i-1} and x_1 = 1
    x = np.array([HELDOUT["dixon_price4"].x_opt[f"x{i}"] for i in range(1, 5)])
    assert x[0] == 1.0
    np.testing.assert_allclose(2 * x[1:] ** 2, x[:-1])
    assert dixon_price(x) == pytest.approx(0.0, abs=1e-28)
    np.testing.assert_allclose(HELDOUT["griewank5"].encode(HELDOUT["griewank5"].x_opt), GRIEWANK_SHIFT)


def test_michalewicz_minimum_matches_the_literature_and_a_global_search():
    from scipy.optimize import differential_evolution

    p = HELDOUT["michalewicz5"]
    assert p.f_opt == pytest.approx(-4.687658, abs=1e-6)  # the library's value
    assert float(michalewicz(MICHALEWICZ_X)) == p.f_opt
    found = differential_evolution(lambda x: float(michalewicz(x)), [(0, math.pi)] * 5, seed=0, tol=1e-10,
                                   maxiter=3000)  # fmt: skip
    assert found.fun >= p.f_opt - 1e-9


def test_the_noisy_problem_adds_seeded_gaussian_noise_and_scores_the_truth():
    p = HELDOUT["hartmann6_noisy"]
    x = INITIAL["hartmann6_noisy"]
    draws = np.array([p.observe(x, np.random.default_rng(s)) for s in range(4000)])
    assert abs(draws.mean() - p.f(x)) < 4 * 0.05 / math.sqrt(4000)
    assert draws.std(ddof=1) == pytest.approx(0.05, rel=0.05)
    assert p.observe(x, np.random.default_rng(7)) == p.observe(x, np.random.default_rng(7))
    assert p.f(x) == float(hartmann6(p.encode(x)))  # f stays noise-free
    assert PROBLEMS["branin"].observe({"x1": 0.0, "x2": 0.0}, np.random.default_rng(0)) == branin(np.zeros(2))


def test_plateau_covers_all_but_about_two_percent_of_the_box():
    x = np.random.default_rng(0).uniform(0, 1, (400_000, 4))
    off = plateau4(x) < 1
    assert 0.017 < off.mean() < 0.021
    assert set(np.unique(plateau4(x[~off]))) == {1.0}


@pytest.mark.parametrize("name", list(HELDOUT))
def test_initial_points_are_in_the_box_off_centre_and_far_from_the_minimiser(name):
    p = HELDOUT[name]
    start = p.encode(INITIAL[name])
    best = p.encode(p.x_opt)
    span = []
    for i, dist in enumerate(p.distributions.values()):
        assert dist.low <= start[i] <= dist.high
        if dist.log:
            start[i], best[i] = math.log(start[i]), math.log(best[i])
            span.append(math.log(dist.high) - math.log(dist.low))
        else:
            span.append(dist.high - dist.low)
    distance = np.linalg.norm((start - best) / np.array(span)) / math.sqrt(p.dim)
    assert distance > 0.25
    assert p.regret(p.f(INITIAL[name])) > 0.05 * max(1.0, abs(p.f_opt))
