"""Per-task normalisation of transfer values, before anything is learned from them.

Tasks differ in difficulty and units (accuracy on CIFAR-10 against accuracy on SVHN), so only the order of the
models within a task is the signal. Two normalisations are offered:

- ``"normal-scores"`` (the default of :class:`fennec.space.TransferSpace`): the rank-based inverse normal transform,
  ``Phi^-1((r - 1/2) / n)`` for the model of rank ``r`` (1 = worst, ties share their mean rank) among the task's
  ``n`` models. Every task then has the same, Gaussian, spread of values whatever its raw distribution.
- ``"zscore"``: centred and divided by the sample standard deviation, as the popularity baseline of the
  evaluation spec does.

Why normal scores: fine-tuning results are skewed. A few runs that failed (a model left at chance accuracy) sit
many standard deviations below the rest, so under z-scores they set the scale of their task, the good models are
squeezed together near the top, and a mean over tasks ranks models by how rarely they fail rather than by how well
the good ones do. Normal scores give every rank step the weight a Gaussian sample would, so the top of each
task's order counts as much as its bottom.

Examples
--------
>>> import numpy as np
>>> normalize(np.array([0.10, 0.80, 0.82, 0.85]), "normal-scores").round(2)
array([-1.15, -0.32,  0.32,  1.15])
>>> normalize(np.array([0.10, 0.80, 0.82, 0.85]), "zscore").round(2)
array([-1.5 ,  0.43,  0.49,  0.57])
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from fennec.errors import UnknownNameError

__all__ = ["NORMALIZATIONS", "check_normalization", "normalize", "normalize_per_task"]

#: Names accepted by :func:`normalize` and :func:`normalize_per_task` (the first is the default).
NORMALIZATIONS = ("normal-scores", "zscore")


def check_normalization(method: str) -> str:
    """``method`` if it is a known normalisation, else an :class:`~fennec.errors.UnknownNameError`."""
    if method not in NORMALIZATIONS:
        raise UnknownNameError.of("normalization", method, NORMALIZATIONS)
    return method


def normalize_per_task(task_idx: np.ndarray, values: np.ndarray, n_tasks: int,
                       method: str = "normal-scores") -> np.ndarray:
    """Values normalised within each task, for records given as parallel arrays (float64, in record order).

    Parameters
    ----------
    task_idx : ndarray of int
        Task row of each record, in ``[0, n_tasks)``.
    values : ndarray of float
        The records' values (higher is better).
    n_tasks : int
        Number of tasks.
    method : {"normal-scores", "zscore"}
        See the module docstring. A task with a single record gets 0; under ``zscore`` a task with no spread
        keeps standard deviation 1.
    """
    check_normalization(method)
    task_idx = np.asarray(task_idx, np.int64)
    values = np.asarray(values, np.float64)
    count = np.bincount(task_idx, minlength=n_tasks).astype(np.float64)
    if method == "zscore":
        return _zscores(task_idx, values, count)
    return _normal_scores(task_idx, values, count)


def normalize(values: np.ndarray, method: str = "normal-scores") -> np.ndarray:
    """One task's values normalised the way :func:`normalize_per_task` does it."""
    values = np.asarray(values, np.float64)
    return normalize_per_task(np.zeros(values.shape[0], np.int64), values, 1, method)


def _zscores(task_idx: np.ndarray, values: np.ndarray, count: np.ndarray) -> np.ndarray:
    n_tasks = count.shape[0]
    mean = np.bincount(task_idx, weights=values, minlength=n_tasks) / np.maximum(count, 1)
    centred = values - mean[task_idx]
    std = np.sqrt(np.bincount(task_idx, weights=centred ** 2, minlength=n_tasks) / np.maximum(count - 1, 1))
    std = np.where((count > 1) & (std > 1e-12), std, 1.0)
    return centred / std[task_idx]


def _normal_scores(task_idx: np.ndarray, values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """All tasks at once: one sort by (task, value); a run of equal values in a task shares its mean rank."""
    order = np.lexsort((values, task_idx))
    task_sorted, value_sorted = task_idx[order], values[order]
    n = order.shape[0]
    new_run = np.ones(n, bool)
    new_run[1:] = (task_sorted[1:] != task_sorted[:-1]) | (value_sorted[1:] != value_sorted[:-1])
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], n) - 1
    run_of = np.cumsum(new_run) - 1
    task_start = np.searchsorted(task_sorted, np.arange(count.shape[0]))
    # mean rank of the run (1-based within its task)
    rank = (run_start[run_of] + run_end[run_of]) / 2.0 - task_start[task_sorted] + 1.0
    out = np.empty(n)
    out[order] = ndtri((rank - 0.5) / count[task_sorted])
    return out
