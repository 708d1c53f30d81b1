"""Features of a model over a task's images: the model resolved (name, spec or module), the cache, the forward passes.

Results are cached on disk under ``fennec.config.cache_dir("features")``, keyed by the model's weights id, the
preprocessing, the head and the hash of the (sub-sampled) task's images, so a second pass over the same images
costs one file read.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from fennec._arraycache import ArrayCache, cache_key
from fennec.errors import InputError
from fennec.features._forward import run
from fennec.features._preprocess import PreprocessConfig
from fennec.features._registry import (
    ModelSpec,
    get_model_spec,
    is_registered,
    list_models,
    load_model,
)
from fennec.features._result import Features
from fennec.tasks import Task

__all__ = ["auto_batch_size", "extract_features", "resolve_device"]

_HEAD_NAMES = ("fc", "classifier", "head", "_fc", "last_linear")
_BATCH_PIXELS, _MIN_BATCH, _MAX_BATCH = 64 * 224 * 224, 16, 256


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or CUDA when available and CPU otherwise."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def auto_batch_size(input_size: int) -> int:
    """Images per forward pass for inputs of ``input_size`` px: about ``64 x 224 x 224`` pixels a batch, between 16
    and 256 images. Activations grow with a batch's pixels, so the memory a batch takes stays about level across
    input sizes, while small batches of small images would spend their time in per-call overhead."""
    return int(min(_MAX_BATCH, max(_MIN_BATCH, _BATCH_PIXELS // input_size ** 2)))


def extract_features(
    model: str | ModelSpec | nn.Module,
    task: Task,
    *,
    preprocess: PreprocessConfig | None = None,
    head: str | None = "auto",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
    cache: bool = True,
    progress: bool | None = None,
    prefetch: bool = True,
) -> Features:
    """Run ``model`` over the images of ``task`` and return penultimate features (and logits).

    Parameters
    ----------
    model : str, ModelSpec or nn.Module
        A registered name (see :func:`list_models`), a spec, or a module (put in eval mode).
    task : Task
        The images; unreadable ones are skipped with one warning.
    preprocess : PreprocessConfig, optional
        Overrides the spec's preprocessing (required in spirit for a bare module; default: ImageNet, 224 px).
    head : str, None or "auto", default="auto"
        Submodule whose input is the feature and output the logits. ``"auto"`` uses the spec's head, else the
        module's ``get_classifier()`` (timm) or its first ``nn.Linear`` attribute among ``fc``, ``classifier``,
        ``head``, ``_fc``, ``last_linear``; ``None`` (or nothing found) takes the model output as the feature
        (4-D outputs are averaged over space).
    batch_size : int, optional
        Images per forward pass. Default: :func:`auto_batch_size` of the model's input size (256 images of 32 px,
        64 of 224 px, 16 of 448 px and more).
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    max_per_class : int, optional
        Sub-sample at most this many images per class first (seeded by ``seed``).
    seed : int, default=0
        Seed of the sub-sampling.
    cache : bool, default=True
        Read and write the on-disk cache.
    progress : bool, optional
        Show a tqdm bar (default: only on a terminal).
    prefetch : bool, default=True
        Decode the next batch in a background thread while the current one runs through the model.

    Returns
    -------
    Features
    """
    if batch_size is not None and batch_size < 1:
        raise InputError(f"`batch_size` of extract_features must be a positive integer. Got {batch_size} instead.")
    spec, build = _resolve(model, preprocess, head)
    batch_size = batch_size or auto_batch_size(spec.preprocess.input_size)
    keep = (task.sample_indices(max_per_class=max_per_class, max_images=None, seed=seed)
            if max_per_class else np.arange(task.n_images))
    sub = task if len(keep) == task.n_images else task.subset(keep)
    store = ArrayCache("features")
    # Features depend on the images only: relabelling or renaming classes reuses them (labels come from the task).
    key = cache_key("features", spec.name, spec.weights_id, asdict(spec.preprocess), spec.head, sub.images_hash)
    hit = store.load(key) if cache else None
    if hit is not None:
        arrays, _ = hit
        rows = arrays["indices"]
        return Features(arrays["features"], sub.labels[rows], keep[rows], arrays.get("logits"),
                        spec.name, {"load": 0.0, "forward": 0.0, "total": 0.0, "cached": 1.0})
    result = run(spec, build(), sub, batch_size, resolve_device(device), progress, prefetch)
    if cache:
        arrays = {"features": result.features, "indices": result.indices}
        if result.logits is not None:
            arrays["logits"] = result.logits
        store.save(key, arrays, {"model": spec.name, "task": task.name})
    return Features(result.features, result.labels, keep[result.indices], result.logits, spec.name, result.timings)


def _resolve(model: str | ModelSpec | nn.Module, preprocess: PreprocessConfig | None,
             head: str | None) -> tuple[ModelSpec, Callable[[], nn.Module]]:
    """The spec to run (with overrides applied) and how to get its module (called only on a cache miss)."""
    if isinstance(model, str):
        model = get_model_spec(model)
    if isinstance(model, ModelSpec):
        spec = model
        if preprocess is not None or head != "auto":
            spec = ModelSpec(spec.name, spec.build, preprocess or spec.preprocess, spec.weights_id,
                             spec.head if head == "auto" else head)
        if is_registered(model):  # registered: built once per process
            return spec, lambda: load_model(spec.name)
        return spec, lambda: spec.build().eval()
    if isinstance(model, nn.Module):
        found = _find_head(model) if head == "auto" else head
        spec = ModelSpec(type(model).__name__, lambda: model, preprocess or PreprocessConfig(),
                         _weights_digest(model), found)
        return spec, model.eval
    raise InputError(f"`model` of extract_features must be a model name, a ModelSpec or an nn.Module. "
                     f"Got {type(model).__name__} instead.", hint=f"registered names: {', '.join(list_models())}")


def _find_head(model: nn.Module) -> str | None:
    if hasattr(model, "get_classifier"):
        classifier = model.get_classifier()
        for name, sub in model.named_modules():
            if sub is classifier and isinstance(sub, nn.Linear):
                return name
    for name in _HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Linear):
            return name
    return None


def _weights_digest(model: nn.Module) -> str:
    """Hash of a module's class and tensors: the cache key of a model passed as a bare module."""
    digest = hashlib.blake2b(type(model).__qualname__.encode(), digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
