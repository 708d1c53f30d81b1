"""The product loop end to end on real benchmark records: init, train, recommend, add history, retrain."""
import json

import numpy as np
import pytest
from scipy import stats

from benchmark.loaders import load
from fennec.cards import TaskCard
from fennec.cli import main
from fennec.errors import InputError
from fennec.normalize import normalize
from fennec.recommend import Recommender
from fennec.space import TransferSpace
from fennec.workspace import Workspace


@pytest.fixture(scope="module")
def sfda_without_pets(tmp_path_factory, data_dir):
    """A workspace holding the SFDA 11 x 11 history without the pets task, trained once."""
    bench = load("sfda11")
    root = tmp_path_factory.mktemp("rec")
    held = bench.records[bench.records["task"] == "pets"]
    held[["model", "task", "value"]].to_csv(root / "pets.csv", index=False)
    kept = bench.records[bench.records["task"] != "pets"]
    kept[["model", "task", "value"]].to_csv(root / "history.csv", index=False)
    ws_path = root / "ws"
    assert main(["init", str(ws_path), "--from", str(root / "history.csv")]) == 0
    ws = Workspace.open(ws_path)
    ws.add_cards({t: c for t, c in bench.task_cards.items() if t != "pets"})
    ws.add_cards(bench.model_cards)
    assert main(["train", "-w", str(ws_path)]) == 0
    return ws_path, root / "pets.csv", bench


def _noise_task(path):
    """A task folder of two classes of three random 32x32 images (the space places it by its names and size)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (path / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path / label / f"{i}.png")
    return path


def _agreement(ranking, truth):
    scores = {r["model"]: r["score"] for r in ranking}
    common = [m for m in truth.index if m in scores]
    return stats.weightedtau([scores[m] for m in common], truth[common].to_numpy()).statistic


def test_new_task_results_reach_the_space_and_do_not_hurt_the_ranking_of_a_similar_task(sfda_without_pets, capsys):
    ws_path, pets_csv, bench = sfda_without_pets
    query = bench.task_cards["pets"]  # a new pets-like task: same label names, no history of its own
    truth = bench.records[bench.records["task"] == "pets"].set_index("model")["value"]
    ws = Workspace.open(ws_path)
    before = Recommender(ws).recommend(query, k=11, fallback="none")
    assert main(["history", "add", str(pets_csv), "-w", str(ws_path)]) == 0
    capsys.readouterr()
    assert main(["train", "--incremental", "-w", str(ws_path), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert "update" in trained["mode"]
    after = Recommender(ws).recommend(query, k=11, fallback="none")
    assert after.space_version != before.space_version
    # SFDA's ten tasks are too few for the kernel to trust side features, so the cold ranking is the models' prior:
    # the new task must pull each model's prior towards where it stands on the new task, and the ranking must not
    # get worse.
    spaces = [TransferSpace.load(ws.version_dir(r.space_version) / "space") for r in (before, after)]
    models = spaces[0].model_ids_
    pull = spaces[1].model_bias_[[spaces[1].model_ids_.index(m) for m in models]] - spaces[0].model_bias_
    gap = normalize(truth.reindex(models).to_numpy(), spaces[1].normalize) - spaces[0].model_bias_
    assert stats.spearmanr(pull, gap).statistic > 0.9
    assert _agreement(after.ranking, truth) >= _agreement(before.ranking, truth)


def test_previous_version_stays_loadable(sfda_without_pets):
    ws_path, _, bench = sfda_without_pets
    ws = Workspace.open(ws_path)
    first = ws.versions()[0]
    rec = Recommender(ws).recommend(bench.task_cards["dtd"], k=3, fallback="none", version=first)
    assert rec.space_version == first and len(rec.ranking) == 3


def test_recommend_cli_json_and_errors(sfda_without_pets, tmp_path, capsys):
    ws_path, _, _ = sfda_without_pets
    task = _noise_task(tmp_path / "task")
    capsys.readouterr()
    assert main(["recommend", str(task), "-w", str(ws_path), "--top", "3", "--json", "--fallback", "none"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"task", "ranking", "fallback", "space_version"} <= set(result)
    assert len(result["ranking"]) == 3 and {"model", "score", "confidence"} <= set(result["ranking"][0])
    assert result["fallback"] is None
    (tmp_path / "empty").mkdir()
    for argv, expected in [(["recommend", str(tmp_path / "empty"), "-w", str(ws_path)], "empty"),
                           (["recommend", str(tmp_path / "nope"), "-w", str(ws_path)], "does not exist"),
                           (["recommend", str(task), "-w", str(tmp_path / "nows")], "does not exist")]:
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert expected in err.lower() and "Traceback" not in err


@pytest.mark.parametrize("config, blocks", [
    ({}, ["labels:labels", "labels:description", "stats", "default:prototypes", "default:spread"]),
    ({"task_proxies": {"stats": None}, "image_proxy": None}, ["stats"]),
])
def test_training_uses_the_proxies_of_the_workspace_config(tmp_path, data_dir, config, blocks):
    """The mini-zoo's cards carry the default image proxy's embedding of their images: with the default config
    it joins the task side features; a config naming other proxies gets those, and recommend uses the same."""
    bench = load("minizoo")
    held = "hw_digits"
    bench.records.loc[bench.records["task"] != held, ["model", "task", "value"]].to_csv(tmp_path / "h.csv",
                                                                                        index=False)
    ws = Workspace.create(tmp_path / "ws", config=config)
    ws.history().add(tmp_path / "h.csv")
    ws.add_cards(bench.task_cards)
    ws.add_cards(bench.model_cards)
    recommender = Recommender(ws)
    version = recommender.train()
    assert recommender._featurizer(version).block_names == blocks
    rec = recommender.recommend(bench.task_cards[held], k=5, fallback="none")
    assert len(rec.ranking) == 5 and len(rec.task_features) == len(recommender._featurizer(version).transform(
        bench.task_cards[held]))


def test_fallback_blend_moves_uncertain_models_towards_the_metric_and_ignores_a_tied_metric():
    from fennec.recommend import _blend

    ids = np.array(["a", "b", "c", "d"])
    scores = np.array([2.0, 1.0, 0.0, -1.0])
    unsure = np.zeros(4)
    flipped = _blend(ids, scores, unsure, {"a": 0.1, "b": 0.5, "c": 0.9})  # d: no metric, unchanged
    assert flipped[2] > flipped[1] > flipped[0] and flipped[3] == -1.0
    sure = _blend(ids, scores, np.ones(4), {"a": 0.1, "b": 0.5, "c": 0.9})
    np.testing.assert_allclose(sure, scores, atol=1e-12)  # full confidence: the metric does not move them
    np.testing.assert_array_equal(_blend(ids, scores, unsure, {"a": 1.0, "b": 1.0, "c": 1.0}), scores)


def test_next_skips_tried_models_reports_unknown_ones_and_keeps_to_candidates(sfda_without_pets):
    ws_path, _, bench = sfda_without_pets
    recommender = Recommender(Workspace.open(ws_path))
    card = bench.task_cards["dtd"]
    picks = recommender.next(card, {"resnet50": 70.0, "resnet152": 72.0, "not-a-model": 1.0}, k=4)
    models = [p["model"] for p in picks.picks]
    assert len(models) == 4 and not {"resnet50", "resnet152"} & set(models)
    assert picks.tried == {"resnet50": 70.0, "resnet152": 72.0} and picks.ignored == ["not-a-model"]
    assert np.all(np.diff([p["value"] for p in picks.picks]) <= 0)
    assert not any(p["trained_on_task_data"] for p in picks.picks)  # no SFDA model was trained on DTD
    limited = recommender.next(card, {"resnet50": 70.0}, k=5, candidates=["resnet50", "googlenet", "resnet34"])
    assert {p["model"] for p in limited.picks} == {"googlenet", "resnet34"}
    with pytest.raises(InputError, match="does not know: nope"):
        recommender.next(card, candidates=["nope"])
    imagenet_like = TaskCard("imagenet-subset", extra={"dataset": "ImageNet"})  # every SFDA model's source
    assert all(p["trained_on_task_data"] for p in recommender.next(imagenet_like).picks)
    assert all(p["trained_on_task_data"] for p in recommender.next(card, dataset="imagenet").picks)


def test_next_cli_reads_the_tried_results_and_refuses_a_file_of_several_tasks(sfda_without_pets, tmp_path, capsys):
    ws_path, _, _ = sfda_without_pets
    task = _noise_task(tmp_path / "task")
    tried = tmp_path / "tried.csv"
    tried.write_text("model,task,value\nresnet50,task,70.1\nresnet50,task,71.0\ngooglenet,task,65.0\n")
    capsys.readouterr()
    assert main(["next", str(task), "-w", str(ws_path), "--tried", str(tried), "--top", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tried"] == {"resnet50": 71.0, "googlenet": 65.0} and len(result["picks"]) == 2
    assert not {"resnet50", "googlenet"} & {p["model"] for p in result["picks"]}
    assert main(["next", str(task), "-w", str(ws_path)]) == 0
    assert "pick" in capsys.readouterr().out
    two = tmp_path / "two.csv"
    two.write_text("model,task,value\nresnet50,a,70.1\ngooglenet,b,65.0\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("model,task,value\nresnet50,task,high\n")
    for path, expected in [(two, "2 tasks"), (bad, "line 2")]:
        assert main(["next", str(task), "-w", str(ws_path), "--tried", str(path)]) == 1
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err
