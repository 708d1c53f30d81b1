"""The metric registry: every metric by name, with what it must be fed."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fennec.errors import UnknownNameError
from fennec.metrics._gbc import gbc
from fennec.metrics._hscore import hscore, hscore_reg
from fennec.metrics._knn import knn
from fennec.metrics._leep import leep, nce
from fennec.metrics._logme import logme
from fennec.metrics._nleep import nleep
from fennec.metrics._parc import parc
from fennec.metrics._sfda import sfda
from fennec.metrics._transrate import transrate

__all__ = ["Metric", "get", "available"]


@dataclass(frozen=True)
class Metric:
    """A registered metric: call it like its function, read what it needs from ``input``.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"sfda"``.
    function : callable
        ``function(x, labels, *, device=None, **options) -> float``; higher always means "transfers better".
    input : {"features", "probabilities"}
        What ``x`` must be: the candidate's penultimate-layer features (N, D), or its source classifier's softmax
        outputs (N, K) on the target samples.
    paper : str
        The reference, short form.
    """

    name: str
    function: Callable[..., float]
    input: Literal["features", "probabilities"]
    paper: str

    def __call__(self, x: Any, labels: Any, **options: Any) -> float:
        return self.function(x, labels, **options)


_METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("logme", logme, "features", "You et al., ICML 2021 / JMLR 2022"),
    Metric("sfda", sfda, "features", "Shao et al., ECCV 2022"),
    Metric("nleep", nleep, "features", "Li et al., CVPR 2021"),
    Metric("leep", leep, "probabilities", "Nguyen et al., ICML 2020"),
    Metric("nce", nce, "probabilities", "Tran et al., ICCV 2019"),
    Metric("hscore", hscore, "features", "Bao et al., ICIP 2019"),
    Metric("hscore_reg", hscore_reg, "features", "Ibrahim et al., 2022"),
    Metric("knn", knn, "features", "leave-one-out k-NN accuracy"),
    Metric("gbc", gbc, "features", "Pandy et al., CVPR 2022"),
    Metric("transrate", transrate, "features", "Huang et al., ICML 2022"),
    Metric("parc", parc, "features", "Bolya et al., NeurIPS 2021"),
]}


def available(input: Literal["features", "probabilities"] | None = None) -> list[str]:
    """Names of the registered metrics, optionally only those fed ``input`` ("features" or "probabilities").

    Examples
    --------
    >>> from fennec.metrics import available
    >>> available("probabilities")
    ['leep', 'nce']
    """
    return sorted(name for name, m in _METRICS.items() if input is None or m.input == input)


def get(name: str) -> Metric:
    """The metric registered under ``name``.

    Raises
    ------
    fennec.errors.UnknownNameError
        If no metric has that name (the message lists the known ones and the closest).

    Examples
    --------
    >>> from fennec.metrics import get
    >>> get("sfda").input
    'features'
    """
    try:
        return _METRICS[name]
    except (KeyError, TypeError):
        raise UnknownNameError.of("metric", str(name), available()) from None
