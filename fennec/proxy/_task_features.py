"""What a proxy returns: a task's vector with named parts (:class:`TaskFeatures`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fennec.errors import InputError

__all__ = ["TaskFeatures", "concat_parts"]


@dataclass(frozen=True, eq=False)
class TaskFeatures:
    """A task's vector under one proxy, with named slices.

    Attributes
    ----------
    vector : ndarray of shape (d,)
        float32, read-only.
    parts : dict of str to (int, int)
        ``name -> (start, end)``: ``vector[start:end]`` is that part.
    proxy : str
        Name of the proxy that made it.
    n_images : int
        Images embedded (0 for text-only proxies).
    n_classes : int
        Classes seen (with at least one image, for image proxies).
    """

    vector: np.ndarray
    parts: Mapping[str, tuple[int, int]]
    proxy: str
    n_images: int
    n_classes: int

    def __post_init__(self) -> None:
        vector = np.array(self.vector, dtype=np.float32).reshape(-1)
        vector.setflags(write=False)
        parts = {str(k): (int(a), int(b)) for k, (a, b) in dict(self.parts).items()}
        for name, (start, end) in parts.items():
            if not 0 <= start <= end <= len(vector):
                raise InputError(f"Part {name!r} of TaskFeatures must lie within [0, {len(vector)}]. "
                                 f"Got ({start}, {end}) instead.")
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "parts", parts)

    @property
    def dim(self) -> int:
        """Length of the vector."""
        return int(self.vector.shape[0])

    def part(self, name: str) -> np.ndarray:
        """The slice of the vector called ``name``."""
        if name not in self.parts:
            raise InputError(f"TaskFeatures of proxy {self.proxy!r} has no part {name!r}.",
                             hint=f"parts: {', '.join(self.parts)}")
        start, end = self.parts[name]
        return self.vector[start:end]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"proxy", "vector", "parts", "n_images", "n_classes"}``."""
        return {"proxy": self.proxy, "vector": [float(v) for v in self.vector],
                "parts": {k: [a, b] for k, (a, b) in self.parts.items()},
                "n_images": self.n_images, "n_classes": self.n_classes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TaskFeatures":
        """Inverse of :meth:`to_dict`."""
        return cls(np.asarray(data["vector"], np.float32), {k: tuple(v) for k, v in data["parts"].items()},
                   str(data["proxy"]), int(data["n_images"]), int(data["n_classes"]))


def concat_parts(named: Sequence[tuple[str, np.ndarray]]) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """Concatenate ``(name, 1-D array)`` pairs into one float32 vector and its ``parts`` map."""
    parts, start = {}, 0
    for name, values in named:
        parts[name] = (start, start + len(values))
        start += len(values)
    vector = np.concatenate([np.asarray(v, np.float32).reshape(-1) for _, v in named]) if named else np.zeros(0)
    return vector.astype(np.float32), parts
