"""Side features: what the transfer space knows of a model or a task besides its transfer history.

- models: family and pre-training data (one-hot), log #parameters, ImageNet top-1 (each with a "missing" flag) and,
  where ``card.arch`` is set and a trained archi2vec encoder is installed, the archi2vec vector;
- tasks: the ``labels`` proxy embedding of the label names and description (``fennec.proxy``), log #classes and
  log training size, and where the cards carry them, domain distances to other datasets.

Both the recommender and the evaluation harness build them here, so what is evaluated is what users get.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard

__all__ = ["TASK_PARTS", "model_side_features", "shared_domains", "task_feature_blocks",
           "task_side_features"]


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


def _archi2vec(cards: list[ModelCard]) -> np.ndarray | None:
    """archi2vec vectors of the cards' architectures (zeros where unknown) plus a "known" flag, or None when no
    trained encoder is installed (the metadata features then stand alone)."""
    archs = sorted({c.arch for c in cards if c.arch})
    if not archs:
        return None
    try:
        import archi2vec

        vectors = dict(zip(archs, archi2vec.encode(archs)))
    except Exception as err:  # no trained encoder yet, or an architecture it cannot trace: metadata only
        warnings.warn(f"side features: archi2vec vectors skipped ({type(err).__name__}: {err})", stacklevel=2)
        return None
    dim = len(next(iter(vectors.values())))
    rows = [np.r_[vectors[c.arch], 1.0] if c.arch in vectors else np.zeros(dim + 1) for c in cards]
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


#: Parts of the ``labels`` proxy vector used as task side features.
TASK_PARTS = ("labels", "description")


def task_side_features(card: TaskCard, proxy, domains: Sequence[str] | None = None,
                       parts: Sequence[str] = TASK_PARTS) -> np.ndarray:
    """Task side features: the ``parts`` of the ``labels`` proxy embedding (label names, description), log #classes
    and log #training images, and with ``domains`` the card's domain distances to those datasets (a vision
    model's view of how alike the tasks' images are, e.g. TransferGraph's ViT table: 0 to itself, the mean of the
    known distances where one is missing)."""
    embedded = proxy.embed(card)
    blocks = [embedded.vector[slice(*embedded.parts[part])] for part in parts]
    blocks.append(np.array([np.log(card.n_classes or 2), np.log(card.n_train or 1000)]))
    if domains:
        known = card.extra.get("domain_similarity", {})
        row = np.array([0.0 if d == card.name else known.get(d, np.nan) for d in domains], np.float64)
        blocks.append(np.where(np.isnan(row), np.nanmean(row) if np.isfinite(row).any() else 0.0, row))
    return np.concatenate(blocks).astype(np.float32)


def task_feature_blocks(card: TaskCard, proxy, parts: Sequence[str] = TASK_PARTS,
                        domains: Sequence[str] | None = None) -> list[int]:
    """Sizes of the blocks of :func:`task_side_features` (one per part, size, domains), for
    ``TransferSpace(task_blocks=...)``; ``card`` is any task card (the sizes do not depend on it)."""
    embedded = proxy.embed(card)
    sizes = [hi - lo for lo, hi in (embedded.parts[part] for part in parts)] + [2]
    return sizes + [len(domains)] if domains else sizes


def shared_domains(cards: Mapping[str, TaskCard]) -> list[str]:
    """The datasets every card gives a domain distance to (itself counted): the columns of ``domains`` above."""
    if not cards:
        return []
    sets = [set(c.extra.get("domain_similarity", {})) | {c.name} for c in cards.values()]
    common = set.intersection(*sets)
    return sorted(common) if len(common) > 1 else []
