r"""What a prediction of the space is worth, learnt on the history: values in the task's own units, split-conformal
intervals, and how likely a ranking's top holds the task's best model.

Everything here comes from *held-out problems* (:mod:`fennec.space._held_out`): each training task is predicted
from the other training tasks, cold and with ``k`` of its results revealed (``k`` in :data:`K_GRID`), exactly as a
new task would be, and what happened is kept:

- **Values in the task's units.** A task's values are about ``mu + sigma * s`` with ``s`` the space's normalised
  score; ``mu`` and ``sigma`` come from the revealed results when there are some, else from the mean and spread of
  the values of the training tasks the cold-task kernel weighs (the history's spread on similar tasks).
- **Intervals** (split conformal prediction; Vovk et al. 2005, Lei et al. 2018): the nonconformity of a held-out
  value ``y`` is ``|y - y_hat| / (sigma * w_m)``, ``w_m`` the model's width (how much its normalised value varies
  across the training tasks, relative to the median model). For cold queries the exchangeable units are tasks, not
  values: a task's values share its level, and a task whose level the history mispredicts misses with all its values
  at once. So every cold held-out task weighs 1 (its values share it), and at level ``1 - alpha`` the half-width is
  ``sigma * w_m`` times the smallest nonconformity whose weighted share reaches ``(1 - alpha)(G + 1) / G`` with
  ``G`` held-out tasks (the pooled task distributions of Dunn, Wasserman and Ramdas 2022, "Distribution-free
  prediction sets for two-layer hierarchical models", with split conformal's finite-sample rank at the task
  level). With revealed results the level is the task's own, and each value is a unit (the plain rank
  ``ceil((n + 1)(1 - alpha))`` over ``n`` values). Infinite when the units cannot back the level (e.g. 95% from
  ten tasks). The guarantee is marginal over tasks, not per task.
- **Ranking confidence**: the held-out problems' hit@k (the best model is in the predicted top ``k``), regret@k
  (in units of ``sigma``) and, per predicted rank, whether that model is in the task's true top 3, averaged with
  weights ``exp(-((n_q - n_p) / h)^2)`` over how near problem and query are to their nearest training task
  (``n``: the cold-task kernel's largest similarity; Nadaraya-Watson), so a query far from the history is judged by
  the problems that were far too.

Cost per query: a few weighted means over the stored problems (at most a few thousand) and one quantile lookup.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fennec.space._records import Records

__all__ = ["K_GRID", "RANKS", "TOP", "Uncertainty", "grid_k", "model_widths", "task_units"]

#: Revealed results per held-out problem; a query with ``k`` results is judged by the largest grid value <= k.
K_GRID = (0, 1, 3, 5, 10)
#: The top-k lengths whose hit and regret are estimated.
TOP = (1, 3, 5)
#: Predicted ranks whose chance of being in the true top 3 is estimated (deeper ranks share the last one's).
RANKS = 10
#: Nonconformity scores kept per ``k`` (a seeded subsample beyond it).
MAX_SCORES = 20_000
#: Pseudo-count of the median model's spread in a model's width.
_WIDTH_PRIOR = 3.0


def grid_k(k: int) -> int:
    """The largest :data:`K_GRID` value not above ``k`` revealed results."""
    return max(g for g in K_GRID if g <= k)


def model_widths(records: Records, z: np.ndarray, n_models: int) -> np.ndarray:
    """Each model's width ``w_m``: the standard deviation of its normalised values ``z`` (one per record) across
    tasks, shrunk to the median model's by :data:`_WIDTH_PRIOR` pseudo-records, over that median (1 for a model
    without records)."""
    count, total = records.per_model(n_models, z)
    count = count.astype(np.float64)
    mean = total / np.maximum(count, 1)
    _, square = records.per_model(n_models, (z - mean[records.model]) ** 2)
    var = square / np.maximum(count - 1, 1)
    median = float(np.median(var[count > 1])) if (count > 1).any() else 1.0
    median = median if median > 1e-12 else 1.0
    shrunk = (square + _WIDTH_PRIOR * median) / (np.maximum(count - 1, 0) + _WIDTH_PRIOR)
    return np.sqrt(shrunk / median)


def task_units(location: float, scale: float, predicted: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """``(mu, sigma)`` of a task, ``values ~ mu + sigma * score``: the prior ``location`` and ``scale`` (the
    history's, on similar tasks) moved by revealed ``values`` of models with normalised scores ``predicted``. One
    result moves ``mu`` half way (the prior counts as one result); from three on, the slope of the values on the
    scores enters ``sigma`` too (the prior counts as five results, the slope clipped to [1/4, 4] times the prior)."""
    scale = max(float(scale), 1e-9)
    k = len(values)
    if k == 0:
        return float(location), scale
    sigma = scale
    if k >= 3 and np.ptp(predicted) > 1e-9:
        centred = predicted - predicted.mean()
        slope = float(centred @ (values - values.mean()) / (centred @ centred))
        sigma = (k * float(np.clip(slope, scale / 4, 4 * scale)) + 5 * scale) / (k + 5)
    return (float(np.sum(values - sigma * predicted)) + float(location)) / (k + 1), sigma


@dataclass
class Uncertainty:
    """The held-out problems' record, and what queries read from it.

    Attributes
    ----------
    scores : dict of int to ndarray
        Signed nonconformity ``(y - y_hat) / (sigma * w_m)`` per :data:`K_GRID` value (sorted).
    problems : ndarray of shape (n_problems, 2 + 2 * len(TOP) + RANKS)
        Per problem: ``k``, nearness, hit@TOP, regret@TOP (in units of ``sigma``), in-true-top-3 per predicted rank.
    model_width : ndarray of shape (n_models,)
        ``w_m`` of every model of the space (1 for models added without records).
    task_location, task_scale : ndarray of shape (n_tasks,)
        Mean and standard deviation of each training task's values (its units).
    weights : dict of int to ndarray
        Per :data:`K_GRID` value, each score's weight (aligned with ``scores``; a held-out task's weights sum to 1).
        Missing: every score is its own unit (weight 1), the plain split-conformal rank over values.
    """

    scores: dict[int, np.ndarray]
    problems: np.ndarray
    model_width: np.ndarray
    task_location: np.ndarray
    task_scale: np.ndarray
    weights: dict[int, np.ndarray] = field(default_factory=dict)

    # ------------------------------------------------------------------ intervals
    def half_width(self, k: int, level: float) -> float:
        """The conformal quantile of |nonconformity| at ``level`` for queries with ``k`` revealed results (inf when
        the history holds too few held-out tasks for that level)."""
        g = self._grid(k)
        if g is None:
            return float("inf")
        magnitude = np.abs(self.scores[g])
        weights = self.weights.get(g, np.ones(len(magnitude)))
        order = np.argsort(magnitude, kind="stable")
        units = float(weights.sum())  # G: held-out tasks (or values, without weights)
        needed = level * (units + 1)
        if needed > units * (1 + 1e-12):
            return float("inf")
        cumulative = np.cumsum(weights[order])
        at = min(int(np.searchsorted(cumulative, needed * (1 - 1e-12))), len(order) - 1)
        return float(magnitude[order[at]])

    def draws(self, k: int, size: int = 256) -> np.ndarray:
        """``size`` evenly spaced quantiles of the signed nonconformity, for expectations over a prediction's error.

        The quantiles are of the scores weighed as the intervals weigh them (:attr:`weights`): for cold queries each
        held-out task counts once, so a task with many models does not stand for the others."""
        g = self._grid(k)
        if g is None:
            return np.zeros(1)
        scores, probabilities = self.scores[g], (np.arange(size) + 0.5) / size
        weights = self.weights.get(g)
        if weights is None or np.ptp(weights) <= 1e-12 * weights.max():
            return np.quantile(scores, probabilities)
        order = np.argsort(scores, kind="stable")
        cumulative = np.cumsum(weights[order])
        midpoints = (cumulative - 0.5 * weights[order]) / cumulative[-1]  # each score at the middle of its mass
        return np.interp(probabilities, midpoints, scores[order])

    def expected_gain(self, k: int, values: np.ndarray, spread: np.ndarray, best: float,
                      ceiling: float = np.inf) -> np.ndarray:
        """``E[max(0, min(Y, ceiling) - best)]`` per model, ``Y = value + spread * e`` with ``e`` drawn from the
        held-out problems' nonconformity (``spread = sigma * w_m``): what one more try of that model is expected to
        add over the ``best`` result so far (``ceiling``: the measure's upper bound)."""
        e = self.draws(k, 128)
        return np.maximum(np.minimum(values[:, None] + spread[:, None] * e[None], ceiling) - best, 0.0).mean(1)

    def _grid(self, k: int) -> int | None:
        """The grid value whose scores judge a query with ``k`` results: the largest one with scores (fewer
        revealed results give wider intervals, so falling back is safe); None without any."""
        for g in sorted((g for g in self.scores if g <= k), reverse=True):
            if len(self.scores[g]):
                return g
        return None

    # ------------------------------------------------------------------ ranking confidence
    def ranking(self, k: int, nearness: float) -> dict[str, np.ndarray] | None:
        """Estimated ``hit`` and ``regret`` (units of ``sigma``) per :data:`TOP` and ``in_top3`` per predicted rank
        for a query with ``k`` results whose largest kernel similarity to a training task is ``nearness``; None when
        the history held no problem to learn them from."""
        rows = self.problems[self.problems[:, 0] == grid_k(k)]
        if not len(rows):
            return None
        near = rows[:, 1]
        width = max(0.1, float(near.std()))
        weights = np.exp(-((near - nearness) / width) ** 2)
        weights = weights / weights.sum() if weights.sum() > 1e-12 else np.full(len(rows), 1.0 / len(rows))
        mean = weights @ rows[:, 2:]
        n = len(TOP)
        return {"hit": mean[:n], "regret": mean[n:2 * n], "in_top3": mean[2 * n:]}

    def in_top3(self, estimate: dict[str, np.ndarray] | None, n_models: int) -> np.ndarray:
        """The chance, per predicted rank ``0..n_models-1``, that the model there is in the task's true top 3 (the
        last estimated rank's for deeper ones; NaN without an estimate)."""
        if estimate is None:
            return np.full(n_models, np.nan)
        curve = estimate["in_top3"]
        return curve[np.minimum(np.arange(n_models), len(curve) - 1)]

    def extend(self, n_new: int) -> None:
        """Room for models added without records (width 1: the median model's)."""
        self.model_width = np.concatenate([self.model_width, np.ones(n_new)])

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"scores.{g}": s for g, s in self.scores.items()}
        arrays.update({f"weights.{g}": w for g, w in self.weights.items()})
        arrays.update(problems=self.problems, model_width=self.model_width, task_location=self.task_location,
                      task_scale=self.task_scale)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Uncertainty:
        def by_grid(prefix: str) -> dict[int, np.ndarray]:
            return {int(name.split(".", 1)[1]): v for name, v in arrays.items() if name.startswith(prefix)}

        return cls(by_grid("scores."), arrays["problems"], arrays["model_width"], arrays["task_location"],
                   arrays["task_scale"], by_grid("weights."))
