"""Cold-start task vectors of :class:`fennec.space.TransferSpace`: kernel regression over the training tasks.

A task known only by its side features ``psi`` gets

.. math::

    v(\\psi) = \\bar v + \\frac{\\sum_j k_j (v_j - \\bar v)}{\\sum_j k_j + \\kappa}, \\qquad
    k_j = 2^{-(\\lVert \\psi - \\psi_j \\rVert / h)^2}

over the training tasks ``j`` (``v_bar``: their mean vector, i.e. the popularity prior). ``kappa`` is the weight of
the prior: a task far from every training task gets ``v_bar``, one close to a few of them leans towards their
vectors. The side features may come in blocks (label-name embedding, description embedding, size, a vision proxy's
distances...): the distance is then the root mean square of the per-block distances (each per square root of its
dimension), over one block or over all of them (a *view*), so that a 13-column block is not drowned by a
768-column one. The view, the width ``h`` and the prior weight ``kappa`` are chosen by leave-one-task-out on the
training tasks themselves (each training task predicted from the others, ranked against its own records); when no
setting beats the prior by a margin, the side features are not used at all (``kappa = inf``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from fennec.errors import InputError

__all__ = ["TaskKernel", "calibrate_task_kernel", "block_distances", "median_spacing", "scaled_distances",
           "views_of"]

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


Blocks = tuple[tuple[int, int], ...]


def block_distances(a: np.ndarray, b: np.ndarray, blocks: Blocks = ()) -> np.ndarray:
    """Root mean square over ``blocks`` (column ranges; all columns when empty) of :func:`scaled_distances`."""
    if not blocks:
        return scaled_distances(a, b)
    squares = [scaled_distances(a[:, lo:hi], b[:, lo:hi]) ** 2 for lo, hi in blocks]
    return np.sqrt(np.mean(squares, axis=0))


def views_of(sizes: tuple[int, ...] | None, dim: int) -> list[Blocks]:
    """Candidate views for blocks of the given ``sizes`` (summing to ``dim``): all columns as one block, each block
    alone, all blocks with equal weight; only the first when there are no blocks."""
    if not sizes or len(sizes) < 2:
        return [()]
    if sum(sizes) != dim:
        raise InputError(f"`task_blocks` of TransferSpace must sum to the number of task feature columns ({dim}). "
                         f"Got {list(sizes)} (sum {sum(sizes)}) instead.")
    ends = np.cumsum(sizes)
    blocks = tuple((int(e - n), int(e)) for n, e in zip(sizes, ends))
    return [()] + [(block,) for block in blocks] + [blocks]


@dataclass
class TaskKernel:
    """The calibrated kernel: training task features and rows, view (column blocks), width ``h`` and prior
    weight ``kappa``."""

    points: np.ndarray
    rows: np.ndarray
    width: float = 1.0
    prior: float = float("inf")
    blocks: Blocks = ()

    def weights(self, queries: np.ndarray, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
        """Weights (n, n_tasks) over the training tasks, summing to 1, for standardised side features (n, q), and
        the weight of the data against the prior (``sum k / (sum k + kappa)``, in [0, 1]: 0 when the features say
        nothing).

        Task ``j`` weighs ``(k_j + kappa / n_tasks) / (sum k + kappa)``, so the weighted mean of the training task
        vectors is the kernel regression of the module docstring; without a usable kernel the weights are uniform
        (their mean vector is the prior ``v_bar``).
        """
        n = queries.shape[0]
        if not np.isfinite(self.prior) or self.points.shape[0] == 0:
            return np.full((n, n_tasks), 1.0 / n_tasks), np.zeros(n)
        kernel = np.exp2(-(block_distances(queries, self.points, self.blocks) / self.width) ** 2)
        total = kernel.sum(1)
        weights = np.full((n, n_tasks), self.prior / n_tasks)
        weights[:, self.rows] += kernel
        return weights / (total + self.prior)[:, None], total / (total + self.prior)


def _weighted_tau(predicted: np.ndarray, truth: np.ndarray) -> float:
    if len(truth) < 2 or np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return 0.0
    return float(stats.weightedtau(predicted, truth).statistic)


def calibrate_task_kernel(points: np.ndarray, rows: np.ndarray, vectors: np.ndarray, model_factors: np.ndarray,
                          column: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]],
                          observed: Callable[[np.ndarray, np.ndarray], np.ndarray], views: list[Blocks],
                          max_tasks: int, rng: np.random.Generator) -> TaskKernel:
    """Choose view, width and prior weight by leave-one-task-out over (at most ``max_tasks`` of) the training tasks.

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
    dists, settings = {}, []
    for view in views:  # all pairwise distances once per view: the width grid and the held-out rows need them
        full = block_distances(points, points, view)
        dists[view] = full[chosen]
        settings += [(view, width) for width in _widths(full)]
    table = np.zeros((len(chosen), len(settings), len(PRIORS)))
    baseline = np.zeros(len(chosen))
    total_vector = vectors.sum(0)
    for i, j in enumerate(chosen):
        models, z, bias = column(int(rows[j]))
        others = np.arange(len(rows)) != j
        mean = (total_vector - vectors[rows[j]]) / (len(vectors) - 1)
        u = model_factors[models]
        baseline[i] = _weighted_tau(bias, z)  # the prior: the model biases alone
        seen = observed(rows[others], models).T  # (n_models_j, n_others)
        deviation = np.where(np.isnan(seen), u @ (vectors[rows[others]] - mean).T, seen - bias[:, None])
        for s, (view, width) in enumerate(settings):
            k = np.exp2(-(dists[view][i, others] / width) ** 2)
            tilt, mass = deviation @ k, k.sum()
            for p, prior in enumerate(PRIORS):
                table[i, s, p] = _weighted_tau(bias + tilt / (mass + prior), z)
    best = np.unravel_index(np.argmax(table.mean(0)), table.shape[1:])
    # The gain of the whole procedure, not of its winner: each held-out task is scored by the setting that wins on
    # the other held-out tasks (a best-of-many setting flatters itself on the tasks it was picked on).
    flat = table.reshape(len(chosen), -1)
    picks = np.argmax(flat.sum(0)[None] - flat, axis=1)
    gains = flat[np.arange(len(chosen)), picks] - baseline
    # tilt only for a clear gain: at least MARGIN, and one standard error above zero
    if gains.mean() >= max(MARGIN, gains.std(ddof=1) / np.sqrt(len(gains))):
        view, width = settings[best[0]]
        kernel.blocks, kernel.width, kernel.prior = view, float(width), float(PRIORS[best[1]])
    return kernel


def median_spacing(distances: np.ndarray) -> float:
    """The median distance from each point to its nearest other point (``distances``: their pairwise distances);
    1.0 when there are fewer than two points or they coincide."""
    if len(distances) < 2:
        return 1.0
    nearest = np.where(np.eye(len(distances), dtype=bool), np.inf, distances).min(1)
    spacing = float(np.median(nearest))
    return spacing if spacing > 1e-6 else 1.0


def _widths(distances: np.ndarray) -> np.ndarray:
    """Candidate widths of a view: :data:`WIDTHS` times the median nearest-neighbour spacing of the training tasks
    (``distances``: their pairwise distances in that view)."""
    return np.asarray(WIDTHS) * median_spacing(distances)
