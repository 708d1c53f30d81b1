"""Saving and loading a fitted :class:`~fennec.space.TransferSpace`: JSON for ids and settings, safetensors for
arrays and the network; no pickle.

A directory holds ``params.json`` (``get_params()``), ``space.json`` (format, ids, dimensions, the kernel's
settings, sources) and ``space.safetensors``. The fitted numpy views are stored as computed, not recomputed on load,
so that a loaded space scores bit for bit the same (batched and row-wise forwards differ in the last bit). Spaces
saved by earlier versions load: before the normalisation choice as z-scores, before the bagged kernel with their
one setting, before sources with none, before intervals without them (:meth:`predict_task` then asks for a
retrain).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from fennec.errors import InputError
from fennec.space._affinity import PairTerm
from fennec.space._bias import BiasPrior
from fennec.space._confidence import ModelKernel
from fennec.space._features import FeatureTable
from fennec.space._kernel import KernelSetting, TaskKernel
from fennec.space._net import SpaceNet
from fennec.space._records import Records
from fennec.space._sources import Sources
from fennec.space._uncertainty import Uncertainty

if TYPE_CHECKING:  # pragma: no cover
    from fennec.space._estimator import TransferSpace

__all__ = ["save_space", "load_space"]

_FORMAT = 1
#: The fitted numpy views, written as computed.
_SAVED_VIEWS = ("model_factors_", "model_bias_", "task_factors_")
_TABLE_ARRAYS = ("mean", "scale", "matrix", "has")


def save_space(space: "TransferSpace", path: Path) -> None:
    """Write a fitted ``space`` to the directory ``path`` (created if missing)."""
    path.mkdir(parents=True, exist_ok=True)
    arrays = {f"{kind}_features.{name}": getattr(table, name) for kind, table in
              (("model", space._model_features), ("task", space._task_features)) for name in _TABLE_ARRAYS}
    state = {"_rec_model": space._records.model, "_rec_task": space._records.task,
             "_rec_value": space._records.value, "_bias_coef": space._bias_prior.coef,
             "_model_points": space._model_kernel.points, "_model_kernel": space._model_kernel.kernel}
    arrays.update({f"state.{name}": value for name, value in state.items()})
    arrays.update({f"view.{name}": getattr(space, name) for name in _SAVED_VIEWS})
    arrays.update({"kernel.points": space.task_kernel_.points, "kernel.rows": space.task_kernel_.rows})
    if space.uncertainty_ is not None:
        arrays.update({f"uncertainty.{k}": v for k, v in space.uncertainty_.to_arrays().items()})
    for view, matrix, has in zip(space.pair_term_.views, space.pair_term_.matrices, space.pair_term_.has):
        arrays.update({f"pair.{view}.matrix": matrix, f"pair.{view}.has": has})
    tensors = {f"net.{k}": v.detach().contiguous() for k, v in space.net_.state_dict().items()}
    tensors.update({k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()})
    save_file(tensors, str(path / "space.safetensors"))
    meta = {"format": _FORMAT, "model_ids": space.model_ids_, "task_ids": space.task_ids_,
            "model_feature_dim": space._model_features.dim, "task_feature_dim": space._task_features.dim,
            "model_bandwidth": space._model_kernel.bandwidth, "bias_intercept": space._bias_prior.intercept,
            "kernel_settings": [s.to_dict() for s in space.task_kernel_.settings],
            "model_sources": space._sources.model.tolist(), "task_sources": space._sources.task.tolist(),
            "source_bonus": space.source_bonus_, "pair_views": list(space.pair_term_.views),
            "pair_weights": space.pair_term_.weights.tolist()}
    (path / "space.json").write_text(json.dumps(meta))
    (path / "params.json").write_text(json.dumps({"class": type(space).__name__, "params": space.get_params()},
                                                  indent=1))


def load_space(cls: type["TransferSpace"], path: Path) -> "TransferSpace":
    """Read a space written by :func:`save_space` as an instance of ``cls``."""
    files = [path / n for n in ("params.json", "space.json", "space.safetensors")]
    if not all(f.is_file() for f in files):
        raise InputError(f"`path` of TransferSpace.load must be a directory written by TransferSpace.save. "
                         f"Got {str(path)!r}, which lacks {', '.join(f.name for f in files if not f.is_file())}.")
    params = {"normalize": "zscore", **json.loads(files[0].read_text())["params"]}  # saved before the choice
    meta = json.loads(files[1].read_text())
    if meta.get("format") != _FORMAT:
        raise InputError(f"space.json in {str(path)!r} has format {meta.get('format')!r}; this fennec reads "
                         f"format {_FORMAT}.")
    tensors = {k: v if k.startswith("net.") else v.numpy() for k, v in load_file(str(files[2])).items()}
    space = cls(**params)
    space.model_ids_, space.task_ids_ = list(meta["model_ids"]), list(meta["task_ids"])
    for kind in ("model", "task"):
        table = {n: tensors[f"{kind}_features.{n}"] for n in _TABLE_ARRAYS}
        setattr(space, f"_{kind}_features", FeatureTable(meta[f"{kind}_feature_dim"], **table))
    space._records = Records(tensors["state._rec_model"], tensors["state._rec_task"], tensors["state._rec_value"])
    space._bias_prior = BiasPrior(meta["bias_intercept"], tensors["state._bias_coef"])
    space._model_kernel = ModelKernel(tensors["state._model_points"], meta["model_bandwidth"],
                                      tensors["state._model_kernel"])
    for name in _SAVED_VIEWS:  # restored, not recomputed: batched and row-wise forwards differ in the last bit
        setattr(space, name, tensors[f"view.{name}"])
    space.task_kernel_ = TaskKernel(tensors["kernel.points"], tensors["kernel.rows"], _kernel_settings(meta))
    # spaces saved before sources were known have none: no model is matched
    space._sources = Sources(np.array(meta.get("model_sources", [""] * len(space.model_ids_)), dtype=object),
                             np.array(meta.get("task_sources", [""] * len(space.task_ids_)), dtype=object))
    space.source_bonus_ = float(meta.get("source_bonus", 0.0))
    space.pair_term_ = _pair_term(meta, tensors, space.model_ids_)
    held_out = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("uncertainty.")}
    space.uncertainty_ = Uncertainty.from_arrays(held_out) if held_out else None  # None: saved before intervals
    seed = space._seed()
    space._rng, space._gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    space.net_ = SpaceNet(len(space.model_ids_), len(space.task_ids_), space.n_factors, meta["model_feature_dim"],
                          space.hidden, 0.0, space._gen)
    space.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    space.net_.eval()
    space._derive()
    return space


def _pair_term(meta: dict, tensors: dict, model_ids: list[str]) -> PairTerm:
    """The pairwise term (spaces saved before it existed have none)."""
    views = tuple(meta.get("pair_views", ()))
    if not views:
        return PairTerm.of(model_ids, None)
    return PairTerm(views, tuple(tensors[f"pair.{v}.matrix"] for v in views),
                    tuple(tensors[f"pair.{v}.has"].astype(bool) for v in views),
                    np.array(meta["pair_weights"], np.float64))


def _kernel_settings(meta: dict) -> tuple[KernelSetting, ...]:
    """The cold-task kernel's settings from ``space.json`` (spaces saved before the bagged kernel stored one
    setting, with an infinite prior weight when unused)."""
    if "kernel_settings" in meta:
        return tuple(KernelSetting.from_dict(s) for s in meta["kernel_settings"])
    if not np.isfinite(meta["kernel_prior"]):
        return ()
    return (KernelSetting(tuple(tuple(b) for b in meta.get("kernel_blocks", [])), float(meta["kernel_width"]),
                          float(meta["kernel_prior"])),)
