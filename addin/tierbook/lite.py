"""Reading the workbook under xlwings Lite in row blocks small enough for Excel on the web.

Under xlwings Lite (Python in Pyodide inside Excel) a script annotated `xw.Book` gets the
whole workbook from Lite's client in one Office.js read: about 8 MB for a 50,000-row
sales sheet, over Excel for the web's 5 MB limit for one request or response. A script
annotated `xw.BookAsync` gets the workbook without cell values (names, tables, each
sheet's used range address); `load_in_blocks` then reads the values of the sheets the
script reads, a block of rows per read (xlwings' `Range.get_value`, which asks Lite's
client `xlwings.getRangeValues(sheet, address)`), and puts them into the book as the
one read would have, so that the rest of the script runs unchanged.

xlwings Server does not come here: its ribbon client (server/static/js/ribbon.js) reads
in blocks itself and the server puts them together before the script runs.
"""

from __future__ import annotations

import json
import re
from typing import Sequence

from .errors import InputError

#: Target size of one block read from Excel: its values as JSON, plus the number formats
#: Office sends with them (about NUMBER_FORMAT_BYTES a cell). NUMBER_FORMAT_BYTES and
#: PROBE_ROWS are those of server/static/js/ribbon.js; Lite's client makes one read a
#: block, of half ribbon.js's READ_BYTES (which packs several ranges into one sync).
READ_BYTES = 2_000_000
NUMBER_FORMAT_BYTES = 12
#: Rows of the first block of a sheet, read to measure a row.
PROBE_ROWS = 200


def rows_per_block(sample: Sequence[Sequence[object]], columns: int, budget: int = READ_BYTES) -> int:
    """How many rows go in one block so that it is about BUDGET bytes, from SAMPLE (rows
    already read, COLUMNS wide): the sample's JSON per row, plus NUMBER_FORMAT_BYTES per
    cell, plus one. At least 1.

    The same rule as rowsPerBlock in server/static/js/ribbon.js (the JavaScript has its
    own copy; tests/test_lite.py checks that both give the same counts): UTF-8 bytes of
    compact JSON, so that a text of two-byte letters (Cyrillic) counts what it costs."""
    rows = max(1, len(sample))
    text = json.dumps([list(r) for r in sample], ensure_ascii=False, separators=(",", ":"), default=str,
                      allow_nan=False)
    per_row = len(text.encode("utf-8")) / rows + columns * NUMBER_FORMAT_BYTES + 1
    return max(1, int(budget // per_row))


def last_cell(address: str | None) -> tuple[int, int] | None:
    """The last cell of a used-range address ("A1:L50001", "C5", "$B$2:$D$9") as (row,
    column), 1-based; None for a sheet without used range."""
    if not address:
        return None
    match = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", address.split("!")[-1].split(":")[-1])
    if match is None:
        raise InputError(f"tierbook: cannot read the range address {address}", "address", address=address)
    column = 0
    for ch in match[1].upper():
        column = column * 26 + ord(ch) - 64
    return int(match[2]), column


def column_letters(n: int) -> str:
    letters = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def sheets_read(names: Sequence[str], include: Sequence[str] | None, exclude: Sequence[str] | None) -> list[str]:
    """Of NAMES, the sheets a script with INCLUDE/EXCLUDE (xw.script's) reads: the same
    rule as the clients' getBookData (and readSheets of ribbon.js)."""
    included, excluded = list(include or ()), set(exclude or ())
    return [n for n in names if n in included] if included else [n for n in names if n not in excluded]


async def read_blocks(sheet, last: tuple[int, int], budget: int = READ_BYTES, probe: int = PROBE_ROWS) -> list[list]:
    """The values of SHEET (an xlwings Sheet of a Lite book) from A1 to LAST, as Lite's
    client sends them (raw: dates as ISO text), read in blocks of rows_per_block rows,
    the first of PROBE rows."""
    rows_total, columns = last
    letters = column_letters(columns)
    values: list[list] = []
    size = min(probe, rows_total)
    while len(values) < rows_total:
        size = min(size, rows_total - len(values))
        address = f"A{len(values) + 1}:{letters}{len(values) + size}"
        block = await sheet[address].options("raw").get_value()
        if not isinstance(block, list) or len(block) != size:
            raise InputError(f"tierbook: Excel gave {len(block) if isinstance(block, list) else 'no'} rows for "
                             f"{sheet.name}!{address}")
        values += [list(row) for row in block]
        size = rows_per_block(block, columns, budget)
    return values


async def load_in_blocks(book, include: Sequence[str] | None = None, exclude: Sequence[str] | None = None,
                         budget: int = READ_BYTES) -> None:
    """Put into BOOK (the xw.BookAsync of a Lite script) the cell values of the sheets a
    script with INCLUDE/EXCLUDE reads, each read by read_blocks, as Sheet.load(values=True)
    of xlwings would put them after its one read; the other sheets keep the empty values
    of the request, as in a book that Lite's client sent whole. Afterwards `.value` and
    `used_range` read the book as they do without BookAsync."""
    from xlwings.pro._xlremote import _mark_sheet_values_loaded, get_range_api

    wanted = set(sheets_read([s.name for s in book.sheets], include, exclude))
    for sheet in book.sheets:
        api = sheet.impl.api
        if sheet.name in wanted:
            if "used_range_address" in api:
                address = api["used_range_address"]
            else:  # a client that does not send it with the structure
                used = await sheet.get_used_range()
                address = used.address if used is not None else None
            last = last_cell(address)
            # an empty sheet: what the client sends for one (its A1)
            api["values"] = [[""]] if last is None else await read_blocks(sheet, last, budget)
        _mark_sheet_values_loaded(api)
    get_range_api.cache_clear()
