"""archi2vec test fixtures: a per-session cache directory, so tests never touch ~/.cache/archi2vec."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _archi2vec_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # One directory for the whole session: graphs extracted by one test are reused by the next.
    monkeypatch.setenv("ARCHI2VEC_CACHE", str(tmp_path_factory.getbasetemp() / "archi2vec-cache"))
