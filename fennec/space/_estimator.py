"""The estimator :class:`TransferSpace`: parameters, fitting, queries; the parts live in the modules it names."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from fennec.errors import InputError, NotFittedError
from fennec.normalize import check_normalization
from fennec.space._affinity import PairTerm
from fennec.space._bias import BiasPrior, shrunk_mean
from fennec.space._budget import BudgetMixin
from fennec.space._calibration import calibrate
from fennec.space._confidence import ModelKernel, confidence
from fennec.space._features import FeatureTable
from fennec.space._geometry import Geometry
from fennec.space._growth import GrowthMixin
from fennec.space._held_out import FoldIn, cold_problems, fit_uncertainty
from fennec.space._net import SpaceNet
from fennec.space._persistence import load_space, save_space
from fennec.space._prediction import PredictionMixin, resolve_value_range
from fennec.space._queries import QueriesMixin
from fennec.space._records import Records, coerce_records
from fennec.space._sources import Sources
from fennec.space._training import TrainData, train

__all__ = ["TransferSpace"]

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


class TransferSpace(QueriesMixin, PredictionMixin, BudgetMixin, GrowthMixin, BaseEstimator):
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
        Pseudo-count of the model bias towards a ridge prior on the model side features (:mod:`fennec.space._bias`).
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
        history, over their model's bias (their scores are left alone; :mod:`fennec.space._sources` says why).
    value_range : "auto", (float, float) or None, default="auto"
        Bounds of the measure (resolved: ``value_range_``), to which :meth:`predict_task` clips values and intervals;
        ``"auto"``: (0, 1) when every training value lies there (accuracy, F1...), else none; e.g. (0, 100) for %.
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
    pair_term_ : PairTerm
        The pairwise term (:mod:`fennec.space._affinity`): its views, the models' vectors and the fitted weights
        (all zero when the views did not help on the training tasks' cold problems, or none were given).
    uncertainty_ : Uncertainty or None
        What :meth:`predict_task`'s values, intervals and ranking confidence are learnt from: the held-out problems
        of the training tasks (:mod:`fennec.space._uncertainty`; None for a space saved before they existed).

    See Also
    --------
    fennec.index.ModelIndex : the top-k search behind :meth:`recommend`.

    Notes
    -----
    ``score(m, t) = b_m + <u_m, v_t> + sum_v w_v a_v(m, t)`` with ``u_m = e_m + A(phi_m)`` (free embeddings,
    dropped at random while training, plus an encoder of the model side features: a model with no history enters by
    what it is) and ``a_v`` the pairwise affinities of the model's training data or labels to the task's. Where each
    part is defined:

    - **Pairwise term** (:mod:`fennec.space._affinity`): per view, the standardised inner product of the model's
      and the task's vectors, weighted by a ridge fit on the training tasks' cold held-out residuals.

    - **Normalisation** (:mod:`fennec.normalize`): each task's values become normal scores ``Phi^-1((r - 1/2) /
      n)`` (ties share their mean rank), so that tasks of different difficulty weigh alike and a few failed runs
      cannot squeeze the good models together; ``"zscore"`` centres and divides by the sample standard deviation.
      Scores are in these units.
    - **Objective** (:mod:`fennec.space._training`, :mod:`fennec.space._net`): with the biases
      (:mod:`fennec.space._bias`) fixed, mean squared error to the normalised values plus ``rank_weight`` times a
      listwise softmax cross-entropy (ListNet, temperature ``T``), by Adam over mini-batches of records (never a
      dense models x tasks matrix).
    - **Cold tasks** (:mod:`fennec.space._kernel`, calibrated by :mod:`fennec.space._calibration`): kernel
      regression over the training task vectors from the task's side features; with nothing known of a task, its
      vector is the mean training task and the ranking is the popularity prior.
    - **Few-shot tasks** (:mod:`fennec.space._fold_in`): revealed results reweight the training tasks and a small
      ridge solve fits ``v_t``; only their order and spread matter.
    - **Confidence** (:mod:`fennec.space._confidence`): a task part times a model part, each from the row's results
      and the nearness of its side features to the training rows.
    - **Predicted values, intervals, ranking confidence** (:mod:`fennec.space._uncertainty`, learnt by
      :mod:`fennec.space._held_out`, queried by :meth:`predict_task`): split-conformal intervals in the task's
      units and the chance that the top ``k`` holds the best model, from each training task predicted from the
      others.
    - **Budgeted selection** (:mod:`fennec.space._budget`): :meth:`next`'s optimism, hedging and same-dataset bet.
    - **Persistence** (:mod:`fennec.space._persistence`): JSON and safetensors, no pickle.

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
                 source_optimism: float = 1.0, value_range: str | tuple[float, float] | None = "auto",
                 random_state: int | None = None, verbose: bool = False) -> None:
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
        self.value_range = value_range
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, records: pd.DataFrame, model_features: Mapping[str, np.ndarray] | None = None,
            task_features: Mapping[str, np.ndarray] | None = None, *, model_sources: Mapping[str, str] | None = None,
            task_sources: Mapping[str, str] | None = None,
            model_pairs: Mapping[str, Mapping[str, np.ndarray]] | None = None,
            task_pairs: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> "TransferSpace":
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
        model_pairs, task_pairs : mapping of view name to (mapping of id to ndarray), optional
            The pairwise term's views (:mod:`fennec.space._affinity`): per view, each model's vector (e.g. an
            embedding of its training data or label set) and each training task's vector in the same space; a
            model-task affinity is their inner product. Queries then pass the new task's vectors as ``pairs``.

        Returns
        -------
        self : TransferSpace
        """
        self._validate_params()
        self._records, self.model_ids_, self.task_ids_ = Records.of(coerce_records(records))
        self._model_features = FeatureTable.fit(self.model_ids_, model_features, "model_features", "TransferSpace.fit")
        self._task_features = FeatureTable.fit(self.task_ids_, task_features, "task_features", "TransferSpace.fit")
        seed = self._seed()
        self._rng, self._gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        z = self._records.normalized(len(self.task_ids_), self.normalize)
        self._bias_prior = BiasPrior.fit(self._records, z, self._model_features, len(self.model_ids_))
        self.model_bias_ = self._model_bias(z)
        self._sources = Sources.of(self.model_ids_, self.task_ids_, model_sources, task_sources)
        self.source_bonus_ = self._sources.bonus(self._records, z, self.model_bias_, self.source_optimism)
        self.net_ = SpaceNet(len(self.model_ids_), len(self.task_ids_), self.n_factors, self._model_features.dim,
                             self.hidden, self.init_scale, self._gen)
        data = TrainData(self._records.model, self._records.task, z, self.model_bias_, self._model_features.matrix,
                         self._model_features.has)
        train(self.net_, data, self.get_params(), self.n_epochs, self.min_steps, self._rng, self._gen, "fit")
        self._model_kernel = ModelKernel.fit(self._model_features, np.bincount(self._records.model,
                                                                               minlength=len(self.model_ids_)))
        self._refresh()
        prior = self._bias_prior(self._model_features, np.arange(len(self.model_ids_)))
        self.task_kernel_ = calibrate(self._records, z, prior, self.bias_shrink, self._task_features,
                                      self.task_factors_, self.model_factors_, self.task_blocks,
                                      self.calibration_tasks)
        self._fit_uncertainty(z)
        self._fit_pairs(z, prior, model_pairs, task_pairs)
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the fitted space to the directory ``path`` (created if missing): ``params.json``
        (``get_params()``), ``space.json`` (ids, dimensions, calibration) and ``space.safetensors`` (tensors). No
        pickle."""
        self._check_fitted()
        save_space(self, Path(path))

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
        return load_space(cls, Path(path))

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
        resolve_value_range(self.value_range, np.zeros(0))
        if self.random_state is not None and (not isinstance(self.random_state, Integral)
                                              or isinstance(self.random_state, bool)):
            raise InputError(f"`random_state` of TransferSpace must be an int or None. Got {self.random_state!r}.")

    def _fit_uncertainty(self, z: np.ndarray) -> None:
        """The held-out problems behind :meth:`predict_task` (:mod:`fennec.space._uncertainty`)."""
        prior = self._bias_prior(self._model_features, np.arange(len(self.model_ids_)))
        fold = FoldIn(self.normalize, self.fold_in_temperature, self.fold_in_alpha)
        self.uncertainty_ = fit_uncertainty(self._records, z, prior, self.bias_shrink, self._geometry,
                                            self.task_kernel_, fold, self.calibration_tasks)

    def _fit_pairs(self, z: np.ndarray, prior: np.ndarray, model_pairs: Mapping | None,
                   task_pairs: Mapping | None) -> None:
        """The pairwise term, its weights fitted on the training tasks' cold held-out problems."""
        self.pair_term_ = PairTerm.of(self.model_ids_, model_pairs)
        if not self.pair_term_.views or not task_pairs:
            return
        problems = []
        for j, models, values, predicted in cold_problems(self._records, z, prior, self.bias_shrink,
                                                          self._geometry, self.task_kernel_):
            task = self.task_ids_[j]
            pairs = {v: vectors[task] for v, vectors in task_pairs.items() if task in vectors}
            problems.append((models, values, predicted, pairs))
        self.pair_term_.fit(problems)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0])
        return int(self.random_state) % (2 ** 63)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError.of(self)

    def _model_bias(self, z: np.ndarray) -> np.ndarray:
        """Every model's bias from normalised values ``z`` (:mod:`fennec.space._bias`), float32."""
        count, total = self._records.per_model(len(self.model_ids_), z)
        prior = self._bias_prior(self._model_features, np.arange(len(self.model_ids_)))
        return shrunk_mean(total, count, prior, self.bias_shrink).astype(np.float32)

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
        """What the queries need beyond the factors (:mod:`fennec.space._geometry`), the model confidences and
        positions; the index is rebuilt on next use."""
        self._geometry = Geometry(self.model_bias_, self.model_factors_, self.task_factors_)
        self.value_range_ = resolve_value_range(self.value_range, self._records.value)
        self._index = None
        n_results = np.bincount(self._records.model, minlength=len(self.model_ids_))
        self.model_confidence_ = confidence(self._model_kernel.kernel, n_results)
        self._model_pos = {m: i for i, m in enumerate(self.model_ids_)}


