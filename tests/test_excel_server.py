"""The xlwings Server add-in (tierbook.server), started for real with uvicorn on
127.0.0.1: the manifest, the functions' metadata, a function call and a script call
over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

import tierbook.server
from helpers import running_server
from test_excel import BOOK, book_payload, sheet_matrix
from tierbook.demo import demo_path

NS = {"o": "http://schemas.microsoft.com/office/taskpaneappversionoverrides",
      "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0"}


MAX_BODY_MB = 4  # the server's request limit in these tests (a script call of the demo sends 0.9 MB)


@pytest.fixture(scope="module")
def output_root(tmp_path_factory) -> Path:
    """The server's output root (TIERBOOK_OUTPUT_ROOT): the only folder it may write into."""
    return tmp_path_factory.mktemp("root")


@pytest.fixture(scope="module")
def server(output_root):
    env = {"TIERBOOK_OUTPUT_ROOT": str(output_root), "TIERBOOK_SERVER_MAX_BODY_MB": str(MAX_BODY_MB)}
    with running_server(env, attempts=200) as base:
        yield base

# --------------------------------------------------------------------------- what a web page cannot do


def split_call(server: str, folder: str, **request) -> httpx.Response:
    """The ribbon's Segment workbooks, with FOLDER in the workbook's settings sheet."""
    from test_excel_scripts import payload_with_settings

    body = json.dumps(payload_with_settings(folder=folder), default=str)
    request.setdefault("headers", {}).setdefault("Content-Type", "application/json")
    return httpx.post(server + "/xlwings/custom-scripts-call/segment_workbooks", content=body, timeout=120,
                      **request)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("headers, status", [
    ({"Content-Type": "text/plain"}, 415),  # a cross-site "simple" POST needs no preflight
    ({"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example"}, 403),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
    ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),
    ({"Content-Type": "application/json", "Origin": "null"}, 403),  # a sandboxed iframe, a file:// page
    ({"Content-Type": "application/json", "Origin": "http://127.0.0.1.evil.example"}, 403),
    ({"Content-Type": "application/json", "Origin": "http://localhost:1"}, 403),  # another local port
    ({"Content-Type": "application/json", "Host": "evil.example"}, 400),  # DNS rebinding
    ({"Content-Type": "application/json", "Host": "127.0.0.1.evil.example"}, 400),
    ({"Content-Type": "application/json", "Host": "localhost@evil.example"}, 400),
    ({"Content-Type": "application/json", "Origin": "https://localhost:8444"}, 403),  # not the proxy of the README
    ({"Content-Type": "application/json", "Host": ""}, 400),
])
def test_a_request_a_web_page_could_make_runs_nothing(server, output_root, headers, status):
    before = files_under(output_root)
    response = split_call(server, "calls", headers=headers)
    assert response.status_code == status, response.text
    assert response.text.startswith("tierbook: ")
    assert files_under(output_root) == before


def test_the_add_ins_own_origin_and_loopback_names_are_accepted(server, output_root):
    port = server.rsplit(":", 1)[1]
    for origin in (server, f"http://localhost:{port}", f"https://localhost:{port}", "https://localhost:8443"):
        response = httpx.get(server + "/xlwings/custom-functions-meta.json", headers={"Origin": origin})
        assert response.status_code == 200, (origin, response.text)
    for host in (f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}", "localhost:8443", "127.0.0.1"):
        assert httpx.get(server + "/manifest.xml", headers={"Host": host}).status_code == 200, host
    response = split_call(server, "own", headers={"Origin": server, "Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200, response.text
    assert f"as one zip: {server}/tierbook/download/" in json.dumps(response.json()["actions"])


@pytest.mark.parametrize("folder", ["/tmp/tierbook-evil", "../escaped", "~/escaped", "calls/../../escaped",
                                    "link-out", "team/calls"])
def test_the_settings_of_a_request_never_choose_a_folder_on_the_servers_disk(server, output_root, folder):
    """An Office.js request's Segment workbooks goes to the download shelf (tests/test_downloads.py):
    the folder of the workbook's settings, inside the output root or not, is not written."""
    outside = output_root.parent / "outside"
    outside.mkdir(exist_ok=True)
    if not (output_root / "link-out").exists():
        (output_root / "link-out").symlink_to(outside, target_is_directory=True)
    before = files_under(output_root)
    response = split_call(server, folder)
    assert response.status_code == 200, response.text
    assert "/tierbook/download/" in json.dumps(response.json()["actions"])
    assert files_under(output_root) == before and list(outside.iterdir()) == []
    assert not Path("/tmp/tierbook-evil").exists() and not (output_root.parent / "escaped").exists()


@pytest.mark.parametrize("folder", ["/tmp/tierbook-evil", "../escaped", "calls/../../escaped"])
def test_a_settings_folder_outside_the_output_root_is_refused_where_one_is_written(tmp_path, monkeypatch, folder):
    """Where a folder is written (desktop Excel; the remote engine used without a server),
    the settings' folder must lie inside the output root."""
    from test_excel_scripts import payload_with_settings, run_script

    monkeypatch.setenv("TIERBOOK_OUTPUT_ROOT", str(tmp_path / "root"))
    import xlwings as xw

    with pytest.raises(xw.XlwingsError, match="is outside the output folder .*TIERBOOK_OUTPUT_ROOT"):
        run_script("segment_workbooks", payload_with_settings(folder=folder))
    assert not Path("/tmp/tierbook-evil").exists() and not (tmp_path / "escaped").exists()


def test_a_request_body_over_the_limit_is_refused(server):
    big = b'{"x": "' + b"a" * (MAX_BODY_MB * 2**20) + b'"}'
    url = server + "/xlwings/custom-scripts-call/segment_customers"
    response = httpx.post(url, content=big, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413 and f"limit of {MAX_BODY_MB} MB" in response.text

    def chunks():  # no Content-Length: the size shows only while reading
        for _ in range(MAX_BODY_MB * 4 + 1):
            yield b"a" * 2**18

    response = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:  # announces 1 TB, sends none of it
        raw.sendall(f"POST /xlwings/custom-scripts-call/segment_customers HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 413 ")
    assert httpx.get(server + "/manifest.xml").status_code == 200  # the server is still up


def test_the_manifest_has_the_tierbook_tab_with_every_button(server):
    from tierbook.excel import BUTTONS

    text = httpx.get(server + "/manifest.xml").text
    root = ET.fromstring(text.encode())
    tab = root.find(".//o:CustomTab", NS)
    assert tab.get("id") == "tierbookTab"
    controls = tab.findall(".//o:Control", NS)
    assert [c.get("id") for c in controls] == [b.id for b in BUTTONS]
    strings = {s.get("id"): s.get("DefaultValue") for s in root.iter("{%s}String" % NS["bt"])}
    for button, control in zip(BUTTONS, controls):
        assert strings[f"{button.id}.Label"] == button.label
        action = control.find("o:Action", NS)
        if button.taskpane:
            assert action.find("o:TaskpaneId", NS) is not None
        else:
            assert action.find("o:FunctionName", NS).text == button.id
    assert strings["Functions.Namespace"] == "TIERBOOK"
    assert root.find("{http://schemas.microsoft.com/office/appforoffice/1.1}Id").text == tierbook.server.MANIFEST_ID
    assert f"{server}/taskpane.html" in text


BIND = r"""
const path = require("path");
const { createExcel } = require(path.join(process.argv[1], "tests/js/excel_standin.js"));
const host = createExcel({});
const buttons = process.argv[2];
globalThis.Office = host.Office;
globalThis.document = { getElementById: (id) => (id === "tierbook-buttons" ? { textContent: buttons } : null),
                        addEventListener() {}, querySelectorAll: () => [] };
require(path.join(process.argv[1], "addin/tierbook/server/static/js/ribbon.js"));
console.log(JSON.stringify(Object.keys(host.actions)));
"""


def test_the_ribbon_script_binds_each_button_to_its_script(server):
    """The task pane carries tierbook.excel.BUTTONS' script buttons (id and script) and
    ribbon.js, loaded in that page, binds each id (Office.actions.associate): the names
    are declared once, in BUTTONS, not again in the JavaScript."""
    import re
    import shutil
    import subprocess

    from tierbook.excel import BUTTONS

    page = httpx.get(server + "/taskpane.html").text
    found = re.search(r'<script id="tierbook-buttons" type="application/json">(.*?)</script>', page, re.S)
    assert found, "the task pane does not carry the ribbon buttons"
    buttons = json.loads(found.group(1))
    assert buttons == [{"id": b.id, "script": b.script} for b in BUTTONS if not b.taskpane]
    done = subprocess.run([shutil.which("node"), "-e", BIND, str(Path(__file__).parents[1]), found.group(1)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [b["id"] for b in buttons]


def test_the_server_exports_exactly_the_functions_and_scripts_of_tierbook_excel():
    """Declared once (xlwings' decorators in tierbook.excel) and found: the server's
    modules hold exactly those, and each is the decorated function (a script wrapped to
    run off the event loop)."""
    sys.path.insert(0, str(tierbook.server.PROJECT_DIR))  # as the server imports them
    import custom_functions
    import custom_scripts
    from tierbook import excel

    assert sorted(custom_functions.__all__) == sorted(excel.FUNCTIONS) and "segment" in excel.FUNCTIONS
    assert sorted(custom_scripts.__all__) == sorted(excel.SCRIPTS) and "segment_customers" in excel.SCRIPTS
    assert all(getattr(custom_functions, n) is getattr(excel, n) for n in excel.FUNCTIONS)
    assert all(getattr(custom_scripts, n).__wrapped__ is getattr(excel, n) for n in excel.SCRIPTS)
    assert len(excel.FUNCTIONS) == len({n for n in dir(excel) if hasattr(getattr(excel, n), "__xlfunc__")})


def test_the_metadata_serves_tierbooks_functions_not_the_examples(server):
    from tierbook import excel

    meta = httpx.get(server + "/xlwings/custom-functions-meta.json").json()
    assert sorted(f["id"] for f in meta["functions"]) == sorted(n.upper() for n in excel.FUNCTIONS)
    scripts = httpx.get(server + "/xlwings/custom-scripts-meta.json").json()
    assert sorted(s["function_name"] for s in scripts) == sorted(excel.SCRIPTS)


def test_a_function_call_over_http(server):
    body = {"func_name": "segment", "args": [[["Redwood Supplies Inc"]], sheet_matrix(demo_path(), "Sales"), None],
            "caller_address": f"[{BOOK}]Sheet1!B2", "culture_info_name": "en-US", "date_format": "yyyy-mm-dd",
            "runtime": "1.4", "version": "0", "client": "Office.js"}
    response = httpx.post(server + "/xlwings/custom-functions-call", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == {"result": [["VIP"]]}


def function_call(server: str, *args: object) -> object:
    body = {"func_name": "segment", "args": list(args), "caller_address": f"[{BOOK}]Sales!N2",
            "culture_info_name": "en-US", "date_format": "yyyy-mm-dd", "runtime": "1.4", "version": "0",
            "client": "Office.js"}
    response = httpx.post(server + "/xlwings/custom-functions-call", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_after_a_script_call_and_a_server_restart_the_function_answers_from_the_books_table(output_root, tmp_path):
    """The ribbon run over HTTP, its actions applied to the workbook; then a new server
    process (a restart) answers =TIERBOOK.SEGMENT(A2, tbCustomers[#All]) from that book's
    table alone, and a second book of the same name from its own table."""
    import openpyxl

    from test_excel_scripts import apply_actions

    env = {"TIERBOOK_OUTPUT_ROOT": str(output_root)}
    with running_server(env, attempts=200) as first:
        response = httpx.post(first + "/xlwings/custom-scripts-call/segment_customers",
                              content=json.dumps(book_payload(demo_path()), default=str), timeout=120,
                              headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(demo_path())
    apply_actions(book, response.json()["actions"])
    book.save(tmp_path / BOOK)
    table = sheet_matrix(tmp_path / BOOK, "Customers")
    edited = [list(r) for r in table]
    row = next(r for r in edited if r[0] == "Redwood Supplies Inc")
    row[edited[0].index("segment")] = "Regular"
    with running_server(env, attempts=200) as restarted:
        assert function_call(restarted, [["Redwood Supplies Inc"], ["nobody"]], table) == \
            [["VIP"], ["unknown customer"]]
        assert function_call(restarted, [["Redwood Supplies Inc"]], edited) == [["Regular"]]  # same book name
        assert function_call(restarted, [["Redwood Supplies Inc"]])[0][0].startswith("tierbook: give the Customers")


def test_a_name_that_is_not_a_script_is_not_run(server):
    response = httpx.post(server + "/xlwings/custom-scripts-call/segment_book",
                          content=json.dumps(book_payload(demo_path()), default=str), timeout=60,
                          headers={"Content-Type": "application/json"})
    assert response.status_code >= 400


def test_serve_refuses_to_start_when_xlwings_was_imported_in_desktop_mode():
    env = {k: v for k, v in __import__("os").environ.items() if k != "XLWINGS_ON_SERVER"}
    done = subprocess.run([sys.executable, "-c", "import xlwings, tierbook.server as s; s.serve(1)"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert "xlwings was imported before XLWINGS_ON_SERVER was set: start the server in a new process" in done.stderr


def test_the_manifest_version_follows_the_package_version():
    # Office caches a manifest by its version: it must change with every tierbook release
    from importlib.metadata import version

    assert tierbook.server.manifest_version("0.1.0") == "0.1.0.0"
    assert tierbook.server.manifest_version("1.2.3rc1+g1a2b") == "1.2.3.1"
    assert tierbook.server.manifest_version("2") == "2.0.0.0"
    assert tierbook.server.package_version() == version("tierbook")


def test_the_manifest_lists_tierbooks_own_icons_and_the_server_serves_them(server):
    import struct

    from importlib.metadata import version

    text = httpx.get(server + "/manifest.xml").text
    root = ET.fromstring(text.encode())
    office = "{http://schemas.microsoft.com/office/appforoffice/1.1}"
    assert root.find(office + "Version").text == tierbook.server.manifest_version(version("tierbook"))
    assert "xlwings-16.png" not in text and "xlwings-32.png" not in text and "xlwings-80.png" not in text
    images = {i.get("id"): i.get("DefaultValue") for i in root.iter("{%s}Image" % NS["bt"]) if i.get("id")}
    urls = {16: images["Icon.16x16"], 32: images["Icon.32x32"], 80: images["Icon.80x80"],
            64: root.find(office + "HighResolutionIconUrl").get("DefaultValue")}
    assert root.find(office + "IconUrl").get("DefaultValue") == urls[32]
    for size, url in urls.items():
        assert url.startswith(server) and url.endswith(f"/tierbook-{size}.png")
        reply = httpx.get(url)
        assert reply.status_code == 200 and reply.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", reply.content[16:24])
        assert (width, height) == (size, size)
