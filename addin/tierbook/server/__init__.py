"""The xlwings Server project of tierbook, and `tierbook serve`.

This folder is an xlwings Server project directory: custom_functions/ and
custom_scripts/ re-export the entry points of tierbook.excel, templates/manifest.xml
is the add-in manifest with the tierbook ribbon tab, templates/taskpane.html the
settings task pane and static/js/ribbon.js binds the ribbon buttons to the scripts.

xlwings Server and the xlwings PRO code it runs are free for non-commercial use
(PolyForm Noncommercial License 1.0.0); commercial use needs an xlwings licence.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
#: The add-in's id in Excel (one per add-in; xlwings Server's default is shared by every project).
MANIFEST_ID = "6d0c5f43-2b1e-4a8e-9c67-1f3b7d2a9e54"
EXPORTED_FUNCTIONS = ("segment", "lifecycle", "quadrant", "next_contact", "vip_months", "size_tier", "segments",
                      "movement", "classify_handle")
EXPORTED_SCRIPTS = ("segment_customers", "segment_workbooks", "edit_settings", "plan_reactivation",
                    "reactivation_results")


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


def app():
    """The ASGI app of xlwings Server serving tierbook's functions and scripts.

    xlwings Server falls back to its built-in examples when the project's modules fail
    to import; here that is an error: the project's modules are imported first, and the
    server's modules must be those."""
    _environment()
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    import custom_functions  # noqa: F401 - an import error here must stop the server
    import custom_scripts  # noqa: F401

    for module in (custom_functions, custom_scripts):
        if Path(module.__file__).resolve().parent.parent != PROJECT_DIR:
            raise ServeError(f"{module.__name__} is {module.__file__}, not tierbook's ({PROJECT_DIR})")
    from xlwings_server import main
    from xlwings_server.routers import xlwings as routes
    from xlwings_server.templates import env

    env.globals["tierbook_manifest_version"] = manifest_version(package_version())

    if routes.custom_functions is not custom_functions or routes.custom_scripts is not custom_scripts:
        raise ServeError("xlwings Server did not load tierbook's custom functions and scripts")
    return main.main_app


def serve(port: int = 8000, host: str = "127.0.0.1") -> None:
    """Run the add-in's server on HOST:PORT (local only by default) until stopped."""
    import uvicorn

    application = app()
    print(f"tierbook: serving the Excel add-in on http://{host}:{port} (manifest: http://{host}:{port}/manifest.xml)",
          file=sys.stderr)
    print("tierbook: xlwings Server is free for non-commercial use; commercial use needs an xlwings licence",
          file=sys.stderr)
    uvicorn.run(application, host=host, port=port, log_level="warning")
