import json

import pytest
import yaml

from benchmark.cli import main


def test_suite_writes_a_report_with_tables_and_a_plot(data_dir, tmp_path):
    config = tmp_path / "suite.yaml"
    config.write_text(yaml.safe_dump({
        "name": "tiny", "benchmarks": ["sfda11"], "methods": ["popularity", "random", "logme"],
        "runs": [{"protocol": "cold-task"}, {"protocol": "budget", "budgets": [1, 3]}]}))
    assert main(["suite", str(config), "--out", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| popularity | 11 | 0.826 |" in report  # the reference figure, in the table
    assert "logme" not in report.split("## sfda11")[1]  # sfda11 carries no published LogME: skipped
    assert (tmp_path / "out" / "per_task_tau_w.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {(r["method"], r["protocol"]) for r in results} == {
        ("popularity", "cold-task"), ("random", "cold-task"), ("popularity", "budget"), ("random", "budget")}


def test_suite_rejects_a_malformed_file(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("benchmarks: [sfda11]\n")
    assert main(["suite", str(config)]) == 1
    assert "needs the keys" in capsys.readouterr().err
