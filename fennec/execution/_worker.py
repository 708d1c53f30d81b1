"""What runs inside a worker process: the unit call and the per-worker state its ``setup`` builds once.

Worker processes (Ray's, the local engine's pool) run many units one after another, so state that ``setup`` builds
(a loaded model) is kept in this module, keyed by a digest of the pickled ``setup``: the next unit of the same job
finds it, another job's ``setup`` builds its own.
"""
from __future__ import annotations

import hashlib
import pickle
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["call_unit", "setup_key", "worker_state"]

# Few jobs run at once in one worker; keeping the last two bounds the memory that loaded models hold.
_MAX_STATES = 2
_STATES: OrderedDict[str, Any] = OrderedDict()


def setup_key(setup: Callable[[], Any] | None) -> str | None:
    """The cache key of ``setup``'s state: a digest of its pickled form (same function and arguments, same key);
    a ``setup`` that plain pickle refuses (a lambda, which Ray's cloudpickle ships) gets a key of its own."""
    if setup is None:
        return None
    try:
        return hashlib.blake2b(pickle.dumps(setup), digest_size=16).hexdigest()
    except (pickle.PicklingError, AttributeError, TypeError):
        return uuid.uuid4().hex


def worker_state(key: str, setup: Callable[[], Any]) -> Any:
    """``setup()``, built once per process for ``key``."""
    if key in _STATES:
        _STATES.move_to_end(key)
        return _STATES[key]
    state = setup()
    _STATES[key] = state
    while len(_STATES) > _MAX_STATES:
        _STATES.popitem(last=False)
    return state


def call_unit(fn: Callable[..., Any], setup: Callable[[], Any] | None, key: str | None, item: Any) -> Any:
    """One unit: ``fn(item)``, or ``fn(state, item)`` with this worker's state of ``setup``."""
    if setup is None:
        return fn(item)
    return fn(worker_state(key, setup), item)
