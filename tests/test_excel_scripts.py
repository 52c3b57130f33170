"""The ribbon scripts of tierbook.excel, run through xlwings' custom_scripts_call on
xw.Book(json=...) built from the demo workbook as the Office.js client sends it. The
returned actions are applied to an openpyxl copy of the workbook, which is compared
with what `tierbook segment` writes into a file."""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import asyncio
import copy
import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest
import xlwings as xw
import xlwings.server
from openpyxl.worksheet.table import Table

import tierbook.excel as excel
from tierbook import jobs, labels
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.settings import Settings
from tierbook.sheets import row_segments
from test_excel import BOOK, book_payload, call

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")


def run_script(name: str, payload: dict) -> list[dict]:
    """A script call as xlwings Server's /xlwings/custom-scripts-call route makes it."""
    book = xw.Book(json=payload)
    book = asyncio.run(xlwings.server.custom_scripts_call(excel, name, typehint_to_value={xw.Book: book}))
    return book.json()["actions"]


def typed(value: object) -> object:
    """A value set through Office.js Range.values, as Excel stores it (like typing)."""
    if value == "" or value is None:
        return None
    if isinstance(value, str):
        if value.startswith("'"):
            return value[1:]
        if ISO_DAY.match(value):
            return dt.datetime.fromisoformat(value)
    return value


def apply_actions(wb: openpyxl.Workbook, actions: list[dict]) -> list[tuple]:
    """Do to an openpyxl workbook what the xlwings Office.js client does with ACTIONS;
    returns the alerts. An action this test does not know fails the test."""
    alerts = []
    for action in actions:
        func = action["func"]
        ws = wb.worksheets[action["sheet_position"]] if action.get("sheet_position") is not None else None
        if func == "addSheet":
            wb.create_sheet(action["args"][1], action["args"][0])
        elif func == "sheetDelete":
            wb.remove(ws)
        elif func in ("setValues", "setFormula"):
            for i, row in enumerate(action["values"]):
                for j, value in enumerate(row):
                    cell = ws.cell(row=action["start_row"] + 1 + i, column=action["start_column"] + 1 + j)
                    cell.value = value if func == "setFormula" else typed(value)
                    if isinstance(cell.value, str) and not cell.value.startswith("=") or func == "setValues" \
                            and isinstance(value, str) and value.startswith("'"):
                        cell.data_type = "s"
        elif func == "addTable":
            address, has_headers, style, name = action["args"]
            assert has_headers is True
            ws.add_table(Table(displayName=name, ref=address.replace("$", "")))
        elif func == "alert":
            alerts.append(tuple(action["args"][:2]))
        elif func in ("setSheetAutofit", "activateSheet"):
            pass
        else:
            raise AssertionError(f"unexpected action {func}")
    return alerts


def grid(ws) -> list[list]:
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


_DEMO_PAYLOAD: dict = {}


def demo_payload() -> dict:
    """The demo workbook's payload (built once, a fresh copy each time)."""
    if not _DEMO_PAYLOAD:
        _DEMO_PAYLOAD.update(book_payload(demo_path()))
    return copy.deepcopy(_DEMO_PAYLOAD)


def with_sheet(payload: dict, title: str, rows: list[list]) -> dict:
    """PAYLOAD with one more sheet holding ROWS from A1, as the client would send it."""
    width = max(len(r) for r in rows)
    values = [list(r) + [""] * (width - len(r)) for r in rows]
    payload["sheets"].append({**payload["sheets"][0], "name": title, "values": values, "tables": [],
                              "used_range_address": f"A1:{chr(64 + width)}{len(rows)}",
                              "used_range_row_count": len(rows), "used_range_column_count": width})
    return payload


@pytest.fixture(scope="module")
def cli_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tierbook.xlsx"
    jobs.segment_file(demo_path(), out)
    return out


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The demo workbook after one click on Segment customers: (actions, the workbook file)."""
    excel.CURRENT.clear()
    actions = run_script("segment_customers", demo_payload())
    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, actions)
    path = tmp_path_factory.mktemp("book") / BOOK
    wb.save(path)
    return actions, path


def test_segment_customers_adds_the_generated_sheets_of_tierbook_segment(first_run, cli_file):
    actions, path = first_run
    # the file holds a copy of the user's sheet; in Excel the user's own sheet is used
    expected_titles = [t for t in openpyxl.load_workbook(cli_file, read_only=True).sheetnames if t != "Sales"]
    added = [a["args"][1] for a in actions if a["func"] == "addSheet"]
    assert added == expected_titles + [excel.SETTINGS_SHEET]
    assert not [a for a in actions if a["func"] == "sheetDelete"]
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Sales"] + expected_titles + [excel.SETTINGS_SHEET]


def test_the_generated_sheets_hold_what_the_command_line_writes(first_run, cli_file):
    _, path = first_run
    book, expected = openpyxl.load_workbook(path), openpyxl.load_workbook(cli_file)
    for ws in expected.worksheets:
        assert grid(book[ws.title]) == grid(ws), ws.title  # "Sales": the user's rows with their Segment column
        if ws.title != "Sales":
            assert sorted(book[ws.title].tables) == sorted(ws.tables), ws.title
    customers = book["Customers"]
    assert customers["A2"].value == "=HYPERLINK Trading Co" and customers["A2"].data_type == "s"


def test_the_users_rows_get_a_segment_column_and_nothing_else_changes(first_run):
    _, path = first_run
    before, after = openpyxl.load_workbook(demo_path())["Sales"], openpyxl.load_workbook(path)["Sales"]
    width = before.max_column
    assert [[c.value for c in row[:width]] for row in after.iter_rows()] == \
        [[c.value for c in row] for row in before.iter_rows()]
    tx, issues = read_transactions(demo_path())
    segments = row_segments(classify(tx, Settings(), issues), tx, "en")
    column = [after.cell(row=r, column=width + 1).value for r in range(1, after.max_row + 1)]
    assert column[0] == labels.header("segment", "en")
    assert column[1:] == [segments.get(r) or None for r in range(2, after.max_row + 1)]
    assert after.max_column == width + 1


def test_a_rerun_replaces_the_generated_sheets_and_never_duplicates_them(first_run):
    actions, path = first_run
    again = run_script("segment_customers", book_payload(path))
    first_added = [a["args"][1] for a in actions if a["func"] == "addSheet" and a["args"][1] != excel.SETTINGS_SHEET]
    deleted_positions = [a["sheet_position"] for a in again if a["func"] == "sheetDelete"]
    assert len(deleted_positions) == len(first_added)
    wb, first = openpyxl.load_workbook(path), openpyxl.load_workbook(path)
    apply_actions(wb, again)
    assert wb.sheetnames == first.sheetnames  # same sheets, same order
    for title in first.sheetnames:
        assert grid(wb[title]) == grid(first[title]), title  # the same content; Segment column reused


def test_after_a_run_the_functions_use_the_workbooks_segmentation(first_run):
    excel.CURRENT.clear()
    run_script("segment_customers", demo_payload())
    assert call("segment", [["Redwood Supplies Inc"], ["nobody"]], caller=f"[{BOOK}]Sales!N2") == \
        [["VIP"], ["unknown customer"]]
    assert call("segment", "Redwood Supplies Inc", caller="[Other.xlsx]Sheet1!A1") == [[excel.NO_SEGMENTATION]]
    units = call("segment", "Redwood Supplies Inc", None, "criterion=units", caller=f"[{BOOK}]Sales!N2")
    assert units == [["VIP"]]


def payload_with_settings(**settings: object) -> dict:
    rows = [["setting", "value", "meaning"]] + [[k, v, ""] for k, v in settings.items()]
    return with_sheet(demo_payload(), excel.SETTINGS_SHEET, rows)


def test_the_settings_sheet_is_used_and_travels_with_the_workbook(tmp_path):
    actions = run_script("segment_customers", payload_with_settings(criterion="units", window=3))
    wb = openpyxl.load_workbook(demo_path())
    wb.create_sheet(excel.SETTINGS_SHEET)
    apply_actions(wb, actions)
    tx, issues = read_transactions(demo_path())
    expected = classify(tx, Settings(criterion="units", window=3), issues).customers
    tiers = [row[1] for row in wb["Customers"].iter_rows(min_row=2, values_only=True)]
    assert tiers == [t or None for t in expected["tier"]]
    settings = {row[0]: row[1] for row in wb[excel.SETTINGS_SHEET].iter_rows(min_row=2, values_only=True)}
    assert settings["criterion"] == "units" and settings["window"] == 3
    assert "Summary" in settings["generated"]


def test_a_users_sheet_with_a_generated_title_stops_the_run_with_a_message(tmp_path):
    with pytest.raises(xw.XlwingsError) as error:
        run_script("segment_customers", with_sheet(demo_payload(), "Summary", [["mine"]]))
    assert str(error.value) == ('the workbook already has a sheet "Summary" that tierbook did not write: rename it, '
                                "then run Segment customers again")


def test_a_sheet_without_transactions_stops_the_run_with_the_readers_message(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    wb.active.append(["name", "when"])
    wb.active.append(["a", 1])
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(xw.XlwingsError) as error:
        run_script("segment_customers", book_payload(tmp_path / "x.xlsx"))
    assert str(error.value) == ('tierbook: Sheet "Data" has no column for customer, date, amount (headers found: '
                                '"name", "when")')


def test_segment_workbooks_writes_the_files_of_tierbook_split(tmp_path, cli_file, monkeypatch):
    from tierbook.sheets import segment_members
    from tierbook.workbook import read_customers

    monkeypatch.setenv("TIERBOOK_OUTPUT_ROOT", str(tmp_path))
    folder = tmp_path / "out"
    actions = run_script("segment_workbooks", payload_with_settings(folder=str(folder)))
    customers, _ = read_customers(cli_file)
    segments = sorted(f"{labels.sheet_title('segment:' + s, 'en')}.xlsx" for s in labels.SEGMENTS
                      if segment_members(customers, s).any())
    managers = sorted(f"{m or labels.word('no_manager', 'en')}.xlsx" for m in customers["manager"].unique())
    assert sorted(p.name for p in (folder / "segment").glob("*.xlsx")) == segments
    assert sorted(p.name for p in (folder / "manager").glob("*.xlsx")) == managers
    alerts = apply_actions(openpyxl.Workbook(), [a for a in actions if a["func"] == "alert"])
    assert alerts == [(f"tierbook wrote {len(segments) + len(managers)} workbooks into {folder}", "tierbook")]


def test_settings_creates_the_settings_sheet_with_the_defaults():
    actions = run_script("edit_settings", demo_payload())
    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, actions)
    rows = list(wb[excel.SETTINGS_SHEET].iter_rows(values_only=True))
    assert rows[0] == ("setting", "value", "meaning")
    assert [(r[0], r[1]) for r in rows[1:6]] == [("criterion", "revenue"), ("share", 0.2), ("good_share", 0.2),
                                                 ("window", 6), ("month", None)]


def test_the_desktop_ribbon_entry_runs_the_clicked_button_on_the_calling_book():
    book = xw.Book(json=demo_payload())
    book.set_mock_caller()
    try:
        excel.ribbon("tbSettings")
        assert [a["func"] for a in book.json()["actions"]][:2] == ["addSheet", "setValues"]
        excel.ribbon("tbSegment")
        added = [a["args"][1] for a in book.json()["actions"] if a["func"] == "addSheet"]
        assert added[0] == excel.SETTINGS_SHEET and "Customers" in added and "Summary" in added
        with pytest.raises(xw.XlwingsError, match="unknown tierbook button 'tbNope'"):
            excel.ribbon("tbNope")
    finally:
        del xw.Book._mock_caller
