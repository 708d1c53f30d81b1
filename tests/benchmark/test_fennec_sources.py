"""The fennec method on real TransferGraph records: its next() tries a checkpoint of the task's own dataset."""
from __future__ import annotations

import pytest

from benchmark.loaders import load
from benchmark.methods._fennec import FennecMethod
from benchmark.protocols import budget

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_food101_checkpoints_are_tried_within_three_models_only_with_optimism(data_dir):
    """110 of TransferGraph's 112 runs on Food-101 ended at chance; the two that learned were already fine-tuned on
    Food-101. Popularity never tries them; matched pairs in the other tasks (EuroSAT, CIFAR-100, Stanford Cars
    checkpoints) make next() bet on one early, and only their spread (source_optimism) makes the bet (the pairwise
    term off: its same-dataset view makes the bet too, see below)."""
    bench = load("transfergraph", data_dir)
    food = bench.records[bench.records["task"] == "food101"]
    chance = food["value"].min()
    assert (food["value"] > chance).sum() == 2
    regret = {optimism: budget(bench, lambda: FennecMethod(source_optimism=optimism, pair_views=()), [3],
                               ["food101"])["food101"] for optimism in (1.0, 0.0)}
    best = food["value"].max()
    assert regret[1.0]["regret@B3"] < best - chance - 0.1  # a checkpoint that learned was among the three
    assert regret[0.0]["regret@B3"] == pytest.approx(best - chance)  # the mean effect alone does not make the bet


def test_the_pairwise_term_alone_tries_a_food101_checkpoint_within_three_models(data_dir):
    """Without the budget's bet, the pairwise term's views (same dataset, label set, domain distance), fitted on the
    other twelve tasks, rank a checkpoint that learned Food-101 among the first three."""
    bench = load("transfergraph", data_dir)
    food = bench.records[bench.records["task"] == "food101"]
    regret = budget(bench, lambda: FennecMethod(source_optimism=0.0), [3], ["food101"])["food101"]
    assert regret["regret@B3"] < food["value"].max() - food["value"].min() - 0.1
