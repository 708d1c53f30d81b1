"""The Examples sections of archi2vec's public docstrings run as written."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["archi2vec", "archi2vec._names", "archi2vec._graph", "archi2vec._trace", "archi2vec._encoder",
           "archi2vec._encode"]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
