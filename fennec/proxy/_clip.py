"""The ``clip`` proxy: an open_clip image encoder over the task's images, plus its text tower over the label names.

Image embeddings (the model's projected image features) are aggregated by :func:`fennec.proxy.image_task_vector`
(``mean``, ``prototypes``, ``spread``); the text tower embeds ``template.format(label=...)`` for every label name
(``"a photo of a {label}."`` by default) into the same space, and the normalised mean of those normalised text
embeddings is appended as the ``labels`` part.

Weights come from ``pretrained``, either

- a local checkpoint file (a state dict saved with ``torch.save`` or safetensors, read with
  ``torch.load(path, weights_only=True, map_location="cpu")``, never unpickling objects), or
- an open_clip pretrained tag (``laion2b_s34b_b79k``): looked for as
  ``<FENNEC_HOME>/cache/weights/open_clip/<model>.<tag>.safetensors`` (or ``.bin``/``.pt``/``.pth``), else
  downloaded by open_clip into that folder, unless fennec is offline (``FENNEC_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``),
  in which case the error says which file to put where;
- ``None``: random initialisation (only meaningful for tests and timing; a warning says so).
"""
from __future__ import annotations

import logging
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fennec import config
from fennec.errors import DataNotFoundError, InputError, UnknownNameError
from fennec.features import ModelSpec, PreprocessConfig, load_state_dict, resolve_device
from fennec.proxy._base import ImageProxy
from fennec.proxy._task_features import concat_parts
from fennec.tasks import Task

__all__ = ["ClipProxy"]

_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_TEXT_BATCH = 256


def _open_clip() -> Any:
    from archi2vec import ensure_torchvision

    ensure_torchvision()  # open_clip imports torchvision, whose compiled ops may not load on a CPU torch
    import open_clip

    return open_clip


def _weights_dir() -> Path:
    return config.cache_dir("weights") / "open_clip"


def _resolve_weights(model: str, pretrained: str | Path | None) -> Path | None:
    """The checkpoint file for ``pretrained`` (a path or a tag), downloading a tag's file when allowed."""
    if pretrained is None:
        return None
    path = Path(pretrained).expanduser()
    if path.exists() or path.suffix in _SUFFIXES or len(path.parts) > 1:
        if not path.is_file():
            raise InputError(f"CLIP checkpoint {path} does not exist.",
                             hint="pass an existing state-dict file, or an open_clip pretrained tag")
        return path
    open_clip = _open_clip()
    tag = str(pretrained)
    if not open_clip.is_pretrained_cfg(model, tag):
        raise UnknownNameError.of(f"open_clip pretrained tag for {model}", tag,
                                  open_clip.list_pretrained_tags_by_model(model))
    local = [_weights_dir() / f"{model}.{tag}{suffix}" for suffix in _SUFFIXES]
    for candidate in local:
        if candidate.is_file():
            return candidate
    cfg = open_clip.get_pretrained_cfg(model, tag)
    source = _download_source(cfg)
    hint = f"download {source} and save it as {local[0]} (or {local[1].name}), or pass the file's path as the weights"
    if config.offline():
        raise DataNotFoundError(f"The open_clip weights {model}/{tag} are not on this machine, and fennec is "
                                f"offline.", hint=hint)
    try:
        return Path(open_clip.download_pretrained(cfg, cache_dir=str(_weights_dir())))
    except Exception as exc:  # no network, hub error, checksum mismatch
        raise DataNotFoundError(f"Could not download the open_clip weights {model}/{tag}: "
                                f"{str(exc).splitlines()[0]}", hint=hint) from exc


def _download_source(cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub"):
        repo, filename = cfg["hf_hub"].rstrip("/"), None
        if not cfg["hf_hub"].endswith("/"):
            repo, filename = cfg["hf_hub"].rsplit("/", 1)
        return f"https://huggingface.co/{repo}/resolve/main/{filename or 'open_clip_pytorch_model.bin'}"
    return cfg.get("url") or "the checkpoint"


@lru_cache(maxsize=2)
def _load_clip(model: str, weights: str | None, device: str) -> nn.Module:
    """An open_clip model with ``weights`` loaded (random init when ``None``), in eval mode on ``device``."""
    open_clip = _open_clip()
    if model not in open_clip.list_models():
        raise UnknownNameError.of("open_clip model", model, open_clip.list_models())
    root = logging.getLogger()
    was, root.disabled = root.disabled, True  # silence open_clip's "initialized randomly" line: weights come next
    try:
        clip = open_clip.create_model(model, pretrained=None)
    finally:
        root.disabled = was
    if weights is None:
        warnings.warn(f"CLIP model {model} has random weights: its task vectors carry no meaning.", stacklevel=3)
    else:
        state = load_state_dict(weights)
        result = clip.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            shown = (result.missing_keys or result.unexpected_keys)[:3]
            raise InputError(f"{weights} is not a checkpoint of open_clip model {model}: "
                             f"{len(result.missing_keys)} missing and {len(result.unexpected_keys)} unexpected "
                             f"tensors (e.g. {', '.join(shown)}).",
                             hint=f"pass a state dict of open_clip.create_model({model!r}), or another model name")
    return clip.eval().to(device)


@lru_cache(maxsize=2)
def _tokenizer(model: str) -> Any:
    try:
        return _open_clip().get_tokenizer(model)
    except Exception as exc:  # tokenizers fetched from a hub fail offline
        raise DataNotFoundError(
            f"The tokenizer of open_clip model {model} is not available offline: {str(exc).splitlines()[0]}",
            hint="use a model with a built-in tokenizer (ViT-B-32, ViT-B-16, ViT-L-14, ...)",
        ) from exc


class _ImageTower(nn.Module):
    """The image encoder of a CLIP model as a module whose output is the (unnormalised) image embedding."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(images)


class ClipProxy(ImageProxy):
    """Embed a task's images and label names with an open_clip model.

    Parameters
    ----------
    model : str, default="ViT-B-32"
        Any name of ``open_clip.list_models()``.
    pretrained : str, Path or None, default="laion2b_s34b_b79k"
        A local checkpoint file, an open_clip pretrained tag, or ``None`` for random weights.
    template : str, default="a photo of a {label}."
        Sentence the text tower embeds for each label name.
    **kwargs
        Those of :class:`~fennec.proxy.ImageProxy` (``batch_size``, ``device``, ``max_per_class``, ...).

    Examples
    --------
    >>> proxy = ClipProxy(model="ViT-B-32", pretrained="weights/vit_b_32.pt")  # doctest: +SKIP
    >>> proxy.embed(load_task("my_task/")).parts["labels"]  # doctest: +SKIP
    (1026, 1538)
    """

    name = "clip"

    def __init__(self, *, model: str = "ViT-B-32", pretrained: str | Path | None = "laion2b_s34b_b79k",
                 template: str = "a photo of a {label}.", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.pretrained = pretrained
        self.template = template
        self._sentences: dict[tuple[str, str], np.ndarray] = {}  # (weights id, sentence) -> text embedding

    @property
    def weights_id(self) -> str:
        path = _resolve_weights(self.model, self.pretrained)
        if path is None:
            return f"{self.model}/random-init"
        stat = path.stat()  # a changed file (size or time) misses the cache without hashing gigabytes
        return f"{self.model}/{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

    def _config(self) -> dict[str, Any]:
        return {"model": self.model, "template": self.template, **super()._config()}

    def _clip(self) -> nn.Module:
        weights = _resolve_weights(self.model, self.pretrained)
        return _load_clip(self.model, str(weights) if weights else None, str(resolve_device(self.device)))

    def _model_spec(self) -> ModelSpec:
        clip = self._clip()
        cfg = clip.visual.preprocess_cfg
        size = cfg["size"] if isinstance(cfg["size"], int) else cfg["size"][0]
        preprocess = PreprocessConfig(int(size), tuple(cfg["mean"]), tuple(cfg["std"]), crop_pct=1.0,
                                      interpolation=cfg.get("interpolation", "bicubic"))
        return ModelSpec(f"clip:{self.model}", lambda: _ImageTower(clip), preprocess, self.weights_id, head=None)

    def _extend(self, task: Task, vector: np.ndarray,
                parts: dict[str, tuple[int, int]]) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        text = self._embed_labels(task.label_names)
        named = [(name, vector[a:b]) for name, (a, b) in parts.items()] + [("labels", text)]
        return concat_parts(named)

    def _embed_labels(self, label_names: tuple[str, ...]) -> np.ndarray:
        """Normalised mean of the normalised text embeddings of the label sentences (each encoded once)."""
        weights = self.weights_id
        sentences = [self.template.format(label=" ".join(n.replace("_", " ").split())) for n in label_names]
        new = sorted({s for s in sentences if (weights, s) not in self._sentences})
        if new:
            clip, tokenizer = self._clip(), _tokenizer(self.model)
            device = next(clip.parameters()).device
            with torch.inference_mode():
                for start in range(0, len(new), _TEXT_BATCH):
                    batch = new[start:start + _TEXT_BATCH]
                    encoded = clip.encode_text(tokenizer(batch).to(device), normalize=True).float().cpu().numpy()
                    self._sentences.update(((weights, s), e) for s, e in zip(batch, encoded))
        mean = np.mean([self._sentences[(weights, s)] for s in sentences], axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)
