r"""The proxy interface and the task vector built from per-image features.

Task vector of an image proxy
-----------------------------
Given per-image features :math:`f_i` with labels :math:`y_i`, let :math:`z_i = f_i / \|f_i\|` and, for each class
:math:`c` with :math:`n_c` images, :math:`s_c = \sum_{i: y_i = c} z_i` and the prototype
:math:`\hat p_c = s_c / \|s_c\|`. The vector is the concatenation of these parts:

- ``mean`` (d): :math:`\mathrm{normalise}(\frac{1}{n}\sum_i z_i)`, the direction of the average image;
- ``prototypes`` (d): :math:`\mathrm{normalise}(\frac{1}{C}\sum_c \hat p_c)`, the same with every class weighted
  equally (so class imbalance does not tilt it);
- ``spread`` (2): the mean within-class cosine distance, averaged over classes with at least two images,
  :math:`1 - \frac{\|s_c\|^2 - n_c}{n_c (n_c - 1)}` (the mean of :math:`1 - z_i^\top z_j` over pairs
  :math:`i \ne j` of the class, an unbiased estimate whatever the sample size), and the mean cosine distance between
  prototypes, :math:`\frac{1}{C(C-1)}\sum_{c \ne c'} (1 - \hat p_c^\top \hat p_{c'})` (0 with one class).

Every part is a mean over images or classes, never a sum, and none depends on the order of the images: a task
sampled with another seed or size gives the same vector up to sampling noise.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from fennec.cards import TaskCard
from fennec.errors import InputError
from fennec.features import ModelSpec, extract_features
from fennec.proxy._cache import EmbeddingCache
from fennec.proxy._task_features import TaskFeatures, concat_parts
from fennec.tasks import DEFAULT_MAX_IMAGES, DEFAULT_MAX_PER_CLASS, Task, load_task

__all__ = ["TaskFeatures", "Proxy", "ImageProxy", "image_task_vector", "concat_parts"]


def _normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def image_task_vector(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """The task vector of per-image features (``mean``, ``prototypes``, ``spread``; see the module docstring).

    Parameters
    ----------
    features : ndarray of shape (n_images, d)
    labels : ndarray of shape (n_images,)

    Returns
    -------
    vector : ndarray of shape (2 * d + 2,)
    parts : dict of str to (int, int)
    """
    z = _normalise(np.asarray(features, np.float64))
    labels = np.asarray(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.zeros((len(classes), z.shape[1]))
    np.add.at(sums, inverse, z)
    prototypes = _normalise(sums)
    multi = counts >= 2
    within_sim = (np.einsum("cd,cd->c", sums, sums)[multi] - counts[multi]) / (counts[multi] * (counts[multi] - 1))
    within = float(np.mean(1.0 - within_sim)) if multi.any() else 0.0
    between = 0.0
    if len(classes) > 1:
        gram = prototypes @ prototypes.T
        between = float((len(classes) ** 2 - gram.sum()) / (len(classes) * (len(classes) - 1)))
    return concat_parts([
        ("mean", _normalise(z.mean(axis=0))),
        ("prototypes", _normalise(prototypes.mean(axis=0))),
        ("spread", np.array([within, between])),
    ])


class Proxy(ABC):
    """A task embedder: ``proxy.embed(task) -> TaskFeatures``, cached on disk by content.

    Subclasses set ``name``, implement :meth:`_compute` and :attr:`weights_id`, and list in :meth:`_config` the
    constructor arguments that change the output (all are part of the cache key).
    """

    name: ClassVar[str]
    #: whether results are cached on disk (cheap proxies skip it)
    cacheable: ClassVar[bool] = True

    @property
    @abstractmethod
    def weights_id(self) -> str:
        """Identifies the weights behind the proxy (part of the cache key)."""

    @abstractmethod
    def _compute(self, task: Any, *, cache: bool = True) -> TaskFeatures:
        """Embed one prepared task (``cache`` tells whether intermediate caches, e.g. image features, may be used)."""

    def _prepare(self, task: Task | TaskCard) -> Any:
        """Check and convert the input (image proxies load or sample images here)."""
        if not isinstance(task, (Task, TaskCard)):
            raise InputError(f"`task` of {type(self).__name__}.embed must be a Task or a TaskCard. "
                             f"Got {type(task).__name__} instead.")
        return task

    def _content_id(self, task: Any) -> str:
        """Identifies the content the vector depends on (part of the cache key)."""
        return task.content_hash

    def _config(self) -> dict[str, Any]:
        return {}

    def embed(self, task: Task | TaskCard, *, cache: bool = True) -> TaskFeatures:
        """Embed one task.

        Parameters
        ----------
        task : Task or TaskCard
            Image proxies need images (a Task, or a card whose ``image_dir`` is set).
        cache : bool, default=True
            Read and write the on-disk caches (``cache_dir("embeddings")``, and the image features' cache).

        Returns
        -------
        TaskFeatures
        """
        return self.embed_many([task], cache=cache)[0]

    def embed_many(self, tasks: Sequence[Task | TaskCard], *, cache: bool = True) -> list[TaskFeatures]:
        """Embed several tasks (text proxies batch them into one encoder pass)."""
        prepared = [self._prepare(t) for t in tasks]
        store = EmbeddingCache() if cache and self.cacheable else None
        keys = [store.key(self.name, self.weights_id, self._config(), self._content_id(t)) if store else None
                for t in prepared]
        results: list[TaskFeatures | None] = [store.get(k) if store else None for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            for i, computed in zip(missing, self._compute_many([prepared[i] for i in missing], cache=cache)):
                results[i] = computed
                if store:
                    store.put(keys[i], computed)
        return results  # type: ignore[return-value]

    def _compute_many(self, tasks: list[Any], *, cache: bool = True) -> list[TaskFeatures]:
        return [self._compute(t, cache=cache) for t in tasks]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"


class ImageProxy(Proxy):
    """A proxy that embeds a task's images with a vision model and builds :func:`image_task_vector`.

    Parameters
    ----------
    batch_size : int, default=32
        Images per forward pass.
    device : str, optional
        Default: CUDA when available, else CPU.
    max_per_class, max_images : int or None, default=50 and 2000
        Caps applied (seeded per-class sample) to tasks larger than that; both keep queries fast.
    seed : int, default=0
        Seed of that sample.
    progress : bool, optional
        Show a progress bar (default: only on a terminal).

    Attributes
    ----------
    last_timings : dict
        Seconds spent by the last computed (uncached) embedding: ``setup`` (building the model, hashing the
        images), ``load`` (decoding and preprocessing; overlaps ``forward`` when prefetching), ``forward``,
        ``aggregate`` (the task vector), ``extra`` (parts a subclass adds) and ``total``.
    """

    def __init__(self, *, batch_size: int = 32, device: str | None = None,
                 max_per_class: int | None = DEFAULT_MAX_PER_CLASS, max_images: int | None = DEFAULT_MAX_IMAGES,
                 seed: int = 0, progress: bool | None = None) -> None:
        self.batch_size = batch_size
        self.device = device
        self.max_per_class = max_per_class
        self.max_images = max_images
        self.seed = seed
        self.progress = progress
        self.last_timings: dict[str, float] = {}

    @abstractmethod
    def _model_spec(self) -> ModelSpec:
        """The image encoder (features are its pooled penultimate activations, or its output when no head)."""

    def _config(self) -> dict[str, Any]:
        return {"max_per_class": self.max_per_class, "max_images": self.max_images, "seed": self.seed}

    def _prepare(self, task: Task | TaskCard) -> Task:
        task = super()._prepare(task)
        if isinstance(task, TaskCard):
            if not task.image_dir:
                raise InputError(f"Proxy {self.name!r} needs images, and task card {task.name!r} has no image_dir.",
                                 hint="embed it with the 'labels' or 'stats' proxy, or set the card's image_dir")
            task = load_task(task.image_dir, name=task.name, description=task.description,
                             max_per_class=None, max_images=None)
        if task.n_images == 0:
            raise InputError(f"Task {task.name!r} has no images.", hint="use the 'labels' or 'stats' proxy")
        return task.sample(max_per_class=self.max_per_class, max_images=self.max_images, seed=self.seed)

    def _compute(self, task: Task, *, cache: bool = True) -> TaskFeatures:
        tic = time.perf_counter()
        feats = extract_features(self._model_spec(), task, batch_size=self.batch_size, device=self.device,
                                 progress=self.progress, cache=cache)
        mid = time.perf_counter()
        vector, parts = image_task_vector(feats.features, feats.labels)
        aggregated = time.perf_counter()
        vector, parts = self._extend(task, vector, parts)
        end = time.perf_counter()
        self.last_timings = {
            "setup": (mid - tic) - feats.timings.get("total", 0.0),  # building the model, hashing the images
            "load": feats.timings.get("load", 0.0),
            "forward": feats.timings.get("forward", 0.0),
            "aggregate": aggregated - mid,
            "extra": end - aggregated,  # parts added by the subclass (CLIP's label-name embedding)
            "total": end - tic,
        }
        return TaskFeatures(vector, parts, self.name, feats.n_images, int(len(np.unique(feats.labels))))

    def _extend(self, task: Task, vector: np.ndarray,
                parts: dict[str, tuple[int, int]]) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        """Hook for proxies that append parts (the CLIP proxy adds its label-name embedding)."""
        return vector, parts
