"""`fennec init` and `fennec history`: what a user sees, and one clear line for each bad input."""
import json

import pytest

from fennec.cli import main


@pytest.fixture
def workspace(tmp_path, data_dir):
    path = tmp_path / "ws"
    assert main(["init", str(path), "--from", "sfda11"]) == 0
    return path


def test_init_from_a_benchmark_then_show(workspace, capsys):
    capsys.readouterr()
    assert main(["history", "show", "-w", str(workspace), "--task", "cifar10", "--limit", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["records"] == 121 and shown["models"] == 11 and shown["tasks"] == 11
    assert [row["model"] for row in shown["rows"]] == ["resnet152", "resnet101"]


def test_history_add_reports_new_tasks_and_rejects_bad_files_whole(workspace, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("model,task,value\nresnet50,mytask,0.9\nresnet34,mytask,0.8\n")
    assert main(["history", "add", str(good), "-w", str(workspace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["new_tasks"] == ["mytask"]
    bad = tmp_path / "bad.csv"
    bad.write_text("model,task,value\nresnet50,other,0.9\nresnet34,other,abc\n")
    assert main(["history", "add", str(bad), "-w", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "'abc' is not a number" in err and "Traceback" not in err
    assert main(["history", "show", "-w", str(workspace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 123  # the bad file added nothing


@pytest.mark.parametrize("argv, expected", [
    (["history", "show", "-w", "{tmp}/missing"], "does not exist"),
    (["history", "add", "{tmp}/nofile.csv", "-w", "{tmp}/ws"], "does not exist"),
    (["init", "{tmp}/ws", "--from", "sfda12"], "Unknown benchmark"),
])
def test_bad_inputs_are_one_clear_line(argv, expected, tmp_path, capsys, data_dir):
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code != 0 and expected in err and "Traceback" not in err


def test_init_refuses_an_existing_non_empty_directory(workspace, capsys):
    assert main(["init", str(workspace)]) == 1
    assert "not an empty directory" in capsys.readouterr().err


def test_init_with_a_bad_source_creates_nothing(tmp_path, data_dir):
    assert main(["init", str(tmp_path / "ws"), "--from", "nope.csv"]) == 1
    assert not (tmp_path / "ws").exists()
