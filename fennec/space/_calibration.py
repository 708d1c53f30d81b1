"""Calibration of the cold-task kernel: which settings of :mod:`fennec.space._kernel`'s grid, if any, place a
cold task better than the prior, judged on the training tasks themselves.

Every setting (view, width, prior weight) is scored by leave-one-task-out: each training task is predicted from
the others and ranked against its own records (mean weighted tau over the held-out tasks). With 12 to 20 training
tasks the single best setting is mostly luck, so the kernel averages the settings that win on :data:`BAGS`
bootstrap resamples of the tasks (bagging, Breiman 1996); when that whole procedure, rerun without each held-out
task and scored on it, does not beat the prior by :data:`MARGIN` and by one standard error, the side features are
not used at all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse, stats

from fennec.space._bias import shrunk_mean
from fennec.space._features import FeatureTable
from fennec.space._kernel import (PRIORS, Blocks, KernelSetting, TaskKernel, block_distances, candidate_widths,
                                  views_of)
from fennec.space._records import Records

__all__ = ["calibrate", "calibrate_task_kernel", "MARGIN", "BAGS"]

#: Mean weighted tau by which the calibrated kernel must beat the prior alone to be used.
MARGIN = 0.03
#: Bootstrap resamples of the held-out tasks whose winning settings make up the kernel.
BAGS = 100


def calibrate(records: Records, z: np.ndarray, model_prior: np.ndarray, shrink: float, tasks: FeatureTable,
              task_factors: np.ndarray, model_factors: np.ndarray, blocks: tuple[int, ...] | None,
              max_tasks: int) -> TaskKernel:
    """The calibrated kernel of a space fitted on ``records`` (normalised values ``z``), with model biases shrunk
    by ``shrink`` towards ``model_prior``, task side features ``tasks`` in ``blocks``, and its factors."""
    rows = np.flatnonzero(tasks.has)
    n_models, n_tasks = len(model_factors), len(task_factors)
    count, total = records.per_model(n_models, z)
    order = np.argsort(records.task, kind="stable")
    starts = np.searchsorted(records.task[order], np.arange(n_tasks + 1))

    def column(task: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        at = order[starts[task]:starts[task + 1]]
        models, values = records.model[at], z[at]
        bias = shrunk_mean(total[models] - values, count[models] - 1, model_prior[models], shrink)  # without it
        return models, values, bias

    shape = (n_tasks, n_models)
    values = sparse.csr_matrix((z.astype(np.float64), (records.task, records.model)), shape=shape)
    present = sparse.csr_matrix((np.ones(len(z)), (records.task, records.model)), shape=shape)

    def observed(task_rows: np.ndarray, models: np.ndarray) -> np.ndarray:
        found = present[task_rows][:, models].toarray() > 0
        return np.where(found, values[task_rows][:, models].toarray(), np.nan)

    return calibrate_task_kernel(tasks.matrix[rows], rows, task_factors.astype(np.float64),
                                 model_factors.astype(np.float64), column, observed,
                                 views_of(blocks and tuple(blocks), tasks.dim), max_tasks, np.random.default_rng(0))


def _weighted_tau(predicted: np.ndarray, truth: np.ndarray) -> float:
    if len(truth) < 2 or np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return 0.0
    return float(stats.weightedtau(predicted, truth).statistic)


Column = Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]]
Observed = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _HeldOut:
    """The leave-one-task-out problems of the calibration: what predicting calibration task ``i`` (training task
    row ``rows[chosen[i]]``) from the other training tasks needs (see :func:`calibrate_task_kernel`)."""

    rows: np.ndarray
    chosen: np.ndarray
    distances: dict[Blocks, np.ndarray]  # per view: (n_chosen, n_rows) distances
    vectors: np.ndarray
    model_factors: np.ndarray
    column: Column
    observed: Observed
    total: np.ndarray = field(init=False)  # sum of all training task vectors (without task j's: j's prior)

    def __post_init__(self) -> None:
        self.total = self.vectors.sum(0)

    def __call__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[Blocks, np.ndarray]]:
        """Held-out task ``i``'s normalised values, the model biases without it, the other tasks' pull on its models
        (n_models_i, n_others) and its distances to the other tasks per view."""
        j = self.chosen[i]
        models, z, bias = self.column(int(self.rows[j]))
        others = np.arange(len(self.rows)) != j
        mean = (self.total - self.vectors[self.rows[j]]) / (len(self.vectors) - 1)
        seen = self.observed(self.rows[others], models).T
        deviation = np.where(np.isnan(seen), self.model_factors[models] @ (self.vectors[self.rows[others]]
                                                                           - mean).T, seen - bias[:, None])
        return z, bias, deviation, {view: d[i, others] for view, d in self.distances.items()}


def _tilt(deviation: np.ndarray, distances: np.ndarray, width: float) -> tuple[np.ndarray, float]:
    """The kernel-weighted pull ``sum_j k_j deviation_j`` of the other tasks on a held-out task, and ``sum_j k_j``."""
    k = np.exp2(-(distances / width) ** 2)
    return deviation @ k, float(k.sum())


def _taus(z: np.ndarray, bias: np.ndarray, deviation: np.ndarray, distances: dict[Blocks, np.ndarray],
          settings: list[tuple[Blocks, float]]) -> np.ndarray:
    """Weighted tau of a held-out task under every setting (flat over settings x :data:`PRIORS`)."""
    out = np.empty((len(settings), len(PRIORS)))
    for s, (view, width) in enumerate(settings):
        tilt, mass = _tilt(deviation, distances[view], width)
        out[s] = [_weighted_tau(bias + tilt / (mass + prior), z) for prior in PRIORS]
    return out.ravel()


def _bagged_shares(gains: np.ndarray, seed: int) -> np.ndarray:
    """Share of each setting (columns of ``gains``, rows: held-out tasks) among the winners of :data:`BAGS`
    bootstrap resamples of the tasks (bagging, Breiman 1996: one winner picked on 12-20 tasks is mostly noise)."""
    rng = np.random.default_rng(seed)
    n = len(gains)
    wins = np.bincount([int(np.argmax(gains[rng.integers(0, n, n)].mean(0))) for _ in range(BAGS)],
                       minlength=gains.shape[1])
    return wins / BAGS


def _prediction(bias: np.ndarray, deviation: np.ndarray, distances: np.ndarray, settings: list,
                shares: np.ndarray) -> np.ndarray:
    """The held-out task's predicted normalised values under the settings' shares (flat over settings x priors)."""
    out = bias.copy()
    for flat in np.flatnonzero(shares):
        s, p = divmod(int(flat), len(PRIORS))
        view, width = settings[s]
        tilt, mass = _tilt(deviation, distances[view], width)
        out += shares[flat] * tilt / (mass + PRIORS[p])
    return out


def calibrate_task_kernel(points: np.ndarray, rows: np.ndarray, vectors: np.ndarray, model_factors: np.ndarray,
                          column: Column, observed: Observed, views: list[Blocks], max_tasks: int,
                          rng: np.random.Generator) -> TaskKernel:
    """Choose views, widths and prior weights by leave-one-task-out over (at most ``max_tasks`` of) the training
    tasks, bagged.

    ``column(j)`` gives task row ``j``'s models, their normalised values and their bias computed without task ``j``;
    ``observed(task_rows, models)`` the normalised values of those tasks on those models (NaN where there is no record);
    ``vectors`` are all training task vectors (their mean without ``j`` is the prior for ``j``).

    A neighbour's pull on a held-out task is its observed normalised values minus the prior, and only where it has no
    record, the space's reconstruction ``<u_m, v_i - v_bar>``: the model vectors were fitted on the held-out task
    too, so leaning on them would flatter the kernel on a small history (on a large one they are rarely needed
    and the task's own share in them is negligible).

    Every setting (view, width, prior) is scored by its mean weighted tau over the held-out tasks; the kernel
    averages the winners of bootstrap resamples of those tasks (:func:`_bagged_shares`). It is used only when the
    whole procedure, run without each held-out task and scored on it, beats the prior by :data:`MARGIN` and by
    one standard error.
    """
    if len(rows) < 3:
        return TaskKernel(points, rows)
    chosen = np.arange(len(rows))
    if len(chosen) > max_tasks:
        chosen = np.sort(rng.choice(len(rows), max_tasks, replace=False))
    seed = int(rng.integers(2 ** 31))
    dists, settings = {}, []
    for view in views:  # all pairwise distances once per view: the width grid and the held-out rows need them
        full = block_distances(points, points, view)
        dists[view] = full[chosen]
        settings += [(view, width) for width in candidate_widths(full)]
    held_out = _HeldOut(rows, chosen, dists, vectors, model_factors, column, observed)
    gains = np.zeros((len(chosen), len(settings) * len(PRIORS)))
    baseline = np.zeros(len(chosen))  # the prior: the model biases alone
    for i in range(len(chosen)):
        z, bias, deviation, distances = held_out(i)
        baseline[i] = _weighted_tau(bias, z)
        gains[i] = _taus(z, bias, deviation, distances, settings) - baseline[i]
    # The gain of the whole procedure, not of its result: each held-out task is scored by the kernel bagged on
    # the other held-out tasks (a kernel picked on the tasks it is scored on flatters itself).
    nested = np.zeros(len(chosen))
    for i in range(len(chosen)):  # the held-out problems again: keeping every task's deviations would not scale
        z, bias, deviation, distances = held_out(i)
        shares = _bagged_shares(np.delete(gains, i, axis=0), seed)
        nested[i] = _weighted_tau(_prediction(bias, deviation, distances, settings, shares), z) - baseline[i]
    if nested.mean() < max(MARGIN, nested.std(ddof=1) / np.sqrt(len(nested))):
        return TaskKernel(points, rows)
    shares = _bagged_shares(gains, seed)
    return TaskKernel(points, rows, tuple(
        KernelSetting(settings[s][0], float(settings[s][1]), float(PRIORS[p]), float(shares[flat]))
        for flat in np.flatnonzero(shares) for s, p in [divmod(int(flat), len(PRIORS))]))
