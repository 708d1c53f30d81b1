import numpy as np
import pytest
from scipy import stats

from benchmark.measures import MEASURES, evaluate_task, top_k_best_distribution


def test_perfect_ranking_hand_checked():
    m = evaluate_task(np.array([3.0, 2.0, 1.0]), np.array([0.9, 0.8, 0.5]))
    assert m["tau_w"] == pytest.approx(1.0)
    assert m["kendall"] == pytest.approx(1.0)
    assert m["spearman"] == pytest.approx(1.0)
    assert m["rel@1"] == 1.0 and m["regret@1"] == 0.0 and m["hit@1"] == 1.0


def test_reversed_ranking_hand_checked():
    m = evaluate_task(np.array([1.0, 2.0, 3.0]), np.array([0.9, 0.8, 0.5]))
    assert m["kendall"] == pytest.approx(-1.0)
    # top-1 prediction is the worst model: truth 0.5 of best 0.9
    assert m["rel@1"] == pytest.approx(0.5 / 0.9)
    assert m["regret@1"] == pytest.approx(0.4)
    assert m["hit@1"] == 0.0
    # top-3 of 3 models contains the best
    assert m["regret@3"] == pytest.approx(0.0) and m["hit@3"] == 1.0


def test_correlations_equal_scipy_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(20):
        pred, truth = rng.normal(size=15), rng.normal(size=15)
        m = evaluate_task(pred, truth)
        assert m["tau_w"] == pytest.approx(stats.weightedtau(pred, truth).statistic)
        assert m["kendall"] == pytest.approx(stats.kendalltau(pred, truth).statistic)
        assert m["pearson"] == pytest.approx(stats.pearsonr(pred, truth).statistic)
        assert m["spearman"] == pytest.approx(stats.spearmanr(pred, truth).statistic)


def test_weighted_tau_is_scipys_default_on_a_hand_case():
    # With rank=True scipy averages the (x, y) and (y, x) lexicographic ranks; the weigher is hyperbolic.
    pred = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    truth = np.array([0.1, 0.9, 0.5, 0.4, 0.3, 0.95])
    assert evaluate_task(pred, truth)["tau_w"] == pytest.approx(stats.weightedtau(pred, truth).statistic)
    assert evaluate_task(pred, truth)["tau_w"] == pytest.approx(
        stats.weightedtau(pred, truth, rank=True, weigher=lambda r: 1.0 / (r + 1)).statistic)


def test_ties_in_predictions_give_expected_value_over_random_orders():
    # All four predictions tie: top-1 is a uniformly random model.
    truth = np.array([0.9, 0.8, 0.5, 0.1])
    m = evaluate_task(np.ones(4), truth)
    assert m["rel@1"] == pytest.approx(truth.mean() / 0.9)
    assert m["hit@1"] == pytest.approx(0.25)
    # top-3 of 4 tied: the best is missed only when it is the one left out (prob 1/4), then 0.8 is the best tried.
    assert m["regret@3"] == pytest.approx(0.25 * 0.1)
    assert m["hit@3"] == pytest.approx(0.75)
    assert m["tau_w"] == 0.0  # constant prediction: no information


def test_top_k_distribution_sums_to_one_and_brute_force_agrees():
    rng = np.random.default_rng(1)
    pred = rng.integers(0, 3, size=8).astype(float)
    truth = rng.normal(size=8)
    for k in (1, 3, 5):
        values, probs = top_k_best_distribution(pred, truth, k)
        assert probs.sum() == pytest.approx(1.0)
        # brute force over many random tie-breaks
        draws = []
        for _ in range(20000):
            order = np.lexsort((rng.random(8), -pred))
            draws.append(truth[order[:k]].max())
        assert values @ probs == pytest.approx(np.mean(draws), abs=0.02)


def test_all_measures_present_and_bad_input_rejected():
    assert set(MEASURES) == set(evaluate_task(np.arange(4.0), np.arange(4.0)))
    with pytest.raises(ValueError, match="at least 2"):
        evaluate_task(np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="equal length"):
        evaluate_task(np.arange(3.0), np.arange(4.0))
    with pytest.raises(ValueError, match="finite"):
        evaluate_task(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
