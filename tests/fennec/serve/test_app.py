"""The service's API in process: reads, queries, uploads, records, tokens; every refusal one 4xx JSON message."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from _serve_helpers import TOKEN, auth, image_folder

from fennec.history import TransferHistory
from fennec.workspace import Workspace


def _files(folder, prefix=""):
    """Multipart 'files' parts named <prefix><class>/<image> (what a browser sends for a dropped folder)."""
    return [("files", (f"{prefix}{p.relative_to(folder).as_posix()}", p.read_bytes(), "image/png"))
            for p in sorted(folder.rglob("*.png"))]


def _state(workspace):
    """What a refused request must leave as it was: every file (the store by its records) and the versions."""
    ws = Workspace.open(workspace)
    files = {str(p.relative_to(workspace)): p.read_bytes() for p in sorted(workspace.rglob("*"))
             if p.is_file() and not p.name.startswith("history.sqlite")}
    records = TransferHistory(ws.history_path).records(aggregate=None).to_csv(index=False)
    return files, records, ws.versions(), ws.current_version()


def _problem(reply, status):
    """The reply is one JSON message {"error", "hint"} with this status, not a traceback."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error", "hint"} and body["error"] and "Traceback" not in reply.text
    return body


# ------------------------------------------------------------------------------------------------------- reads


def test_reads_are_open_and_describe_the_workspace(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["active_version"] == "v0001" and health["records"] == 121
    models = client.get("/models").json()
    assert models["version"] == "v0001" and len(models["models"]) == 11
    assert {"model", "n_tasks", "family", "n_params"} <= set(models["models"][0])
    tasks = {t["name"]: t for t in client.get("/tasks").json()["tasks"]}
    assert len(tasks) == 11 and tasks["pets"]["n_classes"] == 37 and tasks["pets"]["n_models"] == 11
    assert client.get("/versions").json() == {
        "active": "v0001", "current": "v0001",
        "versions": [{"version": "v0001", "mode": "fit", "n_records": 121, "n_models": 11, "n_tasks": 11}]}
    assert client.get("/train").json() == {"job": None}
    assert "Fennec" in client.get("/").text and client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/recommend", "/next", "/history", "/train", "/models", "/tasks", "/versions", "/health"} <= set(paths)
    assert "multipart/form-data" in paths["/recommend"]["post"]["requestBody"]["content"]


# ----------------------------------------------------------------------------------------------------- queries


def test_recommend_for_a_stored_task_and_for_task_side_features(client):
    stored = client.post("/recommend", json={"task": "pets", "k": 4})
    assert stored.status_code == 200
    body = stored.json()
    assert body["task"] == "pets" and body["space_version"] == "v0001" and len(body["ranking"]) == 4
    assert {"model", "score", "confidence"} <= set(body["ranking"][0])
    card = {"name": "my-pets", "label_names": ["cat", "dog"], "n_train": 400, "description": "cat or dog"}
    custom = client.post("/recommend", json={"task": card, "k": 11, "explain": True, "plot": True}).json()
    assert custom["task"] == "my-pets" and len(custom["ranking"]) == 11
    assert custom["explanation"]["nearest_tasks"] and custom["plot"].startswith("data:image/png;base64,")


def test_next_folds_in_the_tried_results(client):
    reply = client.post("/next", json={"task": "pets", "tried": {"resnet50": 0.9, "not-a-model": 0.1}, "k": 2})
    body = reply.json()
    assert reply.status_code == 200 and len(body["picks"]) == 2 and body["ignored"] == ["not-a-model"]
    assert "resnet50" not in [p["model"] for p in body["picks"]] and body["tried"] == {"resnet50": 0.9}
    _problem(client.post("/next", json={"task": "pets", "candidates": ["nope"]}), 400)


def test_recommend_for_an_uploaded_folder_and_a_zip(client, tmp_path):
    folder = image_folder(tmp_path / "birds", classes=("crow", "owl"), per_class=2)
    reply = client.post("/recommend", files=_files(folder, prefix="birds/"), data={"k": "3"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["task"] == "birds" and len(reply.json()["ranking"]) == 3
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*.png")):
            zf.write(path, path.relative_to(folder).as_posix())
    zipped = client.post("/recommend", files=[("files", ("owls.zip", archive.getvalue(), "application/zip"))],
                         data={"name": "night-birds", "description": "which bird"})
    assert zipped.status_code == 200 and zipped.json()["task"] == "night-birds"
    nxt = client.post("/next", files=_files(folder), data={"tried": json.dumps({"resnet50": 0.8})})
    assert nxt.status_code == 200 and nxt.json()["tried"] == {"resnet50": 0.8}


# ---------------------------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize("body, status, words", [
    ({"task": "petz"}, 404, "Unknown task 'petz'"),
    ({"k": 3}, 422, "exactly one of 'task'"),
    ({"task": "pets", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
    ({"task": "pets", "colour": "red"}, 422, "colour"),
    ({"path": "/etc"}, 403, "task roots"),
])
def test_a_bad_query_is_one_clear_message(client, body, status, words):
    assert words in _problem(client.post("/recommend", json=body), status)["error"]


def test_bad_bodies_and_unknown_routes(client):
    assert "not valid JSON" in _problem(client.post("/recommend", content=b"{oops",
                                                    headers={"content-type": "application/json"}), 400)["error"]
    assert "application/json or multipart" in _problem(
        client.post("/recommend", content=b"x", headers={"content-type": "text/plain"}), 415)["error"]
    _problem(client.get("/nowhere"), 404)
    _problem(client.get("/train/7"), 404)


def _zip(members):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return [("files", ("task.zip", archive.getvalue(), "application/zip"))]


@pytest.mark.parametrize("files, status, words", [
    ([("files", (f"c{i % 2}/{i}.png", b"x", "image/png")) for i in range(41)], 413, "more than 40 files"),
    ([("files", ("big/a.png", b"x" * (3 * 2**20), "image/png"))], 413,
     "The upload (3.0 MiB) is larger than the server's limit of 2 MiB"),
    ([("files", ("a.png", b"x", "image/png")), ("files", ("b.png", b"x", "image/png"))], 400, "not in a class"),
    ([("files", ("cat/notes.txt", b"x", "text/plain"))], 400, "no image files"),
    ([("files", ("task.zip", b"not a zip", "application/zip"))], 400, "not a readable zip"),
    (_zip({"../evil/a.png": b"x"}), 400, "climbs out"),
    (_zip({f"c/{i}.png": b"x" for i in range(41)}), 413, "holds 41 files"),
    (_zip({"c/a.png": b"\0" * (3 * 2**20)}), 413, "unpacked is larger"),
    ([], 400, "no files"),
    (b"--x\r\nContent-Disposition: form-data; filename=a\r\n\r\n1\r\n--x--\r\n", 400, "not a valid multipart"),
])
def test_a_bad_upload_is_one_clear_message_and_changes_nothing(client, workspace, files, status, words):
    before = _state(workspace)
    if isinstance(files, list) and files:
        reply = client.post("/recommend", files=files, data={"k": "3"})
    else:  # a form of fields only, or a broken one
        body = files or b'--x\r\nContent-Disposition: form-data; name="k"\r\n\r\n3\r\n--x--\r\n'
        reply = client.post("/recommend", content=body, headers={"content-type": "multipart/form-data; boundary=x"})
    assert words in _problem(reply, status)["error"]
    assert _state(workspace) == before


def test_upload_bounds_hold_while_the_body_streams(workspace):
    """The size bound stops reading at the first chunk past it (a client's body is never read whole)."""
    import asyncio

    from starlette.datastructures import Headers

    from fennec.serve.uploads import UploadLimits, UploadTooLargeError, receive_form

    sent = []

    class Streaming:
        headers = Headers({"content-type": "multipart/form-data; boundary=b"})  # no Content-Length: chunked

        async def stream(self):
            yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="c/a.png"\r\n\r\n'
            for _ in range(1000):
                sent.append(1)
                yield b"x" * 4096

    with pytest.raises(UploadTooLargeError, match="larger than the server's limit"):
        asyncio.run(receive_form(Streaming(), UploadLimits(max_bytes=40 * 1024)))
    assert len(sent) == 10  # 40 KiB of 4 MiB: the rest was never read


# ----------------------------------------------------------------------------------------------------- records


def test_writes_need_the_token(client, workspace):
    before = _state(workspace)
    records = {"records": [{"model": "resnet50", "task": "new", "value": 0.5}]}
    missing = client.post("/history", json=records)
    assert "needs the service's token" in _problem(missing, 401)["error"]
    assert missing.headers["www-authenticate"] == "Bearer" and "Authorization: Bearer" in missing.json()["hint"]
    _problem(client.post("/history", json=records, headers={"Authorization": "Basic abc"}), 401)
    assert "not this service's token" in _problem(client.post("/history", json=records,
                                                              headers=auth("wrong")), 403)["error"]
    _problem(client.post("/train", json={}, headers=auth("wrong")), 403)
    _problem(client.post("/train", json={}), 401)
    assert _state(workspace) == before and client.get("/train").json() == {"job": None}


def test_records_are_validated_as_history_add_does_all_or_nothing(client, workspace):
    before = _state(workspace)
    bad = {"records": [{"model": "resnet50", "task": "new", "value": 0.5},
                       {"model": "resnet34", "task": "new", "value": "high"}]}
    error = _problem(client.post("/history", json=bad, headers=auth()), 422)
    assert "the posted records: row 1" in error["error"] and "'high' is not a number" in error["error"]
    assert "nothing from the posted records was imported" in error["hint"]
    csv_bad = b"model,task,value\nresnet50,new,0.5\nresnet34,new,\n"
    error = _problem(client.post("/history", content=csv_bad, headers={**auth(), "content-type": "text/csv"}), 422)
    assert "line 3" in error["error"] and "the value is empty" in error["error"]
    assert "value" in _problem(client.post("/history", json={"records": [{"model": "a", "task": "b"}]},
                                           headers=auth()), 422)["error"]
    _problem(client.post("/history", json={"records": []}, headers=auth()), 422)
    assert _state(workspace) == before and before[2] == ["v0001"]


def test_records_as_json_csv_and_parquet_are_stored(client, workspace, tmp_path):
    import pandas as pd

    good = {"records": [{"model": "resnet50", "task": "t1", "value": 0.5, "lr": 0.01}], "source": "api"}
    added = client.post("/history", json=good, headers=auth())
    assert added.status_code == 201 and added.json() == {"added": 1, "records": 122, "new_models": [],
                                                         "new_tasks": ["t1"]}
    csv = b"model,task,value\nresnet50,t2,0.6\nresnet34,t2,0.4\n"
    assert client.post("/history", content=csv, headers={**auth(), "content-type": "text/csv"}).json()["added"] == 2
    path = tmp_path / "runs.parquet"
    pd.DataFrame({"model": ["densenet121"], "task": ["t3"], "value": [0.7]}).to_parquet(path)
    reply = client.post("/history", files={"file": ("runs.parquet", path.read_bytes())}, headers=auth())
    assert reply.status_code == 201 and reply.json()["records"] == 125
    stored = TransferHistory(workspace / "history.sqlite").records(aggregate=None)
    assert stored.loc[stored["task"] == "t1", "source"].tolist() == ["api"]
    assert stored.loc[stored["task"] == "t2", "source"].tolist() == ["records.csv"] * 2


def test_the_store_is_in_wal_mode_with_a_busy_timeout(workspace):
    import sqlite3

    history = TransferHistory(workspace / "history.sqlite")
    assert history.timeout >= 5
    with sqlite3.connect(workspace / "history.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ----------------------------------------------------------------------------------------------- server paths


def test_server_side_paths_are_read_only_under_a_task_root(workspace, tmp_path):
    from fastapi.testclient import TestClient

    from fennec.serve import Token, create_app

    root = tmp_path / "tasks"
    image_folder(root / "flowers", classes=("rose", "tulip"), per_class=2)
    app = create_app(workspace, task_roots=(root,), token=Token(TOKEN, "FENNEC_SERVE_TOKEN"))
    with TestClient(app) as client:
        reply = client.post("/recommend", json={"path": str(root / "flowers"), "k": 2})
        assert reply.status_code == 200 and reply.json()["task"] == "flowers"
        assert "outside" in _problem(client.post("/recommend", json={"path": str(tmp_path)}), 403)["error"]
        assert "does not exist" in _problem(client.post("/recommend", json={"path": str(root / "missing")}), 400)["error"]


def test_json_has_no_nan():
    import numpy as np

    from fennec.serve.errors import jsonable

    assert jsonable({"a": [np.float32(1.5), float("nan")], "b": np.int64(3), "c": np.array([1.0, np.inf])}) == \
        {"a": [1.5, None], "b": 3, "c": [1.0, None]}
