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


def test_a_training_runs_in_the_background_while_queries_are_answered_then_switches(client):
    started = client.post("/train", json={}, headers=auth())
    assert started.status_code == 202 and started.headers["location"] == "/train/1"
    assert started.json()["status"] == "running"
    busy = client.post("/train", json={"incremental": True}, headers=auth())
    assert busy.status_code == 409 and "still running" in busy.json()["error"]
    seen = set()
    while client.get("/train/1").json()["status"] == "running":
        reply = client.post("/recommend", json={"task": "pets", "k": 3})
        assert reply.status_code == 200  # never an error, never a half-loaded version
        seen.add(reply.json()["space_version"])
    job = client.get("/train").json()["job"]
    assert job["status"] == "succeeded", job
    assert job["version"] == "v0002" and job["result"]["n_records"] == 121 and job["finished_at"]
    assert seen <= {"v0001", "v0002"} and "v0001" in seen
    assert client.get("/health").json()["active_version"] == "v0002"
    assert client.post("/recommend", json={"task": "pets"}).json()["space_version"] == "v0002"
    assert [v["version"] for v in client.get("/versions").json()["versions"]] == ["v0001", "v0002"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has ended; it waits for its parent to collect it


def test_kill_9_during_a_training_leaves_the_last_good_version(workspace):
    config = workspace / "config.yaml"
    short = config.read_text()
    config.write_text(short.replace("min_steps: 30", "min_steps: 100000"))  # a fit that is surely running at 4 s
    server = LiveServer(workspace)
    try:
        assert server.wait_ready()["active_version"] == "v0001"
        job = httpx.post(server.url + "/train", json={}, headers=auth(), timeout=30).json()
        assert job["status"] == "running"
        trainer = _wait(lambda: _children(server.process.pid), 30, "the training process")[0]
        time.sleep(4.0)  # into the run: imports, featurising, fitting
        assert httpx.get(server.url + f"/train/{job['id']}").json()["status"] == "running"
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        _wait(lambda: not _alive(trainer), 15, "the training process to end with its server")
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
        done = _wait(lambda: (j := httpx.get(restarted.url + "/train/1").json())["status"] != "running" and j,
                     300, "the training after the restart", every=0.5)
        assert done["status"] == "succeeded" and done["version"] == "v0002", done
        assert httpx.get(restarted.url + "/health").json()["active_version"] == "v0002"
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
