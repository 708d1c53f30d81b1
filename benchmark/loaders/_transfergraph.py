"""TransferGraph: 180 Hugging Face image models fully fine-tuned on 13 image classification datasets."""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pandas as pd

from .._types import Benchmark
from ._cards import config_extra, hub_card, task_card
from ._fetch import resolve, resolve_optional
from ._longform import best_per_pair, check_records
from ._timm import timm_results

__all__ = ["load_transfergraph", "TARGETS8", "SCORE_METRICS"]

_DIR = "transfergraph/"
CITATION = ("Li et al., 'Model Selection with Model Zoo via Graph Learning' (TransferGraph), ICDE 2024: fine-tuning "
            "records, LogME / regularized H-score, ViT-B/16 domain distances. Values are test accuracy in [0, 1].")

#: The 8 targets TransferGraph reports results on.
TARGETS8 = ("stanfordcars", "svhn", "caltech101", "pets", "cifar100", "flowers", "smallnorb_label_elevation", "dtd")

#: TransferGraph's metric names -> the names used in task cards.
SCORE_METRICS = {"TransferabilityMethod.LOG_ME": "logme", "TransferabilityMethod.REG_H_SCORE": "hscore"}


def _records(data_dir: str | os.PathLike | None) -> pd.DataFrame:
    path = resolve(_DIR + "records.csv", data_dir)
    raw = pd.read_csv(path).rename(columns={"finetuned_dataset": "task", "eval_accuracy": "value"})
    # The released table has one run per pair; should a pair repeat, its best run counts (as for user tables).
    records = best_per_pair(check_records(raw[["model", "task", "value"]], repr(str(path))))
    return records.assign(metric="eval_accuracy")


def _scores(data_dir: str | os.PathLike | None, models: set[str]) -> dict[str, dict[str, dict[str, float]]]:
    """``{task: {metric: {model: score}}}`` from ``transferability_score_records.csv``.

    The table's own values are kept. Two lines of the released file are truncated (no metric, no model) and are
    skipped; they are H-score lines, and the LogME lines of those two pairs (WinKawaks/vit-small-patch16-224 on
    stanfordcars, johnnydevriese/vit_beans on caltech101) are absent from the file altogether. 60 models have two
    LogME / H-score runs on dtd (the scores differ in the 3rd decimal); the later line of the file is kept. Scores
    of models without fine-tuning records are left out.
    """
    path = resolve_optional(_DIR + "transferability_score_records.csv", data_dir,
                            "task cards will have no 'logme' / 'hscore' scores")
    if path is None:
        return {}
    table = pd.read_csv(path, usecols=["model", "target_dataset", "metric", "score"])
    table = table[table["metric"].isin(list(SCORE_METRICS)) & table["model"].isin(models) & table["score"].notna()]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for model, task, metric, score in zip(table["model"], table["target_dataset"], table["metric"], table["score"]):
        out.setdefault(task, {}).setdefault(SCORE_METRICS[metric], {})[model] = float(score)  # later line wins
    return out


def _domain_distances(data_dir: str | os.PathLike | None) -> pd.DataFrame | None:
    """The symmetric dataset-to-dataset distance matrix (0 on the diagonal: smaller = more similar)."""
    path = resolve_optional(_DIR + "corr_domain_similarity_google_vit_base_patch16_224_imagenet.csv", data_dir,
                            "task cards will have no 'domain_similarity'")
    return pd.read_csv(path, index_col=0) if path is not None else None


def _domain_key(config: dict[str, Any] | None, names: set[str]) -> str | None:
    """Row of the distance matrix for a model's own training data (its label list, or its dataset name)."""
    for col in ("labels", "dataset"):
        value = (config or {}).get(col)
        if isinstance(value, str) and value in names:
            return value
    return None


def _task_cards(tasks: list[str], targets: tuple[str, ...] | None, data_dir: str | os.PathLike | None,
                scores: dict, distances: pd.DataFrame | None) -> dict:
    features = pd.read_csv(resolve(_DIR + "target_dataset_features.csv", data_dir)).set_index("finetune_dataset")
    cards = {}
    for task in tasks:
        extra: dict[str, Any] = {"target": targets is None or task in targets}
        n_train = int(features.loc[task, "size"]) if task in features.index else None
        if task in features.index:
            extra["source_n_classes"] = int(features.loc[task, "number_of_classes"])
        if task in scores:
            extra["scores"] = scores[task]
        if distances is not None and task in distances.index:
            row = distances.loc[task].drop(task)
            extra["domain_similarity"] = {str(k): float(v) for k, v in row.items()}
            extra["domain_similarity_is_distance"] = True
        card = task_card("transfergraph", task, n_train=n_train, extra=extra)
        if card.n_classes is not None and extra.get("source_n_classes", card.n_classes) != card.n_classes:
            # e.g. flowers: the table says 10 classes for Oxford Flowers-102; caltech101: 101 for TFDS's 102.
            card = replace(card, extra={**card.extra, "source_n_classes_disagrees": True})
        cards[task] = card
    return cards


def load_transfergraph(data_dir: str | os.PathLike | None = None, targets: tuple[str, ...] | None = None
                       ) -> Benchmark:
    """TransferGraph's records (task = ``finetuned_dataset``, value = ``eval_accuracy``) with cards.

    Parameters
    ----------
    data_dir : path-like, optional
        The data directory (``FENNEC_DATA`` by default).
    targets : tuple of str, optional
        The evaluation targets. All 13 tasks stay in the records (the other tasks are history a method may learn
        from); task cards say ``extra["target"]`` True for the targets and False for the others. ``None``: all tasks
        are targets.

    Notes
    -----
    Task cards carry LogME (``logme``) and regularized H-score (``hscore``) in ``extra["scores"]`` for TransferGraph's
    8 scored targets, and ``extra["domain_similarity"]``: the ViT-B/16 domain *distance* to every other dataset of
    TransferGraph's matrix (other tasks and the models' own training sets, keyed by the matrix's names; smaller =
    more similar). A model card's ``extra["domain_key"]`` names its own training set's row in that matrix.
    """
    records = _records(data_dir)
    models = sorted(records["model"].unique())
    distances = _domain_distances(data_dir)
    config_path = resolve(_DIR + "model_config_dataset.csv", data_dir)
    configs = pd.read_csv(config_path).set_index("model").to_dict("index")
    timm = timm_results(data_dir)
    names = set(distances.index) if distances is not None else set()
    model_cards = {}
    for m in models:
        extra = config_extra(configs.get(m))
        key = _domain_key(configs.get(m), names)
        if key is not None:
            extra["domain_key"] = key
        model_cards[m] = hub_card(m, configs.get(m), timm, extra)
    tasks = sorted(records["task"].unique())
    task_cards = _task_cards(tasks, targets, data_dir, _scores(data_dir, set(models)), distances)
    name = "transfergraph" if targets is None else f"transfergraph{len(targets)}"
    return Benchmark(name=name, records=records, model_cards=model_cards, task_cards=task_cards, citation=CITATION)
