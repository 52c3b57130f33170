"""xlwings Lite reads the workbook in row blocks under Excel for the web's 5 MB limit
(tierbook.lite): the block rule, its agreement with ribbon.js's copy, and the scripts run
through xlwings' own async read path (Range.get_value → client_read →
js.xlwings.getRangeValues) in tests/lite_harness.py, a process that says it is Pyodide
and answers Office.js's part from a recorded workbook. There is no Pyodide nor Excel
here: what Lite's real client sends and how Pyodide converts it are not run."""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xlwings as xw

import tierbook.excel as excel
from test_excel import book_payload
from test_excel_scripts import run_script
from tierbook import lite
from tierbook.demo import demo_path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "lite_harness.py"
RIBBON_JS = ROOT / "addin" / "tierbook" / "server" / "static" / "js" / "ribbon.js"
LIMIT = 5_000_000  # Excel for the web: one request or response
DATA_SCRIPTS = ("segment_customers", "segment_workbooks", "plan_reactivation", "reactivation_results")


# --------------------------------------------------------------------------- the block rule


ROWS = [["customer 17", "2026-01-02T00:00:00.000Z", 1234.5, None, "Иванов", True, 3]] * 50


def test_a_block_is_sized_by_the_sample_and_the_budget():
    per_row = len(json.dumps(ROWS, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) / len(ROWS) + 7 * 12 + 1
    assert lite.rows_per_block(ROWS, 7, 1_000_000) == int(1_000_000 // per_row)
    assert lite.rows_per_block(ROWS, 7, 2_000_000) in (2 * lite.rows_per_block(ROWS, 7, 1_000_000) + k for k in (0, 1))
    assert abs(lite.rows_per_block(ROWS * 3, 7) - lite.rows_per_block(ROWS, 7)) <= 1  # per row, not per sample
    assert lite.rows_per_block(ROWS, 70) < lite.rows_per_block(ROWS, 7)  # number formats count per cell
    assert lite.rows_per_block(ROWS, 7, 10) == 1  # never less than one row
    assert lite.rows_per_block([], 3) == int(lite.READ_BYTES // (2 / 1 + 36 + 1))  # "[]" taken as one row


def test_a_block_of_two_byte_letters_stays_within_the_budget_in_bytes():
    """Excel's limit is on bytes: a block of Cyrillic text (two UTF-8 bytes a letter) is
    sized by its bytes, not its characters, so it stays within the budget."""
    rows = [["ООО «Ромашка» и партнёры, Санкт-Петербург", "Иванова Мария Сергеевна"]] * 20
    size = lite.rows_per_block(rows, 2, 1_000_000)
    block = json.dumps(rows[:1] * size, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert len(block) + size * 2 * lite.NUMBER_FORMAT_BYTES <= 1_000_000


def test_the_rule_is_ribbon_js_rowsPerBlock():
    """The same counts as ribbon.js's copy of the rule, run in node, on the same samples."""
    node = shutil.which("node")
    assert node, "node is needed to run ribbon.js (scripts/test.sh installs it)"
    samples = [(ROWS, 7, 2_000_000), (ROWS[:3], 7, 150_000), ([[1, 2.5, "x" * 300]] * 9, 3, 2_000_000),
               ([["ключ", "значение"]], 2, 40_000), ([], 12, 2_000_000), ([[None]], 1, 5)]
    code = (f"const r = require({json.dumps(str(RIBBON_JS))});"
            f"const s = {json.dumps(samples, ensure_ascii=False)};"
            "console.log(JSON.stringify(s.map(([rows, cols, budget]) => r.rowsPerBlock(rows, cols, budget))));")
    done = subprocess.run([node, "-e", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [lite.rows_per_block(rows, cols, budget) for rows, cols, budget in samples]


def test_addresses_and_the_sheets_a_script_reads():
    assert lite.last_cell("Sales!A1:L50001") == (50001, 12)
    assert lite.last_cell("$B$2:$AD$9") == (9, 30) and lite.last_cell("C5") == (5, 3)
    assert lite.last_cell(None) is None and lite.last_cell("") is None
    assert [lite.column_letters(n) for n in (1, 26, 27, 702, 703)] == ["A", "Z", "AA", "ZZ", "AAA"]
    names = ["Sales", "Customers", "tierbook settings"]
    assert lite.sheets_read(names, None, ["Customers"]) == ["Sales", "tierbook settings"]
    assert lite.sheets_read(names, ["tierbook settings"], ["Sales"]) == ["tierbook settings"]


# --------------------------------------------------------------------------- the scripts' hints


def test_on_the_server_the_scripts_ask_for_the_whole_book_as_before():
    """Outside Lite the hint is xw.Book: the script metadata says lazy=false (xlwings'
    own client sends the values) and custom_scripts_call injects a full book."""
    from xlwings.pro.udfs_officejs import _book_param_hint, custom_scripts_meta

    for name in excel.SCRIPTS:
        assert _book_param_hint(getattr(excel, name)) is xw.Book
    assert all(m["lazy"] is False for m in custom_scripts_meta(excel))


# --------------------------------------------------------------------------- the Lite path


def lite_run(script: str, payload: dict, tmp_path: Path) -> dict:
    book, out = tmp_path / "book.json", tmp_path / "out.json"
    book.write_text(json.dumps(payload, default=str), encoding="utf-8")
    done = subprocess.run([sys.executable, str(HARNESS), script, str(book), str(out)], capture_output=True,
                          text=True, timeout=900, cwd=ROOT / "tests")
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def same(actions: list[dict]) -> list[dict]:
    return json.loads(json.dumps(actions, default=str))


def test_under_lite_segment_customers_reads_in_blocks_and_does_what_the_server_does(tmp_path):
    payload = book_payload(demo_path())
    run = lite_run("segment_customers", payload, tmp_path)
    assert run["lazy"]  # under Lite the script asks for the book without values
    [sales] = [s for s in payload["sheets"] if s["name"] == "Sales"]
    reads = [r for r in run["reads"] if r[0] == "Sales"]
    assert len(reads) >= 2 and reads[0][1] == f"$A$1:${lite.column_letters(len(sales['values'][0]))}$200"
    assert sum(int(r[1].split(":")[1].lstrip("$").lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ$")) -
               int(r[1].split(":")[0].lstrip("$").lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ$")) + 1
               for r in reads) == len(sales["values"])  # every row once
    assert same(run["actions"]) == same(run_script("segment_customers", book_payload(demo_path())))


@pytest.mark.slow
def test_under_lite_no_read_of_a_50k_row_sheet_passes_5_mb_and_the_result_is_the_servers(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sales = tmp_path / "sales.xlsx"
    bench.write_xlsx(bench.synthetic(50_000), sales)
    payload = book_payload(sales)
    values = payload["sheets"][0]["values"]
    formats = [["yyyy-mm-dd" if isinstance(v, str) and v[:4].isdigit() and "T" in v else "General" for v in row]
               for row in values]  # Office answers the values with their number formats (as the harness counts)
    whole = len(json.dumps({"values": values, "numberFormat": formats}, ensure_ascii=False,
                           separators=(",", ":"), default=str).encode("utf-8"))
    assert whole > LIMIT  # one read of the whole sheet, as Lite's client makes it for an xw.Book script: too large
    run = lite_run("segment_customers", payload, tmp_path)
    sizes = [size for _, _, size in run["reads"]]
    assert len(sizes) >= 4 and max(sizes) < LIMIT and max(sizes) < 1.5 * lite.READ_BYTES, sizes
    assert same(run["actions"]) == same(run_script("segment_customers", book_payload(sales)))
