"""Make ``import torchvision`` work when its compiled operators cannot load.

PyPI's torchvision wheels are CUDA builds. On a CPU-only torch their compiled extension (``torchvision/_C.so``)
fails to load, and torchvision's import then dies in ``_meta_registrations`` with
``RuntimeError: operator torchvision::nms does not exist``, which also breaks ``timm`` and ``open_clip``.

:func:`ensure_torchvision` is the one fix for the whole project (archi2vec is the lowest layer, so ``fennec`` uses it
from here too). Call it before the first import of torchvision, timm or open_clip. It tries to load the compiled
extension exactly as torchvision would; only when that fails does it define the two operators torchvision's import
needs (``nms`` and ``qnms``) with a pure-PyTorch greedy NMS registered through :mod:`torch.library`. Nothing here runs
when torchvision's own ops load, so a matching torchvision build (e.g. on a CUDA machine) is left untouched.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

__all__ = ["ensure_torchvision"]

_done = False


def ensure_torchvision() -> None:
    """Register pure-Python ``torchvision::nms``/``qnms`` if and only if torchvision's compiled ops fail to load.

    Idempotent and cheap after the first call; a no-op when torchvision is absent or already imported.
    """
    global _done
    if _done or "torchvision" in sys.modules:
        _done = True
        return
    _done = True
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    if _compiled_ops_load(Path(next(iter(spec.submodule_search_locations)))):
        return
    _define_python_nms()


def _compiled_ops_load(package_dir: Path) -> bool:
    for library in sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(library))
            return True
        except (OSError, RuntimeError):
            return False
    return False


def _greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept by greedy non-maximum suppression, by decreasing score (torchvision's contract)."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort(descending=True)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        width = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
        height = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
        inter = width * height
        suppressed |= inter / (areas[i] + areas - inter) > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def _define_python_nms() -> None:
    library = torch.library.Library("torchvision", "DEF")  # kept alive by the registry below
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.impl("nms", _greedy_nms, "CompositeExplicitAutograd")
    library.impl("qnms", lambda d, s, t: _greedy_nms(d.dequantize(), s.dequantize(), t), "CompositeExplicitAutograd")
    _LIBRARIES.append(library)


_LIBRARIES: list[torch.library.Library] = []
