"""Run a tierbook script the way xlwings Lite runs it, with a recorded workbook in place of
Excel and of Lite's JavaScript client (the role tests/js/ribbon_harness.js plays for the
server's ribbon client):

    python tests/lite_harness.py SCRIPT BOOK.json OUT.json

BOOK.json is the payload xlwings' Office.js client sends for the whole workbook
(tests/test_excel.py book_payload). This process says it is Pyodide (sys.platform =
"emscripten", set before xlwings and tierbook are imported, so that both take their Lite
branches) and provides the two modules Pyodide provides: `js`, whose
`js.xlwings.getRangeValues(sheet, address)` answers from BOOK.json as Office.js would
(a 2-D array of the range's values; its size is counted as the JSON of the values and the
number formats Office sends along, as ribbon_harness.js counts it), and `pyodide.ffi`
(JsNull, to_js). The script is given what Lite's client sends for it: for a BookAsync
script the workbook without cell values (getBookData, lazy), else the whole workbook,
and called through xlwings' custom_scripts_call as Lite's runtime calls it.
OUT.json: {"actions": the script's actions, "reads": [[sheet, address, bytes], ...],
"lazy": whether the script asked for the async book}.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import sys
import types

import numpy  # noqa: F401  (imported under the real platform name)
import pandas  # noqa: F401

# xlwings' Pyodide runtime sets this too (xlwings_server/wasm/config.py): xw.script is then
# the decorator of Lite and Server (xlwings.server.script), the one tierbook's scripts need
os.environ["XLWINGS_ON_SERVER"] = "true"
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
sys.platform = "emscripten"

script, book_file, out_file = sys.argv[1:4]
with open(book_file, encoding="utf-8") as f:
    BOOK = json.load(f)
READS: list[list] = []


class _JsArray(list):
    """A JS array as Pyodide hands it to Python: .to_py() gives the Python list."""

    def to_py(self):
        return [list(row) for row in self]


def _cell(ref: str) -> tuple[int, int]:
    letters, row = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", ref).groups()
    column = 0
    for ch in letters:
        column = column * 26 + ord(ch) - 64
    return int(row), column


async def get_range_values(sheet_name: str, address: str):
    sheet = next(s for s in BOOK["sheets"] if s["name"] == sheet_name)
    first, _, last = address.partition(":")
    (r0, c0), (r1, c1) = _cell(first), _cell(last or first)
    rows = []
    for r in range(r0, r1 + 1):
        row = sheet["values"][r - 1] if r - 1 < len(sheet["values"]) else []
        cells = row[c0 - 1:c1]
        rows.append(cells + [""] * (c1 - c0 + 1 - len(cells)))
    formats = [["yyyy-mm-dd" if isinstance(v, str) and re.match(r"\d{4}-\d\d-\d\dT", v) else "General" for v in row]
               for row in rows]
    size = len(json.dumps({"values": rows, "numberFormat": formats}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8"))
    READS.append([sheet_name, address, size])
    return _JsArray(rows)


js = types.ModuleType("js")
js.xlwings = types.SimpleNamespace(getRangeValues=get_range_values)
js.Object = types.SimpleNamespace(fromEntries=dict)
ffi = types.ModuleType("pyodide.ffi")


class JsNull:
    pass


ffi.JsNull = JsNull
ffi.to_js = lambda value, **kwargs: value
pyodide = types.ModuleType("pyodide")
pyodide.ffi = ffi
sys.modules.update({"js": js, "pyodide": pyodide, "pyodide.ffi": ffi})

import xlwings as xw  # noqa: E402
import xlwings.server  # noqa: E402

import tierbook.excel as excel  # noqa: E402

meta = getattr(excel, script).__xlscript__
payload = copy.deepcopy(BOOK)
if meta.get("lazy"):
    for sheet in payload["sheets"]:
        sheet["values"] = [[]]  # what getBookData(lazy) sends: the structure, no cell values
book = xw.Book(json=payload)
book = asyncio.run(xlwings.server.custom_scripts_call(excel, script, typehint_to_value={xw.Book: book}))
with open(out_file, "w", encoding="utf-8") as f:
    json.dump({"actions": book.json()["actions"], "reads": READS, "lazy": bool(meta.get("lazy"))}, f, default=str)
