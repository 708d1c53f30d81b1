"""Ranking methods the harness can evaluate, created by name.

A method is a small object with ``fit(records, model_cards, task_cards)`` and
``score(task_card, revealed) -> {model: score}`` (see :class:`benchmark._types.Method`). Published metric methods
(``logme``, ``hscore``, ``knn1``) exist only where a benchmark's task cards carry those scores.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from fennec.errors import UnknownNameError

from .._types import Method
from ._baselines import CardAttribute, Popularity, RandomScores, normalize_records
from ._published import PublishedScores

__all__ = ["PUBLISHED", "available", "create_method", "normalize_records", "register_method"]

#: Methods that read scores a benchmark publishes (they apply only where its task cards carry them).
PUBLISHED = frozenset({"logme", "hscore", "knn1", "sfda"})

_REGISTRY: dict[str, Callable[..., Method]] = {
    "popularity": Popularity,
    "popularity-ns": lambda: Popularity("normal-scores"),  # on normal scores, as the space normalises
    "random": RandomScores,
    "imagenet-top1": lambda: CardAttribute("imagenet_top1"),
    "params": lambda: CardAttribute("n_params", log=True),
    "logme": lambda: PublishedScores("logme"),
    "hscore": lambda: PublishedScores("hscore"),
    "knn1": lambda: PublishedScores("knn1"),
    "sfda": lambda: PublishedScores("sfda"),
}


def _fennec(**kwargs) -> Method:
    from ._fennec import FennecMethod  # torch and the proxies load only when the method is used

    return FennecMethod(**kwargs)


def _fennec_metric(**kwargs) -> Method:
    from ._fennec_metric import FennecMetricMethod

    return FennecMetricMethod(**kwargs)


_REGISTRY["fennec"] = _fennec
_REGISTRY["fennec-noimage"] = functools.partial(_fennec, image_proxy=None)  # the space without the image proxy
_REGISTRY["fennec-nopairs"] = functools.partial(_fennec, pair_views=())  # the space without its pairwise term
_REGISTRY["fennec+metric"] = _fennec_metric


def register_method(name: str, factory: Callable[..., Method]) -> None:
    """Make ``factory`` available to :func:`create_method` under ``name``."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    """Names accepted by :func:`create_method`."""
    return sorted(_REGISTRY)


def create_method(name: str, **kwargs) -> Method:
    """A fresh, unfitted method by name (``popularity``, ``random``, ``logme``...)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownNameError.of("method", name, available()) from None
    return factory(**kwargs)
