"""What feature extraction returns: :class:`Features`, per-image features (and logits) of a task under one model."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Features"]



@dataclass(frozen=True, eq=False)
class Features:
    """Per-image features of a task under one model.

    Attributes
    ----------
    features : ndarray of shape (n_images, d)
        Penultimate features (float32), one row per readable image.
    labels : ndarray of shape (n_images,)
        Class index of each row.
    indices : ndarray of shape (n_images,)
        Position of each row's image in the task passed to :func:`extract_features` (unreadable images and images
        left out by sub-sampling have no row).
    logits : ndarray of shape (n_images, n_outputs) or None
        Output of the head, when the model has one.
    model : str
        Model name.
    timings : dict
        Seconds spent decoding and preprocessing (``load``), in forward passes (``forward``) and in all (``total``);
        zeros when the result came from the cache (then ``cached`` is 1).
    """

    features: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    logits: np.ndarray | None
    model: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        """Number of rows."""
        return int(self.features.shape[0])
