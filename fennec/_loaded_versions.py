"""What a long-lived reader has loaded of a workspace's versions, kept in memory.

A published version never changes (a new training writes a new one), so what was read of it once can answer every
later query: a ``Recommender`` behind ``fennec serve`` reads each version's space and featurizer once. Only the
few latest versions are kept (the active one, the one being switched to, one more).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LoadedVersions:
    """``get(kind, version, load)`` calls ``load(version)`` once per (kind, version) while it is among the latest."""

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        self._loaded: dict[tuple[str, str], Any] = {}

    def get(self, kind: str, version: str, load: Callable[[str], Any]) -> Any:
        key = (kind, version)
        loaded = self._loaded
        if key not in loaded:
            value = load(version)
            kept = sorted({v for _, v in loaded} | {version})[-self.keep:]
            self._loaded = loaded = {k: v for k, v in loaded.items() if k[1] in kept} | {key: value}
        return loaded[key]
