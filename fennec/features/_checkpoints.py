"""Weights from a checkpoint file, as tensors only: safetensors, or ``torch.load`` with ``weights_only=True``."""
from __future__ import annotations

from pathlib import Path

import torch

from fennec.errors import InputError

__all__ = ["load_state_dict"]



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
