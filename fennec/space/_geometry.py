"""What the queries of a fitted space need beyond its factors, derived once per fit, update or model addition.

The training task vectors' mean (the cold prior's vector) and covariance (how much, and how alike, models' scores
vary across tasks), each model's spread of scores across tasks, and the moment matrix of the few-shot fold-in's
g-prior. Everything here is a function of ``(model_bias_, model_factors_, task_factors_)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Geometry"]


@dataclass
class Geometry:
    """The fitted views of a space and what is derived from them.

    Attributes
    ----------
    model_bias, model_factors, task_factors : ndarray
        ``b_m`` (n_models,), ``u_m`` (n_models, d) and ``v_t`` (n_tasks, d).
    task_mean : ndarray of shape (d,)
        Mean training task vector (float64).
    task_cov : ndarray of shape (d, d)
        Covariance of the training task vectors.
    model_spread : ndarray of shape (n_models,)
        Standard deviation of each model's score across the training tasks, ``sqrt(u_m' C u_m)``.
    fold_in_moment : ndarray of shape (d + 1, d + 1)
        ``X'X / n`` of ``X = [b, U]`` over all models, centred (the fold-in's g-prior).
    """

    model_bias: np.ndarray
    model_factors: np.ndarray
    task_factors: np.ndarray
    task_mean: np.ndarray = field(init=False)
    task_cov: np.ndarray = field(init=False)
    model_spread: np.ndarray = field(init=False)
    fold_in_moment: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.task_mean = self.task_factors.astype(np.float64).mean(0)
        centred = self.task_factors - self.task_mean
        self.task_cov = centred.T @ centred / max(len(self.task_factors), 1)
        self.model_spread = np.sqrt(np.maximum(np.einsum("id,de,ie->i", self.model_factors, self.task_cov,
                                                         self.model_factors), 0.0))
        x = np.column_stack([self.model_bias, self.model_factors]).astype(np.float64)
        x -= x.mean(0)  # the free intercept takes the means
        self.fold_in_moment = x.T @ x / max(len(x), 1) + 1e-6 * np.eye(x.shape[1])

    def correlation(self, rows: list[int]) -> np.ndarray:
        """Correlation (n_models, len(rows)) across tasks of every model's score with the models at ``rows``:
        ``u_m' C u_t / (spread_m spread_t)`` with ``C`` the covariance of the task vectors (biases cancel)."""
        cov = self.model_factors @ (self.task_cov @ self.model_factors[rows].T)
        scale = np.outer(self.model_spread, self.model_spread[rows])
        return np.where(scale > 1e-12, cov / np.maximum(scale, 1e-12), 0.0)
