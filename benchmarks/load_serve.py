"""Load test of ``fennec serve``: concurrent /recommend queries while history posts and a training happen.

Starts a real server process on the loopback interface (``fennec serve``), then for a bounded time and count:

- ``--clients`` connections post ``/recommend`` with a task known by its side features (the cards of the
  workspace's tasks: label names, size, description), paced to ``--rate`` requests/s in all (0: as fast as they
  can), each on one kept-alive HTTP/1.1 connection;
- ``--history-posts`` posts of records to ``/history`` spread over the run (each a new task's results);
- one ``/train`` started a second in (a full fit in a background process), then waited for at the end.

It prints requests/s, latency p50 / p90 / p99 / max (measured from the time a request was due, so a client that
falls behind is charged for it), errors, the records before and after (and whether every posted record is in the
store), the training's outcome, and the load average. Loopback only: the server is never reachable from outside.

The query clients speak HTTP/1.1 over asyncio streams directly: on a 2-core machine the load generator shares the
CPU with the server, and a full HTTP client library would spend more CPU per request than the server does.

Run (the figures in the README come from this exact command)::

    python benchmarks/load_serve.py

``--workspace WS`` uses an existing trained workspace (default: a fresh one from the sfda11 benchmark, trained
once before the run). ``--quick`` runs 5 s without a training (a smoke test).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def prepare_workspace(path: Path) -> None:
    """A workspace from the sfda11 benchmark (121 records), trained once."""
    for argv in (["init", str(path), "--from", "sfda11"], ["train", "-w", str(path)]):
        subprocess.run([sys.executable, "-m", "fennec.cli", *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def start_server(workspace: Path, port: int, token: str, log: Path) -> subprocess.Popen:
    """The server, its output to ``log`` (a pipe nobody reads would block it once full)."""
    env = {**os.environ, "FENNEC_SERVE_TOKEN": token}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "fennec.cli", "serve", "-w", str(workspace), "--host", HOST,
                                 "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited (exit status {server.returncode}); see its log")
        try:
            return (await client.get("/health")).json()
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not answer /health in time")


# ------------------------------------------------------------------------------------------------ query clients


def _request(port: int, body: bytes) -> bytes:
    head = (f"POST /recommend HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request on a kept-alive connection and read the whole response; its status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status


async def query_client(port: int, bodies: list[bytes], interval: float, start: float, stop: float,
                       budget: list[int], latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    due, i = start, 0
    try:
        while budget[0] > 0:
            now = time.perf_counter()
            if now >= stop:
                break
            if due > now:
                await asyncio.sleep(due - now)
            budget[0] -= 1
            try:
                status = await _exchange(reader, writer, _request(port, bodies[i % len(bodies)]))
                if status != 200:
                    errors.append(f"HTTP {status}")
            except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
            latencies.append(time.perf_counter() - (due if interval else now))
            due = max(due + interval, time.perf_counter() - 1.0) if interval else time.perf_counter()
            i += 1
    finally:
        writer.close()


# ------------------------------------------------------------------------------------------------ writers


async def post_history(client: httpx.AsyncClient, token: str, models: list[str], n_posts: int, start: float,
                       duration: float) -> tuple[list[dict], list[str]]:
    """``n_posts`` posts spread over the run, each the results of a few models on a new task; the records posted."""
    posted, errors = [], []
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(n_posts):
        await asyncio.sleep(max(0.0, start + (i + 0.5) * duration / n_posts - time.perf_counter()))
        records = [{"model": m, "task": f"load-test-{os.getpid()}-{i}", "value": 0.5 + 0.01 * j, "seed": i}
                   for j, m in enumerate(models[:5])]
        reply = await client.post("/history", json={"records": records, "source": "load test"}, headers=headers)
        if reply.status_code == 201:
            posted += records
        else:
            errors.append(f"history post {i}: HTTP {reply.status_code} {reply.text[:200]}")
    return posted, errors


async def run_training(client: httpx.AsyncClient, token: str, delay: float) -> dict:
    await asyncio.sleep(delay)
    reply = await client.post("/train", json={}, headers={"Authorization": f"Bearer {token}"})
    return reply.json() if reply.status_code == 202 else {"error": f"HTTP {reply.status_code} {reply.text[:200]}"}


async def wait_training(client: httpx.AsyncClient, job: dict, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while "id" in job and job.get("status") == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        job = (await client.get(f"/train/{job['id']}")).json()
    return job


# ------------------------------------------------------------------------------------------------ the run


async def load(args: argparse.Namespace, port: int, token: str, server: subprocess.Popen) -> dict:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=60) as client:
        before = await wait_ready(client, server)
        tasks = (await client.get("/tasks")).json()["tasks"]
        models = [m["model"] for m in (await client.get("/models")).json()["models"]]
        cards = [{k: t[k] for k in ("name", "label_names", "n_classes", "n_train", "description") if t[k]}
                 for t in tasks]
        bodies = [json.dumps({"task": card, "k": 10}).encode() for card in cards]
        latencies: list[float] = []
        errors: list[str] = []
        budget = [args.max_requests]
        interval = args.clients / args.rate if args.rate else 0.0
        start = time.perf_counter() + 0.2
        stop = start + args.duration
        load_before = os.getloadavg()
        train = asyncio.create_task(run_training(client, token, 1.0)) if args.train else None
        writes = asyncio.create_task(post_history(client, token, models, args.history_posts, start, args.duration))
        await asyncio.gather(*(query_client(port, bodies, interval, start + c * interval / args.clients, stop,
                                            budget, latencies, errors) for c in range(args.clients)))
        elapsed = time.perf_counter() - start
        load_during = os.getloadavg()
        posted, write_errors = await writes
        job = await wait_training(client, await train, args.train_timeout) if train else None
        after = (await client.get("/health")).json()
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "before": before, "after": after,
            "posted": posted, "write_errors": write_errors, "job": job, "load": (load_before, load_during)}


def report(result: dict, args: argparse.Namespace, workspace: Path) -> bool:
    from fennec.history import TransferHistory

    lat = sorted(result["latencies"])
    stored_records = TransferHistory(workspace / "history.sqlite").records(aggregate=None)
    stored_keys = set(zip(stored_records["model"], stored_records["task"], stored_records["value"].round(9)))
    missing = [r for r in result["posted"] if (r["model"], r["task"], round(r["value"], 9)) not in stored_keys]
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
    stored = TransferHistory(workspace / "history.sqlite").n_records
    before, after, posted = result["before"]["records"], result["after"]["records"], len(result["posted"])
    job = result["job"] or {}
    print(f"requests   {len(lat)} in {result['elapsed']:.1f} s by {args.clients} clients "
          f"(target {args.rate or 'max'} req/s): {len(lat) / result['elapsed']:.1f} requests/s")
    print(f"latency    p50 {q[49] * 1e3:.1f} ms, p90 {q[89] * 1e3:.1f} ms, p99 {q[98] * 1e3:.1f} ms, "
          f"max {lat[-1] * 1e3:.1f} ms")
    print(f"errors     {len(result['errors'])}" + (f" (first: {result['errors'][0]})" if result["errors"] else ""))
    print(f"history    {args.history_posts} posts, {posted} records posted; records before {before}, after "
          f"{after} (in the store: {stored}); every posted record stored: {not missing and stored == before + posted}"
          + (f" ({len(missing)} missing, first {missing[0]})" if missing else ""))
    for line in result["write_errors"]:
        print(f"           {line}")
    if args.train:
        print(f"training   job {job.get('id')}: {job.get('status')}, version {job.get('version')}, "
              f"{job.get('result', {}).get('seconds')} s; active before {result['before']['active_version']}, "
              f"after {result['after']['active_version']}" + (f"; error: {job.get('error')}" if job.get("error")
                                                              else ""))
    print(f"load avg   {' '.join(f'{x:.2f}' for x in result['load'][0])} at the start, "
          f"{' '.join(f'{x:.2f}' for x in result['load'][1])} at the end ({os.cpu_count()} cores)")
    ok = not result["errors"] and not result["write_errors"] and not missing and stored == before + posted
    return ok and (not args.train or job.get("status") == "succeeded")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, help="a trained workspace (default: a fresh sfda11 one)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent query connections")
    parser.add_argument("--rate", type=float, default=250.0, help="target requests/s in all (0: unpaced)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=50_000, help="stop after this many queries")
    parser.add_argument("--history-posts", type=int, default=10)
    parser.add_argument("--no-train", dest="train", action="store_false", help="no training during the run")
    parser.add_argument("--train-timeout", type=float, default=300.0, help="seconds to wait for the training")
    parser.add_argument("--quick", action="store_true", help="5 s, no training")
    parser.add_argument("--server-log", action="store_true", help="print the end of the server's log")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.train = 5.0, False
    with tempfile.TemporaryDirectory(prefix="fennec-load-") as tmp:
        workspace = args.workspace or Path(tmp) / "ws"
        if args.workspace is None:
            print("preparing a workspace from sfda11 (init + train)...", flush=True)
            prepare_workspace(workspace)
        token, port = secrets.token_urlsafe(16), free_port()
        log = Path(tmp) / "server.log"
        server = start_server(workspace, port, token, log)
        try:
            result = asyncio.run(load(args, port, token, server))
        finally:
            server.terminate()
            server.wait(30)
            if args.server_log:
                print(log.read_text()[-4000:])
        return 0 if report(result, args, workspace) else 1


if __name__ == "__main__":
    sys.exit(main())
