"""ImageNet top-1 accuracy from timm's results table (``timm/results-imagenet.csv``)."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ._fetch import resolve_optional

__all__ = ["TimmResults", "timm_results"]


class TimmResults:
    """Lookup of timm's evaluation rows by ``architecture.tag`` and test image size.

    Parameters
    ----------
    table : pandas.DataFrame
        timm's ``results-imagenet.csv`` (columns ``model, img_size, top1, param_count``...).
    """

    def __init__(self, table: pd.DataFrame) -> None:
        self._rows: dict[str, list[tuple[int, float]]] = {}
        for name, size, top1 in zip(table["model"], table["img_size"], table["top1"]):
            self._rows.setdefault(str(name), []).append((int(size), float(top1)))

    def __len__(self) -> int:
        return len(self._rows)

    def top1(self, tag: str, img_size: int | None = None) -> float | None:
        """Top-1 (percent) of the weights ``tag`` evaluated at ``img_size``; ``None`` when timm lists no such row.

        timm evaluates some weights at several test sizes; without ``img_size`` the first (best) row is returned.
        """
        rows = self._rows.get(tag, [])
        if img_size is None:
            return rows[0][1] if rows else None
        return next((top1 for size, top1 in rows if size == img_size), None)


@lru_cache(maxsize=8)
def _read(path: Path, mtime_ns: int) -> TimmResults:
    return TimmResults(pd.read_csv(path, usecols=["model", "img_size", "top1"]))


def timm_results(data_dir: str | os.PathLike | None) -> TimmResults | None:
    """timm's ImageNet results from the data directory (``None``, with a warning, when the file cannot be had)."""
    path = resolve_optional("timm/results-imagenet.csv", data_dir, "model cards will have no ImageNet top-1")
    if path is None:
        return None
    return _read(path, path.stat().st_mtime_ns)
