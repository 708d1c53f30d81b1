"""A small on-disk cache of named numpy arrays plus JSON metadata, keyed by a content hash.

Each entry is one ``.npz`` file under ``fennec.config.cache_dir(kind)``; the metadata is stored inside it as JSON
bytes, so nothing is ever unpickled (``np.load(..., allow_pickle=False)``). Writes go to a temporary file renamed
into place, so concurrent processes never read half-written entries; an unreadable entry counts as a miss.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fennec import config

__all__ = ["ArrayCache", "cache_key"]

_META = "__meta__"


def cache_key(*parts: Any) -> str:
    """SHA-256 hex digest of the JSON form of ``parts`` (dict keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ArrayCache:
    """Named arrays and a JSON-able dict stored per key in ``cache_dir(kind)``.

    Parameters
    ----------
    kind : str
        Sub-directory of fennec's cache (``"embeddings"``, ``"features"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _path(self, key: str) -> Path:
        # Resolved on every call: FENNEC_HOME may change between calls (tests, workspaces).
        return config.cache_dir(self.kind) / f"{key}.npz"

    def load(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The arrays and metadata stored under ``key``, or ``None`` on a miss."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files if name != _META}
                meta = json.loads(data[_META].tobytes().decode()) if _META in data.files else {}
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            return None
        return arrays, meta

    def save(self, key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> None:
        """Store ``arrays`` and ``meta`` under ``key`` (atomically replacing any previous entry)."""
        path = self._path(key)
        payload = dict(arrays)
        payload[_META] = np.frombuffer(json.dumps(meta or {}).encode(), dtype=np.uint8)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
