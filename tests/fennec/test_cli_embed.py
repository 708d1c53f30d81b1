"""``fennec embed``: summary, JSON, proxies, and one clear line for bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
from _image_tasks import digits_task, photos_task, write_folder

from fennec.cli import main
from fennec.proxy import create_proxy
from fennec.tasks import load_task


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    return write_folder(photos_task(per_class=3, photos=("coffee", "rocket")), tmp_path_factory.mktemp("t") / "photos")


def _run(capsys, *args):
    code = main(["embed", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary(capsys, photo_dir):
    code, out, _ = _run(capsys, photo_dir)
    assert code == 0
    assert "photos (2 classes, 6 images embedded of 6)" in out
    assert "proxy    default" in out and "2562 floats" in out
    assert "spread" in out and "[2560:2562]" in out


def test_json_matches_the_library(capsys, photo_dir):
    code, out, _ = _run(capsys, photo_dir, "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"proxy", "vector", "parts", "n_images", "n_classes"}
    assert data["proxy"] == "default" and data["n_images"] == 6 and data["n_classes"] == 2
    assert len(data["vector"]) == max(end for _, end in data["parts"].values()) == 2562
    direct = create_proxy("default", progress=False).embed(load_task(photo_dir)).vector
    np.testing.assert_allclose(data["vector"], direct, atol=1e-6)


@pytest.mark.parametrize("proxy, dim", [("labels", 769), ("stats", 5)])
def test_other_proxies(capsys, photo_dir, proxy, dim):
    code, out, _ = _run(capsys, photo_dir, "--proxy", proxy, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["proxy"] == proxy and len(data["vector"]) == dim


def test_sampling_options(capsys, tmp_path):
    root = write_folder(digits_task([0, 1], per_class=6), tmp_path / "d")
    code, out, _ = _run(capsys, root, "--proxy", "stats", "--max-per-class", "2", "--json")
    assert code == 0 and json.loads(out)["n_images"] == 12  # stats describe the full task, not the sample
    code, out, _ = _run(capsys, root, "--max-per-class", "2", "--seed", "3")
    assert code == 0 and "4 images embedded of 12" in out


def test_single_class_is_embedded_with_a_note(capsys, tmp_path):
    root = write_folder(digits_task([5], per_class=3), tmp_path / "one")
    code, out, _ = _run(capsys, root)
    assert code == 0 and "(1 classes" in out and "need at least two" in out


def test_skipped_files_are_one_warning_line(capsys, tmp_path):
    root = write_folder(digits_task([0, 1], per_class=2), tmp_path / "d")
    (root / "0" / "broken.png").write_bytes(b"\x89PNG not really")
    code, _, err = _run(capsys, root, "--no-cache")
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "Skipped 1 unreadable image(s)" in lines[0] and "broken.png" in lines[0]


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: p, "No images found"),
])
def test_bad_folders_fail_with_one_line(capsys, tmp_path, setup, message):
    code, out, err = _run(capsys, setup(tmp_path))
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and message in err.splitlines()[0]
    assert "hint:" in err and "Traceback" not in err


def test_unknown_proxy_and_offline_clip(capsys, photo_dir, monkeypatch):
    code, _, err = _run(capsys, photo_dir, "--proxy", "clips")
    assert code == 1 and "Unknown proxy 'clips'" in err and "did you mean 'clip'" in err
    monkeypatch.setenv("FENNEC_OFFLINE", "1")
    code, _, err = _run(capsys, photo_dir, "--proxy", "clip")
    assert code == 1 and "offline" in err and "ViT-B-32.laion2b_s34b_b79k.safetensors" in err


def test_help_has_an_example(capsys):
    assert main(["embed", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples:" in out and "fennec embed ./my_task" in out and "--proxy" in out
