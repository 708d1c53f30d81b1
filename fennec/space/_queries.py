"""Queries of a fitted space: scores, top-k through the index, task vectors, and the training tasks a new task
resembles.

A query is the task vector (the cold-task kernel's weights over the training tasks, :mod:`fennec.space._kernel`,
then the few-shot fold-in of any revealed results, :mod:`fennec.space._fold_in`) and one inner product per model:
``score(m, t) = b_m + <u_m, v_t>``; :meth:`QueriesMixin.recommend` finds the top ``k`` through the faiss index.
Its cost does not grow with the size of the history.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fennec.errors import InputError
from fennec.index import ModelIndex, auto_factory
from fennec.space._confidence import confidence
from fennec.space._features import FeatureTable
from fennec.space._fold_in import fold_in
from fennec.space._geometry import Geometry
from fennec.space._kernel import TaskKernel, explaining_kernel
from fennec.space._records import revealed_list, rows_of

__all__ = ["QueriesMixin"]


class QueriesMixin:
    """The query methods of :class:`~fennec.space.TransferSpace`: they read the fitted state annotated below (and the
    estimator's ``_check_fitted``)."""

    n_factors: int
    normalize: str
    task_blocks: Sequence[int] | None
    fold_in_temperature: float
    fold_in_alpha: float
    model_ids_: list[str]
    task_ids_: list[str]
    model_factors_: np.ndarray
    model_bias_: np.ndarray
    task_factors_: np.ndarray
    model_confidence_: np.ndarray
    task_kernel_: TaskKernel
    _task_features: FeatureTable
    _geometry: Geometry
    _model_pos: dict[str, int]
    _index: ModelIndex | None

    def score(self, task_features: np.ndarray | None = None,
              revealed: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
              pairs: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score every model of the space for new tasks known by side features, revealed results, or both.

        Cost per query: the task vector (a kernel over the training tasks, plus the fold-in's small solve when
        results are revealed), then one inner product of length ``n_factors`` per model.

        Parameters
        ----------
        task_features : array-like of shape (q,) or (n_queries, q), optional
            Side features of the task(s) (the dimension seen at fit).
        revealed : mapping of str to float, or a sequence of them (one per query), optional
            Fine-tuning results already known for the task (model -> value); folded in by a ridge solve for the
            task vector, regularised towards its cold-start vector.
        pairs : mapping of str to ndarray, or a sequence of them (one per query), optional
            The task's vectors for the pairwise term's views (as ``task_pairs`` at fit; a view left out adds
            nothing). Cost: one product of each view's ``n_models x q_v`` matrix with the vector.

        Returns
        -------
        model_ids : ndarray of shape (n_models,)
            The models (object array of str), in the order of :attr:`model_ids_`.
        scores : ndarray of shape (n_models,) or (n_queries, n_models)
            Predicted quality (normalised units: higher is better).
        confidence : ndarray, same shape as ``scores``
            In [0, 1]; see :mod:`fennec.space._confidence`.
        """
        vectors, conf_task, single = self._query(task_features, revealed, "TransferSpace.score")
        scores = vectors @ self.model_factors_.T + self.model_bias_ + self._pair_scores(pairs, len(vectors))
        confidence = conf_task[:, None] * self.model_confidence_[None]
        ids = np.asarray(self.model_ids_, dtype=object)
        return (ids, scores[0], confidence[0]) if single else (ids, scores, confidence)

    def task_vector(self, task_features: np.ndarray | None = None,
                    revealed: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None) -> np.ndarray:
        """The vector ``v_t`` (relative to the mean training task) of new task(s), as :meth:`score` computes it.

        Returns
        -------
        ndarray of shape (n_factors,) or (n_queries, n_factors)
        """
        vectors, _, single = self._query(task_features, revealed, "TransferSpace.task_vector")
        return vectors[0] if single else vectors

    def recommend(self, task_features: np.ndarray | None = None,
                  revealed: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None, k: int = 10,
                  filter_revealed: bool = True,
                  pairs: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` models for new task(s), through the faiss index.

        With ``pairs`` and a fitted pairwise term, the scores are exact over every model instead (the term is not
        an inner product the index holds): one ``score`` and a partial sort, ``O(n_models)`` per query.

        Parameters
        ----------
        task_features, revealed, pairs
            As in :meth:`score`.
        k : int, default=10
            Number of models per task.
        filter_revealed : bool, default=True
            Leave out the models whose results were revealed.

        Returns
        -------
        model_ids : ndarray of shape (k,) or (n_queries, k)
            Best first (object array of str).
        scores : ndarray, same shape
        """
        vectors, _, single = self._query(task_features, revealed, "TransferSpace.recommend")
        known = revealed_list(revealed, len(vectors)) if filter_revealed else [{}] * len(vectors)
        extra = max(len(r) for r in known)
        if pairs is not None and self.pair_term_.used:
            scores, ids = self._exact_top(task_features, revealed, pairs, k + extra)
        else:
            scores, ids = self.index_.search(vectors, k + extra)
        out_ids, out_scores = [], []
        for row_ids, row_scores, skip in zip(ids, scores, known):
            keep = [i for i, m in enumerate(row_ids) if m not in skip][:k]
            out_ids.append(row_ids[keep])
            out_scores.append(row_scores[keep])
        if single:
            return out_ids[0], out_scores[0]
        return np.stack(out_ids), np.stack(out_scores)

    def _exact_top(self, task_features, revealed, pairs, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` (scores, ids) per query by :meth:`score` (best first), as the index's search returns them."""
        model_ids, scores, _ = self.score(task_features, revealed, pairs)
        scores = np.atleast_2d(scores)
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1, kind="stable"), 1)
        return np.take_along_axis(scores, order, 1), model_ids[order]

    def similar_tasks(self, task_features: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` training tasks nearest to a task by its side features, with a similarity in (0, 1].

        The similarity is the cold-task kernel's (standardised features; the shares' mean of ``2^{-(d / h)^2}`` over
        the views and widths it calibrated): 1 for the same features, 1/2 at a width ``h``. When the kernel uses no
        side features, the distance is over all blocks at equal weight and ``h`` the median distance from a training
        task to its nearest one. This is what explains a recommendation, so it looks where the space looks.
        """
        query = self._one_task(task_features, "similar_tasks")
        kernel = explaining_kernel(self.task_kernel_, self.task_blocks, self._task_features.dim)
        similarity = kernel.similarity(query)[0]
        order = np.argsort(-similarity, kind="stable")[:k]
        return [(self.task_ids_[kernel.rows[i]], float(similarity[i])) for i in order]

    def task_weights(self, task_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How much each training task's vector weighs in the cold-start vector of a task known by its side
        features: the kernel regression's weights (the prior's uniform share included), summing to 1; uniform when
        calibration found the side features useless.

        Parameters
        ----------
        task_features : array-like of shape (q,)
            Side features of one task (the dimension seen at fit).

        Returns
        -------
        task_ids : ndarray of shape (n_tasks,)
            The training tasks (object array of str), in the order of :attr:`task_ids_`.
        weights : ndarray of shape (n_tasks,)
        """
        query = self._one_task(task_features, "task_weights")
        if np.ndim(task_features) != 1:
            raise InputError(f"`task_features` of TransferSpace.task_weights must be one vector. Got shape "
                             f"{np.shape(task_features)} instead.")
        weights, _ = self.task_kernel_.weights(query, len(self.task_ids_))
        return np.asarray(self.task_ids_, dtype=object), weights[0]

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Scores of known (model, task) pairs, e.g. to check the fit on held-out records.

        Parameters
        ----------
        pairs : pandas.DataFrame
            Columns ``model`` and ``task``, both known to the space.

        Returns
        -------
        ndarray of shape (n_pairs,)
        """
        self._check_fitted()
        m = rows_of(pairs["model"].astype(str), self._model_pos, "model")
        t = rows_of(pairs["task"].astype(str), {t: i for i, t in enumerate(self.task_ids_)}, "task")
        return self.model_bias_[m] + np.einsum("ij,ij->i", self.model_factors_[m], self.task_factors_[t])

    def _pair_scores(self, pairs: object, n_queries: int) -> np.ndarray | float:
        """The pairwise term (n_queries, n_models) for the queries' pair vectors (0.0 without any)."""
        term = getattr(self, "pair_term_", None)
        if term is None or not term.used or pairs is None:
            return 0.0
        rows = [pairs] * n_queries if isinstance(pairs, Mapping) else list(pairs)
        if len(rows) != n_queries:
            raise InputError(f"`pairs` must give one mapping per query ({n_queries}). Got {len(rows)}.")
        return np.stack([np.broadcast_to(term.scores(r), (len(self.model_ids_),)) for r in rows])

    @property
    def index_(self) -> ModelIndex:
        """The :class:`~fennec.index.ModelIndex` over the model vectors (built on first use, grown by
        :meth:`add_model`, rebuilt after :meth:`update`)."""
        self._check_fitted()
        if self._index is None:
            index = ModelIndex(self.n_factors, auto_factory(len(self.model_ids_)))
            index.add(self.model_ids_, self.model_factors_, self.model_bias_)
            self._index = index
        return self._index

    def _one_task(self, task_features: np.ndarray, method: str) -> np.ndarray:
        """Standardised side features (1, q) of a task given to ``method``, for a space fitted with them."""
        self._check_fitted()
        if self._task_features.dim == 0:
            raise InputError(f"{method} needs a space fitted with task features.", hint="fit with task_features=...")
        return self._task_features.vectors(task_features, "task_features", f"TransferSpace.{method}")

    def _query(self, task_features: object, revealed: object, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
        """Task vectors (n_queries, d) and task confidences for the queries, and whether the query was single."""
        self._check_fitted()
        # Zero-width features are what a featurizer gives when no training task had a side feature (a bare
        # model,task,value table): the space was fitted with none, and the cold task gets the prior.
        empty = task_features is not None and self._task_features.dim == 0 and np.size(task_features) == 0
        if task_features is not None and not empty:
            if self._task_features.dim == 0:
                raise InputError(f"`task_features` of {where} cannot be used: the space was fitted without task "
                                 f"features.", hint="fit with task_features=... or query by `revealed` only")
            feats = self._task_features.vectors(task_features, "task_features", where)
            single, n_queries = np.ndim(task_features) == 1, len(feats)
            weights, kernel = self.task_kernel_.weights(feats, len(self.task_ids_))
        else:
            if empty:
                single = np.ndim(task_features) == 1
                n_queries = 1 if single else len(task_features)
            else:
                single = revealed is None or isinstance(revealed, (Mapping, pd.DataFrame))
                n_queries = 1 if single else len(revealed)
            weights = np.full((n_queries, len(self.task_ids_)), 1.0 / len(self.task_ids_))
            kernel = np.zeros(n_queries)
        reveals = revealed_list(revealed, n_queries)
        vectors = np.stack([self._fold_in(weights[i], reveals[i]) for i in range(n_queries)])
        return vectors, confidence(kernel, np.array([len(r) for r in reveals], np.float64)), single

    def _fold_in(self, weights: np.ndarray, revealed: dict[str, float]) -> np.ndarray:
        """The task vector from prior weights over the training tasks and revealed results
        (:mod:`fennec.space._fold_in`)."""
        rows = rows_of(pd.Series(list(revealed), dtype=object), self._model_pos, "model") if revealed else []
        return fold_in(self._geometry, weights, np.asarray(rows, np.int64), np.fromiter(revealed.values(), np.float64),
                       method=self.normalize, temperature=self.fold_in_temperature, alpha=self.fold_in_alpha)
