"""Typed errors of archi2vec.

archi2vec is the lowest layer of the project and imports nothing from ``fennec``; its errors follow the same shape
(a message saying what is wrong, plus a ``hint`` saying how to fix it) and subclass the built-in type a caller would
expect, so ``except ValueError`` still works.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "Archi2VecError",
    "UnknownArchitectureError",
    "UnmappedModelError",
    "ArchTraceError",
    "ArtifactError",
]


class Archi2VecError(Exception):
    """Base class of every error archi2vec raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong.
    hint : str, optional
        What the user can do about it.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base


class UnknownArchitectureError(Archi2VecError, ValueError):
    """An architecture name that no registry knows; the message lists the closest known names."""

    @classmethod
    def of(cls, name: str, known: Iterable[str], source: str) -> "UnknownArchitectureError":
        """The error for ``name`` looked up among ``known`` names of ``source`` (e.g. ``"timm"``)."""
        close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.6)
        hint = (
            f"close {source} names: {', '.join(close)}"
            if close
            else f"list the known names with `python -m archi2vec list {source}:*`"
        )
        return cls(f"Unknown {source} architecture {name!r}.", hint=hint)


class UnmappedModelError(Archi2VecError, ValueError):
    """A Hugging Face model id whose architecture archi2vec cannot resolve to a timm or torchvision name."""


class ArchTraceError(Archi2VecError, RuntimeError):
    """A module could not be turned into a graph (by tracing or by the module-hierarchy fallback)."""


class ArtifactError(Archi2VecError, FileNotFoundError):
    """The trained encoder or its corpus embeddings are missing or do not match this version of archi2vec."""
