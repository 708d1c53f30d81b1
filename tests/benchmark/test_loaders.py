"""Benchmark loaders on the released files (``data_dir`` fixture), the long-form reader, and the download path."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.loaders import _fetch, available, load
from benchmark.loaders import _load_named  # the per-process cache, cleared to time a cold load
from benchmark.loaders._shift import SNOOPY_TASKS, _task_of
from benchmark.loaders._transfergraph import TARGETS8
from fennec.errors import DataNotFoundError, HistoryFormatError, UnknownNameError

LOADERS = Path(__file__).resolve().parents[2] / "benchmark" / "loaders"
SHAPES = {"sfda11": (11, 11), "shift": (292, 19), "transfergraph": (180, 13), "transfergraph8": (180, 13)}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the network: downloads are tested with file:// URLs only."""
    monkeypatch.setenv("FENNEC_OFFLINE", "1")


def _matrix(name: str) -> pd.DataFrame:
    return load(name).records.pivot(index="model", columns="task", values="value")


def _raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


# --- named benchmarks -----------------------------------------------------------------------------------------------

def test_available_and_unknown_name() -> None:
    assert available() == ["minizoo", "sfda11", "shift", "transfergraph", "transfergraph8"]
    with pytest.raises(UnknownNameError, match="Unknown benchmark 'shfit'") as err:
        load("shfit")
    assert "'shift'" in (err.value.hint or "")


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes_and_one_value_per_pair(data_dir: Path, name: str) -> None:
    bench = load(name, data_dir)
    assert list(bench.records.columns[:3]) == ["model", "task", "value"]
    assert not bench.records.duplicated(["model", "task"]).any()
    assert _matrix(name).shape == SHAPES[name]
    assert np.isfinite(bench.records["value"]).all()


def test_sfda11_values_are_the_csv(data_dir: Path) -> None:
    rows = _raw_rows(data_dir / "sfda" / "sfda_group1_finetune_acc.csv")
    got = _matrix("sfda11")
    assert len(rows) == 121
    for row in rows:
        assert got.loc[row["model"], row["dataset"]] == float(row["finetune_acc"])
    assert got.loc["mnasnet1_0", "aircraft"] == 66.48


def test_shift_pivot_picks_best_validation_run(data_dir: Path) -> None:
    rows = [r for r in _raw_rows(data_dir / "shift" / "ftrecords.csv") if r["train_slice"] == ":800"]
    got = _matrix("shift")

    def runs(model: str, dataset: str) -> list[dict[str, str]]:
        return [r for r in rows if r["model_identifier"] == model and r["train_dataset_name"] == dataset]

    # Two learning rates: the lower test accuracy wins because its validation accuracy is higher (0.55 vs 0.49).
    sena = runs("Sena/flowers", "cifar100")
    best = max(sena, key=lambda r: float(r["val_accuracy"]))
    assert got.loc["Sena/flowers", "cifar100"] == float(best["test_accuracy"])
    assert got.loc["Sena/flowers", "cifar100"] < max(float(r["test_accuracy"]) for r in sena)
    # Equal validation accuracy (0.23): the tie goes to the higher test accuracy.
    tie = runs("dimbyTa/rock-challenge-DeiT-solo-2", "svhn_cropped")
    assert len({r["val_accuracy"] for r in tie}) == 1
    assert got.loc["dimbyTa/rock-challenge-DeiT-solo-2", "svhn_cropped"] == max(float(r["test_accuracy"]) for r in tie)


def test_shift_tasks_split_by_config(data_dir: Path) -> None:
    tasks = set(load("shift", data_dir).tasks)
    assert {"clevr_count", "clevr_distance", "dsprites_location", "dsprites_orientation", "smallnorb_azimuth",
            "smallnorb_elevation", "kitti"} <= tasks
    assert not tasks & {"clevr", "dsprites", "smallnorb", "glue/cola", "ag_news"}
    assert _task_of("smallnorb", {"label_name": "label_azimuth"}, 2) == "smallnorb_azimuth"
    with pytest.raises(HistoryFormatError, match="line 7"):
        _task_of("clevr", {"lr": 0.1}, 7)


def test_transfergraph_values_and_targets(data_dir: Path) -> None:
    rows = _raw_rows(data_dir / "transfergraph" / "records.csv")
    got = _matrix("transfergraph")
    for row in rows[::97]:
        assert got.loc[row["model"], row["finetuned_dataset"]] == float(row["eval_accuracy"])
    tg8 = load("transfergraph8", data_dir)
    assert sorted(tg8.targets) == sorted(TARGETS8)
    assert load("transfergraph", data_dir).targets == sorted(got.columns)
    pd.testing.assert_frame_equal(tg8.records, load("transfergraph", data_dir).records)


# --- cards ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_task_and_model_has_a_card(data_dir: Path, name: str) -> None:
    bench = load(name, data_dir)
    assert set(bench.model_cards) == set(bench.models)
    assert set(bench.task_cards) == set(bench.tasks)
    for task, card in bench.task_cards.items():
        assert card.name == task
        assert card.n_classes is not None and len(card.label_names) == card.n_classes
        assert len(set(card.label_names)) == card.n_classes
        assert card.n_train and card.n_train > 0 and card.description
        assert card.domain in {"natural", "specialized", "structured"}
    for model, card in bench.model_cards.items():
        assert card.name == model
    json.dumps([c.extra for c in bench.task_cards.values()] + [c.extra for c in bench.model_cards.values()])


def test_task_card_facts(data_dir: Path) -> None:
    shift = load("shift", data_dir).task_cards
    assert (shift["dtd"].n_train, shift["dtd"].extra["n_val"]) == (800, 200)
    assert shift["kitti"].n_classes == 4 and shift["kitti"].label_names[-1] == "no vehicle"
    assert shift["oxford_iiit_pet"].label_names[0] == "Abyssinian" and shift["cifar100"].n_classes == 100
    assert (shift["smallnorb_azimuth"].n_classes, shift["smallnorb_elevation"].n_classes) == (18, 9)
    assert {shift[t].domain for t in ("clevr_count", "eurosat", "sun397")} == {"structured", "specialized", "natural"}
    tg = load("transfergraph", data_dir).task_cards
    # TransferGraph's feature table says 10 classes for Oxford Flowers-102; the card keeps 102 and flags it.
    assert tg["flowers"].n_classes == 102 and tg["flowers"].n_train == 1020
    assert tg["flowers"].extra["source_n_classes"] == 10 and tg["flowers"].extra["source_n_classes_disagrees"]
    assert tg["stanfordcars"].label_names[0] == "AM General Hummer SUV 2000" and tg["svhn"].n_train == 73257
    sfda = load("sfda11", data_dir).task_cards
    assert (sfda["aircraft"].n_classes, sfda["voc2007"].n_classes, sfda["sun397"].n_classes) == (100, 20, 397)


def test_label_data_file_is_consistent() -> None:
    data = json.loads((LOADERS / "task_labels.json").read_text())
    for key, facts in data["datasets"].items():
        assert facts["n_classes"] == len(facts["label_names"]) == len(set(facts["label_names"])), key
    for bench, tasks in data["benchmarks"].items():
        assert all(spec["dataset"] in data["datasets"] for spec in tasks.values()), bench


def test_model_cards(data_dir: Path) -> None:
    sfda = load("sfda11", data_dir).model_cards
    assert sfda["resnet50"].arch == "torchvision:resnet50" and sfda["resnet50"].imagenet_top1 == 76.156
    assert sfda["googlenet"].extra["imagenet_top1_source"] == "torchvision documentation"
    assert all(c.arch and c.imagenet_top1 and c.n_params for c in sfda.values())
    tg = load("transfergraph", data_dir).model_cards
    vit = tg["google/vit-base-patch16-224"]
    assert (vit.family, vit.arch, vit.n_params) == ("vit", "timm:vit_base_patch16_224", 86567656.0)
    assert vit.imagenet_top1 == 81.782
    # No hub entry: the architecture comes from the config's class, sizes and parameter count.
    assert tg["Ahmed9275/ALL-3"].arch == "timm:swin_tiny_patch4_window7_224"
    assert tg["Visual-Attention-Network/van-base"].arch is None  # VAN is not in timm
    assert sum(c.arch is not None for c in tg.values()) >= 170


def test_arch_names_resolve() -> None:
    from archi2vec import ensure_torchvision
    ensure_torchvision()
    import timm
    import torchvision.models

    data = json.loads((LOADERS / "model_map.json").read_text())
    timm_names = set(timm.list_models())
    archs = {e["arch"] for e in data["hub"].values()} | {e["arch"] for e in data["signatures"]}
    archs |= {e["arch"] for e in data["name_patterns"] if e["arch"]}
    assert not archs - timm_names
    assert not set(data["torchvision"]) - set(torchvision.models.list_models())


@pytest.mark.parametrize("name", ["mnasnet1_0", "mobilenet_v2", "googlenet"])
def test_torchvision_param_counts(name: str) -> None:
    from archi2vec import ensure_torchvision
    ensure_torchvision()
    import torchvision.models

    kwargs = {"googlenet": {"aux_logits": False, "init_weights": False}}.get(name, {})
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    spec = json.loads((LOADERS / "model_map.json").read_text())["torchvision"][name]
    assert sum(p.numel() for p in model.parameters()) == spec["n_params"]


def test_timm_tags_exist(data_dir: Path) -> None:
    table = pd.read_csv(data_dir / "timm" / "results-imagenet.csv")
    rows = set(zip(table["model"], table["img_size"]))
    data = json.loads((LOADERS / "model_map.json").read_text())
    for entry in list(data["hub"].values()) + list(data["torchvision"].values()):
        if entry.get("timm"):
            assert (entry["timm"], entry["img_size"]) in rows, entry["timm"]


# --- published scores and domain distances --------------------------------------------------------------------------

def test_transfergraph_scores(data_dir: Path) -> None:
    cards = load("transfergraph8", data_dir).task_cards
    assert cards["pets"].extra["scores"]["logme"]["Aftabhussain/Tomato_Leaf_Classifier"] == 0.8949567588976511
    assert cards["pets"].extra["scores"]["hscore"]["Aftabhussain/Tomato_Leaf_Classifier"] == 27.32126674371316
    table = pd.read_csv(data_dir / "transfergraph" / "transferability_score_records.csv")
    logme_dtd = table[(table["target_dataset"] == "dtd") & table["metric"].str.endswith("LOG_ME", na=False)]
    repeated = logme_dtd[logme_dtd["model"].duplicated(keep=False)]
    model = repeated["model"].iloc[0]
    assert cards["dtd"].extra["scores"]["logme"][model] == repeated[repeated["model"] == model]["score"].iloc[-1]
    assert {t for t, c in cards.items() if "scores" in c.extra} == set(TARGETS8)
    assert load("transfergraph8", data_dir).published_metrics() == ["hscore", "logme"]


def test_snoopy_knn1_scores_and_mapping(data_dir: Path) -> None:
    bench = load("shift", data_dir)
    assert bench.published_metrics() == ["knn1"]
    assert bench.task_cards["caltech101"].extra["scores"]["knn1"]["google/vit-large-patch32-384"] == 0.925
    assert all("knn1" in c.extra["scores"] for c in bench.task_cards.values())
    # The code -> task mapping is the one under which snoopy's fine-tune accuracies agree best with SHiFT's.
    snoopy = pd.read_csv(data_dir / "snoopy" / "snoopy_vtab_1nn_vs_ft_long.csv")
    ft = snoopy.pivot(index="model_identifier", columns="task", values="ft_accuracy")
    shift = _matrix("shift").reindex(ft.index)
    for code, task in SNOOPY_TASKS.items():
        corr = shift.corrwith(ft[code])
        assert corr.idxmax() == task, (code, corr.idxmax())


def test_domain_similarity_is_a_distance(data_dir: Path) -> None:
    bench = load("transfergraph", data_dir)
    cifar = bench.task_cards["cifar100"].extra
    assert cifar["domain_similarity_is_distance"] and "cifar100" not in cifar["domain_similarity"]
    assert cifar["domain_similarity"]["imagenet"] == 5.578774929046631
    for a, b in [("pets", "dtd"), ("svhn", "kitti")]:
        assert bench.task_cards[a].extra["domain_similarity"][b] == bench.task_cards[b].extra["domain_similarity"][a]
    assert set(bench.tasks) - {"cifar100"} <= set(cifar["domain_similarity"])
    tomato = bench.model_cards["Aftabhussain/Tomato_Leaf_Classifier"]
    assert tomato.extra["domain_key"] == "['Bacterial_spot', 'Healthy']"


# --- cache ----------------------------------------------------------------------------------------------------------

def test_cache_returns_independent_copies(data_dir: Path) -> None:
    first = load("shift", data_dir)
    first.records.loc[0, "value"] = -1.0
    first.task_cards["dtd"].extra["scores"]["knn1"].clear()
    first.model_cards.clear()
    again = load("shift", data_dir)
    assert again.records.loc[0, "value"] != -1.0
    assert again.task_cards["dtd"].extra["scores"]["knn1"] and again.model_cards


def test_shift_loads_fast(data_dir: Path) -> None:
    _load_named.cache_clear()
    start = time.perf_counter()
    load("shift", data_dir)
    assert time.perf_counter() - start < 5.0
    start = time.perf_counter()
    load("shift", data_dir)
    assert time.perf_counter() - start < 1.0


# --- long form ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sfda11", "shift"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_form_round_trip(data_dir: Path, tmp_path: Path, name: str, suffix: str) -> None:
    records = load(name, data_dir).records
    path = tmp_path / f"history{suffix}"
    records.to_csv(path, index=False) if suffix == ".csv" else records.to_parquet(path, index=False)
    got = load(path)
    pd.testing.assert_frame_equal(got.records[["model", "task", "value"]], records[["model", "task", "value"]])
    assert set(got.model_cards) == set(records["model"]) and set(got.task_cards) == set(records["task"])


def test_long_form_keeps_best_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("model,task,value,seed\nm1,t1,0.5,0\nm1,t1,0.7,1\nm2,t1,0.6,0\nm1,t2,0.1,0\n")
    records = load(path).records
    assert len(records) == 3
    best = records[(records["model"] == "m1") & (records["task"] == "t1")].iloc[0]
    assert (best["value"], best["seed"]) == (0.7, 1)


@pytest.mark.parametrize("text, message", [
    ("model,task,score\nm,t,0.5\n", "Missing value"),
    ("model,task,value\nm,t,0.5\nm2,t,high\n", r"Got 'high' at row 2 \(line 3 of the file\)"),
    ("model,task,value\nm,t,0.5\nm2,t,\n", r"finite number. Got nan at row 2 \(line 3"),
    ("model,task,value\nm,t,0.5\n,t,0.2\n", r"'model' .* must be non-empty. .*row 2"),
    ("model,task,value\n", "has a header but no rows"),
    ("", "is empty"),
])
def test_long_form_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(HistoryFormatError, match=message):
        load(path)


def test_long_form_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HistoryFormatError, match="does not exist"):
        load(tmp_path / "nope.csv")


# --- data directory and downloads -----------------------------------------------------------------------------------

def test_missing_file_offline_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load("shift", tmp_path)
    assert "shift/ftrecords.csv" in str(err.value) and "FENNEC_OFFLINE" in str(err.value)
    assert str(tmp_path / "shift" / "ftrecords.csv") in err.value.hint and "FENNEC_DATA" in err.value.hint


def test_all_missing_required_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="3 benchmark files") as err:
        load("transfergraph8", tmp_path)
    for name in ("records.csv", "model_config_dataset.csv", "target_dataset_features.csv"):
        assert str(tmp_path / "transfergraph" / name) in err.value.hint


def test_optional_files_missing_warn(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "sfda").mkdir()
    shutil.copy(data_dir / "sfda" / "sfda_group1_finetune_acc.csv", tmp_path / "sfda")
    with pytest.warns(UserWarning, match="timm/results-imagenet.csv"):
        bench = load("sfda11", tmp_path)
    pd.testing.assert_frame_equal(bench.records, load("sfda11", data_dir).records)
    assert bench.model_cards["resnet50"].imagenet_top1 is None
    assert bench.model_cards["googlenet"].imagenet_top1 == 69.778  # torchvision's figure needs no file


def _serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, sha256: str) -> _fetch.RemoteFile:
    """Point the registry's shift records at a local file:// URL (no network) and allow downloads."""
    origin = tmp_path / "origin" / "ftrecords.csv"
    origin.parent.mkdir()
    origin.write_bytes(content)
    entry = _fetch.RemoteFile("shift/ftrecords.csv", sha256, origin.as_uri(), "test origin")
    monkeypatch.setitem(_fetch.FILES, entry.relpath, entry)
    monkeypatch.setenv("FENNEC_HOME", str(tmp_path / "home"))  # a cache of this test's own
    monkeypatch.delenv("FENNEC_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return entry


def test_download_into_cache_verifies_checksum(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    content = b"model,task,value\nm,t,1\n"
    entry = _serve(monkeypatch, tmp_path, content, hashlib.sha256(content).hexdigest())
    empty = tmp_path / "data"
    got = _fetch.resolve(entry.relpath, empty)
    assert got.read_bytes() == content and "cache" in got.parts and not (empty / entry.relpath).exists()
    assert _fetch.resolve(entry.relpath, empty) == got  # served from the cache the second time
    monkeypatch.setenv("FENNEC_OFFLINE", "1")
    assert _fetch.resolve(entry.relpath, empty) == got  # the cache needs no network


def test_download_with_wrong_checksum_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    entry = _serve(monkeypatch, tmp_path, b"tampered\n", "0" * 64)
    with pytest.raises(DataNotFoundError, match="SHA-256"):
        _fetch.resolve(entry.relpath, tmp_path / "data")
    assert not any((tmp_path / "data").glob("**/*.csv"))


def test_failed_download_and_missing_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    entry = _serve(monkeypatch, tmp_path, b"x", "0" * 64)
    monkeypatch.setitem(_fetch.FILES, entry.relpath, _fetch.RemoteFile(entry.relpath, entry.sha256,
                                                                       (tmp_path / "gone.csv").as_uri(), "gone"))
    with pytest.raises(DataNotFoundError, match="downloading it from"):
        _fetch.resolve(entry.relpath, tmp_path / "data")
    with pytest.raises(DataNotFoundError, match="no public download URL"):
        _fetch.resolve("snoopy/snoopy_vtab_1nn_vs_ft_long.csv", tmp_path / "data")


def test_registered_checksums_match_the_released_files(data_dir: Path) -> None:
    for relpath, entry in _fetch.FILES.items():
        assert hashlib.sha256((data_dir / relpath).read_bytes()).hexdigest() == entry.sha256, relpath
