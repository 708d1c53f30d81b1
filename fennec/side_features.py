"""Side features: what the transfer space knows of a model or a task besides its transfer history.

- models: family and pre-training data (one-hot), log #parameters, ImageNet top-1 (each with a "missing" flag) and,
  where ``card.arch`` (or a Hugging Face config, :mod:`fennec.hf`) is set and a trained archi2vec encoder is
  installed, the archi2vec vector;
- tasks (:class:`TaskFeaturizer`): the ``labels`` proxy embedding of the label names and description
  (``fennec.proxy``), the ``stats`` proxy's log #classes and log training size, where the cards carry them domain
  distances to other datasets, and with an image proxy the embedding of the task's images.

Both the recommender and the evaluation harness build them here, so what is evaluated is what users get.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.errors import InputError, NotFittedError

__all__ = ["DEFAULT_TASK_PROXIES", "IMAGE_PARTS", "TaskFeaturizer", "model_side_features", "shared_domains"]


def _one_hot(values: list[str | None], min_count: int = 2) -> np.ndarray:
    """One-hot of the values seen at least ``min_count`` times (the rest, and None, share an all-zero row)."""
    counts = pd.Series([v for v in values if v is not None]).value_counts()
    vocab = sorted(counts[counts >= min_count].index)
    out = np.zeros((len(values), len(vocab)), np.float32)
    for i, value in enumerate(values):
        if value in vocab:
            out[i, vocab.index(value)] = 1.0
    return out


def _with_flag(values: list[float | None], transform=lambda x: x) -> np.ndarray:
    """A numeric column (missing -> mean of the others) and a 0/1 "missing" flag."""
    raw = np.array([np.nan if v is None or not np.isfinite(v) or v <= 0 else transform(v) for v in values])
    missing = np.isnan(raw)
    fill = np.nanmean(raw) if (~missing).any() else 0.0
    return np.column_stack([np.where(missing, fill, raw), missing.astype(float)]).astype(np.float32)


def _architecture_of(card: ModelCard) -> Any:
    """What archi2vec encodes for a card: its ``arch`` name, or the graph of its Hugging Face config
    (``extra["hf_config"]``, see :mod:`fennec.hf`), or None."""
    if card.arch:
        return card.arch
    if isinstance(card.extra.get("hf_config"), dict):
        from fennec.hf import config_graph

        return config_graph(card.extra["hf_config"])
    return None


def _archi2vec(cards: list[ModelCard]) -> np.ndarray | None:
    """archi2vec vectors of the cards' architectures (zeros where unknown) plus a "known" flag, or None when no
    trained encoder is installed (the metadata features then stand alone)."""
    if not any(c.arch or "hf_config" in c.extra for c in cards):
        return None
    try:
        import archi2vec

        items = {c.name: _architecture_of(c) for c in cards}
        items = {name: item for name, item in items.items() if item is not None}
        vectors = dict(zip(items, archi2vec.encode(list(items.values()))))
    except Exception as err:  # no trained encoder yet, or an architecture it cannot trace: metadata only
        warnings.warn(f"side features: archi2vec vectors skipped ({type(err).__name__}: {err})", stacklevel=2)
        return None
    dim = len(next(iter(vectors.values())))
    rows = [np.r_[vectors[c.name], 1.0] if c.name in vectors else np.zeros(dim + 1) for c in cards]
    return np.asarray(rows, np.float32)


def model_side_features(cards: Mapping[str, ModelCard]) -> dict[str, np.ndarray]:
    """Side-feature vector of every model card (see the module docstring)."""
    names = sorted(cards)
    listed = [cards[n] for n in names]
    blocks = [_one_hot([c.family for c in listed]), _one_hot([c.pretrain_data for c in listed]),
              _with_flag([c.n_params for c in listed], np.log10), _with_flag([c.imagenet_top1 for c in listed])]
    arch = _archi2vec(listed)
    if arch is not None:
        blocks.append(arch)
    matrix = np.hstack(blocks)
    return dict(zip(names, matrix))


#: The default task side features: proxy name -> the parts of its vector used (None: every part). They need no
#: images, so every historical task has them.
DEFAULT_TASK_PROXIES: dict[str, tuple[str, ...] | None] = {"labels": ("labels", "description"),
                                                           "stats": ("n_classes", "size")}
#: Parts of an image proxy's vector used (see :func:`fennec.proxy.image_task_vector`).
IMAGE_PARTS = ("prototypes", "spread")


class TaskFeaturizer:
    """Task side features with the same columns for every task, fitted on the training tasks' cards.

    The vector is a concatenation of blocks, each a view the transfer space's cold-task kernel can weigh on its own
    (``TransferSpace(task_blocks=featurizer.block_sizes)``):

    - one block per part of each text proxy in ``proxies`` (``labels``: label names, description), and one for all
      the parts of each other proxy (``stats``: log #classes, log size);
    - ``domains``: where the cards carry a domain-distance table to shared datasets (TransferGraph's ViT table), the
      distances to those datasets (0 to itself);
    - one block per part of ``image_proxy``'s vector (``prototypes``, ``spread``): the card's stored embedding
      (``card.extra["proxy"][name]``, as the mini-zoo's cards carry), or the proxy's embedding of its images (a
      :class:`~fennec.tasks.Task`, or a card with ``image_dir``).

    A block is kept when at least ``min_known`` of the training tasks have it; a task without it (a historical task
    known by its label names only, a card with no size) gets the training tasks' mean there.

    Parameters
    ----------
    proxies : mapping of str to sequence of str or None, or sequence of str
        Proxy name -> parts used (None or a plain list of names: every part).
    image_proxy : str, optional
        The image proxy (``default``, ``clip``); None: no image block.
    image_parts : sequence of str, default=IMAGE_PARTS
    domains : bool, default=True
        Use the cards' domain-distance tables where every training card has one.
    min_known : float, default=0.5
        Smallest fraction of training tasks that must have a block for it to be kept.

    Examples
    --------
    >>> from fennec.cards import TaskCard
    >>> cards = {n: TaskCard(n, n_classes=c, n_train=100 * c) for n, c in [("a", 2), ("b", 5)]}
    >>> featurizer = TaskFeaturizer({"stats": None}).fit(cards)
    >>> featurizer.block_sizes, featurizer.transform(cards["b"]).shape
    ([5], (5,))
    """

    def __init__(self, proxies: Mapping[str, Sequence[str] | None] | Sequence[str] = DEFAULT_TASK_PROXIES,
                 image_proxy: str | None = None, image_parts: Sequence[str] = IMAGE_PARTS, domains: bool = True,
                 min_known: float = 0.5) -> None:
        self.proxies = proxies
        self.image_proxy = image_proxy
        self.image_parts = image_parts
        self.domains = domains
        self.min_known = min_known

    # ------------------------------------------------------------------ fitting
    def _sources(self) -> dict[str, tuple[str, ...] | None]:
        listed = self.proxies.items() if isinstance(self.proxies, Mapping) else ((name, None) for name in self.proxies)
        sources = {name: tuple(parts) if parts else None for name, parts in listed}
        if self.image_proxy:
            sources[self.image_proxy] = tuple(self.image_parts)
        return sources

    def fit(self, cards: Mapping[str, TaskCard]) -> "TaskFeaturizer":
        """Choose the blocks and their fill values from the training tasks' ``cards``."""
        if not cards:
            raise InputError("TaskFeaturizer.fit needs at least one task card.")
        listed = [cards[n] for n in sorted(cards)]
        self.domains_ = shared_domains(cards) if self.domains else []
        self.proxies_ = self._sources()
        self.blocks_ = []
        rows = self._embedded(listed)
        for name, parts in self.proxies_.items():
            known = [row[name] for row in rows if row[name] is not None]
            if known and len(known) >= self.min_known * len(rows):
                self.blocks_ += _layout(name, known[0], parts)
        if self.domains_:
            self.blocks_.append(("domains", "domains", (), len(self.domains_)))
        self.fill_ = {block: np.mean([_block_values(row, proxy, parts) for row in rows if row[proxy] is not None],
                                     axis=0) for block, proxy, parts, _ in self.blocks_}
        self._keep_used_proxies()
        return self

    def _keep_used_proxies(self) -> None:
        """Forget the proxies no block uses, so that transforming a task never runs them (e.g. the image proxy
        when no training task had images)."""
        used = {proxy for _, proxy, _, _ in self.blocks_}
        self.proxies_ = {name: parts for name, parts in self.proxies_.items() if name in used}

    @property
    def block_sizes(self) -> list[int]:
        """Sizes of the blocks, in vector order."""
        self._check_fitted()
        return [size for *_, size in self.blocks_]

    @property
    def block_names(self) -> list[str]:
        """Names of the blocks (``proxy:part``, ``proxy`` or ``domains``), in vector order."""
        self._check_fitted()
        return [block for block, *_ in self.blocks_]

    # ------------------------------------------------------------------ transforming
    def transform(self, task: Any) -> np.ndarray:
        """The side-feature vector of one task (a TaskCard, or a :class:`~fennec.tasks.Task` with images)."""
        return self.transform_many([task])[0]

    def transform_many(self, tasks: Sequence[Any]) -> np.ndarray:
        """Side features of several tasks, one row each (text proxies embed them in one batch)."""
        self._check_fitted()
        if not self.blocks_:  # no training task had any side feature (a bare model,task,value table): no columns
            return np.zeros((len(tasks), 0), np.float32)
        rows = self._embedded(list(tasks))
        return np.stack([np.concatenate([self.fill_[block] if row[proxy] is None
                                         else _block_values(row, proxy, parts)
                                         for block, proxy, parts, _ in self.blocks_])
                         for row in rows]).astype(np.float32)

    def _embedded(self, tasks: list[Any]) -> list[dict[str, Any]]:
        """``{proxy name: TaskFeatures or None, "domains": distances}`` of every task."""
        from fennec.proxy import create_proxy

        cards = [t.to_card() if hasattr(t, "to_card") else t for t in tasks]
        rows: list[dict[str, Any]] = [{} for _ in tasks]
        for name in self.proxies_:
            embedded = _embed_each(create_proxy(name), tasks, cards, images=name == self.image_proxy)
            for row, features in zip(rows, embedded):
                row[name] = features
        for row, card in zip(rows, cards):
            row["domains"] = _domain_row(card, self.domains_) if self.domains_ else None
        return rows

    def _check_fitted(self) -> None:
        if not hasattr(self, "blocks_"):
            raise NotFittedError("This TaskFeaturizer is not fitted yet. Call fit(cards) first.")

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (parameters, blocks, fill values, domains)."""
        self._check_fitted()
        proxies = self.proxies if isinstance(self.proxies, Mapping) else dict.fromkeys(self.proxies)
        return {"proxies": {k: list(v) if v else None for k, v in proxies.items()},
                "image_proxy": self.image_proxy, "image_parts": list(self.image_parts), "domains": self.domains,
                "min_known": self.min_known, "domains_": list(self.domains_),
                "blocks_": [[block, proxy, list(parts), size] for block, proxy, parts, size in self.blocks_],
                "fill_": {k: [float(x) for x in v] for k, v in self.fill_.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TaskFeaturizer":
        """Inverse of :meth:`to_dict`."""
        featurizer = cls(data["proxies"], data["image_proxy"], data["image_parts"], data["domains"],
                         data["min_known"])
        featurizer.proxies_ = featurizer._sources()
        featurizer.domains_ = list(data["domains_"])
        featurizer.blocks_ = [(str(b), str(p), tuple(parts), int(size)) for b, p, parts, size in data["blocks_"]]
        featurizer.fill_ = {k: np.asarray(v, np.float64) for k, v in data["fill_"].items()}
        featurizer._keep_used_proxies()
        return featurizer


def _layout(proxy: str, features: Any, parts: tuple[str, ...] | None) -> list[tuple[str, str, tuple, int]]:
    """The blocks of one proxy: each part longer than one value alone (an embedding), its scalar parts together
    (``stats``: #classes and size are one view)."""
    wanted = parts or tuple(features.parts)
    sizes = {p: len(features.part(p)) for p in wanted}
    blocks = [(f"{proxy}:{p}", proxy, (p,), sizes[p]) for p in wanted if sizes[p] > 1]
    scalars = tuple(p for p in wanted if sizes[p] == 1)
    return blocks + ([(proxy, proxy, scalars, len(scalars))] if scalars else [])


def _block_values(row: Mapping[str, Any], proxy: str, parts: tuple[str, ...]) -> np.ndarray:
    if proxy == "domains":
        return row["domains"]
    return np.concatenate([row[proxy].part(p) for p in parts]).astype(np.float64)


def _embed_each(proxy, tasks: list[Any], cards: list[TaskCard], images: bool) -> list[Any]:
    """``proxy``'s TaskFeatures of every task, or None where the task cannot be embedded (no images, no size).

    A card's stored embedding (``extra["proxy"][name]``) is used as it is; image proxies embed a Task's images, or
    a card's ``image_dir``.
    """
    from fennec.proxy import TaskFeatures

    out: list[Any] = [None] * len(tasks)
    todo = []
    for i, (task, card) in enumerate(zip(tasks, cards)):
        stored = card.extra.get("proxy", {}).get(proxy.name)
        if stored is not None:
            out[i] = TaskFeatures.from_dict(stored)
        elif not images or hasattr(task, "iter_batches") or card.image_dir:
            todo.append(i)
    try:
        for i, features in zip(todo, proxy.embed_many([tasks[i] for i in todo])):
            out[i] = features
    except InputError:  # one task lacks what the proxy needs: embed one by one, leave that one out
        for i in todo:
            with contextlib.suppress(InputError):
                out[i] = proxy.embed(tasks[i])
    return out


def _domain_row(card: TaskCard, domains: Sequence[str]) -> np.ndarray | None:
    """The card's distances to ``domains``: 0 to itself, the mean of its known distances where one is missing;
    None when it knows none of them (a new task: it then gets the training tasks' mean row)."""
    known = card.extra.get("domain_similarity", {})
    row = np.array([known.get(d, np.nan) for d in domains], np.float64)
    if not np.isfinite(row).any():
        return None
    row[[i for i, d in enumerate(domains) if d == card.name]] = 0.0
    return np.where(np.isnan(row), np.nanmean(row), row)


def shared_domains(cards: Mapping[str, TaskCard]) -> list[str]:
    """The datasets every card gives a domain distance to (itself counted): the ``domains`` block's columns."""
    if not cards:
        return []
    sets = [set(c.extra.get("domain_similarity", {})) | {c.name} for c in cards.values()]
    common = set.intersection(*sets)
    return sorted(common) if len(common) > 1 else []
