"""Shared test fixtures: where the released benchmark files are."""
from __future__ import annotations

import atexit
import os
import secrets
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


# Ray's token authentication stays on for the Ray instance the tests start, with a token of this run (so nothing is
# written to ~/.ray). Set at import: Ray reads it once, when it is first imported.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray instance for the session (2 CPUs, no dashboard), token authentication checked to be in force.
    Skips when Ray is not installed (``pip install 'fennec[ray]'``)."""
    ray = pytest.importorskip("ray", reason="the ray engine's tests need Ray: pip install 'fennec[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        from ray._raylet import (  # no public API tells the mode
            AuthenticationMode,
            get_authentication_mode,
        )

        assert get_authentication_mode() == AuthenticationMode.TOKEN
        yield ray
    finally:
        ray.shutdown()
