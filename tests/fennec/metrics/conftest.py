"""Run the metric tests on one torch thread (the shared ``one_torch_thread`` fixture says why)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every metric test, on one thread."""
