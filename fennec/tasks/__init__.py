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

Modules: ``_task`` the :class:`Task` object and :func:`load_task`; ``_sources`` reading class folders and CSV
manifests; ``_sampling`` the per-class sample; ``_images`` decoding to RGB and the skipped-images warning.
"""
from __future__ import annotations

from fennec.tasks._images import IMAGE_EXTENSIONS, SkippedImagesWarning
from fennec.tasks._sampling import DEFAULT_MAX_IMAGES, DEFAULT_MAX_PER_CLASS
from fennec.tasks._task import Task, load_task

__all__ = [
    "DEFAULT_MAX_IMAGES",
    "DEFAULT_MAX_PER_CLASS",
    "IMAGE_EXTENSIONS",
    "SkippedImagesWarning",
    "Task",
    "load_task",
]
