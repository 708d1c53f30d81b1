"""Fennec: recommend which pre-trained models to fine-tune for a new task, from a learned transfer space.

The public API, imported lazily (so that ``fennec --help`` does not load torch):

- :class:`TransferHistory`: fine-tuning results in SQLite;
- :class:`TransferSpace`: the latent factor model with side information; :class:`ModelIndex` its faiss index;
- :class:`Recommender` and :class:`Workspace`: the product (train, recommend, versions);
- :class:`Task`: a task's images; :func:`create_proxy`: task embedders; :mod:`fennec.metrics`: LogME, SFDA...;
- :class:`ModelCard`, :class:`TaskCard`: what is known of a model or a task besides its history.
"""
from __future__ import annotations

from archi2vec import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "TransferHistory": "fennec.history",
    "TransferSpace": "fennec.space",
    "ModelIndex": "fennec.index",
    "Recommender": "fennec.recommend",
    "Workspace": "fennec.workspace",
    "Task": "fennec.tasks",
    "create_proxy": "fennec.proxy",
    "ModelCard": "fennec.cards",
    "TaskCard": "fennec.cards",
    "metrics": "fennec.metrics",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
