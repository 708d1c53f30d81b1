"""The execution layer without Ray: the local engine's results, failures by id, per-worker setup, engine choice."""
from __future__ import annotations

import os

import pytest

from fennec.errors import InputError, UnknownNameError
from fennec.execution import LocalEngine, UnitsFailedError, create_engine


def _setup() -> dict:
    return {"pid": os.getpid(), "offset": 100}


def _unit(state: dict, x: int) -> tuple[int, int]:
    if x == 3:
        raise RuntimeError(f"unit {x} broke")
    return x + state["offset"], state["pid"]


def test_local_engine_keeps_the_others_and_names_the_failed_unit():
    items = {f"u{i}": i for i in range(6)}
    result = LocalEngine().map(_unit, items, setup=_setup, progress=False)
    assert list(result.values) == ["u0", "u1", "u2", "u4", "u5"]  # submission order, u3 left out
    assert [v for v, _ in result.values.values()] == [100, 101, 102, 104, 105]
    assert {pid for _, pid in result.values.values()} == {os.getpid()}  # in this process
    assert [(f.unit, f.error) for f in result.failures] == [("u3", "RuntimeError: unit 3 broke")]
    with pytest.raises(UnitsFailedError) as caught:
        result.check()
    assert caught.value.failed_units == ["u3"] and "1 of 6 units failed: u3 (RuntimeError: unit 3 broke)" in str(
        caught.value)
    assert list(caught.value.partial) == ["u0", "u1", "u2", "u4", "u5"]
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_a_job_of_one_unit_raises_its_own_error():
    result = LocalEngine().map(_unit, {"only": 3}, setup=_setup, progress=False)
    with pytest.raises(RuntimeError, match="unit 3 broke"):
        result.check()


def test_process_pool_gives_the_serial_results_with_setup_once_per_process():
    items = {f"u{i}": i for i in range(8) if i != 3}
    serial = LocalEngine().map(_unit, items, setup=_setup, progress=False)
    pooled = LocalEngine(jobs=2).map(_unit, items, setup=_setup, progress=False)
    assert [v for v, _ in pooled.values.values()] == [v for v, _ in serial.values.values()]
    pids = {pid for _, pid in pooled.values.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def _blas_threads(_: int) -> set[int]:
    import scipy.linalg  # noqa: F401  (loaded after the pool's limit, as the metrics load it)
    import threadpoolctl

    return {lib["num_threads"] for lib in threadpoolctl.threadpool_info()}


def test_pool_processes_keep_their_share_of_threads_in_libraries_loaded_later():
    share = max(1, (os.cpu_count() or 1) // 2)
    result = LocalEngine(jobs=2).map(_blas_threads, {"a": 0, "b": 1}, progress=False).check()
    assert all(threads == {share} for threads in result.values.values())


def test_engine_choice_from_options_and_config():
    assert isinstance(create_engine(), LocalEngine)
    assert create_engine(config={"engine": "local", "jobs": 2}).jobs == 2
    assert create_engine("local", jobs=3, config={"jobs": 2}).jobs == 3  # an option beats the config
    with pytest.raises(UnknownNameError, match="Unknown engine 'rai'"):
        create_engine("rai")
    with pytest.raises(InputError, match="no setting 'address'"):
        create_engine("local", config={"address": "auto"})
    with pytest.raises(InputError, match="must be a mapping"):
        create_engine(config=["ray"])
    with pytest.raises(InputError, match="positive integer"):
        list(LocalEngine(jobs=0).imap(abs, {"a": 1, "b": 2}))


def test_ray_settings_are_checked_when_ray_is_installed():
    pytest.importorskip("ray", reason="needs Ray: pip install 'fennec[ray]'")
    engine = create_engine(address="auto", config={"num_gpus": 0.25, "max_retries": 1})
    assert engine.name == "ray" and engine.address == "auto" and engine.num_gpus == 0.25
    with pytest.raises(InputError, match="no setting 'jobs'"):
        create_engine("ray", config={"jobs": 2})
