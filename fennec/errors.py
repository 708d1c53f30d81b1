"""Typed errors of the fennec library.

The library raises these; the CLI translates them into one line plus a hint (the traceback is shown only when
``FENNEC_DEBUG=1``). Their base derives from :class:`archi2vec.HintedError`, which archi2vec's errors share. Each subclasses the built-in type a caller would expect, so ``except ValueError`` still works.
Messages follow one template: "`<param>` of `<Class>` must be `<constraint>`. Got `<value>` instead." plus a fix-it
hint where one exists.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

from archi2vec import HintedError

__all__ = [
    "FennecError",
    "NotFittedError",
    "UnknownNameError",
    "HistoryFormatError",
    "ModelFitError",
    "DataNotFoundError",
    "InputError",
]


class FennecError(HintedError):
    """Base class of every error fennec raises on purpose: ``FennecError(message, hint=None)``.

    It derives from :class:`archi2vec.HintedError`, the project's one base (archi2vec is the lowest layer), so the
    CLI prints fennec's and archi2vec's errors alike: the message, then the hint on its own line.
    """


class InputError(FennecError, ValueError):
    """A user-supplied value (array, file, argument) is not what it must be."""


class NotFittedError(FennecError, ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""

    @classmethod
    def of(cls, obj: object) -> "NotFittedError":
        name = type(obj).__name__
        return cls(f"This {name} instance is not fitted yet.", hint=f"Call '{name}.fit' with a transfer history first.")


class UnknownNameError(FennecError, ValueError):
    """A name looked up in a registry does not exist; the message lists the closest known names."""

    @classmethod
    def of(cls, kind: str, name: str, known: Iterable[str]) -> "UnknownNameError":
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else None
        listing = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        return cls(f"Unknown {kind} {name!r}. Known: {listing}.", hint=hint)


class HistoryFormatError(FennecError, ValueError):
    """A transfer-history file or table is malformed; the message names the row and the problem."""


class ModelFitError(FennecError, RuntimeError):
    """Fitting diverged or produced non-finite parameters."""


class DataNotFoundError(FennecError, FileNotFoundError):
    """Benchmark or model files are missing and cannot be downloaded; the hint says which files to put where."""
