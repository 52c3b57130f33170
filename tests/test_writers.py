"""The open-workbook writer's table blocks (writers.table_values): a table's data rows go
to Excel as 2-D blocks made a column at a time, past xlwings' conversion. They must be
exactly what xlwings' own conversion would send for the values the cell-by-cell layout
writes (workbook.python_values, text quote-escaped as typed)."""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import numpy as np
import pandas as pd
from xlwings.pro._xlremote import Engine

from tierbook.sheets import Formula
from tierbook.workbook import python_values, safe_text
from tierbook.writers import TableRows, table_values


def every_kind() -> pd.DataFrame:
    return pd.DataFrame({
        "customer": ["C1", "=HYPERLINK(\"x\")", "", None, "-5", "@me"],
        "count": [1, 2, 3, 4, 5, 6],
        "maybe": pd.array([1, None, 3, None, 5, 6], dtype="Int64"),
        "amount": [1.5, np.nan, np.inf, -0.0, 2.25, 1e16],
        "day": pd.to_datetime(["2024-11-01", None, "2024-11-02 13:45:10.7", "1999-12-31", "2024-02-29", "2024-01-01"],
                              format="mixed"),
        "flag": [True, False, True, True, False, False],
        "mixed": [Formula("=1+1"), 3, pd.Timestamp("2024-05-06"), "+x", np.int64(7), None],
        "text": pd.array(["a", None, "b", "c", "=d", "e"], dtype="string"),
    })


def by_xlwings(frame: pd.DataFrame, keys: list[str]) -> list[list]:
    """The block as xlwings' conversion sends it: python_values, text escaped, then
    prepare_xl_data_element for every cell; formulas left out (written apart)."""
    columns = []
    for key in keys:
        values = [None if isinstance(v, Formula) else safe_text(v) if isinstance(v, str) else v
                  for v in python_values(frame[key])]
        columns.append([Engine.prepare_xl_data_element(v, {}) for v in values])
    return [list(r) for r in zip(*columns)]


def test_a_table_block_is_what_xlwings_would_send_cell_by_cell():
    frame = every_kind()
    keys = list(frame.columns)
    rows = TableRows(frame, tuple((key, 3 + i, None) for i, key in enumerate(keys)))
    block, formulas = table_values(rows, first=10, remote=True)
    assert block == by_xlwings(frame, keys)
    assert [[type(v) for v in r] for r in block] == [[type(v) for v in r] for r in by_xlwings(frame, keys)]
    assert formulas == [(10, 3 + keys.index("mixed"), "=1+1")]
    assert block[1][0] == "'=HYPERLINK(\"x\")" and block[4][0] == "'-5"  # data text is never a formula


def test_columns_apart_leave_empty_cells_between_and_desktop_gets_python_values():
    frame = every_kind()
    rows = TableRows(frame, (("customer", 2, None), ("day", 5, None)))
    block, _ = table_values(rows, first=1, remote=False)
    assert [len(r) for r in block] == [4] * len(frame)
    assert [r[1] for r in block] == [None] * len(frame) and [r[2] for r in block] == [None] * len(frame)
    assert [r[3] for r in block] == python_values(frame["day"])
    assert [r[0] for r in block] == [None if v is None else safe_text(v) for v in python_values(frame["customer"])]


def test_a_text_excel_would_read_as_a_value_or_formula_is_escaped_and_only_those():
    """Excel takes a value written to a cell as typed (Office.js Range.values, COM
    Range.Value): "11.2024" would become the number 11.2024, "2026-10" a date. The strict
    Excel stand-in found the Russian Summary's month labels turned into numbers."""
    for text in ("11.2024", "2026-10", "$5", "(12)", "#N/A", "TRUE", "false", " 12", "1,5", "=A1", "+7", "-x", "@me",
                 ".5", "€3", "19.11.2013"):
        assert safe_text(text) == "'" + text, text
    for text in ("VIP", "Acme 2", "Клиент", "one-time", "", "x=1", "N/A", "truely"):
        assert safe_text(text) == text, text
