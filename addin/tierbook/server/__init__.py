"""The xlwings Server project of tierbook, and `tierbook serve`.

This folder is an xlwings Server project directory: custom_functions/ and
custom_scripts/ re-export the entry points of tierbook.excel, templates/manifest.xml
is the add-in manifest with the tierbook ribbon tab, templates/taskpane.html the
settings task pane and static/js/ribbon.js binds the ribbon buttons to the scripts;
routers/custom.py adds the chunked transport of a ribbon run (transport.py).

xlwings Server and the xlwings PRO code it runs are free for non-commercial use
(PolyForm Noncommercial License 1.0.0); commercial use needs an xlwings licence.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tierbook.downloads import DownloadError, Handoff, handing_off, shelf

PROJECT_DIR = Path(__file__).resolve().parent
#: The add-in's id in Excel (one per add-in; xlwings Server's default is shared by every project).
MANIFEST_ID = "6d0c5f43-2b1e-4a8e-9c67-1f3b7d2a9e54"


def manifest_version(version: str) -> str:
    """The package version as the four numbers an Office manifest needs ("0.1.0" → "0.1.0.0").

    Office caches an add-in's manifest by its version, so the manifest must change its
    version whenever tierbook does; pre-release and local parts ("0.2.0rc1+g1a2b") keep
    only their leading numbers."""
    import re

    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:4]]
    return ".".join(str(n) for n in (numbers + [0, 0, 0, 0])[:4])


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tierbook")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


class ServeError(RuntimeError):
    """The server cannot start as tierbook's add-in."""


def _environment() -> None:
    if "xlwings" in sys.modules and os.environ.get("XLWINGS_ON_SERVER") != "true":
        raise ServeError("xlwings was imported before XLWINGS_ON_SERVER was set: start the server in a new process")
    os.environ["XLWINGS_ON_SERVER"] = "true"
    os.environ["XLWINGS_PROJECT_DIR"] = str(PROJECT_DIR)
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    os.environ.setdefault("XLWINGS_PROJECT_NAME", "tierbook")
    os.environ.setdefault("XLWINGS_FUNCTIONS_NAMESPACE", "TIERBOOK")
    os.environ.setdefault("XLWINGS_ENABLE_SOCKETIO", "false")
    os.environ.setdefault("XLWINGS_ENVIRONMENT", "prod")
    os.environ.setdefault("XLWINGS_MANIFEST_ID_PROD", MANIFEST_ID)


#: Names of this machine that a request may give as its Host (anything else is DNS rebinding).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ORIGINS_ENV = "TIERBOOK_SERVER_ORIGINS"
#: Origins besides the server's own that may call it: the local TLS proxy of the README.
DEFAULT_ORIGINS = "https://localhost:8443"
MAX_BODY_ENV = "TIERBOOK_SERVER_MAX_BODY_MB"
#: Largest request body, in MB (a ribbon script sends the open workbook's values).
DEFAULT_MAX_BODY_MB = 64.0
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class RequestGuard:
    """ASGI middleware in front of xlwings Server: only requests a page of the add-in
    itself can make get through.

    - Host must be a loopback name (127.0.0.1, localhost, [::1]; any port, for a local
      TLS proxy): a page on evil.example that rebinds its DNS name to 127.0.0.1 is
      refused (400);
    - an Origin header, when sent, must be the add-in's own origin (http or https on one
      of those names and the server's port) or one of $TIERBOOK_SERVER_ORIGINS (comma-
      separated; default https://localhost:8443, the proxy): a cross-site request is
      refused (403);
    - a POST (script or function call) must have Content-Type application/json, which a
      cross-site "simple" request (text/plain, form-encoded: no preflight) cannot (415);
    - the body may have at most MAX_BODY bytes (413), whether it announces its length
      or not; a body is read in full (up to the limit) before the app sees it.

    Each request that gets through also sweeps the download shelf (tierbook.downloads:
    files older than their limit go) and is served within a hand-off: a script it runs
    offers its files under DOWNLOAD_PREFIX, on the server's own origin.
    """

    def __init__(self, app, port: int | None = None, max_body: int | None = None,
                 download_prefix: str = "/tierbook/download/"):
        self.app, self.port, self.download_prefix = app, port, download_prefix
        if max_body is None:
            try:
                max_body = int(float(os.environ.get(MAX_BODY_ENV) or DEFAULT_MAX_BODY_MB) * 2**20)
            except ValueError:
                raise ServeError(f"{MAX_BODY_ENV} must be a number of megabytes, got "
                                 f"{os.environ.get(MAX_BODY_ENV)!r}") from None
        self.max_body = max_body
        self.origins = {o.strip().lower().rstrip("/") for o in
                        (os.environ.get(ORIGINS_ENV, DEFAULT_ORIGINS) or "").split(",") if o.strip()}

    @staticmethod
    def _host_ok(host: str, port: int | None = None) -> bool:
        """HOST (a Host header, or an origin's host[:port]) is a loopback name, with PORT if given."""
        host = host.strip().lower()
        for name in LOOPBACK_HOSTS:
            if host == name:
                return port in (None, 80, 443)
            if host.startswith(name + ":"):
                given = host[len(name) + 1:]
                return given.isdigit() and (port is None or int(given) == port)
        return False

    def _origin_ok(self, origin: str) -> bool:
        origin = origin.strip().lower()
        if origin in self.origins:
            return True
        scheme, _, rest = origin.partition("://")
        return scheme in ("http", "https") and "/" not in rest and self._host_ok(rest, self.port)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers: dict[str, str] = {}
        for key, value in scope.get("headers", ()):
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        if not self._host_ok(headers.get("host", "")):
            return await _refuse(scope, send, 400, "tierbook: the Host of the request is not this computer")
        if "origin" in headers and not self._origin_ok(headers["origin"]):
            return await _refuse(scope, send, 403, "tierbook: requests from other sites are not accepted")
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        shelf().sweep()  # files for download are never kept past their time, even by an idle script
        handoff = Handoff(url_prefix=self.download_prefix,
                          origin=headers.get("origin") or f"http://{headers['host']}")
        if scope["method"] in _SAFE_METHODS:
            with handing_off(handoff):
                return await self.app(scope, receive, send)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return await _refuse(scope, send, 415, "tierbook: a call must have Content-Type application/json")
        length = headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > self.max_body):
            return await _refuse(scope, send, 413, f"tierbook: the request is larger than the limit of "
                                                   f"{self.max_body / 2**20:g} MB ({MAX_BODY_ENV})")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return await _refuse(scope, send, 413, f"tierbook: the request is larger than the limit of "
                                                       f"{self.max_body / 2**20:g} MB ({MAX_BODY_ENV})")
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        with handing_off(handoff):  # a script run by this request offers its files through it
            return await self.app(scope, replay, send)


async def _refuse(scope, send, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    data = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})


def app(port: int | None = None):
    """The ASGI app of xlwings Server serving tierbook's functions and scripts, behind
    RequestGuard (loopback Host and own Origin only, JSON calls, a body limit; PORT: the
    port the server listens on, None: any).

    xlwings Server falls back to its built-in examples when the project's modules fail
    to import; here that is an error: the project's modules are imported first, and the
    server's modules must be those."""
    _environment()
    try:
        shelf().sweep()  # at start: what an earlier server left for download and is too old now
    except DownloadError as error:  # a bad $TIERBOOK_DOWNLOAD_MINUTES stops the server, naming it
        raise ServeError(str(error)) from None
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    import custom_functions  # noqa: F401 - an import error here must stop the server
    import custom_scripts  # noqa: F401

    import importlib

    for name in ("jobs", "targets", "workbook", "writers"):  # loaded with the server, not at the first click
        importlib.import_module(f"tierbook.{name}")

    for module in (custom_functions, custom_scripts):
        if Path(module.__file__).resolve().parent.parent != PROJECT_DIR:
            raise ServeError(f"{module.__name__} is {module.__file__}, not tierbook's ({PROJECT_DIR})")
    from xlwings_server import main
    from xlwings_server.config import settings
    from xlwings_server.routers import xlwings as routes
    from xlwings_server.templates import env

    env.globals["tierbook_manifest_version"] = manifest_version(package_version())
    from tierbook.excel import BUTTONS

    # the ribbon buttons that run a script (static/js/ribbon.js binds them from the task pane)
    env.globals["tierbook_buttons"] = [{"id": b.id, "script": b.script} for b in BUTTONS if not b.taskpane]

    if routes.custom_functions is not custom_functions or routes.custom_scripts is not custom_scripts:
        raise ServeError("xlwings Server did not load tierbook's custom functions and scripts")
    custom_routes = sys.modules.get("routers.custom")
    if (custom_routes is None or Path(custom_routes.__file__).resolve().parent.parent != PROJECT_DIR
            or not any(getattr(r, "original_router", None) is custom_routes.router  # FastAPI ≥ 0.160
                       or str(getattr(r, "path", "")).endswith("/tierbook/run/{script_name}") for r in main.app.routes)):
        raise ServeError("xlwings Server did not load tierbook's routes (routers/custom.py)")
    return RequestGuard(main.main_app, port, download_prefix=f"{settings.app_path}/tierbook/download/")


def serve(port: int = 8000, host: str = "127.0.0.1") -> None:
    """Run the add-in's server on HOST:PORT (local only by default) until stopped."""
    import uvicorn

    application = app(port)
    print(f"tierbook: serving the Excel add-in on http://{host}:{port} (manifest: http://{host}:{port}/manifest.xml)",
          file=sys.stderr)
    print("tierbook: xlwings Server is free for non-commercial use; commercial use needs an xlwings licence",
          file=sys.stderr)
    uvicorn.run(application, host=host, port=port, log_level="warning")
