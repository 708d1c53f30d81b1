"""The training run behind ``POST /train``, in a process of its own.

``python -m fennec.serve._train_job WORKSPACE PARENT_PID [--incremental] [--nice N] [--threads N]``

- it runs at a lower priority (``nice``) with torch on few threads, so the server's queries keep their latency on a
  machine with few cores, and the server's interpreter lock stays free for them;
- it ends at once when the server that started it is gone (``kill -9`` included; on Linux the kernel kills it):
  a training nobody waits for would publish a version behind the back of the next server;
- it holds an exclusive lock on ``WORKSPACE/.train.lock`` while it runs, so two trainings never run at once, even
  across a server restart;
- the new version is written by :meth:`fennec.workspace.Workspace.new_version` (a temporary directory renamed
  when complete, then ``CURRENT`` replaced atomically): dying at any point leaves the last good version current;
- its last line on stdout is one JSON object: the version's metadata, or ``{"error", "hint"}``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".train.lock"


def _exit_with_parent(parent: int, every: float = 0.2) -> None:
    """End this process as soon as its parent is no longer ``parent`` (it died and we were re-parented).

    On Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``): at once, even while this
    process is deep in an import or a torch kernel and, niced on a busy machine, gets little CPU. Elsewhere (and in
    addition) a thread polls the parent's pid.
    """
    _kill_with_parent()
    if os.getppid() != parent:  # the parent died before the kernel was told
        os._exit(3)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _kill_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1  # <linux/prctl.h>
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)


@contextlib.contextmanager
def training_lock(workspace: Path) -> Iterator[None]:
    """Hold ``WORKSPACE/.train.lock`` exclusively (released by the OS when the process dies)."""
    from fennec.errors import FennecError

    try:
        import fcntl
    except ImportError:  # not POSIX: the server's own one-at-a-time rule still holds
        yield
        return
    with open(workspace / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FennecError(f"Another training of {workspace} is running.",
                              hint="wait for it to finish (GET /train), then try again") from None
        yield


def run(workspace: str, incremental: bool) -> dict:
    """Train the workspace's space and return the new version's metadata."""
    from fennec.recommend import Recommender
    from fennec.workspace import Workspace

    ws = Workspace.open(workspace)
    tic = time.perf_counter()
    with training_lock(ws.path):
        version = Recommender(ws).train(incremental=incremental)
    meta = json.loads((ws.version_dir(version) / "version.json").read_text())
    return {**meta, "version": version, "seconds": round(time.perf_counter() - tic, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fennec.serve._train_job", description=__doc__.split("\n")[0])
    parser.add_argument("workspace")
    parser.add_argument("parent", type=int, help="pid of the server; this process ends when it is gone")
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    _exit_with_parent(args.parent)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(args.nice)
    import torch

    torch.set_num_threads(args.threads)
    from fennec.errors import FennecError

    try:
        result = run(args.workspace, args.incremental)
    except FennecError as exc:
        print(json.dumps({"error": exc.message, "hint": exc.hint}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by fennec.serve.jobs
    sys.exit(main())
