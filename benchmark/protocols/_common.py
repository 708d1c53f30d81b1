"""What every protocol shares: the method factory, the result shape, measuring one task, averaging runs."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._types import Method
from ..measures import evaluate_task

MethodFactory = Callable[[], Method]
TaskMeasures = dict[str, dict[str, float]]
#: The records revealed for a cold task: none.
EMPTY = pd.DataFrame({"model": pd.Series(dtype=str), "task": pd.Series(dtype=str), "value": pd.Series(dtype=float)})


def revealed_draws(held: pd.DataFrame, k: int, n_draws: int, seed: list[int]) -> list[pd.DataFrame]:
    """``n_draws`` seeded draws of ``k`` of a task's records (rows in their order), the few-shot protocols'
    revealed results: the same seed gives the same draws in every protocol."""
    rng = np.random.default_rng(seed)
    return [held.iloc[np.sort(rng.choice(len(held), size=k, replace=False))] for _ in range(n_draws)]


def measure(scores: Mapping[str, float], truth: pd.Series) -> dict[str, float] | None:
    """Measures over the models that have both a truth and a finite prediction (None if fewer than 2)."""
    predicted = truth.index.map(lambda m: scores.get(m, np.nan)).to_numpy(dtype=np.float64)
    keep = np.isfinite(predicted)
    if keep.sum() < 2:
        return None
    return evaluate_task(predicted[keep], truth.to_numpy(dtype=np.float64)[keep]) | {"n_models": float(keep.sum())}


def truth_of(records: pd.DataFrame, task: str) -> pd.Series:
    """The true values of ``task``'s records, indexed by model."""
    return records.loc[records["task"] == task].set_index("model")["value"]


def progress(items: Iterable, desc: str, total: int | None = None):
    """A progress bar over ``items`` that leaves no line behind (and none when not on a terminal)."""
    return tqdm(items, desc=desc, total=total, leave=False, disable=None)


def average_runs(runs: list[TaskMeasures]) -> TaskMeasures:
    """Per-task mean of each measure over the runs that measured the task."""
    tasks = sorted({t for run in runs for t in run})
    averaged: TaskMeasures = {}
    for task in tasks:
        present = [run[task] for run in runs if task in run]
        averaged[task] = {name: float(np.mean([p[name] for p in present])) for name in present[0]}
    return averaged
