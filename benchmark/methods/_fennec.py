"""The ``fennec`` method: the trained transfer space (:class:`fennec.space.TransferSpace`) as the harness sees it.

Per protocol split it fits a space on the training records with side features built from the cards:

- models: family and pre-training data (one-hot), log #parameters, ImageNet top-1 (each with a "missing" flag) and,
  where ``card.arch`` is set and a trained archi2vec encoder is installed, the archi2vec vector;
- tasks: the ``labels`` proxy embedding of the label names (``fennec.proxy``), log #classes and log training size.

A cold task enters the space through its side features, a few-shot task through its revealed results (ridge
fold-in), a cold model through its card (``TransferSpace.add_model``). Budgeted selection uses ``TransferSpace.next``.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.side_features import model_side_features, task_side_features
from fennec.space import TransferSpace

__all__ = ["FennecMethod"]


class FennecMethod:
    """The transfer space, refitted per protocol split.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the space.
    **space_params
        Hyper-parameters of :class:`fennec.space.TransferSpace` (defaults for these small benchmarks below).
    """

    #: Small benchmarks (11-292 models, 11-19 tasks): a low-dimensional space, linear encoders, more steps.
    DEFAULTS = dict(n_factors=8, hidden=0, min_steps=600, batch_size=2048, list_size=32)

    def __init__(self, random_state: int = 0, use_task_features: bool = True, n_seeds: int = 1,
                 **space_params) -> None:
        self.random_state = random_state
        self.n_seeds = n_seeds
        self.use_task_features = use_task_features
        self.space_params = space_params

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "FennecMethod":
        from fennec.proxy import create_proxy

        self.proxy_ = create_proxy("labels")
        features = model_side_features(model_cards)
        trained = set(records["model"])
        task_features = {t: task_side_features(task_cards[t], self.proxy_) for t in set(records["task"])}
        if not self.use_task_features:
            task_features = None
        self.spaces_ = []
        for seed in range(self.n_seeds):
            params = {**self.DEFAULTS, **self.space_params, "random_state": self.random_state + seed}
            space = TransferSpace(**params).fit(records[["model", "task", "value"]], features, task_features)
            cold = sorted(set(model_cards) - trained)
            if cold:  # models with a card but no record: they enter by their side features
                space.add_model(cold, np.stack([features[m] for m in cold]))
            self.spaces_.append(space)
        self.space_ = self.spaces_[0]
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        feats = task_side_features(task_card, self.proxy_) if self.use_task_features else None
        total = 0.0
        for space in self.spaces_:
            ids, scores, _ = space.score(task_features=feats, revealed=self._revealed(revealed))
            total = total + scores
        return dict(zip(ids.tolist(), (total / len(self.spaces_)).tolist()))

    def next(self, task_card: TaskCard, revealed: pd.DataFrame) -> str:
        return self.space_.next(task_side_features(task_card, self.proxy_), self._revealed(revealed))

    def _revealed(self, revealed: pd.DataFrame) -> dict[str, float]:
        known = revealed.loc[revealed["model"].isin(set(self.space_.model_ids_))]
        return dict(zip(known["model"].astype(str), known["value"].astype(float)))
