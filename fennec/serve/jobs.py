"""The background training of ``POST /train``: one process at a time, its status, and the switch when it ends.

The training runs in a child process (:mod:`fennec.serve._train_job`): a ``kill -9`` of either side leaves the
workspace at its last good version, the server's interpreter lock stays free for queries, and the child runs at a
lower priority with torch on one thread. A watcher thread waits for the child; on success it hands the new version
to ``on_success`` (the server loads it, warms it up, then switches), and records the outcome in the job's status.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fennec.errors import FennecError, UnknownNameError

__all__ = ["TrainBusyError", "TrainJob", "TrainJobs"]

_LOG_TAIL = 2000  # characters of the child's stderr kept in a job's status


class TrainBusyError(FennecError, RuntimeError):
    """A training is already running (one at a time)."""


@dataclass
class TrainJob:
    """The status of one training run.

    Attributes
    ----------
    id : int
        Sequential id within this server process.
    status : {"running", "succeeded", "failed"}
    incremental : bool
    started_at, finished_at : str
        ISO 8601 times (UTC); ``finished_at`` is None while running.
    version : str or None
        The version it published (and that now answers queries), once succeeded.
    error, hint : str or None
        Why it failed.
    result : dict
        The new version's metadata (mode, record / model / task counts, seconds).
    log : str
        The end of its progress output.
    """

    id: int
    incremental: bool
    status: str = "running"
    started_at: str = field(default_factory=lambda: _now())
    finished_at: str | None = None
    version: str | None = None
    error: str | None = None
    hint: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    log: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TrainJobs:
    """Start training runs one at a time and keep their status.

    Parameters
    ----------
    workspace : path
        The workspace directory.
    on_success : callable
        Called with the new version's name when a run succeeds (before the job is marked succeeded).
    nice : int, default=10
        Priority increment of the training process.
    threads : int, default=1
        Torch threads of the training process.
    """

    def __init__(self, workspace: str | Path, on_success: Callable[[str], None], *, nice: int = 10,
                 threads: int = 1) -> None:
        self.workspace = Path(workspace)
        self.on_success = on_success
        self.nice = nice
        self.threads = threads
        self._jobs: dict[int, TrainJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None

    def start(self, incremental: bool = False) -> TrainJob:
        """Start a training run in the background; :class:`TrainBusyError` while another one runs.

        Call it from a thread that lives as long as the server (the app calls it on the event loop's thread): on
        Linux the child is killed when the thread that started it ends (``PR_SET_PDEATHSIG`` follows the thread).
        """
        with self._lock:
            running = self.running()
            if running is not None:
                raise TrainBusyError(f"Training job {running.id} is still running (started {running.started_at}).",
                                     hint=f"poll GET /train/{running.id} and post again when it has finished")
            job = TrainJob(next(self._ids), incremental)
            logs = tempfile.TemporaryDirectory(prefix="fennec-train-")
            # closed by _watch when the process ends (they outlive this block)
            out, err = (open(Path(logs.name) / name, "w+") for name in ("stdout", "stderr"))  # noqa: SIM115
            self._process = subprocess.Popen(self._command(incremental), stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL, env=self._env())
            self._jobs[job.id] = job
        threading.Thread(target=self._watch, args=(job, self._process, out, err, logs), daemon=True,
                         name=f"train-job-{job.id}").start()
        return job

    def running(self) -> TrainJob | None:
        """The job now running, if any."""
        return next((j for j in self._jobs.values() if j.status == "running"), None)

    def latest(self) -> TrainJob | None:
        """The most recent job, if any."""
        return self._jobs[max(self._jobs)] if self._jobs else None

    def get(self, job_id: int) -> TrainJob:
        """The job with this id (:class:`~fennec.errors.UnknownNameError` if none)."""
        if job_id not in self._jobs:
            raise UnknownNameError.of("training job", str(job_id), map(str, self._jobs))
        return self._jobs[job_id]

    def stop(self, timeout: float = 5.0) -> None:
        """End a running training (at server shutdown): the workspace keeps its last good version."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()

    # ------------------------------------------------------------------ internals
    def _command(self, incremental: bool) -> list[str]:
        command = [sys.executable, "-m", "fennec.serve._train_job", str(self.workspace), str(os.getpid()),
                   "--nice", str(self.nice), "--threads", str(self.threads)]
        return command + (["--incremental"] if incremental else [])

    def _env(self) -> dict[str, str]:
        threads = str(self.threads)
        return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}

    def _watch(self, job: TrainJob, process: subprocess.Popen, out: Any, err: Any, logs: Any) -> None:
        try:
            code = process.wait()
            out.seek(0), err.seek(0)
            outcome, log = _last_json(out.read()), _tail(err.read())
        finally:
            out.close(), err.close(), logs.cleanup()
        job.log = log
        if code == 0 and outcome.get("version"):
            try:
                self.on_success(outcome["version"])
            except Exception as exc:  # noqa: BLE001 - a published version the server cannot load: keep the old one active
                _fail(job, f"Trained {outcome['version']} but could not load it: {exc}", None)
                return
            job.version, job.result = outcome["version"], outcome
            job.status, job.finished_at = "succeeded", _now()
            return
        _fail(job, outcome.get("error") or f"The training process ended with status {code}.",
              outcome.get("hint") or ("see the job's log" if log else None))


def _fail(job: TrainJob, error: str, hint: str | None) -> None:
    job.error, job.hint = error, hint
    job.status, job.finished_at = "failed", _now()


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _tail(text: str) -> str:
    """The end of a progress log, each carriage-return-redrawn line reduced to its last state."""
    lines = [line.split("\r")[-1] for line in text.splitlines()]
    return "\n".join(line for line in lines if line.strip())[-_LOG_TAIL:]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

