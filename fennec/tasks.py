"""Task data: the labelled images of a downstream task, loaded from a folder, a CSV manifest or arrays.

A :class:`Task` holds its images either as paths (decoded lazily, one batch at a time) or as in-memory arrays, with
integer labels and the class names. Loaders sample per class with a seed so that a query stays fast (by default at
most 50 images per class and 2,000 in all); the class counts of the full task are kept for the ``stats`` proxy.

Images are converted to RGB when decoded (grayscale and palette images are replicated, RGBA is composited on
white). Files that cannot be decoded (a truncated JPEG, a text file named ``.jpg``) are skipped, and each pass over
the images reports them in ONE :class:`SkippedImagesWarning` naming how many and the first few; files whose
extension is not an image extension (``notes.txt``, ``.DS_Store``) are ignored at load time, reported the same way.

A folder with a single class is a valid task (a proxy can embed it: its between-class spread is 0), but the
transferability metrics need at least two classes; :meth:`Task.require_classes` is the check they use.
"""
from __future__ import annotations

import csv
import hashlib
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from fennec.cards import TaskCard
from fennec.errors import InputError

__all__ = [
    "Task",
    "load_task",
    "SkippedImagesWarning",
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PER_CLASS",
    "DEFAULT_MAX_IMAGES",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
DEFAULT_MAX_PER_CLASS = 50
DEFAULT_MAX_IMAGES = 2000
_SHOWN = 5  # how many offending files a message names


class SkippedImagesWarning(UserWarning):
    """Some files of a task were skipped (not images, or not decodable); the message says how many and which."""


class _UnreadableImage(Exception):
    """Internal: one image could not be decoded (the caller collects these into one warning)."""


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
    @classmethod
    def from_folder(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        description: str = "",
        max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        seed: int = 0,
    ) -> "Task":
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
        """
        root = _existing(path)
        if not root.is_dir():
            raise InputError(f"{root} is not a folder.", hint="pass a folder of class sub-folders or a .csv manifest")
        class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                            key=lambda p: _natural_key(p.name))
        ignored: list[Path] = []
        per_class: list[list[Path]] = []
        for class_dir in class_dirs:
            files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
            per_class.append([p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS])
            ignored += [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
        _check_folder_layout(root, class_dirs, per_class)
        _warn_ignored(root, ignored, [d for d, files in zip(class_dirs, per_class) if not files])
        kept = [(d.name, files) for d, files in zip(class_dirs, per_class) if files]
        images = [f for _, files in kept for f in files]
        labels = [i for i, (_, files) in enumerate(kept) for _ in files]
        task = cls(name or root.name, tuple(images), np.asarray(labels, np.int64), tuple(n for n, _ in kept),
                   description=description, source=str(root))
        return task.sample(max_per_class=max_per_class, max_images=max_images, seed=seed)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        description: str = "",
        max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        seed: int = 0,
    ) -> "Task":
        """Load a CSV manifest with a header ``path,label`` (paths relative to the CSV's folder, or absolute).

        Labels may be class names or integers; classes are ordered by name (numbers numerically). Other columns
        are ignored. Parameters are those of :meth:`from_folder`.

        Returns
        -------
        Task
        """
        csv_path = _existing(path)
        rows = _read_manifest(csv_path)
        base = csv_path.parent
        resolved = [(n, (base / p) if not Path(p).is_absolute() else Path(p), lab) for n, p, lab in rows]
        missing = [(n, p) for n, p, _ in resolved if not p.is_file()]
        if missing:
            shown = ", ".join(f"row {n}: {p}" for n, p in missing[:_SHOWN])
            raise InputError(
                f"{len(missing)} of {len(rows)} image paths in {csv_path} do not exist ({shown}"
                f"{', ...' if len(missing) > _SHOWN else ''}).",
                hint=f"paths are read relative to the CSV's folder {base}; fix or remove those rows",
            )
        label_names = tuple(sorted({lab for _, _, lab in resolved}, key=_natural_key))
        index = {n: i for i, n in enumerate(label_names)}
        task = cls(name or csv_path.stem, tuple(p for _, p, _ in resolved),
                   np.asarray([index[lab] for _, _, lab in resolved], np.int64), label_names, description=description,
                   source=str(csv_path))
        return task.sample(max_per_class=max_per_class, max_images=max_images, seed=seed)

    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray | Sequence[Any],
        labels: Sequence[Any] | np.ndarray,
        *,
        label_names: Sequence[str] | None = None,
        name: str = "arrays",
        description: str = "",
    ) -> "Task":
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
        arrays = tuple(_as_image_array(im, i) for i, im in enumerate(images))
        raw, names = _label_indices(np.asarray(labels), label_names)
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
    ) -> "Task":
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
        counts = np.bincount(self.labels, minlength=self.n_classes)
        cap = _per_class_cap(counts, max_per_class, max_images)
        if cap >= counts.max(initial=0):
            return np.arange(self.n_images)
        rng = np.random.default_rng(seed)
        classes = np.flatnonzero(counts)
        if cap == 0:  # more classes than images allowed: one image from each of a random subset of classes
            classes, cap = np.sort(rng.choice(classes, size=max_images, replace=False)), 1
        chosen = [rng.permutation(np.flatnonzero(self.labels == c))[:cap] for c in classes]
        return np.sort(np.concatenate(chosen))

    def subset(self, indices: Sequence[int] | np.ndarray) -> "Task":
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
        except _UnreadableImage as exc:
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
                except _UnreadableImage as exc:
                    self._unreadable.add(i)
                    newly_bad.append((i, str(exc)))
            if kept:
                yield np.asarray(kept, np.int64), images
        if newly_bad:
            shown = "; ".join(f"{self._describe(i)} ({why})" for i, why in newly_bad[:_SHOWN])
            warnings.warn(
                f"Skipped {len(newly_bad)} unreadable image(s) of task {self.name!r}: {shown}"
                f"{'; ...' if len(newly_bad) > _SHOWN else ''}",
                SkippedImagesWarning, stacklevel=2,
            )

    def _decode(self, index: int, draft_size: int | None) -> Image.Image:
        source = self.images[index]
        if not isinstance(source, Path):
            return _to_rgb(Image.fromarray(source))
        try:
            image = Image.open(source)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise _UnreadableImage(_reason(exc)) from exc
        try:
            if draft_size and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            rgb = _to_rgb(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            image.close()
            raise _UnreadableImage(_reason(exc)) from exc
        if rgb is not image:  # a converted copy: release the file now rather than at garbage collection
            image.close()
        return rgb

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


def load_task(
    path: str | Path,
    *,
    name: str | None = None,
    description: str = "",
    max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
    max_images: int | None = DEFAULT_MAX_IMAGES,
    seed: int = 0,
) -> Task:
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
    """
    source = _existing(path)
    kwargs = dict(name=name, description=description, max_per_class=max_per_class, max_images=max_images, seed=seed)
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise InputError(f"{source} is a file but not a .csv manifest.",
                             hint="pass a folder DIR/<class name>/*.jpg or a CSV with columns path,label")
        return Task.from_csv(source, **kwargs)
    return Task.from_folder(source, **kwargs)


# ---------------------------------------------------------------------- helpers
def _existing(path: str | Path) -> Path:
    result = Path(path).expanduser()
    if not result.exists():
        raise InputError(f"{result} does not exist.", hint="pass a folder DIR/<class name>/*.jpg or a path,label CSV")
    return result


def _natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically ("2" before "10")."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t)


def _check_folder_layout(root: Path, class_dirs: list[Path], per_class: list[list[Path]]) -> None:
    if any(per_class):
        return
    loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if loose:
        raise InputError(
            f"{root} holds {len(loose)} image(s) directly but no class sub-folders with images.",
            hint=f"put each class's images in its own folder: {root}/<class name>/*.jpg",
        )
    what = f"{len(class_dirs)} class folder(s) without image files" if class_dirs else "no class folders"
    raise InputError(f"No images found in {root} ({what}).",
                     hint=f"expected {root}/<class name>/*.jpg|jpeg|png|bmp|gif|webp|tif")


def _warn_ignored(root: Path, files: list[Path], empty_dirs: list[Path]) -> None:
    """One warning for everything a folder load leaves out: non-image files and class folders without images."""
    parts = []
    for items, what in ((files, "file(s) that are not images by their extension"),
                        (empty_dirs, "class folder(s) without images")):
        if items:
            shown = ", ".join(str(p.relative_to(root)) for p in items[:_SHOWN])
            parts.append(f"{len(items)} {what} ({shown}{', ...' if len(items) > _SHOWN else ''})")
    if parts:
        warnings.warn(f"Ignored in {root}: {'; '.join(parts)}.", SkippedImagesWarning, stacklevel=3)


def _read_manifest(csv_path: Path) -> list[tuple[int, str, str]]:
    """Rows ``(row number, path, label)`` of a ``path,label`` manifest (row numbers count the header as 1)."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if "path" not in columns or "label" not in columns:
            raise InputError(f"{csv_path} must have a header with columns `path` and `label`. "
                             f"Got {reader.fieldnames} instead.", hint="first line: path,label")
        rows = []
        for number, row in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if not row["path"] or not row["label"]:
                raise InputError(f"Row {number} of {csv_path} has an empty `path` or `label`.",
                                 hint="every row needs both an image path and a label")
            rows.append((number, row["path"], row["label"]))
    if not rows:
        raise InputError(f"{csv_path} lists no images.", hint="add rows `path,label` below the header")
    return rows


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


def _label_indices(raw: np.ndarray, label_names: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer labels and label names from integer labels or class-name labels."""
    if raw.dtype.kind in "UO":
        values = [str(v) for v in raw]
        names = tuple(label_names) if label_names is not None else tuple(sorted(set(values), key=_natural_key))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(values) - set(index))
        if unknown:
            raise InputError(f"`labels` of Task.from_arrays contain names not in `label_names`: {unknown[:_SHOWN]}.")
        return np.asarray([index[v] for v in values], np.int64), names
    if label_names is not None:
        return raw, tuple(label_names)
    return raw, tuple(str(i) for i in range(int(raw.max()) + 1 if raw.size else 0))


def _as_image_array(image: Any, index: int) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise InputError(f"Image {index} of Task.from_arrays must have shape (H, W) or (H, W, 1|3|4). "
                         f"Got {array.shape} instead.")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number):
            raise InputError(f"Image {index} of Task.from_arrays must be numeric. Got dtype {array.dtype} instead.")
        scale = 255.0 if np.issubdtype(array.dtype, np.floating) and array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def _reason(exc: BaseException) -> str:
    return str(exc).split("\n")[0] or type(exc).__name__


def _to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB: grayscale replicated, palette expanded, alpha composited on white (RGB returned as is)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit / float grayscale: rescale to 8 bits
        array = np.asarray(image, dtype=np.float32)
        span = float(array.max() - array.min()) or 1.0
        image = Image.fromarray(((array - array.min()) / span * 255).astype(np.uint8))
    return image.convert("RGB")
