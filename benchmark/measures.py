"""Ranking measures of a method's scores against the true fine-tuned values of one task.

All are pure functions of two aligned 1-D arrays, ``predicted`` (the method's scores) and ``truth`` (the real
fine-tuned values), over the models that have both. Definitions follow ``specs/evaluation.md``:

- ``tau_w``: ``scipy.stats.weightedtau(predicted, truth)`` exactly (hyperbolic weigher, ranks from the values).
- ``kendall``, ``pearson``, ``spearman``: the scipy statistics.
- ``rel@1``: truth of the top-predicted model / best truth.
- ``regret@k``: best truth minus the best truth among the top-k predicted (in the value's units).
- ``hit@k``: whether the truly best model is among the top-k predicted.

Ties in the predictions are kept as ties: the top-k measures are the exact expectation over a uniformly random
order among tied predictions (so a method that scores everything equal gets the average, not the best case). A
correlation of a constant prediction is undefined; it is reported as 0.0 (no information), as is a constant truth.
"""
from __future__ import annotations

import warnings
from math import comb

import numpy as np
from scipy import stats

__all__ = ["MEASURES", "TOP_K", "evaluate_task", "top_k_best_distribution"]

TOP_K = (1, 3, 5)
MEASURES = ("tau_w", "kendall", "pearson", "spearman", "rel@1",
            *(f"regret@{k}" for k in TOP_K), *(f"hit@{k}" for k in TOP_K))


def evaluate_task(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Every measure of :data:`MEASURES` for one task.

    Parameters
    ----------
    predicted : ndarray of shape (n_models,)
        The method's scores (higher = expected to fine-tune better).
    truth : ndarray of shape (n_models,)
        The real fine-tuned values of the same models, in the same order.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> m = evaluate_task(np.array([3.0, 2.0, 1.0]), np.array([0.9, 0.8, 0.5]))
    >>> m["tau_w"], m["rel@1"], m["hit@1"]
    (1.0, 1.0, 1.0)
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if predicted.shape != truth.shape or predicted.ndim != 1:
        raise ValueError(f"predicted and truth must be 1-D of equal length. Got {predicted.shape} and {truth.shape}.")
    if len(truth) < 2:
        raise ValueError(f"A task needs at least 2 models with a truth value to be measured. Got {len(truth)}.")
    if not (np.isfinite(predicted).all() and np.isfinite(truth).all()):
        raise ValueError("predicted and truth must be finite; drop models without a prediction first.")
    result = _correlations(predicted, truth)
    best = truth.max()
    for k in TOP_K:
        values, probs = top_k_best_distribution(predicted, truth, k)
        expected_best = float(values @ probs)
        if k == 1:
            result["rel@1"] = float(expected_best / best) if best != 0 else float("nan")
        result[f"regret@{k}"] = float(best - expected_best)
        result[f"hit@{k}"] = float(probs[values == best].sum())
    return {name: result[name] for name in MEASURES}


def _correlations(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    if np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return dict.fromkeys(("tau_w", "kendall", "pearson", "spearman"), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "tau_w": float(stats.weightedtau(predicted, truth).statistic),
            "kendall": float(stats.kendalltau(predicted, truth).statistic),
            "pearson": float(stats.pearsonr(predicted, truth).statistic),
            "spearman": float(stats.spearmanr(predicted, truth).statistic),
        }


def top_k_best_distribution(predicted: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the best truth among the top-k predicted, over random orders of tied predictions.

    Returns ``(values, probabilities)``: the possible values of ``max(truth[top-k])`` and their probabilities.
    The models strictly above the k-th prediction are always in the top-k; of the group tied at the k-th prediction,
    a uniformly random subset fills the remaining places.
    """
    k = min(k, len(predicted))
    kth = np.sort(predicted)[::-1][k - 1]
    sure = truth[predicted > kth]
    tied = np.sort(truth[predicted == kth])[::-1]
    r = k - len(sure)
    # P(the best of a random r-subset of the g tied models is the i-th best of them) = C(g-1-i, r-1) / C(g, r).
    g = len(tied)
    probs = np.array([comb(g - 1 - i, r - 1) for i in range(g)], dtype=np.float64) / comb(g, r)
    if len(sure):
        values = np.maximum(tied, sure.max())
    else:
        values = tied
    return values, probs
