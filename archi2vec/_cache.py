"""On-disk caches: graphs of named architectures, and embeddings keyed by graph hash.

Both live under :func:`archi2vec._config.cache_dir` (``ARCHI2VEC_CACHE``, default ``~/.cache/archi2vec``):

- ``graphs/g<GRAPH_FORMAT>/<source>-<library version>/<arch>.json``: a graph depends on the extraction rules and
  on the model code of the library version that built it, so both are in the path;
- ``embeddings/<encoder fingerprint>/<graph hash>.npy``: an embedding depends on the graph and the encoder weights.

Writes go to a temporary file renamed into place, so a killed run never leaves a half-written entry.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from archi2vec._config import cache_dir
from archi2vec._graph import GRAPH_FORMAT, ArchGraph
from archi2vec._names import import_timm, import_torchvision_models, resolve_name
from archi2vec._trace import graph_of

__all__ = ["cached_graph", "load_embedding", "store_embedding"]


def _library_version(source: str) -> str:
    if source == "timm":
        return import_timm().__version__
    import_torchvision_models()
    import torchvision

    return torchvision.__version__


def _graph_path(canonical: str) -> Path:
    source, arch = canonical.split(":", 1)
    folder = cache_dir("graphs") / f"g{GRAPH_FORMAT}" / f"{source}-{_library_version(source)}"
    return folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", arch) + ".json")


def cached_graph(name: str, *, fallback: bool = True, use_cache: bool = True) -> ArchGraph:
    """The graph of a named architecture, read from the on-disk cache or extracted and cached.

    Parameters
    ----------
    name : str
        Anything :func:`archi2vec.resolve_name` accepts.
    fallback : bool, default=True
        Passed to :func:`archi2vec.graph_of`. A cached fallback graph is returned only when ``fallback`` is True.
    use_cache : bool, default=True
        False always extracts (and still writes the cache).

    Returns
    -------
    ArchGraph
    """
    canonical = resolve_name(name)
    path = _graph_path(canonical)
    if use_cache and path.exists():
        graph = ArchGraph.load(path)
        if graph.traced or fallback:
            return graph
    graph = graph_of(canonical, fallback=fallback)
    _atomic_write(path, lambda handle: handle.write(_graph_json(graph)))
    return graph


def _graph_json(graph: ArchGraph) -> bytes:
    import json

    return json.dumps(graph.to_dict(), separators=(",", ":")).encode()


def _embedding_path(fingerprint: str, graph_hash: str) -> Path:
    return cache_dir("embeddings") / fingerprint / f"{graph_hash}.npy"


def load_embedding(fingerprint: str, graph_hash: str) -> np.ndarray | None:
    """The cached embedding of a graph under an encoder, or None."""
    path = _embedding_path(fingerprint, graph_hash)
    if not path.exists():
        return None
    return np.load(path, allow_pickle=False)


def store_embedding(fingerprint: str, graph_hash: str, vector: np.ndarray) -> None:
    """Cache the embedding of a graph under an encoder."""
    vector = np.asarray(vector, dtype=np.float32)
    _atomic_write(_embedding_path(fingerprint, graph_hash), lambda handle: np.save(handle, vector))


def _atomic_write(path: Path, write) -> None:  # noqa: ANN001 (a callable taking a binary file handle)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
