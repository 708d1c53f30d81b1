"""Writing files so that a reader sees the old or the new content, never a partial file."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike, payload: str | bytes) -> None:
    """Write ``payload`` (text as UTF-8) to ``path`` through a temporary file in the same directory, flushed to disk
    and renamed over ``path``; the file is readable by everyone (0644), as files written with ``open`` usually are.
    The directory is created if missing; on any error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make shared workspaces and committed artefacts private
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
