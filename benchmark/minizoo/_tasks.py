"""The mini-zoo's image classification tasks: what each predicts, where its images come from, how it is split.

A task is a :class:`TaskSpec`: label names, a function that lists the renderable *items* of each class (a glyph in
one font, an emoji, an icon file, a band of a photo, a digit scan), how items are divided between the splits
(``split``), and the sizes of the fixed train / val / test splits. :func:`build_task` renders the splits from a seed;
items never cross splits, so a test image is always of an unseen font, emoji, icon, image region or scan.

Four *source* tasks pre-train the zoo; the *target* tasks receive the fine-tuning records.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from fennec.errors import UnknownNameError

from ._catalogue import all_specs
from ._spec import Item, TaskSpec

__all__ = ["TaskSpec", "BuiltTask", "TASKS", "SOURCE_TASKS", "TARGET_TASKS", "get_task", "build_task", "task_seed"]

FRACTIONS = (0.6, 0.15, 0.25)  # share of each class's items (or of all groups) in train, val, test
SEED = 20240611


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in all_specs()}
SOURCE_TASKS = tuple(name for name, spec in TASKS.items() if spec.is_source)
TARGET_TASKS = tuple(name for name, spec in TASKS.items() if not spec.is_source)


def get_task(name: str) -> TaskSpec:
    """The spec of task ``name`` (raises :class:`~fennec.errors.UnknownNameError` listing the known tasks)."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownNameError.of("minizoo task", name, TASKS) from None


def task_seed(name: str, seed: int = SEED) -> list[int]:
    """The seed sequence of a task (stable across Python runs: a CRC of the name, not ``hash``)."""
    return [seed, zlib.crc32(name.encode())]


# ---------------------------------------------------------------------------------------------------- building ---
@dataclass
class BuiltTask:
    """The rendered splits of one task: ``arrays["x_train"]`` of shape (n, 32, 32, 3) uint8, ``arrays["y_train"]``
    int64 class indices into ``labels``, and so on for ``val`` and ``test`` (absent when a split is empty)."""

    spec: TaskSpec
    labels: tuple[str, ...]
    arrays: dict[str, np.ndarray]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays[f"x_{name}"], self.arrays[f"y_{name}"]


def _cut(keys: list[str], rng: np.random.Generator, fractions: tuple[float, ...]) -> list[list[str]]:
    """Shuffle ``keys`` and cut them by ``fractions``, giving every split with a positive share at least one key."""
    keys = [keys[i] for i in rng.permutation(len(keys))]
    active = [i for i, f in enumerate(fractions) if f > 0]
    if len(keys) < len(active):
        raise ValueError(f"{len(keys)} item groups cannot fill {len(active)} splits")
    counts = [int(round(f * len(keys))) if f > 0 else 0 for f in fractions]
    for i in active:  # every active split gets at least one group; the largest gives them up
        if counts[i] == 0:
            counts[i] = 1
            counts[int(np.argmax(counts))] -= 1
    counts[active[0]] += len(keys) - sum(counts)
    bounds = np.cumsum([0, *counts])
    return [keys[bounds[i]:bounds[i + 1]] for i in range(len(fractions))]


def _split_items(items: dict[str, list[Item]], labels: tuple[str, ...], mode: str, rng: np.random.Generator,
                 fractions: tuple[float, ...]) -> list[dict[str, list[Item]]]:
    """Items of each split by label; all items sharing a group key land in the same split."""
    if mode == "global":
        groups = sorted({g for label in labels for g, _ in items[label]})
        assignment = {g: s for s, part in enumerate(_cut(groups, rng, fractions)) for g in part}
        splits: list[dict[str, list[Item]]] = [{label: [] for label in labels} for _ in fractions]
        for label in labels:
            for item in items[label]:
                splits[assignment[item[0]]][label].append(item)
        return splits
    splits = [{} for _ in fractions]
    for label in labels:
        groups = sorted({g for g, _ in items[label]})
        for s, part in enumerate(_cut(groups, rng, fractions)):
            keep = set(part)
            splits[s][label] = [item for item in items[label] if item[0] in keep]
    return splits


def _sample(items: dict[str, list[Item]], labels: tuple[str, ...], n: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images balanced over classes; a class's items are used in shuffled passes, each drawn once per pass."""
    xs, ys = [], []
    for c, label in enumerate(labels):
        pool = items[label]
        n_c = n // len(labels) + (1 if c < n % len(labels) else 0)
        order: list[int] = []
        while len(order) < n_c:
            order.extend(rng.permutation(len(pool)).tolist())
        for i in order[:n_c]:
            xs.append(pool[i][1](rng))
            ys.append(c)
    return np.stack(xs).astype(np.uint8), np.asarray(ys, dtype=np.int64)


def build_task(spec: TaskSpec, seed: int = SEED) -> BuiltTask:
    """Render the fixed train / val / test splits of ``spec`` (the same arrays for the same seed).

    Raises
    ------
    fennec.errors.DataNotFoundError
        A Debian package the task needs is not installed.
    """
    rng = np.random.default_rng(task_seed(spec.name, seed))
    items = spec.items()
    labels = spec.labels or tuple(sorted(label for label, pool in items.items() if pool))
    empty = [label for label in labels if not items.get(label)]
    if empty:
        raise ValueError(f"task {spec.name!r} has no images for classes {empty}")
    fractions = FRACTIONS if spec.sizes[2] > 0 else (0.85, 0.15, 0.0)
    splits = _split_items(items, labels, spec.split, rng, fractions)
    arrays: dict[str, np.ndarray] = {}
    for split, part, n in zip(("train", "val", "test"), splits, spec.sizes):
        if n > 0:
            arrays[f"x_{split}"], arrays[f"y_{split}"] = _sample(part, labels, n, rng)
    return BuiltTask(spec, labels, arrays)
