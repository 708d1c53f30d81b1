"""``fennec serve``: a team's shared zoo and history behind an HTTP API and a web page.

A thin layer over the library: :func:`create_app` builds the FastAPI app of one workspace (routes in
:mod:`fennec.serve.app`); queries are answered from the active version held in memory (:mod:`fennec.serve.state`);
a training runs in a background process and the service switches to its version when it ends
(:mod:`fennec.serve.jobs`); writes need the workspace's token (:mod:`fennec.serve.auth`); uploads are bounded while
they stream in (:mod:`fennec.serve.uploads`). Needs the ``serve`` extra: ``pip install 'fennec[serve]'``.

Examples
--------
>>> from fennec.serve import create_app  # doctest: +SKIP
>>> app = create_app("ws")               # doctest: +SKIP
"""
from .app import create_app
from .auth import Token, resolve_token
from .jobs import TrainJob, TrainJobs
from .state import ServiceState
from .uploads import UploadLimits

__all__ = ["ServiceState", "Token", "TrainJob", "TrainJobs", "UploadLimits", "create_app", "resolve_token"]
