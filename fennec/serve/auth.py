"""The write token of ``fennec serve``: reads are open, writes (history, training) need ``Authorization: Bearer``.

The token comes from ``FENNEC_SERVE_TOKEN`` (read in :mod:`fennec.config`) or from ``WORKSPACE/serve.token``,
which ``fennec serve`` creates when missing (random, readable by its owner only, mode 0600).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from fennec import config
from fennec.errors import FennecError

__all__ = ["TOKEN_FILE", "AuthError", "Token", "check_token", "resolve_token"]

TOKEN_FILE = "serve.token"


class AuthError(FennecError, PermissionError):
    """A write without a valid token: ``status`` 401 (no token) or 403 (a wrong one), with a message and a hint."""

    def __init__(self, status: int, message: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.status = status


@dataclass(frozen=True)
class Token:
    """The service's token and where it comes from.

    Attributes
    ----------
    value : str
    source : str
        ``"FENNEC_SERVE_TOKEN"`` or the token file's path.
    created : bool
        Whether this start created the token file (the token is then printed once).
    """

    value: str
    source: str
    created: bool = False


def resolve_token(workspace: str | Path, create: bool = True) -> Token:
    """The token from the environment, else from the workspace's token file (created with mode 0600 if missing)."""
    from_env = config.serve_token()
    if from_env:
        return Token(from_env, "FENNEC_SERVE_TOKEN")
    path = Path(workspace) / TOKEN_FILE
    if path.is_file():
        value = path.read_text().strip()
        if value:
            return Token(value, str(path))
    if not create:
        raise AuthError(500, f"No token: {path} is missing and FENNEC_SERVE_TOKEN is not set.",
                        hint="start the server with `fennec serve`, which creates it")
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)  # also when the file existed (empty) with wider permissions
    return Token(value, str(path), created=True)


def check_token(header: str | None, token: Token) -> None:
    """Raise :class:`AuthError` unless ``header`` is ``Bearer <token>``."""
    where = ("the FENNEC_SERVE_TOKEN of the server's environment" if token.source == "FENNEC_SERVE_TOKEN"
             else f"the server's token file {token.source}")
    if not header:
        raise AuthError(401, "This request changes the workspace and needs the service's token.",
                        hint=f"send the header 'Authorization: Bearer <token>'; the token is {where}")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError(401, "The Authorization header must be 'Bearer <token>'.",
                        hint=f"send the header 'Authorization: Bearer <token>'; the token is {where}")
    if not secrets.compare_digest(value.strip().encode(), token.value.encode()):
        raise AuthError(403, "The token is not this service's token.", hint=f"use the token in {where}")
