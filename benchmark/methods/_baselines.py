"""Baselines every report includes: popularity, random, and what a user would try from model cards alone."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.normalize import normalize_per_task

__all__ = ["Popularity", "RandomScores", "CardAttribute", "normalize_records"]


def normalize_records(records: pd.DataFrame, normalization: str = "zscore") -> pd.Series:
    """Each record's value normalised within its task over the models that have one (:mod:`fennec.normalize`).

    ``"zscore"`` (mean 0, sample std 1) is the spec's; a task with a single model, or with all values equal,
    contributes 0.
    """
    task_idx, tasks = pd.factorize(records["task"])
    values = normalize_per_task(task_idx, records["value"].to_numpy(np.float64), len(tasks), normalization)
    return pd.Series(values, index=records.index)


class Popularity:
    """Score a model by the mean of its per-task normalised values over the training tasks it has.

    With ``normalization="zscore"`` this is the spec's popularity (``specs/evaluation.md``); ``"normal-scores"``
    gives the prior of :class:`fennec.space.TransferSpace` under its default normalisation (method
    ``popularity-ns``), which shows how much of the space's lead is its normalisation alone.
    A model with no training record gets 0, the average normalised value. Revealed records of the scored task are
    ignored: popularity does not adapt to the task.
    """

    def __init__(self, normalization: str = "zscore") -> None:
        self.normalization = normalization

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "Popularity":
        z = records.assign(z=normalize_records(records, self.normalization))
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
