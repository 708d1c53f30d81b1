"""``fennec serve``: the workspace as a team service (an HTTP API and a web page)."""
from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from fennec.errors import FennecError

from ._common import open_workspace, workspace_option

__all__ = ["command"]


@click.command("serve")
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every "
                                                                      "interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--task-root", "task_roots", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder under which clients may name task folders on the server ({'path': ...}); repeatable. "
                   "Default: none (clients upload images instead).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=100.0, show_default=True,
              help="Largest upload (the request, and what a zip unpacks to).")
@click.option("--max-images", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Most files in one upload.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Torch threads of the server's queries and of a training run.")
@click.option("--train-nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="Priority increment of a training run (it runs in its own process).")
@click.option("--access-log", is_flag=True, help="Log every request.")
def command(workspace: Path | None, host: str, port: int, task_roots: tuple[Path, ...], max_upload_mb: float,
            max_images: int, threads: int, train_nice: int, access_log: bool) -> None:
    """Serve the workspace to a team: an HTTP API (OpenAPI at /docs) and a web page at /.

    Queries are answered from the active version held in memory; POST /train trains in a background process and
    the service switches to the new version when it is complete. Writes (POST /history, POST /train) need the
    token: FENNEC_SERVE_TOKEN, else WORKSPACE/serve.token (created on the first start, mode 0600, printed once).

    \b
    Examples:
      fennec serve -w ws                                   # page: http://127.0.0.1:8000/  API: /docs
      fennec serve -w ws --host 0.0.0.0 --port 8080 --task-root /data/tasks
      FENNEC_SERVE_TOKEN=s3cret fennec serve -w ws
      curl -s localhost:8000/recommend -H 'content-type: application/json' -d '{"task": "pets", "k": 5}'
      curl -s localhost:8000/history -H "Authorization: Bearer $(cat ws/serve.token)" \\
           -H 'content-type: text/csv' --data-binary @results.csv
    """
    try:
        import uvicorn

        from fennec.serve import UploadLimits, create_app, resolve_token
    except ImportError as exc:
        raise FennecError(f"fennec serve needs the serve extra ({exc}).", hint="pip install 'fennec[serve]'") from None
    import torch

    torch.set_num_threads(threads)
    ws = open_workspace(workspace)
    token = resolve_token(ws.path)
    limits = UploadLimits(max_bytes=int(max_upload_mb * 2**20), max_images=max_images)
    app = create_app(ws.path, limits=limits, task_roots=task_roots, token=token, train_nice=train_nice,
                     train_threads=threads)
    _announce(ws, host, port, token)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)


def _announce(ws, host: str, port: int, token) -> None:
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {ws.path} (version {ws.current_version() or 'none yet: POST /train'}) at "
               f"http://{shown}:{port}/  (API: /docs)")
    if token.created:
        click.echo(f"Write token (new, saved in {token.source}, mode 0600): {token.value}")
    else:
        click.echo(f"Write token: {'$FENNEC_SERVE_TOKEN' if token.source == 'FENNEC_SERVE_TOKEN' else token.source}")
    if not _loopback(host):
        click.secho("warning: listening beyond this machine over plain HTTP: the token travels unencrypted; put a "
                    "TLS proxy in front for a network you do not trust.", fg="yellow", err=True)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
