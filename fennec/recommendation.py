"""What the recommender answers: a ranked list of models for a task (:class:`Recommendation`) and the models to
fine-tune next given the results tried so far (:class:`NextPicks`), each with its JSON form."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["NextPicks", "Recommendation"]


@dataclass
class Recommendation:
    """A ranked list of models for one task, with what produced it.

    Attributes
    ----------
    task : str
        The task's name.
    ranking : list of dict
        ``{"model", "score", "predicted", "interval", "confidence"}`` best first: ``score`` in the space's
        normalised units (the order; blended with the fallback metric where one ran), ``predicted`` the expected
        value in the task's units, ``interval`` nominal level (``"80%"``, ``"90%"``) -> ``[low, high]``
        (split-conformal, from the history's held-out tasks), ``confidence`` the estimated chance that the model
        is among the task's true best three (:mod:`fennec.forecast`).
    fallback : dict or None
        ``{"metric", "models", "reason"}`` when a cold-start metric was computed and blended in.
    space_version : str
        The workspace version that answered.
    explanation : dict
        ``{"nearest_tasks": [{"task", "similarity"}], "models": {model: [{"task", "value", "rank"}]}}``.
    confidence : dict
        The ranking's confidence (:func:`fennec.forecast.ranking_summary`): ``p_best_in_top`` and
        ``expected_regret`` of the top 1, 3 and 5, and where the task's units come from (empty for a space saved
        before intervals).
    """

    task: str
    ranking: list[dict[str, Any]]
    fallback: dict[str, Any] | None
    space_version: str
    explanation: dict[str, Any] = field(default_factory=dict)
    task_features: np.ndarray | None = field(default=None, repr=False)
    confidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "ranking": self.ranking, "confidence": self.confidence,
                "fallback": self.fallback, "space_version": self.space_version, "explanation": self.explanation}


@dataclass
class NextPicks:
    """Which models to fine-tune next on a task, given the results tried so far (:meth:`Recommender.next`).

    Attributes
    ----------
    task : str
        The task's name.
    picks : list of dict
        ``{"model", "value", "score", "predicted", "interval", "expected_gain", "confidence",
        "trained_on_task_data"}``, the best bet first: ``value`` is what
        :meth:`fennec.space.TransferSpace.next_scores` ranks by (the score with its optimism and hedging),
        ``score`` the space's plain score given the tried results; ``predicted`` and ``interval`` the expected
        value and its intervals in the task's units (units from the tried results), ``expected_gain`` what one try
        of the model is expected to add over the best tried result (from the intervals' error distribution),
        ``confidence`` the chance it is among the task's true best three; ``trained_on_task_data`` whether the
        model's card names the task's own dataset.
    tried : dict
        The results that were used (model -> value).
    ignored : list of str
        Tried models the space does not know (their results could not be used).
    space_version : str
        The workspace version that answered.
    advice : str or None
        Set when one more try is unlikely to pay: the best pick's expected gain is below the config's
        ``next.min_gain`` times the best tried result (:func:`fennec.forecast.stop_advice`).
    """

    task: str
    picks: list[dict[str, Any]]
    tried: dict[str, float]
    ignored: list[str]
    space_version: str
    advice: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "picks": self.picks, "tried": self.tried, "ignored": self.ignored,
                "space_version": self.space_version, "advice": self.advice}
