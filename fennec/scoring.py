"""Score candidate models on a task's images with a cold-start metric: the fallback of the recommender.

Each model's penultimate features (or, for LEEP/NCE, its class probabilities) on the task's images are fed to a
metric of :mod:`fennec.metrics`; higher means "expected to fine-tune better".
"""
from __future__ import annotations

import functools
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from fennec.errors import InputError

if TYPE_CHECKING:
    from fennec.execution import Engine

__all__ = ["cannot_rank", "score_candidates", "score_model", "score_models"]


def score_models(task: Any, models: list[Any], metric: str, *, batch_size: int | None = None,
                 device: str | None = None, cache: bool = True, engine: Engine | None = None) -> list[dict[str, Any]]:
    """Score every model on ``task`` with ``metric``; rows ``{rank, model, score, n_images, seconds}``, best first.

    ``models`` holds registered names (:func:`fennec.features.list_models`) or :class:`~fennec.features.ModelSpec`
    objects. Each model is one unit of ``engine`` (default: :class:`~fennec.execution.LocalEngine`, in this process): its
    features on the task's images, then the metric. A progress bar counts the models.

    Raises
    ------
    UnknownNameError
        An unknown metric or model name (checked before any forward pass).
    InputError
        The task has fewer than two classes with images.
    UnitsFailedError
        Some models could not be scored (e.g. a probability metric meets a model without a head); the others
        were, and their ranking is the error's ``partial``.
    """
    from fennec import metrics
    from fennec.execution import LocalEngine
    from fennec.features import get_model_spec

    metrics.get(metric)
    # specs, not names: a model registered in this process only is unknown to another process's registry (and a
    # typo fails here, before minutes are spent on the other models)
    specs = {m.name: m for m in (get_model_spec(m) if isinstance(m, str) else m for m in models)}
    task.require_classes(2, purpose=f"the {metric} metric")
    unit = functools.partial(score_model, task, metric=metric, batch_size=batch_size, device=device, cache=cache)
    result = (engine or LocalEngine()).map(unit, specs, gpu=True, desc=f"{metric} models")
    rows = sorted(result.values.values(), key=lambda r: -r["score"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    result.check(partial=rows)
    return rows


def score_candidates(task: Any, models: list[Any], metric: str, *, engine: Engine | None = None,
                     execution: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of :func:`score_models` for the models that could be scored, on ``engine`` (default: the one the
    workspace config's ``execution`` section names). The recommender's fallback is a refinement: a model that fails
    keeps the space's score, with a warning naming it."""
    from fennec.execution import UnitsFailedError, create_engine

    runner = engine or create_engine(config=execution)
    try:
        return score_models(task, models, metric, engine=runner)
    except UnitsFailedError as exc:
        warnings.warn(f"The {metric} fallback could not score {', '.join(exc.failed_units)} ({exc}); "
                      "they keep the space's score.", stacklevel=3)
        return exc.partial
    finally:
        if runner is not engine:
            runner.close()


def score_model(task: Any, model: Any, *, metric: str, batch_size: int | None = None,
                device: str | None = None, cache: bool = True) -> dict[str, Any]:
    """One unit of :func:`score_models`: ``{model, score, n_images, seconds}`` of ``model`` (a registered name or a
    :class:`~fennec.features.ModelSpec`)."""
    from fennec import metrics
    from fennec.features import extract_features

    scorer = metrics.get(metric)
    tic = time.perf_counter()
    feats = extract_features(model, task, batch_size=batch_size, device=device, cache=cache, progress=False)
    value = scorer(_metric_input(scorer, feats), feats.labels)
    return {"model": feats.model, "score": float(value), "n_images": feats.n_images,
            "seconds": round(time.perf_counter() - tic, 3)}


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
