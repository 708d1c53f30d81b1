"""Private helpers of :class:`fennec.space.TransferSpace`: which models were already trained on a task's own dataset.

A model card may name the dataset the model's weights were trained or fine-tuned on (``pretrain_data``: a hub
checkpoint ``vit-base-food101`` says ``food101``), and a task card the dataset the task draws from. A match is the
strongest single hint a card gives, and an unreliable one. In the released benchmarks the matched models are often
the best on their dataset (TransferGraph: the two Food-101 checkpoints are the only two of 112 models that learn
Food-101; five EuroSAT checkpoints take ranks 1 to 5 on EuroSAT) and as often among the worst (most of the other
EuroSAT checkpoints; on SHiFT's 800-image EuroSAT, 17 of the 19 rank in the bottom quarter). Their mean effect over
the model's usual standing changes sign between benchmarks, so the space leaves its scores alone; what is consistent
is the spread, so :meth:`TransferSpace.next` is optimistic about matched models: it adds the mean plus
``source_optimism`` standard deviations of how matched pairs did in the history, and a matched model is tried early.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["source_key", "source_keys", "source_bonus"]

#: Standard deviation assumed for the matched pairs' residuals when the history holds fewer than two.
_UNIT_SPREAD = 1.0


def source_key(name: object) -> str:
    """A dataset name reduced to lower-case letters and digits (``"Stanford_Cars"`` -> ``"stanfordcars"``);
    ``""`` for none."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def source_keys(ids: Iterable[str], sources: Mapping[str, object] | None) -> np.ndarray:
    """Object array of the keys of ``sources[id]`` for each id (``""`` where none is given)."""
    sources = sources or {}
    return np.array([source_key(sources.get(i)) for i in ids], dtype=object)


def source_bonus(residuals: np.ndarray, n_sd: float) -> float:
    """Optimism for a matched model: mean + ``n_sd`` standard deviations of the matched records' residuals
    (normalised value minus the model's bias); 0 when the history holds no match."""
    residuals = np.asarray(residuals, np.float64)
    if residuals.size == 0:
        return 0.0
    spread = residuals.std(ddof=1) if residuals.size > 1 else _UNIT_SPREAD
    return float(residuals.mean() + n_sd * spread)
