"""`fennec demo`: the README's first command, offline, on the built-in mini-zoo."""
import json

from fennec.cli import main


def test_demo_ranks_the_zoo_for_a_held_out_task_and_reports_the_truth(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "demo"), "--top", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "hw_digits" and len(result["ranking"]) == 3
    # the held-out task's truth is reported for every recommended model, and never came from the training history
    assert all(0 < r["true_accuracy"] <= 1 and 1 <= r["true_rank"] <= 24 for r in result["truth"])
    from fennec.workspace import Workspace

    assert "hw_digits" not in Workspace.open(result["workspace"]).history().tasks()
    # the space's top pick is better than the median zoo model on this task
    assert result["truth"][0]["true_rank"] <= 12


def test_demo_refuses_to_overwrite_a_foreign_directory(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["demo", "--dir", str(tmp_path / "mine")]) == 1
    assert "not a fennec demo directory" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
