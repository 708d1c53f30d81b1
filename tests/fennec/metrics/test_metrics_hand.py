"""Each metric on a case small enough to compute by hand (or with an independent textbook formula)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.covariance import ledoit_wolf_shrinkage

from _metric_tasks import make_task
from fennec import metrics
from fennec.errors import ModelFitError
from fennec.metrics._hscore import ledoit_wolf_shrinkage as our_shrinkage

PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])


def test_leep_by_hand():
    # joint P(y, z) * 3: y=0 -> rows 0 and 2 = [1.5, 0.5]; y=1 -> row 1 = [0.2, 0.8]; P(z) * 3 = [1.7, 1.3]
    eep = [0.9 * 1.5 / 1.7 + 0.1 * 0.5 / 1.3, 0.2 * 0.2 / 1.7 + 0.8 * 0.8 / 1.3, 0.6 * 1.5 / 1.7 + 0.4 * 0.5 / 1.3]
    assert metrics.leep(PROBS, [0, 1, 0]) == pytest.approx(sum(map(math.log, eep)) / 3, rel=1e-12)


def test_leep_ignores_source_classes_nobody_predicts():
    padded = np.hstack([PROBS, np.zeros((3, 2))])
    assert metrics.leep(padded, [0, 1, 0]) == pytest.approx(metrics.leep(PROBS, [0, 1, 0]), rel=1e-12)


def test_nce_by_hand():
    # hard source labels z = [0, 0, 1, 1], targets y = [0, 1, 1, 1]:
    # P(0,0) = P(1,0) = 1/4, P(1,1) = 1/2, P(z) = [1/2, 1/2] -> NCE = 2 * 1/4 * log(1/2) + 1/2 * log(1) = -log(2)/2
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
    assert metrics.nce(probs, ["a", "b", "b", "b"]) == pytest.approx(-math.log(2) / 2, rel=1e-12)


def test_hscore_by_hand():
    # class means 1 and 5 -> var(E[f|y]) = 4; var(f) = (9 + 1 + 1 + 9) / 4 = 5
    assert metrics.hscore([[0.0], [2.0], [4.0], [6.0]], [0, 0, 1, 1]) == pytest.approx(0.8, rel=1e-12)


def test_hscore_reg_equals_hscore_in_one_dimension():
    """With D = 1 the covariance already equals its shrinkage target, so the Ledoit-Wolf shrinkage is 0."""
    assert metrics.hscore_reg([[0.0], [2.0], [4.0], [6.0]], [0, 0, 1, 1]) == pytest.approx(0.8, rel=1e-12)


@pytest.mark.parametrize("n, d", [(200, 10), (15, 40)])
def test_ledoit_wolf_shrinkage_matches_scikit_learn(n, d):
    x = np.random.default_rng(0).normal(size=(n, d)) * np.linspace(0.5, 3, d)
    x = x - x.mean(axis=0)
    assert our_shrinkage(torch.as_tensor(x)) == pytest.approx(ledoit_wolf_shrinkage(x), rel=1e-10)


def test_hscore_reg_shrinks_towards_zero_when_n_below_d():
    """The plain H-score fits noise when N < D (up to C - 1); the regularised one stays small for random labels."""
    x, _ = make_task(n=30, d=80, c=3)
    random_labels = np.random.default_rng(0).integers(0, 3, size=30)
    assert metrics.hscore(x, random_labels) > 1.5
    assert metrics.hscore_reg(x, random_labels) < 0.5


def test_knn_by_hand():
    points = np.array([[0.0], [1.0], [3.0], [10.0], [11.0], [13.0]])
    labels = ["a", "a", "b", "b", "b", "a"]
    # k=1: 0->1 (a, right), 1->0 (a, right), 3->1 (a, wrong), 10->11 (b), 11->10 (b), 13->11 (b, wrong)
    assert metrics.knn(points, labels, k=1) == pytest.approx(4 / 6)
    # k=2, ties go to the nearer neighbour: 0 {1:a, 3:b} -> a; 11 {10:b, 13:a} -> b; 3 {1:a, 0:a} -> a (wrong)
    assert metrics.knn(points, labels, k=2) == pytest.approx(4 / 6)


def test_knn_counts_exact_duplicates_as_neighbours():
    points = np.array([[0.0], [0.0], [5.0], [5.0]])
    assert metrics.knn(points, [0, 0, 1, 1], k=1) == 1.0


def test_knn_cosine_ignores_norms():
    points = np.array([[1.0, 0.1], [9.0, 0.0], [0.1, 1.0], [0.0, 7.0]])
    assert metrics.knn(points, [0, 0, 1, 1], k=1, metric="cosine") == 1.0
    assert metrics.knn(points, [0, 0, 1, 1], k=1, metric="euclidean") == 0.5


def test_gbc_by_hand():
    # means 1 and 5, variances 1 and 1: D_B = 16 / 8 + 0 = 2, two ordered pairs
    assert metrics.gbc([[0.0], [2.0], [4.0], [6.0]], [0, 0, 1, 1]) == pytest.approx(-2 * math.exp(-2), rel=1e-12)


def test_gbc_floors_the_variance_of_a_one_sample_class():
    # class 0: mean 1, var 1; class 1: mean 5, var 0 -> 1e-4; Sigma = (1 + 1e-4) / 2
    s = (1 + 1e-4) / 2
    distance = 16 / s / 8 + 0.5 * (math.log(s) - 0.5 * math.log(1e-4))
    assert metrics.gbc([[0.0], [2.0], [5.0]], [0, 0, 1]) == pytest.approx(-2 * math.exp(-distance), rel=1e-12)


def test_gbc_is_invariant_to_a_shift_of_the_features():
    x, y = make_task()
    assert metrics.gbc(x + 100.0, y) == pytest.approx(metrics.gbc(x, y), rel=1e-9)


def test_transrate_by_hand():
    eps = 1e-4
    # centred features [-2, -1, 1, 2]; classes [-2, -1] and [1, 2] (each with squared norm 5)
    total = 0.5 * math.log(1 + 10 / (4 * eps))
    per_class = 0.5 * math.log(1 + 5 / (2 * eps))
    assert metrics.transrate([[0.0], [1.0], [3.0], [4.0]], [0, 0, 1, 1]) == pytest.approx(total - per_class,
                                                                                          rel=1e-12)


def test_transrate_matches_the_definition_on_unbalanced_classes():
    x, _ = make_task(n=90, d=6, c=3)
    y = np.array([0] * 70 + [1] * 4 + [2] * 16)  # class 1 has fewer samples than dimensions

    def rate(z):
        return 0.5 * np.linalg.slogdet(np.eye(z.shape[1]) + z.T @ z / (len(z) * 1e-4))[1]

    z = x - x.mean(axis=0)
    expected = rate(z) - np.mean([rate(z[y == c]) for c in range(3)])
    assert metrics.transrate(x, y) == pytest.approx(expected, rel=1e-10)


def test_parc_matches_spearman_of_the_dissimilarity_matrices():
    """The definition, with scipy's Spearman. The label dissimilarities are rounded: 1 - corrcoef of one-hot rows
    is 0 or C/(C-1) only up to float noise, and scipy would rank that noise (the authors' code does)."""
    x, y = make_task(n=40, d=5, c=3)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    upper = np.triu_indices(40, 1)
    feature_rdm = (1 - np.corrcoef(z))[upper]
    label_rdm = (1 - np.corrcoef(np.eye(3)[np.unique(y, return_inverse=True)[1]]))[upper].round(12)
    expected = 100 * scipy.stats.spearmanr(feature_rdm, label_rdm)[0]
    assert metrics.parc(x, y, n_components=None) == pytest.approx(expected, rel=1e-9)


def test_parc_needs_a_same_class_pair():
    with pytest.raises(ValueError, match="two samples"):
        metrics.parc(np.eye(3), [0, 1, 2])


def test_nleep_is_one_for_perfectly_clustered_classes():
    """Tight, far-apart classes: every mixture component is pure, so p(y_i | x_i) = 1 for every sample."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 100.0, 0.0]])
    y = np.repeat([0, 1, 2], 20)
    x = centres[y] + 0.1 * rng.normal(size=(60, 3))
    assert metrics.nleep(x, y) == pytest.approx(1.0, abs=1e-9)
    assert metrics.nleep(x, y, log=True) == pytest.approx(0.0, abs=1e-9)


def test_nleep_reports_a_degenerate_mixture():
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 10, axis=0)
    with pytest.raises(ModelFitError, match="ill-defined covariance") as info:
        metrics.nleep(x, [0] * 10 + [1] * 10, reg_covar=0.0)
    assert "reg_covar" in info.value.hint
