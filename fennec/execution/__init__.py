"""Execution engines: many independent units (a candidate model to score, a task to embed, an architecture to
encode, a benchmark evaluation) run in this process or on a Ray cluster, with the same results.

- :class:`Engine`: the interface (``map``, ``imap``); :class:`LocalEngine` (the default) and :class:`RayEngine`;
- :func:`create_engine`: the engine a command's options or a workspace config name;
- :class:`MapResult`, :class:`UnitFailure`, :class:`UnitsFailedError`: what completed, what failed and by which id.

Examples
--------
>>> from fennec.execution import create_engine
>>> engine = create_engine()  # local
>>> result = engine.map(len, {"a": "xy", "b": "xyz"}, progress=False)
>>> result.values, result.ok
({'a': 2, 'b': 3}, True)
"""
from __future__ import annotations

from ._base import Engine, MapResult, UnitFailure, UnitsFailedError
from ._local import LocalEngine
from ._ray import RayEngine
from ._settings import ENGINES, create_engine

__all__ = ["ENGINES", "Engine", "LocalEngine", "MapResult", "RayEngine", "UnitFailure", "UnitsFailedError",
           "create_engine"]
