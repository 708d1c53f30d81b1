"""The local engine: units run in this process one after another (the default), or in a pool of processes."""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from fennec.errors import InputError

from ._base import Engine, UnitFailure
from ._worker import call_unit, setup_key

__all__ = ["LocalEngine"]


def _limit_threads(threads: int) -> None:
    """Pool initializer: each of ``jobs`` processes gets its share of the cores (torch and BLAS alike), since
    oversubscribed threads make every unit many times slower. The environment covers BLAS libraries that load
    later (SciPy's, with the first metric): ``threadpool_limits`` reaches only those already loaded."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


class LocalEngine(Engine):
    """Run units on this machine.

    Parameters
    ----------
    jobs : int, default=1
        ``1``: in this process, in order (a unit's exception is caught and reported, the next unit runs). More:
        in as many spawned processes, each with ``cpu_count // jobs`` threads; ``setup`` runs once per process.

    Examples
    --------
    >>> from fennec.execution import LocalEngine
    >>> LocalEngine().map(abs, {"a": -1, "b": 2}, progress=False).values
    {'a': 1, 'b': 2}
    """

    name = "local"

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def imap(self, fn: Callable[..., Any], items: Mapping[str, Any], *, setup: Callable[[], Any] | None = None,
             gpu: bool = False) -> Iterator[tuple[str, Any]]:
        if not isinstance(self.jobs, int) or self.jobs < 1:
            raise InputError(f"`jobs` of LocalEngine must be a positive integer. Got {self.jobs!r} instead.")
        if self.jobs == 1 or len(items) < 2:
            yield from self._serial(fn, items, setup)
            return
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        context = multiprocessing.get_context("spawn")  # torch is not fork-safe once its threads started
        key = setup_key(setup)
        with ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_limit_threads,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(call_unit, fn, setup, key, item): unit for unit, item in items.items()}
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    yield unit, future.result()
                except Exception as exc:  # noqa: BLE001 (one unit's failure must not lose the others' results)
                    yield unit, UnitFailure.of(unit, exc)

    @staticmethod
    def _serial(fn: Callable[..., Any], items: Mapping[str, Any],
                setup: Callable[[], Any] | None) -> Iterator[tuple[str, Any]]:
        state = setup() if setup is not None else None
        for unit, item in items.items():
            try:
                yield unit, fn(item) if setup is None else fn(state, item)
            except Exception as exc:  # noqa: BLE001 (one unit's failure must not lose the others' results)
                yield unit, UnitFailure.of(unit, exc)

    def __repr__(self) -> str:
        return f"LocalEngine(jobs={self.jobs})"
