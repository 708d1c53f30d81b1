"""Docstring sections the metrics share, written once here and filled in by :func:`shared_docs`.

In a metric's docstring, a line holding only ``{name}`` (after its indentation) stands for the section ``name`` of
:data:`SECTIONS`, each of its lines indented like the placeholder; ``{metric}`` in a section becomes the function's
name. ``help()``, ``inspect.getdoc`` and doctest see the filled-in text.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

__all__ = ["SECTIONS", "shared_docs"]

_Function = TypeVar("_Function", bound=Callable)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

#: The shared sections by name.
SECTIONS = {
    # The "Parameters" section of a metric on features: the arguments all of them take (the metric's own follow).
    "features_parameters": """\
Parameters
----------
features : ndarray or Tensor of shape (n_samples, n_features)
    Features of the candidate model on the target samples.
labels : array-like of shape (n_samples,)
    Class labels (any values; remapped to ``0..C-1``).
device : str or torch.device, optional
    Where to compute; default: the device of ``features`` if it is a tensor, else the CPU.
dtype : torch.dtype, default=torch.float64
    Computation precision.""",
    # The arguments after ``probabilities`` of a metric on the source classifier's outputs (LEEP, NCE).
    "labels_after_probabilities": """\
labels : array-like of shape (n_samples,)
    Target class labels (any values; remapped to ``0..C-1``).
device : str or torch.device, optional
    Where to compute; default: the device of ``probabilities`` if it is a tensor, else the CPU.
dtype : torch.dtype, default=torch.float64
    Computation precision.""",
    # The example of a metric on features: three separable classes score higher than the same labels shuffled.
    "separation_example": """\
>>> import numpy as np
>>> from fennec.metrics import {metric}
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 3, size=300)
>>> x = rng.normal(size=(300, 8)) + 3 * np.eye(3, 8)[y]
>>> {metric}(x, y) > {metric}(x, rng.permutation(y))
True""",
}


def shared_docs(function: _Function) -> _Function:
    """Fill the ``{section}`` placeholder lines of ``function``'s docstring from :data:`SECTIONS`.

    Raises
    ------
    KeyError
        A placeholder names no section (a typo, caught when the module is imported).
    """
    if function.__doc__ is None:  # python -OO
        return function
    lines = []
    for line in function.__doc__.split("\n"):
        found = _PLACEHOLDER.fullmatch(line.strip())
        if found is None:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        section = SECTIONS[found.group(1)].replace("{metric}", function.__name__)
        lines += [indent + part if part else part for part in section.split("\n")]
    function.__doc__ = "\n".join(lines)
    return function
