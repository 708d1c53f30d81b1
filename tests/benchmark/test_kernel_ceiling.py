"""benchmarks/kernel_ceiling.py: its 'prior alone' line is popularity on the space's normalised values, and it
prints the settings it compares."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from benchmark.loaders import load
from benchmark.methods import create_method
from benchmark.protocols import cold_task, mean_over_tasks

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kernel_ceiling.py"


def _script():
    spec = importlib.util.spec_from_file_location("kernel_ceiling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_prior_alone_is_normal_score_popularity_and_the_ceiling_lists_the_grid(data_dir, capsys):
    _script().main(["--history", "sfda11", "--tasks", "dtd", "--top", "3"])
    out = capsys.readouterr().out
    figures = {name: float(value) for name, value in
               re.findall(r"^\s+(prior alone|calibrated kernel|best setting in hindsight)\S*\s.*?(-?\d\.\d{3})", out,
                          flags=re.M)}
    popularity = mean_over_tasks(cold_task(load("sfda11", data_dir), lambda: create_method("popularity-ns"),
                                           ["dtd"]))["tau_w"]
    assert figures["prior alone"] == pytest.approx(popularity, abs=5e-4)
    assert len(figures) == 3 and all(-1.0 <= v <= 1.0 for v in figures.values())
    settings = re.findall(r"^\s+(-?\d\.\d{3})  (.+), (\S+), (\S+)$", out, flags=re.M)
    assert len(settings) == 3 and np.all(np.diff([float(s[0]) for s in settings]) <= 0)
    assert figures["best setting in hindsight"] == float(settings[0][0])


def test_unknown_tasks_are_refused_with_the_targets_named(data_dir, capsys):
    with pytest.raises(SystemExit):
        _script().main(["--history", "sfda11", "--tasks", "nope"])
    assert "nope not among the targets of sfda11" in capsys.readouterr().err
