"""The few-shot fold-in: a task vector from prior weights over the training tasks and a few revealed results.

1. Reweighting: the revealed values are normalised among themselves; training task ``j`` gets weight
   ``w_j * exp((k - 1) * rho_j / fold_in_temperature)``, ``rho_j`` the correlation of the revealed values with
   task ``j``'s scores on the same ``k`` models. The reweighted mean of the training task vectors stays a blend of
   real tasks: a few results pick the tasks they resemble, never an extrapolation.
2. Ridge: ``z ~ c + beta * b_m + <u_m, v>`` fitted to the revealed results, with a free intercept ``c`` (their
   mean says nothing about the order) and a g-prior on ``(beta, v)`` centred on ``(1, step 1)`` with precision
   ``fold_in_alpha * X'X / n`` (``X = [b, U]`` over all models, centred): the prior counts as ``fold_in_alpha``
   results, so a handful of results barely move ``v`` while many can reach a task unlike any training task.
   ``v / max(beta, 0.25)`` is returned: the fitted order, with a floor so that a poorly estimated ``beta`` cannot
   turn the prior off or flip it.

Cost: one ``k x n_tasks`` product and a ``(d + 2)``-square solve per query, whatever the size of the history.
"""
from __future__ import annotations

import numpy as np

from fennec.normalize import normalize
from fennec.space._geometry import Geometry

__all__ = ["fold_in"]

#: Floor of the fitted weight of the model prior (see the module docstring, step 2).
_MIN_BIAS_WEIGHT = 0.25
#: Prior precision of the free intercept in the ridge solve (almost unregularised).
_INTERCEPT_ALPHA = 1e-3


def fold_in(geometry: Geometry, weights: np.ndarray, rows: np.ndarray, values: np.ndarray, *, method: str,
            temperature: float, alpha: float) -> np.ndarray:
    """The task vector (relative to the mean training task) of a task with prior ``weights`` over the training
    tasks and revealed raw ``values`` of the models at ``rows`` (none: the prior's vector).

    ``method`` is the space's normalisation, ``temperature`` its ``fold_in_temperature`` and ``alpha`` its
    ``fold_in_alpha``.
    """
    vectors = geometry.task_factors.astype(np.float64)
    if len(rows) == 0:
        return weights @ vectors - geometry.task_mean
    bias, factors = geometry.model_bias[rows], geometry.model_factors[rows]
    target = normalize(np.asarray(values, np.float64), method)
    if len(rows) > 1:
        scores = bias[:, None] + factors @ vectors.T
        scores = scores - scores.mean(0)
        rho = scores.T @ target / np.sqrt((scores ** 2).sum(0) * (target ** 2).sum() + 1e-12)
        logits = np.log(np.maximum(weights, 1e-300)) + (len(rows) - 1) * rho / temperature
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
    prior = weights @ vectors - geometry.task_mean
    n_factors = vectors.shape[1]
    design = np.column_stack([np.ones(len(rows)), bias, factors])
    penalty = np.zeros((n_factors + 2, n_factors + 2))
    penalty[0, 0] = _INTERCEPT_ALPHA
    penalty[1:, 1:] = alpha * geometry.fold_in_moment
    w0 = np.concatenate([[0.0, 1.0], prior])
    w = np.linalg.solve(design.T @ design + penalty, design.T @ target + penalty @ w0)
    # Scores are b_m + <u_m, v>: dividing v by beta keeps the fitted order (beta b + U v); beta is floored so a
    # poorly estimated (near-zero or negative) beta cannot blow v up or flip the model prior.
    return w[2:] / max(w[1], _MIN_BIAS_WEIGHT)
