"""Private helpers of :class:`fennec.space.TransferSpace`: records and side features as arrays, and the listwise
mini-batches the space trains on."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import faiss
import numpy as np
import pandas as pd

from fennec.errors import HistoryFormatError, InputError

__all__ = ["coerce_records", "FeatureTable", "epoch_lists", "kernel_confidence", "nn_bandwidth", "as_revealed"]


def coerce_records(records: object, *, where: str = "TransferSpace.fit") -> pd.DataFrame:
    """``records`` as a DataFrame of ``model`` (str), ``task`` (str), ``value`` (float64), one row per pair.

    A :class:`fennec.history.TransferHistory` is read with ``records(aggregate="best")``.
    """
    if not isinstance(records, pd.DataFrame):
        try:  # imported lazily: the history store is optional for users who hand over a DataFrame
            from fennec.history import TransferHistory
        except ImportError:
            TransferHistory = None
        if TransferHistory is not None and isinstance(records, TransferHistory):
            records = records.records(aggregate="best")
        else:
            raise InputError(f"`records` of {where} must be a pandas DataFrame with columns model, task, value or a "
                             f"TransferHistory. Got {type(records).__name__} instead.")
    missing = [c for c in ("model", "task", "value") if c not in records.columns]
    if missing:
        raise HistoryFormatError(f"`records` of {where} must have columns model, task, value. "
                                 f"Missing {', '.join(missing)} (columns: {', '.join(map(str, records.columns))}).")
    if len(records) == 0:
        raise InputError(f"`records` of {where} must hold at least one record. Got an empty table instead.")
    if records["model"].isna().any() or records["task"].isna().any():
        row = int(np.flatnonzero(records["model"].isna().to_numpy() | records["task"].isna().to_numpy())[0])
        raise HistoryFormatError(f"`records` of {where} must name a model and a task on every row. "
                                 f"Row {row} lacks one.")
    values = pd.to_numeric(records["value"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise HistoryFormatError(f"`value` in the records of {where} must be a finite number. "
                                 f"Got {records['value'].iloc[row]!r} on row {row} ({bad.sum()} such rows).")
    frame = pd.DataFrame({"model": records["model"].astype(str).to_numpy(),
                          "task": records["task"].astype(str).to_numpy(), "value": values})
    dup = frame.duplicated(["model", "task"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise HistoryFormatError(
            f"`records` of {where} must hold one value per (model, task) pair. Row {row} repeats "
            f"({frame['model'].iloc[row]!r}, {frame['task'].iloc[row]!r}) ({int(dup.sum())} repeated rows).",
            hint="aggregate first, e.g. records.groupby(['model', 'task'], as_index=False)['value'].max()")
    return frame


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


def epoch_lists(task_idx: np.ndarray, rng: np.random.Generator, list_size: int) -> np.ndarray:
    """One epoch of listwise batches: each task's records, shuffled, dealt round-robin into lists of at most
    ``list_size`` records (so a task's lists have near-equal lengths), then the lists shuffled.

    Returns an int64 array of shape (n_lists, list_size) of record positions, padded with -1.
    """
    n = task_idx.shape[0]
    order = np.argsort(task_idx + rng.random(n))  # by task, in random order within each task
    sorted_tasks = task_idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_tasks[1:] != sorted_tasks[:-1]])
    counts = np.diff(np.r_[starts, n])
    run = np.repeat(np.arange(starts.size), counts)
    pos = np.arange(n) - starts[run]
    lists_per_task = -(-counts // list_size)
    offset = np.r_[0, np.cumsum(lists_per_task)[:-1]]
    list_id = offset[run] + pos % lists_per_task[run]
    slot = pos // lists_per_task[run]
    grid = np.full((int(lists_per_task.sum()), list_size), -1, np.int64)
    grid[list_id, slot] = order
    return grid[rng.permutation(grid.shape[0])]


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


def as_revealed(revealed: object, where: str) -> dict[str, float]:
    """A mapping model -> value (or a DataFrame with model, value columns) as a dict of finite floats."""
    if revealed is None:
        return {}
    if isinstance(revealed, pd.DataFrame):
        if not {"model", "value"} <= set(revealed.columns):
            raise InputError(f"`revealed` of {where} must have columns model and value. "
                             f"Got columns {', '.join(map(str, revealed.columns))} instead.")
        revealed = dict(zip(revealed["model"].astype(str), revealed["value"]))
    if not isinstance(revealed, Mapping):
        raise InputError(f"`revealed` of {where} must be a mapping model -> value or a DataFrame. "
                         f"Got {type(revealed).__name__} instead.")
    out = {}
    for model, value in revealed.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = float("nan")
        if not np.isfinite(value):
            raise InputError(f"`revealed` of {where} must map models to finite numbers. "
                             f"Got {revealed[model]!r} for {model!r} instead.")
        out[str(model)] = value
    return out
