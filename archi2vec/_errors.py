"""Typed errors of archi2vec, and :class:`HintedError`, the base of every error the project raises on purpose.

An error raised on purpose says what is wrong (the message) and how to fix it (``hint``), and subclasses the
built-in type a caller would expect, so ``except ValueError`` still works. archi2vec is the lowest layer of the
project and imports nothing from ``fennec``, so the shared base lives here: ``fennec.errors.FennecError`` and
:class:`Archi2VecError` both derive from it, and one command-line wrapper (:func:`archi2vec.run_click`) prints either
as one line plus the hint.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "HintedError",
    "Archi2VecError",
    "UnknownArchitectureError",
    "UnmappedModelError",
    "ArchTraceError",
    "ArtifactError",
]


class HintedError(Exception):
    """An error raised on purpose, for a person to read: what is wrong, and how to fix it.

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

    @property
    def message(self) -> str:
        """What is wrong, without the hint."""
        return super().__str__()


class Archi2VecError(HintedError):
    """Base class of every error archi2vec raises on purpose."""


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
