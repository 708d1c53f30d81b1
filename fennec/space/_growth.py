"""Growing a fitted space: a warm-start update with new records, and models known only by their side features.

:meth:`GrowthMixin.update` gives new models and tasks fresh rows and trains on the new records plus a replay of
old ones, moving only the rows the new records touch (:mod:`fennec.space._training`); :meth:`GrowthMixin.add_model`
places cold models by their side features alone and grows the index without a rebuild.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from fennec.errors import InputError
from fennec.space._confidence import ModelKernel
from fennec.space._features import FeatureTable
from fennec.space._kernel import TaskKernel
from fennec.space._net import SpaceNet
from fennec.space._records import Records, coerce_records
from fennec.space._sources import Sources
from fennec.space._training import TrainData, train
from fennec.space._uncertainty import Uncertainty

if TYPE_CHECKING:  # pragma: no cover
    from fennec.space._estimator import TransferSpace

__all__ = ["GrowthMixin"]


class GrowthMixin:
    """The growth methods of :class:`~fennec.space.TransferSpace`: they extend the fitted state annotated below in
    place, through the estimator's ``_check_fitted``, ``_validate_params``, ``_model_bias``, ``_refresh`` and
    ``_fit_uncertainty``."""

    init_scale: float
    normalize: str
    replay_ratio: float
    source_optimism: float
    update_epochs: int
    update_min_steps: int
    model_ids_: list[str]
    task_ids_: list[str]
    model_bias_: np.ndarray
    source_bonus_: float
    task_kernel_: TaskKernel
    uncertainty_: Uncertainty | None
    net_: SpaceNet
    _records: Records
    _model_features: FeatureTable
    _task_features: FeatureTable
    _model_kernel: ModelKernel
    _sources: Sources
    _rng: np.random.Generator
    _gen: torch.Generator

    def update(self, new_records: pd.DataFrame, model_features: Mapping[str, np.ndarray] | None = None,
               task_features: Mapping[str, np.ndarray] | None = None, *,
               model_sources: Mapping[str, str] | None = None, task_sources: Mapping[str, str] | None = None
               ) -> "TransferSpace":
        """Warm-start the space with new records (much cheaper than a new :meth:`fit`).

        New models and tasks get fresh rows (their side features from ``model_features``/``task_features``);
        a record for a pair already known replaces the old value. Training runs ``update_epochs`` passes over the
        new records plus ``replay_ratio`` times as many old ones drawn at random, and moves only the rows the new
        records touch, each held near its old place in proportion to its old records; the encoder, fitted on the
        whole history, stays.

        Parameters
        ----------
        new_records : pandas.DataFrame or TransferHistory
            Columns ``model, task, value``.
        model_features, task_features : mapping of str to ndarray, optional
            Side features of the new models and tasks (those of known rows are kept).
        model_sources, task_sources : mapping of str to str, optional
            Datasets of models and tasks, as in :meth:`fit` (for new ones, or to correct known ones).

        Returns
        -------
        self : TransferSpace
        """
        self._check_fitted()
        self._validate_params()
        frame = coerce_records(new_records, where="TransferSpace.update")
        new_models = self._grow_rows(frame["model"], "model", model_features)
        new_tasks = self._grow_rows(frame["task"], "task", task_features)
        self._sources = self._sources.grown(self.model_ids_, self.task_ids_, model_sources, task_sources, new_tasks)
        self.pair_term_ = self.pair_term_.grown(new_models)
        self._model_kernel.extend(self._model_features)
        self.net_.grow(len(new_models), len(new_tasks), self.init_scale, self._gen)
        train(self.net_, self._update_data(frame), self.get_params(), self.update_epochs, self.update_min_steps,
              self._rng, self._gen, "update")
        self._refresh()
        rows = np.flatnonzero(self._task_features.has)  # new tasks join the kernel; its calibration stays
        self.task_kernel_ = TaskKernel(self._task_features.matrix[rows], rows, self.task_kernel_.settings)
        self._fit_uncertainty(self._records.normalized(len(self.task_ids_), self.normalize))
        return self

    def _update_data(self, frame: pd.DataFrame) -> TrainData:
        """The records of :meth:`update` merged into the space's, new biases and source bonus, and what the update
        trains on: the new records, a replay of old ones, and the rows they may move."""
        m_new = frame["model"].map({m: i for i, m in enumerate(self.model_ids_)}).to_numpy(np.int64)
        t_new = frame["task"].map({t: i for i, t in enumerate(self.task_ids_)}).to_numpy(np.int64)
        n_models, n_tasks = len(self.model_ids_), len(self.task_ids_)
        rec = self._records
        n_old = rec.replace(m_new, t_new, frame["value"].to_numpy(np.float64), n_models)
        n_replay = min(n_old, int(round(self.replay_ratio * len(frame))))
        replay = self._rng.choice(n_old, size=n_replay, replace=False) if n_replay else np.zeros(0, np.int64)
        chosen = np.concatenate([np.arange(n_old, n_old + len(frame)), np.sort(replay)])
        z = rec.normalized(n_tasks, self.normalize)
        self.model_bias_ = self._model_bias(z)
        self.source_bonus_ = self._sources.bonus(rec, z, self.model_bias_, self.source_optimism)
        unseen = (np.bincount(rec.model, minlength=n_models) - np.bincount(rec.model[chosen], minlength=n_models),
                  np.bincount(rec.task, minlength=n_tasks) - np.bincount(rec.task[chosen], minlength=n_tasks))
        movable = (np.isin(np.arange(n_models), m_new), np.isin(np.arange(n_tasks), t_new))
        return TrainData(rec.model[chosen], rec.task[chosen], z[chosen], self.model_bias_,
                         self._model_features.matrix, self._model_features.has, movable, unseen)

    def add_model(self, model_id: str | Sequence[str], model_features: np.ndarray | None = None,
                  sources: str | Sequence[str | None] | None = None,
                  pairs: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> "TransferSpace":
        """Add models known only by their side features (cold models); the index grows without a rebuild.

        Parameters
        ----------
        model_id : str or sequence of str
            New model id(s).
        model_features : array-like of shape (p,) or (n, p), optional
            Their side features; without them a model gets the space's default (mean) model vector and bias.
        sources : str or sequence of str, optional
            The dataset(s) their weights were trained on, as ``model_sources`` in :meth:`fit`.
        pairs : mapping of view name to (mapping of id to ndarray), optional
            Their vectors for the pairwise term's views, as ``model_pairs`` in :meth:`fit`.

        Returns
        -------
        self : TransferSpace
        """
        self._check_fitted()
        ids = [model_id] if isinstance(model_id, str) else [str(m) for m in model_id]
        feats = _features_by_id(ids, model_features)
        sources = [sources] * len(ids) if sources is None or isinstance(sources, str) else list(sources)
        if len(sources) != len(ids):
            raise InputError(f"`sources` of TransferSpace.add_model must give one dataset per model ({len(ids)}). "
                             f"Got {len(sources)}.")
        start = len(self.model_ids_)
        self._grow_rows(pd.Series(ids), "model", feats, require_new=True)
        self._sources = self._sources.grown(self.model_ids_, self.task_ids_, dict(zip(ids, sources)), None)
        self.pair_term_ = self.pair_term_.grown(ids, pairs)
        self.net_.grow(len(ids), 0, 0.0, self._gen)  # zero free parts: the model is its side features
        self._model_kernel.extend(self._model_features)
        rows = np.arange(start, len(self.model_ids_))
        prior = self._bias_prior(self._model_features, rows)
        self.model_bias_ = np.concatenate([self.model_bias_, prior]).astype(np.float32)
        self._refresh(new_models=rows)
        if self.uncertainty_ is not None:
            self.uncertainty_.extend(len(rows))
        return self

    def _grow_rows(self, names: pd.Series, kind: str, features: object, require_new: bool = False) -> list[str]:
        """Append the ids of ``names`` not yet in the space (sorted) to the ids and feature table of ``kind``."""
        ids = self.model_ids_ if kind == "model" else self.task_ids_
        known = set(ids)
        seen = names.astype(str).unique()
        if require_new:
            again = [n for n in seen if n in known]
            if again or len(seen) != len(names):
                raise InputError(f"`model_id` of TransferSpace.add_model must be new to the space and distinct. "
                                 f"Got {(again or list(names))[0]!r} again.",
                                 hint="use TransferSpace.update to give a known model new results")
        new = sorted(n for n in seen if n not in known)
        table = self._model_features if kind == "model" else self._task_features
        matrix, has = table.rows(new, features, f"{kind}_features", "TransferSpace")
        table.append(matrix, has)
        ids.extend(new)
        return new



def _features_by_id(ids: list[str], model_features: np.ndarray | None) -> dict[str, np.ndarray]:
    """``model_features`` of :meth:`TransferSpace.add_model` (one row per id, or one vector for one id) by id."""
    if model_features is None:
        return {}
    matrix = np.asarray(model_features, dtype=np.float64)
    matrix = matrix[None] if matrix.ndim == 1 else matrix
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise InputError(f"`model_features` of TransferSpace.add_model must have one row per model "
                         f"({len(ids)}). Got shape {np.shape(model_features)} instead.")
    return dict(zip(ids, matrix))
