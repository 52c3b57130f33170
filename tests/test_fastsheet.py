"""The fast file writer (tierbook.fastsheet) writes the same workbook as openpyxl cell by cell.

Each workbook is written twice from the same data: the default way (table rows and the
sales copy as sheet XML, fastsheet) and with cell_by_cell=True (every cell through
openpyxl, the writer the fast one replaces). openpyxl then reads both files in full and
they must agree feature by feature: every cell's value, number format, font, fill,
alignment and quote prefix, and each sheet's tables, merged cells, freeze panes,
column widths, conditional formats, validations, charts and print titles. LibreOffice
opens the fast files and recalculates them without an error value.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from helpers import transactions
from libreoffice import convert, structure_problems
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.settings import Settings
from tierbook.workbook import read_customers, write_workbook

ERRORS = ("#REF!", "#NAME?", "#VALUE!", "#DIV/0!", "#N/A", "#NUM!", "#NULL!", "Err:")


def features(path: Path) -> dict:
    """What a user sees of each sheet, as plain data."""
    book = openpyxl.load_workbook(path)
    out = {}
    for ws in book.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                cells[c.coordinate] = (c.value, c.data_type, c.number_format, c.font.b, c.font.i, c.font.sz,
                                       c.font.color.rgb if c.font.color is not None else None,
                                       c.fill.fill_type, c.fill.fgColor.rgb, c.quotePrefix, c.alignment.wrap_text,
                                       c.alignment.horizontal, c.border.bottom.style)
        out[ws.title] = {
            "cells": cells,
            "freeze": ws.freeze_panes,
            "tables": sorted((t.name, t.ref, t.tableStyleInfo.name if t.tableStyleInfo else None,
                              tuple(col.name for col in t.tableColumns)) for t in ws.tables.values()),
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.width},
            "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
            "conditional": sorted((str(cf.sqref), tuple((r.type, tuple(r.formula)) for r in cf.rules))
                                  for cf in ws.conditional_formatting),
            "validations": sorted((str(v.sqref), v.formula1) for v in ws.data_validations.dataValidation),
            "charts": [(type(ch).__name__, ch._charts[0].tagname if hasattr(ch, "_charts") else None,
                        ch.anchor._from.row, ch.anchor._from.col, ch.anchor.to.row, ch.anchor.to.col,
                        tuple(s.val.numRef.f if s.val is not None else s.yVal.numRef.f for s in ch.series))
                       for ch in ws._charts],
            "print_titles": ws.print_title_rows,
            "autofilter": ws.auto_filter.ref,
            "orientation": ws.page_setup.orientation,
        }
    return out


def same_value(a: object, b: object) -> bool:
    """Equal cell values: numbers as Excel keeps them (doubles: 1e15 written as 1e+15 or as
    1000000000000000 is one value; 17 significant digits or openpyxl's 16), else exactly."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-15, abs_tol=0.0)
    return a == b and type(a) is type(b)


def differences(fast: Path, slow: Path, copy: str | None = None) -> list:
    """Where the two files differ. COPY: the title of the sales copy, whose text cells keep
    the user's number format (such as @) in the fast file; the cell-by-cell copy drops it."""
    a, b = features(fast), features(slow)
    assert list(a) == list(b)
    found = []
    for title in a:
        for key in a[title]:
            if key != "cells" and a[title][key] != b[title][key]:
                found.append((title, key, a[title][key], b[title][key]))
        ca, cb = a[title]["cells"], b[title]["cells"]
        for ref in sorted(set(ca) | set(cb)):
            va, vb = ca.get(ref), cb.get(ref)
            if va is None or vb is None:
                if (va or vb)[0] is not None:  # an empty styled cell only one file has is not visible data
                    found.append((title, ref, va, vb))
                continue
            if title == copy and isinstance(va[0], str) and vb[2] == "General":
                va = va[:2] + ("General",) + va[3:]
            if not same_value(va[0], vb[0]) or va[2:] != vb[2:] or (va[1] != vb[1] and {va[1], vb[1]} != {"n"}):
                found.append((title, ref, va, vb))
    return found


def write_both(folder: Path, result, **kwargs) -> tuple[Path, Path]:
    fast = write_workbook(result, folder / "fast.xlsx", **kwargs)
    slow = write_workbook(result, folder / "slow.xlsx", cell_by_cell=True, **kwargs)
    return fast, slow


@pytest.fixture(scope="module")
def demo_books(tmp_path_factory):
    tx, issues = read_transactions(demo_path())
    result = classify(tx, Settings(), issues)
    folder = tmp_path_factory.mktemp("demo")
    return write_both(folder, result, tx=tx, source=(demo_path(), None))


def dirty_export(path: Path) -> Path:
    """An export as Excel saves it (shared strings, styles): texts that start like a
    formula, XML's special characters, spaces, dates with times, big numbers, empty
    cells, a formula with its result, a text number format, an error value."""
    book = openpyxl.Workbook()  # not write-only: openpyxl then writes a shared-strings part, as Excel does
    ws = book.active
    ws.title = "Sales & <returns>"
    ws.append(["Report of sales", None, None, None, None, None])
    ws.append([])
    ws.append(["customer", "date", "amount", "manager", "note", "code"])
    rows = [
        ("=HYPERLINK(\"http://x\")", datetime(2024, 1, 5, 14, 30), 100.5, "@boss", "=1+1", "007"),
        ("-minus", datetime(2024, 1, 6), 12345678901234.56, "Ann & Bob <ltd>", "  spaced  ", "+44"),
        ("plain", datetime(2024, 2, 6), 1e15, "Ann", None, None),
        ("+plus", datetime(2024, 3, 1), -0.1, "", "tab\tinside", "x"),
        ("plain", datetime(2024, 3, 9), 7, "Ann", "line\nbreak", "@"),
    ]
    for row in rows:
        ws.append(list(row))
    for r in range(4, 4 + len(rows)):
        ws.cell(row=r, column=2).number_format = "dd.mm.yyyy hh:mm"
        ws.cell(row=r, column=3).number_format = "#,##0.00"
        ws.cell(row=r, column=6).number_format = "@"
    ws.append(["formula row", datetime(2024, 3, 10), "=C4*2", "Ann", "#N/A", None])
    book.save(path)
    return path


@pytest.fixture(scope="module")
def dirty_books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dirty")
    src = dirty_export(folder / "export.xlsx")
    tx, issues = read_transactions(src)
    result = classify(tx, Settings(), issues)
    return write_both(folder, result, tx=tx, source=(src, None)), src


def test_the_fast_demo_workbook_equals_the_cell_by_cell_one(demo_books):
    assert differences(*demo_books) == []


def test_the_fast_workbook_of_a_dirty_export_equals_the_cell_by_cell_one(dirty_books):
    (fast, slow), _ = dirty_books
    assert differences(fast, slow, copy="Sales & <returns>") == []


def test_the_dirty_sales_copy_keeps_every_value_and_never_a_formula(dirty_books):
    (fast, _), src = dirty_books
    book = openpyxl.load_workbook(fast)
    copy = book["Sales & <returns>"]
    source = openpyxl.load_workbook(src, data_only=True).active
    for row in source.iter_rows():
        for cell in row:
            got = copy[cell.coordinate]
            assert got.value == cell.value, (cell.coordinate, got.value, cell.value)
            if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
                assert got.data_type == "s" and got.quotePrefix, cell.coordinate
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f" or ws.title == "Summary", (ws.title, cell.coordinate)
    assert copy["G1"].value == "Segment" and copy["G1"].font.b  # on the first non-empty row, as before
    assert any(copy.cell(row=r, column=7).value for r in range(4, 10))
    assert copy["B4"].number_format == "dd.mm.yyyy hh:mm" and copy["C5"].number_format == "#,##0.00"
    assert copy["F4"].value == "007" and copy["F4"].number_format == "@"  # the user's text format is kept


def test_texts_with_control_characters_and_formula_starts_in_the_tables(tmp_path):
    tx = transactions("customer date amount manager phone",
                      ("=HYPERLINK(\"http://x\")", "2024-01-05", 100, "@boss", "+1 555 0100"),
                      ("bell\x07 & <co>", "2024-01-06", 10, "=1+1", "-5"),
                      ("  spaced ", "2024-02-06", 1e15, "Ann\x01", "123"),
                      ("plain", "2024-02-07", 10, "", None))
    result = classify(tx)
    fast, slow = write_both(tmp_path, result)
    assert differences(fast, slow) == []
    customers = openpyxl.load_workbook(fast)["Customers"]
    names = {customers.cell(row=r, column=1).value: customers.cell(row=r, column=1) for r in range(2, 6)}
    assert set(names) == {"=HYPERLINK(\"http://x\")", "bell & <co>", "  spaced ", "plain"}
    assert names["=HYPERLINK(\"http://x\")"].data_type == "s" and names["=HYPERLINK(\"http://x\")"].quotePrefix
    assert not names["plain"].quotePrefix
    back, _ = read_customers(fast)
    expected = result.customers.copy()
    expected["customer"] = expected["customer"].str.replace("\x07", "")
    expected["manager"] = expected["manager"].str.replace("\x01", "")
    pd.testing.assert_frame_equal(back, expected)


def test_the_fast_files_are_valid_packages_with_their_used_range(demo_books, dirty_books):
    (dirty, _), _ = dirty_books
    for path in (demo_books[0], dirty):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            types = archive.read("[Content_Types].xml")
            assert types.count(b'PartName="/xl/sharedStrings.xml"') == 1
        assert structure_problems(path) == []
        full = openpyxl.load_workbook(path)
        fast = openpyxl.load_workbook(path, read_only=True)
        for ws in full.worksheets:  # the <dimension> the fast writer adds is the used range
            assert (fast[ws.title].max_row, fast[ws.title].max_column) == (ws.max_row, ws.max_column), ws.title


def test_libreoffice_opens_the_fast_files_without_an_error_value(demo_books, dirty_books, tmp_path):
    (dirty, _), _ = dirty_books
    written = [tmp_path / "demo.xlsx", tmp_path / "dirty.xlsx"]  # LibreOffice names its files by their stems
    for path, made in zip(written, (demo_books[0], dirty)):
        shutil.copyfile(made, path)
    out = convert(written, "xlsx", tmp_path / "lo", tmp_path / "profile")
    for ours, converted in zip(written, out):
        book, mine = openpyxl.load_workbook(converted, data_only=True), openpyxl.load_workbook(ours)
        assert book.sheetnames == mine.sheetnames
        errors = [(ws.title, c.coordinate, c.value) for ws in book.worksheets for row in ws.iter_rows()
                  for c in row if c.data_type == "e" or (isinstance(c.value, str) and c.value.startswith(ERRORS))
                  if mine[ws.title][c.coordinate].data_type != "e"]  # the user's own #N/A stays theirs
        assert errors == []


def test_an_excel_export_with_row_extensions_is_copied_as_valid_xml(tmp_path):
    """Excel writes x14ac:dyDescent on rows (a namespace declared on its own sheet) and
    cm= on dynamic-array cells: the copy leaves them out, or the file would not parse."""
    plain = dirty_export(tmp_path / "plain.xlsx")
    src = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(plain) as original, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as out:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<worksheet ", b'<worksheet xmlns:x14ac="http://schemas.microsoft.com/office/'
                                    b'spreadsheetml/2009/9/ac" ', 1)
                data = data.replace(b'<row r="4"', b'<row r="4" x14ac:dyDescent="0.25"')
                data = data.replace(b'<c r="A5"', b'<c r="A5" cm="1"')
            out.writestr(item, data)
    tx, issues = read_transactions(src)
    result = classify(tx, Settings(), issues)
    fast, slow = write_both(tmp_path, result, tx=tx, source=(src, None))
    with zipfile.ZipFile(fast) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any(b"x14ac" in sheet or b' cm="' in sheet for sheet in sheets)
    assert openpyxl.load_workbook(fast)["Sales & <returns>"]["F4"].number_format == "@"  # copied from the XML
    assert differences(fast, slow, copy="Sales & <returns>") == []
