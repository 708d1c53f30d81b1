"""Cold-start task vectors of :class:`fennec.space.TransferSpace`: kernel regression over the training tasks.

A task known only by its side features ``psi`` gets

.. math::

    v(\\psi) = \\bar v + \\frac{\\sum_j k_j (v_j - \\bar v)}{\\sum_j k_j + \\kappa}, \\qquad
    k_j = 2^{-(\\lVert \\psi - \\psi_j \\rVert / h)^2}

over the training tasks ``j`` (``v_bar``: their mean vector, i.e. the popularity prior). ``kappa`` is the weight of
the prior: a task far from every training task gets ``v_bar``, one close to a few of them leans towards their
vectors. The width ``h`` and the prior weight ``kappa`` are chosen by leave-one-task-out on the training tasks
themselves (each training task predicted from the others, ranked against its own records); when no setting beats
the prior by a margin, the side features are not used at all (``kappa = inf``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["TaskKernel", "calibrate_task_kernel", "scaled_distances"]

#: Candidate widths, in multiples of the median nearest-neighbour spacing of the training tasks.
WIDTHS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Candidate prior weights (pseudo-count of the mean task).
PRIORS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Mean weighted tau by which a setting must beat the prior alone to be used.
MARGIN = 0.03


def scaled_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and ``b``, per square root of the dimension."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0) / max(a.shape[1], 1))


@dataclass
class TaskKernel:
    """The calibrated kernel: training task features and rows, width ``h`` and prior weight ``kappa``."""

    points: np.ndarray
    rows: np.ndarray
    width: float = 1.0
    prior: float = float("inf")

    def predict(self, queries: np.ndarray, vectors: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Task vectors (n, d) for standardised side features (n, q), and the weight of the data against the prior
        (``sum k / (sum k + kappa)``, in [0, 1]: 0 when the features say nothing)."""
        n = queries.shape[0]
        if not np.isfinite(self.prior) or self.points.shape[0] == 0:
            return np.broadcast_to(mean, (n, len(mean))).astype(np.float64), np.zeros(n)
        weights = np.exp2(-(scaled_distances(queries, self.points) / self.width) ** 2)
        total = weights.sum(1)
        shifted = weights @ (vectors[self.rows] - mean) / (total + self.prior)[:, None]
        return mean + shifted, total / (total + self.prior)


def _weighted_tau(predicted: np.ndarray, truth: np.ndarray) -> float:
    if len(truth) < 2 or np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return 0.0
    return float(stats.weightedtau(predicted, truth).statistic)


def calibrate_task_kernel(points: np.ndarray, rows: np.ndarray, vectors: np.ndarray, model_factors: np.ndarray,
                          column: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]],
                          observed: Callable[[np.ndarray, np.ndarray], np.ndarray], spacing: float,
                          max_tasks: int, rng: np.random.Generator) -> TaskKernel:
    """Choose width and prior weight by leave-one-task-out over (at most ``max_tasks`` of) the training tasks.

    ``column(j)`` gives task row ``j``'s models, their z-scored values and their bias computed without task ``j``;
    ``observed(task_rows, models)`` the z-scores of those tasks on those models (NaN where there is no record);
    ``vectors`` are all training task vectors (their mean without ``j`` is the prior for ``j``).

    A neighbour's pull on a held-out task is its observed z-scores minus the prior, and only where it has no
    record, the space's reconstruction ``<u_m, v_i - v_bar>``: the model vectors were fitted on the held-out task
    too, so leaning on them would flatter the kernel on a small history (on a large one they are rarely needed
    and the task's own share in them is negligible).
    """
    kernel = TaskKernel(points, rows)
    if len(rows) < 3:
        return kernel
    chosen = np.arange(len(rows))
    if len(chosen) > max_tasks:
        chosen = np.sort(rng.choice(len(rows), max_tasks, replace=False))
    widths = np.asarray(WIDTHS) * spacing
    table = np.zeros((len(chosen), len(widths), len(PRIORS)))
    baseline = np.zeros(len(chosen))
    dist = scaled_distances(points[chosen], points)
    total_vector = vectors.sum(0)
    for i, j in enumerate(chosen):
        models, z, bias = column(int(rows[j]))
        others = rows[np.arange(len(rows)) != j]
        mean = (total_vector - vectors[rows[j]]) / (len(vectors) - 1)
        u = model_factors[models]
        prior_scores = bias + u @ mean
        baseline[i] = _weighted_tau(prior_scores, z)
        seen = observed(others, models).T  # (n_models_j, n_others)
        deviation = np.where(np.isnan(seen), u @ (vectors[others] - mean).T, seen - prior_scores[:, None])
        for w, width in enumerate(widths):
            k = np.exp2(-(dist[i, np.arange(len(rows)) != j] / width) ** 2)
            tilt, mass = deviation @ k, k.sum()
            for p, prior in enumerate(PRIORS):
                table[i, w, p] = _weighted_tau(prior_scores + tilt / (mass + prior), z)
    best = np.unravel_index(np.argmax(table.mean(0)), table.shape[1:])
    # The gain of the whole procedure, not of its winner: each held-out task is scored by the setting that wins on
    # the other held-out tasks (a best-of-many setting flatters itself on the tasks it was picked on).
    flat = table.reshape(len(chosen), -1)
    picks = np.argmax(flat.sum(0)[None] - flat, axis=1)
    gains = flat[np.arange(len(chosen)), picks] - baseline
    # tilt only for a clear gain: at least MARGIN, and two standard errors above zero
    if gains.mean() >= max(MARGIN, 2 * gains.std(ddof=1) / np.sqrt(len(gains))):
        kernel.width, kernel.prior = float(widths[best[0]]), float(PRIORS[best[1]])
    import os
    if os.environ.get("FENNEC_EXP_DEBUG"):
        print("CALIB", round(baseline.mean(), 3), round(gains.mean(), 3), round(gains.std(ddof=1) / np.sqrt(len(gains)), 3), best, flush=True)
    return kernel
