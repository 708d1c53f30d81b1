"""benchmark.headroom: its prior is the harness's popularity-ns, each oracle bounds what it claims to bound, a task
whose twin is in the history is found, and the command reads a bare table and refuses a too-small one clearly."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import weightedtau

from benchmark._types import Benchmark
from benchmark.cli import main
from benchmark.headroom import headroom
from benchmark.loaders import load
from benchmark.methods import create_method
from benchmark.protocols import cold_task
from fennec.cards import ModelCard, TaskCard


@pytest.fixture(scope="module")
def sfda11_headroom(data_dir):
    bench = load("sfda11", data_dir)
    return bench, headroom(bench)


def test_the_prior_is_popularity_ns_of_the_harness(sfda11_headroom):
    bench, result = sfda11_headroom
    harness = cold_task(bench, lambda: create_method("popularity-ns"))
    assert set(result["tasks"]) == set(harness)
    for task, row in result["tasks"].items():
        assert row["prior"] == pytest.approx(harness[task]["tau_w"], abs=1e-9)


def test_each_oracle_bounds_its_family(sfda11_headroom):
    bench, result = sfda11_headroom
    table = bench.records.pivot_table(index="model", columns="task", values="value")
    for task, row in result["tasks"].items():
        singles = [weightedtau(table[other].to_numpy(), table[task].to_numpy())[0]
                   for other in table.columns if other != task]
        assert row["nearest@oracle"] == pytest.approx(max(singles), abs=1e-9)
    mean = result["mean"]
    assert {"kernel@oracle", "kernel@nested", "pair:source@oracle", "kernel+pairs@oracle"} <= set(mean)
    # a weight of 0 is among those tried, so adding a view never lowers the mean it was chosen on
    assert mean["pair:source@oracle"] >= mean["prior"] - 1e-12
    assert mean["kernel+pairs@oracle"] >= mean["kernel@oracle"] - 1e-12
    assert -1.0 <= result["agreement"] <= 1.0
    assert set(result["settings"]["kernel"]) == {"view", "width", "prior"}


def _twin_history(rng: np.random.Generator) -> Benchmark:
    """Six tasks over 30 models: 'a' and its twin 'b' rank the models alike and look alike (classes, size); the
    others are noise and look different."""
    models = [f"m{i}" for i in range(30)]
    base = rng.normal(size=30)
    tasks = {"a": base, "b": base + 0.05 * rng.normal(size=30)}
    tasks.update({f"n{i}": rng.normal(size=30) for i in range(4)})
    records = pd.DataFrame([(m, t, float(v)) for t, values in tasks.items() for m, v in zip(models, values)],
                           columns=["model", "task", "value"])
    sizes = {"a": (10, 1000), "b": (10, 1000), "n0": (2, 50), "n1": (300, 90000), "n2": (40, 200), "n3": (5, 20000)}
    cards = {t: TaskCard(t, n_classes=c, n_train=n) for t, (c, n) in sizes.items()}
    return Benchmark("twins", records, {m: ModelCard(m) for m in models}, cards)


def test_a_task_whose_twin_is_in_the_history_is_found():
    result = headroom(_twin_history(np.random.default_rng(0)), image_proxy=None)
    row = result["tasks"]["a"]
    assert row["nearest@oracle"] > 0.9
    assert row["kernel@oracle"] > row["prior"] + 0.3  # the side features point at the twin
    assert result["mean"]["kernel@oracle"] >= result["mean"]["prior"]


def test_a_bare_table_gets_the_neighbour_rows_only_and_a_tiny_one_a_clear_error(data_dir, tmp_path, capsys):
    bare = tmp_path / "bare.csv"
    load("sfda11", data_dir).records[["model", "task", "value"]].to_csv(bare, index=False)
    out = tmp_path / "headroom.json"
    assert main(["headroom", "--history", str(bare), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert list(result["mean"]) == ["prior", "nearest@oracle", "top3@oracle"]
    assert "mean" in capsys.readouterr().out
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("model,task,value\na,t1,0.5\nb,t1,0.4\n")
    assert main(["headroom", "--history", str(tiny)]) == 1
    err = capsys.readouterr().err
    assert "at least 3 tasks" in err and "Traceback" not in err
