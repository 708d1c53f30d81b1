"""Where the mini-zoo keeps things: rendered tasks in a cache, committed artefacts in the package's ``data/``.

Cache (rebuilt by ``python -m benchmark.minizoo build``; default ``fennec.config.cache_dir("minizoo")``)::

    tasks/<task>.npz                      the fixed splits as uint8 arrays (no pickle)
    images/<task>/<split>/<class>/*.png   the same images as files, for the proxy and for users

Committed artefacts (``benchmark/minizoo/data/``, written by ``generate``)::

    manifest.json                         seeds, recipe, protocol, task specs, zoo definitions
    models.json                           one card per zoo model (source accuracy, size, timing)
    weights/<model>.safetensors           float16 pre-trained weights
    runs.csv                              every fine-tuning run (one row per learning rate)
    records.csv                           the transfer records: one row per (model, task), best lr on val
    tasks.json                            target task cards with the default proxy's embedding and LogME/SFDA
    sources.json                          each source task's label names and the default proxy's embedding of its
                                          training images
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fennec.config import cache_dir
from fennec.files import write_atomic
from fennec.errors import DataNotFoundError

from ._tasks import BuiltTask, TaskSpec, build_task

__all__ = ["DATA_DIR", "default_cache", "task_path", "save_task", "load_built", "export_images", "image_dir",
           "write_json", "read_json"]

DATA_DIR = Path(__file__).resolve().parent / "data"


def default_cache() -> Path:
    """The mini-zoo's cache directory (``<FENNEC_HOME>/cache/minizoo``)."""
    return cache_dir("minizoo")


def task_path(cache: Path, name: str) -> Path:
    return Path(cache) / "tasks" / f"{name}.npz"


def image_dir(cache: Path, name: str, split: str = "train") -> Path:
    """Folder ``<class>/*.png`` of one split of an exported task."""
    return Path(cache) / "images" / name / split


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (readers see the old or the new file, never half of one)."""
    write_atomic(path, (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode())


def read_json(path: Path, default: Any = None) -> Any:
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def save_task(cache: Path, built: BuiltTask) -> Path:
    """Save the splits of ``built`` as a compressed ``.npz`` (labels as a JSON string, nothing pickled)."""
    path = task_path(cache, built.spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    np.savez_compressed(tmp, labels=np.array(json.dumps(list(built.labels))), **built.arrays)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def load_built(cache: Path, spec: TaskSpec, *, build: bool = True) -> BuiltTask:
    """The rendered splits of ``spec`` from the cache, rendering and saving them first when absent and ``build``."""
    path = task_path(cache, spec.name)
    if not path.exists():
        if not build:
            raise DataNotFoundError(f"Task {spec.name!r} of the mini-zoo is not built (no {path}).",
                                    hint="run: python -m benchmark.minizoo build")
        built = build_task(spec)
        save_task(cache, built)
        return built
    with np.load(path, allow_pickle=False) as data:
        labels = tuple(json.loads(str(data["labels"])))
        arrays = {k: data[k] for k in data.files if k != "labels"}
    return BuiltTask(spec, labels, arrays)


def export_images(cache: Path, built: BuiltTask) -> dict[str, Path]:
    """Write every split of ``built`` as ``images/<task>/<split>/<class>/<index>.png`` (skipped when complete)."""
    folders = {}
    for split in ("train", "val", "test"):
        if f"x_{split}" not in built.arrays:
            continue
        x, y = built.split(split)
        root = image_dir(cache, built.spec.name, split)
        folders[split] = root
        marker = root.parent / f".{split}.complete"  # beside the class folders, so task loaders never see it
        if marker.exists():
            continue
        for c, label in enumerate(built.labels):
            (root / label).mkdir(parents=True, exist_ok=True)
        for i, (image, c) in enumerate(zip(x, y)):
            Image.fromarray(image).save(root / built.labels[c] / f"{i:04d}.png", optimize=False)
        marker.write_text(f"{len(x)}\n")
    return folders
