"""A task's decoded, resized and cropped pixels, kept in memory for the next model: decoded once per task.

Scoring K candidates on one task used to decode and resize every image K times; for the small and mid-sized models a
zoo holds, that cost as much as the forward pass. The pixels (``uint8``, before the per-model normalisation) are
kept per ``(task images, resize, crop, interpolation)``, so every model with the same input geometry reuses them,
whatever its mean and std. The cache is bounded in bytes (least recently used entries go first) and a task too
large for it is streamed batch by batch as before.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from fennec.features._preprocess import PreprocessConfig, crop_pixels, normalize_pixels
from fennec.tasks import Task

__all__ = ["clear_decoded", "decoded_budget", "input_batches"]

_BUDGET_ENV = "FENNEC_DECODED_CACHE_MB"
_DEFAULT_BUDGET_MB = 1024


@dataclass(frozen=True)
class _Pixels:
    indices: np.ndarray  # the readable images' indices in the task
    pixels: torch.Tensor  # (n, size, size, 3) uint8

    @property
    def nbytes(self) -> int:
        return self.pixels.numel()


_cache: OrderedDict[tuple, _Pixels] = OrderedDict()
_lock = threading.Lock()


def decoded_budget() -> int:
    """Bytes the cache may hold: ``FENNEC_DECODED_CACHE_MB`` (default 1024; 0 turns the cache off)."""
    value = os.environ.get(_BUDGET_ENV, str(_DEFAULT_BUDGET_MB))
    try:
        return max(int(float(value) * 2 ** 20), 0)
    except ValueError:
        return _DEFAULT_BUDGET_MB * 2 ** 20


def clear_decoded() -> None:
    """Forget every task's kept pixels (frees their memory)."""
    with _lock:
        _cache.clear()


def input_batches(task: Task, config: PreprocessConfig, batch_size: int,
                  prefetch: bool) -> Iterator[tuple[np.ndarray, torch.Tensor, float]]:
    """``(indices, normalised input batch, seconds spent decoding it)`` over the task's readable images.

    From the kept pixels when the task fits the budget (decoded now on the first model, reused by the next ones);
    otherwise decoded batch by batch, one batch ahead in a thread when ``prefetch``.
    """
    budget = decoded_budget()
    if task.n_images * config.input_size ** 2 * 3 > budget:
        for indices, pixels, seconds in _decode(task, config, batch_size, prefetch):
            yield indices, normalize_pixels(pixels, config), seconds
        return
    tic = time.perf_counter()
    kept = _kept(task, config, batch_size, prefetch, budget)
    seconds = time.perf_counter() - tic
    for start in range(0, len(kept.indices), batch_size):
        stop = start + batch_size
        yield kept.indices[start:stop], normalize_pixels(kept.pixels[start:stop], config), seconds
        seconds = 0.0


def _kept(task: Task, config: PreprocessConfig, batch_size: int, prefetch: bool, budget: int) -> _Pixels:
    key = (task.images_hash, config.input_size, config.crop_pct, config.interpolation)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is not None:
        task.mark_unreadable(np.setdiff1d(np.arange(task.n_images), hit.indices))  # warns as a fresh decode would
        return hit
    parts = list(_decode(task, config, batch_size, prefetch))
    indices = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    pixels = (torch.cat([p[1] for p in parts]) if parts
              else torch.zeros((0, config.input_size, config.input_size, 3), dtype=torch.uint8))
    entry = _Pixels(indices, pixels)
    with _lock:
        _cache[key] = entry
        while sum(e.nbytes for e in _cache.values()) > budget and len(_cache) > 1:
            _cache.popitem(last=False)
    return entry


def _decode(task: Task, config: PreprocessConfig, batch_size: int,
            prefetch: bool) -> Iterator[tuple[np.ndarray, torch.Tensor, float]]:
    """``(indices, uint8 pixels, seconds)`` batch by batch, one batch ahead in a thread when ``prefetch``."""
    source = task.iter_batches(batch_size, draft_size=config.resize_size)

    def produce() -> tuple[np.ndarray, torch.Tensor, float] | None:
        tic = time.perf_counter()
        item = next(source, None)
        if item is None:
            return None
        indices, images = item
        return indices, torch.from_numpy(crop_pixels(images, config)), time.perf_counter() - tic

    if not prefetch:
        while (item := produce()) is not None:
            yield item
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fennec-decode") as pool:
        pending = pool.submit(produce)
        while (item := pending.result()) is not None:
            pending = pool.submit(produce)
            yield item
