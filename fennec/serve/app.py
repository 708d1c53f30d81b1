"""The routes of ``fennec serve``: a thin layer over the library, as the CLI is.

=====================  =====  ==========================================================================
route                  token  what it does
=====================  =====  ==========================================================================
``GET /``                     the web page (``static/``)
``GET /health``               status, the active version, the record count, the latest training
``GET /models``               the active version's models with their cards
``GET /tasks``                the workspace's tasks (cards and history)
``GET /versions``             every complete version; the active one and the one on disk
``POST /recommend``           rank the zoo for a stored task, a task card, a server-side folder, or an upload
``POST /next``                which model to fine-tune next, given the results tried so far
``POST /history``      yes    add records (JSON, CSV or Parquet), all or nothing, the bad row named
``POST /train``        yes    start a training in the background (one at a time): 202 and the job
``GET /train[/{id}]``         the latest (or one) training job's status
=====================  =====  ==========================================================================

OpenAPI: ``/docs`` and ``/openapi.json``. Work that takes more than a moment (images, SQLite writes, plots) runs
in the thread pool, so the event loop keeps answering.
"""
from __future__ import annotations

import json
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from fennec.workspace import Workspace

from .auth import Token, check_token, resolve_token
from .errors import RequestError, install_error_handlers, jsonable
from .jobs import TrainJobs
from .schemas import NextIn, RecommendIn, RecordsIn, TrainIn, UploadForm
from .state import ServiceState
from .uploads import UploadLimits, receive_form, task_from_files

__all__ = ["Service", "create_app"]

STATIC = Path(__file__).parent / "static"
_bearer = HTTPBearer(auto_error=False, description="The service's token (WORKSPACE/serve.token or "
                                                   "FENNEC_SERVE_TOKEN).")
router = APIRouter()


class Service:
    """What the routes share: the state, the training jobs, the token and the upload bounds."""

    def __init__(self, state: ServiceState, jobs: TrainJobs, token: Token, limits: UploadLimits) -> None:
        self.state, self.jobs, self.token, self.limits = state, jobs, token, limits


def create_app(workspace: str | Path, *, limits: UploadLimits | None = None, task_roots: tuple = (),
               token: Token | None = None, train_nice: int = 10, train_threads: int = 1) -> FastAPI:
    """The ASGI app serving ``workspace`` (see the module docstring for the routes).

    Parameters
    ----------
    workspace : path
        An existing workspace (:meth:`fennec.workspace.Workspace.open`).
    limits : UploadLimits, optional
        Bounds on uploads (default: 100 MiB, 2,000 files).
    task_roots : tuple of path, default=()
        Folders under which server-side task paths may be read (none: refused).
    token : Token, optional
        The write token (default: :func:`fennec.serve.auth.resolve_token`).
    train_nice, train_threads : int
        Priority increment and torch threads of the training process.
    """
    ws = Workspace.open(workspace)
    state = ServiceState(ws, task_roots)
    jobs = TrainJobs(ws.path, on_success=state.activate, nice=train_nice, threads=train_threads)
    service = Service(state, jobs, token or resolve_token(ws.path), limits or UploadLimits())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await run_in_threadpool(state.warm_up)
        yield
        jobs.stop()

    app = FastAPI(title="Fennec", summary="Which pre-trained models to fine-tune for a new task.",
                  description=__doc__.split("\n\n")[0], lifespan=lifespan)
    app.state.service = service
    install_error_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _service(request: Request) -> Service:
    return request.app.state.service


def require_token(request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                  ) -> None:
    """Writes need ``Authorization: Bearer <token>`` (401 without one, 403 with a wrong one)."""
    check_token(request.headers.get("authorization"), _service(request).token)


def _reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable(payload), status_code=status, headers=headers)


async def _json_body(request: Request, schema: type, uploads: bool = False) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", ""):
        accepted = "application/json" + (" or multipart/form-data" if uploads else "")
        raise RequestError(415, f"This endpoint takes {accepted}; got {kind!r}.", hint="see the schemas at /docs")
    body = await request.body()
    try:
        data = json.loads(body) if body.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"The body is not valid JSON ({exc}).", hint="see the schemas at /docs") from None
    return schema.model_validate(data)


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def _schema(model: type, multipart: bool = False) -> dict[str, Any]:
    """OpenAPI request body of a route that reads its body itself (JSON, and for uploads a multipart form)."""
    content = {"application/json": {"schema": model.model_json_schema(ref_template="#/components/schemas/{model}")}}
    if multipart:
        form = UploadForm.model_json_schema()
        form["properties"]["files"] = {"type": "array", "items": {"type": "string", "format": "binary"},
                                       "description": "images named <class>/<image>, or one .zip"}
        content["multipart/form-data"] = {"schema": form}
    return {"requestBody": {"required": True, "content": content}}


# --------------------------------------------------------------------------------------------------- reading


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/health", summary="Status, the active version and the record count")
def health(request: Request) -> JSONResponse:
    service = _service(request)
    latest = service.jobs.latest()
    state = service.state
    return _reply({"status": "ok", "workspace": str(state.workspace.path), "active_version": state.active,
                   "current_version": state.workspace.current_version(), "records": state.history.n_records,
                   "training": latest.to_json() if latest else None,
                   "limits": {"max_bytes": service.limits.max_bytes, "max_images": service.limits.max_images}})


@router.get("/models", summary="The active version's models, with their cards")
async def models(request: Request) -> JSONResponse:
    return _reply(await run_in_threadpool(_service(request).state.models))


@router.get("/tasks", summary="The workspace's tasks (cards and history)")
async def tasks(request: Request) -> JSONResponse:
    return _reply(await run_in_threadpool(_service(request).state.tasks))


@router.get("/versions", summary="Every complete version, the active one and the current one on disk")
def versions(request: Request) -> JSONResponse:
    return _reply(_service(request).state.versions())


# --------------------------------------------------------------------------------------------------- queries


@router.post("/recommend", summary="Rank the zoo for a task", openapi_extra=_schema(RecommendIn, multipart=True))
async def recommend(request: Request) -> JSONResponse:
    """A stored task (``{"task": "pets"}``), a task card (``{"task": {"label_names": [...], ...}}``), a folder on
    the server (``{"path": ...}``) or an upload (multipart: images named ``<class>/<image>``, or one zip). The
    answer is :meth:`fennec.recommend.Recommendation.to_json`, plus ``plot`` (a PNG data URL) when asked for."""
    service = _service(request)
    if _is_multipart(request):
        return await _upload_reply(request, service, _recommend_upload)
    body = await _json_body(request, RecommendIn, uploads=True)
    options = {"k": body.k, "fallback": body.fallback, "explain": body.explain, "plot": body.plot,
               "version": body.version}
    if body.path is not None:
        return _reply(await run_in_threadpool(_path_query, service, body.path, "recommend", options))
    card = _card(service, body.task)
    return _reply(await run_in_threadpool(lambda: service.state.recommend(card, **options)))


@router.post("/next", summary="Which model to fine-tune next", openapi_extra=_schema(NextIn, multipart=True))
async def next_picks(request: Request) -> JSONResponse:
    """The task as for ``/recommend`` and ``tried``, the results so far (model -> value); the answer is
    :meth:`fennec.recommend.NextPicks.to_json`."""
    service = _service(request)
    if _is_multipart(request):
        return await _upload_reply(request, service, _next_upload)
    body = await _json_body(request, NextIn, uploads=True)
    options = {"k": body.k, "candidates": body.candidates, "dataset": body.dataset, "version": body.version}
    if body.path is not None:
        return _reply(await run_in_threadpool(_path_query, service, body.path, "next", options, body.tried))
    card = _card(service, body.task)
    return _reply(await run_in_threadpool(lambda: service.state.next(card, body.tried, **options)))


async def _upload_reply(request: Request, service: Service, answer: Any) -> JSONResponse:
    """``answer(service, form)`` on a multipart upload (received within the limits), its files removed after."""
    form = await receive_form(request, service.limits)
    try:
        return _reply(await run_in_threadpool(answer, service, form))
    finally:
        await form.close()


def _card(service: Service, task: Any) -> Any:
    return service.state.stored_task(task) if isinstance(task, str) else task.to_card()


def _path_query(service: Service, path: str, method: str, options: dict[str, Any], *args: Any) -> dict[str, Any]:
    state = service.state
    with state.image_task() as warnings:
        payload = getattr(state, method)(state.path_task(path), *args, **options)
    return {**payload, "warnings": warnings} if warnings else payload


def _upload_query(service: Service, form: Any, run: Any) -> dict[str, Any]:
    fields = UploadForm.model_validate({k: v for k, v in form.multi_items() if isinstance(v, str)})
    files = [v for k, v in form.multi_items() if not isinstance(v, str)]
    state = service.state
    with tempfile.TemporaryDirectory(prefix="fennec-upload-") as tmp, state.image_task() as warnings:
        task = task_from_files(files, Path(tmp), service.limits, name=fields.name, description=fields.description)
        payload = run(state, task, fields)
    return {**payload, "warnings": warnings} if warnings else payload


def _recommend_upload(service: Service, form: Any) -> dict[str, Any]:
    return _upload_query(service, form, lambda state, task, f: state.recommend(
        task, k=f.k or 10, fallback=f.fallback, explain=f.explain, plot=f.plot, version=f.version))


def _next_upload(service: Service, form: Any) -> dict[str, Any]:
    return _upload_query(service, form, lambda state, task, f: state.next(
        task, f.tried or {}, k=f.k or 3, candidates=f.candidate_list(), dataset=f.dataset, version=f.version))


# --------------------------------------------------------------------------------------------------- writing


@router.post("/history", summary="Add fine-tuning records (all or nothing)", dependencies=[Depends(require_token)],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": RecordsIn.model_json_schema()},
                 "text/csv": {"schema": {"type": "string"}},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "file": {"type": "string", "format": "binary"}, "source": {"type": "string"}}}}}}})
async def history(request: Request) -> JSONResponse:
    """Records as JSON (``{"records": [{"model", "task", "value", ...}], "source"}``), a CSV body
    (``text/csv``) or a CSV / Parquet file (multipart ``file``). Validated as ``fennec history add`` does: one bad
    row rejects the whole request, and the message names the row."""
    service = _service(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "text/csv":
        body = await _bounded_body(request, service.limits)
        added = await run_in_threadpool(_add_file, service, "records.csv", body, request.query_params.get("source"))
    elif _is_multipart(request):
        form = await receive_form(request, service.limits)
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise RequestError(400, "The form has no 'file' part.", hint="send the records as -F file=@x.csv")
            data = await upload.read()
            added = await run_in_threadpool(_add_file, service, upload.filename or "records.csv", data,
                                            form.get("source"))
        finally:
            await form.close()
    else:
        body = await _json_body(request, RecordsIn)
        added = await run_in_threadpool(_add_json, service, body)
    return _reply(added, 201)


def _add_json(service: Service, body: RecordsIn) -> dict[str, Any]:
    import pandas as pd

    return service.state.add_records(pd.DataFrame.from_records(body.records), body.source)


def _add_file(service: Service, filename: str, data: bytes, source: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fennec-records-") as tmp:
        path = Path(tmp) / (Path(filename).name or "records.csv")
        path.write_bytes(data)
        return service.state.add_records(path, source or path.name)


async def _bounded_body(request: Request, limits: UploadLimits) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes:
            raise RequestError(413, f"The body is larger than the server's limit of {limits.megabytes}.",
                               hint="split the records into several posts")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/train", summary="Start a training in the background (one at a time)", status_code=202,
             dependencies=[Depends(require_token)], openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": TrainIn.model_json_schema()}}}})
async def train(request: Request) -> JSONResponse:
    """202 with the job (poll ``GET /train/{id}``); 409 while another training runs. Queries keep being answered
    by the active version; when the training ends the new version is loaded, then switched to at once."""
    body = await _json_body(request, TrainIn)
    job = _service(request).jobs.start(incremental=body.incremental)
    return _reply(job.to_json(), 202, headers={"Location": f"/train/{job.id}"})


@router.get("/train", summary="The latest training job")
def train_latest(request: Request) -> JSONResponse:
    latest = _service(request).jobs.latest()
    return _reply({"job": latest.to_json() if latest else None})


@router.get("/train/{job_id}", summary="One training job's status")
def train_status(request: Request, job_id: int) -> JSONResponse:
    return _reply(_service(request).jobs.get(job_id).to_json())
