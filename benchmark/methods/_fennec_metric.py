"""The ``fennec+metric`` method: the transfer space's ranking blended with a cold-start metric's scores.

Where a benchmark table carries a metric computed on the task's images without fine-tuning (TransferGraph's LogME,
snoopy's 1-NN accuracy on SHiFT), both rankings are z-scored over the task's models and averaged with a weight
``a`` on the space::

    score_m = a * z(space)_m + (1 - a) * z(metric)_m      (a model without a metric score gets z(metric) = 0)

``a`` is chosen on the training tasks only: each training task is ranked by the space's cold prior for it from the
other training tasks (their normalised values averaged with the weights the space's cold-task kernel gives them,
:meth:`fennec.space.TransferSpace.task_weights`, its own weight left out, plus the space's pairwise term for it,
:mod:`fennec.space._affinity`) blended with its own metric scores, for
``a`` on a grid, and the ``a`` with the best mean weighted tau wins. A metric that never helps on the training tasks
gets ``a = 1`` (the space alone); one that is better than the history gets a small ``a``. (Ranking by the plain
mean normalised value instead would underrate the space wherever its side features help, and underweight it.)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fennec.cards import ModelCard, TaskCard

from ._baselines import normalize_records
from ._fennec import FennecMethod

__all__ = ["FennecMetricMethod", "METRICS"]

#: Published metrics the method looks for in the task cards, in order of preference.
METRICS = ("logme", "knn1", "hscore", "sfda")
#: Candidate weights of the space.
WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def _zscore(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _blend(space: Mapping[str, float], metric: Mapping[str, float], weight: float) -> dict[str, float]:
    """``weight * z(space) + (1 - weight) * z(metric)`` over the models of ``space``."""
    models = list(space)
    z_space = _zscore(np.array([space[m] for m in models], np.float64))
    has = np.array([m in metric for m in models])
    z_metric = np.zeros(len(models))
    if has.sum() > 1:
        z_metric[has] = _zscore(np.array([metric[m] for m in models if m in metric], np.float64))
    return dict(zip(models, (weight * z_space + (1.0 - weight) * z_metric).tolist()))


def choose_weight(records: pd.DataFrame, metric_scores: Mapping[str, Mapping[str, float]],
                  task_weights: Callable[[str], pd.Series] | None = None, normalization: str = "normal-scores",
                  pair_scores: Callable[[str], pd.Series] | None = None) -> float:
    """The space weight ``a`` with the best mean weighted tau on the training tasks that carry metric scores.

    ``task_weights(task)`` gives the weights of the training tasks in the space's cold prior for ``task`` (indexed
    by task); the prior averages the other tasks' values, normalised per task as the space does it
    (``normalization``, see :mod:`fennec.normalize`), with them (default: equal weights, i.e. popularity).
    ``pair_scores(task)`` (indexed by model) is added to the prior: the space's pairwise term, which a prior without
    it would leave to the metric (on TransferGraph the term is what finds a task's own-dataset checkpoints).
    """
    best = records.groupby(["model", "task"], as_index=False)["value"].max()
    table = best.pivot(index="model", columns="task", values="value")
    z = best.assign(value=normalize_records(best, normalization)).pivot(index="model", columns="task", values="value")
    totals, counted = np.zeros(len(WEIGHTS)), 0
    for task in table.columns:
        scores = metric_scores.get(task, {})
        truth = table[task].dropna()
        if len(scores) < 2 or len(truth) < 2 or len(table.columns) < 2:
            continue
        others = z.drop(columns=task).loc[truth.index]
        weights = (pd.Series(1.0, index=others.columns) if task_weights is None
                   else task_weights(task).reindex(others.columns).fillna(0.0))
        known = others.notna()
        prior = (others.fillna(0.0) @ weights) / (known @ weights).replace(0.0, np.nan)
        prior = prior.fillna(0.0)
        if pair_scores is not None:
            prior = prior + pair_scores(task).reindex(prior.index).fillna(0.0)
        for i, weight in enumerate(WEIGHTS):
            blended = _blend(prior.to_dict(), scores, weight)
            totals[i] += stats.weightedtau([blended[m] for m in truth.index], truth.to_numpy()).statistic
        counted += 1
    return float(WEIGHTS[int(np.argmax(totals))]) if counted else 1.0


class FennecMetricMethod(FennecMethod):
    """The space (:class:`FennecMethod`) blended with a published cold-start metric (see the module docstring).

    Parameters
    ----------
    metric : str, optional
        Which published metric to blend; default: the first of :data:`METRICS` the task cards carry.
    **kwargs
        Passed to :class:`FennecMethod`.
    """

    def __init__(self, metric: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric = metric

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "FennecMetricMethod":
        super().fit(records, model_cards, task_cards)
        carried = {name for card in task_cards.values() for name in card.extra.get("scores", {})}
        self.metric_ = self.metric or next((m for m in METRICS if m in carried), None)
        if self.metric_ is None:
            raise ValueError("fennec+metric: the task cards carry no published metric scores "
                             f"(looked for {', '.join(METRICS)})")
        scores = {name: card.extra.get("scores", {}).get(self.metric_, {}) for name, card in task_cards.items()}
        pair_scores = self._pair_scores(task_cards) if any(s.pair_term_.used for s in self.spaces_) else None
        self.weight_ = choose_weight(records, scores, self._task_weights if self.task_features_ else None,
                                     self.space_.normalize, pair_scores)
        return self

    def _pair_scores(self, task_cards: Mapping[str, TaskCard]) -> Callable[[str], pd.Series]:
        """The spaces' mean pairwise term for a training task, by model. Its few weights were fitted on every
        training task, this one included: a small optimism the kernel's weights (own weight left out) do not have."""
        def scores(task: str) -> pd.Series:
            pairs = self.pairs_.transform(task_cards[task])
            return pd.concat([pd.Series(np.broadcast_to(space.pair_term_.scores(pairs), len(space.model_ids_)),
                                        index=space.model_ids_) for space in self.spaces_], axis=1).mean(axis=1)
        return scores

    def _task_weights(self, task: str) -> pd.Series:
        """Weights of the training tasks in the space's cold prior for training task ``task`` (see the module
        docstring)."""
        ids, values = self.space_.task_weights(self.task_features_[task])
        return pd.Series(values, index=ids)

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        space = super().score(task_card, revealed)
        return _blend(space, task_card.extra.get("scores", {}).get(self.metric_, {}), self.weight_)

    def next(self, task_card: TaskCard, revealed: pd.DataFrame, candidates: Sequence[str] | None = None) -> str:
        scores = self.score(task_card, revealed)
        tried = set(revealed["model"])
        pool = [m for m in (candidates if candidates is not None else scores) if m in scores and m not in tried]
        return max(pool, key=scores.__getitem__)
