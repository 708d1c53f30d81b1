"""SHiFT VTAB-1k: Hugging Face image models fine-tuned on the 19 VTAB tasks (800 train + 200 validation images)."""
from __future__ import annotations

import ast
import os
from typing import Any

import pandas as pd

from fennec.errors import HistoryFormatError

from .._types import Benchmark
from ._cards import config_extra, hub_card, task_card
from ._fetch import resolve, resolve_optional
from ._timm import timm_results

__all__ = ["load_shift", "SNOOPY_TASKS"]

_FILE = "shift/ftrecords.csv"
CITATION = ("Renggli et al., 'SHiFT: An Efficient, Flexible Search Engine for Transfer Learning', VLDB 2023 "
            "(fine-tuning records); 1-NN scores: Renggli et al., snoopy (DS3Lab/snoopy-paper). Values are test "
            "accuracy in [0, 1].")

#: The VTAB image data sets among SHiFT's ``train_dataset_name`` (the text tasks are left out).
_VTAB_DATASETS = frozenset({
    "caltech101", "cifar100", "clevr", "diabetic_retinopathy_detection", "dmlab", "dsprites", "dtd", "eurosat", "kitti",
    "oxford_flowers102", "oxford_iiit_pet", "patch_camelyon", "resisc45", "smallnorb", "sun397", "svhn_cropped"})
_TRAIN_SLICE = ":800"

#: snoopy's task codes -> SHiFT task names. Checked on the data: for every code, snoopy's fine-tune accuracies
#: correlate best with SHiFT's test accuracies of this task (e.g. kdp/kitti r = 0.97, sna/azimuth 0.96, snb/elevation
#: 0.95; see tests/benchmark/test_loaders.py).
SNOOPY_TASKS = {
    "caltech101": "caltech101", "cdp": "clevr_distance", "cifar": "cifar100", "clevr": "clevr_count",
    "diabet": "diabetic_retinopathy_detection", "dlp": "dsprites_location", "dmlab": "dmlab",
    "dop": "dsprites_orientation", "dtd": "dtd", "eurosat": "eurosat", "flowers": "oxford_flowers102", "kdp": "kitti",
    "pc": "patch_camelyon", "pet": "oxford_iiit_pet", "resisc": "resisc45", "sna": "smallnorb_azimuth",
    "snb": "smallnorb_elevation", "sun": "sun397", "svhn": "svhn_cropped"}


def _task_of(dataset: str, config: dict[str, Any], line: int) -> str:
    """SHiFT's task name of a run: VTAB's multi-task data sets are split by the run's preprocess / label_name."""
    if dataset in ("clevr", "dsprites"):
        task = config.get("preprocess")
    elif dataset == "smallnorb":
        label = config.get("label_name")
        task = f"smallnorb_{label.removeprefix('label_')}" if isinstance(label, str) else None
    else:
        return dataset
    if not isinstance(task, str) or not task.startswith(dataset):
        raise HistoryFormatError(f"Run on line {line} of {_FILE} must say which {dataset} task it is "
                                 f"(configs.preprocess / configs.label_name). Got {config!r} instead.")
    return task


def _slice_size(spec: str) -> int:
    """Number of examples of a TFDS slice such as ``:800`` or ``800:1000``."""
    start, _, stop = spec.partition(":")
    return int(stop) - int(start or 0)


def _image_runs(path: os.PathLike) -> pd.DataFrame:
    """The VTAB-1k image runs of ``ftrecords.csv``, with their task and learning rate."""
    cols = ["model_identifier", "train_dataset_name", "configs", "train_slice", "val_slice", "val_accuracy",
            "test_accuracy"]
    raw = pd.read_csv(path, usecols=cols)
    runs = raw[raw["train_dataset_name"].isin(_VTAB_DATASETS) & (raw["train_slice"] == _TRAIN_SLICE)]
    configs = [ast.literal_eval(c) if isinstance(c, str) else {} for c in runs["configs"]]
    image = [c.get("feature_name") in (None, "image") for c in configs]
    runs, configs = runs[image], [c for c, keep in zip(configs, image) if keep]
    # Line numbers in messages: the header is line 1 and the CSV's rows keep their order in the DataFrame index.
    tasks = [_task_of(d, c, i + 2) for d, c, i in zip(runs["train_dataset_name"], configs, runs.index)]
    return runs.assign(task=tasks, lr=[c.get("lr") for c in configs])


def _best_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task) the run with the best validation accuracy; ties go to the higher test accuracy."""
    order = runs.sort_values(["val_accuracy", "test_accuracy"], ascending=False, kind="stable")
    best = order.drop_duplicates(["model_identifier", "task"], keep="first")
    records = best.rename(columns={"model_identifier": "model", "test_accuracy": "value"})
    records = records.assign(metric="test_accuracy")
    return records.sort_values(["task", "model"])[["model", "task", "value", "metric", "lr", "val_accuracy"]] \
        .reset_index(drop=True)


def _knn1_scores(data_dir: str | os.PathLike | None) -> dict[str, dict[str, float]]:
    """snoopy's 1-NN accuracy per SHiFT task and model (empty, with a warning, when the file cannot be had)."""
    path = resolve_optional("snoopy/snoopy_vtab_1nn_vs_ft_long.csv", data_dir, "task cards will have no 'knn1' scores")
    if path is None:
        return {}
    table = pd.read_csv(path)
    scores: dict[str, dict[str, float]] = {}
    for code, model, value in zip(table["task"], table["model_identifier"], table["1nn_accuracy"]):
        if code in SNOOPY_TASKS and pd.notna(value):
            scores.setdefault(SNOOPY_TASKS[code], {})[str(model)] = float(value)
    return scores


def _model_cards(models: list[str], data_dir: str | os.PathLike | None) -> dict:
    timm = timm_results(data_dir)
    tg_path = resolve_optional("transfergraph/model_config_dataset.csv", data_dir,
                               "model cards of SHiFT models will lack TransferGraph's architecture and #params")
    configs = pd.read_csv(tg_path).set_index("model").to_dict("index") if tg_path else {}
    ft_path = resolve_optional("shift/huggingface_cv_models.csv", data_dir, "model cards will lack SHiFT's image size")
    fine_tuning = pd.read_csv(ft_path).set_index("model_identifier").to_dict("index") if ft_path else {}
    cards = {}
    for m in models:
        extra = config_extra(configs.get(m))
        if m in fine_tuning:
            run = fine_tuning[m]
            extra.update(ft_image_size=int(run["image_size"]), ft_batch_size=int(run["batch_size"]))
        cards[m] = hub_card(m, configs.get(m), timm, extra)
    return cards


def load_shift(data_dir: str | os.PathLike | None = None) -> Benchmark:
    """SHiFT's VTAB-1k image records, pivoted as ``specs/evaluation.md`` says.

    Kept: image runs (``configs.feature_name`` ``image`` or absent) on a VTAB data set with ``train_slice == ':800'``.
    Task: ``train_dataset_name``, with clevr and dsprites split by ``configs.preprocess`` and smallnorb by
    ``configs.label_name`` (``smallnorb_azimuth`` / ``smallnorb_elevation``). Per (model, task), the test accuracy of
    the run (learning rate) with the best ``val_accuracy`` (ties: higher test accuracy). Task cards carry snoopy's 1-NN
    accuracy as ``extra["scores"]["knn1"]``.
    """
    runs = _image_runs(resolve(_FILE, data_dir))
    records = _best_runs(runs)
    knn1 = _knn1_scores(data_dir)
    task_cards = {}
    for task, group in runs.groupby("task"):
        extra: dict[str, Any] = {"n_val": _slice_size(group["val_slice"].mode().iloc[0])}
        if task in knn1:
            extra["scores"] = {"knn1": knn1[task]}
        task_cards[task] = task_card("shift", task, n_train=_slice_size(_TRAIN_SLICE), extra=extra)
    models = sorted(records["model"].unique())
    return Benchmark(name="shift", records=records, model_cards=_model_cards(models, data_dir),
                     task_cards=task_cards, citation=CITATION)
