"""The ribbon's chunked transport (issue 11, item 3): a run of Segment customers read in
row blocks, uploaded, run off the server's event loop and answered in pages, none over
its limit; run for real: the server with uvicorn on 127.0.0.1, the ribbon's JavaScript
(static/js/ribbon.js) in node, with a recorded workbook in place of Excel."""

from __future__ import annotations

import copy
import json
import re
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import httpx
import openpyxl
import pytest

import tierbook.excel as excel
from test_excel import BOOK, book_payload
from test_excel_scripts import apply_actions, demo_payload, excluded, grid, run_script
from helpers import running_server
from tierbook import labels
from tierbook.demo import demo_path
from tierbook.server.transport import Store, TransportError, json_size, pages, split_action

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "js" / "ribbon_harness.js"
PAGE_MB = 0.3  # the server's page limit in these tests: the demo's answer comes in several pages
READ_BYTES = 150_000  # the client's block size in these tests: the demo's Sales sheet in several blocks


# --------------------------------------------------------------------------- pages and blocks


def values_action(rows: int, width: int = 6, row0: int = 3) -> dict:
    values = [[f"customer {r}", r * 1.5, "2026-01-02T00:00:00.000Z", None, r, "x" * (r % 40)][:width]
              for r in range(rows)]
    return {"func": "setValues", "args": [], "values": values, "sheet_position": 2, "start_row": row0,
            "start_column": 1, "row_count": rows, "column_count": width}


def test_a_large_set_values_is_split_by_rows_into_the_same_cells():
    action = values_action(5000)
    parts = split_action(action, 40_000)
    assert len(parts) > 5 and all(json_size(p) <= 40_000 for p in parts)
    assert [row for p in parts for row in p["values"]] == action["values"]
    assert [p["start_row"] for p in parts] == [3 + sum(len(q["values"]) for q in parts[:i]) for i in range(len(parts))]
    assert all(p["row_count"] == len(p["values"]) and p["column_count"] == 6 for p in parts)
    assert split_action(values_action(10), 40_000) == [values_action(10)]  # small: as it is


def test_pages_keep_the_order_and_stay_under_the_limit():
    actions = [{"func": "addSheet", "args": [0, "Customers"], "values": None, "sheet_position": None,
                "start_row": None, "start_column": None, "row_count": None, "column_count": None},
               values_action(3000), values_action(20, row0=9000), values_action(4000, row0=10000)]
    result = pages(actions, 50_000)
    assert len(result) > 3 and all(json_size(page) <= 50_000 for page in result)
    flat = [a for page in result for a in page]
    assert flat[0] == actions[0]
    for original in actions[1:]:  # every cell once, at its place, in order
        mine = [a for a in flat if a.get("start_row") is not None and
                original["start_row"] <= a["start_row"] < original["start_row"] + original["row_count"]]
        assert [row for a in mine for row in a["values"]] == original["values"]
    assert pages(actions[:1]) == [actions[:1]]


def test_an_upload_is_put_together_in_row_order_and_a_gap_is_refused():
    store = Store()
    key, rows = store.add_block(None, 0, 2, [["c"], ["d"]])
    assert store.add_block(key, 0, 0, [["a"], ["b"]]) == (key, 4)
    payload = {"sheets": [{"name": "Sales", "values": [[]]}, {"name": "Notes", "values": [["kept"]]}]}
    assert store.assemble(key, payload)["sheets"] == [{"name": "Sales", "values": [["a"], ["b"], ["c"], ["d"]]},
                                                      {"name": "Notes", "values": [["kept"]]}]
    with pytest.raises(TransportError, match="unknown or already used"):
        store.add_block(key, 0, 4, [["e"]])  # a used upload takes no more rows
    key, _ = store.add_block(None, 0, 0, [["a"]])
    store.add_block(key, 0, 2, [["c"]])
    with pytest.raises(TransportError, match='rows 2 to 2 of sheet "Sales" were not sent'):
        store.assemble(key, {"sheets": [{"name": "Sales", "values": [[]]}]})
    with pytest.raises(TransportError, match="sent twice"):
        store.add_block(store.add_block(None, 0, 0, [["a"]])[0], 0, 0, [["a"]])
    with pytest.raises(TransportError, match="a list of lists"):
        store.add_block(None, 0, 0, "rows")


def test_a_block_of_some_columns_stands_for_whole_rows_with_the_others_empty():
    store = Store()
    key, _ = store.add_block(None, 0, 0, [["h1", "h2", "h3", "h4"]])
    store.add_block(key, 0, 1, [["a", 1], ["b", 2]], columns=[0, 2], width=4)
    got = store.assemble(key, {"sheets": [{"name": "VIP", "values": [[]]}]})["sheets"][0]["values"]
    assert got == [["h1", "h2", "h3", "h4"], ["a", "", 1, ""], ["b", "", 2, ""]]
    for columns, width, rows, problem in (([2, 0], 4, [["a", 1]], "increasing"), ([0, 4], 4, [["a", 1]], "within"),
                                          ([0], 0, [["a"]], "within"), ([0, 1], 4, [["a"]], "one value per column"),
                                          ([0], 16384, [["a"]] * 300, "at most")):
        with pytest.raises(TransportError, match=problem):
            store.add_block(None, 0, 0, rows, columns=columns, width=width)


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"TIERBOOK_OUTPUT_ROOT": str(tmp_path_factory.mktemp("root")), "TIERBOOK_SERVER_PAGE_MB": str(PAGE_MB)}
    with running_server(env) as base:
        yield base


def node() -> str:
    found = shutil.which("node")
    assert found, "node is needed to run the ribbon's JavaScript (scripts/test.sh installs it)"
    return found


def ribbon_run(server: str, script: str, payload: dict, tmp_path: Path, read_bytes: int = READ_BYTES,
               probe_rows: int = 200, whole_cells: int | None = None) -> dict:
    """ribbon.js's run of SCRIPT in node, against SERVER, with PAYLOAD as the workbook in
    the strict Excel stand-in (PROBE_ROWS: the rows of a large sheet's first block,
    ribbon.js's PROBE_ROWS; WHOLE_CELLS: its WHOLE_CELLS, sheets read whole)."""
    book, out = tmp_path / "book.json", tmp_path / "out.json"
    book.write_text(json.dumps(payload, default=str))
    env = {**os.environ, **({"TIERBOOK_HARNESS_WHOLE_CELLS": str(whole_cells)} if whole_cells else {})}
    done = subprocess.run([node(), str(HARNESS), server, script, str(book), str(out), str(read_bytes),
                           str(probe_rows)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def applied(actions: list[dict]) -> openpyxl.Workbook:
    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, actions)
    return wb


def test_the_ribbon_run_in_pieces_gives_the_workbook_of_one_script_call(server, tmp_path):
    run = ribbon_run(server, "segment_customers", demo_payload(), tmp_path)
    rows = len(demo_payload()["sheets"][0]["values"])
    assert run["reads"] >= rows * 40 // READ_BYTES  # Sales in blocks …
    assert run["largest_read"] <= 1.25 * READ_BYTES  # … each about the block size
    assert run["largest_request"] <= READ_BYTES
    assert run["pages"] >= 2 and run["largest_response"] <= PAGE_MB * 1e6 and run["largest_action"] <= PAGE_MB * 1e6
    assert any("of 4,741 rows" in s for s in run["statuses"]) and any("part 2 of" in s for s in run["statuses"])

    payload = book_payload(demo_path(), exclude=excluded("segment_customers"))
    direct = applied(run_script("segment_customers", payload))
    chunked = applied(run["actions"])
    assert chunked.sheetnames == direct.sheetnames and "Customers" in chunked.sheetnames
    for ws in direct.worksheets:
        assert grid(chunked[ws.title]) == grid(ws), ws.title
        assert sorted(chunked[ws.title].tables) == sorted(ws.tables), ws.title
        assert chunked[ws.title].freeze_panes == ws.freeze_panes, ws.title


READ_NEEDED = r"""
const path = require("path");
const root = process.argv[1];
const ribbon = require(path.join(root, "addin/tierbook/server/static/js/ribbon.js"));
const { createExcel } = require(path.join(root, "tests/js/excel_standin.js"));
const sheet = JSON.parse(process.argv[2]);
const host = createExcel({ book: { sheets: [{ name: "VIP", values: sheet.map((r) => r.map((v) => `'${v}`)) }] } });
const spec = {customer: ["customer"], done: ["done"], read: ["customer", "done", "note"]};
const addresses = [];
const got = sheet.map((r) => r.map(() => ""));
const target = { index: 0, name: "VIP", last: { row: sheet.length, column: sheet[0].length }, spec };
host.Excel.run((context) => ribbon.readCells(context, [target], async (t, start, rows, columns) => {
  rows.forEach((row, i) => row.forEach((v, j) => { got[start + i][columns ? columns[j] : j] = v; }));
}, null, 40, 3, (requests) => addresses.push(...requests.map((r) => r.address)), 1))
  .then(() => console.log(JSON.stringify({got, addresses, syncs: host.stats.syncs})));
"""


@pytest.mark.parametrize("header_row", [1, 5])
def test_ribbon_js_reads_the_needed_columns_below_the_header_row_it_finds_and_all_without_one(header_row):
    """readCells on a sheet of 12 rows (in the stand-in) read in small blocks: with the
    header row among the first block's rows (row 2), only Customer, Done and Note are sent
    below it (Reason, between Done and Note, is read in the same range but not sent);
    with it further down, every cell."""
    sheet = [[f"t{r}", "", "", "", "", ""] for r in range(12)]
    sheet[header_row] = ["Customer", "Manager", "Task", "Done", "Reason", "Note"]
    for r in range(header_row + 1, 12):
        sheet[r] = [f"c{r}", f"m{r}", f"k{r}", "yes", f"why{r}", f"n{r}"]
    done = subprocess.run([node(), "-e", READ_NEEDED, str(ROOT), json.dumps(sheet)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    if header_row < 3:  # found in the first block (3 rows): A, then D:F (Reason read between Done and Note)
        assert all(re.fullmatch(r"(A\d+:A\d+|D\d+:F\d+)", a) for a in out["addresses"][1:]), out["addresses"]
        expected = [row if r < 3 else [row[0], "", "", row[3], "", row[5]] for r, row in enumerate(sheet)]
    else:
        assert all(a.startswith("A") and ":F" in a for a in out["addresses"]), out["addresses"]
        expected = sheet
    assert out["got"] == expected
    if header_row < 3:
        assert out["syncs"] < len(out["addresses"])  # the two ranges of a block share a sync


def test_a_second_click_reads_only_the_call_lists_columns_it_needs_and_keeps_the_work(server, tmp_path):
    """After a first click and a manager's work on the call lists, the second click reads
    of each call list the rows above its table whole and below them only the columns
    worklist.read_columns names (customer, task, dates, Done, Outcome, Note): less than
    half of the cells, and the same book as a script call given every cell."""
    from test_ribbon_worklist import rows_of, type_work, work_on

    first = applied(run_script("segment_customers", demo_payload()))
    header, rows, _, _ = rows_of(first[labels.sheet_title("segment:VIP", "en")])
    customers = [r[header.index("Customer")] for r in rows[:2]]
    work = {("segment:VIP", customers[0]): ("yes", "call back", "wants the autumn price list"),
            ("segment:VIP", customers[1]): (None, "reached", "=not a formula")}
    type_work(first, work)
    first.save(tmp_path / "typed.xlsx")
    payload = book_payload(tmp_path / "typed.xlsx", name=BOOK, exclude=excluded("segment_customers"))
    run = ribbon_run(server, "segment_customers", payload, tmp_path, probe_rows=12, whole_cells=1)  # lists are short
    lists = [s for s in payload["sheets"] if s["name"] in {labels.sheet_title(f"segment:{x}", "en")
                                                            for x in labels.SEGMENTS}]
    whole = sum(len(json.dumps({"values": s["values"], "numberFormat": [["General"] * len(r) for r in s["values"]]}))
                for s in lists)  # what reading every cell of the lists would cost (as the harness counts)
    read = sum(run["read_bytes_by_sheet"][s["name"]] for s in lists)
    assert read < 0.5 * whole, (read, whole)

    direct = openpyxl.load_workbook(tmp_path / "typed.xlsx")
    apply_actions(direct, run_script("segment_customers", payload))
    chunked = openpyxl.load_workbook(tmp_path / "typed.xlsx")
    apply_actions(chunked, run["actions"])
    kept = work_on(direct)
    assert work_on(chunked) == kept and {k: kept.get(k) for k in work} == work  # (and on the other lists they are on)
    for ws in direct.worksheets:
        assert grid(chunked[ws.title]) == grid(ws), ws.title


def upload_and_run(server: str, payload: dict, script: str = "segment_customers"
                   ) -> tuple[str, threading.Thread, list[httpx.Response]]:
    """Upload PAYLOAD's first sheet in blocks of 1,000 rows; start the run in a thread."""
    values = payload["sheets"][0]["values"]
    key = None
    for start in range(0, len(values), 1000):
        key = httpx.post(server + "/tierbook/upload", json={"upload": key, "sheet": 0, "start": start,
                                                           "values": values[start:start + 1000]}).json()["upload"]
    payload["sheets"][0]["values"] = [[]]
    answer: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answer.append(httpx.post(
        f"{server}/tierbook/run/{script}", content=json.dumps({**payload, "upload": key}, default=str),
        headers={"Content-Type": "application/json"}, timeout=300)))
    thread.start()
    return key, thread, answer


SMALL_CALL = {"func_name": "segment", "args": [[["Acme"]], [["customer", "date", "amount"], ["Acme", "2026-01-05", 10],
                                                             ["Bolt", "2026-02-05", 20]], None],
              "caller_address": f"[{BOOK}]Sheet1!B2", "culture_info_name": "en-US", "date_format": "yyyy-mm-dd",
              "runtime": "1.4", "version": "0", "client": "Office.js"}


def test_a_function_call_is_answered_while_a_ribbon_run_is_in_progress(server):
    key, thread, answer = upload_and_run(server, copy.deepcopy(demo_payload()))
    for _ in range(600):
        if httpx.get(f"{server}/tierbook/status/{key}").json()["state"] == "running":
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the run did not start")
    response = httpx.post(server + "/xlwings/custom-functions-call", json=SMALL_CALL, timeout=60)
    assert response.status_code == 200 and "result" in response.json(), response.text
    still = httpx.get(f"{server}/tierbook/status/{key}").json()["state"]
    thread.join(300)
    assert still == "running", "the function call was answered only after the ribbon run"
    assert answer[0].status_code == 200 and answer[0].json()["actions"], answer[0].text
    assert httpx.get(f"{server}/tierbook/status/{key}").json()["state"] == "done"


def test_xlwings_own_script_route_runs_off_the_event_loop_too(server):
    """A function call sent while xlwings' own script route runs a script is answered
    well before the script ends (were the script on the event loop, only after it)."""
    finished: dict[str, float] = {}
    payload = book_payload(demo_path(), exclude=excluded("segment_customers"))
    sales = payload["sheets"][0]
    sales["values"] = sales["values"][:1] + sales["values"][1:] * 12  # a run of several seconds on any machine
    sales["used_range_row_count"] = len(sales["values"])
    sales["used_range_address"] = f"A1:{sales['used_range_address'].split(':')[1].rstrip('0123456789')}" \
                                  f"{len(sales['values'])}"
    body = json.dumps(payload, default=str)

    def script_call():
        httpx.post(server + "/xlwings/custom-scripts-call/segment_customers", timeout=300, content=body,
                   headers={"Content-Type": "application/json"})
        finished["script"] = time.monotonic()

    thread = threading.Thread(target=script_call)
    thread.start()
    time.sleep(0.5)  # the request is in and its script running
    assert httpx.post(server + "/xlwings/custom-functions-call", json=SMALL_CALL, timeout=60).status_code == 200
    finished["function"] = time.monotonic()
    thread.join(300)
    assert finished["script"] - finished["function"] > 0.3, finished


def test_a_run_with_rows_missing_or_an_unknown_upload_is_refused(server):
    payload = demo_payload()
    key = httpx.post(server + "/tierbook/upload", json={"upload": None, "sheet": 0, "start": 0,
                                                       "values": payload["sheets"][0]["values"][:10]}).json()["upload"]
    httpx.post(server + "/tierbook/upload", json={"upload": key, "sheet": 0, "start": 20,
                                                 "values": payload["sheets"][0]["values"][20:30]})
    payload["sheets"][0]["values"] = [[]]
    response = httpx.post(server + "/tierbook/run/segment_customers", json={**payload, "upload": key})
    assert response.status_code == 400
    assert response.json()["detail"].startswith('tierbook: rows 11 to 20 of sheet "Sales" were not sent')
    response = httpx.post(server + "/tierbook/run/segment_customers", json={**payload, "upload": "forged"})
    assert response.status_code == 400 and "unknown" in response.json()["detail"]
    assert httpx.post(server + "/tierbook/run/segment_book", json=payload).status_code == 404
    assert httpx.get(server + "/tierbook/result/forged/1").status_code == 404
    response = httpx.post(server + "/tierbook/upload", content=b'{"upload": null}',
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 415  # RequestGuard stands in front of these routes too


def test_with_sign_in_required_every_transport_route_asks_for_the_user():
    """With an auth provider configured, no tierbook route answers without the token,
    not even the reads of a result or a status (whose ids are random, but a leaked id
    must not be enough)."""
    with running_server({"XLWINGS_AUTH_PROVIDERS": '["custom"]'}) as base:
        signed_in = {"Authorization": "test-token", "Auth-Provider": "custom"}  # xlwings' sample provider
        for method, path in (("GET", "/tierbook/status/x"), ("GET", "/tierbook/result/x/1"), ("GET", "/tierbook/columns.json"),
                             ("POST", "/tierbook/upload"), ("POST", "/tierbook/run/segment_customers")):
            anonymous = httpx.request(method, base + path, json={} if method == "POST" else None)
            assert anonymous.status_code in (401, 403), (path, anonymous.status_code)
            known = httpx.request(method, base + path, json={} if method == "POST" else None, headers=signed_in)
            assert known.status_code not in (401, 403), (path, known.status_code, known.text)
