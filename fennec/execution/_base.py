"""The engine interface: run one function over many independent units, keep what completes, name what failed."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from fennec.errors import FennecError

__all__ = ["Engine", "MapResult", "UnitFailure", "UnitsFailedError"]


@dataclass(frozen=True)
class UnitFailure:
    """A unit that raised (after the engine's retries, where it has any).

    Attributes
    ----------
    unit : str
        The unit's id (a model name, a task folder, an evaluation).
    error : str
        ``"<ExceptionType>: <first line of its message>"``.
    exception : BaseException or None
        The exception itself where the engine has it (the local one), for tracebacks under ``FENNEC_DEBUG=1``.
    """

    unit: str
    error: str
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, unit: str, exc: BaseException) -> UnitFailure:
        """The failure of ``unit`` that raised ``exc``."""
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else ""
        first = first if len(first) <= 300 else first[:297] + "..."  # Ray's import errors list all of sys.path
        return cls(unit, f"{type(exc).__name__}: {first}".rstrip(": "), exc)


class UnitsFailedError(FennecError, RuntimeError):
    """Some units failed; the others completed and their results are kept in ``partial``.

    Attributes
    ----------
    failures : list of UnitFailure
        The failed units, in submission order.
    partial : Any
        What the caller built from the units that completed (a :class:`MapResult`'s ``values`` unless the caller
        replaced it, e.g. ``fennec score``'s ranking of the models that were scored).
    """

    def __init__(self, failures: list[UnitFailure], partial: Any, total: int, hint: str | None = None) -> None:
        self.failures, self.partial, self.total = failures, partial, total
        shown = "; ".join(f"{f.unit} ({f.error})" for f in failures[:10])
        more = f"; and {len(failures) - 10} more" if len(failures) > 10 else ""
        super().__init__(f"{len(failures)} of {total} units failed: {shown}{more}.",
                         hint=hint or f"the other {total - len(failures)} results are kept; fix the cause and rerun "
                                      "the failed units")

    @property
    def failed_units(self) -> list[str]:
        """Ids of the failed units."""
        return [f.unit for f in self.failures]


@dataclass
class MapResult:
    """What :meth:`Engine.map` returns.

    Attributes
    ----------
    values : dict
        Unit id -> result, for the units that completed, in submission order.
    failures : list of UnitFailure
        The units that failed, in submission order.
    """

    values: dict[str, Any]
    failures: list[UnitFailure]

    @property
    def ok(self) -> bool:
        """Whether every unit completed."""
        return not self.failures

    def check(self, partial: Any = None) -> MapResult:
        """``self`` when every unit completed, else :class:`UnitsFailedError` carrying ``partial`` (default: the
        completed values), the first failure's exception as its cause. A job of one unit raises that unit's own
        error where the engine has it (clearer than a list of one)."""
        if self.ok:
            return self
        total = len(self.values) + len(self.failures)
        first = self.failures[0].exception
        if total == 1 and first is not None and not isinstance(first, UnitsFailedError):
            raise first
        error = UnitsFailedError(self.failures, self.values if partial is None else partial, total)
        raise error from first


class Engine(ABC):
    """Where independent units run: in this process (:class:`LocalEngine`) or on a Ray cluster (:class:`RayEngine`).

    A unit is ``fn(item)``, or ``fn(state, item)`` when ``setup`` is given: ``setup()`` builds state that many units
    share (a proxy, an encoder, a model) once per worker process, not once per unit. ``fn``, ``setup`` and the
    items must be picklable for engines that run units in other processes (module-level functions,
    ``functools.partial`` of them, plain data).
    """

    name: str = "engine"

    @abstractmethod
    def imap(self, fn: Callable[..., Any], items: Mapping[str, Any], *, setup: Callable[[], Any] | None = None,
             gpu: bool = False) -> Iterator[tuple[str, Any]]:
        """``(unit id, result or UnitFailure)`` as units finish (in any order).

        Parameters
        ----------
        fn : callable
            ``fn(item)``, or ``fn(setup(), item)``.
        items : mapping of str to Any
            Unit id -> the unit's argument.
        setup : callable, optional
            Builds the state units share, once per worker.
        gpu : bool, default=False
            The units can use a GPU (engines that place units request one for each where the cluster has GPUs).
        """

    def map(self, fn: Callable[..., Any], items: Mapping[str, Any], *, setup: Callable[[], Any] | None = None,
            gpu: bool = False, desc: str = "units", progress: bool | None = None) -> MapResult:
        """Run every unit (a tqdm bar over units: shown on a terminal by default) and collect what completed and
        what failed; nothing is raised for a failed unit (see :meth:`MapResult.check`)."""
        values: dict[str, Any] = {}
        failed: dict[str, UnitFailure] = {}
        with tqdm(total=len(items), desc=desc, unit="unit", disable=None if progress is None else not progress,
                  leave=False) as bar:
            for unit, outcome in self.imap(fn, items, setup=setup, gpu=gpu):
                if isinstance(outcome, UnitFailure):
                    failed[unit] = outcome
                    bar.set_postfix(failed=len(failed))
                else:
                    values[unit] = outcome
                bar.update(1)
        return MapResult({u: values[u] for u in items if u in values}, [failed[u] for u in items if u in failed])

    def close(self) -> None:
        """Release what the engine holds (processes, a Ray connection it opened)."""

    def __enter__(self) -> Engine:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
