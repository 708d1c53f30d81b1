"""Published metric scores that a benchmark table carries (TransferGraph's LogME / H-score, snoopy's 1-NN)."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from fennec.cards import ModelCard, TaskCard

__all__ = ["PublishedScores"]


class PublishedScores:
    """Rank models by a score the benchmark publishes for each (model, task), read from the task card.

    The scores were computed from the models' features on the task's images, without fine-tuning, so a cold task
    may use them. Models without a published score on a task are left unscored there.
    """

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "PublishedScores":
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        return dict(task_card.extra.get("scores", {}).get(self.metric, {}))
