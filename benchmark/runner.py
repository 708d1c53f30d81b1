"""Run one (benchmark, protocol, method) evaluation and shape its result as DESIGN.md's JSON."""
from __future__ import annotations

from typing import Any

from fennec.errors import InputError

from ._types import Benchmark
from .methods import PUBLISHED, create_method
from .protocols import PREDICTING, mean_over_tasks, run

__all__ = ["check_method_applies", "evaluate", "method_applies", "missing_requirement", "protocol_excludes"]


#: Methods that blend the space with whichever published metric a benchmark carries (they need at least one).
NEEDS_ANY_PUBLISHED = frozenset({"fennec+metric"})
#: Methods that differ from another only where task cards carry image-proxy embeddings (the mini-zoo's).
NEEDS_IMAGE_EMBEDDINGS = frozenset({"fennec-noimage"})
#: Methods that rank by one attribute of the model cards (a bare model,task,value table has none).
NEEDS_CARD_ATTRIBUTE = {"imagenet-top1": "imagenet_top1", "params": "n_params"}


def protocol_excludes(method: str, protocol: str | None) -> str | None:
    """Why ``protocol`` cannot measure ``method`` whatever the benchmark (None: it can)."""
    if protocol == "calibration" and method not in PREDICTING:
        return f"cannot calibrate {method!r}: it predicts no intervals (only {', '.join(sorted(PREDICTING))} do)"
    return None


def missing_requirement(bench: Benchmark, method: str) -> str | None:
    """What ``bench`` lacks for ``method``, as the end of a sentence on the benchmark (None: nothing)."""
    carried = ", ".join(bench.published_metrics()) or "none"
    if method in PUBLISHED and method not in bench.published_metrics():
        return (f"carries no published {method!r} scores (it has: {carried}): they are computed from the models' "
                "features on each task's images, which its tables do not hold")
    if method in NEEDS_ANY_PUBLISHED and not bench.published_metrics():
        return f"carries no published scores for {method!r} to blend with"
    if method in NEEDS_IMAGE_EMBEDDINGS and not any(c.extra.get("proxy") for c in bench.task_cards.values()):
        return f"has no image-proxy embeddings in its task cards, so {method!r} would equal 'fennec'"
    attribute = NEEDS_CARD_ATTRIBUTE.get(method)
    if attribute and all(getattr(c, attribute) is None for c in bench.model_cards.values()):
        return f"has no model card with {attribute!r}, which {method!r} ranks by"
    return None


def method_applies(bench: Benchmark, method: str, protocol: str | None = None) -> bool:
    """Whether ``bench`` carries what ``method`` needs (published scores, image embeddings, card attributes; most
    need nothing) and ``protocol`` can measure it (calibration: only methods with intervals)."""
    return missing_requirement(bench, method) is None and protocol_excludes(method, protocol) is None


def check_method_applies(bench: Benchmark, method: str, protocol: str | None = None) -> None:
    """Raise a clear error when ``bench`` lacks what ``method`` needs, or ``protocol`` cannot measure it."""
    excluded = protocol_excludes(method, protocol)
    if excluded:
        raise InputError(f"Benchmark {bench.name!r}: {excluded}.", hint="use --method fennec")
    missing = missing_requirement(bench, method)
    if missing:
        raise InputError(f"Benchmark {bench.name!r} {missing}.",
                         hint="choose another --method, e.g. popularity-ns or fennec (they need only the records)")


def evaluate(bench: Benchmark, protocol: str, method: str, *, pools: int = 0, **options: Any) -> dict[str, Any]:
    """Evaluate ``method`` on ``bench`` under ``protocol``.

    Returns
    -------
    dict
        ``{"benchmark", "protocol", "method", "settings", "tasks": {task: {measure: value}},
        "mean": {measure: value}}``; ``settings`` records every option (k, seeds, pools) that produced the figures.
    """
    check_method_applies(bench, method, protocol)
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
