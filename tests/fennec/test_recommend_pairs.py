"""The workspace's space uses the pairwise term's label view: a model's own label set (a card's ``label_names``, what
``fennec models add hf:`` takes from ``id2label``) against a new task's label names, through the real labels proxy."""
import json

import numpy as np
import pandas as pd
import pytest

from fennec.cards import ModelCard, TaskCard
from fennec.cli import main
from fennec.recommend import PAIR_FEATURIZER, Recommender
from fennec.workspace import Workspace

#: Six domains, each with the label set of the models fine-tuned on it and two training tasks' label sets.
DOMAINS = {
    "food": (("pizza", "sushi", "ramen", "steak", "salad"), ("pancake", "taco", "omelette"), ("waffle", "dumpling")),
    "animals": (("cat", "dog", "horse", "cow", "sheep"), ("tiger", "zebra", "camel"), ("rabbit", "goat")),
    "vehicles": (("car", "truck", "bus", "bicycle", "motorcycle"), ("tram", "van", "scooter"), ("tractor", "taxi")),
    "plants": (("rose", "tulip", "oak tree", "fern", "cactus"), ("daisy", "orchid", "pine tree"), ("lily", "moss")),
    "textures": (("striped", "dotted", "woven", "marbled", "cracked"), ("zigzagged", "pleated"), ("knitted", "porous")),
    "scenes": (("beach", "forest", "mountain", "desert", "city street"), ("lake", "canyon"), ("glacier", "harbor")),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread):
    """Four models per domain; a model does 0.3 better on its own domain's tasks (plus a model effect and noise)."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("pairs")
    models = {f"{d}-{i}": ModelCard(f"{d}-{i}", label_names=labels[0]) for d, labels in DOMAINS.items()
              for i in range(4)}
    tasks = {f"{d}-task{j}": TaskCard(f"{d}-task{j}", label_names=labels[j]) for d, labels in DOMAINS.items()
             for j in (1, 2)}
    effect = {m: 0.05 * rng.normal() for m in models}
    rows = [(m, t, 0.4 + effect[m] + 0.3 * (m.split("-")[0] == t.split("-")[0]) + 0.02 * rng.normal())
            for m in models for t in tasks]
    pd.DataFrame(rows, columns=["model", "task", "value"]).to_csv(root / "history.csv", index=False)
    assert main(["init", str(root / "ws"), "--from", str(root / "history.csv")]) == 0
    ws = Workspace.open(root / "ws")
    ws.add_cards(models)
    ws.add_cards(tasks)
    assert main(["train", "-w", str(root / "ws")]) == 0
    return ws


def test_training_fits_the_label_view(trained):
    rec = Recommender(trained)
    term = rec.space().pair_term_
    assert "labels" in term.views and term.weights[term.views.index("labels")] > 0
    stored = json.loads((trained.version_dir(trained.current_version()) / PAIR_FEATURIZER).read_text())
    assert "labels" in stored["fitted_views_"]


def test_a_new_food_task_gets_the_food_models_first(trained):
    query = TaskCard("street-food", label_names=("burger", "pasta", "curry", "noodle soup"))
    ranking = Recommender(trained).recommend(query, k=4, fallback="none").ranking
    assert [r["model"].split("-")[0] for r in ranking] == ["food"] * 4
    picks = Recommender(trained).next(query, tried={"food-0": 0.7}, k=3).picks
    assert [p["model"].split("-")[0] for p in picks] == ["food"] * 3
