"""`fennec history add mlflow:EXPERIMENT`: a real local MLflow store (sqlite) written by mlflow's own client."""
import json
import sys

import pytest

from fennec.cli import main
from fennec.history import TransferHistory, read_mlflow_runs

pytest.importorskip("mlflow", reason="the MLflow import's tests need mlflow: pip install 'fennec[mlflow]'")

N_RUNS = 50


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """50 usable runs (model/task as params, or as tags for every fifth run), plus 5 runs that give no record."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)  # the first client of a new file runs mlflow's migrations (seconds)
    experiment = client.create_experiment("finetunes")
    expected = {}
    for i in range(N_RUNS):
        run_id = client.create_run(experiment).info.run_id
        model, task = f"model{i % 10}", f"task{i // 10}"
        log = client.set_tag if i % 5 == 0 else client.log_param
        log(run_id, "model", model)
        log(run_id, "task", task)
        client.log_param(run_id, "lr", 0.001 * (i + 1))
        client.log_metric(run_id, "accuracy", 0.5 + i / 200)
        client.log_metric(run_id, "loss", 1.0 - i / 100)
        client.set_terminated(run_id)
        expected[f"mlflow:{run_id}"] = (model, task, 0.5 + i / 200)
    for params, metric, status in [({"task": "t"}, "accuracy", "FINISHED"), ({"model": "m", "task": "t"}, "loss",
                                   "FINISHED"), ({"model": "m", "task": "t"}, "accuracy", "FAILED"),
                                   ({"model": "m", "task": "t"}, "accuracy", None),
                                   ({"model": "m", "task": "t"}, "accuracy:nan", "FINISHED")]:
        run_id = client.create_run(experiment).info.run_id
        for key, value in params.items():
            client.log_param(run_id, key, value)
        metric, _, value = metric.partition(":")
        client.log_metric(run_id, metric, float(value or 0.1))
        if status:
            client.set_terminated(run_id, status=status)
    return uri, experiment, expected


@pytest.fixture
def workspace(tmp_path):
    path = tmp_path / "ws"
    assert main(["init", str(path)]) == 0
    return path


def test_runs_become_records_and_a_second_import_adds_nothing(store, workspace, capsys):
    uri, _, expected = store
    argv = ["history", "add", "mlflow:finetunes", "--tracking-uri", uri, "--metric", "accuracy", "-w", str(workspace),
            "--json"]
    capsys.readouterr()
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["added"] == N_RUNS and first["runs"] == N_RUNS + 5
    assert first["skipped_runs"] == {"no 'model' or 'task' param or tag": 1, "no metric 'accuracy'": 1,
                                     "not finished (failed)": 1, "not finished (running)": 1,
                                     "metric 'accuracy' not finite": 1}
    frame = TransferHistory(workspace / "history.sqlite").records(aggregate=None)
    assert len(frame) == N_RUNS and set(frame["metric"]) == {"accuracy"}
    got = {row.source: (row.model, row.task, row.value) for row in frame.itertuples()}
    assert got == expected
    assert frame["lr"].dtype.kind == "f" and frame["lr"].min() == pytest.approx(0.001)
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["added"] == 0 and second["skipped_duplicates"] == N_RUNS and second["records"] == N_RUNS


def test_experiment_by_id_other_keys_and_unfinished_runs(store):
    uri, experiment, _ = store
    runs = read_mlflow_runs(experiment, uri, metric="loss", include_unfinished=True)
    assert runs.experiment == f"finetunes (id {experiment})"
    assert len(runs.records) == N_RUNS + 1  # the run that logs loss; the failed and running ones log accuracy
    assert read_mlflow_runs("finetunes", uri, model_key="lr", task_key="task", metric="accuracy").records[
        "model"].str.startswith("0.0").all()


@pytest.mark.parametrize("experiment, uri, expected", [
    ("nope", None, "MLflow experiment 'nope' does not exist"),
    ("finetunes", "sqlite:///{tmp}/missing.db", "There is no MLflow tracking store"),
    ("finetunes", "http://127.0.0.1:9", "Cannot read the MLflow tracking store at 'http://127.0.0.1:9'"),
])
def test_bad_experiment_or_store_is_one_clear_line(store, workspace, tmp_path, capsys, monkeypatch, experiment, uri,
                                                    expected):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = (uri or store[0]).format(tmp=tmp_path)
    code = main(["history", "add", f"mlflow:{experiment}", "--tracking-uri", uri, "-w", str(workspace)])
    err = capsys.readouterr().err
    assert code == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "missing.db").exists()


def test_without_mlflow_installed_the_hint_says_which_extra(workspace, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # import fails as if mlflow were absent
    code = main(["history", "add", "mlflow:x", "--tracking-uri", "sqlite:///x.db", "-w", str(workspace)])
    err = capsys.readouterr().err
    assert code == 1 and "pip install 'fennec[mlflow]'" in err and "Traceback" not in err


def test_runs_without_the_metric_are_counted_not_an_error(store, workspace, capsys):
    assert main(["history", "add", "mlflow:finetunes", "--tracking-uri", store[0], "-w", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "52 no metric 'value'" in out and "log: accuracy, loss" in out and "Added 0 records" in out
