"""The uncached forward passes: the task's input batches (:mod:`fennec.features._decoded`), the model, collected.

With a head, a forward hook on it captures its input (the penultimate feature) and its output (the logits);
without one, the model's output is the feature (4-D outputs averaged over space).
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from fennec.errors import InputError
from fennec.features._decoded import input_batches
from fennec.features._registry import ModelSpec
from fennec.features._result import Features
from fennec.tasks import Task

__all__ = ["run"]


def run(spec: ModelSpec, module: nn.Module, task: Task, batch_size: int, device: torch.device,
         progress: bool | None, prefetch: bool) -> Features:
    """The uncached forward passes: decode and preprocess (optionally one batch ahead), forward, collect."""
    module = module.to(device).eval()
    layout = _memory_format(module)
    module.to(memory_format=layout)
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
        for indices, batch, load_seconds in input_batches(task, spec.preprocess, batch_size, prefetch):
            timings["load"] += load_seconds
            tic = time.perf_counter()
            with torch.inference_mode():
                output = module(batch.to(device, non_blocking=True).contiguous(memory_format=layout))
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
        module.to(memory_format=torch.contiguous_format)  # a caller's module gets its weights' layout back
    timings["total"] = time.perf_counter() - start
    if not kept:
        raise InputError(f"No readable image in task {task.name!r}.", hint="check the files are valid images")
    indices = np.concatenate(kept)
    return Features(np.concatenate(feats), task.labels[indices], indices,
                    np.concatenate(logits) if logits else None, spec.name, timings)


def _memory_format(module: nn.Module) -> torch.memory_format:
    """Channels-last for convolutional networks: oneDNN's (and cuDNN's) convolutions, depthwise ones above all, are
    faster on NHWC tensors (on every mini-zoo CNN on the CPU, most for the depthwise EfficientNet and MobileNet);
    a network without convolutions past its patch embedding (a ViT) keeps the default layout."""
    convolutions = sum(isinstance(m, nn.Conv2d) for m in module.modules())
    return torch.channels_last if convolutions > 1 else torch.contiguous_format


def _flat(output: torch.Tensor) -> np.ndarray:
    if output.ndim == 4:  # (n, c, h, w) feature map: global average pool
        output = output.mean(dim=(2, 3))
    return output.reshape(output.shape[0], -1).float().cpu().numpy()


def _disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: ``None`` lets tqdm hide the bar when stderr is not a terminal."""
    return None if progress is None else not progress
