"""What a mini-zoo task is: :class:`TaskSpec` (its labels, its items, how it is split) and the item types."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Item", "Render", "TaskSpec"]

Render = Callable[[np.random.Generator], np.ndarray]
Item = tuple[str, Render]  # (group key: items with one key never cross splits, renderer)


@dataclass(frozen=True)
class TaskSpec:
    """One task of the mini-zoo.

    Parameters
    ----------
    name : str
        Task id (``src_*`` for the pre-training sources).
    domain : str
        Visual domain: ``glyphs``, ``handwriting``, ``emoji``, ``icons`` or ``photos``.
    description : str
        What is predicted.
    labels : tuple of str
        Class names; class ``i`` of the arrays is ``labels[i]`` (also the folder names of the exported images).
    items : callable
        ``items() -> {label: [(group, render), ...]}``.
    sizes : tuple of int
        Images in train, val and test (split evenly over classes).
    split : str
        ``"class"``: each class's items are divided in :data:`FRACTIONS`; ``"global"``: the distinct group keys
        (fonts, scans) are divided once, across classes.
    provenance, licence : str
        Where the images come from and under which terms.
    packages : tuple of str
        Debian packages the images need (empty: everything ships in Python packages).
    """

    name: str
    domain: str
    description: str
    labels: tuple[str, ...]
    items: Callable[[], dict[str, list[Item]]] = field(repr=False)
    sizes: tuple[int, int, int] = (240, 120, 240)
    split: str = "class"
    provenance: str = ""
    licence: str = ""
    packages: tuple[str, ...] = ()

    @property
    def is_source(self) -> bool:
        return self.name.startswith("src_")

    def card_fields(self) -> dict[str, Any]:
        """The spec's JSON-serialisable description (what the manifest and task cards record)."""
        return {"name": self.name, "domain": self.domain, "description": self.description,
                "labels": list(self.labels), "sizes": list(self.sizes), "split": self.split,
                "provenance": self.provenance, "licence": self.licence, "packages": list(self.packages),
                "role": "source" if self.is_source else "target"}
