"""The ``stats`` proxy: a few numbers about a task's size and class balance.

Parts (one value each):

- ``n_classes``: :math:`\\log(1 + C)`;
- ``size``: :math:`\\log(1 + N)` with N the images of the full task (before any sampling), or a card's ``n_train``;
- ``per_class``: :math:`\\log(1 + N / C)`;
- ``balance``: the entropy of the class frequencies divided by :math:`\\log C` (1 for balanced classes or C = 1);
- ``min_max``: the smallest class count over the largest.

For a :class:`~fennec.cards.TaskCard` the class counts come from ``extra["class_counts"]`` when present; without
them the classes are taken as balanced (``balance`` and ``min_max`` are 1).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fennec.cards import TaskCard
from fennec.errors import InputError
from fennec.proxy._base import Proxy
from fennec.proxy._task_features import TaskFeatures, concat_parts
from fennec.tasks import Task

__all__ = ["StatsProxy"]


class StatsProxy(Proxy):
    """Embed a task by its number of classes, size and class balance (5 values; no model, no cache).

    Examples
    --------
    >>> from fennec.cards import TaskCard
    >>> feats = StatsProxy().embed(TaskCard("pets", n_classes=2, n_train=100))
    >>> [round(float(v), 3) for v in feats.vector]
    [1.099, 4.615, 3.932, 1.0, 1.0]
    """

    name = "stats"
    cacheable = False

    @property
    def weights_id(self) -> str:
        return "none"

    def _content_id(self, task: Any) -> str:  # pragma: no cover - not cached
        return ""

    def _compute(self, task: Task | TaskCard, *, cache: bool = True) -> TaskFeatures:
        counts, n_classes, n_images = _sizes(task)
        if counts is not None and n_classes > 1:
            freq = counts[counts > 0] / counts.sum()
            balance = float(-(freq * np.log(freq)).sum() / np.log(n_classes))
            min_max = float(counts.min() / counts.max())
        else:
            balance = min_max = 1.0
        vector, parts = concat_parts([
            ("n_classes", [np.log1p(n_classes)]),
            ("size", [np.log1p(n_images)]),
            ("per_class", [np.log1p(n_images / max(n_classes, 1))]),
            ("balance", [balance]),
            ("min_max", [min_max]),
        ])
        return TaskFeatures(vector, parts, self.name, n_images, n_classes)


def _sizes(task: Task | TaskCard) -> tuple[np.ndarray | None, int, int]:
    """``(class counts or None, number of classes, number of images)`` of a task or a card."""
    if isinstance(task, Task):
        counts = np.asarray(task.class_counts, dtype=np.float64)
        return counts, int(np.count_nonzero(counts)), int(counts.sum())
    raw = task.extra.get("class_counts")
    counts = np.asarray(raw, dtype=np.float64) if raw is not None else None
    n_classes = task.n_classes or len(task.label_names) or (len(counts) if counts is not None else 0)
    n_images = task.n_train if task.n_train is not None else (int(counts.sum()) if counts is not None else None)
    if not n_classes or n_images is None:
        raise InputError(f"The 'stats' proxy needs the number of classes and of training images of task "
                         f"{task.name!r}. Got n_classes={task.n_classes}, n_train={task.n_train} instead.",
                         hint="set the card's n_classes (or label_names) and n_train")
    return counts, int(n_classes), int(n_images)
