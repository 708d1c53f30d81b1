"""Per-task normalisation (fennec.normalize): normal scores and z-scores over each task's models."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fennec.errors import UnknownNameError
from fennec.normalize import NORMALIZATIONS, normalize, normalize_per_task


@pytest.fixture
def records() -> tuple[np.ndarray, np.ndarray]:
    """Shuffled records of 6 tasks of different sizes and scales, with ties (values on a coarse grid)."""
    rng = np.random.default_rng(0)
    task = np.repeat(np.arange(6), [1, 2, 5, 40, 7, 100])
    value = np.round(rng.normal(size=task.size) * (task + 1) * 3 + task * 10)
    order = rng.permutation(task.size)
    return task[order], value[order]


def test_normal_scores_are_the_inverse_normal_of_mid_ranks_within_each_task(records):
    task, value = records
    out = normalize_per_task(task, value, 7)
    assert out.dtype == np.float64 and out.shape == value.shape
    for t in range(6):
        here = task == t
        expected = stats.norm.ppf((stats.rankdata(value[here]) - 0.5) / here.sum())
        np.testing.assert_allclose(out[here], expected, atol=1e-12)
    assert np.any([len(set(value[task == t])) < (task == t).sum() for t in range(6)])  # the fixture has ties


def test_normal_scores_depend_on_the_order_only(records):
    task, value = records
    out = normalize_per_task(task, value, 6)
    squashed = normalize_per_task(task, np.exp(value / 50.0) * 7.0 - 3.0, 6)  # increasing, far from linear
    np.testing.assert_allclose(out, squashed, atol=1e-12)


def test_one_failed_run_squeezes_z_scores_but_not_normal_scores():
    accuracies = np.array([0.01, 0.80, 0.81, 0.82, 0.83, 0.84])  # one run left at chance
    gaps = {m: np.diff(normalize(accuracies, m))[1:] for m in NORMALIZATIONS}
    assert gaps["zscore"].max() < 0.1 < gaps["normal-scores"].min()


def test_zscore_matches_the_sample_standard_deviation(records):
    task, value = records
    out = normalize_per_task(task, value, 6, "zscore")
    for t in range(1, 6):
        here = task == t
        np.testing.assert_allclose(out[here], stats.zscore(value[here], ddof=1), atol=1e-5)


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_a_single_record_or_no_spread_gives_zeros(method):
    assert normalize(np.array([0.7]), method).tolist() == [0.0]
    np.testing.assert_array_equal(normalize(np.full(4, 0.5), method), np.zeros(4))
    assert normalize(np.zeros(0), method).shape == (0,)


def test_an_unknown_normalization_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="normal-scores"):
        normalize(np.arange(3.0), "rank")
