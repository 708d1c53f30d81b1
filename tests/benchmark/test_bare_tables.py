"""A bare model,task,value table (no cards, no side features), written from a released benchmark: every method that
needs only the records runs under every protocol, and every other method says what the table lacks."""
import numpy as np
import pytest

from benchmark.cli import main
from benchmark.loaders import load
from benchmark.methods import available, create_method
from benchmark.protocols import PROTOCOLS, run
from benchmark.runner import check_method_applies, method_applies
from fennec.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Quick settings per protocol (a few target tasks, few seeds and draws) so that fennec's fits stay few.
TASKS = ["cifar10", "dtd", "pets"]
OPTIONS = {"cold-task": {"tasks": TASKS}, "few-shot": {"k": 3, "n_draws": 2, "tasks": TASKS},
           "cold-model": {"seeds": range(2)}, "budget": {"budgets": (1, 3), "tasks": TASKS},
           "learning-curve": {"fractions": (0.5, 1.0), "seeds": range(2), "tasks": TASKS},
           "calibration": {"n_draws": 1, "tasks": TASKS}}
FAST = {"fennec": {"min_steps": 100}}  # fewer training steps: this checks that it runs and answers


@pytest.fixture(scope="module")
def bare(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("bare") / "sfda11.csv"
    load("sfda11").records[["model", "task", "value"]].to_csv(path, index=False)
    return path


def test_the_methods_a_bare_table_runs_are_those_that_need_only_the_records(bare):
    bench = load(str(bare))
    assert all(card.extra == {} and card.n_params is None for card in bench.model_cards.values())
    assert {m for m in available() if method_applies(bench, m)} == {"popularity", "popularity-ns", "random", "fennec",
                                                                             "fennec-nopairs"}


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_every_applicable_method_runs_under_every_protocol(bare, protocol):
    bench = load(str(bare))
    for method in (m for m in available() if method_applies(bench, m, protocol)):
        tasks = run(bench, protocol, lambda m=method: create_method(m, **FAST.get(m, {})), **OPTIONS[protocol])
        expected = set(bench.targets if protocol == "cold-model" else TASKS)
        assert set(tasks) == expected, (method, protocol)
        headline = {"budget": "regret@B3", "learning-curve": "tau_w@f0.5",
                    "calibration": "cold:coverage@90"}.get(protocol, "tau_w")
        assert all(np.isfinite(t[headline]) for t in tasks.values()), (method, protocol)


@pytest.mark.parametrize(("method", "named"), [("logme", "'logme' scores"), ("sfda", "'sfda' scores"),
                                               ("knn1", "'knn1' scores"), ("hscore", "'hscore' scores"),
                                               ("fennec+metric", "published scores"),
                                               ("fennec-noimage", "image-proxy embeddings"),
                                               ("imagenet-top1", "'imagenet_top1'"), ("params", "'n_params'")])
def test_a_method_that_needs_more_than_the_records_says_what_is_missing(bare, method, named):
    with pytest.raises(InputError, match=named) as caught:
        check_method_applies(load(str(bare)), method)
    assert "popularity-ns or fennec" in caught.value.hint


def test_fennec_on_a_bare_file_from_the_command_line(bare, capsys):
    """The command of the bug report (a traceback in side_features), on two held-out tasks: the space ranks a cold
    task by its prior, which is popularity over normal scores."""
    figures = {}
    for method in ("fennec", "popularity-ns"):
        assert main(["run", "--history", str(bare), "--protocol", "cold-task", "--method", method,
                     "--targets", "cifar10,dtd"]) == 0
        out = capsys.readouterr().out
        assert "2 tasks" in out
        figures[method] = float(out.strip().splitlines()[-1].split()[1])
    assert figures["fennec"] >= figures["popularity-ns"] - 0.02


def test_targets_must_be_tasks_of_the_table(bare, capsys):
    assert main(["run", "--history", str(bare), "--protocol", "cold-task", "--method", "popularity",
                 "--targets", "cifar10,nope"]) == 1
    assert "'nope'" in capsys.readouterr().err
