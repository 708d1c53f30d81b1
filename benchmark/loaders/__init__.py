"""Loaders of released transfer benchmarks (and of any long-form history file) into a :class:`Benchmark`.

>>> from benchmark.loaders import available
>>> available()
['minizoo', 'sfda11', 'shift', 'transfergraph', 'transfergraph8']

``load(name)`` reads a named benchmark from the data directory (``FENNEC_DATA``; missing files are downloaded when
the network is allowed); ``load(path)`` reads a CSV or Parquet file with columns ``model, task, value``.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path

from fennec.errors import UnknownNameError

from .._types import Benchmark
from ._fetch import FILES, data_root, resolve_all
from ._longform import load_long_form
from ._sfda11 import load_sfda11
from ._shift import load_shift
from ._transfergraph import TARGETS8, load_transfergraph

__all__ = ["load", "available", "FILES"]

_LOADERS: dict[str, Callable[..., Benchmark]] = {
    "sfda11": load_sfda11,
    "shift": load_shift,
    "transfergraph": load_transfergraph,
    "transfergraph8": partial(load_transfergraph, targets=TARGETS8),
    # the mini-zoo's artefacts ship inside the package, so it ignores the data directory
    "minizoo": lambda root=None: _minizoo(),
}


def _minizoo() -> Benchmark:
    from ..minizoo import load_minizoo

    return load_minizoo()


def available() -> list[str]:
    """Names of the benchmarks :func:`load` knows."""
    return sorted(_LOADERS)


#: Files a benchmark cannot load without (the others only enrich its cards and are skipped with a warning).
_REQUIRED: dict[str, list[str]] = {
    "sfda11": ["sfda/sfda_group1_finetune_acc.csv"],
    "shift": ["shift/ftrecords.csv"],
    "transfergraph": ["transfergraph/records.csv", "transfergraph/model_config_dataset.csv",
                      "transfergraph/target_dataset_features.csv"],
}
_REQUIRED["transfergraph8"] = _REQUIRED["transfergraph"]
_REQUIRED["minizoo"] = []


@lru_cache(maxsize=16)
def _load_named(name: str, root: str) -> Benchmark:
    resolve_all(_REQUIRED[name], root)  # one error listing every missing file, before any parsing
    return _LOADERS[name](root)


@lru_cache(maxsize=16)
def _load_file(path: str, mtime_ns: int, size: int) -> Benchmark:
    return load_long_form(path)


def _looks_like_path(name: str) -> bool:
    return os.sep in name or "/" in name or Path(name).suffix.lower() in {".csv", ".parquet", ".pq"}


def load(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Benchmark:
    """A benchmark by name (see :func:`available`) or a long-form history file, as a :class:`Benchmark`.

    Parameters
    ----------
    name_or_path : str or path-like
        ``sfda11``, ``shift``, ``transfergraph``, ``transfergraph8``, or the path of a CSV / Parquet file with columns
        ``model, task, value`` (duplicate pairs keep their highest value).
    data_dir : path-like, optional
        Directory holding the benchmark files (``sfda/``, ``shift/``, ``transfergraph/``, ``snoopy/``, ``timm/``);
        defaults to ``FENNEC_DATA``.

    Returns
    -------
    Benchmark
        A fresh copy: results are parsed once per process and copied, so callers may modify what they get.

    Raises
    ------
    UnknownNameError
        ``name_or_path`` is neither a known benchmark nor an existing file.
    DataNotFoundError
        A benchmark file is missing and cannot be downloaded.
    HistoryFormatError
        A history file is malformed.

    Examples
    --------
    >>> bench = load("sfda11")  # doctest: +SKIP
    >>> bench.records.shape, len(bench.task_cards)  # doctest: +SKIP
    ((121, 4), 11)
    """
    key = os.fspath(name_or_path)
    if key in _LOADERS:
        bench = _load_named(key, str(data_root(data_dir).resolve()))
    elif Path(key).is_file() or _looks_like_path(key):
        path = Path(key).expanduser().resolve()
        stat = path.stat() if path.is_file() else None
        bench = _load_file(str(path), stat.st_mtime_ns, stat.st_size) if stat else load_long_form(path)
    else:
        raise UnknownNameError.of("benchmark", key, available())
    return copy.deepcopy(bench)
