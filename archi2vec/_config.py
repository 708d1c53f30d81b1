"""The one place where archi2vec reads its environment.

- ``ARCHI2VEC_CACHE``: where extracted graphs and embeddings are cached (default ``~/.cache/archi2vec``).
- ``ARCHI2VEC_DEBUG``: ``1`` makes ``python -m archi2vec`` show tracebacks.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "package_data_dir", "debug"]


def cache_dir(kind: str) -> Path:
    """A per-kind cache directory (created on demand), e.g. ``cache_dir("graphs")``.

    The root is ``ARCHI2VEC_CACHE`` when set, else ``~/.cache/archi2vec``.
    """
    root = os.environ.get("ARCHI2VEC_CACHE") or Path.home() / ".cache" / "archi2vec"
    path = Path(root).expanduser() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_data_dir() -> Path:
    """The directory of the artifacts shipped inside the package (the default encoder and corpus embeddings)."""
    return Path(__file__).resolve().parent / "_data"


def debug() -> bool:
    """Whether the command line shows tracebacks (``ARCHI2VEC_DEBUG=1``)."""
    return os.environ.get("ARCHI2VEC_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
