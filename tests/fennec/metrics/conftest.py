"""Run the metric tests on one torch thread.

The test tensors are tiny, and on a machine whose cores are shared (CI runners, several jobs at once) every
multi-threaded torch call pays a scheduling delay that can make a 40 ms NLEEP fit take seconds. Correctness does
not depend on the thread count; speed is measured by ``benchmarks/bench_metrics.py``, not here.
"""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
