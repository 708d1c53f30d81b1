"""The held-out problems behind :mod:`fennec.space._uncertainty`: each training task predicted from the others, cold
and with ``k`` of its results revealed, through the same kernel and fold-in a new task goes through.

Leaving task ``j`` out: its models' biases are recomputed without its records, the cold-task kernel's weights and
the prior's mean vector are taken over the other tasks only, and its location and scale come from the other tasks'
values weighed by that kernel. The model vectors were fitted on task ``j`` too; what that flatters is measured where
it counts, on tasks the space never saw (the harness's calibration protocol,
``python -m benchmark run --protocol calibration``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from fennec.space._bias import shrunk_mean
from fennec.space._fold_in import fold_in
from fennec.space._geometry import Geometry
from fennec.space._kernel import TaskKernel
from fennec.space._records import Records
from fennec.space._uncertainty import (
    K_GRID,
    MAX_SCORES,
    RANKS,
    TOP,
    Uncertainty,
    model_widths,
    task_units,
)

__all__ = ["FoldIn", "cold_problems", "fit_uncertainty", "loo_weights", "task_statistics"]

#: Seeded draws of revealed results per held-out task and ``k``.
DRAWS = 3


@dataclass(frozen=True)
class FoldIn:
    """The space's few-shot settings: its normalisation, ``fold_in_temperature`` and ``fold_in_alpha``."""

    method: str
    temperature: float
    alpha: float


def task_statistics(records: Records, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each task's raw values."""
    count = np.maximum(np.bincount(records.task, minlength=n_tasks), 1)
    mean = np.bincount(records.task, weights=records.value, minlength=n_tasks) / count
    var = np.bincount(records.task, weights=(records.value - mean[records.task]) ** 2, minlength=n_tasks) / count
    return mean, np.sqrt(var)


def loo_weights(kernel: TaskKernel, task: int, n_tasks: int) -> tuple[np.ndarray, float]:
    """The cold-task kernel's weights over the training tasks other than ``task`` for ``task``'s own side features,
    and their largest similarity (0 when the kernel is unused or the task has no side features)."""
    where = np.flatnonzero(kernel.rows == task)
    if not kernel.used or not len(where) or len(kernel.rows) < 2:
        return np.full(n_tasks - 1, 1.0 / (n_tasks - 1)), 0.0
    keep = kernel.rows != task
    rows = kernel.rows[keep] - (kernel.rows[keep] > task)
    others = TaskKernel(kernel.points[keep], rows, kernel.settings)
    query = kernel.points[where[:1]]
    weights, _ = others.weights(query, n_tasks - 1)
    return weights[0], float(others.similarity(query).max())


def _leave_out(geometry: Geometry, task: int, model_bias: np.ndarray) -> Geometry:
    """``geometry`` without training task ``task`` and with ``model_bias`` (the fold-in's g-prior is kept)."""
    out = copy.copy(geometry)
    out.model_bias = model_bias
    out.task_factors = np.delete(geometry.task_factors, task, axis=0)
    out.task_mean = out.task_factors.astype(np.float64).mean(0)
    return out


def _ranking_row(p: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    """hit@TOP, regret@TOP (units of ``sigma``) and in-true-top-3 per predicted rank of predictions ``p``."""
    order = np.argsort(-p, kind="stable")
    best = y.max()
    hits = [float(y[order[:k]].max() >= best) for k in TOP]
    regrets = [float(best - y[order[:k]].max()) / sigma for k in TOP]
    third = np.sort(y)[::-1][min(2, len(y) - 1)]
    in_top = (y[order] >= third).astype(np.float64)
    ranks = np.concatenate([in_top, np.full(max(RANKS - len(in_top), 0), in_top[-1])])[:RANKS]
    return np.concatenate([hits, regrets, ranks])


def fit_uncertainty(records: Records, z: np.ndarray, prior: np.ndarray, shrink: float, geometry: Geometry,
                    kernel: TaskKernel, fold: FoldIn, max_tasks: int, seed: int = 0) -> Uncertainty:
    """Run the held-out problems of (at most ``max_tasks``) training tasks of a fitted space: ``records`` and their
    normalised values ``z``, the model biases' ``prior`` and ``shrink``, its ``geometry`` and cold-task ``kernel``."""
    n_models, n_tasks = len(geometry.model_bias), len(geometry.task_factors)
    location, scale = task_statistics(records, n_tasks)
    widths = model_widths(records, z.astype(np.float64), n_models)
    out = Uncertainty({g: np.zeros(0) for g in K_GRID}, np.zeros((0, 2 + 2 * len(TOP) + RANKS)), widths,
                      location, scale)
    if n_tasks < 3:
        return out
    rng = np.random.default_rng(seed)
    tasks = np.arange(n_tasks) if n_tasks <= max_tasks else np.sort(rng.choice(n_tasks, max_tasks, replace=False))
    count, total = records.per_model(n_models, z)
    order = np.argsort(records.task, kind="stable")
    starts = np.searchsorted(records.task[order], np.arange(n_tasks + 1))
    scores: dict[int, list[np.ndarray]] = {g: [] for g in K_GRID}
    shares: dict[int, list[np.ndarray]] = {g: [] for g in K_GRID}  # of each task's weight 1
    problems = []
    for j in tasks:
        at = order[starts[j]:starts[j + 1]]
        models, y = records.model[at], records.value[at]
        if len(models) < 3:
            continue
        bias = geometry.model_bias.astype(np.float64)
        bias[models] = shrunk_mean(total[models] - z[at], count[models] - 1, prior[models], shrink)
        weights, nearness = loo_weights(kernel, int(j), n_tasks)
        others = np.arange(n_tasks) != j
        held = _HeldOutTask(_leave_out(geometry, int(j), bias), weights, models, y, widths[models], fold,
                            float(weights @ location[others]), float(weights @ scale[others]))
        for k in K_GRID:
            draws = _draws(len(models), k, rng)
            for revealed in draws:
                r, row = held.solve(revealed)
                scores[k].append(r)
                # cold: a task weighs 1 (its values share its unknown level); revealed: each value weighs 1
                shares[k].append(np.full(len(r), 1.0 / (len(r) * len(draws)) if k == 0 else 1.0))
                problems.append(np.concatenate([[k, nearness], row]))
    for g in K_GRID:
        out.scores[g], out.weights[g] = _capped(np.concatenate(scores[g]) if scores[g] else np.zeros(0),
                                                np.concatenate(shares[g]) if shares[g] else np.zeros(0), rng)
    out.problems = np.array(problems) if problems else out.problems
    return out


def cold_problems(records: Records, z: np.ndarray, prior: np.ndarray, shrink: float, geometry: Geometry,
                  kernel: TaskKernel) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Each training task predicted cold from the others, as in :func:`fit_uncertainty`: ``(task, its models, their
    normalised values, the cold predictions)``, in normalised units (what the pairwise term is fitted on)."""
    n_models, n_tasks = len(geometry.model_bias), len(geometry.task_factors)
    if n_tasks < 3:
        return []
    count, total = records.per_model(n_models, z)
    order = np.argsort(records.task, kind="stable")
    starts = np.searchsorted(records.task[order], np.arange(n_tasks + 1))
    out = []
    for j in range(n_tasks):
        at = order[starts[j]:starts[j + 1]]
        models = records.model[at]
        bias = geometry.model_bias.astype(np.float64)
        bias[models] = shrunk_mean(total[models] - z[at], count[models] - 1, prior[models], shrink)
        weights, _ = loo_weights(kernel, j, n_tasks)
        left_out = _leave_out(geometry, j, bias)
        vector = weights @ left_out.task_factors.astype(np.float64) - left_out.task_mean
        out.append((j, models, z[at].astype(np.float64), bias[models] + geometry.model_factors[models] @ vector))
    return out


def _draws(n: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Which of a task's ``n`` results are revealed: none for ``k = 0``, else :data:`DRAWS` seeded draws of ``k``
    (none when fewer than ``k + 2`` remain)."""
    if k == 0:
        return [np.zeros(0, np.int64)]
    if n < k + 2:
        return []
    return [np.sort(rng.choice(n, k, replace=False)) for _ in range(DRAWS)]


def _capped(scores: np.ndarray, weights: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """At most :data:`MAX_SCORES` scores (a seeded subsample, its weights rescaled to the same total), sorted."""
    if len(scores) > MAX_SCORES:
        keep = rng.choice(len(scores), MAX_SCORES, replace=False)
        total = weights.sum()
        scores, weights = scores[keep], weights[keep]
        weights = weights * (total / weights.sum())
    order = np.argsort(scores, kind="stable")
    return scores[order], weights[order]


@dataclass
class _HeldOutTask:
    """One training task predicted from the others: the left-out geometry and kernel weights, its models, values
    and widths, and the location and scale of its units from the other tasks."""

    geometry: Geometry
    weights: np.ndarray
    models: np.ndarray
    values: np.ndarray
    widths: np.ndarray
    fold: FoldIn
    location: float
    scale: float

    def solve(self, revealed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed nonconformity of the unrevealed values and the ranking row, with the results at ``revealed``."""
        g, f = self.geometry, self.fold
        vector = fold_in(g, self.weights, self.models[revealed], self.values[revealed], method=f.method,
                         temperature=f.temperature, alpha=f.alpha)
        p = g.model_bias[self.models] + g.model_factors[self.models].astype(np.float64) @ vector
        mu, sigma = task_units(self.location, self.scale, p[revealed], self.values[revealed])
        hidden = np.ones(len(p), bool)
        hidden[revealed] = False
        predicted = mu + sigma * p[hidden]
        residual = (self.values[hidden] - predicted) / (sigma * self.widths[hidden])
        return residual, _ranking_row(p[hidden], self.values[hidden], sigma)
