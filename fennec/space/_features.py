"""Side features of the space's models and tasks, standardised with the statistics of the fit."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fennec.errors import InputError

__all__ = ["FeatureTable"]


def _check_mapping(features: object, name: str, where: str) -> Mapping:
    if features is None:
        return {}
    if not isinstance(features, Mapping):
        raise InputError(f"`{name}` of {where} must be a mapping from id to a 1-D vector. "
                         f"Got {type(features).__name__} instead.")
    return features


@dataclass
class FeatureTable:
    """Side features of the rows of the space, standardised with the statistics of the fit.

    ``matrix[i]`` is row i's standardised vector (zeros where ``has[i]`` is False); ``dim`` is 0 when the space was
    fitted without this kind of side feature.
    """

    dim: int
    mean: np.ndarray
    scale: np.ndarray
    matrix: np.ndarray
    has: np.ndarray

    @classmethod
    def fit(cls, ids: list[str], features: object, name: str, where: str) -> "FeatureTable":
        features = _check_mapping(features, name, where)
        dim = 0
        for key in ids:
            if key in features:
                dim = int(np.size(features[key]))
                break
        table = cls(dim, np.zeros(dim, np.float32), np.ones(dim, np.float32), np.zeros((0, dim), np.float32),
                    np.zeros(0, bool))
        raw, has = table._raw(ids, features, name, where)
        if has.any():
            table.mean = raw[has].mean(0).astype(np.float32)
            scale = raw[has].std(0).astype(np.float32)
            table.scale = np.where(scale > 1e-8, scale, 1.0).astype(np.float32)
        table.matrix, table.has = table._standardise(raw, has), has
        return table

    def rows(self, ids: list[str], features: object, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
        """Standardised features of ``ids`` (zeros where missing) and which ids have them."""
        raw, has = self._raw(ids, _check_mapping(features, name, where), name, where)
        return self._standardise(raw, has), has

    def vectors(self, array: np.ndarray, name: str, where: str) -> np.ndarray:
        """A (n, dim) or (dim,) array of raw feature vectors, standardised (always 2-D)."""
        array = np.asarray(array, dtype=np.float64)
        if array.ndim == 1:
            array = array[None]
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise InputError(f"`{name}` of {where} must have dimension {self.dim} (the dimension seen at fit). "
                             f"Got shape {np.shape(array)} instead.")
        if not np.isfinite(array).all():
            raise InputError(f"`{name}` of {where} must be finite. Got NaN or inf instead.")
        return self._standardise(array, np.ones(len(array), bool))

    def append(self, matrix: np.ndarray, has: np.ndarray) -> None:
        self.matrix = np.vstack([self.matrix, matrix]).astype(np.float32)
        self.has = np.concatenate([self.has, has])

    def _raw(self, ids: list[str], features: Mapping, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
        raw = np.zeros((len(ids), self.dim), np.float64)
        has = np.zeros(len(ids), bool)
        for i, key in enumerate(ids):
            if key not in features or features[key] is None:
                continue
            vec = np.asarray(features[key], dtype=np.float64)
            if vec.ndim != 1 or vec.shape[0] != self.dim:
                raise InputError(f"`{name}` of {where} must map every id to a 1-D vector of dimension {self.dim}. "
                                 f"Got shape {vec.shape} for {key!r} instead.")
            if not np.isfinite(vec).all():
                raise InputError(f"`{name}` of {where} must be finite. Got NaN or inf for {key!r} instead.")
            raw[i], has[i] = vec, True
        return raw, has

    def _standardise(self, raw: np.ndarray, has: np.ndarray) -> np.ndarray:
        out = ((raw - self.mean) / self.scale).astype(np.float32)
        out[~has] = 0.0
        return out
