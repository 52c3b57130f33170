"""The xlwings Server add-in (tierbook.server), started for real with uvicorn on
127.0.0.1: the manifest, the functions' metadata, a function call and a script call
over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import httpx
import pytest

import tierbook.server
from test_excel import BOOK, book_payload, sheet_matrix
from tierbook.demo import demo_path

NS = {"o": "http://schemas.microsoft.com/office/taskpaneappversionoverrides",
      "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tierbook.server", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if process.poll() is not None:
                raise AssertionError(process.stdout.read())
        else:
            raise AssertionError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


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


def test_the_ribbon_script_binds_each_button_to_its_script(server):
    from tierbook.excel import BUTTONS

    js = httpx.get(server + "/static/js/ribbon.js").text
    for button in BUTTONS:
        if not button.taskpane:
            assert f'Office.actions.associate("{button.id}", tierbookButton("{button.script}"));' in js


def test_the_server_exports_exactly_the_functions_and_scripts_of_tierbook_excel():
    from tierbook import excel

    assert tierbook.server.EXPORTED_FUNCTIONS == excel.FUNCTIONS
    assert tierbook.server.EXPORTED_SCRIPTS == excel.SCRIPTS


def test_the_metadata_serves_tierbooks_functions_not_the_examples(server):
    meta = httpx.get(server + "/xlwings/custom-functions-meta.json").json()
    assert sorted(f["id"] for f in meta["functions"]) == sorted(n.upper() for n in tierbook.server.EXPORTED_FUNCTIONS)
    scripts = httpx.get(server + "/xlwings/custom-scripts-meta.json").json()
    assert sorted(s["function_name"] for s in scripts) == sorted(tierbook.server.EXPORTED_SCRIPTS)


def test_a_function_call_over_http(server):
    body = {"func_name": "segment", "args": [[["Redwood Supplies Inc"]], sheet_matrix(demo_path(), "Sales"), None],
            "caller_address": f"[{BOOK}]Sheet1!B2", "culture_info_name": "en-US", "date_format": "yyyy-mm-dd",
            "runtime": "1.4", "version": "0", "client": "Office.js"}
    response = httpx.post(server + "/xlwings/custom-functions-call", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == {"result": [["VIP"]]}


def test_a_script_call_over_http_then_the_function_uses_its_segmentation(server):
    response = httpx.post(server + "/xlwings/custom-scripts-call/segment_customers",
                          content=json.dumps(book_payload(demo_path()), default=str), timeout=120,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    actions = response.json()["actions"]
    assert "Customers" in [a["args"][1] for a in actions if a["func"] == "addSheet"]
    body = {"func_name": "segment", "args": [[["Redwood Supplies Inc"]]], "caller_address": f"[{BOOK}]Sales!N2",
            "culture_info_name": "en-US", "date_format": "yyyy-mm-dd", "runtime": "1.4", "version": "0",
            "client": "Office.js"}
    assert httpx.post(server + "/xlwings/custom-functions-call", json=body).json() == {"result": [["VIP"]]}


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
