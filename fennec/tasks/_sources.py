"""Where a task's images come from: a folder of class sub-folders or a ``path,label`` CSV manifest, checked.

Each reader returns a :class:`TaskSource` (image paths, integer labels, class names); :class:`~fennec.tasks.Task`
builds and samples the task from it, the same way for every source.
"""
from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fennec.errors import InputError
from fennec.tasks._images import IMAGE_EXTENSIONS, SHOWN, SkippedImagesWarning, few

__all__ = ["TaskSource", "existing", "label_indices", "natural_key", "read_any", "read_csv", "read_folder"]


class TaskSource(NamedTuple):
    """What a reader found: the default task name, image paths, labels, class names and where they came from."""

    name: str
    images: tuple[Path, ...]
    labels: np.ndarray
    label_names: tuple[str, ...]
    origin: str


def existing(path: str | Path) -> Path:
    """``path`` with ``~`` expanded; an :class:`InputError` when it does not exist."""
    result = Path(path).expanduser()
    if not result.exists():
        raise InputError(f"{result} does not exist.", hint="pass a folder DIR/<class name>/*.jpg or a path,label CSV")
    return result


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically ("2" before "10")."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t)


def read_any(source: Path) -> TaskSource:
    """A folder or a ``.csv`` manifest, by what ``source`` is."""
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise InputError(f"{source} is a file but not a .csv manifest.",
                             hint="pass a folder DIR/<class name>/*.jpg or a CSV with columns path,label")
        return read_csv(source)
    return read_folder(source)


def read_folder(root: Path) -> TaskSource:
    """``root/<class name>/*.jpg|png|...`` (class folders sorted by name; sub-folders are searched)."""
    if not root.is_dir():
        raise InputError(f"{root} is not a folder.", hint="pass a folder of class sub-folders or a .csv manifest")
    class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: natural_key(p.name))
    ignored: list[Path] = []
    per_class: list[list[Path]] = []
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
        per_class.append([p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS])
        ignored += [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
    _check_folder_layout(root, class_dirs, per_class)
    _warn_ignored(root, ignored, [d for d, files in zip(class_dirs, per_class) if not files])
    kept = [(d.name, files) for d, files in zip(class_dirs, per_class) if files]
    images = tuple(f for _, files in kept for f in files)
    labels = np.asarray([i for i, (_, files) in enumerate(kept) for _ in files], np.int64)
    return TaskSource(root.name, images, labels, tuple(n for n, _ in kept), str(root))


def read_csv(csv_path: Path) -> TaskSource:
    """A manifest with a header ``path,label`` (paths relative to the CSV's folder, or absolute).

    Labels may be class names or integers; classes are ordered by name (numbers numerically). Other columns are
    ignored.
    """
    rows = _read_manifest(csv_path)
    base = csv_path.parent
    resolved = [(n, (base / p) if not Path(p).is_absolute() else Path(p), lab) for n, p, lab in rows]
    missing = [(n, p) for n, p, _ in resolved if not p.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(rows)} image paths in {csv_path} do not exist "
            f"({few([f'row {n}: {p}' for n, p in missing])}).",
            hint=f"paths are read relative to the CSV's folder {base}; fix or remove those rows",
        )
    label_names = tuple(sorted({lab for _, _, lab in resolved}, key=natural_key))
    index = {n: i for i, n in enumerate(label_names)}
    labels = np.asarray([index[lab] for _, _, lab in resolved], np.int64)
    return TaskSource(csv_path.stem, tuple(p for _, p, _ in resolved), labels, label_names, str(csv_path))


def label_indices(raw: np.ndarray, label_names: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer labels and label names from integer labels or class-name labels (for in-memory tasks)."""
    if raw.dtype.kind in "UO":
        values = [str(v) for v in raw]
        names = tuple(label_names) if label_names is not None else tuple(sorted(set(values), key=natural_key))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(values) - set(index))
        if unknown:
            raise InputError(f"`labels` of Task.from_arrays contain names not in `label_names`: {unknown[:SHOWN]}.")
        return np.asarray([index[v] for v in values], np.int64), names
    if label_names is not None:
        return raw, tuple(label_names)
    return raw, tuple(str(i) for i in range(int(raw.max()) + 1 if raw.size else 0))


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
            parts.append(f"{len(items)} {what} ({few([str(p.relative_to(root)) for p in items])})")
    if parts:
        # stacklevel 4: this helper, read_folder, the loader, then its caller (load_task's path has read_any too:
        # its warnings name the loader, as they named load_task before the split)
        warnings.warn(f"Ignored in {root}: {'; '.join(parts)}.", SkippedImagesWarning, stacklevel=4)


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
