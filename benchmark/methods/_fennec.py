"""The ``fennec`` method: the trained transfer space (:class:`fennec.space.TransferSpace`) as the harness sees it.

Per protocol split it fits a space on the training records with side features built from the cards:

- models: family and pre-training data (one-hot), log #parameters, ImageNet top-1 (each with a "missing" flag) and,
  where ``card.arch`` is set and a trained archi2vec encoder is installed, the archi2vec vector;
- tasks (:class:`fennec.side_features.TaskFeaturizer`): the ``labels`` proxy embedding of the label names and
  description, the ``stats`` proxy's log #classes and log #training images; on TransferGraph also the ViT domain
  distances of the task to the other datasets; where the cards carry the image proxy's embedding of the task's
  images (the mini-zoo), that embedding (``image_proxy``; method ``fennec-noimage`` leaves it out, and the pairwise
  term's ``image`` view with it).

A cold task enters the space through its side features, a few-shot task through its revealed results (ridge
fold-in), a cold model through its card (``TransferSpace.add_model``). Budgeted selection uses ``TransferSpace.next``,
told which models were trained on the task's own dataset (model card ``pretrain_data`` against the task's dataset).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.pair_features import PAIR_VIEWS, PairFeaturizer
from fennec.side_features import DEFAULT_TASK_PROXIES, TaskFeaturizer, model_side_features
from fennec.space import TaskPrediction, TransferSpace

from ..protocols import LEVELS

__all__ = ["FennecMethod"]


class FennecMethod:
    """The transfer space, refitted per protocol split (an average of ``n_seeds`` spaces).

    Parameters
    ----------
    n_seeds : int, default=1
        Spaces fitted with seeds ``random_state, random_state + 1, ...``; their scores are averaged.
    random_state : int, default=0
        Seed of the first space.
    use_task_features : bool, default=True
        Give the space the task side features (False: the space knows tasks only by their records).
    task_proxies : mapping, default=DEFAULT_TASK_PROXIES
        Proxies (and their parts) of the task side features, as in the workspace config.
    image_proxy : str or None, default="default"
        Image proxy whose embedding joins the task side features where the cards carry it (None: never).
    pair_views : sequence of str, default=PAIR_VIEWS
        Views of the space's pairwise term built from the cards (:mod:`fennec.pair_features`; empty: none).
    **space_params
        Hyper-parameters of :class:`fennec.space.TransferSpace`, over :attr:`DEFAULTS`.
    """

    #: Small benchmarks (11-292 models, 11-19 tasks): a low-dimensional space, linear encoders, more steps.
    #: ``bias_shrink=0``: every model has results on most tasks here, so its bias is its mean normalised value
    #: (popularity).
    DEFAULTS = dict(n_factors=8, hidden=0, min_steps=600, batch_size=2048, list_size=32, bias_shrink=0.0)

    def __init__(self, n_seeds: int = 1, random_state: int = 0, use_task_features: bool = True,
                 task_proxies: Mapping[str, Sequence[str] | None] = DEFAULT_TASK_PROXIES,
                 image_proxy: str | None = "default", pair_views: Sequence[str] = PAIR_VIEWS,
                 **space_params) -> None:
        self.n_seeds = n_seeds
        self.random_state = random_state
        self.use_task_features = use_task_features
        self.task_proxies = task_proxies
        self.image_proxy = image_proxy
        self.pair_views = tuple(pair_views)
        self.space_params = space_params

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "FennecMethod":
        features = model_side_features(model_cards)
        tasks = sorted(set(records["task"]))
        task_features, blocks = None, None
        if self.use_task_features:
            self.featurizer_ = TaskFeaturizer(self.task_proxies, self.image_proxy).fit({t: task_cards[t]
                                                                                          for t in tasks})
            task_features = dict(zip(tasks, self.featurizer_.transform_many([task_cards[t] for t in tasks])))
            blocks = self.featurizer_.block_sizes
        self.task_features_ = task_features  # of the training tasks (None without task features)
        cold = sorted(set(model_cards) - set(records["model"]))
        model_sources = {name: card.pretrain_data for name, card in model_cards.items()}
        task_sources = {t: task_cards[t].dataset for t in tasks}
        self.pairs_ = PairFeaturizer(self.pair_views, self.image_proxy).fit(model_cards,
                                                                            {t: task_cards[t] for t in tasks})
        model_pairs = self.pairs_.model_pairs_
        task_pairs = self.pairs_.task_pairs({t: task_cards[t] for t in tasks})
        self.spaces_ = []
        for seed in range(self.n_seeds):
            params = {**self.DEFAULTS, "task_blocks": blocks, "value_range": _value_range(records), **self.space_params,
                      "random_state": self.random_state + seed}
            space = TransferSpace(**params).fit(records[["model", "task", "value"]], features, task_features,
                                                model_sources=model_sources, task_sources=task_sources,
                                                model_pairs=model_pairs, task_pairs=task_pairs)
            if cold:  # models with a card but no record: they enter by their side features
                space.add_model(cold, np.stack([features[m] for m in cold]), [model_sources[m] for m in cold],
                                pairs=model_pairs)
            self.spaces_.append(space)
        self.space_ = self.spaces_[0]
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        feats, known, pairs = self._task_features(task_card), self._revealed(revealed), self.pairs_.transform(task_card)
        scores = np.mean([space.score(feats, known, pairs)[1] for space in self.spaces_], axis=0)
        return dict(zip(self.space_.model_ids_, scores.tolist()))

    def predict(self, task_card: TaskCard, revealed: pd.DataFrame, levels: Sequence[float] = LEVELS
                ) -> TaskPrediction:
        """The first space's values, intervals and ranking confidence for the task (:meth:`TransferSpace.predict_task`;
        the calibration protocol's input)."""
        return self.space_.predict_task(self._task_features(task_card), self._revealed(revealed), levels,
                                        self.pairs_.transform(task_card))

    def next(self, task_card: TaskCard, revealed: pd.DataFrame, candidates: Sequence[str] | None = None) -> str:
        feats, known = self._task_features(task_card), self._revealed(revealed)
        if candidates is not None:  # the space can only propose models it knows
            known_ids = set(self.space_.model_ids_)
            candidates = [m for m in candidates if m in known_ids]
        pairs = self.pairs_.transform(task_card)
        values = np.mean([space.next_scores(feats, known, candidates, task_card.dataset, pairs)[1]
                          for space in self.spaces_], axis=0)
        return self.space_.model_ids_[int(np.argmax(values))]

    def _task_features(self, card: TaskCard) -> np.ndarray | None:
        if not self.use_task_features:
            return None
        return self.featurizer_.transform(card)

    def _revealed(self, revealed: pd.DataFrame) -> dict[str, float]:
        known = revealed.loc[revealed["model"].isin(set(self.space_.model_ids_))]
        return dict(zip(known["model"].astype(str), known["value"].astype(float)))


def _value_range(records: pd.DataFrame) -> str | tuple[float, float]:
    """The measure's bounds for the space's values and intervals: (0, 100) for a benchmark that records percentages
    (its ``metric`` column says so, as sfda11's ``finetune_top1_percent``), else the space's own ``"auto"``."""
    metric = records["metric"].dropna().astype(str) if "metric" in records else pd.Series([], dtype=str)
    return (0.0, 100.0) if len(metric) and metric.str.contains("percent").all() else "auto"
