"""The Ray engine on a local instance (the session's ``ray_cluster``, token authentication on): the same results as
the local engine, Ray's retries, failed units named by id while the others complete, state built once per worker.

Units run with one torch thread on both engines: a float32 forward pass sums in another order on another thread
count (about 1e-6 relative), so bit-for-bit identity is checked at the same thread count.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray engine's tests need Ray: pip install 'fennec[ray]'")

from _image_tasks import digits_task, photos_task, write_folder

from fennec.cli import main
from fennec.errors import InputError
from fennec.execution import LocalEngine, RayEngine, UnitsFailedError
from fennec.features import ModelSpec, get_model_spec
from fennec.scoring import score_models

# Ray workers cannot import this test module by name: ship its functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

MODELS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
pytestmark = pytest.mark.usefixtures("ray_cluster", "one_torch_thread")


def _attempt(log: Path, unit: str) -> int:
    """Append one line to ``log`` (shared by the worker processes) and return how many tries ``unit`` had."""
    with log.open("a") as f:
        f.write(f"{unit}\n")
    return log.read_text().splitlines().count(unit)


def _flaky(log: Path, x: str) -> str:
    tries = _attempt(log, x)
    if x == "always":
        raise RuntimeError(f"unit {x} broke on try {tries}")
    if x == "once" and tries == 1:
        raise RuntimeError("a transient failure")
    if x == "bad-input":
        raise InputError("a bad input fails the same way on every try")
    return f"{x} after {tries}"


def _pid_setup(log: Path) -> int:
    _attempt(log, str(os.getpid()))
    return os.getpid()


def _with_pid(pid: int, x: int) -> tuple[int, int]:
    return x * x, pid


def test_ray_retries_then_names_the_failed_units_and_keeps_the_others(tmp_path):
    import functools

    log = tmp_path / "tries.log"
    items = {x: x for x in ("a", "once", "always", "bad-input", "b")}
    result = RayEngine(max_retries=1).map(functools.partial(_flaky, log), items, progress=False)
    assert result.values == {"a": "a after 1", "once": "once after 2", "b": "b after 1"}  # once: Ray's retry
    assert [f.unit for f in result.failures] == ["always", "bad-input"]
    assert result.failures[0].error == "RuntimeError: unit always broke on try 2"  # 1 + max_retries tries
    lines = log.read_text().splitlines()
    assert lines.count("always") == 2 and lines.count("bad-input") == 1  # fennec's own errors are not retried
    with pytest.raises(UnitsFailedError, match=r"2 of 5 units failed: always \(RuntimeError"):
        result.check()


def test_setup_runs_once_per_worker_not_once_per_unit(tmp_path):
    import functools

    log = tmp_path / "setups.log"
    result = RayEngine().map(_with_pid, {f"u{i}": i for i in range(12)}, setup=functools.partial(_pid_setup, log),
                             progress=False)
    assert [v for v, _ in result.values.values()] == [i * i for i in range(12)]
    setups = log.read_text().splitlines()
    assert len(setups) == len(set(setups)) < 12  # one setup per worker process, fewer than the units
    assert set(setups) == {str(pid) for _, pid in result.values.values()} and str(os.getpid()) not in setups


def _broken_model() -> None:
    raise RuntimeError("truncated checkpoint")


def test_scores_on_ray_equal_the_local_scores_and_a_broken_model_is_named():
    task = digits_task([0, 3, 8], per_class=5)
    local = score_models(task, MODELS, "logme", cache=False)
    on_ray = score_models(task, MODELS, "logme", cache=False, engine=RayEngine())
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert drop(on_ray) == drop(local) and len({r["score"] for r in local}) == 3
    broken = ModelSpec("broken_net", _broken_model, get_model_spec(MODELS[0]).preprocess, "broken-weights")
    with pytest.raises(UnitsFailedError) as caught:
        score_models(task, [*MODELS, broken], "logme", cache=False, engine=RayEngine(max_retries=0))
    assert caught.value.failed_units == ["broken_net"] and "truncated checkpoint" in str(caught.value)
    assert drop(caught.value.partial) == drop(local)  # the other three were scored and ranked


def test_cli_embed_many_tasks_on_ray_equals_local(tmp_path, capsys):
    dirs = [write_folder(digits_task([1, 7], per_class=3), tmp_path / "digits"),
            write_folder(photos_task(per_class=2, photos=("coffee", "rocket")), tmp_path / "photos")]
    runs = {}
    for engine in ("local", "ray"):
        assert main(["embed", *map(str, dirs), "--json", "--no-cache", "--engine", engine]) == 0
        runs[engine] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["task"] for r in runs["ray"]] == ["digits", "photos"]
    assert runs["ray"] == runs["local"]
    assert main(["embed", str(dirs[0]), str(tmp_path / "missing"), "--json", "--engine", "ray"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["task"] == "digits"  # the good task is still printed
    assert "1 of 2 units failed" in err and "missing" in err and "Traceback" not in err


def test_suite_figures_on_ray_equal_the_local_ones(data_dir, tmp_path):
    import yaml

    from benchmark.reports import run_suite

    config = tmp_path / "suite.yaml"
    config.write_text(yaml.safe_dump({"name": "tiny", "benchmarks": ["sfda11"], "methods": ["popularity", "random"],
                                      "runs": [{"protocol": "cold-task"}, {"protocol": "few-shot", "k": 3}]}))
    run_suite(config, tmp_path / "local", engine=LocalEngine())
    run_suite(config, tmp_path / "ray", engine=RayEngine())
    local, on_ray = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("local", "ray"))
    assert len(local) == 4 and on_ray == local
