r"""Model biases ``b_m``: each model's prior quality, its mean normalised value shrunk towards a prior.

.. math::

    b_m = \frac{\sum_t z_{mt} + s\,\pi_m}{n_m + s}

with ``s`` the pseudo-count ``bias_shrink`` and ``pi_m`` a ridge regression of the models' mean normalised values
on their standardised side features (:class:`BiasPrior`), so that a model with few or no records is placed by what
it is. With uniform task weights the ranking by ``b_m`` is popularity on normalised values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fennec.space._features import FeatureTable
from fennec.space._records import Records

__all__ = ["BiasPrior", "shrunk_mean"]

#: Ridge penalty of the regression from standardised model features to the model bias (cold models).
_BIAS_RIDGE = 10.0


@dataclass
class BiasPrior:
    """``pi_m = intercept + phi_m . coef`` (the intercept alone for a model without side features)."""

    intercept: float
    coef: np.ndarray

    @classmethod
    def fit(cls, records: Records, z: np.ndarray, table: FeatureTable, n_models: int) -> "BiasPrior":
        """Ridge regression of the models' mean normalised values ``z`` on their standardised side features."""
        count, total = records.per_model(n_models, z)
        mean = total / np.maximum(count, 1)
        rows = table.has & (count > 0)
        intercept = float(mean[count > 0].mean())
        coef = np.zeros(table.dim, np.float64)
        if table.dim and rows.sum() >= 2:
            x, y = table.matrix[rows].astype(np.float64), mean[rows] - intercept
            coef = np.linalg.solve(x.T @ x + _BIAS_RIDGE * np.eye(table.dim), x.T @ y)
        return cls(intercept, coef)

    def __call__(self, table: FeatureTable, rows: np.ndarray) -> np.ndarray:
        """The prior of the models at ``rows``."""
        return self.intercept + np.where(table.has[rows], table.matrix[rows] @ self.coef, 0.0)


def shrunk_mean(total: np.ndarray, count: np.ndarray, prior: np.ndarray, shrink: float) -> np.ndarray:
    """``(total + shrink * prior) / (count + shrink)``: a model's bias from the sum and count of its normalised
    values."""
    return (total + shrink * prior) / np.maximum(count + shrink, 1e-12)
