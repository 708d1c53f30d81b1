"""Budgeted selection: optimistic scores for choosing the next model to fine-tune on a task.

After the tried results are folded into the task vector (:mod:`fennec.space._fold_in`), each untried model gets

.. math::

    s_m + \\text{explore}\\,\\sigma_m (1 - c_m) + \\text{bonus}\\,[m \\text{ trained on the task's data}]
        - \\text{diversity} \\max_{t \\in \\text{tried}} \\rho(m, t)

with ``s_m`` its score, ``sigma_m`` how much its score varies across training tasks and ``c_m`` its confidence:
while the task is uncertain, models whose outcome could be high are favoured; a model trained on the task's own
dataset gets the space's ``source_bonus_`` (:mod:`fennec.space._sources`); a model that moves with a tried one
(correlation ``rho`` of their scores across tasks) pays for it, since with a few tries the best of them is what
counts and a near-copy of a tried model adds little to it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fennec.errors import InputError
from fennec.space._geometry import Geometry
from fennec.space._records import as_revealed, rows_of
from fennec.space._sources import Sources

__all__ = ["BudgetMixin", "Optimism", "optimistic_scores"]


@dataclass(frozen=True)
class Optimism:
    """The space's selection parameters: ``explore``, ``diversity`` and the bonus of a model trained on the task's
    dataset."""

    explore: float
    diversity: float
    source_bonus: float


def optimistic_scores(geometry: Geometry, scores: np.ndarray, confidence: np.ndarray, optimism: Optimism,
                      trained_on: np.ndarray, tried: list[int], allowed: np.ndarray | None) -> np.ndarray:
    """The module docstring's optimistic score of every model; ``-inf`` for the ``tried`` rows and, when
    ``allowed`` (rows) is given, for every model not among them.

    Raises :class:`~fennec.errors.InputError` when no model is left to choose.
    """
    optimistic = scores + optimism.explore * geometry.model_spread * (1.0 - confidence)
    optimistic = optimistic + optimism.source_bonus * trained_on
    if tried and optimism.diversity:
        optimistic -= optimism.diversity * geometry.correlation(tried).max(1)
    optimistic[tried] = -np.inf
    if not np.isfinite(optimistic).any():
        raise InputError("`tried` of TransferSpace.next must leave at least one model untried. "
                         f"Got all {len(optimistic)} models.")
    if allowed is not None:
        masked = np.full_like(optimistic, -np.inf)
        masked[allowed] = optimistic[allowed]
        if not np.isfinite(masked).any():
            raise InputError("`candidates` of TransferSpace.next must contain at least one untried model.",
                             hint="pass models that are not in `tried`")
        optimistic = masked
    return optimistic


class BudgetMixin:
    """The budgeted-selection methods of :class:`~fennec.space.TransferSpace`: they read the fitted state annotated
    below and score through its ``score`` (:mod:`fennec.space._queries`)."""

    explore: float
    diversity: float
    model_ids_: list[str]
    source_bonus_: float
    _geometry: Geometry
    _sources: Sources
    _model_pos: dict[str, int]

    def next(self, task_features: np.ndarray | None = None, tried: Mapping[str, float] | None = None,
             candidates: Sequence[str] | None = None, task_source: str | None = None,
             pairs: Mapping[str, np.ndarray] | None = None) -> str:
        """The model to fine-tune next on a task, given the results tried so far: the untried model with the
        highest :meth:`next_scores`.

        Parameters
        ----------
        task_features : array-like of shape (q,), optional
            Side features of the task.
        tried : mapping of str to float, optional
            Results seen so far (model -> value).
        candidates : sequence of str, optional
            Choose among these models only (e.g. those that fit the user's hardware); default: the whole space.
        task_source : str, optional
            The dataset the task draws from: models trained on it (``model_sources``) get ``source_optimism``.
        pairs : mapping of str to ndarray, optional
            The task's vectors for the pairwise term, as in :meth:`score`.

        Returns
        -------
        str
            A model id not in ``tried``.
        """
        ids, values = self.next_scores(task_features, tried, candidates, task_source, pairs)
        return str(ids[int(np.argmax(values))])

    def next_scores(self, task_features: np.ndarray | None = None, tried: Mapping[str, float] | None = None,
                    candidates: Sequence[str] | None = None, task_source: str | None = None,
                    pairs: Mapping[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Optimistic scores for choosing the next model to fine-tune (``-inf`` for the tried ones and, with
        ``candidates``, for every model not among them); :mod:`fennec.space._budget` gives the formula.

        Parameters are those of :meth:`next`.

        Returns
        -------
        model_ids : ndarray of shape (n_models,)
        values : ndarray of shape (n_models,)
        """
        tried = as_revealed(tried, "TransferSpace.next")
        if task_features is not None and np.ndim(task_features) != 1:
            raise InputError("`task_features` of TransferSpace.next must be one 1-D vector (one task). "
                             f"Got shape {np.shape(task_features)} instead.")
        ids, scores, conf = self.score(task_features, tried, pairs)
        allowed = None if candidates is None else rows_of(pd.Series(list(candidates), dtype=object),
                                                           self._model_pos, "model")
        optimism = Optimism(self.explore, self.diversity, self.source_bonus_)
        return ids, optimistic_scores(self._geometry, scores, conf, optimism, self._sources.trained_on(task_source),
                                      [self._model_pos[m] for m in tried], allowed)

    def models_trained_on(self, dataset: str) -> list[str]:
        """The models whose ``model_sources`` name ``dataset`` (case and punctuation ignored): those :meth:`next`
        bets on for a task drawn from it."""
        self._check_fitted()
        return [self.model_ids_[i] for i in np.flatnonzero(self._sources.trained_on(dataset))]

