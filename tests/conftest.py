"""Shared test fixtures: where the released benchmark files are."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "benchmarks"
# Tests read benchmark files through FENNEC_DATA, as users do; default to the checkout's ../shared/benchmarks.
os.environ.setdefault("FENNEC_DATA", str(_DEFAULT_DATA))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory (``FENNEC_DATA``); skips the test when the files are not there."""
    path = Path(os.environ["FENNEC_DATA"])
    if not path.is_dir():
        pytest.skip(f"benchmark files not found in {path} (set FENNEC_DATA)")
    return path


# Keep caches written by tests (fixtures of every scope included) out of the user's home: one fresh home per run.
os.environ["FENNEC_HOME"] = tempfile.mkdtemp(prefix="fennec-test-home-")
atexit.register(shutil.rmtree, os.environ["FENNEC_HOME"], ignore_errors=True)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module whose tensors are tiny: on a machine whose cores are shared (CI runners,
    several jobs at once) every multi-threaded call pays a scheduling delay that can turn milliseconds into seconds.
    Correctness does not depend on the thread count; speed is measured by the scripts in ``benchmarks/``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
