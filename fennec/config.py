"""The one place where fennec reads its environment variables (public: the harness and scripts ask it too).

- ``FENNEC_HOME``: where caches and the default workspace live (default ``~/.cache/fennec``).
- ``FENNEC_DATA``: the directory holding released benchmark files (default ``<FENNEC_HOME>/data``).
- ``FENNEC_DEBUG``: ``1`` shows full tracebacks in the CLI.
- ``FENNEC_OFFLINE``: ``1`` never touches the network (also implied by ``HF_HUB_OFFLINE=1``).
- ``FENNEC_WORKSPACE``: the workspace the CLI uses when ``--workspace`` is not given (default: the current directory).
- ``FENNEC_SERVE_TOKEN``: the token ``fennec serve`` requires for writes (default: the workspace's ``serve.token``).
- ``HF_HUB_CACHE``, ``HF_HOME``, ``XDG_CACHE_HOME``: where the local Hugging Face cache is (read, never written, by
  ``fennec models add hf:``), with the precedence ``huggingface_hub`` gives them.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home_dir", "data_dir", "cache_dir", "debug", "offline", "workspace_dir", "serve_token",
           "hf_hub_cache"]


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def home_dir() -> Path:
    """Root of fennec's caches (``FENNEC_HOME``, default ``~/.cache/fennec``)."""
    return Path(os.environ.get("FENNEC_HOME") or Path.home() / ".cache" / "fennec").expanduser()


def data_dir() -> Path:
    """Directory of released benchmark files (``FENNEC_DATA``, default ``<home>/data``)."""
    value = os.environ.get("FENNEC_DATA")
    return Path(value).expanduser() if value else home_dir() / "data"


def cache_dir(kind: str) -> Path:
    """A per-kind cache directory under the home (created on demand), e.g. ``cache_dir("features")``."""
    path = home_dir() / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def debug() -> bool:
    """Whether the CLI should show tracebacks (``FENNEC_DEBUG=1``)."""
    return _is_true(os.environ.get("FENNEC_DEBUG"))


def offline() -> bool:
    """Whether network access is forbidden (``FENNEC_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``)."""
    return _is_true(os.environ.get("FENNEC_OFFLINE")) or _is_true(os.environ.get("HF_HUB_OFFLINE"))


def workspace_dir() -> Path:
    """The CLI's default workspace (``FENNEC_WORKSPACE``, default the current directory)."""
    return Path(os.environ.get("FENNEC_WORKSPACE") or ".").expanduser()


def serve_token() -> str | None:
    """The write token of ``fennec serve`` from ``FENNEC_SERVE_TOKEN`` (None when unset or blank)."""
    return (os.environ.get("FENNEC_SERVE_TOKEN") or "").strip() or None


def hf_hub_cache() -> Path:
    """The local Hugging Face hub cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub`` (``huggingface_hub``'s order)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"
