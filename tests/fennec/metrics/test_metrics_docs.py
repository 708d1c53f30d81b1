"""The metrics' docstrings: their examples run, and each documents its paper, formula and every parameter."""
from __future__ import annotations

import doctest
import importlib
import inspect
import re

import pytest

from fennec import metrics

MODULES = ["fennec.metrics", "fennec.metrics._registry"] + sorted(
    {metrics.get(name).function.__module__ for name in metrics.available()})


@pytest.mark.parametrize("module", MODULES)
def test_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or module == "fennec.metrics._registry"


@pytest.mark.parametrize("name", metrics.available())
def test_docstring_cites_the_paper_and_documents_every_parameter(name):
    function = metrics.get(name).function
    doc = inspect.getdoc(function)
    for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------", ".. math::"):
        assert section in doc, f"{name}: missing {section.splitlines()[0]}"
    assert re.search(r"<https?://\S+>`_", doc), f"{name}: no link to the paper"
    names = {n for line in re.findall(r"^([\w, ]+) :", doc, flags=re.M) for n in line.split(", ")}
    missing = set(inspect.signature(function).parameters) - names
    assert not missing, f"{name}: undocumented parameters {sorted(missing)}"
