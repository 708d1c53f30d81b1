r"""How well the space knows a row: evidence from results, and nearness of side features to the training rows.

A score's confidence is the product of a task part and a model part, each

.. math::

    c = 1 - (1 - k)\,\left(1 - \frac{n}{n + 5}\right)

with ``n`` the row's results (a task's revealed results, a model's training records) and ``k`` what its side
features say: for a task, the weight the cold-start kernel gives them against the prior (0 without features or when
calibration found them useless); for a model, ``k = 2^{-(d / h)^2}`` with ``d`` the distance of its side features to
the nearest training model and ``h`` the median such distance between training models (1 on a training model, 0.5
at the usual spacing, near 0 far away). 0 means the score is the prior (popularity for a task, the mean model for a
model); 1, that the row is as well known as a training row with many results.
"""
from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from fennec.space._features import FeatureTable

__all__ = ["confidence", "ModelKernel", "nn_bandwidth", "kernel_confidence"]

#: Results that give a row half confidence from history alone.
HALF_EVIDENCE = 5.0
#: Rows used to estimate a side-feature bandwidth (the median nearest-neighbour distance) on large zoos.
_BANDWIDTH_SAMPLE = 2000


def confidence(kernel: np.ndarray, n_results: np.ndarray) -> np.ndarray:
    """``1 - (1 - kernel) (1 - n / (n + 5))``: the side features' say and the evidence of ``n`` results."""
    return 1.0 - (1.0 - kernel) * (1.0 - n_results / (n_results + HALF_EVIDENCE))


@dataclass
class ModelKernel:
    """The model part's side-feature state: a sample of the training models (all up to 2,000), their bandwidth,
    and every model's kernel similarity to the sample."""

    points: np.ndarray
    bandwidth: float
    kernel: np.ndarray

    @classmethod
    def fit(cls, table: FeatureTable, counts: np.ndarray) -> "ModelKernel":
        """From the models' side features and their record counts (models with records and features are sampled)."""
        sample = np.flatnonzero(table.has & (counts > 0))
        if sample.size > _BANDWIDTH_SAMPLE:
            sample = np.sort(np.random.default_rng(0).choice(sample, _BANDWIDTH_SAMPLE, replace=False))
        points = table.matrix[sample]
        state = cls(points, nn_bandwidth(points), np.zeros(0))
        state.extend(table)
        return state

    def extend(self, table: FeatureTable) -> None:
        """Kernel similarity of the rows of ``table`` added since the last call (a cold model's confidence)."""
        start = len(self.kernel)
        kernel = np.zeros(len(table.has) - start)
        has = table.has[start:]
        kernel[has] = kernel_confidence(table.matrix[start:][has], self.points, self.bandwidth)
        self.kernel = np.concatenate([self.kernel, kernel])


def nn_bandwidth(points: np.ndarray) -> float:
    """Median distance of each point to its nearest other point (per sqrt of dimension): the typical spacing of
    the training rows in side-feature space. 1.0 when there are fewer than two points."""
    if points.shape[0] < 2:
        return 1.0
    dist = _nearest(points, points, k=2)[:, 1]
    width = float(np.median(dist))
    return width if width > 1e-6 else 1.0


def kernel_confidence(queries: np.ndarray, points: np.ndarray, bandwidth: float) -> np.ndarray:
    """``2 ** -(d / h) ** 2`` with ``d`` the distance of each query to its nearest point and ``h`` the bandwidth:
    1 on a training row, 0.5 at the typical spacing of the training rows, towards 0 far from all of them."""
    if points.shape[0] == 0 or queries.shape[0] == 0:
        return np.zeros(queries.shape[0], np.float64)
    nearest = _nearest(queries, points, k=1)[:, 0]
    return np.exp2(-(nearest / bandwidth) ** 2)


def _nearest(queries: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    """Distances (per sqrt of dimension) of each query to its ``k`` nearest points (exact faiss L2 search)."""
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(np.ascontiguousarray(points, dtype=np.float32))
    sq, _ = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.sqrt(np.maximum(sq.astype(np.float64), 0.0) / max(points.shape[1], 1))


