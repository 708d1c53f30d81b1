"""Which engine a command runs on: its options over the workspace config's ``execution`` section, else local.

A workspace's ``config.yaml`` may hold::

    execution:
      engine: ray          # local (default) or ray
      address: auto        # ray: auto, ray://HOST:PORT, or absent for a new local instance
      num_cpus: 1          # ray: per unit
      num_gpus: 1          # ray: per unit that can use a GPU, where the cluster has GPUs
      max_retries: 2       # ray
      jobs: 1              # local: processes
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fennec.errors import InputError, UnknownNameError

from ._base import Engine
from ._local import LocalEngine
from ._ray import RayEngine, import_ray

__all__ = ["ENGINES", "create_engine"]

ENGINES = ("local", "ray")
_KEYS = {"local": {"engine", "jobs"},
         "ray": {"engine", "address", "num_cpus", "num_gpus", "max_retries", "retry_exceptions", "init_options"}}


def create_engine(engine: str | None = None, *, address: str | None = None, jobs: int | None = None,
                  config: Mapping[str, Any] | None = None) -> Engine:
    """The engine named by the arguments, else by ``config`` (a workspace config's ``execution`` section).

    Parameters
    ----------
    engine : {"local", "ray"}, optional
        Overrides ``config["engine"]``; an ``address`` alone means ``"ray"``.
    address : str, optional
        Ray's address (``auto``, ``ray://HOST:PORT``); overrides ``config["address"]``.
    jobs : int, optional
        Processes of the local engine; overrides ``config["jobs"]``.
    config : mapping, optional
        The ``execution`` settings (see the module docstring).

    Raises
    ------
    UnknownNameError
        An unknown engine name.
    InputError
        A setting the chosen engine does not have.
    DataNotFoundError
        ``ray`` is chosen and not installed.
    """
    if not isinstance(config, (Mapping, type(None))):
        raise InputError(f"The workspace config's `execution` must be a mapping. Got {config!r} instead.")
    settings = dict(config or {})
    if address is not None:
        settings["address"] = address
    if jobs is not None:
        settings["jobs"] = jobs
    name = engine or settings.get("engine") or ("ray" if settings.get("address") else "local")
    if name not in ENGINES:
        raise UnknownNameError.of("engine", name, ENGINES)
    unknown = sorted(set(settings) - _KEYS[name])
    if unknown:
        raise InputError(f"The {name} engine has no setting {', '.join(map(repr, unknown))}.",
                         hint=f"its settings: {', '.join(sorted(_KEYS[name] - {'engine'}))}")
    settings.pop("engine", None)
    if name == "local":
        return LocalEngine(**settings)
    import_ray()  # a clear error now rather than at the first unit
    return RayEngine(**settings)
