"""``fennec score``: rank EfficientNet-Lite0/1/2 (real ImageNet weights) on real digit images with a metric."""
from __future__ import annotations

import json

import pytest
from _image_tasks import digits_task, write_folder

from fennec import metrics
from fennec.cli import main
from fennec.features import extract_features
from fennec.scoring import cannot_rank
from fennec.tasks import load_task

MODELS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    return write_folder(digits_task([0, 3, 8], per_class=5), tmp_path_factory.mktemp("score") / "digits")


def _run(capsys, *args):
    code = main(["score", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_ranking_matches_the_metric(capsys, digits_dir):
    code, out, _ = _run(capsys, digits_dir, "--metric", "logme", "--models", ",".join(MODELS), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["metric"] == "logme" and data["n_classes"] == 3 and data["n_images"] == 15
    ranking = data["ranking"]
    assert [r["rank"] for r in ranking] == [1, 2, 3] and sorted(r["model"] for r in ranking) == MODELS
    scores = [r["score"] for r in ranking]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3
    task = load_task(digits_dir)
    for row in ranking:  # the CLI feeds the metric exactly the model's features and labels
        feats = extract_features(row["model"], task, progress=False)
        assert row["score"] == pytest.approx(metrics.get("logme")(feats.features, feats.labels), rel=1e-6)


def test_table_and_probability_metric(capsys, digits_dir):
    code, out, _ = _run(capsys, digits_dir, "--metric", "sfda", "--models", "efficientnet_lite0,efficientnet_lite1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("sfda on digits (3 classes, 15 images)")
    assert lines[1].split() == ["rank", "model", "score", "seconds"]
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    assert all(0 < float(line.split()[2]) <= 1 for line in lines[2:4])  # SFDA is a mean probability
    # 15 images against 1,280 feature dimensions: SFDA saturates, and the table says it cannot rank them
    code, raw, _ = _run(capsys, digits_dir, "--metric", "sfda", "--models", "efficientnet_lite0,efficientnet_lite1",
                        "--json")
    tied = len({r["score"] for r in json.loads(raw)["ranking"]}) == 1
    assert ("cannot rank them" in out) == tied
    code, out, _ = _run(capsys, digits_dir, "--metric", "leep", "--models", "efficientnet_lite0", "--json")
    assert code == 0 and json.loads(out)["ranking"][0]["score"] < 0  # LEEP is a mean log-likelihood


@pytest.mark.parametrize("args, message", [
    (["--metric", "sfdaa"], "Unknown metric 'sfdaa'"),
    (["--models", "efficientnet_lite0,resnet_lite9"], "Unknown model 'resnet_lite9'"),
])
def test_unknown_names_fail_before_any_forward_pass(capsys, digits_dir, args, message):
    code, out, err = _run(capsys, digits_dir, *args)
    assert code == 1 and out == "" and message in err and "Traceback" not in err


def test_single_class_and_missing_folder(capsys, tmp_path):
    root = write_folder(digits_task([2], per_class=3), tmp_path / "one")
    code, _, err = _run(capsys, root, "--models", "efficientnet_lite0")
    assert code == 1 and "1 class(es) with images; the sfda metric needs at least 2" in err
    code, _, err = _run(capsys, tmp_path / "nowhere")
    assert code == 1 and err.startswith("Error: ") and "does not exist" in err


def test_help_has_an_example(capsys):
    assert main(["score", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples:" in out and "--metric sfda --models efficientnet_lite0" in out


@pytest.mark.parametrize("scores, tied", [([1.0, 1.0 + 1e-12], True), ([1e6, 1e6 + 1e-4], True),
                                          ([1.0, 1.001], False), ([0.0, 1e-6], False), ([2.5], False), ([], False)])
def test_cannot_rank_means_equal_up_to_float_noise(scores, tied):
    assert cannot_rank(scores) is tied
