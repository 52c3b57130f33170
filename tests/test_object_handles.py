"""=TIERBOOK.CLASSIFY(Sales!A1:L5000) classifies once and returns an xlwings object handle;
=TIERBOOK.SEGMENT(A2, $N$1) and the other customer functions look up in it without the
table being sent again. In memory with one server process; in Redis (a real redis-server
started here) when xlwings Server is given object_cache_url, so the handle survives a
server restart and is shared by workers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

os.environ["XLWINGS_ON_SERVER"] = "true"
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import httpx
import pytest
from xlwings.pro.object_handles import CONVERTER_KEYS, ObjectCacheConverter

from test_excel import BOOK, call, customer_cells, sheet_matrix
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.settings import Settings
from tierbook.sheets import next_contacts, primary_segment

ObjectCacheConverter.register(*CONVERTER_KEYS)  # as xlwings Server and Lite do at start


@pytest.fixture(scope="module")
def tx_matrix() -> list[list]:
    return sheet_matrix(demo_path(), "Sales")


@pytest.fixture(scope="module")
def engine():
    tx, issues = read_transactions(demo_path())
    return classify(tx, Settings(), issues)


def handle_key(entity_result: list[list]) -> str:
    entity = entity_result[0][0]
    assert entity["type"] == "Entity"
    return entity["properties"]["object_handle_cache_key"]["basicValue"]


def test_classify_returns_a_handle_with_a_card_naming_the_customers_and_month(tx_matrix, engine):
    got = call("classify_handle", tx_matrix)
    entity = got[0][0]
    assert entity["text"] == f"{len(engine.customers)} customers as of {engine.analysis_month}"
    card = {k: v["basicValue"] for k, v in entity["properties"].items() if k != "object_handle_cache_key"}
    tiers = engine.customers["tier"].value_counts()
    assert card == {"Customers": len(engine.customers), "As of": engine.analysis_month,
                    "VIP": tiers["VIP"], "Good": tiers["Good"], "Regular": tiers["Regular"]}


@pytest.mark.parametrize("func, field", [("segment", None), ("lifecycle", "lifecycle"), ("quadrant", "quadrant"),
                                         ("size_tier", "size_tier"), ("vip_months", "vip_months"),
                                         ("next_contact", None)])
def test_every_customer_function_answers_from_the_handle_as_from_the_range(func, field, tx_matrix, engine):
    key = handle_key(call("classify_handle", tx_matrix))
    from_handle = [row[0] for row in call(func, customer_cells(engine), [[key]])]
    from_range = [row[0] for row in call(func, customer_cells(engine), tx_matrix)]
    assert from_handle == from_range
    if func == "segment":
        assert from_handle == primary_segment(engine.customers).tolist()
    elif func == "next_contact":
        expected = next_contacts(engine.customers, engine.as_of)["date"]
        assert sum(v != "" for v in from_handle) == expected.notna().sum() > 0  # date cells, as the range gives
    else:
        assert from_handle == engine.customers[field].tolist()


def test_unknown_and_empty_customers_through_a_handle(tx_matrix):
    key = handle_key(call("classify_handle", tx_matrix))
    assert call("segment", [["nobody at all"], [""]], [[key]]) == [["unknown customer"], [""]]


def test_a_bad_table_makes_no_handle_but_says_why(tx_matrix):
    with pytest.raises(Exception, match="no column for date"):
        call("classify_handle", [["client", "sum"], ["Acme", 10]])


# --------------------------------------------------------------------------- over HTTP, Redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
    raise AssertionError(f"{url} did not answer")


def start_server(port: int, cache_url: str | None) -> subprocess.Popen:
    env = {**os.environ}
    env.pop("XLWINGS_OBJECT_CACHE_URL", None)
    if cache_url:
        env["XLWINGS_OBJECT_CACHE_URL"] = cache_url
    process = subprocess.Popen([sys.executable, "-m", "tierbook.server", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(f"http://127.0.0.1:{port}/manifest.xml", process)
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def redis_url():
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (scripts/test.sh installs it)")
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def function_call(base: str, func: str, *args: object) -> object:
    body = {"func_name": func, "args": list(args), "caller_address": f"[{BOOK}]Sheet1!N1",
            "culture_info_name": "en-US", "date_format": "yyyy-mm-dd", "runtime": "1.4", "version": "0",
            "client": "Office.js"}
    response = httpx.post(base + "/xlwings/custom-functions-call", json=body, timeout=120,
                          headers={"Origin": base, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_a_handle_in_redis_survives_a_server_restart(redis_url, tx_matrix, engine):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    customers = [[c] for c in engine.customers["customer"]]
    expected = [[s] for s in primary_segment(engine.customers)]
    from test_excel import RUSSIAN_HEADERS
    from tierbook.lookups import unknown_customer

    process = start_server(port, redis_url)
    try:
        key = handle_key(function_call(base, "classify_handle", tx_matrix, None))
        assert function_call(base, "segment", customers, [[key]], None) == expected
        ru_key = handle_key(function_call(base, "classify_handle", [RUSSIAN_HEADERS] + tx_matrix[1:], None))
    finally:
        stop(process)
    process = start_server(port, redis_url)  # a new process: nothing in its memory
    try:
        assert function_call(base, "segment", customers, [[key]], None) == expected
        # the row an unknown customer gets is in the table Redis keeps, in its language
        assert function_call(base, "segment", [["nobody"]], [[ru_key]], None) == [[unknown_customer("ru")]]
        assert function_call(base, "segment", [["nobody"]], [[key]], None) == [[unknown_customer("en")]]
    finally:
        stop(process)


def test_a_handle_in_memory_is_stale_after_a_restart_and_says_recalculate(tx_matrix):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(port, None)
    try:
        key = handle_key(function_call(base, "classify_handle", tx_matrix, None))
        assert function_call(base, "segment", [["Redwood Supplies Inc"]], [[key]], None) == [["VIP"]]
    finally:
        stop(process)
    process = start_server(port, None)
    try:
        stale = function_call(base, "segment", [["Redwood Supplies Inc"]], [[key]], None)
        assert stale[0][0]["type"] == "Entity" and stale[0][0]["text"] == "Expired object"
        assert "recalculate" in stale[0][0]["properties"]["Status"]["basicValue"]
        # recalculating the CLASSIFY cell gives a new handle, and the cell its answer again
        key = handle_key(function_call(base, "classify_handle", tx_matrix, None))
        assert function_call(base, "segment", [["Redwood Supplies Inc"]], [[key]], None) == [["VIP"]]
    finally:
        stop(process)


def test_a_handle_of_a_russian_export_answers_in_russian(tx_matrix, engine):
    """CLASSIFY of a range with Russian headers: the same answers as the range gives, in
    Russian, an unknown customer included."""
    from test_excel import RUSSIAN_HEADERS
    from tierbook.lookups import unknown_customer

    ru_matrix = [RUSSIAN_HEADERS] + tx_matrix[1:]
    key = handle_key(call("classify_handle", ru_matrix))
    for func in ("segment", "lifecycle", "quadrant", "size_tier"):
        assert call(func, customer_cells(engine), [[key]]) == call(func, customer_cells(engine), ru_matrix), func
    assert call("segment", [["nobody at all"], [""]], [[key]]) == [[unknown_customer("ru")], [""]]
