"""Every error of the service as one JSON message ``{"error": ..., "hint": ...}`` with a 4xx status, never a trace.

The library's typed errors map to statuses here (as the CLI maps them to one line and a hint); anything unexpected
is a 500 with the same shape, its traceback in the server's log only.
"""
from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from fennec.errors import (
    DataNotFoundError,
    FennecError,
    HistoryFormatError,
    UnknownNameError,
)
from fennec.workspace import WorkspaceError

from .auth import AuthError
from .jobs import TrainBusyError
from .state import PathNotAllowedError

__all__ = ["RequestError", "install_error_handlers", "jsonable", "problem"]

log = logging.getLogger("fennec.serve")

# the first match wins: subclasses before their bases
_STATUS: list[tuple[type[BaseException], int]] = [
    (PathNotAllowedError, 403),
    (UnknownNameError, 404),
    (DataNotFoundError, 404),
    (FileNotFoundError, 404),
    (TrainBusyError, 409),
    (WorkspaceError, 409),
    (HistoryFormatError, 422),
    (FennecError, 400),
]


class RequestError(FennecError, ValueError):
    """A request the service refuses before the library sees it (wrong content type, bad JSON...)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


def problem(status: int, message: str, hint: str | None = None, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    """The service's one error shape."""
    return JSONResponse({"error": message, "hint": hint}, status_code=status, headers=headers)


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and non-finite floats as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item() if getattr(value, "ndim", 0) == 0 else value.tolist()
        return jsonable(value) if isinstance(value, list) else _finite(value)
    return _finite(value)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _library_error(_request: Request, exc: Exception) -> JSONResponse:
    # the service's own refusals (upload, token, request) carry their status; the library's map through _STATUS
    status = getattr(exc, "status", None) or next(code for kind, code in _STATUS if isinstance(exc, kind))
    if not isinstance(exc, FennecError):  # FileNotFoundError
        return problem(status, str(exc))
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) and status == 401 else None
    return problem(status, exc.message, exc.hint, headers=headers)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors()
    return problem(422, describe_validation(errors), hint="see the request schema at /docs")


def describe_validation(errors: list[dict[str, Any]]) -> str:
    """One line for pydantic's errors: the first field and what is wrong with it, and how many more."""
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body",)) or "the body"
    more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"Invalid request: {where}: {first.get('msg', 'invalid')}.{more}"


def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    hint = "see the endpoints at /docs" if exc.status_code in (404, 405) else None
    return problem(exc.status_code, str(exc.detail), hint, headers=getattr(exc, "headers", None))


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return problem(500, f"Internal error ({type(exc).__name__}): {exc}", hint="see the server's log")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the service's JSON shape."""
    for kind in (FennecError, FileNotFoundError):
        app.add_exception_handler(kind, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
