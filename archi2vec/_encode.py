"""``encode`` and ``nearest``: architecture vectors from the default (shipped) encoder, with an on-disk cache."""
from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from archi2vec._cache import cached_graph, load_embedding, store_embedding
from archi2vec._config import package_data_dir
from archi2vec._encoder import Encoder
from archi2vec._errors import ArtifactError
from archi2vec._graph import ArchGraph
from archi2vec._trace import graph_of
from archi2vec._train import CORPUS_INDEX, CORPUS_WEIGHTS

__all__ = ["Corpus", "default_encoder", "load_corpus", "encode", "nearest"]

Item = str | nn.Module | ArchGraph


@functools.lru_cache(maxsize=4)
def _load_encoder(directory: str) -> Encoder:
    return Encoder.load(directory)


def default_encoder() -> Encoder:
    """The trained encoder shipped in the package (``archi2vec/_data``), loaded once per process."""
    return _load_encoder(str(package_data_dir()))


@dataclass(frozen=True)
class Corpus:
    """Embeddings of the known architectures (the training corpus and the held-out set), for nearest neighbours.

    Attributes
    ----------
    names : list of str
        ``timm:<arch>`` names.
    families : list of str
        Family of each (:func:`archi2vec.family_of`).
    held_out : ndarray of bool
        Whether each was held out of training.
    vectors : ndarray of shape (n, d)
        Their embeddings under the encoder with fingerprint ``encoder_fingerprint``.
    encoder_fingerprint : str
    """

    names: list[str]
    families: list[str]
    held_out: np.ndarray
    vectors: np.ndarray
    encoder_fingerprint: str


@functools.lru_cache(maxsize=4)
def load_corpus(directory: str | None = None) -> Corpus:
    """The corpus embeddings written by ``python -m archi2vec train`` (default: those shipped in the package)."""
    from safetensors.numpy import load_file

    path = Path(directory) if directory else package_data_dir()
    if not (path / CORPUS_WEIGHTS).exists() or not (path / CORPUS_INDEX).exists():
        raise ArtifactError(
            f"No corpus embeddings in {path} (expected {CORPUS_WEIGHTS} and {CORPUS_INDEX}).",
            hint="train with `python -m archi2vec train`",
        )
    index = json.loads((path / CORPUS_INDEX).read_text())
    return Corpus(
        names=index["names"],
        families=index["families"],
        held_out=np.asarray(index["held_out"], dtype=bool),
        vectors=load_file(str(path / CORPUS_WEIGHTS))["vectors"],
        encoder_fingerprint=index["encoder_fingerprint"],
    )


def _graph(item: Item, fallback: bool, use_cache: bool) -> ArchGraph:
    if isinstance(item, ArchGraph):
        return item
    if isinstance(item, str):
        return cached_graph(item, fallback=fallback, use_cache=use_cache)
    if isinstance(item, nn.Module):
        return graph_of(item, fallback=fallback)
    raise TypeError(
        "`names_or_modules` of encode must hold architecture names, nn.Modules or ArchGraphs. "
        f"Got {type(item).__name__} instead."
    )


def encode(
    names_or_modules: Item | Sequence[Item],
    *,
    encoder: Encoder | None = None,
    fallback: bool = True,
    use_cache: bool = True,
) -> np.ndarray:
    """Architecture vectors.

    Parameters
    ----------
    names_or_modules : str, nn.Module, ArchGraph or a sequence of them
        Architecture names (``timm:<arch>``, ``torchvision:<arch>``, a bare timm name, a Hugging Face id of a
        standard checkpoint), modules, or graphs from :func:`archi2vec.graph_of`.
    encoder : Encoder, optional
        Default: the trained encoder shipped with the package.
    fallback : bool, default=True
        Use the module-hierarchy graph of modules that cannot be traced (see :func:`archi2vec.graph_of`).
    use_cache : bool, default=True
        Read and write the on-disk caches (graphs by name, vectors by graph hash and encoder fingerprint).

    Returns
    -------
    ndarray of shape (n, d)
        One row per input, float32.

    Examples
    --------
    >>> import archi2vec
    >>> archi2vec.encode(["timm:resnet50", "timm:vit_small_patch16_224"]).shape
    (2, 64)
    """
    items = [names_or_modules] if isinstance(names_or_modules, (str, nn.Module, ArchGraph)) else names_or_modules
    graphs = [_graph(item, fallback, use_cache) for item in items]
    encoder = encoder or default_encoder()
    fingerprint = encoder.fingerprint()
    vectors: list[np.ndarray | None] = [
        load_embedding(fingerprint, g.hash()) if use_cache else None for g in graphs
    ]
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing:
        computed = encoder.embed([graphs[i] for i in missing])
        for i, vector in zip(missing, computed):
            vectors[i] = vector
            if use_cache:
                store_embedding(fingerprint, graphs[i].hash(), vector)
    return np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, encoder.out_dim), np.float32)


def nearest(
    names_or_modules: Item | Sequence[Item],
    k: int = 5,
    *,
    fallback: bool = True,
) -> list[list[tuple[str, float]]]:
    """The known architectures (shipped corpus) closest to each input by cosine similarity.

    Parameters
    ----------
    names_or_modules : str, nn.Module, ArchGraph or a sequence of them
        As for :func:`encode`.
    k : int, default=5
        Neighbours per input. An input that is itself in the corpus is not its own neighbour.
    fallback : bool, default=True
        As for :func:`encode`.

    Returns
    -------
    list of list of (str, float)
        Per input, ``(timm:<arch>, cosine similarity)`` from the most similar down.

    Examples
    --------
    >>> [name for name, _ in nearest("timm:resnet50", k=3)[0]]  # doctest: +SKIP
    ['timm:resnet50d', 'timm:resnet50c', 'timm:resnet101']
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"`k` of nearest must be a positive int. Got {k!r} instead.")
    items = [names_or_modules] if isinstance(names_or_modules, (str, nn.Module, ArchGraph)) else names_or_modules
    corpus = load_corpus()
    encoder = default_encoder()
    if corpus.encoder_fingerprint != encoder.fingerprint():
        warnings.warn("the shipped corpus embeddings were made by another encoder; retrain", stacklevel=2)
    queries = encode(items, encoder=encoder, fallback=fallback)
    unit = corpus.vectors / np.maximum(np.linalg.norm(corpus.vectors, axis=1, keepdims=True), 1e-12)
    results = []
    for item, query in zip(items, queries):
        sims = unit @ (query / max(float(np.linalg.norm(query)), 1e-12))
        self_name = _canonical_or_none(item)
        order = [j for j in np.argsort(-sims) if corpus.names[j] != self_name][:k]
        results.append([(corpus.names[j], float(sims[j])) for j in order])
    return results


def _canonical_or_none(item: Item) -> str | None:
    if isinstance(item, str):
        from archi2vec._names import resolve_name

        return resolve_name(item)
    return item.name if isinstance(item, ArchGraph) else None
