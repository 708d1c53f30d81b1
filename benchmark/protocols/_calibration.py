"""The calibration protocol: are a method's intervals and ranking confidence honest on tasks it never saw?

Leave-one-task-out as the cold-task protocol: the method is fitted without task ``t``, then asked for ``t`` cold and
with ``k`` of its results revealed (seeded draws). Per held-out task and query kind (``cold``, ``k3`` for k=3):

- ``coverage@L``: the share of the task's (unrevealed) models whose true value lies in the nominal ``L``% interval,
  for ``L`` in :data:`LEVELS`; ``width@90``: the median width of the 90% intervals, in the task's units;
- ``p_hit@n`` and ``hit@n`` (n = 1, 3): the predicted chance that the top ``n`` holds the best model, and whether
  it did; ``p_regret@3`` and ``regret@3``: predicted and realised best value minus the best of the top 3;
- ``location`` and ``mean``: the task's predicted level in its units (the values' centre the intervals are built
  around) and the realised mean of its unrevealed models, so that a task whose whole level was mispredicted (every
  interval misses on the same side) can be told from intervals that are too narrow.

The mean over tasks compares nominal with empirical coverage and predicted with realised hit rates; the suite's
report tabulates them and draws a reliability plot (``benchmark/reports.py``, ``benchmark/_plots.py``). Only methods
that predict intervals take part (:data:`PREDICTING`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from fennec.errors import InputError

from .._types import Benchmark
from ._common import revealed_draws

__all__ = ["CALIBRATION_QUERIES", "LEVELS", "PREDICTING", "calibration"]

#: Nominal coverages measured (the reliability plot's x axis).
LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
#: Methods whose ``predict`` gives values, intervals and ranking confidence.
PREDICTING = frozenset({"fennec", "fennec-noimage"})
#: The queries measured per held-out task and how many of its results each reveals.
CALIBRATION_QUERIES = {"cold": 0, "k3": 3}


def _measures(prediction: Any, truth: pd.Series) -> dict[str, float]:
    """One query's measures against the true values ``truth`` (model -> value) of its unrevealed models."""
    position = {m: i for i, m in enumerate(prediction.model_ids)}
    truth = truth[[m for m in truth.index if m in position]]
    at = np.array([position[m] for m in truth.index])
    y = truth.to_numpy(np.float64)
    out = {}
    for level in LEVELS:
        low, high = (a[at] for a in prediction.intervals[level])
        out[f"coverage@{round(100 * level)}"] = float(np.mean((low <= y) & (y <= high)))
    low, high = (a[at] for a in prediction.intervals[0.9])
    out["width@90"] = float(np.median(high - low))
    order = np.argsort(-prediction.scores[at], kind="stable")
    for n in (1, 3):
        out[f"p_hit@{n}"] = float(prediction.p_best_in_top.get(n, np.nan))
        out[f"hit@{n}"] = float(y[order[:n]].max() >= y.max())
    out["p_regret@3"] = float(prediction.expected_regret.get(3, np.nan))
    out["regret@3"] = float(y.max() - y[order[:3]].max())
    out["location"], out["mean"] = float(prediction.location), float(y.mean())
    return out


def calibration(bench: Benchmark, make_method: Callable[[], Any], n_draws: int = 3, seed: int = 0,
                tasks: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
    """Per held-out task, the measures of the module docstring for a cold query and for ``k=3`` revealed results
    (``n_draws`` seeded draws, averaged), prefixed ``cold:`` and ``k3:``."""
    results: dict[str, dict[str, float]] = {}
    for task in list(tasks or bench.targets):
        train = bench.records.loc[bench.records["task"] != task]
        method = make_method().fit(train, bench.model_cards, bench.task_cards)
        if not hasattr(method, "predict"):
            raise InputError(f"Method {type(method).__name__} gives no intervals, so it cannot be calibrated.",
                             hint=f"use one of: {', '.join(sorted(PREDICTING))}")
        held = bench.records.loc[bench.records["task"] == task]
        truth = held.set_index("model")["value"]
        if len(held) < 5:
            continue
        row: dict[str, float] = {}
        for name, k in CALIBRATION_QUERIES.items():
            draws = [held.iloc[:0]] if k == 0 else revealed_draws(held, k, n_draws, [seed, k, *task.encode()])
            measured = [_measures(method.predict(bench.task_cards[task], d), truth.drop(d["model"])) for d in draws]
            row.update({f"{name}:{m}": float(np.mean([x[m] for x in measured])) for m in measured[0]})
        results[task] = row
    return results
