"""Headroom: how far a benchmark lets a cold-task method get past its prior, measured with the answer in hand.

For each target task (held out; every other task is its history) the models are ranked by:

- ``prior``: their mean normal score over the history tasks (``popularity-ns``, the space's prior);
- ``nearest@oracle``: the normal scores of the one history task whose ranking agrees best with the target's (tau_w,
  chosen with the target's true values): the most that finding the one right similar task could give;
- ``top3@oracle``: the mean normal scores of the three such tasks;
- ``kernel@oracle``: the space's cold-task kernel (:class:`fennec.space.TaskKernel`) over the task side features
  (:class:`fennec.side_features.TaskFeaturizer`, with the image proxy's embedding where the cards carry it) applied
  to the history's normal scores, at the one setting of its grid (view x :data:`~fennec.space.WIDTHS` x
  :data:`~fennec.space.PRIORS`) with the best mean tau_w over the targets;
- ``kernel@nested``: the same kernel with its setting chosen without the answer, by leave-one-task-out on the
  target's history (each history task predicted from the others), and the prior kept unless that setting beats it
  there: what choosing on the history alone recovers of ``kernel@oracle``;
- ``pair:<view>@oracle``: the prior plus ``lam`` times the pairwise term's standardised affinity of that view
  (:mod:`fennec.pair_features`), ``lam`` the one of :data:`PAIR_WEIGHTS` with the best mean tau_w over the targets;
- ``kernel+pairs@oracle``: ``kernel@oracle``'s ranking plus every view's affinity, the weights chosen on the answer
  one view at a time (two passes): the family of the space's cold score (kernel plus pairwise term).

The oracles choose with the targets' true values, so each bounds the methods of its family that use one setting for
every target, not every method (one that finds other signal can pass it). What they answer: is a target set for a benchmark within reach of
the task similarity its side features and pairwise views carry? The featurizers are fitted once on all tasks (an
oracle may see them all). ``agreement`` (one row of the summary) is Spearman's rho, over pairs of tasks, between the
side features' closeness (minus their distance over all blocks) and how alike the two tasks rank their shared models
(Pearson correlation of normal scores).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr, weightedtau

from fennec.errors import InputError
from fennec.normalize import normalize_per_task
from fennec.pair_features import PairFeaturizer
from fennec.side_features import TaskFeaturizer
from fennec.space import (
    PRIORS,
    WIDTHS,
    KernelSetting,
    PairTerm,
    TaskKernel,
    block_distances,
    candidate_widths,
    views_of,
)

from ._types import Benchmark

__all__ = ["PAIR_WEIGHTS", "headroom", "kernel_grid"]

#: Weights of a pairwise view's affinity (in normal-score units per standard deviation) tried by ``pair:*@oracle``.
PAIR_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
#: History tasks averaged by ``top3@oracle``.
TOP = 3


def headroom(bench: Benchmark, image_proxy: str | None = "default", nested: bool = True) -> dict:
    """Per-target tau_w of each ranking of the module docstring, their means, and the oracles' chosen settings.

    Parameters
    ----------
    bench : Benchmark
        The history; its targets (``bench.targets``) are held out one at a time.
    image_proxy : str or None, default="default"
        Image proxy whose stored embeddings join the task side features and the ``image`` pair view (None: never).
    nested : bool, default=True
        Also run ``kernel@nested`` (its cost: one kernel prediction per target, history task and setting).

    Returns
    -------
    dict
        ``tasks`` (target -> ranking -> tau_w), ``mean`` (ranking -> mean tau_w over the targets), ``settings``
        (what the oracles chose: the kernel's view, width and prior weight, each pair view's weight) and
        ``agreement``.
    """
    scores, truth = _score_table(bench.records)
    tasks, targets = list(scores.columns), [t for t in bench.targets if t in scores.columns]
    if len(tasks) < 3 or not targets:
        raise InputError(f"Headroom needs at least 3 tasks with results and one target. Got {len(tasks)} tasks.",
                         hint="use a history with more tasks")
    prior = {t: scores.drop(columns=t).mean(axis=1).to_numpy() for t in targets}
    out = {t: _neighbour_rankings(scores, truth, t, prior[t]) for t in targets}
    settings: dict[str, object] = {}
    featurizer = TaskFeaturizer(image_proxy=image_proxy).fit({t: bench.task_cards[t] for t in tasks})
    features = _standardised(featurizer.transform_many([bench.task_cards[t] for t in tasks]))
    agreement, kernel = float("nan"), {}
    if features.shape[1]:
        settings_and_labels = kernel_grid(features, featurizer.block_sizes, featurizer.block_names)
        grid = [setting for setting, _ in settings_and_labels]
        best, kernel = _kernel_oracle(scores, truth, features, grid, targets)
        settings["kernel"] = settings_and_labels[grid.index(best)][1]
        agreement = _agreement(scores, features, featurizer.block_sizes)
        for t in targets:
            out[t]["kernel@oracle"] = _tau(kernel[t], truth[t])
            if nested:
                out[t]["kernel@nested"] = _tau(_nested_choice(scores.drop(columns=t), truth.drop(columns=t),
                                                              np.delete(features, tasks.index(t), axis=0), grid,
                                                              features[tasks.index(t)]), truth[t])
    pairs = PairFeaturizer(image_proxy=image_proxy).fit(bench.model_cards, {t: bench.task_cards[t] for t in tasks})
    affinity = {view: _affinities(scores, bench, pairs, view, targets) for view in pairs.fitted_views_}
    for view, a in affinity.items():
        settings[f"pair:{view}"], ranked = _best_weight(prior, a, truth)
        for t in targets:
            out[t][f"pair:{view}@oracle"] = _tau(ranked[t], truth[t])
    if features.shape[1] and affinity:
        combined = dict(kernel)
        for view in [*affinity, *affinity]:  # two passes of coordinate ascent
            _, combined = _best_weight(combined, affinity[view], truth)
        for t in targets:
            out[t]["kernel+pairs@oracle"] = _tau(combined[t], truth[t])
    names = dict.fromkeys(name for t in targets for name in out[t])  # first-seen order
    mean = {name: float(np.nanmean([out[t].get(name, np.nan) for t in targets])) for name in names}
    return {"benchmark": bench.name, "protocol": "headroom", "n_models": int(scores.shape[0]),
            "n_tasks": len(targets), "settings": settings, "agreement": agreement, "tasks": out, "mean": mean}


def _score_table(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Models x tasks tables of the normal scores and of the raw values (NaN where a model has no result)."""
    tasks = pd.Index(sorted(records["task"].unique()))
    task_idx = tasks.get_indexer(records["task"])
    z = normalize_per_task(task_idx, records["value"].to_numpy(np.float64), len(tasks), "normal-scores")
    frame = records.assign(score=z)
    return (frame.pivot_table(index="model", columns="task", values="score"),
            frame.pivot_table(index="model", columns="task", values="value"))


def _standardised(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Side-feature rows as a matrix with unit-variance columns (constant columns only centred)."""
    x = np.asarray(rows, np.float64)
    if x.ndim != 2 or not x.shape[1]:
        return np.zeros((len(rows), 0))
    scale = x.std(0)
    return (x - x.mean(0)) / np.where(scale > 1e-8, scale, 1.0)


def _tau(predicted: np.ndarray, truth: pd.Series) -> float:
    """Weighted Kendall tau over the models with a true value (a missing prediction counts as 0, the mean)."""
    known = truth.notna().to_numpy()
    p = np.nan_to_num(np.asarray(predicted, np.float64)[known])
    tau = weightedtau(p, truth.to_numpy()[known])[0]
    return float(tau) if np.isfinite(tau) else 0.0


def _neighbour_rankings(scores: pd.DataFrame, truth: pd.DataFrame, target: str, prior: np.ndarray
                        ) -> dict[str, float]:
    """``prior`` (the target's ranking by ``prior``), ``nearest@oracle`` and ``top3@oracle`` for one target."""
    history = scores.drop(columns=target)
    single = {t: _tau(history[t].to_numpy(), truth[target]) for t in history.columns}
    best = sorted(single, key=single.get, reverse=True)[:TOP]
    return {"prior": _tau(prior, truth[target]), "nearest@oracle": single[best[0]],
            f"top{TOP}@oracle": _tau(history[best].mean(axis=1).to_numpy(), truth[target])}


def kernel_grid(points: np.ndarray, sizes: Sequence[int] | None, names: Sequence[str]
                ) -> list[tuple[KernelSetting, dict]]:
    """The space's kernel settings for tasks at ``points`` with side-feature blocks of ``sizes`` named ``names``
    (every view x width x prior weight, as :mod:`fennec.space._calibration` tries them), each with how it reads:
    its view (``all columns``, ``all blocks`` or a block's name), width in median nearest-task spacings, prior."""
    grid = []
    starts = np.cumsum([0, *(sizes or [])])[:-1].tolist()
    for view in views_of(tuple(sizes) if sizes else None, points.shape[1]):
        named = ("all columns" if not view else "all blocks" if len(view) > 1 else names[starts.index(view[0][0])])
        for multiple, width in zip(WIDTHS, candidate_widths(block_distances(points, points, view))):
            grid += [(KernelSetting(view, float(width), float(prior)),
                      {"view": named, "width": multiple, "prior": prior}) for prior in PRIORS]
    return grid


def _kernel_prediction(values: np.ndarray, points: np.ndarray, query: np.ndarray, setting: KernelSetting
                       ) -> np.ndarray:
    """The kernel's weighted mean of history tasks' normal scores (``values``: models x tasks, NaN where a model has
    no result; the tasks at ``points``) for a task at ``query``."""
    kernel = TaskKernel(points, np.arange(len(points)), (setting,))
    weights = kernel.weights(query[None], len(points))[0][0]
    total = (np.isfinite(values) * weights).sum(1)
    return np.where(total > 0, np.nansum(values * weights, axis=1) / np.maximum(total, 1e-12), 0.0)


def _held_out_taus(scores: pd.DataFrame, truth: pd.DataFrame, points: np.ndarray, grid: Sequence[KernelSetting],
                   held: Sequence[str]) -> np.ndarray:
    """tau_w (len(held), len(grid)) of each task of ``held`` predicted by the kernel from the other tasks of
    ``scores`` (at ``points``), under each setting of ``grid``."""
    tasks, values = list(scores.columns), scores.to_numpy()
    out = np.zeros((len(held), len(grid)))
    for row, task in enumerate(held):
        i = tasks.index(task)
        others = np.arange(len(tasks)) != i
        for s, setting in enumerate(grid):
            out[row, s] = _tau(_kernel_prediction(values[:, others], points[others], points[i], setting), truth[task])
    return out


def _kernel_oracle(scores: pd.DataFrame, truth: pd.DataFrame, features: np.ndarray, grid: Sequence[KernelSetting],
                   targets: Sequence[str]) -> tuple[KernelSetting, dict[str, np.ndarray]]:
    """The setting with the best mean tau_w over the targets, and its ranking of each target."""
    best = grid[int(np.argmax(_held_out_taus(scores, truth, features, grid, targets).mean(0)))]
    tasks, values = list(scores.columns), scores.to_numpy()
    ranked = {}
    for t in targets:
        others = np.arange(len(tasks)) != tasks.index(t)
        ranked[t] = _kernel_prediction(values[:, others], features[others], features[tasks.index(t)], best)
    return best, ranked


def _nested_choice(history: pd.DataFrame, truth: pd.DataFrame, points: np.ndarray, grid: Sequence[KernelSetting],
                   query: np.ndarray) -> np.ndarray:
    """The target's ranking by the setting that predicts the history's tasks best from one another (the prior
    unless that setting beats it there)."""
    inner = _held_out_taus(history, truth, points, grid, list(history.columns)).mean(0)
    prior = np.mean([_tau(history.drop(columns=task).mean(axis=1).to_numpy(), truth[task])
                     for task in history.columns])
    best = int(np.argmax(inner))
    if inner[best] <= prior:
        return history.mean(axis=1).to_numpy()
    return _kernel_prediction(history.to_numpy(), points, query, grid[best])


def _affinities(scores: pd.DataFrame, bench: Benchmark, pairs: PairFeaturizer, view: str, targets: Sequence[str]
                ) -> dict[str, np.ndarray]:
    """Each target's standardised affinities of ``view`` to the models (rows of ``scores``)."""
    term = PairTerm.of(list(scores.index), {view: pairs.model_pairs_[view]})
    return {t: term.affinities(pairs.transform(bench.task_cards[t]))[0] for t in targets}


def _best_weight(base: dict[str, np.ndarray], affinity: dict[str, np.ndarray], truth: pd.DataFrame
                 ) -> tuple[float, dict[str, np.ndarray]]:
    """The weight of :data:`PAIR_WEIGHTS` whose ``base + weight * affinity`` has the best mean tau_w, and those
    rankings (0 wins ties: an affinity that never helps is left out)."""
    best: tuple[float, float, dict[str, np.ndarray]] = (-np.inf, 0.0, base)
    for weight in PAIR_WEIGHTS:
        ranked = {t: base[t] + weight * affinity[t] for t in base}
        mean = float(np.mean([_tau(ranked[t], truth[t]) for t in base]))
        if mean > best[0] + 1e-12:
            best = (mean, weight, ranked)
    return best[1], best[2]


def _agreement(scores: pd.DataFrame, features: np.ndarray, blocks: Sequence[int] | None) -> float:
    """Spearman's rho over task pairs between side-feature closeness and the correlation of their normal scores."""
    view = views_of(tuple(blocks) if blocks else None, features.shape[1])[-1]
    closeness = -block_distances(features, features, view)
    alike = scores.corr().to_numpy()
    upper = np.triu_indices(len(features), 1)
    ok = np.isfinite(alike[upper])
    return float(spearmanr(closeness[upper][ok], alike[upper][ok])[0]) if ok.sum() > 2 else float("nan")
