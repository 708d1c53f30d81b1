"""A workspace: one directory that holds a team's transfer history, cards, config and trained spaces.

Layout::

    DIR/
      workspace.json        format version (a newer or older format is refused with a clear message)
      config.yaml           proxies, space hyper-parameters, fallback policy (edit freely)
      history.sqlite        the transfer history (:class:`fennec.history.TransferHistory`)
      cards/models.json     model cards (name, architecture, metadata)
      cards/tasks.json      task cards (label names, size, description)
      versions/v0001/ ...   one trained space (+ index) per training run
      CURRENT               the name of the version in use

Training never leaves a half-written state: a new version is built in a temporary directory, renamed into
``versions/`` when complete, and only then ``CURRENT`` is switched by an atomic ``os.replace``. Killing a training
run at any point leaves the previous version in use and loadable; stale temporary directories are removed by the
next run.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from .cards import ModelCard, TaskCard
from .files import write_atomic
from .errors import FennecError, InputError
from .side_features import DEFAULT_TASK_PROXIES

__all__ = ["Workspace", "WorkspaceError", "DEFAULT_CONFIG", "FORMAT_VERSION"]

FORMAT_VERSION = 1
DEFAULT_CONFIG: dict[str, Any] = {
    # side features of every task (they need no images): proxy -> parts of its vector (null: all of them)
    "task_proxies": {name: list(parts) for name, parts in DEFAULT_TASK_PROXIES.items()},
    "image_proxy": "default",              # embeds a task's images (clip, default; null: none)
    "space": {},                           # TransferSpace hyper-parameters overriding configs/space.yaml
    "fallback": {"metric": "sfda", "above_regret": 0.02, "top": 5},
    "intervals": [0.8, 0.9],
    "next": {"min_gain": 0.005},
}


class WorkspaceError(FennecError, ValueError):
    """The directory is not a usable workspace (missing, not a workspace, another format version)."""


class Workspace:
    """A fennec workspace directory (see the module docstring for its layout).

    Use :meth:`create` for a new one and :meth:`open` for an existing one.

    Examples
    --------
    >>> import tempfile
    >>> ws = Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.current_version() is None
    True
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- creation and opening ------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config: Mapping[str, Any] | None = None) -> "Workspace":
        """Create an empty workspace at ``path`` (which must not be a non-empty directory)."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise WorkspaceError(f"Cannot create a workspace at {path}: it exists and is not an empty directory.",
                                 hint="choose a new directory, or delete this one first")
        path.mkdir(parents=True, exist_ok=True)
        (path / "versions").mkdir()
        write_atomic(path / "config.yaml", yaml.safe_dump({**DEFAULT_CONFIG, **(config or {})}, sort_keys=False))
        write_atomic(path / "workspace.json", json.dumps({"format": FORMAT_VERSION}))
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Workspace":
        """Open an existing workspace, refusing missing directories and other format versions."""
        path = Path(path)
        marker = path / "workspace.json"
        if not path.is_dir():
            raise WorkspaceError(f"Workspace {path} does not exist.", hint=f"create it with: fennec init {path}")
        if not marker.is_file():
            raise WorkspaceError(f"{path} is not a fennec workspace (no workspace.json).",
                                 hint=f"create one with: fennec init {path}")
        try:
            found = json.loads(marker.read_text()).get("format")
        except (json.JSONDecodeError, AttributeError):
            found = None
        if found != FORMAT_VERSION:
            raise WorkspaceError(
                f"Workspace {path} has format {found!r}; this fennec reads format {FORMAT_VERSION}.",
                hint="re-create it with `fennec init` and re-import its history (`fennec history add`)")
        return cls(path)

    # -- contents -------------------------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The workspace config (``config.yaml``) over the defaults."""
        try:
            loaded = yaml.safe_load((self.path / "config.yaml").read_text()) or {}
        except yaml.YAMLError as exc:
            raise WorkspaceError(f"{self.path / 'config.yaml'} is not valid YAML: {exc}") from None
        return {**DEFAULT_CONFIG, **loaded}

    @property
    def history_path(self) -> Path:
        return self.path / "history.sqlite"

    def history(self):
        """The workspace's :class:`~fennec.history.TransferHistory`."""
        from .history import TransferHistory

        return TransferHistory(self.history_path)

    def model_cards(self) -> dict[str, ModelCard]:
        return {name: ModelCard(**card) for name, card in self._read_cards("models").items()}

    def task_cards(self) -> dict[str, TaskCard]:
        cards = self._read_cards("tasks")
        return {name: TaskCard(**{**card, "label_names": tuple(card.get("label_names", ()))})
                for name, card in cards.items()}

    def add_cards(self, cards: Mapping[str, ModelCard | TaskCard]) -> None:
        """Add or replace model or task cards (all of one kind per call)."""
        kinds = {type(card) for card in cards.values()}
        if not cards:
            return
        if len(kinds) != 1 or not kinds <= {ModelCard, TaskCard}:
            raise InputError("add_cards takes cards of one kind: all ModelCard or all TaskCard.")
        kind = "models" if kinds == {ModelCard} else "tasks"
        merged = self._read_cards(kind) | {name: _jsonable(asdict(card)) for name, card in cards.items()}
        write_atomic(self.path / "cards" / f"{kind}.json", json.dumps(merged, indent=1, sort_keys=True))

    def _read_cards(self, kind: str) -> dict[str, dict[str, Any]]:
        path = self.path / "cards" / f"{kind}.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    # -- versions -------------------------------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Complete trained versions, oldest first."""
        return sorted(p.name for p in (self.path / "versions").glob("v[0-9]*") if (p / "version.json").is_file())

    def current_version(self) -> str | None:
        """The version in use (None before the first training)."""
        current = self.path / "CURRENT"
        if not current.is_file():
            return None
        name = current.read_text().strip()
        return name if (self.path / "versions" / name / "version.json").is_file() else None

    def version_dir(self, version: str | None = None) -> Path:
        """Directory of ``version`` (default: the current one)."""
        version = version or self.current_version()
        if version is None:
            raise WorkspaceError(f"Workspace {self.path} has no trained space yet.", hint="run: fennec train")
        path = self.path / "versions" / version
        if not (path / "version.json").is_file():
            raise WorkspaceError(f"Version {version!r} of {self.path} does not exist. Known: {self.versions()}.")
        return path

    @contextlib.contextmanager
    def new_version(self, meta: Mapping[str, Any] | None = None) -> Iterator[Path]:
        """Build a new version in a temporary directory; on success publish it and make it current.

        If the body raises (or the process dies), nothing is published and the current version stays in use.
        """
        versions_dir = self.path / "versions"
        for stale in versions_dir.glob(".building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        building = Path(tempfile.mkdtemp(dir=versions_dir, prefix=".building-"))
        try:
            yield building
            existing = [int(v[1:]) for v in self.versions()]
            name = f"v{(max(existing) + 1) if existing else 1:04d}"
            write_atomic(building / "version.json", json.dumps({"version": name, **(meta or {})}, indent=1))
            os.replace(building, versions_dir / name)
            write_atomic(self.path / "CURRENT", name)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
