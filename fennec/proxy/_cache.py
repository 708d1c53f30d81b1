"""On-disk cache of task embeddings, keyed by proxy, weights and task content.

Entries live in ``fennec.config.cache_dir("embeddings")`` as ``.npz`` files (vector plus JSON metadata; never
pickled). The key hashes the proxy name, its weights id, the constructor arguments that change the output and the
task's content (image bytes for image proxies, label names and description for text ones), so a changed image, a
renamed class or other weights all miss the cache.
"""
from __future__ import annotations

from typing import Any

from fennec._arraycache import ArrayCache, cache_key
from fennec.proxy._task_features import TaskFeatures

__all__ = ["EmbeddingCache"]


class EmbeddingCache:
    """Get and put :class:`~fennec.proxy.TaskFeatures` by key."""

    def __init__(self) -> None:
        self._store = ArrayCache("embeddings")

    @staticmethod
    def key(proxy: str, weights_id: str, config: dict[str, Any], content_id: str) -> str:
        """The cache key of one embedding."""
        return cache_key("embedding", proxy, weights_id, config, content_id)

    def get(self, key: str) -> TaskFeatures | None:
        """The cached embedding, or ``None``."""
        hit = self._store.load(key)
        if hit is None:
            return None
        arrays, meta = hit
        try:
            return TaskFeatures(arrays["vector"], {k: tuple(v) for k, v in meta["parts"].items()}, meta["proxy"],
                                int(meta["n_images"]), int(meta["n_classes"]))
        except (KeyError, TypeError, ValueError):
            return None  # an entry written by an incompatible version: recompute

    def put(self, key: str, features: TaskFeatures) -> None:
        """Store ``features`` under ``key``."""
        meta = features.to_dict()
        del meta["vector"]
        self._store.save(key, {"vector": features.vector}, meta)
