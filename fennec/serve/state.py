"""What the service holds in memory: the workspace, the version that answers queries, the history store, the cards.

Queries are answered from the *active* version, loaded once and kept in memory by the long-lived
:class:`~fennec.recommend.Recommender`. A training run (:mod:`fennec.serve.jobs`) publishes a new version on disk
(atomically, see :meth:`fennec.workspace.Workspace.new_version`); :meth:`ServiceState.activate` then loads it and
warms it up with one query *before* switching, and the switch itself is one attribute assignment: a query reads
``active`` once at its start, so it is answered wholly by the old version or wholly by the new one.
"""
from __future__ import annotations

import contextlib
import json
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from fennec.cards import TaskCard
from fennec.errors import InputError, UnknownNameError
from fennec.recommend import Recommender
from fennec.workspace import Workspace, WorkspaceError

__all__ = ["PathNotAllowedError", "ServiceState"]


class PathNotAllowedError(InputError):
    """A server-side task path lies outside the folders the service was started with (``--task-root``)."""


class ServiceState:
    """The workspace of one ``fennec serve`` process and what it keeps in memory.

    Parameters
    ----------
    workspace : Workspace
        The opened workspace.
    task_roots : sequence of path, optional
        Folders under which ``POST /recommend {"path": ...}`` may read a task (none: server-side paths are refused).

    Attributes
    ----------
    active : str or None
        The version answering queries (None before the first training).
    recommender : Recommender
        Keeps the loaded versions in memory.
    history : TransferHistory
        The workspace's store (SQLite in WAL mode, one connection per thread).
    """

    def __init__(self, workspace: Workspace, task_roots: Sequence[str | Path] = ()) -> None:
        self.workspace = workspace
        self.task_roots = tuple(Path(p).resolve() for p in task_roots)
        self.recommender = Recommender(workspace)
        self.history = workspace.history()
        self.active: str | None = workspace.current_version()
        self._cards: tuple[float, dict[str, TaskCard]] | None = None
        self._images = threading.Lock()  # one image task at a time: proxies and metrics use every core already
        self._plotting = threading.Lock()  # matplotlib's pyplot keeps global state

    # ------------------------------------------------------------------ versions
    def activate(self, version: str) -> None:
        """Load ``version``, answer one warm-up query with it, then make it the active version (one assignment)."""
        self._warm_up(version)
        self.active = version

    def warm_up(self) -> None:
        """Load the active version and the proxies a query needs, so that the first request is as fast as the rest."""
        if self.active is not None:
            self._warm_up(self.active)

    def _warm_up(self, version: str) -> None:
        cards = self.task_cards()
        card = next(iter(cards.values()), None) or TaskCard("warm-up", description="an image classification task")
        self.recommender.recommend(card, k=1, fallback="none", explain=False, version=version)

    def versions(self) -> dict[str, Any]:
        """The active version, the workspace's current one (on disk) and every complete version with its metadata."""
        listed = []
        for name in self.workspace.versions():
            meta = json.loads((self.workspace.version_dir(name) / "version.json").read_text())
            listed.append({"version": name, **meta})
        return {"active": self.active, "current": self.workspace.current_version(), "versions": listed}

    def _version(self, requested: str | None) -> str:
        version = requested or self.active
        if version is None:
            raise WorkspaceError(f"Workspace {self.workspace.path} has no trained space yet.",
                                 hint="train one: POST /train (or fennec train -w WORKSPACE)")
        return version

    # ------------------------------------------------------------------ tasks
    def task_cards(self) -> dict[str, TaskCard]:
        """The workspace's task cards (re-read when ``cards/tasks.json`` changes)."""
        path = self.workspace.path / "cards" / "tasks.json"
        stamp = path.stat().st_mtime_ns if path.exists() else 0.0
        if self._cards is None or self._cards[0] != stamp:
            self._cards = (stamp, self.workspace.task_cards())
        return self._cards[1]

    def stored_task(self, name: str) -> TaskCard:
        """The card of a task the workspace knows (its cards, else its history: a card with the name only)."""
        card = self.task_cards().get(name)
        if card is not None:
            return card
        if name in set(self.history.tasks()):
            return TaskCard(name, description=name)
        raise UnknownNameError.of("task", name, set(self.task_cards()) | set(self.history.tasks()))

    def path_task(self, path: str, **sampling: Any) -> Any:
        """A task folder or manifest on the server, read only under the ``task_roots``."""
        from fennec.tasks import load_task

        resolved = Path(path).expanduser().resolve()
        if not any(resolved.is_relative_to(root) for root in self.task_roots):
            roots = ", ".join(map(str, self.task_roots)) or "none"
            raise PathNotAllowedError(f"The server reads task folders only under its task roots ({roots}); "
                                      f"{path!r} is outside them.",
                                      hint="upload the images instead, or start the server with --task-root DIR")
        return load_task(resolved, **sampling)

    @contextlib.contextmanager
    def image_task(self) -> Iterator[list[str]]:
        """Serialise queries that read images; collect the library's warnings (skipped files...) as lines."""
        with self._images, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lines: list[str] = []
            yield lines
            lines.extend(str(w.message) for w in caught)

    # ------------------------------------------------------------------ queries
    def recommend(self, task: Any, *, k: int = 10, fallback: str = "auto", explain: bool = False,
                  plot: bool = False, version: str | None = None) -> dict[str, Any]:
        """``Recommender.recommend`` from the active version, as JSON (plus the ranking plot as a PNG data URL)."""
        images = hasattr(task, "iter_batches")
        result = self.recommender.recommend(task, k=k, fallback=fallback if images else "none", explain=explain,
                                            version=self._version(version))
        payload = result.to_json()
        if plot:
            payload["plot"] = self._plot(result)
        return payload

    def next(self, task: Any, tried: Mapping[str, float], *, k: int = 3, candidates: list[str] | None = None,
             dataset: str | None = None, version: str | None = None) -> dict[str, Any]:
        """``Recommender.next`` from the active version, as JSON."""
        picks = self.recommender.next(task, tried, k=k, candidates=candidates, dataset=dataset,
                                      version=self._version(version))
        return picks.to_json()

    def _plot(self, result: Any) -> str:
        import base64
        import tempfile

        from fennec.plots import plot_recommendation

        with self._plotting, tempfile.TemporaryDirectory(prefix="fennec-plot-") as tmp:
            path = plot_recommendation(result, self.workspace, Path(tmp) / "ranking.png")
            return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")

    # ------------------------------------------------------------------ records
    def add_records(self, data: pd.DataFrame | Path, source: str | None) -> dict[str, Any]:
        """Append records, all or nothing (validated as ``fennec history add`` does); what changed."""
        before_models, before_tasks = set(self.history.models()), set(self.history.tasks())
        n = self.history.add(data, source=source, name="the posted records")
        return {"added": n, "records": self.history.n_records,
                "new_models": sorted(set(self.history.models()) - before_models),
                "new_tasks": sorted(set(self.history.tasks()) - before_tasks)}

    def models(self) -> dict[str, Any]:
        """The models of the active version with their cards and how many records each has."""
        version = self._version(None)
        space = self.recommender.space(version)
        cards = self.workspace.model_cards()
        counts = self.history.records(aggregate="best")["model"].value_counts()
        rows = []
        for model in space.model_ids_:
            card = asdict(cards[model]) if model in cards else {}
            card.pop("name", None), card.pop("extra", None)
            rows.append({"model": model, "n_tasks": int(counts.get(model, 0)), **card})
        return {"version": version, "models": rows}

    def tasks(self) -> dict[str, Any]:
        """The tasks of the workspace (cards and history), with their size and label names."""
        cards = self.task_cards()
        counts = self.history.records(aggregate="best")["task"].value_counts()
        names = list(cards) + [t for t in self.history.tasks() if t not in cards]
        rows = []
        for name in names:
            card = cards.get(name, TaskCard(name))
            rows.append({"name": name, "n_models": int(counts.get(name, 0)), "n_classes": card.n_classes,
                         "n_train": card.n_train, "description": card.description,
                         "label_names": list(card.label_names), "domain": card.domain})
        return {"tasks": rows}
