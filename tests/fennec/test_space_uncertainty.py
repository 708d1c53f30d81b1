"""Values in the task's units, split-conformal intervals and the ranking's confidence (fennec.space._uncertainty)."""
import numpy as np
import pandas as pd
import pytest

from fennec.errors import InputError
from fennec.space import TransferSpace
from fennec.space._uncertainty import K_GRID, Uncertainty, grid_k, task_units


def _uncertainty(scores: np.ndarray) -> Uncertainty:
    return Uncertainty({g: np.sort(scores) for g in K_GRID}, np.zeros((0, 18)), np.ones(3), np.zeros(3), np.ones(3))


def test_half_width_is_the_finite_sample_conformal_quantile():
    scores = np.random.default_rng(0).normal(size=99)
    unc = _uncertainty(scores)
    magnitude = np.sort(np.abs(scores))
    assert unc.half_width(0, 0.9) == magnitude[int(np.ceil(100 * 0.9)) - 1]
    assert unc.half_width(0, 0.8) < unc.half_width(0, 0.9)
    assert unc.half_width(3, 0.999) == float("inf")  # 99 scores cannot back a 99.9% interval


def test_grid_and_units_follow_the_revealed_results():
    assert [grid_k(k) for k in (0, 1, 2, 3, 4, 9, 10, 50)] == [0, 1, 1, 3, 3, 5, 10, 10]
    assert task_units(0.5, 0.1, np.zeros(0), np.zeros(0)) == (0.5, 0.1)
    mu, sigma = task_units(0.5, 0.1, np.array([0.0]), np.array([0.9]))
    assert mu == pytest.approx(0.7) and sigma == 0.1  # one result moves the location half way
    scores = np.array([-1.0, 0.0, 1.0, 2.0])
    mu, sigma = task_units(0.5, 0.1, scores, 0.8 + 0.3 * scores)  # four results on a steeper line
    assert 0.1 < sigma < 0.3 and mu > 0.5


@pytest.fixture(scope="module")
def space():
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(30, 2)), rng.normal(size=(14, 2))
    records = pd.DataFrame([(f"m{i}", f"t{j}", 0.6 + 0.05 * (U[i] @ V[j]) + 0.01 * j)
                            for i in range(30) for j in range(14)], columns=["model", "task", "value"])
    return TransferSpace(n_factors=4, min_steps=150, random_state=0).fit(records)


def test_predict_task_gives_ordered_intervals_in_the_task_units(space):
    cold = space.predict_task(levels=(0.5, 0.8, 0.9))
    low50, high50 = cold.intervals[0.5]
    low90, high90 = cold.intervals[0.9]
    assert np.all(low90 <= low50) and np.all(high50 <= high90) and np.all(low50 < high50)
    assert 0.5 < cold.location < 0.8 and cold.scale_source == "similar tasks in the history"
    assert np.array_equal(np.argsort(-cold.values, kind="stable"), np.argsort(-cold.scores, kind="stable"))
    assert np.all((cold.in_top3 >= 0) & (cold.in_top3 <= 1)) and cold.in_top3.std() > 0
    assert 0 <= cold.p_best_in_top[1] <= cold.p_best_in_top[3] <= cold.p_best_in_top[5] <= 1
    few = space.predict_task(revealed={"m0": 0.9, "m1": 0.4, "m2": 0.6})
    assert few.scale_source == "revealed results" and few.n_revealed == 3
    i = list(few.model_ids).index("m0")
    assert few.values[i] == 0.9 and few.intervals[0.9][0][i] == few.intervals[0.9][1][i] == 0.9
    assert np.isnan(few.in_top3[i])


def test_predict_task_survives_save_and_load(space, tmp_path):
    space.save(tmp_path / "s")
    before, after = space.predict_task(), TransferSpace.load(tmp_path / "s").predict_task()
    np.testing.assert_array_equal(before.values, after.values)
    np.testing.assert_array_equal(before.intervals[0.9][1], after.intervals[0.9][1])
    assert before.p_best_in_top == after.p_best_in_top


def test_predict_task_checks_levels(space):
    with pytest.raises(InputError, match="levels"):
        space.predict_task(levels=(0.9, 1.5))


def _one_task_off(weights: np.ndarray | None = None) -> Uncertainty:
    """Nine held-out tasks predicted well (10 values each, |error| <= 1) and one big task whose whole level was off
    (100 values at 10): by values the off task is 53% of the cold scores, by tasks 10%. ``weights``: per score, in
    that order (default: each task weighs one)."""
    scores = np.concatenate([*(np.linspace(-1, 1, 10) for _ in range(9)), np.full(100, 10.0)])
    if weights is None:
        weights = np.concatenate([np.full(90, 0.1), np.full(100, 0.01)])
    order = np.argsort(scores, kind="stable")
    return Uncertainty({0: scores[order]}, np.zeros((0, 18)), np.ones(3), np.zeros(3), np.ones(3),
                       {0: weights[order]} if len(weights) else {})


def test_cold_half_width_counts_held_out_tasks_not_values():
    unc = _one_task_off()
    assert unc.half_width(0, 0.8) == 1.0  # 0.8 * 11 = 8.8 of the 9 well-predicted tasks' weight
    assert unc.half_width(0, 0.9) == 10.0  # 0.9 * 11 = 9.9 tasks: the off task must be covered
    assert unc.half_width(0, 0.95) == float("inf")  # 10 tasks cannot back 95%: 0.95 * 11 > 10
    by_values = _one_task_off(np.zeros(0))
    assert by_values.half_width(0, 0.4) == 1.0 and by_values.half_width(0, 0.5) == 10.0


def test_value_range_clips_cold_intervals_to_what_an_accuracy_can_be_and_loses_no_coverage():
    """The mini-zoo's real accuracies: cold intervals of a held-out task, read off a space with the default
    ``value_range="auto"`` ([0, 1] here), stay in [0, 1], cover exactly the models the unclipped ones cover, and are
    narrower where the unclipped ones left [0, 1]."""
    from benchmark.minizoo import load_minizoo

    records = load_minizoo().records[["model", "task", "value"]]
    task = "hw_digits"
    train, truth = records[records["task"] != task], records[records["task"] == task].set_index("model")["value"]
    params = dict(n_factors=4, min_steps=100, random_state=0)
    bounded = TransferSpace(**params).fit(train)
    unbounded = TransferSpace(value_range=None, **params).fit(train)
    assert bounded.value_range_ == (0.0, 1.0) and unbounded.value_range_ is None
    clipped, raw = bounded.predict_task(levels=(0.9,)), unbounded.predict_task(levels=(0.9,))
    (low, high), (raw_low, raw_high) = clipped.intervals[0.9], raw.intervals[0.9]
    assert np.all(low >= 0) and np.all(high <= 1) and np.all((clipped.values >= 0) & (clipped.values <= 1))
    assert np.any(raw_low < 0) or np.any(raw_high > 1)  # else this test shows nothing
    y = truth.reindex(clipped.model_ids).to_numpy()
    assert np.array_equal((low <= y) & (y <= high), (raw_low <= y) & (y <= raw_high))
    assert np.all(high - low <= raw_high - raw_low) and np.any(high - low < raw_high - raw_low)


def test_value_range_is_read_from_the_history_or_given_and_checked(space, tmp_path):
    rng = np.random.default_rng(1)
    records = pd.DataFrame([(f"m{i}", f"t{j}", 50 + 10 * rng.normal()) for i in range(12) for j in range(5)],
                           columns=["model", "task", "value"])
    assert TransferSpace(n_factors=2, min_steps=20).fit(records).value_range_ is None  # not a fraction: no bound
    percent = TransferSpace(n_factors=2, min_steps=20, value_range=(0, 100)).fit(records)
    assert percent.value_range_ == (0.0, 100.0)
    percent.save(tmp_path / "p")
    assert TransferSpace.load(tmp_path / "p").value_range_ == (0.0, 100.0)
    for bad in ((1, 0), "percent", (0, 1, 2), 5):
        with pytest.raises(InputError, match="value_range"):
            TransferSpace(value_range=bad).fit(records)
    assert space.value_range_ == (0.0, 1.0)  # the module's space: every value in [0, 1]


def test_cold_draws_weigh_held_out_tasks_as_the_intervals_do():
    # the off task is 53% of the values but 10% of the tasks: draws (and so expected gains) follow tasks
    draws = _one_task_off().draws(0, 200)
    assert np.mean(draws == 10.0) == pytest.approx(0.1, abs=0.01)
    assert np.all(np.diff(draws) >= 0) and draws.min() >= -1.0
    unweighted = _one_task_off(np.zeros(0)).draws(0, 64)
    assert np.mean(unweighted == 10.0) > 0.5
    # revealed queries: every value weighs one, plain quantiles
    assert np.array_equal(_one_task_off(np.ones(190)).draws(0, 64), unweighted)


def test_expected_gain_stops_at_the_measure_ceiling():
    unc = _uncertainty(np.random.default_rng(2).normal(size=99))
    values, spread = np.array([0.95, 0.5]), np.array([0.2, 0.2])
    free, capped = unc.expected_gain(3, values, spread, 0.9), unc.expected_gain(3, values, spread, 0.9, ceiling=1.0)
    assert np.all(capped <= free) and capped[0] < free[0] and capped[0] <= 0.1
