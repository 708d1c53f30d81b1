"""The :class:`Task` object: a task's images, labels and class names, its sample, its decoded images, its hash."""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fennec.cards import TaskCard
from fennec.errors import InputError
from fennec.tasks._images import (
    SkippedImagesWarning,
    UnreadableImage,
    as_image_array,
    decode,
    few,
)
from fennec.tasks._sampling import (
    DEFAULT_MAX_IMAGES,
    DEFAULT_MAX_PER_CLASS,
    sample_indices,
)
from fennec.tasks._sources import (
    TaskSource,
    existing,
    label_indices,
    read_any,
    read_csv,
    read_folder,
)

__all__ = ["Task", "load_task"]


def _loader(read: Callable[[Path], TaskSource], qualname: str, doc: str) -> Callable[..., Task]:
    """A task loader: ``read`` the source, build the :class:`Task`, sample it.

    :func:`load_task`, :meth:`Task.from_folder` and :meth:`Task.from_csv` take the same arguments and sample the
    same way, so the signature is written once, here.
    """
    def load(
        path: str | Path,
        *,
        name: str | None = None,
        description: str = "",
        max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        seed: int = 0,
    ) -> Task:
        found = read(existing(path))
        task = Task(name or found.name, found.images, found.labels, found.label_names, description=description,
                    source=found.origin)
        return task.sample(max_per_class=max_per_class, max_images=max_images, seed=seed)

    load.__name__, load.__qualname__, load.__doc__ = qualname.rsplit(".", 1)[-1], qualname, doc
    return load


@dataclass(frozen=True, eq=False)
class Task:
    """The labelled images of one downstream task.

    Build one with :func:`load_task` (a folder or a CSV manifest), :meth:`from_folder`, :meth:`from_csv` or
    :meth:`from_arrays` rather than directly.

    Parameters
    ----------
    name : str
        Task id (the folder or CSV name by default).
    images : tuple of Path or tuple of ndarray
        Image files (decoded lazily) or in-memory images (``(H, W)``, ``(H, W, 1|3|4)``, uint8 or float in [0, 1]).
    labels : ndarray of shape (n_images,)
        Integer class index of each image, in ``range(len(label_names))``.
    label_names : tuple of str
        Class names in label order.
    description : str, default=""
        One line saying what is predicted (used by the ``labels`` proxy).
    class_counts : tuple of int, optional
        Images per class in the full task before sampling (default: counted from ``labels``).
    source : str, optional
        The folder or CSV file the task was loaded from.

    Examples
    --------
    >>> import numpy as np
    >>> task = Task.from_arrays(np.zeros((4, 8, 8), np.uint8), [0, 0, 1, 1], label_names=["a", "b"])
    >>> task.n_images, task.n_classes
    (4, 2)
    """

    name: str
    images: tuple[Any, ...]
    labels: np.ndarray
    label_names: tuple[str, ...]
    description: str = ""
    class_counts: tuple[int, ...] | None = None
    source: str | None = None
    _unreadable: set[int] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or len(labels) != len(self.images):
            raise InputError(
                f"`labels` of Task must be 1-D with one label per image ({len(self.images)}). "
                f"Got shape {labels.shape} instead."
            )
        if not np.issubdtype(labels.dtype, np.integer) and len(labels):
            raise InputError(f"`labels` of Task must be integers. Got dtype {labels.dtype} instead.")
        labels = labels.astype(np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.label_names)):
            raise InputError(
                f"`labels` of Task must lie in [0, {len(self.label_names)}) (one per label name). "
                f"Got values in [{labels.min()}, {labels.max()}] instead."
            )
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "label_names", tuple(str(n) for n in self.label_names))
        if self.class_counts is None:
            counts = np.bincount(labels, minlength=len(self.label_names))
            object.__setattr__(self, "class_counts", tuple(int(c) for c in counts))

    # ------------------------------------------------------------------ constructors
    from_folder = staticmethod(_loader(
        read_folder, "Task.from_folder",
        """Load ``path/<class name>/*.jpg|png|...`` (class folders sorted by name; sub-folders are searched).

        Parameters
        ----------
        path : str or Path
            The task folder, one sub-folder per class.
        name : str, optional
            Task id (default: the folder name).
        description : str, default=""
            One line saying what is predicted.
        max_per_class, max_images : int or None
            Sampling caps (see :meth:`sample`); ``None`` keeps every image.
        seed : int, default=0
            Seed of the per-class sampling.

        Returns
        -------
        Task
        """))

    from_csv = staticmethod(_loader(
        read_csv, "Task.from_csv",
        """Load a CSV manifest with a header ``path,label`` (paths relative to the CSV's folder, or absolute).

        Labels may be class names or integers; classes are ordered by name (numbers numerically). Other columns
        are ignored. Parameters are those of :meth:`from_folder`.

        Returns
        -------
        Task
        """))

    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray | Sequence[Any],
        labels: Sequence[Any] | np.ndarray,
        *,
        label_names: Sequence[str] | None = None,
        name: str = "arrays",
        description: str = "",
    ) -> Task:
        """A task from in-memory images (no sampling: pass what you want embedded).

        Parameters
        ----------
        images : ndarray of shape (n_images, H, W[, C]) or sequence of arrays or PIL images
            uint8, or float in [0, 1]; ``C`` in {1, 3, 4}.
        labels : array-like of shape (n_images,)
            Integer class indices, or class names (then ``label_names`` defaults to their sorted set).
        label_names : sequence of str, optional
            Class names in label order (default: ``"0", "1", ...`` for integer labels).
        name, description : str
            Task id and one line saying what is predicted.

        Returns
        -------
        Task
        """
        arrays = tuple(as_image_array(im, i) for i, im in enumerate(images))
        raw, names = label_indices(np.asarray(labels), label_names)
        return cls(name, arrays, raw, names, description=description)

    # ------------------------------------------------------------------ properties
    @property
    def n_images(self) -> int:
        """Number of images in this (possibly sampled) task."""
        return len(self.images)

    @property
    def n_classes(self) -> int:
        """Number of classes (label names)."""
        return len(self.label_names)

    @property
    def n_total(self) -> int:
        """Number of images in the full task before sampling."""
        return int(sum(self.class_counts))

    @property
    def is_lazy(self) -> bool:
        """Whether the images are files decoded on demand."""
        return bool(self.images) and isinstance(self.images[0], Path)

    def to_card(self) -> TaskCard:
        """The :class:`~fennec.cards.TaskCard` of this task (name, classes, size, label names, description)."""
        image_dir = self.source if self.source and Path(self.source).is_dir() else None
        return TaskCard(name=self.name, n_classes=self.n_classes, n_train=self.n_total,
                        label_names=self.label_names, description=self.description, image_dir=image_dir)

    def require_classes(self, minimum: int = 2, *, purpose: str = "this") -> None:
        """Raise :class:`~fennec.errors.InputError` unless at least ``minimum`` classes have images."""
        present = int(np.count_nonzero(np.bincount(self.labels, minlength=self.n_classes)))
        if present < minimum:
            raise InputError(
                f"Task {self.name!r} has {present} class(es) with images; {purpose} needs at least {minimum}.",
                hint="a task folder needs one sub-folder of images per class",
            )

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        *,
        max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        seed: int = 0,
    ) -> Task:
        """A per-class random sample: at most ``max_per_class`` images per class and ``max_images`` in all.

        Returns ``self`` when nothing would be dropped, else ``self.subset(self.sample_indices(...))``; the result
        keeps the full task's ``class_counts``.
        """
        keep = self.sample_indices(max_per_class=max_per_class, max_images=max_images, seed=seed)
        return self if len(keep) == self.n_images else self.subset(keep)

    def sample_indices(
        self,
        *,
        max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        seed: int = 0,
    ) -> np.ndarray:
        """Sorted positions of a per-class random sample (all positions when the caps drop nothing).

        When the caps together allow fewer images than the classes have, every class gets the same cap (the largest
        that keeps the total within ``max_images``); with more classes than ``max_images``, a random subset of
        classes gets one image each.
        """
        return sample_indices(self.labels, self.n_classes, max_per_class=max_per_class, max_images=max_images,
                              seed=seed)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Task:
        """The task restricted to ``indices`` (same label names and full-task class counts)."""
        idx = np.asarray(indices, dtype=np.int64)
        return Task(self.name, tuple(self.images[i] for i in idx), self.labels[idx], self.label_names,
                    description=self.description, class_counts=self.class_counts, source=self.source)

    # ------------------------------------------------------------------ images
    def load_image(self, index: int, *, draft_size: int | None = None) -> Image.Image:
        """Decode image ``index`` as an RGB PIL image.

        Parameters
        ----------
        index : int
            Position in the task.
        draft_size : int, optional
            Let JPEG decoding shrink by a power of two while keeping both sides at least this large (much faster
            for big photos that are resized anyway).

        Raises
        ------
        InputError
            When the image cannot be decoded (the message names the file).
        """
        try:
            return self._decode(index, draft_size)
        except UnreadableImage as exc:
            raise InputError(f"Cannot read image {self._describe(index)}: {exc}") from exc

    def iter_batches(
        self, batch_size: int, *, indices: Sequence[int] | None = None, draft_size: int | None = None
    ) -> Iterator[tuple[np.ndarray, list[Image.Image]]]:
        """Decode the images batch by batch, skipping unreadable ones.

        Yields ``(kept_indices, rgb_images)`` per batch. When the pass ends, ONE :class:`SkippedImagesWarning`
        names the images found unreadable in it (images already reported by an earlier pass are skipped quietly).
        """
        order = range(self.n_images) if indices is None else indices
        order = [i for i in order if i not in self._unreadable]
        newly_bad: list[tuple[int, str]] = []
        for start in range(0, len(order), batch_size):
            kept, images = [], []
            for i in order[start:start + batch_size]:
                try:
                    images.append(self._decode(i, draft_size))
                    kept.append(i)
                except UnreadableImage as exc:
                    self._unreadable.add(i)
                    newly_bad.append((i, str(exc)))
            if kept:
                yield np.asarray(kept, np.int64), images
        self._warn_skipped(newly_bad)

    def mark_unreadable(self, indices: Sequence[int], why: str = "unreadable when first decoded") -> None:
        """Record images found unreadable by another pass over the same files (a cache of their decoded pixels):
        the next passes skip them, and one :class:`SkippedImagesWarning` names those not reported yet."""
        newly_bad = [(int(i), why) for i in indices if int(i) not in self._unreadable]
        self._unreadable.update(i for i, _ in newly_bad)
        self._warn_skipped(newly_bad)

    def _warn_skipped(self, newly_bad: list[tuple[int, str]]) -> None:
        if newly_bad:
            shown = few([f"{self._describe(i)} ({why})" for i, why in newly_bad], "; ")
            warnings.warn(
                f"Skipped {len(newly_bad)} unreadable image(s) of task {self.name!r}: {shown}",
                SkippedImagesWarning, stacklevel=3,
            )

    def _decode(self, index: int, draft_size: int | None) -> Image.Image:
        return decode(self.images[index], draft_size)

    def _describe(self, index: int) -> str:
        source = self.images[index]
        return str(source) if isinstance(source, Path) else f"#{index}"

    # ------------------------------------------------------------------ identity
    @cached_property
    def images_hash(self) -> str:
        """Hex digest of the images alone, in order: file bytes, or array bytes and shape (not where they are)."""
        digest = hashlib.blake2b(digest_size=20)
        for source in self.images:
            if isinstance(source, Path):
                digest.update(hashlib.blake2b(source.read_bytes(), digest_size=20).digest())
            else:
                digest.update(repr(source.shape).encode())
                digest.update(hashlib.blake2b(np.ascontiguousarray(source).tobytes(), digest_size=20).digest())
        return digest.hexdigest()

    @cached_property
    def content_hash(self) -> str:
        """Hex digest of the images (:attr:`images_hash`), labels and label names.

        Two tasks with the same images, labels and names in the same order hash equal, wherever the files are.
        """
        digest = hashlib.blake2b(self.images_hash.encode(), digest_size=20)
        digest.update(repr(self.label_names).encode())
        digest.update(self.labels.tobytes())
        return digest.hexdigest()


load_task = _loader(
    read_any, "load_task",
    """Load a task from a folder of class sub-folders or from a ``path,label`` CSV manifest.

    Parameters
    ----------
    path : str or Path
        ``DIR`` (``DIR/<class name>/*.jpg|png|...``) or ``FILE.csv``.
    name, description : str, optional
        Task id (default: the folder or file name) and one line saying what is predicted.
    max_per_class : int or None, default=50
        At most this many images per class (seeded random sample); ``None`` keeps all.
    max_images : int or None, default=2000
        At most this many images in all.
    seed : int, default=0
        Seed of the sampling.

    Returns
    -------
    Task

    Raises
    ------
    InputError
        The path does not exist, holds no images, is not laid out in class folders, or a CSV names missing files.

    Examples
    --------
    >>> task = load_task("my_task/")  # doctest: +SKIP
    >>> task.n_classes, task.n_images  # doctest: +SKIP
    (10, 500)
    """)
