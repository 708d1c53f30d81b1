"""The resumable generator: pre-train the zoo, compute the target task cards, fine-tune every (model, target) pair.

Work is a list of small units, each saved as soon as it finishes, so a run can stop anywhere (``max_minutes``,
Ctrl-C) and the next run goes on where it stopped:

1. ``pretrain <model>``: pre-train on its source task, save ``weights/<model>.safetensors`` and its card;
2. ``card <task>``: export the task's images, embed them with the default proxy, score every zoo model's
   pre-trained features on the training images with LogME and SFDA; ``source <task>`` (same stage): the default
   proxy's embedding of a source task's training images, in ``sources.json`` (what the zoo models were trained on,
   for the pairwise term's ``image`` view);
3. ``finetune <task> <model>``: one run per learning rate of the protocol, appended to ``runs.csv``
   (task-major order, so a partial run leaves complete tasks).

``records.csv`` is derived from ``runs.csv`` after every run.
"""
from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from fennec.errors import InputError

from . import _store as store
from ._tasks import SEED, SOURCE_TASKS, TARGET_TASKS, TASKS, get_task
from ._train import PROTOCOL, RECIPE, Protocol, Recipe, features, finetune, load_pretrained, pretrain
from ._zoo import ARCHS, INPUT_SIZE, MEAN, STD, ZOO, split_model_id

__all__ = ["Generator", "RUN_COLUMNS", "RECORD_METRIC", "select_records"]

RUN_COLUMNS = ("model", "task", "lr", "val_accuracy", "test_accuracy", "seconds")
RECORD_METRIC = "test_accuracy"
STAGES = ("pretrain", "card", "finetune")


def select_records(runs: pd.DataFrame, protocol: Protocol = PROTOCOL, n_train: dict[str, int] | None = None
                   ) -> pd.DataFrame:
    """One record per (model, task): the test accuracy of the run with the best validation accuracy (ties: the
    smaller learning rate), with the protocol's columns."""
    if runs.empty:
        return pd.DataFrame(columns=["model", "task", "value"])
    ordered = runs.sort_values(["model", "task", "val_accuracy", "lr"], ascending=[True, True, False, True])
    best = ordered.groupby(["model", "task"], sort=True).head(1).reset_index(drop=True)
    records = pd.DataFrame({
        "model": best["model"], "task": best["task"], "value": best["test_accuracy"], "metric": RECORD_METRIC,
        "lr": best["lr"], "val_accuracy": best["val_accuracy"], "seed": protocol.seed, "epochs": protocol.epochs,
        "batch_size": protocol.batch_size, "lr_grid": " ".join(f"{lr:g}" for lr in protocol.lrs),
        "n_train": best["task"].map(n_train or {}), "protocol": protocol.name})
    return records.sort_values(["task", "model"]).reset_index(drop=True)


@dataclass
class Generator:
    """Builds the mini-zoo's artefacts into ``out`` (resumable; see the module docstring).

    Parameters
    ----------
    out : Path
        Artefact directory (default: the package's ``data/``, i.e. the committed artefacts).
    cache : Path
        Where rendered tasks and exported images live.
    models, tasks : sequence of str
        The zoo models and target tasks to cover (default: all).
    recipe, protocol : Recipe, Protocol
        Pre-training recipe and fine-tuning protocol.
    """

    out: Path = store.DATA_DIR
    cache: Path = field(default_factory=store.default_cache)
    models: tuple[str, ...] = ZOO
    tasks: tuple[str, ...] = TARGET_TASKS
    recipe: Recipe = RECIPE
    protocol: Protocol = PROTOCOL

    def __post_init__(self) -> None:
        self.out, self.cache = Path(self.out), Path(self.cache)
        for model in self.models:
            split_model_id(model)
        for task in self.tasks:
            if get_task(task).is_source:
                raise InputError(f"`tasks` of Generator must be target tasks. Got source task {task!r} instead.",
                                 hint=f"targets: {', '.join(TARGET_TASKS)}")

    # ------------------------------------------------------------------------------------------- bookkeeping ---
    @property
    def runs_path(self) -> Path:
        return self.out / "runs.csv"

    def weights_path(self, model: str) -> Path:
        return self.out / "weights" / f"{model}.safetensors"

    def runs(self) -> pd.DataFrame:
        """Every fine-tuning run recorded so far."""
        if not self.runs_path.exists():
            return pd.DataFrame(columns=list(RUN_COLUMNS))
        return pd.read_csv(self.runs_path)

    def model_cards(self) -> dict[str, Any]:
        return store.read_json(self.out / "models.json", {})

    def task_cards(self) -> dict[str, Any]:
        return store.read_json(self.out / "tasks.json", {})

    def source_cards(self) -> dict[str, Any]:
        return store.read_json(self.out / "sources.json", {})

    def pending(self, stages: Iterable[str] = STAGES) -> list[tuple[str, ...]]:
        """Units not done yet, in execution order."""
        stages = set(stages)
        cards, models = self.task_cards(), self.model_cards()
        done_pairs = set(zip(*[self.runs()[c] for c in ("task", "model")]))
        units: list[tuple[str, ...]] = []
        if "pretrain" in stages:
            units += [("pretrain", m) for m in self.models if m not in models or not self.weights_path(m).exists()]
        if "card" in stages:
            units += [("card", t) for t in self.tasks if self._unscored(cards.get(t, {}))]
            sources = self.source_cards()
            units += [("source", t) for t in sorted({split_model_id(m)[1] for m in self.models}) if t not in sources]
        if "finetune" in stages:
            units += [("finetune", t, m) for t in self.tasks for m in self.models if (t, m) not in done_pairs]
        return units

    def _unscored(self, card: dict[str, Any]) -> list[str]:
        """The zoo models a task card has no metric scores for (all of them when the card is missing)."""
        scored = card.get("extra", {}).get("scores", {}).get("logme", {})
        return [m for m in self.models if m not in scored]

    def status(self) -> dict[str, Any]:
        """Counts of done and pending units per stage, measured seconds and an estimate of what is left."""
        runs, models = self.runs(), self.model_cards()
        pending = self.pending()
        per_pair = runs.groupby(["task", "model"])["seconds"].sum()
        pretrain_s = [models[m]["pretrain_seconds"] for m in models]
        card_s = [c["extra"].get("card_seconds", 0.0) for c in self.task_cards().values() if "extra" in c]
        mean = {"pretrain": float(np.mean(pretrain_s)) if pretrain_s else None,
                "card": float(np.mean(card_s)) if card_s else None,
                "finetune": float(per_pair.mean()) if len(per_pair) else None}
        left = {stage: sum(1 for u in pending if u[0] == stage) for stage in STAGES}
        totals = {"pretrain": len(self.models), "card": len(self.tasks), "finetune": len(self.models) * len(self.tasks)}
        estimate = sum(left[s] * (mean[s] or 0.0) for s in STAGES)
        return {"done": {s: totals[s] - left[s] for s in STAGES}, "total": totals, "mean_seconds": mean,
                "spent_seconds": float(sum(pretrain_s) + sum(card_s) + runs["seconds"].sum()),
                "estimated_seconds_left": estimate}

    # ------------------------------------------------------------------------------------------------- running ---
    def run(self, max_minutes: float | None = None, stages: Iterable[str] = STAGES) -> dict[str, Any]:
        """Run pending units until done or until ``max_minutes`` have passed (a unit in progress finishes).

        Returns
        -------
        dict
            ``{"ran": n_units, "left": n_units, "seconds": wall time}``.
        """
        torch.set_num_threads(1)  # reproducible results, and one core of a shared machine
        start = time.monotonic()
        deadline = start + 60 * max_minutes if max_minutes else None
        units = self.pending(stages)
        ran = 0
        with tqdm(units, desc="minizoo generate", unit="unit", disable=None) as bar:
            for unit in bar:
                if deadline and time.monotonic() > deadline:
                    break
                bar.set_postfix_str(" ".join(unit[1:]))
                if not getattr(self, f"_{unit[0]}")(*unit[1:]):
                    continue
                ran += 1
        self.write_records()
        return {"ran": ran, "left": len(self.pending(stages)), "seconds": time.monotonic() - start}

    def _pretrain(self, model: str) -> bool:
        from safetensors.torch import save_file

        arch, source = split_model_id(model)
        started = time.monotonic()
        state, val_accuracy = pretrain(model, store.load_built(self.cache, TASKS[source]), self.recipe)
        seconds = time.monotonic() - started
        path = self.weights_path(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(path), metadata={"model": model, "timm_name": arch.timm_name, "source": source})
        cards = self.model_cards()
        cards[model] = {"arch": arch.name, "timm_name": arch.timm_name, "family": arch.family,
                        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in arch.overrides.items()},
                        "source": source, "source_domain": TASKS[source].domain,
                        "n_params": int(sum(v.numel() for v in state.values() if v.is_floating_point())),
                        "source_val_accuracy": val_accuracy, "pretrain_seconds": round(seconds, 2)}
        store.write_json(self.out / "models.json", dict(sorted(cards.items())))
        return True

    def load_weights(self, model: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self.weights_path(model)))

    def _card(self, task: str) -> bool:
        from fennec import metrics

        if any(not self.weights_path(m).exists() for m in self.models):
            return False  # scores need every model's pre-trained weights
        started = time.monotonic()
        spec = get_task(task)
        built = store.load_built(self.cache, spec)
        folders = store.export_images(self.cache, built)
        x, y = built.split("train")
        cards = self.task_cards()
        old = cards.get(task, {}).get("extra", {})
        # a zoo that grows keeps the scores and the embedding it has: only the new models are scored
        scores: dict[str, dict[str, float]] = old.get("scores", {"logme": {}, "sfda": {}})
        for model in self._unscored(cards.get(task, {})):
            feats = features(load_pretrained(model, self.load_weights(model)), x).astype(np.float64)
            for metric in scores:
                scores[metric][model] = float(metrics.get(metric)(feats, y))
        embedding = old.get("proxy", {}).get("default") or _embed(task, built.labels, folders["train"])
        card = {"name": task, "n_classes": len(built.labels), "n_train": int(len(y)), "label_names": list(built.labels),
                "description": spec.description, "domain": spec.domain,
                "extra": {"provenance": spec.provenance, "licence": spec.licence, "packages": list(spec.packages),
                          "sizes": {s: int(len(built.arrays[f"y_{s}"])) for s in folders}, "split": spec.split,
                          "proxy": {"default": embedding},
                          "scores": {m: dict(sorted(v.items())) for m, v in scores.items()}}}
        card["extra"]["card_seconds"] = round(old.get("card_seconds", 0.0) + time.monotonic() - started, 2)
        cards[task] = card
        store.write_json(self.out / "tasks.json", {t: cards[t] for t in TARGET_TASKS if t in cards})
        return True

    def _source(self, task: str) -> bool:
        built = store.load_built(self.cache, get_task(task))
        folders = store.export_images(self.cache, built)
        cards = self.source_cards()
        cards[task] = {"name": task, "label_names": list(built.labels),
                       "proxy": {"default": _embed(task, built.labels, folders["train"])}}
        store.write_json(self.out / "sources.json", {t: cards[t] for t in SOURCE_TASKS if t in cards})
        return True

    def _finetune(self, task: str, model: str) -> bool:
        if not self.weights_path(model).exists():
            return False
        started = time.monotonic()
        rows = finetune(model, self.load_weights(model), store.load_built(self.cache, get_task(task)), self.protocol)
        seconds = (time.monotonic() - started) / len(rows)
        new = not self.runs_path.exists()
        self.runs_path.parent.mkdir(parents=True, exist_ok=True)
        with self.runs_path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(RUN_COLUMNS)
            for row in rows:
                writer.writerow([model, task, f"{row['lr']:g}", f"{row['val_accuracy']:.6f}",
                                 f"{row['test_accuracy']:.6f}", f"{seconds:.2f}"])
        return True

    def write_records(self) -> Path:
        """Derive ``records.csv`` from ``runs.csv`` and write ``manifest.json`` (seeds, recipe, protocol, specs)."""
        n_train = {t: c["n_train"] for t, c in self.task_cards().items()}
        n_train.update({t: get_task(t).sizes[0] for t in self.tasks if t not in n_train})
        records = select_records(self.runs(), self.protocol, n_train)
        path = self.out / "records.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        records.to_csv(path, index=False, float_format="%.6f")
        store.write_json(self.out / "manifest.json", {
            "name": "minizoo", "task_seed": SEED, "input_size": INPUT_SIZE, "mean": list(MEAN), "std": list(STD),
            "recipe": self.recipe.to_dict(), "protocol": self.protocol.to_dict(), "record_metric": RECORD_METRIC,
            "sources": list(SOURCE_TASKS), "targets": list(TARGET_TASKS),
            "archs": {a.name: {"timm_name": a.timm_name, "family": a.family} for a in ARCHS.values()},
            "tasks": {name: spec.card_fields() for name, spec in TASKS.items()}})
        return path


def _embed(task: str, labels: tuple[str, ...], folder: Path) -> dict[str, Any]:
    """The default proxy's embedding of the task's training images, JSON-ready (6 significant digits)."""
    from fennec.cards import TaskCard
    from fennec.proxy import create_proxy

    embedded = create_proxy("default").embed(TaskCard(task, n_classes=len(labels), label_names=labels,
                                                      image_dir=str(folder))).to_dict()
    embedded["vector"] = [float(f"{v:.6g}") for v in embedded["vector"]]
    return embedded
