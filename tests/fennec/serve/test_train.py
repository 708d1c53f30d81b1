"""Training behind the service: one at a time, queries answered meanwhile, an atomic switch, and kill -9."""
from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import httpx
from _serve_helpers import TOKEN, LiveServer, auth

from fennec.history import TransferHistory
from fennec.recommend import Recommender
from fennec.serve.auth import TOKEN_FILE, resolve_token
from fennec.workspace import Workspace


def _wait(predicate, timeout: float, what: str, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has ended; it waits for its parent to collect it


def _query(server: LiveServer) -> str:
    """The version that answered a recommendation (the reply must be a success)."""
    reply = httpx.post(server.url + "/recommend", json={"task": "pets", "k": 3}, timeout=30)
    assert reply.status_code == 200, reply.text  # never an error, never a half-loaded version
    return reply.json()["space_version"]


def test_kill_9_during_a_training_leaves_the_last_good_version(workspace):
    """One long training, killed with its server; then a restarted server trains in the background and switches.

    (One test, so that the suite pays for one full training: the killed one stops 4 s in.)
    """
    config = workspace / "config.yaml"
    short = config.read_text()
    config.write_text(short.replace("min_steps: 30", "min_steps: 100000"))  # a fit that is surely running at 4 s
    server = LiveServer(workspace)
    try:
        assert server.wait_ready()["active_version"] == "v0001"
        started = httpx.post(server.url + "/train", json={}, headers=auth(), timeout=30)
        assert started.status_code == 202 and started.headers["location"] == "/train/1"
        job = started.json()
        assert job["status"] == "running"
        busy = httpx.post(server.url + "/train", json={"incremental": True}, headers=auth(), timeout=30)
        assert busy.status_code == 409 and "still running" in busy.json()["error"]  # one at a time
        trainer = _wait(lambda: _children(server.process.pid), 30, "the training process")[0]
        time.sleep(4.0)  # into the run: imports, featurising, fitting
        assert _query(server) == "v0001"  # answered from the active version meanwhile
        assert httpx.get(server.url + f"/train/{job['id']}").json()["status"] == "running"
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        _wait(lambda: not _alive(trainer), 5, "the training process to end with its server")
    finally:
        server.stop()
    ws = Workspace.open(workspace)
    assert ws.current_version() == "v0001" and ws.versions() == ["v0001"]
    leftovers = [p.name for p in (workspace / "versions").iterdir() if p.name != "v0001"]
    assert all(name.startswith(".building-") for name in leftovers)  # never picked up as a version
    assert Recommender(ws).recommend(ws.task_cards()["pets"], k=3, fallback="none").space_version == "v0001"
    assert TransferHistory(ws.history_path).n_records == 121

    config.write_text(short)
    restarted = LiveServer(workspace)  # the lock died with the trainer; a new training completes
    try:
        assert restarted.wait_ready()["active_version"] == "v0001"
        httpx.post(restarted.url + "/train", json={}, headers=auth(), timeout=30).raise_for_status()
        seen, deadline = set(), time.monotonic() + 300
        while (job := httpx.get(restarted.url + "/train/1").json())["status"] == "running":
            assert time.monotonic() < deadline, "the training after the restart did not end in 300 s"
            seen.add(_query(restarted))
            time.sleep(0.2)  # leave the trainer its core
        assert job["status"] == "succeeded" and job["version"] == "v0002", job
        assert job["result"]["n_records"] == 121 and job["finished_at"]
        assert seen <= {"v0001", "v0002"} and "v0001" in seen
        assert httpx.get(restarted.url + "/health").json()["active_version"] == "v0002"
        assert _query(restarted) == "v0002"  # the switch
        versions = httpx.get(restarted.url + "/versions").json()["versions"]
        assert [v["version"] for v in versions] == ["v0001", "v0002"]
    finally:
        restarted.stop()
    assert not [p for p in (workspace / "versions").iterdir() if p.name.startswith(".building-")]


def test_the_token_comes_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv("FENNEC_SERVE_TOKEN", raising=False)
    created = resolve_token(tmp_path)
    assert created.created and len(created.value) >= 32
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == created.value
    again = resolve_token(tmp_path)
    assert again.value == created.value and not again.created
    monkeypatch.setenv("FENNEC_SERVE_TOKEN", TOKEN)
    assert resolve_token(tmp_path).value == TOKEN and resolve_token(tmp_path).source == "FENNEC_SERVE_TOKEN"
