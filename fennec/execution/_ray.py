"""The Ray engine: one Ray task per unit, on a local instance or an existing cluster (``fennec[ray]``).

Each unit is a Ray task with Ray's own retry settings (``max_retries``, ``retry_exceptions``); an error fennec
raises on purpose (a :class:`archi2vec.HintedError`: a bad input, missing weights) is the same on every try, so it
is returned as a failure rather than retried. State that ``setup`` builds is kept per worker process
(:mod:`fennec.execution._worker`): Ray reuses its workers across tasks, so a model is loaded once per worker.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from archi2vec import HintedError
from fennec.errors import DataNotFoundError, InputError

from ._base import Engine, UnitFailure
from ._worker import call_unit, setup_key

__all__ = ["RayEngine", "import_ray"]


def import_ray() -> Any:
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
    except ModuleNotFoundError:
        raise DataNotFoundError("The ray engine needs Ray, which is not installed.",
                                hint="pip install 'fennec[ray]'") from None
    return ray


class _Deterministic:
    """A unit's error that a retry would raise again (returned by the task instead of raised, so Ray does not
    retry it)."""

    def __init__(self, exc: BaseException) -> None:
        self.exception = exc


def _ray_unit(fn: Callable[..., Any], setup: Callable[[], Any] | None, key: str | None, item: Any) -> Any:
    try:
        return call_unit(fn, setup, key, item)
    except HintedError as exc:
        return _Deterministic(exc)


class RayEngine(Engine):
    """Run units as Ray tasks.

    Parameters
    ----------
    address : str, optional
        ``None``: a new local Ray instance (or the cluster ``RAY_ADDRESS`` names); ``"auto"``: the cluster this
        machine is part of (``ray start``); ``"ray://HOST:PORT"``: a remote cluster through Ray Client. Ignored
        when Ray is already initialised in this process.
    num_cpus : float, default=1
        CPUs each unit asks for (Ray also sets the unit's thread count from it).
    num_gpus : float, default=1
        GPUs each unit that can use one asks for, when the cluster has GPUs (a fraction packs several units on
        one GPU); units never ask for a GPU on a cluster without any.
    max_retries : int, default=2
        Ray's retries of a unit whose worker died or that raised (see ``retry_exceptions``).
    retry_exceptions : bool, default=True
        Whether a unit that raised is retried (errors fennec raises on purpose never are: they would recur).
    init_options : dict, optional
        Further keyword arguments of ``ray.init`` (``runtime_env``, ``num_cpus`` of a local instance...).

    Examples
    --------
    >>> from fennec.execution import RayEngine
    >>> with RayEngine(init_options={"num_cpus": 2}) as engine:  # doctest: +SKIP
    ...     engine.map(abs, {"a": -1, "b": 2}).values
    {'a': 1, 'b': 2}
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: float = 1, num_gpus: float = 1,
                 max_retries: int = 2, retry_exceptions: bool = True,
                 init_options: Mapping[str, Any] | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_retries = max_retries
        self.retry_exceptions = retry_exceptions
        self.init_options = init_options

    def _connect(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": True, **(self.init_options or {})}
            try:
                ray.init(address=self.address, **options)
            except ConnectionError as exc:
                raise InputError(f"Cannot connect to the Ray cluster at {self.address!r}: {exc}",
                                 hint="start one with `ray start --head`, or pass --address ray://HOST:10001") from None
            self._started_ = True
        return ray

    def _remote(self, ray: Any, gpu: bool) -> Any:
        if self.num_cpus < 0 or self.num_gpus < 0 or self.max_retries < 0:
            raise InputError("`num_cpus`, `num_gpus` and `max_retries` of RayEngine must be >= 0. Got "
                             f"{self.num_cpus}, {self.num_gpus}, {self.max_retries} instead.")
        gpus = self.num_gpus if gpu and ray.cluster_resources().get("GPU", 0) > 0 else 0
        return ray.remote(_ray_unit).options(num_cpus=self.num_cpus, num_gpus=gpus, max_retries=self.max_retries,
                                             retry_exceptions=self.retry_exceptions)

    def imap(self, fn: Callable[..., Any], items: Mapping[str, Any], *, setup: Callable[[], Any] | None = None,
             gpu: bool = False) -> Iterator[tuple[str, Any]]:
        ray = self._connect()
        task = self._remote(ray, gpu)
        # fn and setup may hold a task's images: into the object store once, not once per unit
        fn_ref, setup_ref = ray.put(fn), ray.put(setup)
        key = setup_key(setup)
        pending = {task.remote(fn_ref, setup_ref, key, item): unit for unit, item in items.items()}
        while pending:
            # in batches: one wait per finished unit would rescan every pending reference each time
            ready, _ = ray.wait(list(pending), num_returns=min(len(pending), 64), timeout=0.5)
            for ref in ready:
                unit = pending.pop(ref)
                yield unit, self._outcome(ray, unit, ref)

    @staticmethod
    def _outcome(ray: Any, unit: str, ref: Any) -> Any:
        try:
            value = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # raised on every try Ray allowed
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            return UnitFailure(unit, UnitFailure.of(unit, cause).error, exc)
        except ray.exceptions.RayError as exc:  # the worker or its node died (after Ray's retries)
            return UnitFailure.of(unit, exc)
        if isinstance(value, _Deterministic):
            return UnitFailure.of(unit, value.exception)
        return value

    def close(self) -> None:
        """Disconnect from Ray (shutting a local instance down) when this engine connected."""
        if getattr(self, "_started_", False):
            import_ray().shutdown()
            self._started_ = False

    def __repr__(self) -> str:
        return f"RayEngine(address={self.address!r}, num_cpus={self.num_cpus}, num_gpus={self.num_gpus})"
