"""What a recommendation says of each model and of the ranking as a whole, in words a user can act on.

From a :class:`fennec.space.TaskPrediction` (values in the task's units, split-conformal intervals, the chance that
the top ``k`` holds the best model, :mod:`fennec.space._uncertainty`):

- per model: ``predicted`` (expected value), ``interval`` (nominal level -> [low, high]) and ``confidence``, the
  estimated chance that the model is among the task's true best three (learnt on the history: for queries like this
  one, how often the model at this rank was);
- per ranking: the chance that the top ``k`` holds the best model and its expected regret (best value minus the
  best of the top ``k``), what the metric fallback is triggered on;
- for ``next``: each candidate's expected gain over the best result so far, and whether one more try is unlikely
  to pay.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .space import TaskPrediction
from .workspace import DEFAULT_CONFIG

__all__ = ["expected_gains", "fallback_reason", "model_rows", "ranking_summary", "stop_advice"]


def model_rows(prediction: TaskPrediction, models: list[str]) -> dict[str, dict[str, Any]]:
    """``{"predicted", "interval", "confidence"}`` of each of ``models`` (confidence: NaN for a revealed one)."""
    position = {m: i for i, m in enumerate(prediction.model_ids)}
    out = {}
    for model in models:
        i = position[model]
        out[model] = {"predicted": float(prediction.values[i]),
                      "interval": {f"{round(100 * lv)}%": [float(lo[i]), float(hi[i])]
                                   for lv, (lo, hi) in prediction.intervals.items()},
                      "confidence": float(prediction.in_top3[i])}
    return out


def ranking_summary(prediction: TaskPrediction, k: int) -> dict[str, Any]:
    """The ranking's confidence: chance that the top 1/3/5 hold the best model, their expected regret, and where
    the task's units come from."""
    return {"p_best_in_top": {str(n): p for n, p in prediction.p_best_in_top.items()},
            "expected_regret": {str(n): r for n, r in prediction.expected_regret.items()},
            "units_from": prediction.scale_source, "n_revealed": prediction.n_revealed, "k": k}


def fallback_reason(prediction: TaskPrediction, top_model: str, policy: Mapping[str, Any]) -> str | None:
    """Why the metric fallback should run (None: it need not): the top pick's expected regret above
    ``policy["above_regret"]`` times its predicted value."""
    regret = prediction.expected_regret.get(1)
    if regret is None:
        return "the history holds no held-out problem to judge this ranking by"
    value = float(prediction.values[list(prediction.model_ids).index(top_model)])
    share = float(policy.get("above_regret", DEFAULT_CONFIG["fallback"]["above_regret"]))
    threshold = share * abs(value)
    if regret <= threshold:
        return None
    return (f"expected regret of the top pick is {regret:.3g} > {share} x its predicted value "
            f"{value:.3g}")


def expected_gains(prediction: TaskPrediction, space: Any, best: float, rows: Sequence[int]) -> np.ndarray:
    """The expected gain over ``best`` from one more try of each model at ``rows`` (positions in the space;
    :meth:`Uncertainty.expected_gain`)."""
    rows = np.asarray(rows, np.int64)
    spread = prediction.scale * space.uncertainty_.model_width[rows]
    ceiling = np.inf if space.value_range_ is None else space.value_range_[1]
    return space.uncertainty_.expected_gain(prediction.n_revealed, prediction.values[rows], spread, best, ceiling)


def stop_advice(gain: float, best: float, policy: Mapping[str, Any]) -> str | None:
    """A sentence when one more try is unlikely to pay (its expected gain below ``policy["min_gain"]`` times the
    best result so far), else None."""
    share = float(policy.get("min_gain", DEFAULT_CONFIG["next"]["min_gain"]))
    threshold = share * abs(best)
    if gain >= threshold:
        return None
    return (f"one more try is expected to add {gain:.3g} over the best result so far ({best:.4g}), below "
            f"{share} x that result: trying more models is unlikely to pay")
