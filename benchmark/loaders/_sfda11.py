"""SFDA / LogME benchmark: 11 torchvision ImageNet CNNs fine-tuned on 11 classification datasets."""
from __future__ import annotations

import os

import pandas as pd

from .._types import Benchmark
from ._cards import task_card, torchvision_card
from ._fetch import resolve
from ._longform import best_per_pair, check_records
from ._timm import timm_results

__all__ = ["load_sfda11"]

_FILE = "sfda/sfda_group1_finetune_acc.csv"
CITATION = ("Shao et al., 'Not All Models Are Equal: Predicting Model Transferability in a Self-challenging Fisher "
            "Space', ECCV 2022 (SFDA); You et al., 'LogME', ICML 2021. Values are fine-tuning top-1 in percent.")


def load_sfda11(data_dir: str | os.PathLike | None = None) -> Benchmark:
    """11 x 11 fine-tuning accuracies (percent) of ``sfda/sfda_group1_finetune_acc.csv``.

    Records: model = torchvision name, task = dataset, value = ``finetune_acc``. Task cards carry the datasets'
    standard training-set sizes (the splits of Kornblith et al. 2019 used by LogME and SFDA).
    """
    path = resolve(_FILE, data_dir)
    raw = pd.read_csv(path).rename(columns={"dataset": "task", "finetune_acc": "value"})
    records = best_per_pair(check_records(raw, repr(str(path))))
    records["metric"] = "finetune_top1_percent"
    timm = timm_results(data_dir)
    return Benchmark(
        name="sfda11", records=records,
        model_cards={m: torchvision_card(m, timm) for m in sorted(records["model"].unique())},
        task_cards={t: task_card("sfda11", t) for t in sorted(records["task"].unique())},
        citation=CITATION)
