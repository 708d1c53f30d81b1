"""Predictions a user can act on: every model's expected value on a new task in the task's own units, with
split-conformal intervals, and how far to trust the ranking (:mod:`fennec.space._uncertainty` says how each is
learnt on the history)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fennec.errors import InputError, NotFittedError
from fennec.space._features import FeatureTable
from fennec.space._kernel import TaskKernel
from fennec.space._records import as_revealed
from fennec.space._uncertainty import TOP, Uncertainty, task_units

__all__ = ["LEVELS", "PredictionMixin", "TaskPrediction", "resolve_value_range"]

#: Default nominal coverages of the intervals.
LEVELS = (0.8, 0.9)


@dataclass
class TaskPrediction:
    """What the space expects of every model on one task (:meth:`~fennec.space.TransferSpace.predict_task`).

    Attributes
    ----------
    model_ids : ndarray of shape (n_models,)
        The models, in the space's order.
    scores : ndarray of shape (n_models,)
        The space's scores (normalised units; the ranking).
    confidence : ndarray of shape (n_models,)
        The kernel-based confidence :meth:`~fennec.space.TransferSpace.score` gives with the scores.
    values : ndarray of shape (n_models,)
        Expected value in the task's units (a revealed model: its result).
    intervals : dict of float to (ndarray, ndarray)
        Per nominal coverage, lower and upper bounds (a revealed model: its result twice), within the space's
        ``value_range_``.
    in_top3 : ndarray of shape (n_models,)
        Estimated chance that the model is among the task's true best 3 (NaN for revealed models).
    location, scale : float
        ``mu`` and ``sigma`` of the task's units (``values = mu + sigma * scores``).
    scale_source : str
        Where the units come from: ``"revealed results"`` or ``"similar tasks in the history"``.
    p_best_in_top : dict of int to float
        Estimated chance that the predicted top ``k`` holds the task's best model (k in 1, 3, 5).
    expected_regret : dict of int to float
        Estimated best value minus the best of the predicted top ``k``, in the task's units.
    n_revealed : int
        Results the prediction used.
    """

    model_ids: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray
    values: np.ndarray
    intervals: dict[float, tuple[np.ndarray, np.ndarray]]
    in_top3: np.ndarray
    location: float
    scale: float
    scale_source: str
    p_best_in_top: dict[int, float] = field(default_factory=dict)
    expected_regret: dict[int, float] = field(default_factory=dict)
    n_revealed: int = 0


class PredictionMixin:
    """:meth:`predict_task` of :class:`~fennec.space.TransferSpace` (reads the fitted ``uncertainty_``)."""

    uncertainty_: Uncertainty | None
    value_range_: tuple[float, float] | None
    task_kernel_: TaskKernel
    _task_features: FeatureTable
    _model_pos: dict[str, int]

    def predict_task(self, task_features: np.ndarray | None = None, revealed: Mapping[str, float] | None = None,
                     levels: Sequence[float] = LEVELS, pairs: Mapping[str, np.ndarray] | None = None
                     ) -> TaskPrediction:
        """Every model's expected value on one new task, in the task's units, with intervals and the ranking's
        confidence.

        Cost: one :meth:`score`, then per model a multiply-add per level; the ranking's confidence is a weighted
        mean over the stored held-out problems (a few thousand at most).

        Parameters
        ----------
        task_features : array-like of shape (q,), optional
            Side features of the task.
        revealed : mapping of str to float, optional
            Results already known for the task; with one or more, the task's units come from them.
        levels : sequence of float, default=(0.8, 0.9)
            Nominal coverages of the intervals, each in (0, 1).
        pairs : mapping of str to ndarray, optional
            The task's vectors for the pairwise term, as in :meth:`score`.
        """
        if self.uncertainty_ is None:
            raise NotFittedError("This space was saved by an older fennec and has no intervals.",
                                 hint="retrain it (fennec train -w WORKSPACE, or TransferSpace.fit)")
        bad = [lv for lv in levels if not 0 < float(lv) < 1]
        if bad:
            raise InputError(f"`levels` of TransferSpace.predict_task must lie in (0, 1). Got {bad} instead.",
                             hint="e.g. levels=(0.8, 0.9)")
        known = as_revealed(revealed, "TransferSpace.predict_task")
        ids, scores, confidence = self.score(task_features, known, pairs)
        rows = np.array([self._model_pos[m] for m in known], np.int64)
        query = self._kernel_query(task_features)
        weights = self._prior_weights(query)
        unc = self.uncertainty_
        mu, sigma = task_units(float(weights @ unc.task_location), float(weights @ unc.task_scale), scores[rows],
                               np.fromiter(known.values(), np.float64, len(known)))
        values = mu + sigma * scores
        spread = sigma * unc.model_width
        half = {float(lv): unc.half_width(len(known), lv) * spread for lv in levels}
        intervals = {lv: (values - h, values + h) for lv, h in half.items()}
        if self.value_range_ is not None:  # a bound of the measure holds for every model: nothing is lost
            values = np.clip(values, *self.value_range_)
            intervals = {lv: (np.clip(low, *self.value_range_), np.clip(high, *self.value_range_))
                         for lv, (low, high) in intervals.items()}
        values[rows] = list(known.values())
        for low, high in intervals.values():
            low[rows], high[rows] = values[rows], values[rows]
        estimate = unc.ranking(len(known), self._nearness(query))
        return TaskPrediction(ids, scores, confidence, values, intervals, self._in_top3(scores, rows, estimate),
                              mu, sigma, "revealed results" if len(known) else "similar tasks in the history",
                              {} if estimate is None else dict(zip(TOP, estimate["hit"].tolist())),
                              {} if estimate is None else dict(zip(TOP, (sigma * estimate["regret"]).tolist())),
                              len(known))

    def _in_top3(self, scores: np.ndarray, revealed: np.ndarray, estimate: dict | None) -> np.ndarray:
        """The estimated chance of each unrevealed model, by its rank among them, to be in the true top 3."""
        out = np.full(len(scores), np.nan)
        hidden = np.ones(len(scores), bool)
        hidden[revealed] = False
        order = np.flatnonzero(hidden)[np.argsort(-scores[hidden], kind="stable")]
        out[order] = self.uncertainty_.in_top3(estimate, len(order))
        return out

    def _kernel_query(self, task_features: np.ndarray | None) -> np.ndarray | None:
        """The task's standardised side features for the cold-task kernel (None when it is not used)."""
        if task_features is None or not self.task_kernel_.used:
            return None
        return self._task_features.vectors(task_features, "task_features", "TransferSpace.predict_task")

    def _prior_weights(self, query: np.ndarray | None) -> np.ndarray:
        """The cold-task kernel's weights over the training tasks (uniform without a ``query``)."""
        n_tasks = len(self.uncertainty_.task_location)
        if query is None:
            return np.full(n_tasks, 1.0 / n_tasks)
        return self.task_kernel_.weights(query, n_tasks)[0][0]

    def _nearness(self, query: np.ndarray | None) -> float:
        """The kernel's largest similarity of the task to a training task (0 without a ``query``)."""
        if query is None:
            return 0.0
        return float(self.task_kernel_.similarity(query).max())


def resolve_value_range(setting: object, values: np.ndarray) -> tuple[float, float] | None:
    """A space's ``value_range`` as bounds (``"auto"``: [0, 1] when every training value in ``values`` lies there,
    else None); a bad setting is an InputError."""
    if setting is None:
        return None
    if isinstance(setting, str) and setting == "auto":
        inside = values.size and float(values.min()) >= 0.0 and float(values.max()) <= 1.0
        return (0.0, 1.0) if inside else None
    try:
        bounds = () if isinstance(setting, str) else tuple(float(b) for b in setting)
    except (TypeError, ValueError):
        bounds = ()
    if len(bounds) != 2 or not bounds[0] < bounds[1]:
        raise InputError(f"`value_range` of TransferSpace must be \"auto\", None or (low, high) with low < high. "
                         f"Got {setting!r} instead.", hint="e.g. value_range=(0, 100) for percentages")
    return bounds
