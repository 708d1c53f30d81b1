"""Baselines every report includes: popularity, random, and what a user would try from model cards alone."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard

__all__ = ["Popularity", "RandomScores", "CardAttribute", "zscore_per_task"]


def zscore_per_task(records: pd.DataFrame) -> pd.Series:
    """Each record's value z-scored within its task over the models that have one (mean 0, sample std 1).

    A task with a single model, or with all values equal, contributes z-scores of 0.
    """
    grouped = records.groupby("task")["value"]
    std = grouped.transform("std").fillna(0.0)
    centred = records["value"] - grouped.transform("mean")
    return (centred / std.where(std > 0, np.inf)).astype(np.float64)


class Popularity:
    """Score a model by the mean of its per-task z-scores over the training tasks it has (``specs/evaluation.md``).

    A model with no training record gets 0, the average z-score. Revealed records of the scored task are ignored:
    popularity does not adapt to the task.
    """

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "Popularity":
        z = records.assign(z=zscore_per_task(records))
        self.scores_ = z.groupby("model")["z"].mean().to_dict()
        self.models_ = sorted(set(model_cards) | set(self.scores_))
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        return {m: float(self.scores_.get(m, 0.0)) for m in self.models_}


class RandomScores:
    """Uniform random scores, reseeded per task from ``random_state`` and the task name (a sanity check: tau_w ~ 0)."""

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "RandomScores":
        self.models_ = sorted(set(model_cards) | set(records["model"]))
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        seed = [self.random_state, *task_card.name.encode()]
        values = np.random.default_rng(seed).random(len(self.models_))
        return dict(zip(self.models_, values.tolist()))


class CardAttribute:
    """Rank models by one numeric attribute of their card, e.g. ImageNet top-1 or #params (models without it are
    left unscored)."""

    def __init__(self, attribute: str, log: bool = False) -> None:
        self.attribute = attribute
        self.log = log

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "CardAttribute":
        values = {name: getattr(card, self.attribute) for name, card in model_cards.items()}
        self.scores_ = {m: float(np.log(v) if self.log else v) for m, v in values.items()
                        if v is not None and np.isfinite(v) and (v > 0 or not self.log)}
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        return dict(self.scores_)
