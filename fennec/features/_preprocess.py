"""How images become a model's input: resize the short side, centre-crop, normalise (:class:`PreprocessConfig`)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from fennec.errors import InputError, UnknownNameError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "PreprocessConfig", "crop_pixels", "normalize_pixels", "preprocess_images"]


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_INTERPOLATIONS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                   "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


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



def preprocess_images(images: list[Image.Image], config: PreprocessConfig) -> torch.Tensor:
    """Resize, centre-crop and normalise RGB images into a float tensor of shape ``(n, 3, size, size)``."""
    return normalize_pixels(torch.from_numpy(crop_pixels(images, config)), config)


def crop_pixels(images: list[Image.Image], config: PreprocessConfig) -> np.ndarray:
    """Resize the short side and centre-crop: ``uint8`` pixels of shape ``(n, size, size, 3)``.

    The part of the preprocessing that depends on the images' files (and costs their decoding); models that differ
    only in ``mean`` and ``std`` share its output (see :mod:`fennec.features._decoded`).
    """
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
    return np.stack(arrays)


def normalize_pixels(pixels: torch.Tensor, config: PreprocessConfig) -> torch.Tensor:
    """``uint8`` pixels ``(n, size, size, 3)`` to the model's normalised float input ``(n, 3, size, size)``."""
    batch = pixels.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(config.mean).view(1, 3, 1, 1)
    std = torch.tensor(config.std).view(1, 3, 1, 1)
    return batch.sub_(mean).div_(std)
