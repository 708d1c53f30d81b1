"""Score candidate models on a task's images with a cold-start metric: the fallback of the recommender.

Each model's penultimate features (or, for LEEP/NCE, its class probabilities) on the task's images are fed to a
metric of :mod:`fennec.metrics`; higher means "expected to fine-tune better".
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from fennec.errors import InputError

__all__ = ["score_models", "cannot_rank"]


def score_models(task: Any, models: list[str], metric: str, *, batch_size: int = 32, device: str | None = None,
                 cache: bool = True) -> list[dict[str, Any]]:
    """Score every model on ``task`` with ``metric``; rows ``{rank, model, score, n_images, seconds}``, best first.

    Raises
    ------
    UnknownNameError
        An unknown metric or model name (checked before any forward pass).
    InputError
        The task has fewer than two classes with images, or a probability metric meets a model without a head.
    """
    from fennec import metrics
    from fennec.features import extract_features, get_model_spec

    scorer = metrics.get(metric)
    for name in models:
        get_model_spec(name)  # fail on a typo before spending minutes on the other models
    task.require_classes(2, purpose=f"the {metric} metric")
    rows = []
    for name in models:
        tic = time.perf_counter()
        feats = extract_features(name, task, batch_size=batch_size, device=device, cache=cache)
        value = scorer(_metric_input(scorer, feats), feats.labels)
        rows.append({"model": name, "score": float(value), "n_images": feats.n_images,
                     "seconds": round(time.perf_counter() - tic, 3)})
    rows.sort(key=lambda r: -r["score"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _metric_input(scorer: Any, feats: Any) -> Any:
    if getattr(scorer, "input", "features") != "probabilities":
        return feats.features
    if feats.logits is None:
        raise InputError(f"Metric {scorer.name!r} needs class probabilities, and model {feats.model!r} has no "
                         f"classification head.", hint="use a features metric such as sfda or logme")
    shifted = feats.logits - feats.logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def cannot_rank(scores: Any) -> bool:
    """Whether a metric's scores for several models are all the same up to float noise (relative 1e-9), so they say
    nothing about the models' order (SFDA saturates so on tasks with few images for the feature dimension)."""
    values = np.asarray(scores, dtype=np.float64)
    return values.size > 1 and float(np.ptp(values)) <= 1e-9 * max(1.0, float(np.abs(values).max()))
