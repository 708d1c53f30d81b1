"""Models trained on the task's own dataset: keys, the optimism of TransferSpace.next, and real TransferGraph."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fennec.space._sources import source_bonus, source_key, source_keys
from fennec.errors import InputError
from fennec.space import TransferSpace

FAST = dict(n_factors=4, hidden=0, min_steps=200, batch_size=1024, list_size=16, random_state=0)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_keys_ignore_case_and_punctuation():
    assert source_key("Stanford_Cars") == source_key("stanford-cars") == "stanfordcars"
    assert source_key(None) == source_key(float("nan")) == ""
    assert source_keys(["a", "b"], {"a": "Food-101"}).tolist() == ["food101", ""]


def test_bonus_is_mean_plus_spread():
    residuals = np.array([-1.0, 0.0, 4.0])
    assert source_bonus(residuals, 0.0) == pytest.approx(1.0)
    assert source_bonus(residuals, 2.0) == pytest.approx(1.0 + 2.0 * np.std(residuals, ddof=1))
    assert source_bonus(np.array([0.5]), 1.0) == pytest.approx(1.5)  # one pair: unit spread assumed
    assert source_bonus(np.zeros(0), 1.0) == 0.0


@pytest.fixture(scope="module")
def specialists() -> pd.DataFrame:
    """12 tasks from 4 datasets; 30 generalists of graded quality and, per dataset, one checkpoint trained on it
    that is mediocre elsewhere and best on tasks from its dataset."""
    rng = np.random.default_rng(0)
    rows = []
    for t in range(12):
        data = f"set{t % 4}"
        for m in range(30):
            rows.append((f"g{m:02d}", f"{data}-t{t}", m / 30 + rng.normal(0, 0.05)))
        for d in range(4):
            rows.append((f"ckpt-set{d}", f"{data}-t{t}", 1.5 if d == t % 4 else 0.4 + rng.normal(0, 0.05)))
    return pd.DataFrame(rows, columns=["model", "task", "value"])


def _sources(records: pd.DataFrame):
    models = {m: m.split("-")[1] if m.startswith("ckpt") else "imagenet" for m in records["model"].unique()}
    tasks = {t: t.split("-")[0] for t in records["task"].unique()}
    return models, tasks


def test_next_tries_the_checkpoint_of_the_task_dataset_first(specialists):
    train = specialists[specialists["task"] != "set2-t2"]
    models, tasks = _sources(train)
    space = TransferSpace(**FAST).fit(train, model_sources=models, task_sources=tasks)
    assert space.source_bonus_ > 1.0  # the checkpoints beat their usual standing by far on their own data
    assert space.next(task_source="set2") == "ckpt-set2"
    assert space.next(task_source="Set-2") == "ckpt-set2"  # the same dataset, spelled otherwise
    assert space.next() != "ckpt-set2" and space.next(task_source="other") == space.next()
    ids, scores, _ = space.score()
    assert ids[np.argmax(scores)] != "ckpt-set2"  # scores are left alone: the match is a bet, not a forecast


def test_sources_survive_save_update_and_add_model(tmp_path, specialists):
    train = specialists[~specialists["task"].str.startswith("set2")]
    models, tasks = _sources(train)
    space = TransferSpace(**FAST).fit(train, model_sources={m: s for m, s in models.items() if m != "ckpt-set2"},
                                      task_sources=tasks)
    assert space.next(task_source="set2") != "ckpt-set2"  # no model is known to be trained on set2
    space.save(tmp_path / "space")
    loaded = TransferSpace.load(tmp_path / "space")
    assert loaded.source_bonus_ == space.source_bonus_
    np.testing.assert_array_equal(loaded.next_scores(task_source="set1")[1], space.next_scores(task_source="set1")[1])
    space.add_model("ckpt-new", sources="set2")
    assert space.next(task_source="set2") == "ckpt-new"
    new = specialists[specialists["task"] == "set2-t2"]
    space.update(new, model_sources={"ckpt-set2": "set2"}, task_sources={"set2-t2": "set2"})
    assert space.next(task_source="set2", tried={"ckpt-new": 0.1}) == "ckpt-set2"  # a known model, its source given
    with pytest.raises(InputError, match="one dataset per model"):
        space.add_model(["a", "b"], sources=["x"])


def test_a_space_saved_without_sources_matches_nothing(tmp_path, specialists):
    models, tasks = _sources(specialists)
    space = TransferSpace(**FAST).fit(specialists, model_sources=models, task_sources=tasks)
    space.save(tmp_path / "space")
    meta_file = tmp_path / "space" / "space.json"
    meta = json.loads(meta_file.read_text())
    for key in ("model_sources", "task_sources", "source_bonus"):
        del meta[key]
    meta_file.write_text(json.dumps(meta))
    loaded = TransferSpace.load(tmp_path / "space")
    assert loaded.source_bonus_ == 0.0
    np.testing.assert_array_equal(loaded.next_scores(task_source="set2")[1], loaded.next_scores()[1])
