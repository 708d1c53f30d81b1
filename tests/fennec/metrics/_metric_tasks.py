"""Small seeded tasks shared by the metric tests (imported by the test modules beside it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def make_task(n: int = 240, d: int = 12, c: int = 4, separation: float = 2.5, seed: int = 0):
    """Gaussian classes whose means differ along the first axes; labels are non-contiguous ints."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % c  # every class gets n // c samples
    rng.shuffle(codes)
    x = rng.normal(size=(n, d)) + separation * np.eye(c, d)[codes]
    return x, codes * 3 + 7


def source_probabilities(x: np.ndarray, k: int = 15, seed: int = 1) -> np.ndarray:
    """A stand-in source classifier: softmax of a random linear map of the features."""
    w = np.random.default_rng(seed).normal(size=(x.shape[1], k))
    return torch.softmax(torch.as_tensor(2 * x @ w), dim=1).numpy()


def inputs_for(metric, x: np.ndarray) -> np.ndarray:
    """What the registry entry says the metric must be fed."""
    return x if metric.input == "features" else source_probabilities(x)
