"""The pairwise term's views from cards: what each model was trained on, and what a task looks like, in one space
(:mod:`fennec.space._affinity` turns each pair of vectors into an affinity and learns how much it counts).

- ``domain``: a task card's table of domain distances to datasets (``extra["domain_similarity"]``, TransferGraph's
  ViT-B/16 table) against the model's training dataset's row (``extra["domain_key"]``): the task's vector is its
  negated distances (its own dataset, which the table leaves out, at distance 0), the model's a one-hot of its row;
- ``image``: the image proxy's embedding (its ``mean`` part, unit norm) of the model's training data
  (``extra["source_proxy"][proxy]``, a stored :class:`~fennec.proxy.TaskFeatures` dict, as the mini-zoo's model cards
  carry for their source tasks) against that of the task's images (its card's stored embedding, else the proxy's
  embedding of ``image_dir``: the pass the task side features make, and then a hit in the proxy's embedding cache);
  both minus the training tasks' mean vector, then unit norm: mean features after a ReLU share one large common
  direction (raw cosines between the mini-zoo's targets and sources lie in 0.52-0.99, centred in -0.51-0.97), and
  the comparison should be of what sets a dataset apart from the history's tasks;
- ``labels``: the labels proxy's embedding (MiniLM, unit norm) of the model's own label set (``label_names``, or
  ``extra["source_labels"]``, what a Hugging Face config's ``id2label`` gives) against that of the task's label
  names: a model fine-tuned on food photos is near a food task;
- ``source``: the model's training dataset (``pretrain_data``) is the task's own dataset (one-hot over datasets).

A view is kept when at least two models have it (the labels and image views also need training tasks that have
label names or an image embedding).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fennec.cards import ModelCard, TaskCard
from fennec.space import source_key

__all__ = ["PairFeaturizer", "PAIR_VIEWS"]

#: The views, in the order they are tried.
PAIR_VIEWS = ("domain", "image", "labels", "source")


def _model_labels(card: ModelCard) -> tuple[str, ...]:
    """The model's own label set: its card's label names, else ``extra["source_labels"]`` (a list, or one name)."""
    if card.label_names:
        return tuple(card.label_names)
    labels = card.extra.get("source_labels")
    if isinstance(labels, str) and labels.strip():
        return (labels,)
    return tuple(str(x) for x in labels) if isinstance(labels, (list, tuple)) else ()


def _unit_mean(stored: Mapping[str, Any] | None) -> np.ndarray | None:
    """The ``mean`` part (the whole vector for a proxy without one) of a stored TaskFeatures dict, unit norm."""
    from fennec.proxy import TaskFeatures

    if not stored:
        return None
    features = TaskFeatures.from_dict(stored)
    vector = features.part("mean") if "mean" in features.parts else features.vector
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else None


def _distances(card: TaskCard) -> Mapping[str, float]:
    """The task's domain table row, as distances (a similarity table is negated)."""
    row = card.extra.get("domain_similarity") or {}
    sign = 1.0 if card.extra.get("domain_similarity_is_distance", False) else -1.0
    return {str(k): sign * float(v) for k, v in row.items()}


def _self_distance(card: TaskCard) -> float:
    """A dataset's distance to itself on the card's table's scale: 0, or -1 for a (cosine) similarity table."""
    return 0.0 if card.extra.get("domain_similarity_is_distance", False) else -1.0


class PairFeaturizer:
    """Model and task vectors of the pairwise term's views, fitted on the model cards and training task cards.

    Parameters
    ----------
    views : sequence of str, default=PAIR_VIEWS
        Which views to build (each is kept only where the cards carry it).
    image_proxy : str or None, default="default"
        The image proxy of the ``image`` view (the name under which cards store its embeddings); None: no image view.

    Attributes
    ----------
    fitted_views_ : list of str
        The views the cards carry.
    model_pairs_ : dict
        View -> model id -> vector.
    image_center_ : ndarray or None
        The training tasks' mean image vector, subtracted from every image vector (None without the image view).
    """

    def __init__(self, views: Sequence[str] = PAIR_VIEWS, image_proxy: str | None = "default") -> None:
        self.views = tuple(views)
        self.image_proxy = image_proxy

    def fit(self, model_cards: Mapping[str, ModelCard], task_cards: Mapping[str, TaskCard]) -> "PairFeaturizer":
        """Choose the views the cards carry and build every model's vectors (:attr:`model_pairs_`)."""
        self.datasets_ = sorted({k for c in task_cards.values() for k in _distances(c)})
        self.sources_ = sorted({source_key(c.pretrain_data) for c in model_cards.values()} - {""})
        self.fitted_views_ = list(self.views)
        if not any(c.label_names for c in task_cards.values()):
            self.fitted_views_ = [v for v in self.fitted_views_ if v != "labels"]
        if self.image_proxy is None or not any(c.extra.get("proxy", {}).get(self.image_proxy) or c.image_dir
                                               for c in task_cards.values()):
            self.fitted_views_ = [v for v in self.fitted_views_ if v != "image"]
        self.image_center_ = None
        if "image" in self.fitted_views_:
            images = [v for v in (self._task_image(c, embed=True) for c in task_cards.values()) if v is not None]
            self.image_center_ = np.mean(images, axis=0).astype(np.float32) if images else None
        pairs = self.model_vectors(model_cards)
        self.fitted_views_ = [v for v in self.fitted_views_ if len(pairs.get(v, {})) >= 2]
        self.model_pairs_ = {v: pairs[v] for v in self.fitted_views_}
        return self

    def model_vectors(self, cards: Mapping[str, ModelCard]) -> dict[str, dict[str, np.ndarray]]:
        """The models' vectors (view -> model -> vector) for the fitted views, where their cards carry the view
        (for ``TransferSpace.fit(model_pairs=...)`` and ``add_model(pairs=...)``)."""
        pairs: dict[str, dict[str, np.ndarray]] = {}
        if "domain" in self.fitted_views_ and self.datasets_:
            where = {d: i for i, d in enumerate(self.datasets_)}
            pairs["domain"] = {m: np.eye(len(where), dtype=np.float32)[where[c.extra["domain_key"]]]
                               for m, c in cards.items() if c.extra.get("domain_key") in where}
        if "image" in self.fitted_views_:
            images = {m: self._centred(_unit_mean(c.extra.get("source_proxy", {}).get(self.image_proxy)))
                      for m, c in cards.items()}
            pairs["image"] = {m: v for m, v in images.items() if v is not None}
        if "labels" in self.fitted_views_:
            labelled = {m: _model_labels(c) for m, c in cards.items() if _model_labels(c)}
            pairs["labels"] = dict(zip(labelled, self._embed(list(labelled.values())))) if labelled else {}
        if "source" in self.fitted_views_ and self.sources_:
            where = {d: i for i, d in enumerate(self.sources_)}
            pairs["source"] = {m: np.eye(len(where), dtype=np.float32)[where[source_key(c.pretrain_data)]]
                               for m, c in cards.items() if source_key(c.pretrain_data) in where}
        return pairs

    def task_pairs(self, cards: Mapping[str, TaskCard]) -> dict[str, dict[str, np.ndarray]]:
        """Every task's vectors (view -> task -> vector), for ``TransferSpace.fit(task_pairs=...)``."""
        rows = {name: self.transform(card) for name, card in cards.items()}
        return {v: {t: r[v] for t, r in rows.items() if v in r} for v in self.fitted_views_}

    def transform(self, card: TaskCard) -> dict[str, np.ndarray]:
        """One task's vectors (view -> vector) for the views it has, for a query's ``pairs``."""
        out: dict[str, np.ndarray] = {}
        if "domain" in self.fitted_views_:
            row = _distances(card)
            if row:
                # A table row leaves out the task's own dataset: a distance of 0 (a similarity of 1, negated).
                own, self_distance = source_key(card.dataset or card.name), _self_distance(card)
                values = np.array([self_distance if source_key(d) == own else row.get(d, np.nan)
                                   for d in self.datasets_])
                fill = np.nanmean(values) if np.isfinite(values).any() else 0.0
                out["domain"] = -np.where(np.isfinite(values), values, fill)
        if "image" in self.fitted_views_:
            image = self._centred(self._task_image(card, embed=True))
            if image is not None:
                out["image"] = image
        if "labels" in self.fitted_views_ and card.label_names:
            out["labels"] = self._embed([tuple(card.label_names)])[0]
        if "source" in self.fitted_views_:
            key = source_key(card.dataset or card.name)
            out["source"] = np.array([float(key == s) for s in self.sources_])
        return out

    def _task_image(self, card: TaskCard, embed: bool = False) -> np.ndarray | None:
        """The task's image vector: its card's stored embedding, else (``embed``) the proxy's of ``image_dir``."""
        stored = card.extra.get("proxy", {}).get(self.image_proxy)
        if stored is None and embed and card.image_dir:
            from fennec.proxy import create_proxy

            stored = create_proxy(self.image_proxy).embed(card).to_dict()
        return _unit_mean(stored)

    def _centred(self, vector: np.ndarray | None) -> np.ndarray | None:
        """An image vector minus the training tasks' mean (:attr:`image_center_`), unit norm."""
        if vector is None or self.image_center_ is None:
            return vector
        shifted = vector - self.image_center_
        norm = float(np.linalg.norm(shifted))
        return (shifted / norm).astype(np.float32) if norm > 1e-12 else None

    @staticmethod
    def _embed(label_sets: list[tuple[str, ...]]) -> list[np.ndarray]:
        """The labels proxy's unit-norm mean embedding of each label set."""
        from fennec.proxy import create_proxy

        proxy = create_proxy("labels")
        cards = [TaskCard(name=f"labels-{i}", label_names=labels) for i, labels in enumerate(label_sets)]
        return [f.part("labels").astype(np.float32) for f in proxy.embed_many(cards)]

    def to_dict(self) -> dict[str, Any]:
        """What a workspace stores to transform query tasks later (the model vectors live in the space)."""
        return {"views": list(self.views), "image_proxy": self.image_proxy, "datasets_": self.datasets_,
                "sources_": self.sources_, "fitted_views_": self.fitted_views_,
                "image_center_": None if self.image_center_ is None else self.image_center_.tolist()}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> "PairFeaturizer":
        """The fitted featurizer :meth:`to_dict` stored (without :attr:`model_pairs_`)."""
        out = cls(state["views"], state.get("image_proxy", "default"))
        out.datasets_, out.sources_ = list(state["datasets_"]), list(state["sources_"])
        out.fitted_views_ = list(state["fitted_views_"])
        center = state.get("image_center_")
        out.image_center_ = None if center is None else np.asarray(center, np.float32)
        return out
