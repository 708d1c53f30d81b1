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
    assert "| cold-task: tau_w | popularity | 0.826 |" in report.split("## Summary")[1]  # and in the summary
    assert "logme" not in report.split("## sfda11")[1].split("## Not run")[0]  # sfda11 carries no published LogME
    assert "| sfda11 | logme | the benchmark carries no published 'logme' scores" in report  # skipped, and why
    assert (tmp_path / "out" / "per_task_tau_w.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {(r["method"], r["protocol"]) for r in results} == {
        ("popularity", "cold-task"), ("random", "cold-task"), ("popularity", "budget"), ("random", "budget")}


def test_suite_rejects_a_malformed_file(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("benchmarks: [sfda11]\n")
    assert main(["suite", str(config)]) == 1
    assert "needs the keys" in capsys.readouterr().err


def _tiny(tmp_path):
    config = tmp_path / "suite.yaml"
    config.write_text(yaml.safe_dump({"name": "tiny", "benchmarks": ["sfda11"], "methods": ["popularity", "random"],
                                      "runs": [{"protocol": "cold-task"}, {"protocol": "few-shot", "k": 3}]}))
    return config


def test_an_interrupted_suite_resumes_where_it_stopped(data_dir, tmp_path):
    from benchmark.reports import run_suite

    seen = []

    def stop_after_two(done, total, result):
        seen.append((done, total, result["method"], result["protocol"]))
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_suite(_tiny(tmp_path), tmp_path / "out", on_result=stop_after_two)
    assert len((tmp_path / "out" / "results.partial.jsonl").read_text().splitlines()) == 2
    seen.clear()
    run_suite(_tiny(tmp_path), tmp_path / "out", resume=True, on_result=lambda *a: seen.append(a[:2]))
    assert seen == [(3, 4), (4, 4)]  # only the two missing evaluations ran
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["method"], r["protocol"]) for r in results] == [
        ("popularity", "cold-task"), ("random", "cold-task"), ("popularity", "few-shot"), ("random", "few-shot")]
    assert not (tmp_path / "out" / "results.partial.jsonl").exists()


def test_parallel_jobs_give_the_serial_figures(data_dir, tmp_path, capsys):
    assert main(["suite", str(_tiny(tmp_path)), "--out", str(tmp_path / "serial")]) == 0
    assert main(["suite", str(_tiny(tmp_path)), "--out", str(tmp_path / "parallel"), "--jobs", "2"]) == 0
    assert "[4/4]" in capsys.readouterr().err  # one progress line per evaluation
    serial, parallel = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("serial", "parallel"))
    assert [r["mean"] for r in serial] == [r["mean"] for r in parallel]


def test_report_is_written_again_from_results(data_dir, tmp_path, capsys):
    assert main(["suite", str(_tiny(tmp_path)), "--out", str(tmp_path / "out")]) == 0
    (tmp_path / "out" / "report.md").unlink()
    assert main(["report", str(tmp_path / "out" / "results.json"), "--suite", "tiny.yaml"]) == 0
    assert "suite tiny.yaml" in (tmp_path / "out" / "report.md").read_text()
    (tmp_path / "bad.json").write_text("{}")
    assert main(["report", str(tmp_path / "bad.json")]) == 1
    assert "not the results.json of a suite" in capsys.readouterr().err


def test_a_run_can_be_kept_to_some_benchmarks_and_methods(data_dir, tmp_path, capsys):
    """A costly run (here the budget) runs only where its ``benchmarks`` / ``methods`` say; a name the suite lacks
    is an error that names it."""
    config = tmp_path / "suite.yaml"
    config.write_text(yaml.safe_dump({
        "name": "scoped", "benchmarks": ["sfda11"], "methods": ["popularity", "random"],
        "runs": [{"protocol": "cold-task"}, {"protocol": "budget", "budgets": [1], "methods": ["random"]}]}))
    assert main(["suite", str(config), "--out", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {(r["method"], r["protocol"]) for r in results} == {
        ("popularity", "cold-task"), ("random", "cold-task"), ("random", "budget")}
    assert all("methods" not in r["run"] for r in results)  # the scope is not a protocol option
    config.write_text(yaml.safe_dump({"benchmarks": ["sfda11"], "methods": ["popularity"],
                                      "runs": [{"protocol": "cold-task", "benchmarks": ["shift"]}]}))
    assert main(["suite", str(config), "--out", str(tmp_path / "bad")]) == 1
    assert "names benchmarks the suite does not have: shift" in capsys.readouterr().err
