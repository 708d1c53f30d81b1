"""A faiss inner-product index over model vectors, with the model bias folded in.

The transfer space scores a model for a task as ``b_m + <u_m, v_t>``. The index stores ``[u_m, b_m]`` and searches
with ``[v_t, 1]``, so one inner product gives the full score and the top-k models of a task come out of one faiss
search. Small zoos use an exact ``IndexFlatIP``; large ones an ``HNSW`` graph (approximate, sub-millisecond).
Adding models appends to the index; nothing is rebuilt.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from fennec.errors import InputError

__all__ = ["ModelIndex", "auto_factory"]

#: Below this many models the index is exact (``Flat``); at or above it, ``HNSW32``.
EXACT_LIMIT = 10_000
_FORMAT = 1


def auto_factory(n_models: int) -> str:
    """The faiss factory string the index uses for a zoo of ``n_models`` models.

    Parameters
    ----------
    n_models : int
        Expected number of models.

    Returns
    -------
    str
        ``"Flat"`` (exact) below :data:`EXACT_LIMIT` models, ``"HNSW32"`` (approximate) from there on.

    Examples
    --------
    >>> auto_factory(500), auto_factory(100_000)
    ('Flat', 'HNSW32')
    """
    return "Flat" if n_models < EXACT_LIMIT else "HNSW32"


class ModelIndex:
    """Top-k search of models by ``b_m + <u_m, v_t>`` over a faiss inner-product index.

    Parameters
    ----------
    d : int
        Dimension of the model and task vectors (without the bias).
    factory : str, default="Flat"
        A faiss ``index_factory`` string for the underlying index (built over ``d + 1`` dimensions with the inner
        product metric): ``"Flat"`` is exact, ``"HNSW32"`` is a graph index for large zoos (see
        :func:`auto_factory`). Factories that need training (``IVF``, ``PQ``) are refused: models arrive one by one.
    ef_search : int, default=128
        Search depth of an HNSW index (higher: slower, closer to exact); ignored by other indexes.

    Attributes
    ----------
    ids : list of str
        Model ids in insertion order (faiss label ``i`` is ``ids[i]``).

    Examples
    --------
    >>> import numpy as np
    >>> index = ModelIndex(2)
    >>> index.add(["a", "b", "c"], np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), bias=[0.0, 0.0, -0.5])
    >>> scores, ids = index.search(np.array([1.0, 0.2]), k=2)
    >>> list(ids), [round(float(s), 2) for s in scores]
    (['a', 'c'], [1.0, 0.7])
    """

    def __init__(self, d: int, factory: str = "Flat", *, ef_search: int = 128) -> None:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1:
            raise InputError(f"`d` of ModelIndex must be a positive integer. Got {d!r} instead.")
        self.d = int(d)
        self.factory = factory
        self.ef_search = int(ef_search)
        self.ids: list[str] = []
        self._positions: dict[str, int] = {}
        self._names: np.ndarray | None = None  # ids as an object array plus a trailing None (for label -1)
        self._index = self._build(factory)

    def _build(self, factory: str) -> faiss.Index:
        try:
            index = faiss.index_factory(self.d + 1, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as err:
            raise InputError(f"`factory` of ModelIndex must be a faiss index_factory string. Got {factory!r} "
                             f"instead ({str(err).splitlines()[-1]}).", hint="use 'Flat' or 'HNSW32'") from None
        if not index.is_trained:
            raise InputError(f"`factory` of ModelIndex must not need training. Got {factory!r} instead.",
                             hint="use 'Flat' (exact) or 'HNSW32' (approximate)")
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = self.ef_search
        return index

    @property
    def ntotal(self) -> int:
        """Number of models in the index."""
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    def __repr__(self) -> str:
        return f"ModelIndex(d={self.d}, factory={self.factory!r}, ntotal={self.ntotal})"

    def add(self, ids: Sequence[str], vectors: np.ndarray, bias: Sequence[float] | np.ndarray | None = None) -> None:
        """Append models to the index (the existing ones are left as they are).

        Parameters
        ----------
        ids : sequence of str
            Model ids, new to the index and distinct.
        vectors : array-like of shape (n, d)
            Model vectors ``u_m``.
        bias : array-like of shape (n,), optional
            Model biases ``b_m`` (zero when omitted).
        """
        ids = [str(i) for i in ids]
        vectors = self._as_matrix(vectors, "vectors")
        if len(ids) != vectors.shape[0]:
            raise InputError(f"`ids` and `vectors` of ModelIndex.add must have the same length. Got {len(ids)} ids "
                             f"and {vectors.shape[0]} vectors instead.")
        bias = np.zeros(len(ids), np.float32) if bias is None else np.asarray(bias, np.float32).reshape(-1)
        if bias.shape[0] != len(ids):
            raise InputError(f"`bias` of ModelIndex.add must have one value per id ({len(ids)}). "
                             f"Got {bias.shape[0]} instead.")
        if not np.isfinite(vectors).all() or not np.isfinite(bias).all():
            raise InputError("`vectors` and `bias` of ModelIndex.add must be finite. Got NaN or inf instead.")
        seen = set(self._positions)
        for model in ids:
            if model in seen:
                raise InputError(f"`ids` of ModelIndex.add must be new to the index. Got {model!r} twice.",
                                 hint="build a new index (or reset this one) to change a model's vector")
            seen.add(model)
        start = len(self.ids)
        self._index.add(np.ascontiguousarray(np.hstack([vectors, bias[:, None]]), dtype=np.float32))
        self.ids.extend(ids)
        self._positions.update({model: start + i for i, model in enumerate(ids)})
        self._names = None

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` models with the highest ``b_m + <u_m, v>`` for each query vector ``v``.

        Parameters
        ----------
        queries : array-like of shape (n_queries, d) or (d,)
            Task vectors ``v_t``.
        k : int, default=10
            Number of models per query (at most :attr:`ntotal`; larger values are clipped).

        Returns
        -------
        scores : ndarray of shape (n_queries, k) or (k,)
            Scores, best first.
        ids : ndarray of shape (n_queries, k) or (k,)
            Model ids (object array of str), aligned with ``scores``. A 1-D query gives 1-D results. An
            approximate index may return fewer than ``k`` hits; the rest is padded with ``None`` and ``-inf``.
        """
        single = np.ndim(queries) == 1
        queries = self._as_matrix(np.atleast_2d(queries), "queries")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise InputError(f"`k` of ModelIndex.search must be a positive integer. Got {k!r} instead.")
        if self.ntotal == 0:
            raise InputError("ModelIndex.search needs a non-empty index. Got an index with 0 models.",
                             hint="call ModelIndex.add first")
        k = min(int(k), self.ntotal)
        augmented = np.hstack([queries, np.ones((queries.shape[0], 1), np.float32)])
        scores, labels = self._index.search(np.ascontiguousarray(augmented), k)
        if self._names is None:  # cached: building it costs more than a search on a large zoo
            self._names = np.asarray(self.ids + [None], dtype=object)
        ids = self._names[np.where(labels < 0, len(self.ids), labels)]  # label -1 (no hit) -> None
        scores = np.where(labels < 0, -np.inf, scores).astype(np.float32)
        return (scores[0], ids[0]) if single else (scores, ids)

    def reset(self) -> None:
        """Remove every model (the dimension and factory stay)."""
        self._index = self._build(self.factory)
        self.ids = []
        self._positions = {}
        self._names = None

    def write(self, path: str | Path) -> None:
        """Write the index to a directory: ``index.faiss`` (faiss's own format) and ``index.json`` (ids, config).

        Parameters
        ----------
        path : str or Path
            Directory (created if missing).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(path / "index.faiss"))
        meta = {"format": _FORMAT, "d": self.d, "factory": self.factory, "ef_search": self.ef_search,
                "ids": self.ids}
        (path / "index.json").write_text(json.dumps(meta))

    @classmethod
    def read(cls, path: str | Path) -> "ModelIndex":
        """Read an index written by :meth:`write`.

        Parameters
        ----------
        path : str or Path
            Directory holding ``index.faiss`` and ``index.json``.

        Returns
        -------
        ModelIndex
        """
        path = Path(path)
        if not (path / "index.json").is_file() or not (path / "index.faiss").is_file():
            raise InputError(f"`path` of ModelIndex.read must be a directory written by ModelIndex.write. "
                             f"Got {str(path)!r}, which lacks index.json or index.faiss.")
        meta = json.loads((path / "index.json").read_text())
        index = cls(meta["d"], meta["factory"], ef_search=meta["ef_search"])
        index._index = faiss.read_index(str(path / "index.faiss"))
        if index._index.d != index.d + 1 or index._index.ntotal != len(meta["ids"]):
            raise InputError(f"index.faiss in {str(path)!r} does not match index.json: dimension "
                             f"{index._index.d} vs {index.d + 1}, {index._index.ntotal} vs {len(meta['ids'])} models.")
        if hasattr(index._index, "hnsw"):
            index._index.hnsw.efSearch = index.ef_search
        index.ids = list(meta["ids"])
        index._positions = {model: i for i, model in enumerate(index.ids)}
        return index

    def _as_matrix(self, array: np.ndarray, name: str) -> np.ndarray:
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2:
            raise InputError(f"`{name}` of ModelIndex must be a 2-D array of shape (n, {self.d}). "
                             f"Got an array with {array.ndim} dimensions instead.")
        if array.shape[1] != self.d:
            raise InputError(f"`{name}` of ModelIndex must have dimension {self.d} (the index's d). "
                             f"Got dimension {array.shape[1]} instead.")
        return array
