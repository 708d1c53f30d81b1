"""Model and task cards from the loaders' data files (``task_labels.json``, ``model_map.json``) and the tables."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fennec.cards import ModelCard, TaskCard

from ._timm import TimmResults

__all__ = ["task_card", "torchvision_card", "hub_card", "config_extra", "benchmark_tasks"]

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _data(name: str) -> dict[str, Any]:
    return json.loads((_HERE / name).read_text(encoding="utf-8"))


def benchmark_tasks(benchmark: str) -> dict[str, dict[str, Any]]:
    """The task table of ``benchmark`` in ``task_labels.json``: task name -> ``{"dataset", ["n_train"]}``."""
    return _data("task_labels.json")["benchmarks"][benchmark]


def task_card(benchmark: str, task: str, *, n_train: int | None = None, extra: Mapping[str, Any] | None = None
              ) -> TaskCard:
    """Card of ``task`` as ``benchmark`` names it, from ``task_labels.json`` (a name-only card for unknown tasks).

    ``n_train`` overrides the size stored in the data file (loaders pass the size their benchmark's tables give).
    """
    spec = benchmark_tasks(benchmark).get(task)
    extra = dict(extra or {})
    if spec is None:
        return TaskCard(name=task, n_train=n_train, extra=extra)
    facts = _data("task_labels.json")["datasets"][spec["dataset"]]
    return TaskCard(name=task, n_classes=facts["n_classes"],
                    n_train=n_train if n_train is not None else spec.get("n_train"),
                    label_names=tuple(facts["label_names"]), description=facts["description"],
                    domain=facts["domain"], extra={"dataset": spec["dataset"], **extra})


def torchvision_card(name: str, timm: TimmResults | None) -> ModelCard:
    """Card of a torchvision ImageNet classifier (the SFDA models); unknown names get a name-only card."""
    spec = _data("model_map.json")["torchvision"].get(name)
    if spec is None:
        return ModelCard(name=name)
    top1, source = None, None
    if spec["timm"] and timm is not None:
        top1, source = timm.top1(spec["timm"], spec["img_size"]), f"timm:{spec['timm']}"
    if top1 is None and spec.get("top1_torchvision") is not None:
        top1, source = spec["top1_torchvision"], "torchvision documentation"
    extra = {"imagenet_top1_source": source} if source else {}
    if spec.get("note"):
        extra["note"] = spec["note"]
    return ModelCard(name=name, family=spec["family"], arch=f"torchvision:{name}", n_params=float(spec["n_params"]),
                     pretrain_data="imagenet", imagenet_top1=top1, extra=extra)


def _number(value: Any) -> float | None:
    """A finite float from a table cell, else None (empty cells arrive as NaN)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _signature_arch(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """First signature of ``model_map.json`` matching a TransferGraph config row (HF class, input, hidden, #params)."""
    classes = str(config.get("architectures", ""))
    size, hidden, params = (_number(config.get(k)) for k in ("input_shape", "output_shape", "number_of_parameters"))
    for sig in _data("model_map.json")["signatures"]:
        if f"'{sig['class']}'" not in classes or hidden != sig["hidden"]:
            continue
        if "input" in sig and size != sig["input"]:
            continue
        if "max_params" in sig and (params is None or params > sig["max_params"]):
            continue
        return sig
    return None


def _name_arch(name: str) -> dict[str, Any] | None:
    return next((p for p in _data("model_map.json")["name_patterns"] if re.search(p["pattern"], name)), None)


def _family_of(arch: str) -> str:
    return arch.split("_")[0]


def hub_card(name: str, config: Mapping[str, Any] | None, timm: TimmResults | None,
             extra: Mapping[str, Any] | None = None) -> ModelCard:
    """Card of a Hugging Face image model.

    The architecture comes, in order, from ``model_map.json``'s ``hub`` entry, from a ``signatures`` match on
    TransferGraph's config row (``config``), or from a ``name_patterns`` match on the id; otherwise it stays ``None``.
    """
    config = dict(config or {})
    extra = dict(extra or {})
    hub = _data("model_map.json")["hub"].get(name)
    sig = _signature_arch(config) if hub is None and config else None
    pattern = _name_arch(name) if hub is None and sig is None else None
    found = hub or sig or pattern
    arch = found.get("arch") if found else None
    if arch:
        extra["arch_source"] = "hub" if hub else ("signature" if sig else "name")
        if found.get("note"):
            extra["arch_note"] = found["note"]
    family = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    family = family or (pattern or {}).get("family") or (_family_of(arch) if arch else None)
    top1 = None
    if hub and hub.get("timm") and timm is not None:
        top1 = timm.top1(hub["timm"], hub.get("img_size"))
        if top1 is not None:
            extra["imagenet_top1_source"] = f"timm:{hub['timm']}"
    source_data = config.get("dataset") if isinstance(config.get("dataset"), str) else None
    return ModelCard(name=name, family=family, arch=f"timm:{arch}" if arch else None,
                     n_params=_number(config.get("number_of_parameters")),
                     pretrain_data=(hub or {}).get("pretrain_data") or source_data, imagenet_top1=top1, extra=extra)


def config_extra(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The descriptive fields of a TransferGraph config row, JSON-ready (no NaN), for ``ModelCard.extra``."""
    if not config:
        return {}
    out: dict[str, Any] = {}
    for key, col in (("hf_architectures", "architectures"), ("source_dataset", "dataset"), ("source_labels", "labels"),
                     ("problem_type", "problem_type")):
        if isinstance(config.get(col), str):
            out[key] = config[col]
    for key, col in (("input_size", "input_shape"), ("hidden_size", "output_shape"), ("n_source_labels", "#labels"),
                     ("reported_accuracy", "accuracy")):
        value = _number(config.get(col))
        if value is not None:
            out[key] = int(value) if key != "reported_accuracy" else value
    return out
