"""Small tasks of real images shared by the task, feature, proxy and CLI tests (imported by the modules beside it).

- digits: scikit-learn's 8x8 handwritten digits (classes are digit values);
- faces: scikit-image's LFW subset, 25x25 faces against non-faces;
- photos: crops of scikit-image's astronaut, coffee, chelsea and rocket photos, one class per photo.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fennec.tasks import Task

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def digits_task(digits, per_class: int, seed: int = 0, name: str | None = None) -> Task:
    """``per_class`` random images of each digit in ``digits`` (uint8, class names are the digits)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(data.target == d), per_class, replace=False) for d in digits])
    images = (data.images[idx] * (255 / 16)).astype(np.uint8)
    return Task.from_arrays(images, [str(v) for v in data.target[idx]], name=name or f"digits-{seed}")


def faces_task(per_class: int, seed: int = 0) -> Task:
    """Faces against non-faces from the LFW subset (first 100 images are faces, the last 100 are not)."""
    from skimage.data import lfw_subset

    images = lfw_subset()
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(100, per_class, replace=False), 100 + rng.choice(100, per_class, replace=False)])
    return Task.from_arrays(images[idx], ["face"] * per_class + ["other"] * per_class, name="faces")


def photos_task(per_class: int, seed: int = 0, size: int = 64, photos=PHOTOS) -> Task:
    """Random ``size`` x ``size`` crops of each photo, one class per photo."""
    import skimage.data

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for photo in photos:
        array = getattr(skimage.data, photo)()
        for _ in range(per_class):
            top, left = rng.integers(0, array.shape[0] - size), rng.integers(0, array.shape[1] - size)
            images.append(array[top:top + size, left:left + size])
            labels.append(photo)
    return Task.from_arrays(images, labels, name="photos")


def write_folder(task: Task, root: Path, suffix: str = ".png") -> Path:
    """Write an in-memory task as ``root/<class name>/<i>.png`` and return ``root``."""
    for i, (image, label) in enumerate(zip(task.images, task.labels)):
        folder = root / task.label_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}{suffix}")
    return root


def truncate(path: Path) -> Path:
    """Cut a file in half (a truncated JPEG cannot be decoded)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


_CLIP_CHECKPOINT: dict[str, Path] = {}


def clip_checkpoint(tmp_path_factory) -> Path:
    """A random-init open_clip ViT-B-32 saved as a state-dict file, written once per test session.

    The proxies load it through the same path as a user's checkpoint; sharing one file also shares the loaded model
    (the CLIP proxy keeps it in memory by path).
    """
    if "path" not in _CLIP_CHECKPOINT:
        import torch

        from archi2vec import ensure_torchvision

        ensure_torchvision()
        import open_clip

        torch.manual_seed(0)
        model = open_clip.create_model("ViT-B-32")  # no `pretrained`: random weights
        path = tmp_path_factory.mktemp("clip") / "vit_b_32_random.pt"
        torch.save(model.state_dict(), path)
        _CLIP_CHECKPOINT["path"] = path
    return _CLIP_CHECKPOINT["path"]
