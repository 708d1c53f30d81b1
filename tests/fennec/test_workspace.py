import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from fennec.cards import ModelCard, TaskCard
from fennec.workspace import FORMAT_VERSION, Workspace, WorkspaceError


def test_create_then_open_round_trips_config_and_cards(tmp_path):
    ws = Workspace.create(tmp_path / "ws", config={"image_proxy": "clip"})
    ws.add_cards({"cifar": TaskCard("cifar", n_classes=2, label_names=("cat", "dog"))})
    ws.add_cards({"r50": ModelCard("r50", family="resnet", n_params=25e6)})
    again = Workspace.open(tmp_path / "ws")
    assert again.config["image_proxy"] == "clip"
    assert again.config["fallback"]["metric"] == "sfda"  # defaults fill what the file lacks
    assert again.task_cards()["cifar"].label_names == ("cat", "dog")
    assert again.model_cards()["r50"].n_params == 25e6


def test_open_refuses_missing_foreign_and_other_format(tmp_path):
    with pytest.raises(WorkspaceError, match="does not exist"):
        Workspace.open(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a fennec workspace"):
        Workspace.open(tmp_path / "plain")
    ws = Workspace.create(tmp_path / "old")
    (ws.path / "workspace.json").write_text(json.dumps({"format": FORMAT_VERSION - 1}))
    with pytest.raises(WorkspaceError, match="format"):
        Workspace.open(ws.path)


def test_create_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "data.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="not an empty directory"):
        Workspace.create(tmp_path / "full")
    assert (tmp_path / "full" / "data.txt").read_text() == "keep me"


def test_failed_build_keeps_the_previous_version(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    with ws.new_version({"note": "first"}) as d:
        (d / "space.json").write_text("{}")
    with pytest.raises(RuntimeError):
        with ws.new_version() as d:
            (d / "half.bin").write_bytes(b"x")
            raise RuntimeError("killed")
    assert ws.versions() == ["v0001"] and ws.current_version() == "v0001"
    with ws.new_version() as d:
        pass
    assert ws.versions() == ["v0001", "v0002"] and ws.current_version() == "v0002"
    assert ws.version_dir("v0001").joinpath("space.json").is_file()  # the previous version stays loadable


def test_a_killed_process_leaves_the_previous_version_current(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    with ws.new_version() as d:
        (d / "space.json").write_text("{}")
    script = textwrap.dedent(f"""
        import os, signal, time
        from fennec.workspace import Workspace
        ws = Workspace.open({str(ws.path)!r})
        with ws.new_version() as d:
            (d / "part.bin").write_bytes(b"x" * 1000)
            print("building", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "building"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reopened = Workspace.open(ws.path)
    assert reopened.current_version() == "v0001" and reopened.versions() == ["v0001"]
