"""Run one (benchmark, protocol, method) evaluation and shape its result as DESIGN.md's JSON."""
from __future__ import annotations

from typing import Any

from fennec.errors import InputError

from ._types import Benchmark
from .methods import PUBLISHED, create_method
from .protocols import mean_over_tasks, run

__all__ = ["evaluate", "check_method_applies", "method_applies"]


#: Methods that blend the space with whichever published metric a benchmark carries (they need at least one).
NEEDS_ANY_PUBLISHED = frozenset({"fennec+metric"})


def method_applies(bench: Benchmark, method: str) -> bool:
    """Whether ``bench`` carries the published scores ``method`` needs (always true for the other methods)."""
    if method in PUBLISHED:
        return method in bench.published_metrics()
    return method not in NEEDS_ANY_PUBLISHED or bool(bench.published_metrics())


def check_method_applies(bench: Benchmark, method: str) -> None:
    """Raise a clear error when ``method`` needs published scores that ``bench`` does not carry."""
    if not method_applies(bench, method):
        carried = ", ".join(bench.published_metrics()) or "none"
        raise InputError(f"Benchmark {bench.name!r} carries no published {method!r} scores (it has: {carried}).",
                         hint="choose another --method, e.g. popularity")


def evaluate(bench: Benchmark, protocol: str, method: str, *, pools: int = 0, **options: Any) -> dict[str, Any]:
    """Evaluate ``method`` on ``bench`` under ``protocol``.

    Returns
    -------
    dict
        ``{"benchmark", "protocol", "method", "settings", "tasks": {task: {measure: value}},
        "mean": {measure: value}}``; ``settings`` records every option (k, seeds, pools) that produced the figures.
    """
    check_method_applies(bench, method)
    tasks = run(bench, protocol, lambda: create_method(method), pools=pools, **options)
    return {
        "benchmark": bench.name,
        "protocol": protocol,
        "method": method,
        "settings": {"pools": pools, **{k: (list(v) if isinstance(v, range) else v) for k, v in options.items()}},
        "n_models": len(bench.models),
        "n_tasks": len(bench.targets),
        "n_tasks_measured": len(tasks),
        "tasks": tasks,
        "mean": mean_over_tasks(tasks),
    }
