"""Helpers of the service tests (imported by the modules beside it): the token, images, a real server process."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TOKEN = "test-token-0123456789"


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def image_folder(root: Path, classes=("cat", "dog"), per_class: int = 3, size: int = 32) -> Path:
    """``root/<class>/<i>.png`` of seeded random images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in classes:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``fennec serve`` in a real process on a free loopback port."""

    def __init__(self, workspace: Path, *extra: str) -> None:
        self.workspace, self.port = workspace, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FENNEC_SERVE_TOKEN": TOKEN}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fennec.cli", "serve", "-w", str(workspace), "--port", str(self.port), *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120.0) -> dict:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.process.stdout.read().decode()[-3000:]}")
            try:
                return httpx.get(self.url + "/health", timeout=5).json()
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the server did not answer /health in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
