"""The harness reproduces the reference figures of specs/evaluation.md (cold task, mean tau_w, +-0.002)."""
import json

import pytest

from benchmark.cli import main
from benchmark.loaders import load
from benchmark.runner import evaluate

REFERENCE_POPULARITY = {"sfda11": 0.826, "shift": 0.322, "transfergraph": 0.486, "transfergraph8": 0.619}


@pytest.mark.parametrize("name", sorted(REFERENCE_POPULARITY))
def test_popularity_reproduces_the_reference(name, data_dir):
    result = evaluate(load(name), "cold-task", "popularity")
    print(name, round(result["mean"]["tau_w"], 4))
    assert result["mean"]["tau_w"] == pytest.approx(REFERENCE_POPULARITY[name], abs=0.002)


def test_published_logme_on_transfergraph8(data_dir):
    # The spec quotes 0.310; no principled reading of TransferGraph's scores file gives it. Tried: first / last /
    # mean / max of the duplicated dtd runs (0.321), every duplicate as its own point (0.322), missing scores as
    # -inf or the task mean over all models with a record, pools of the models scored on all 8 targets (0.364),
    # truth ties broken either way (0.298-0.331), other weightedtau weighings, median over tasks (0.314). The one
    # reading at 0.310 is taking every other row of the file as LogME (as if rows alternated LogME / H-score):
    # a truncated line breaks that alternation, so it mixes H-scores into the LogME column; likely the figure's
    # origin, not a reading to adopt. This pins what the file gives under the spec's definitions.
    result = evaluate(load("transfergraph8"), "cold-task", "logme")
    assert result["mean"]["tau_w"] == pytest.approx(0.321, abs=0.002)


@pytest.mark.parametrize("name", ["sfda11", "transfergraph8"])
def test_a_long_format_csv_gives_the_same_figure_as_its_loader(name, data_dir, tmp_path):
    bench = load(name)
    path = tmp_path / f"{name}.csv"
    bench.records[["model", "task", "value"]].to_csv(path, index=False)
    from_file = evaluate(load(str(path)), "cold-task", "popularity")
    # transfergraph8 scores only its 8 targets: restrict the file's figure to them
    targets = bench.targets
    mean_file = sum(from_file["tasks"][t]["tau_w"] for t in targets) / len(targets)
    assert mean_file == pytest.approx(evaluate(bench, "cold-task", "popularity")["mean"]["tau_w"], abs=1e-12)


def test_cli_run_prints_a_table_and_writes_design_json(data_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "--history", "sfda11", "--protocol", "cold-task", "--method", "popularity",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mean" in printed and "tau_w" in printed
    result = json.loads(out.read_text())
    assert {"benchmark", "protocol", "method", "tasks", "mean"} <= set(result)
    assert len(result["tasks"]) == 11 and result["mean"]["tau_w"] == pytest.approx(0.826, abs=0.002)


def test_cli_errors_are_one_clear_line(data_dir, tmp_path, capsys, monkeypatch):
    assert main(["run", "--history", "sfda12", "--protocol", "cold-task", "--method", "popularity"]) == 1
    err = capsys.readouterr().err
    assert "Unknown benchmark 'sfda12'" in err and "sfda11" in err and "Traceback" not in err
    assert main(["run", "--history", "sfda11", "--protocol", "cold-task", "--method", "logme"]) == 1
    assert "carries no published 'logme'" in capsys.readouterr().err
    monkeypatch.setenv("FENNEC_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("FENNEC_OFFLINE", "1")
    assert main(["run", "--history", "shift", "--protocol", "cold-task", "--method", "popularity"]) == 1
    err = capsys.readouterr().err
    assert "ftrecords.csv" in err and "Traceback" not in err
