"""Fixtures of the service tests: a trained workspace (copied per test) and an in-process client."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'fennec[serve]'")

from _serve_helpers import TOKEN

from fennec.cli import main
from fennec.serve import Token, UploadLimits, create_app


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory, data_dir) -> Path:
    """The sfda11 history (121 records, 11 models, 11 tasks) trained once, with a short fit (min_steps 30)."""
    path = tmp_path_factory.mktemp("serve") / "ws"
    assert main(["init", str(path), "--from", "sfda11", "--json"]) == 0
    config = path / "config.yaml"
    config.write_text(config.read_text().replace("space: {}", "space: {min_steps: 30}"))
    assert main(["train", "-w", str(path), "--json"]) == 0
    return path


@pytest.fixture
def workspace(trained_workspace, tmp_path) -> Path:
    """A private copy of the trained workspace (tests write to it)."""
    return Path(shutil.copytree(trained_workspace, tmp_path / "ws"))


@pytest.fixture
def client(workspace):
    """An in-process client of the app (the lifespan runs: the active version is warmed up)."""
    from fastapi.testclient import TestClient

    app = create_app(workspace, token=Token(TOKEN, "FENNEC_SERVE_TOKEN"),
                     limits=UploadLimits(max_bytes=2 * 2**20, max_images=40))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
