"""Tests of fennec.history.TransferHistory: the SQLite store of transfer records."""
from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

import fennec.history._writes as history_module  # the module of the insert loop, patched below
from fennec.errors import (
    DataNotFoundError,
    HistoryFormatError,
    InputError,
    UnknownNameError,
)
from fennec.history import AGGREGATES, SCHEMA_VERSION, TransferHistory, TransferRecord

# Values whose shortest decimal text is long or whose binary form is awkward: a lossy CSV path would change them.
AWKWARD = [0.1 + 0.2, 1 / 3, 2 / 3 * 100, 1e-300, 123456789.12345679, 5e-324, 96.12, -0.5]


@pytest.fixture
def history(tmp_path):
    with TransferHistory(tmp_path / "history.db") as store:
        yield store


def _table() -> pd.DataFrame:
    """Records with duplicates, hyper-parameters with gaps, metric and source columns."""
    return pd.DataFrame(
        {
            "model": ["resnet50", "resnet50", "vit_b16", "resnet50", "convnext_t", "vit_b16", "convnext_t", "vit_b16"],
            "task": ["cifar10", "cifar10", "dtd", "dtd", "cifar10", "cifar10", "dtd", "dtd"],
            "value": AWKWARD,
            "metric": ["top1", "top1", None, "top1", "top1", "top1", None, "top1"],
            "lr": [0.01, 0.001, None, 0.01, 0.1, None, 0.01, 0.003],
            "seed": pd.array([0, 1, 0, None, 2, 0, 1, 7], dtype="Int64"),
            "split": ["test", "test", "val", "test", None, "test", "test", "test"],
        }
    )


def _state(store: TransferHistory) -> tuple:
    """Everything a reader can see, for before / after comparisons."""
    return store.records(aggregate=None), store.models(), store.tasks(), store.n_records


def _assert_same_state(a: tuple, b: tuple) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1:] == b[1:]


# ------------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_export_import_round_trips_exactly(history, tmp_path, name):
    history.add(_table(), source="unit-test")
    path = tmp_path / name
    history.to_csv(path) if ".csv" in name else history.to_parquet(path)
    with TransferHistory(tmp_path / "copy.db") as copy:
        assert copy.add(path) == 8
        before, after = history.records(aggregate=None), copy.records(aggregate=None)
        pd.testing.assert_frame_equal(before, after)
        # Bit for bit, not approximately.
        assert after["value"].to_numpy().tobytes() == np.array(AWKWARD).tobytes()
        assert list(after.columns) == ["model", "task", "value", "metric", "source", "timestamp", "lr", "seed", "split"]
        assert after["seed"].dtype == "Int64" and after["seed"].isna().sum() == 1
        assert copy.models() == history.models() and copy.tasks() == history.tasks()


def test_export_frame_holds_what_was_added(history):
    history.add(_table(), source="unit-test")
    frame = history.records(aggregate=None)
    table = _table()
    assert frame["model"].tolist() == table["model"].tolist()
    assert frame["metric"].isna().tolist() == table["metric"].isna().tolist()
    assert set(frame["source"]) == {"unit-test"}
    assert frame["lr"].isna().tolist() == table["lr"].isna().tolist()
    assert frame.loc[3, "split"] == "test" and pd.isna(frame.loc[4, "split"])


def test_iteration_yields_records_in_insertion_order(history):
    history.add(_table())
    records = list(history)
    assert len(records) == len(history) == history.n_records == 8
    assert all(isinstance(r, TransferRecord) for r in records)
    assert [r.value for r in records] == AWKWARD
    assert records[0].params == {"lr": 0.01, "seed": 0, "split": "test"}
    assert records[3].params == {"lr": 0.01, "split": "test"}  # missing cells are left out, not stored as null
    assert records[0].timestamp.tzinfo is not None


def test_timestamp_column_is_kept_and_naive_times_are_utc(history):
    table = pd.DataFrame(
        {"model": ["a", "b", "c"], "task": ["t"] * 3, "value": [1.0, 2.0, 3.0],
         "timestamp": ["2024-05-01T12:00:00Z", "2024-05-01 14:30:00.250", None]}
    )
    history.add(table)
    stamps = history.records(aggregate=None)["timestamp"]
    assert stamps[0] == pd.Timestamp("2024-05-01T12:00:00", tz="UTC")
    assert stamps[1] == pd.Timestamp("2024-05-01T14:30:00.250", tz="UTC")
    assert stamps[2] > pd.Timestamp("2024-06-01", tz="UTC")  # empty: the time of the import


def test_source_fills_only_empty_cells(history):
    table = pd.DataFrame({"model": ["a", "b"], "task": ["t", "t"], "value": [1.0, 2.0], "source": ["paper", ""]})
    history.add(table, source="my-runs")
    assert history.records(aggregate=None)["source"].tolist() == ["paper", "my-runs"]


def test_ids_are_stripped_and_numbers_become_text(history):
    history.add(pd.DataFrame({"model": [" resnet50 ", 7], "task": ["dtd", "dtd "], "value": [1.0, 2.0]}))
    assert history.models() == ["resnet50", "7"]
    assert history.tasks() == ["dtd"]


# ----------------------------------------------------------------------------------------- aggregation rules


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("best", 3.0), ("max", 3.0), ("min", 1.0), ("mean", 2.25), ("median", 2.5), ("last", 3.0), ("first", 2.0)],
)
def test_duplicate_runs_are_kept_and_aggregated_by_rule(history, rule, expected):
    history.add(pd.DataFrame({"model": ["m"] * 3, "task": ["t"] * 3, "value": [2.0, 1.0, 3.0]}))
    history.add(pd.DataFrame({"model": ["m"], "task": ["t"], "value": [3.0]}))  # a later file: "last" is this one
    # runs in insertion order: 2, 1, 3, 3
    assert history.n_records == 4
    values, models, tasks = history.matrix(aggregate=rule)
    assert values.tolist() == [[expected]]
    frame = history.records(aggregate=rule)
    assert frame.to_dict("records") == [{"model": "m", "task": "t", "value": expected, "n_runs": 4}]


def test_last_and_first_follow_insertion_order(history):
    history.add(pd.DataFrame({"model": ["m", "m", "m"], "task": ["t"] * 3, "value": [5.0, 9.0, 1.0]}))
    assert history.matrix("last")[0][0, 0] == 1.0
    assert history.matrix("first")[0][0, 0] == 5.0


def test_aggregates_match_numpy_on_random_history(history):
    rng = np.random.default_rng(0)
    n = 3000
    table = pd.DataFrame(
        {"model": rng.integers(0, 30, n).astype(str), "task": rng.integers(0, 12, n).astype(str),
         "value": rng.random(n)}
    )
    history.add(table)
    for rule, reduce in [("best", np.max), ("min", np.min), ("mean", np.mean), ("median", np.median),
                         ("last", lambda v: v[-1]), ("first", lambda v: v[0])]:
        values, models, tasks = history.matrix(aggregate=rule)
        expected = np.full_like(values, np.nan)
        for (model, task), group in table.groupby(["model", "task"], sort=False):
            expected[models.index(model), tasks.index(task)] = reduce(group["value"].to_numpy())
        np.testing.assert_allclose(values, expected, rtol=1e-12, err_msg=rule)


def test_unknown_aggregate_is_refused_with_suggestion(history):
    history.add(_table())
    with pytest.raises(UnknownNameError, match="Unknown aggregate rule 'medain'") as info:
        history.matrix(aggregate="medain")
    assert "median" in str(info.value.hint)
    with pytest.raises(UnknownNameError):
        history.records(aggregate="average")
    assert set(AGGREGATES) >= {"best", "mean", "median", "last"}


# -------------------------------------------------------------------------------------- matrix and index maps


def test_matrix_has_nan_where_missing_and_follows_requested_order(history):
    history.add(_table())
    values, models, tasks = history.matrix()
    assert (models, tasks) == (["resnet50", "vit_b16", "convnext_t"], ["cifar10", "dtd"])
    assert values.shape == (3, 2) and values.dtype == np.float64
    assert values[0, 0] == max(AWKWARD[0], AWKWARD[1])
    sub, sub_models, sub_tasks = history.matrix(models=["convnext_t", "resnet50"], tasks=["dtd"])
    assert (sub_models, sub_tasks) == (["convnext_t", "resnet50"], ["dtd"])
    np.testing.assert_array_equal(sub, values[[2, 0]][:, [1]])

    history.add(pd.DataFrame({"model": ["lonely"], "task": ["svhn"], "value": [50.0]}))
    values, models, tasks = history.matrix()
    assert values.shape == (4, 3)
    assert np.isnan(values[:3, 2]).all() and np.isnan(values[3, :2]).all() and values[3, 2] == 50.0


def test_matrix_refuses_unknown_or_repeated_ids(history):
    history.add(_table())
    with pytest.raises(UnknownNameError, match="Unknown model 'resnet5'") as info:
        history.matrix(models=["resnet5"])
    assert "resnet50" in str(info.value.hint)
    with pytest.raises(UnknownNameError, match="Unknown task"):
        history.matrix(tasks=["imagenet"])
    with pytest.raises(InputError, match="must not repeat"):
        history.matrix(models=["vit_b16", "vit_b16"])
    with pytest.raises(InputError, match="not one string"):
        history.matrix(models="vit_b16")


def test_indices_follow_first_appearance_and_never_move(history):
    history.add(pd.DataFrame({"model": ["b", "a", "b"], "task": ["y", "x", "x"], "value": [1.0, 2.0, 3.0]}))
    model_index, task_index = history.mapping()
    assert model_index == {"b": 0, "a": 1} and task_index == {"y": 0, "x": 1}
    history.add(pd.DataFrame({"model": ["c", "a"], "task": ["z", "y"], "value": [4.0, 5.0]}))
    model_index, task_index = history.mapping()
    assert model_index == {"b": 0, "a": 1, "c": 2} and task_index == {"y": 0, "x": 1, "z": 2}
    assert history.n_models == 3 and history.n_tasks == 3


def test_empty_history(history):
    assert len(history) == 0 and history.models() == [] and list(history) == []
    values, models, tasks = history.matrix()
    assert values.shape == (0, 0)
    assert history.records().empty and history.records(aggregate=None).empty


# ------------------------------------------------------------------------------------- transactional appends


def test_bad_row_rejects_whole_file_and_leaves_store_unchanged(history, tmp_path):
    history.add(_table())
    before = _state(history)
    lines = ["model,task,value"] + [f"new_model_{i},new_task,{i}.5" for i in range(500)] + ["vit_b16,dtd,oops"]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryFormatError) as info:
        history.add(path)
    message = str(info.value)
    assert "bad.csv" in message and "line 502 (line 1 is the header)" in message and "'oops' is not a number" in message
    assert "nothing from bad.csv was imported" in message
    _assert_same_state(before, _state(history))


def test_failure_during_insert_rolls_back_everything(history, monkeypatch):
    history.add(_table())
    before = _state(history)

    class _FailingBar:  # stands in for tqdm: fails after the first chunk was written inside the transaction
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise RuntimeError("disk full")

    monkeypatch.setattr(history_module, "_CHUNK", 5)
    monkeypatch.setattr(history_module, "tqdm", _FailingBar)
    table = pd.DataFrame({"model": [f"m{i}" for i in range(20)], "task": ["t"] * 20, "value": np.arange(20.0)})
    with pytest.raises(RuntimeError, match="disk full"):
        history.add(table)
    _assert_same_state(before, _state(history))
    monkeypatch.undo()
    assert history.add(table) == 20  # the store is still usable


# ------------------------------------------------------------------------------------------------- bad inputs


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model,task,value\na,t,1\nb,t,abc\n", r"line 3 \(line 1 is the header\): the value 'abc' is not a number"),
        ("model,task,value\na,t,1\nb,t,nan\n", r"line 3 .*the value nan is not finite"),
        ("model,task,value\na,t,inf\n", r"line 2 .*the value inf is not finite"),
        ("model,task,value\na,t,1\nb,t,1\nc,t,\n", r"line 4 .*the value is empty"),
        ("model,task,value\na,t,1\n,t,2\n", r"line 3 .*the model id is empty"),
        ("model,task,value\na,  ,1\n", r"line 2 .*the task id is empty"),
        ("model,task,value\n,,x\n", r"line 2 .*model id is empty; the task id is empty; the value 'x' is not a number"),
        ("model,task,value\na,t,1\n\nb,t,x\n", r"line 4 .*'x' is not a number"),  # blank lines still count
        ("model,task,value\na,t,x\nb,t,y\nc,t,z\n", r"line 2 .*2 more row\(s\) have problems"),
        ("model,task,value,timestamp\na,t,1,yesterday\n", r"line 2 .*timestamp 'yesterday' is not an ISO 8601"),
    ],
)
def test_bad_rows_are_named_by_line(history, tmp_path, text, expected):
    path = _write(tmp_path, "records.csv", text)
    with pytest.raises(HistoryFormatError, match=expected):
        history.add(path)
    assert history.n_records == 0 and history.models() == []


def test_missing_column_names_what_exists_and_what_is_needed(history, tmp_path):
    path = _write(tmp_path, "sfda.csv", "model,dataset,finetune_acc\nresnet50,cifar10,96.3\n")
    with pytest.raises(HistoryFormatError) as info:
        history.add(path)
    message = str(info.value)
    assert "lacks the required column(s) task, value" in message
    assert "It has: model, dataset, finetune_acc" in message and "Needed: model, task, value" in message
    assert "'dataset': 'task'" in info.value.hint and "'finetune_acc': 'value'" in info.value.hint


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", r"empty.csv is empty \(0 bytes\)"),
        ("header.csv", b"model,task,value\n", "has a header but no records"),
        ("blank.csv", b"\n\n", "is empty"),
        ("binary.csv", b"\xff\xfe\x00\x81\x00garbage", "not UTF-8 text"),
        ("ragged.csv", b"model,task,value\na,t,1\nb,t,2,3,4\n", "Cannot read ragged.csv as CSV"),
        ("broken.parquet", b"PAR1 this is not parquet", "Cannot read broken.parquet as PARQUET"),
        ("empty.parquet", b"", "empty"),
        ("records.xlsx", b"PK\x03\x04", r"unknown file extension '.xlsx'. Supported: .csv, .csv.gz.*\.parquet"),
        ("records", b"model,task,value\n", r"unknown file extension '\(none\)'"),
    ],
)
def test_unreadable_files_get_clear_errors(history, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HistoryFormatError, match=expected):
        history.add(path)
    assert history.n_records == 0


def test_missing_file_and_directory(history, tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        history.add(tmp_path / "nope.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(HistoryFormatError, match="is a directory"):
        history.add(tmp_path / "folder.csv")


def test_dataframe_problems_name_position_and_label(history):
    table = pd.DataFrame({"model": ["a", "b"], "task": ["t", None], "value": [1.0, 2.0]}, index=["x", "y"])
    with pytest.raises(HistoryFormatError, match=r"row 1 \(0-based position, index label 'y'\): the task id is empty"):
        history.add(table)
    with pytest.raises(HistoryFormatError, match="the value True is not a number"):
        history.add(pd.DataFrame({"model": ["a"], "task": ["t"], "value": [True]}))
    with pytest.raises(HistoryFormatError, match="has a header but no records"):
        history.add(pd.DataFrame({"model": [], "task": [], "value": []}))
    with pytest.raises(HistoryFormatError, match="duplicate columns: model"):
        history.add(pd.DataFrame([["a", "b", "t", 1.0]], columns=["model", "model ", "task", "value"]))
    with pytest.raises(InputError, match="must be a path to a CSV/Parquet file or a pandas DataFrame"):
        history.add([("a", "t", 1.0)])
    assert history.n_records == 0


# ----------------------------------------------------------------------------------------- file and schema


def test_reopening_keeps_records_and_sets_wal_and_version(tmp_path):
    path = tmp_path / "h.db"
    with TransferHistory(path) as store:
        store.add(_table())
    with TransferHistory(path) as store:
        assert store.n_records == 8 and store.models() == ["resnet50", "vit_b16", "convnext_t"]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "h.db"
    TransferHistory(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryFormatError, match=f"newer fennec .*version {SCHEMA_VERSION + 1}.*Upgrade fennec"):
        TransferHistory(path)


def test_non_sqlite_and_foreign_sqlite_files_are_refused(tmp_path):
    text = _write(tmp_path, "records.csv", "model,task,value\na,t,1\n")
    with pytest.raises(HistoryFormatError, match="not an SQLite database") as info:
        TransferHistory(text)
    assert ".add(" in info.value.hint
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(HistoryFormatError, match=r"not a fennec transfer history \(its tables: users\)"):
        TransferHistory(other)
    with pytest.raises(InputError, match="Cannot open"):
        TransferHistory(tmp_path / "no" / "such" / "folder" / "h.db")


def test_closed_store_and_pickling(tmp_path):
    store = TransferHistory(tmp_path / "h.db")
    store.add(_table())
    clone = pickle.loads(pickle.dumps(store))
    assert clone.n_records == 8 and clone.path == store.path
    clone.close()
    store.close()
    with pytest.raises(InputError, match="is closed"):
        store.n_records
    with pytest.raises(InputError, match="cannot be sent to another process"):
        pickle.dumps(TransferHistory(":memory:"))


def test_memory_store_is_shared_by_threads():
    store = TransferHistory(":memory:")
    worker = threading.Thread(target=store.add, args=(_table(),))
    worker.start()
    worker.join()
    assert store.n_records == 8


# -------------------------------------------------------------------------------------------------- concurrency


def _big_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"model": rng.integers(0, 80, n).astype(str), "task": rng.integers(0, 15, n).astype(str),
         "value": rng.random(n) + seed}
    )


def test_reader_sees_old_state_while_a_write_is_half_done(tmp_path, monkeypatch):
    path = tmp_path / "h.db"
    store = TransferHistory(path)
    store.add(_big_table(200, seed=0))
    old = store.matrix()
    started, release = threading.Event(), threading.Event()

    class _PausingBar:  # stands in for tqdm: pauses the writer after its first chunk, inside the transaction
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            started.set()
            release.wait(30)

    monkeypatch.setattr(history_module, "_CHUNK", 100)
    monkeypatch.setattr(history_module, "tqdm", _PausingBar)
    writer = threading.Thread(target=store.add, args=(_big_table(1000, seed=1),))
    writer.start()
    try:
        assert started.wait(30)
        with TransferHistory(path, timeout=2) as other:  # a second opener and this thread's own connection
            for reader in (store, other):
                assert reader.n_records == 200
                values, models, tasks = reader.matrix()
                np.testing.assert_array_equal(values, old[0])
                assert (models, tasks) == (old[1], old[2])
    finally:
        release.set()
        writer.join()
    assert store.n_records == 1200
    store.close()


def test_concurrent_readers_see_whole_states_while_a_thread_appends(tmp_path, monkeypatch):
    monkeypatch.setattr(history_module, "_CHUNK", 1000)  # many executemany calls inside the one transaction
    path = tmp_path / "h.db"
    store = TransferHistory(path)
    store.add(_big_table(500, seed=0))
    old_values = store.matrix()[0]
    new_table = _big_table(40_000, seed=3)  # values in [3, 4): "best" changes on every pair it touches
    done, seen, errors = threading.Event(), [], []

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(store.matrix())
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    store.add(new_table)
    done.set()
    for thread in readers:
        thread.join()
    assert not errors
    new = store.matrix()
    assert len(seen) >= 2
    for values, models, tasks in seen:
        if values.shape == old_values.shape and np.array_equal(values, old_values, equal_nan=True):
            continue
        np.testing.assert_array_equal(values, new[0])  # anything else than old or new would be a partial file
    store.close()


def test_reader_while_another_process_appends(tmp_path):
    path = tmp_path / "h.db"
    store = TransferHistory(path)
    store.add(_big_table(300, seed=0))
    csv = tmp_path / "more.csv"
    _big_table(50_000, seed=2).to_csv(csv, index=False)
    # Small chunks: many executemany calls inside the one transaction, so a reader could catch a partial file.
    code = "import sys, fennec.history._store as h; h._CHUNK = 1000; h.TransferHistory(sys.argv[1]).add(sys.argv[2])"
    writer = subprocess.Popen([sys.executable, "-c", code, str(path), str(csv)], stderr=subprocess.PIPE)
    counts = []
    while writer.poll() is None:
        counts.append(store.n_records)
    assert writer.wait() == 0, writer.stderr.read().decode()
    assert len(counts) >= 2 and set(counts) <= {300, 50_300}
    assert store.n_records == 50_300
    store.close()


# ----------------------------------------------------------------------------------------------- real data


def test_sfda_table_imports_as_11_by_11(history, data_dir, tmp_path):
    table = pd.read_csv(data_dir / "sfda" / "sfda_group1_finetune_acc.csv")
    long = tmp_path / "sfda_long.csv"
    table.rename(columns={"dataset": "task", "finetune_acc": "value"}).to_csv(long, index=False)
    assert history.add(long, source="SFDA paper, group 1") == 121
    values, models, tasks = history.matrix()
    assert values.shape == (11, 11) and not np.isnan(values).any()
    assert models[:4] == ["resnet34", "resnet50", "resnet101", "resnet152"] and tasks[0] == "aircraft"
    index = {(m, t): values[i, j] for i, m in enumerate(models) for j, t in enumerate(tasks)}
    assert index["resnet34", "aircraft"] == 84.06
    assert index["mnasnet1_0", "cars"] == 72.58
    assert index["inception_v3", "voc2007"] == 83.84
    assert index["densenet169", "flowers"] == 97.32
    best_on_cifar10 = models[int(np.argmax(values[:, tasks.index("cifar10")]))]
    assert best_on_cifar10 == "resnet152"
