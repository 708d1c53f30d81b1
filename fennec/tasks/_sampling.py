"""The per-class random sample that keeps a query fast: at most so many images per class and in all."""
from __future__ import annotations

import numpy as np

from fennec.errors import InputError

__all__ = ["DEFAULT_MAX_IMAGES", "DEFAULT_MAX_PER_CLASS", "sample_indices"]

DEFAULT_MAX_PER_CLASS = 50
DEFAULT_MAX_IMAGES = 2000


def sample_indices(labels: np.ndarray, n_classes: int, *, max_per_class: int | None, max_images: int | None,
                   seed: int) -> np.ndarray:
    """Sorted positions of a per-class random sample of ``labels`` (all positions when the caps drop nothing).

    When the caps together allow fewer images than the classes have, every class gets the same cap (the largest
    that keeps the total within ``max_images``); with more classes than ``max_images``, a random subset of classes
    gets one image each.
    """
    counts = np.bincount(labels, minlength=n_classes)
    cap = _per_class_cap(counts, max_per_class, max_images)
    if cap >= counts.max(initial=0):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.flatnonzero(counts)
    if cap == 0:  # more classes than images allowed: one image from each of a random subset of classes
        classes, cap = np.sort(rng.choice(classes, size=max_images, replace=False)), 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:cap] for c in classes]
    return np.sort(np.concatenate(chosen))


def _per_class_cap(counts: np.ndarray, max_per_class: int | None, max_images: int | None) -> int:
    """The largest per-class cap within both limits (0 when there are more classes than ``max_images``)."""
    for value, label in ((max_per_class, "max_per_class"), (max_images, "max_images")):
        if value is not None and value < 1:
            raise InputError(f"`{label}` of Task.sample must be a positive integer or None. Got {value} instead.")
    cap = int(counts.max(initial=0)) if max_per_class is None else min(max_per_class, int(counts.max(initial=0)))
    if max_images is None or np.minimum(counts, cap).sum() <= max_images:
        return cap
    low, high = 0, cap  # binary search: total(min(counts, k)) is non-decreasing in k
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if np.minimum(counts, mid).sum() <= max_images else (low, mid - 1)
    return low
