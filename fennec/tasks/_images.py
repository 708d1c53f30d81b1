"""Images of a task as RGB: decoding files or arrays, and the one warning for what was skipped."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from fennec.errors import InputError

__all__ = ["IMAGE_EXTENSIONS", "SHOWN", "SkippedImagesWarning", "UnreadableImage", "as_image_array", "decode",
           "few"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
SHOWN = 5  # how many offending files a message names


class SkippedImagesWarning(UserWarning):
    """Some files of a task were skipped (not images, or not decodable); the message says how many and which."""


class UnreadableImage(Exception):
    """Internal: one image could not be decoded (the caller collects these into one warning)."""


def few(items: Sequence[str], sep: str = ", ") -> str:
    """The first :data:`SHOWN` of ``items`` joined by ``sep``, with ``...`` when there are more."""
    return sep.join(items[:SHOWN]) + (f"{sep}..." if len(items) > SHOWN else "")


def decode(source: Path | np.ndarray, draft_size: int | None) -> Image.Image:
    """``source`` (a file or an array) as an RGB PIL image; raises :class:`UnreadableImage` for a bad file."""
    if not isinstance(source, Path):
        return _to_rgb(Image.fromarray(source))
    try:
        image = Image.open(source)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(_reason(exc)) from exc
    try:
        if draft_size and image.format == "JPEG":
            image.draft("RGB", (draft_size, draft_size))
        image.load()
        rgb = _to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        image.close()
        raise UnreadableImage(_reason(exc)) from exc
    if rgb is not image:  # a converted copy: release the file now rather than at garbage collection
        image.close()
    return rgb


def as_image_array(image: Any, index: int) -> np.ndarray:
    """An in-memory image as a contiguous uint8 array ``(H, W)`` or ``(H, W, 3|4)`` ([0, 1] floats scaled)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise InputError(f"Image {index} of Task.from_arrays must have shape (H, W) or (H, W, 1|3|4). "
                         f"Got {array.shape} instead.")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number):
            raise InputError(f"Image {index} of Task.from_arrays must be numeric. Got dtype {array.dtype} instead.")
        scale = 255.0 if np.issubdtype(array.dtype, np.floating) and array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def _reason(exc: BaseException) -> str:
    return str(exc).split("\n")[0] or type(exc).__name__


def _to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB: grayscale replicated, palette expanded, alpha composited on white (RGB returned as is)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit / float grayscale: rescale to 8 bits
        array = np.asarray(image, dtype=np.float32)
        span = float(array.max() - array.min()) or 1.0
        image = Image.fromarray(((array - array.min()) / span * 255).astype(np.uint8))
    return image.convert("RGB")
