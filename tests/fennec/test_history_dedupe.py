"""`fennec history export` round-trips through `history add`; the duplicate policies of an import."""
import json

import pandas as pd
import pytest

from fennec.cli import main
from fennec.errors import HistoryFormatError, UnknownNameError
from fennec.history import DEDUPE_POLICIES, TransferHistory


def _table(values, source="run.csv"):
    return pd.DataFrame({"model": ["a", "a", "b"], "task": ["t", "t", "t"], "value": values, "source": source,
                         "seed": [0, 1, 0]})


@pytest.fixture
def history():
    with TransferHistory(":memory:") as store:
        store.add(_table([0.1, 0.2, 0.3]))
        yield store


@pytest.mark.parametrize("policy, added, skipped, replaced, values", [
    ("keep-all", 3, 0, 0, [0.1, 0.2, 0.3, 0.5, 0.6, 0.7]),
    ("skip", 0, 3, 0, [0.1, 0.2, 0.3]),
    ("replace", 3, 0, 3, [0.5, 0.6, 0.7]),
])
def test_policies_on_a_table_imported_again(history, policy, added, skipped, replaced, values):
    summary = history.import_records(_table([0.5, 0.6, 0.7]), dedupe=policy)
    assert (summary.added, summary.skipped, summary.replaced) == (added, skipped, replaced)
    assert history.records(aggregate=None)["value"].tolist() == values


def test_only_matching_model_task_and_source_count_as_duplicates(history):
    fresh = pd.DataFrame({"model": ["a", "a", "c"], "task": ["t", "t", "t"], "value": [0.9, 0.8, 0.7],
                          "source": ["other.csv", "run.csv", "run.csv"]})
    summary = history.import_records(fresh)  # the default policy: skip
    assert (summary.added, summary.skipped) == (2, 1)
    assert history.records(aggregate=None)["source"].tolist()[3:] == ["other.csv", "run.csv"]


def test_error_refuses_the_whole_table_and_keep_all_is_adds_default(history):
    before = history.records(aggregate=None)
    mixed = pd.concat([_table([0.5, 0.6, 0.7], source="new.csv"), _table([0.5, 0.6, 0.7])], ignore_index=True)
    with pytest.raises(HistoryFormatError, match="3 record.*first is record 4"):
        history.add(mixed, dedupe="error")
    pd.testing.assert_frame_equal(history.records(aggregate=None), before)
    assert history.import_records(_table([1, 2, 3], source="new.csv"), dedupe="error").added == 3
    assert history.add(_table([1, 2, 3], source="new.csv")) == 3  # add keeps its historical default, keep-all
    with pytest.raises(UnknownNameError, match="did you mean 'skip'"):
        history.add(_table([1, 2, 3]), dedupe="skipp")
    assert set(DEDUPE_POLICIES) == {"keep-all", "skip", "replace", "error"}


@pytest.mark.parametrize("name, extra", [("out.csv", []), ("out.parquet", []), ("out.txt", ["--format", "parquet"])])
def test_export_then_add_round_trips(tmp_path, capsys, name, extra):
    source, target = tmp_path / "ws1", tmp_path / "ws2"
    for ws in (source, target):
        assert main(["init", str(ws)]) == 0
    table = tmp_path / "in.csv"
    _table([0.1, 0.2, 0.3]).assign(timestamp="2026-01-02T03:04:05.123456Z").to_csv(table, index=False)
    assert main(["history", "add", str(table), "-w", str(source)]) == 0
    out = tmp_path / name
    assert main(["history", "export", "-w", str(source), str(out), *extra]) == 0
    if extra:  # `history add` reads by extension: the --format override wrote Parquet into out.txt
        out = out.rename(out.with_suffix(".parquet"))
    assert main(["history", "add", str(out), "-w", str(target)]) == 0
    exported = TransferHistory(source / "history.sqlite").records(aggregate=None)
    pd.testing.assert_frame_equal(TransferHistory(target / "history.sqlite").records(aggregate=None), exported)
    capsys.readouterr()
    assert main(["history", "add", str(out), "-w", str(source), "--json"]) == 0  # same workspace: all skipped
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 0 and report["skipped_duplicates"] == 3 and report["records"] == 3


def test_export_with_an_unknown_extension_asks_for_format(tmp_path, capsys):
    assert main(["init", str(tmp_path / "ws")]) == 0
    assert main(["history", "export", "-w", str(tmp_path / "ws"), str(tmp_path / "out.txt")]) == 2
    assert "--format csv" in capsys.readouterr().err
