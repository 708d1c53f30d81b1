"""The transfer space: models and tasks as vectors whose inner product predicts how well a model fine-tunes on a task.

After Fennec (Bai et al., 2024, https://arxiv.org/abs/2403.06382):

.. math::

    \\mathrm{score}(m, t) = b_m + \\langle u_m, v_t \\rangle, \\qquad u_m = e_m + A(\\phi_m)

with ``b_m`` the model's prior quality (its shrunk mean normalised value: popularity), free embeddings ``e`` and an
encoder ``A`` of model side features ``phi`` (what a model is: archi2vec vector, metadata). The free model
embeddings are dropped at random while training, so ``A`` alone already places a model well: a model with no history
enters the space through its features. A task with no history enters through its side features ``psi`` (what it
looks like: proxy embedding, label names, size) by kernel regression over the training tasks' vectors, calibrated
leave-one-task-out on the training tasks and bagged (``fennec._space_kernel``); a task with a few results is folded
in by a small ridge solve for ``v_t``. With nothing known of a task, ``v_t`` is the mean training task and the
ranking is the popularity prior.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator

from fennec._space_data import FeatureTable, as_revealed, coerce_records, kernel_confidence, nn_bandwidth
from fennec._space_kernel import (KernelSetting, TaskKernel, block_distances, calibrate_task_kernel, median_spacing,
                                  views_of)
from fennec._space_net import SpaceNet
from fennec._space_sources import source_bonus, source_key, source_keys
from fennec._space_train import TrainData, train
from fennec.errors import InputError, NotFittedError, UnknownNameError
from fennec.index import ModelIndex, auto_factory
from fennec.normalize import check_normalization, normalize_per_task
from fennec.normalize import normalize as normalize_one

__all__ = ["TransferSpace"]

_FORMAT = 1
#: Results that give a row half confidence from history alone (see ``TransferSpace`` Notes, "Confidence").
_HALF_EVIDENCE = 5.0
#: Rows used to estimate a side-feature bandwidth (the median nearest-neighbour distance) on large zoos.
_BANDWIDTH_SAMPLE = 2000
#: Floor of the fitted weight of the model prior in the few-shot fold-in (see ``TransferSpace._fold_in``).
_MIN_BIAS_WEIGHT = 0.25
#: Prior precision of the free intercept in the few-shot ridge solve (almost unregularised).
_INTERCEPT_ALPHA = 1e-3
#: Ridge penalty of the regression from standardised model features to the model bias (cold models).
_BIAS_RIDGE = 10.0
#: Private arrays that :meth:`TransferSpace.save` writes beside the network (records, bias regression, kernels) ...
_SAVED_STATE = ("_rec_model", "_rec_task", "_rec_value", "_bias_coef", "_model_points", "_model_kernel")
#: ... and the fitted numpy views, written as computed so that a loaded space scores bit for bit the same.
_SAVED_VIEWS = ("model_factors_", "model_bias_", "task_factors_")

_CONSTRAINTS = {
    "n_factors": (Integral, 1, None), "hidden": (Integral, 0, None), "free_dropout": (Real, 0.0, 1.0),
    "rank_weight": (Real, 0.0, None), "temperature": (Real, 1e-6, None), "list_size": (Integral, 2, None),
    "batch_size": (Integral, 2, None), "n_epochs": (Integral, 1, None), "min_steps": (Integral, 0, None),
    "lr": (Real, 1e-12, None), "l2": (Real, 0.0, None), "weight_decay": (Real, 0.0, None),
    "init_scale": (Real, 0.0, None), "bias_shrink": (Real, 0.0, None), "fold_in_alpha": (Real, 1e-12, None),
    "fold_in_temperature": (Real, 1e-6, None),
    "calibration_tasks": (Integral, 0, None), "update_epochs": (Integral, 1, None),
    "update_min_steps": (Integral, 0, None), "replay_ratio": (Real, 0.0, None), "explore": (Real, 0.0, None),
    "diversity": (Real, 0.0, None), "source_optimism": (Real, 0.0, None),
}


class TransferSpace(BaseEstimator):
    """A learned transfer space that ranks models for tasks, cold or with a few results.

    Parameters
    ----------
    n_factors : int, default=32
        Dimension ``d`` of the model and task vectors.
    normalize : {"normal-scores", "zscore"}, default="normal-scores"
        How each task's values are normalised before training (:mod:`fennec.normalize`; see Notes).
    hidden : int, default=64
        Hidden width of the model side-feature encoder (0: a linear projection).
    free_dropout : float, default=0.5
        Probability of switching off a record's free model embedding during training, so that the side-feature
        path learns to place models on its own.
    rank_weight : float, default=1.0
        Weight of the listwise ranking term relative to the regression term.
    temperature : float, default=0.5
        Temperature ``T`` of the listwise term (smaller: more weight on the top of each task's ranking).
    list_size : int, default=32
        Records per list of the listwise term (a task's records are dealt into lists of at most this size).
    batch_size : int, default=8192
        Records per mini-batch (``batch_size // list_size`` lists).
    n_epochs : int, default=20
        Passes over the records in :meth:`fit`.
    min_steps : int, default=300
        At least this many optimiser steps in :meth:`fit` (small histories get more epochs).
    lr : float, default=0.01
        Adam learning rate.
    l2 : float, default=1e-4
        L2 penalty on the free embeddings of the rows in each batch.
    weight_decay : float, default=1e-4
        Weight decay of the model encoder (AdamW).
    init_scale : float, default=0.1
        Standard deviation of the initial free embeddings.
    bias_shrink : float, default=1.0
        Pseudo-count of the model bias: ``b_m = (sum of m's normalised values + bias_shrink * prior_m) / (n_m +
        bias_shrink)``, with ``prior_m`` a ridge regression of the biases on the model side features.
    fold_in_temperature : float, default=1.8
        How sharply revealed results reweight the training tasks in the few-shot fold-in (smaller: sharper).
    fold_in_alpha : float, default=50.0
        Weight of the reweighted prior vector in the few-shot ridge solve, in revealed results.
    task_blocks : sequence of int, optional
        Sizes of consecutive groups of task side-feature columns (e.g. label-name embedding, description embedding,
        size, a vision proxy's distances). The cold-task kernel is calibrated on each group alone and on all groups
        with equal weight, so that a small group is not drowned by a wide one; default: one group.
    calibration_tasks : int, default=100
        At most this many training tasks are predicted leave-one-out to calibrate the cold-task kernel.
    update_epochs : int, default=5
        Passes over the new records (plus replay) in :meth:`update`.
    update_min_steps : int, default=50
        At least this many optimiser steps in :meth:`update`.
    replay_ratio : float, default=1.0
        Old records replayed in :meth:`update`, per new record.
    explore : float, default=0.5
        Optimism of :meth:`next`: bonus ``explore * spread_m * (1 - confidence)``.
    diversity : float, default=0.5
        Hedging of :meth:`next`: penalty ``diversity * max_t corr(m, t)`` over the tried models ``t`` (the
        correlation of two models' scores across tasks in the space): with a few tries, the best of them is what
        counts, and a near-copy of a tried model adds little to it.
    source_optimism : float, default=1.0
        Optimism of :meth:`next` for the models trained on the task's own dataset (``model_sources`` matching
        ``task_source``): they get the mean plus this many standard deviations of how such matched pairs did in the
        history, over their model's bias (their scores are left alone; ``fennec._space_sources`` says why).
    random_state : int, optional
        Seed of initialisation, batching and dropout; the same seed gives the same space.
    verbose : bool, default=False
        Show a progress bar while training.

    Attributes
    ----------
    model_ids_ : list of str
        Models of the space, in row order.
    task_ids_ : list of str
        Training tasks, in row order.
    model_factors_ : ndarray of shape (n_models, n_factors)
        Model vectors ``u_m``.
    model_bias_ : ndarray of shape (n_models,)
        Model biases ``b_m`` (the model's prior quality, in normalised units).
    source_bonus_ : float
        What :meth:`next` adds for a model trained on the task's own dataset (0 when the history holds no such
        pair; see ``source_optimism``).
    task_factors_ : ndarray of shape (n_tasks, n_factors)
        Training task vectors ``v_t``.
    model_confidence_ : ndarray of shape (n_models,)
        How well each model is known, in [0, 1] (see Notes).
    task_kernel_ : TaskKernel
        The calibrated cold-start kernel over the training tasks (its ``settings``: views, widths, prior weights and
        their shares; none when the task side features did not help in calibration and are ignored).
    net_ : torch.nn.Module
        The trained parameters.

    See Also
    --------
    fennec.index.ModelIndex : the top-k search behind :meth:`recommend`.

    Notes
    -----
    **Normalisation.** Each task's values are normalised over its models before training (``normalize``): by
    default to normal scores, ``Phi^-1((r - 1/2) / n)`` for the model of rank ``r`` among ``n`` (ties share their
    mean rank), so that tasks of different difficulty and units weigh alike and a few failed runs far below the rest
    cannot squeeze the good models together (:mod:`fennec.normalize` says why); ``"zscore"`` centres and divides by
    the sample standard deviation instead. Scores are in these units. Revealed results of a new task are normalised
    the same way among themselves, and the fold-in fits a free intercept, so only their order and spread matter.

    **Objective.** With the biases fixed, mean squared error to the normalised values plus ``rank_weight`` times a
    listwise softmax cross-entropy (ListNet with temperature ``T``) over lists of each task's models, minimised by
    Adam over mini-batches of records (never a dense models x tasks matrix).

    **Confidence.** Each score comes with a number in [0, 1]: the product of a task part and a model part. The
    task part is ``1 - (1 - k) (1 - n / (n + 5))`` with ``k`` the weight the cold-start kernel gives the side
    features against the prior (0 without features or when calibration found them useless) and ``n`` the number
    of revealed results. The model part is the same formula with ``n`` the model's training records and ``k =
    2 ** -(dist / h) ** 2``, where ``dist`` is the distance of its side features to the nearest training model and
    ``h`` the median such distance between training models (1 on a training model, 0.5 at the usual spacing, near 0
    far away). 0 means the score is the prior (popularity for a task, the mean model for a model); 1, that the row
    is as well known as a training row with many results.

    References
    ----------
    Bai et al., "Pre-Trained Model Recommendation for Downstream Fine-tuning", 2024,
    https://arxiv.org/abs/2403.06382

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> U, V = rng.normal(size=(30, 2)), rng.normal(size=(12, 2))
    >>> records = pd.DataFrame([(f"m{i}", f"t{j}", U[i] @ V[j]) for i in range(30) for j in range(12)],
    ...                        columns=["model", "task", "value"])
    >>> space = TransferSpace(n_factors=4, min_steps=200, random_state=0).fit(records)
    >>> ids, scores = space.recommend(revealed={f"m{i}": U[i] @ V[0] for i in range(8)}, k=3)
    >>> len(ids)
    3
    """

    def __init__(self, n_factors: int = 32, *, normalize: str = "normal-scores", hidden: int = 64,
                 free_dropout: float = 0.5, rank_weight: float = 1.0,
                 temperature: float = 0.5, list_size: int = 32, batch_size: int = 8192, n_epochs: int = 20,
                 min_steps: int = 300, lr: float = 0.01, l2: float = 1e-4, weight_decay: float = 1e-4,
                 init_scale: float = 0.1, bias_shrink: float = 1.0, fold_in_temperature: float = 1.8,
                 fold_in_alpha: float = 50.0, task_blocks: Sequence[int] | None = None,
                 calibration_tasks: int = 100, update_epochs: int = 5, update_min_steps: int = 50,
                 replay_ratio: float = 1.0, explore: float = 0.5, diversity: float = 0.5,
                 source_optimism: float = 1.0, random_state: int | None = None,
                 verbose: bool = False) -> None:
        self.n_factors = n_factors
        self.normalize = normalize
        self.hidden = hidden
        self.free_dropout = free_dropout
        self.rank_weight = rank_weight
        self.temperature = temperature
        self.list_size = list_size
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.min_steps = min_steps
        self.lr = lr
        self.l2 = l2
        self.weight_decay = weight_decay
        self.init_scale = init_scale
        self.bias_shrink = bias_shrink
        self.fold_in_temperature = fold_in_temperature
        self.fold_in_alpha = fold_in_alpha
        self.task_blocks = task_blocks
        self.calibration_tasks = calibration_tasks
        self.update_epochs = update_epochs
        self.update_min_steps = update_min_steps
        self.replay_ratio = replay_ratio
        self.explore = explore
        self.diversity = diversity
        self.source_optimism = source_optimism
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, records: pd.DataFrame, model_features: Mapping[str, np.ndarray] | None = None,
            task_features: Mapping[str, np.ndarray] | None = None, *, model_sources: Mapping[str, str] | None = None,
            task_sources: Mapping[str, str] | None = None) -> "TransferSpace":
        """Learn the space from transfer records.

        Parameters
        ----------
        records : pandas.DataFrame or TransferHistory
            Columns ``model, task, value`` (higher is better), one row per pair; a
            :class:`fennec.history.TransferHistory` is read with ``records(aggregate="best")``.
        model_features : mapping of str to ndarray of shape (p,), optional
            Side features of models (a model may lack them).
        task_features : mapping of str to ndarray of shape (q,), optional
            Side features of tasks (a task may lack them).
        model_sources : mapping of str to str, optional
            The dataset each model's weights were trained or fine-tuned on (a card's ``pretrain_data``), for
            :meth:`next`'s optimism about models trained on the task's own dataset.
        task_sources : mapping of str to str, optional
            The dataset each task draws from (default: the task's id).

        Returns
        -------
        self : TransferSpace
        """
        self._validate_params()
        frame = coerce_records(records)
        m_idx, models = pd.factorize(frame["model"], sort=True)
        t_idx, tasks = pd.factorize(frame["task"], sort=True)
        self.model_ids_, self.task_ids_ = [str(m) for m in models], [str(t) for t in tasks]
        self._model_features = FeatureTable.fit(self.model_ids_, model_features, "model_features", "TransferSpace.fit")
        self._task_features = FeatureTable.fit(self.task_ids_, task_features, "task_features", "TransferSpace.fit")
        order = np.argsort(t_idx.astype(np.int64) * len(models) + m_idx, kind="stable")  # row order must not matter
        self._rec_model, self._rec_task = m_idx[order].astype(np.int64), t_idx[order].astype(np.int64)
        self._rec_value = frame["value"].to_numpy(np.float64)[order]
        seed = self._seed()
        self._rng, self._gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        z = normalize_per_task(self._rec_task, self._rec_value, len(self.task_ids_), self.normalize)
        z = z.astype(np.float32)
        self._fit_bias_prior(z)
        self.model_bias_ = self._model_bias(z)
        self._model_source = source_keys(self.model_ids_, model_sources)
        self._task_source = source_keys(self.task_ids_, {**dict(zip(self.task_ids_, self.task_ids_)),
                                                          **(task_sources or {})})
        self._fit_source_bonus(z)
        self.net_ = SpaceNet(len(models), len(tasks), self.n_factors, self._model_features.dim, self.hidden,
                             self.init_scale, self._gen)
        data = TrainData(self._rec_model, self._rec_task, z, self.model_bias_, self._model_features.matrix,
                         self._model_features.has)
        train(self.net_, data, self.get_params(), self.n_epochs, self.min_steps, self._rng, self._gen, "fit")
        self._fit_kernels()
        self._refresh()
        self._calibrate(z)
        return self

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
        self._model_source = _with_sources(self._model_source, self.model_ids_, model_sources)
        self._task_source = _with_sources(self._task_source, self.task_ids_, {**dict(zip(new_tasks, new_tasks)),
                                                                             **(task_sources or {})})
        self._extend_model_kernel()
        self.net_.grow(len(new_models), len(new_tasks), self.init_scale, self._gen)
        m_new = frame["model"].map({m: i for i, m in enumerate(self.model_ids_)}).to_numpy(np.int64)
        t_new = frame["task"].map({t: i for i, t in enumerate(self.task_ids_)}).to_numpy(np.int64)
        n_models, n_tasks = len(self.model_ids_), len(self.task_ids_)
        stale = np.isin(self._rec_task * n_models + self._rec_model, t_new * n_models + m_new)
        n_old = int((~stale).sum())
        self._rec_model = np.concatenate([self._rec_model[~stale], m_new])
        self._rec_task = np.concatenate([self._rec_task[~stale], t_new])
        self._rec_value = np.concatenate([self._rec_value[~stale], frame["value"].to_numpy(np.float64)])
        n_replay = min(n_old, int(round(self.replay_ratio * len(frame))))
        replay = self._rng.choice(n_old, size=n_replay, replace=False) if n_replay else np.zeros(0, np.int64)
        chosen = np.concatenate([np.arange(n_old, n_old + len(frame)), np.sort(replay)])
        z = normalize_per_task(self._rec_task, self._rec_value, n_tasks, self.normalize).astype(np.float32)
        self.model_bias_ = self._model_bias(z)
        self._fit_source_bonus(z)
        unseen = (np.bincount(self._rec_model, minlength=n_models)
                  - np.bincount(self._rec_model[chosen], minlength=n_models),
                  np.bincount(self._rec_task, minlength=n_tasks) - np.bincount(self._rec_task[chosen],
                                                                               minlength=n_tasks))
        movable = (np.isin(np.arange(n_models), m_new), np.isin(np.arange(n_tasks), t_new))
        data = TrainData(self._rec_model[chosen], self._rec_task[chosen], z[chosen], self.model_bias_,
                         self._model_features.matrix, self._model_features.has, movable, unseen)
        train(self.net_, data, self.get_params(), self.update_epochs, self.update_min_steps, self._rng, self._gen,
              "update")
        self._refresh()
        rows = np.flatnonzero(self._task_features.has)  # new tasks join the kernel; its calibration stays
        self.task_kernel_ = TaskKernel(self._task_features.matrix[rows], rows, self.task_kernel_.settings)
        return self

    def add_model(self, model_id: str | Sequence[str], model_features: np.ndarray | None = None,
                  sources: str | Sequence[str | None] | None = None) -> "TransferSpace":
        """Add models known only by their side features (cold models); the index grows without a rebuild.

        Parameters
        ----------
        model_id : str or sequence of str
            New model id(s).
        model_features : array-like of shape (p,) or (n, p), optional
            Their side features; without them a model gets the space's default (mean) model vector and bias.
        sources : str or sequence of str, optional
            The dataset(s) their weights were trained on, as ``model_sources`` in :meth:`fit`.

        Returns
        -------
        self : TransferSpace
        """
        self._check_fitted()
        ids = [model_id] if isinstance(model_id, str) else [str(m) for m in model_id]
        if model_features is None:
            feats = {}
        else:
            matrix = np.asarray(model_features, dtype=np.float64)
            matrix = matrix[None] if matrix.ndim == 1 else matrix
            if matrix.ndim != 2 or matrix.shape[0] != len(ids):
                raise InputError(f"`model_features` of TransferSpace.add_model must have one row per model "
                                 f"({len(ids)}). Got shape {np.shape(model_features)} instead.")
            feats = dict(zip(ids, matrix))
        sources = [sources] * len(ids) if sources is None or isinstance(sources, str) else list(sources)
        if len(sources) != len(ids):
            raise InputError(f"`sources` of TransferSpace.add_model must give one dataset per model ({len(ids)}). "
                             f"Got {len(sources)}.")
        start = len(self.model_ids_)
        self._grow_rows(pd.Series(ids), "model", feats, require_new=True)
        self._model_source = _with_sources(self._model_source, self.model_ids_, dict(zip(ids, sources)))
        self.net_.grow(len(ids), 0, 0.0, self._gen)  # zero free parts: the model is its side features
        self._extend_model_kernel()
        rows = np.arange(start, len(self.model_ids_))
        self.model_bias_ = np.concatenate([self.model_bias_, self._bias_prior(rows)]).astype(np.float32)
        self._refresh(new_models=rows)
        return self

    # ------------------------------------------------------------------ queries
    def score(self, task_features: np.ndarray | None = None,
              revealed: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score every model of the space for new tasks known by side features, revealed results, or both.

        Parameters
        ----------
        task_features : array-like of shape (q,) or (n_queries, q), optional
            Side features of the task(s) (the dimension seen at fit).
        revealed : mapping of str to float, or a sequence of them (one per query), optional
            Fine-tuning results already known for the task (model -> value); folded in by a ridge solve for the
            task vector, regularised towards its cold-start vector.

        Returns
        -------
        model_ids : ndarray of shape (n_models,)
            The models (object array of str), in the order of :attr:`model_ids_`.
        scores : ndarray of shape (n_models,) or (n_queries, n_models)
            Predicted quality (normalised units: higher is better).
        confidence : ndarray, same shape as ``scores``
            In [0, 1]; see the class Notes.
        """
        vectors, conf_task, single = self._query(task_features, revealed, "TransferSpace.score")
        scores = vectors @ self.model_factors_.T + self.model_bias_
        confidence = conf_task[:, None] * self.model_confidence_[None]
        ids = np.asarray(self.model_ids_, dtype=object)
        return (ids, scores[0], confidence[0]) if single else (ids, scores, confidence)

    def recommend(self, task_features: np.ndarray | None = None,
                  revealed: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None, k: int = 10,
                  filter_revealed: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` models for new task(s), through the faiss index.

        Parameters
        ----------
        task_features, revealed
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
        known = self._revealed_list(revealed, len(vectors)) if filter_revealed else [{}] * len(vectors)
        extra = max(len(r) for r in known)
        scores, ids = self.index_.search(vectors, k + extra)
        out_ids, out_scores = [], []
        for row_ids, row_scores, skip in zip(ids, scores, known):
            keep = [i for i, m in enumerate(row_ids) if m not in skip][:k]
            out_ids.append(row_ids[keep])
            out_scores.append(row_scores[keep])
        if single:
            return out_ids[0], out_scores[0]
        return np.stack(out_ids), np.stack(out_scores)

    def next(self, task_features: np.ndarray | None = None, tried: Mapping[str, float] | None = None,
             candidates: Sequence[str] | None = None, task_source: str | None = None) -> str:
        """The model to fine-tune next on a task, given the results tried so far.

        The untried model with the highest :meth:`next_scores`.

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

        Returns
        -------
        str
            A model id not in ``tried``.
        """
        ids, values = self.next_scores(task_features, tried, candidates, task_source)
        return str(ids[int(np.argmax(values))])

    def models_trained_on(self, dataset: str) -> list[str]:
        """The models whose ``model_sources`` name ``dataset`` (case and punctuation ignored): those :meth:`next`
        bets on for a task drawn from it."""
        self._check_fitted()
        return [self.model_ids_[i] for i in np.flatnonzero(self._trained_on(dataset))]

    def similar_tasks(self, task_features: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` training tasks nearest to a task by its side features, with a similarity in (0, 1].

        The similarity is the cold-task kernel's (standardised features; the shares' mean of ``2^{-(d / h)^2}`` over
        the views and widths it calibrated): 1 for the same features, 1/2 at a width ``h``. When the kernel uses no
        side features, the distance is over all blocks at equal weight and ``h`` the median distance from a training
        task to its nearest one. This is what explains a recommendation, so it looks where the space looks.
        """
        query = self._one_task(task_features, "similar_tasks")
        kernel = self.task_kernel_
        if not kernel.used:
            view = views_of(self.task_blocks and tuple(self.task_blocks), self._task_features.dim)[-1]
            width = median_spacing(block_distances(kernel.points, kernel.points, view))
            kernel = TaskKernel(kernel.points, kernel.rows, (KernelSetting(view, width, 0.0),))
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

    def next_scores(self, task_features: np.ndarray | None = None, tried: Mapping[str, float] | None = None,
                    candidates: Sequence[str] | None = None, task_source: str | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Optimistic scores for choosing the next model to fine-tune (``-inf`` for the tried ones and, with
        ``candidates``, for every model not among them).

        Folds ``tried`` into the task vector and adds a bonus ``explore * spread_m * (1 - confidence)``, where
        ``spread_m`` is how much model m's score varies across training tasks: while the task is uncertain, models
        whose outcome could be high are favoured. Models that move with a tried one (correlation across tasks) pay
        ``diversity`` times that correlation: the best of a few tries gains more from a different bet. Models
        trained on the task's own dataset (``task_source``) get ``source_bonus_`` on top (see ``source_optimism``).

        Parameters
        ----------
        task_features : array-like of shape (q,), optional
            Side features of the task.
        tried : mapping of str to float, optional
            Results seen so far (model -> value).
        candidates : sequence of str, optional
            Models that may be chosen (default: all).
        task_source : str, optional
            The dataset the task draws from.

        Returns
        -------
        model_ids : ndarray of shape (n_models,)
        values : ndarray of shape (n_models,)
        """
        tried = as_revealed(tried, "TransferSpace.next")
        if task_features is not None and np.ndim(task_features) != 1:
            raise InputError("`task_features` of TransferSpace.next must be one 1-D vector (one task). "
                             f"Got shape {np.shape(task_features)} instead.")
        ids, scores, confidence = self.score(task_features, tried)
        optimistic = scores + self.explore * self._model_spread * (1.0 - confidence)
        optimistic = optimistic + self.source_bonus_ * self._trained_on(task_source)
        tried_rows = [self._model_pos[m] for m in tried]
        if tried_rows and self.diversity:
            optimistic -= self.diversity * self._correlation(tried_rows).max(1)
        optimistic[tried_rows] = -np.inf
        if not np.isfinite(optimistic).any():
            raise InputError("`tried` of TransferSpace.next must leave at least one model untried. "
                             f"Got all {len(ids)} models.")
        if candidates is not None:
            allowed = self._positions(pd.Series(list(candidates), dtype=object), self._model_pos, "model")
            masked = np.full_like(optimistic, -np.inf)
            masked[allowed] = optimistic[allowed]
            if not np.isfinite(masked).any():
                raise InputError("`candidates` of TransferSpace.next must contain at least one untried model.",
                                 hint="pass models that are not in `tried`")
            optimistic = masked
        return ids, optimistic

    def _trained_on(self, dataset: str | None) -> np.ndarray:
        """Boolean mask over the models: trained on ``dataset`` (none for an unnamed dataset)."""
        key = source_key(dataset)
        return (self._model_source == key) if key else np.zeros(len(self.model_ids_), bool)

    def _one_task(self, task_features: np.ndarray, method: str) -> np.ndarray:
        """Standardised side features (1, q) of a task given to ``method``, for a space fitted with them."""
        self._check_fitted()
        if self._task_features.dim == 0:
            raise InputError(f"{method} needs a space fitted with task features.", hint="fit with task_features=...")
        return self._task_features.vectors(task_features, "task_features", f"TransferSpace.{method}")

    def _correlation(self, rows: list[int]) -> np.ndarray:
        """Correlation (n_models, len(rows)) across tasks of every model's score with the models at ``rows``:
        ``u_m' C u_t / (spread_m spread_t)`` with ``C`` the covariance of the task vectors (biases cancel)."""
        cov = self.model_factors_ @ (self._task_cov @ self.model_factors_[rows].T)
        scale = np.outer(self._model_spread, self._model_spread[rows])
        return np.where(scale > 1e-12, cov / np.maximum(scale, 1e-12), 0.0)

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
        m = self._positions(pairs["model"].astype(str), self._model_pos, "model")
        t = self._positions(pairs["task"].astype(str), {t: i for i, t in enumerate(self.task_ids_)}, "task")
        return self.model_bias_[m] + np.einsum("ij,ij->i", self.model_factors_[m], self.task_factors_[t])

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

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the fitted space to a directory: ``params.json`` (``get_params()``), ``space.json`` (ids,
        dimensions, calibration) and ``space.safetensors`` (tensors). No pickle.

        Parameters
        ----------
        path : str or Path
            Directory (created if missing).
        """
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {f"{kind}_features.{name}": getattr(table, name) for kind, table in
                  (("model", self._model_features), ("task", self._task_features))
                  for name in ("mean", "scale", "matrix", "has")}
        arrays.update({f"state.{name}": getattr(self, name) for name in _SAVED_STATE})
        arrays.update({f"view.{name}": getattr(self, name) for name in _SAVED_VIEWS})
        arrays.update({"kernel.points": self.task_kernel_.points, "kernel.rows": self.task_kernel_.rows})
        tensors = {f"net.{k}": v.detach().contiguous() for k, v in self.net_.state_dict().items()}
        tensors.update({k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()})
        save_file(tensors, str(path / "space.safetensors"))
        meta = {"format": _FORMAT, "model_ids": self.model_ids_, "task_ids": self.task_ids_,
                "model_feature_dim": self._model_features.dim, "task_feature_dim": self._task_features.dim,
                "model_bandwidth": self._model_bandwidth, "bias_intercept": self._bias_intercept,
                "kernel_settings": [s.to_dict() for s in self.task_kernel_.settings],
                "model_sources": self._model_source.tolist(), "task_sources": self._task_source.tolist(),
                "source_bonus": self.source_bonus_}
        (path / "space.json").write_text(json.dumps(meta))
        (path / "params.json").write_text(json.dumps({"class": type(self).__name__, "params": self.get_params()},
                                                      indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "TransferSpace":
        """Read a space written by :meth:`save`; it scores exactly as the saved one.

        Parameters
        ----------
        path : str or Path
            Directory written by :meth:`save`.

        Returns
        -------
        TransferSpace
        """
        path = Path(path)
        files = [path / n for n in ("params.json", "space.json", "space.safetensors")]
        if not all(f.is_file() for f in files):
            raise InputError(f"`path` of TransferSpace.load must be a directory written by TransferSpace.save. "
                             f"Got {str(path)!r}, which lacks {', '.join(f.name for f in files if not f.is_file())}.")
        params = {"normalize": "zscore", **json.loads(files[0].read_text())["params"]}  # saved before the choice
        meta = json.loads(files[1].read_text())
        if meta.get("format") != _FORMAT:
            raise InputError(f"space.json in {str(path)!r} has format {meta.get('format')!r}; this fennec reads "
                             f"format {_FORMAT}.")
        tensors = {k: v if k.startswith("net.") else v.numpy() for k, v in load_file(str(files[2])).items()}
        space = cls(**params)
        space.model_ids_, space.task_ids_ = list(meta["model_ids"]), list(meta["task_ids"])
        for kind in ("model", "task"):
            table = {n: tensors[f"{kind}_features.{n}"] for n in ("mean", "scale", "matrix", "has")}
            setattr(space, f"_{kind}_features", FeatureTable(meta[f"{kind}_feature_dim"], **table))
        for name in _SAVED_STATE:
            setattr(space, name, tensors[f"state.{name}"])
        for name in _SAVED_VIEWS:  # restored, not recomputed: batched and row-wise forwards differ in the last bit
            setattr(space, name, tensors[f"view.{name}"])
        space.task_kernel_ = TaskKernel(tensors["kernel.points"], tensors["kernel.rows"], _kernel_settings(meta))
        space._model_bandwidth, space._bias_intercept = meta["model_bandwidth"], meta["bias_intercept"]
        # spaces saved before sources were known have none: no model is matched
        space._model_source = np.array(meta.get("model_sources", [""] * len(space.model_ids_)), dtype=object)
        space._task_source = np.array(meta.get("task_sources", [""] * len(space.task_ids_)), dtype=object)
        space.source_bonus_ = float(meta.get("source_bonus", 0.0))
        seed = space._seed()
        space._rng, space._gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        space.net_ = SpaceNet(len(space.model_ids_), len(space.task_ids_), space.n_factors,
                              meta["model_feature_dim"], space.hidden, 0.0, space._gen)
        space.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        space.net_.eval()
        space._derive()
        return space

    # ------------------------------------------------------------------ internals
    def _validate_params(self) -> None:
        for name, (kind, low, high) in _CONSTRAINTS.items():
            value = getattr(self, name)
            ok = isinstance(value, kind) and not isinstance(value, bool) and value >= low
            if not ok or (high is not None and value > high):
                bound = f">= {low}" if high is None else f"in [{low}, {high}]"
                raise InputError(f"`{name}` of TransferSpace must be a {kind.__name__.lower()} {bound}. "
                                 f"Got {value!r} instead.")
        check_normalization(self.normalize)
        if self.random_state is not None and (not isinstance(self.random_state, Integral)
                                              or isinstance(self.random_state, bool)):
            raise InputError(f"`random_state` of TransferSpace must be an int or None. Got {self.random_state!r}.")

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0])
        return int(self.random_state) % (2 ** 63)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError.of(self)

    def _fit_bias_prior(self, z: np.ndarray) -> None:
        """Ridge regression of the models' mean normalised values on their standardised side features: the bias prior of
        a model with few or no records."""
        n_models = len(self.model_ids_)
        count = np.bincount(self._rec_model, minlength=n_models)
        mean = np.bincount(self._rec_model, weights=z, minlength=n_models) / np.maximum(count, 1)
        mt = self._model_features
        rows = mt.has & (count > 0)
        self._bias_intercept = float(mean[count > 0].mean())
        self._bias_coef = np.zeros(mt.dim, np.float64)
        if mt.dim and rows.sum() >= 2:
            x, y = mt.matrix[rows].astype(np.float64), mean[rows] - self._bias_intercept
            self._bias_coef = np.linalg.solve(x.T @ x + _BIAS_RIDGE * np.eye(mt.dim), x.T @ y)

    def _bias_prior(self, rows: np.ndarray) -> np.ndarray:
        mt = self._model_features
        return self._bias_intercept + np.where(mt.has[rows], mt.matrix[rows] @ self._bias_coef, 0.0)

    def _fit_source_bonus(self, z: np.ndarray) -> None:
        """``source_bonus_`` from the records whose model was trained on the task's own dataset."""
        model_source = self._model_source[self._rec_model]
        matched = (model_source != "") & (model_source == self._task_source[self._rec_task])
        residuals = z[matched] - self.model_bias_[self._rec_model[matched]]
        self.source_bonus_ = source_bonus(residuals, self.source_optimism)

    def _model_bias(self, z: np.ndarray) -> np.ndarray:
        """``(sum of z + bias_shrink * prior) / (n + bias_shrink)`` per model (z: normalised values): popularity, shrunk
        to the prior."""
        n_models = len(self.model_ids_)
        count = np.bincount(self._rec_model, minlength=n_models)
        total = np.bincount(self._rec_model, weights=z, minlength=n_models)
        prior = self._bias_prior(np.arange(n_models))
        return ((total + self.bias_shrink * prior) / np.maximum(count + self.bias_shrink, 1e-12)).astype(np.float32)

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

    def _fit_kernels(self) -> None:
        """Side-feature state of the model confidences: a sample of the training models (all of them up to
        2,000), their bandwidth, and every model's kernel similarity to the sample."""
        mt = self._model_features
        sample = np.flatnonzero(mt.has & (np.bincount(self._rec_model, minlength=len(self.model_ids_)) > 0))
        if sample.size > _BANDWIDTH_SAMPLE:
            sample = np.sort(np.random.default_rng(0).choice(sample, _BANDWIDTH_SAMPLE, replace=False))
        self._model_points = mt.matrix[sample]
        self._model_bandwidth = nn_bandwidth(self._model_points)
        self._model_kernel = np.zeros(0)
        self._extend_model_kernel()

    def _extend_model_kernel(self) -> None:
        """Kernel similarity of the models added since the last call (a cold model's share of confidence)."""
        mt = self._model_features
        start = len(self._model_kernel)
        kernel = np.zeros(len(self.model_ids_) - start)
        has = mt.has[start:]
        kernel[has] = kernel_confidence(mt.matrix[start:][has], self._model_points, self._model_bandwidth)
        self._model_kernel = np.concatenate([self._model_kernel, kernel])

    def _calibrate(self, z: np.ndarray) -> None:
        """Calibrate the cold-start task kernel leave-one-task-out (see ``fennec._space_kernel``)."""
        tt = self._task_features
        rows = np.flatnonzero(tt.has)
        n_models = len(self.model_ids_)
        count = np.bincount(self._rec_model, minlength=n_models)
        total = np.bincount(self._rec_model, weights=z, minlength=n_models)
        prior = self._bias_prior(np.arange(n_models))
        order = np.argsort(self._rec_task, kind="stable")
        starts = np.searchsorted(self._rec_task[order], np.arange(len(self.task_ids_) + 1))

        def column(task: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            at = order[starts[task]:starts[task + 1]]
            models, values = self._rec_model[at], z[at]
            bias = (total[models] - values + self.bias_shrink * prior[models]) / np.maximum(
                count[models] - 1 + self.bias_shrink, 1e-12)  # the bias without this task's record
            return models, values, bias

        shape = (len(self.task_ids_), n_models)
        values = sparse.csr_matrix((z.astype(np.float64), (self._rec_task, self._rec_model)), shape=shape)
        present = sparse.csr_matrix((np.ones(len(z)), (self._rec_task, self._rec_model)), shape=shape)

        def observed(tasks: np.ndarray, models: np.ndarray) -> np.ndarray:
            found = present[tasks][:, models].toarray() > 0
            return np.where(found, values[tasks][:, models].toarray(), np.nan)

        views = views_of(self.task_blocks and tuple(self.task_blocks), tt.dim)
        self.task_kernel_ = calibrate_task_kernel(tt.matrix[rows], rows, self.task_factors_.astype(np.float64),
                                                  self.model_factors_.astype(np.float64), column, observed,
                                                  views, self.calibration_tasks, np.random.default_rng(0))

    @torch.no_grad()
    def _refresh(self, new_models: np.ndarray | None = None) -> None:
        """Recompute the numpy views of the space (all of them, or only the rows of newly added models)."""
        mt = self._model_features
        rows = np.arange(len(self.model_ids_)) if new_models is None else new_models
        u = self.net_.models(torch.from_numpy(rows), torch.from_numpy(mt.matrix[rows]),
                             torch.from_numpy(mt.has[rows])).numpy()
        if new_models is None:
            self.model_factors_ = u.copy()
            self.task_factors_ = self.net_.tasks(torch.arange(len(self.task_ids_))).numpy().copy()
            self._derive()
        else:
            self.model_factors_ = np.vstack([self.model_factors_, u])
            index = self._index
            self._derive()
            if index is not None:
                index.add([self.model_ids_[r] for r in rows], u, self.model_bias_[rows])
                self._index = index

    def _derive(self) -> None:
        """What the queries need beyond the factors: task mean and covariance, confidences, spreads, positions;
        the index is rebuilt on next use."""
        self._task_mean = self.task_factors_.astype(np.float64).mean(0)
        centred = self.task_factors_ - self._task_mean
        self._task_cov = centred.T @ centred / max(len(self.task_ids_), 1)
        self._index = None
        n_results = np.bincount(self._rec_model, minlength=len(self.model_ids_))
        evidence = n_results / (n_results + _HALF_EVIDENCE)
        self.model_confidence_ = 1.0 - (1.0 - self._model_kernel) * (1.0 - evidence)
        self._model_spread = np.sqrt(np.maximum(np.einsum("id,de,ie->i", self.model_factors_, self._task_cov,
                                                          self.model_factors_), 0.0))
        self._model_pos = {m: i for i, m in enumerate(self.model_ids_)}
        x = np.column_stack([self.model_bias_, self.model_factors_]).astype(np.float64)
        x -= x.mean(0)  # the free intercept takes the means
        self._fold_in_moment = x.T @ x / max(len(x), 1) + 1e-6 * np.eye(x.shape[1])  # the g-prior's X'X / n

    def _revealed_list(self, revealed: object, n_queries: int) -> list[dict[str, float]]:
        if revealed is None or isinstance(revealed, (Mapping, pd.DataFrame)):
            return [as_revealed(revealed, "TransferSpace")] * n_queries
        if not isinstance(revealed, Sequence) or len(revealed) != n_queries:
            raise InputError(f"`revealed` of TransferSpace must be one mapping or a sequence of {n_queries} mappings "
                             f"(one per query). Got {type(revealed).__name__} of length "
                             f"{len(revealed) if isinstance(revealed, Sequence) else '?'} instead.")
        return [as_revealed(r, "TransferSpace") for r in revealed]

    def _query(self, task_features: object, revealed: object, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
        """Task vectors (n_queries, d) and task confidences for the queries, and whether the query was single."""
        self._check_fitted()
        if task_features is not None:
            if self._task_features.dim == 0:
                raise InputError(f"`task_features` of {where} cannot be used: the space was fitted without task "
                                 f"features.", hint="fit with task_features=... or query by `revealed` only")
            feats = self._task_features.vectors(task_features, "task_features", where)
            single = np.ndim(task_features) == 1
            n_queries = len(feats)
        else:
            feats = None
            single = revealed is None or isinstance(revealed, (Mapping, pd.DataFrame))
            n_queries = 1 if single else len(revealed)
        reveals = self._revealed_list(revealed, n_queries)
        if feats is None:
            weights = np.full((n_queries, len(self.task_ids_)), 1.0 / len(self.task_ids_))
            kernel = np.zeros(n_queries)
        else:
            weights, kernel = self.task_kernel_.weights(feats, len(self.task_ids_))
        vectors = np.stack([self._fold_in(weights[i], reveals[i]) for i in range(n_queries)])
        n_rev = np.array([len(r) for r in reveals], np.float64)
        confidence = 1.0 - (1.0 - kernel) * (1.0 - n_rev / (n_rev + _HALF_EVIDENCE))
        return vectors, confidence, single

    def _fold_in(self, weights: np.ndarray, revealed: dict[str, float]) -> np.ndarray:
        """The task vector from prior weights over the training tasks and revealed results.

        1. Reweighting: the revealed values are normalised among themselves; training task ``j`` gets weight
           ``w_j * exp((k - 1) * rho_j / fold_in_temperature)``, ``rho_j`` the correlation of the revealed values
           with task ``j``'s scores on the same ``k`` models. The reweighted mean of the training task vectors
           stays a blend of real tasks: a few results pick the tasks they resemble, never an extrapolation.
        2. Ridge: ``z ~ c + beta * b_m + <u_m, v>`` fitted to the revealed results, with a free intercept ``c``
           (their mean says nothing about the order) and a g-prior on ``(beta, v)`` centred on ``(1, step 1)``
           with precision ``fold_in_alpha * X'X / n`` (``X = [b, U]`` over all models, centred): the prior counts as
           ``fold_in_alpha`` results, so a handful of results barely move ``v`` while many can reach a task unlike
           any training task. ``v / max(beta, 0.25)`` is returned: the fitted order, with a floor so that a poorly
           estimated ``beta`` cannot turn the prior off or flip it.
        """
        vectors = self.task_factors_.astype(np.float64)
        if not revealed:
            return weights @ vectors - self._task_mean
        rows = self._positions(pd.Series(list(revealed)), self._model_pos, "model")
        target = normalize_one(np.fromiter(revealed.values(), np.float64), self.normalize)
        if len(rows) > 1:
            scores = self.model_bias_[rows][:, None] + self.model_factors_[rows] @ vectors.T
            scores = scores - scores.mean(0)
            rho = scores.T @ target / np.sqrt((scores ** 2).sum(0) * (target ** 2).sum() + 1e-12)
            logits = np.log(np.maximum(weights, 1e-300)) + (len(rows) - 1) * rho / self.fold_in_temperature
            weights = np.exp(logits - logits.max())
            weights /= weights.sum()
        prior = weights @ vectors - self._task_mean
        design = np.column_stack([np.ones(len(rows)), self.model_bias_[rows], self.model_factors_[rows]])
        penalty = np.zeros((self.n_factors + 2, self.n_factors + 2))
        penalty[0, 0] = _INTERCEPT_ALPHA
        penalty[1:, 1:] = self.fold_in_alpha * self._fold_in_moment
        w0 = np.concatenate([[0.0, 1.0], prior])
        w = np.linalg.solve(design.T @ design + penalty, design.T @ target + penalty @ w0)
        # Scores are b_m + <u_m, v>: dividing v by beta keeps the fitted order (beta b + U v); beta is floored so a
        # poorly estimated (near-zero or negative) beta cannot blow v up or flip the model prior.
        return w[2:] / max(w[1], _MIN_BIAS_WEIGHT)

    @staticmethod
    def _positions(names: pd.Series, positions: dict[str, int], kind: str) -> np.ndarray:
        idx = names.map(positions)
        if idx.isna().any():
            missing = names[idx.isna()].iloc[0]
            raise UnknownNameError.of(kind, missing, positions)
        return idx.to_numpy(np.int64)


def _kernel_settings(meta: dict) -> tuple[KernelSetting, ...]:
    """The cold-task kernel's settings from ``space.json`` (spaces saved before the bagged kernel stored one
    setting, with an infinite prior weight when unused)."""
    if "kernel_settings" in meta:
        return tuple(KernelSetting.from_dict(s) for s in meta["kernel_settings"])
    if not np.isfinite(meta["kernel_prior"]):
        return ()
    return (KernelSetting(tuple(tuple(b) for b in meta.get("kernel_blocks", [])), float(meta["kernel_width"]),
                          float(meta["kernel_prior"])),)


def _with_sources(keys: np.ndarray, ids: list[str], sources: Mapping[str, str]) -> np.ndarray:
    """``keys`` grown to ``ids`` (new rows without a source), then the rows named in ``sources`` set."""
    out = np.concatenate([keys, np.full(len(ids) - len(keys), "", dtype=object)])
    position = {name: i for i, name in enumerate(ids)}
    for name, source in (sources or {}).items():
        if name in position:
            out[position[name]] = source_key(source)
    return out
