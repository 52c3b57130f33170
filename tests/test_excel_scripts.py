"""The ribbon scripts of tierbook.excel, run through xlwings' custom_scripts_call on
xw.Book(json=...) built from the demo workbook as the Office.js client sends it. The
returned actions are applied to an openpyxl copy of the workbook, which is compared
with what `tierbook segment` writes into a file."""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import asyncio
import collections
import copy
import datetime as dt
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlwings as xw
import xlwings.server
from openpyxl.formatting.rule import FormulaRule
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.worksheet.table import Table
from openpyxl.worksheet.datavalidation import DataValidation

import tierbook.excel as excel
from tierbook import jobs, labels, lookups
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.settings import Settings
from tierbook.sheets import primary_segment, row_segments
from test_excel import BOOK, book_payload, call, sheet_matrix

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")


def excluded(name: str) -> tuple[str, ...]:
    """The sheets the script NAME declares it does not read (xw.script(exclude=...))."""
    return tuple(getattr(excel, name).__xlscript__.get("exclude") or ())


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
        elif func in FORMATS:
            for cell in cells(ws, action):
                FORMATS[func](cell, *action["args"])
        elif func == "setColumnWidth":
            for c in range(action["start_column"] + 1, action["start_column"] + action["column_count"] + 1):
                ws.column_dimensions[get_column_letter(c)].width = (action["args"][0] - 3.75) / 0.75 / 7
        elif func == "setRowHeight":
            for r in range(action["start_row"] + 1, action["start_row"] + action["row_count"] + 1):
                ws.row_dimensions[r].height = action["args"][0]
        elif func == "rangeMerge":
            ws.merge_cells(start_row=action["start_row"] + 1, start_column=action["start_column"] + 1,
                           end_row=action["start_row"] + action["row_count"],
                           end_column=action["start_column"] + action["column_count"])
        elif func == "addConditionalFormat":
            spec = action["args"][0]
            assert spec["type"] == "Custom" and spec["formula"].startswith("=")
            fill = PatternFill(fill_type="solid", fgColor=spec["fill_color"][1:].upper()) if spec["fill_color"] else None
            font = Font(color=spec["font_color"][1:].upper()) if spec["font_color"] else None
            ws.conditional_formatting.add(area(action), FormulaRule(formula=[spec["formula"][1:]], font=font,
                                                                    fill=fill))
        elif func == "setDataValidationList":
            source, dropdown = action["args"]
            assert source["type"] == "literal" and dropdown is True
            rule = DataValidation(type="list", formula1='"' + ",".join(source["values"]) + '"')
            rule.add(area(action))
            ws.add_data_validation(rule)
        elif func == "freezePaneAtRange":
            ws.freeze_panes = unfrozen_corner(action["args"][0])
        elif func == "setPrintArea":
            ws.print_area = action["args"][0]
        elif func == "setShowGridlines":
            ws.sheet_view.showGridLines = action["args"][0]
        elif func == "addChart":
            name, kind, sheet, source, _, _, width, height, plot_by, anchor, _ = action["args"]
            assert plot_by == "Columns" and sheet == ws.title
            CHARTS.setdefault(id(wb), []).append({"sheet": ws.title, "kind": kind, "source": source.replace("$", ""),
                                                  "x": None, "anchor": anchor.replace("$", ""), "title": name})
        elif func == "namesAdd":
            name, refers_to = action["args"]
            wb.defined_names[name] = DefinedName(name, attr_text=refers_to.lstrip("="))
        elif func == "nameDelete":
            del wb.defined_names[action["args"][2]]
        elif func == "setChartXAxisValues":
            index, sheet, address = action["args"]
            charts = [c for c in CHARTS[id(wb)] if c["sheet"] == sheet]
            charts[index]["x"] = address.replace("$", "")
        else:
            raise AssertionError(f"unexpected action {func}")
    return alerts


#: The charts an action list added, by id of the workbook model (openpyxl cannot hold them unsaved).
CHARTS: dict[int, list[dict]] = {}


def cells(ws, action: dict):
    for r in range(action["start_row"] + 1, action["start_row"] + action["row_count"] + 1):
        for c in range(action["start_column"] + 1, action["start_column"] + action["column_count"] + 1):
            yield ws.cell(row=r, column=c)


def area(action: dict) -> str:
    return (f"{get_column_letter(action['start_column'] + 1)}{action['start_row'] + 1}:"
            f"{get_column_letter(action['start_column'] + action['column_count'])}"
            f"{action['start_row'] + action['row_count']}")


def unfrozen_corner(frozen: str) -> str:
    """Office.js freezeAt's range (the frozen pane) → openpyxl's first unfrozen cell."""
    if re.fullmatch(r"\d+:\d+", frozen):
        return f"A{int(frozen.split(':')[1]) + 1}"
    if re.fullmatch(r"[A-Z]+:[A-Z]+", frozen):
        return f"{get_column_letter(column_index_from_string(frozen.split(':')[1]) + 1)}1"
    c0, r0, c1, r1 = range_boundaries(frozen)
    return f"{get_column_letter(c1 + 1)}{r1 + 1}"


def _font(cell, prop: str, value: object) -> None:
    attr = {"bold": "b", "italic": "i", "size": "sz", "color": "color", "name": "name"}[prop]
    if prop == "color":
        value = value[1:].upper()
    font = copy.copy(cell.font)
    setattr(font, attr, value)
    cell.font = font


FORMATS = {
    "setFontProperty": _font,
    "setNumberFormat": lambda cell, fmt: setattr(cell, "number_format", fmt),
    "setRangeColor": lambda cell, color: setattr(cell, "fill", PatternFill(fill_type="solid",
                                                                           fgColor=color[1:].upper())),
    "setWrapText": lambda cell, wrap: setattr(cell, "alignment", Alignment(wrap_text=wrap,
                                                                           horizontal=cell.alignment.horizontal,
                                                                           vertical=cell.alignment.vertical)),
    "setHorizontalAlignment": lambda cell, js: setattr(cell, "alignment", Alignment(
        wrap_text=cell.alignment.wrap_text, horizontal=JS_ALIGNMENT[js], vertical=cell.alignment.vertical)),
    "setVerticalAlignment": lambda cell, js: setattr(cell, "alignment", Alignment(
        wrap_text=cell.alignment.wrap_text, horizontal=cell.alignment.horizontal, vertical=JS_ALIGNMENT[js])),
}
#: Office.js alignment values (Range.format.horizontalAlignment / verticalAlignment) -> openpyxl's.
JS_ALIGNMENT = {"General": "general", "Left": "left", "Center": "center", "Right": "right", "Top": "top",
                "Bottom": "bottom"}


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
def first_run(tmp_path_factory):
    """The demo workbook after one click on Segment customers: (actions, the workbook file)."""
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
    again = run_script("segment_customers", book_payload(path, exclude=excluded("segment_customers")))
    assert {"Summary", "Customers", "VIP ledger"} <= set(excluded("segment_customers"))
    first_added = [a["args"][1] for a in actions if a["func"] == "addSheet" and a["args"][1] != excel.SETTINGS_SHEET]
    deleted_positions = [a["sheet_position"] for a in again if a["func"] == "sheetDelete"]
    assert len(deleted_positions) == len(first_added)
    wb, first = openpyxl.load_workbook(path), openpyxl.load_workbook(path)
    apply_actions(wb, again)
    wb.save(path.with_name("again.xlsx"))  # stored as a file stores numbers
    wb = openpyxl.load_workbook(path.with_name("again.xlsx"))
    assert wb.sheetnames == first.sheetnames  # same sheets, same order
    for title in first.sheetnames:
        assert grid(wb[title]) == grid(first[title]), title  # the same content; Segment column reused


def test_after_a_run_the_book_and_the_file_carry_the_same_lambda_names(first_run, cli_file):
    actions, path = first_run
    added = {a["args"][0]: a["args"][1] for a in actions if a["func"] == "namesAdd"}
    stored = {n: d.attr_text for n, d in openpyxl.load_workbook(cli_file).defined_names.items()}
    for name in lookups.CUSTOMER_FUNCTIONS:
        assert added[name].startswith("=LAMBDA(customer,") and "_xl" not in added[name], name  # as Excel takes it
        assert stored[name].startswith("_xlfn.LAMBDA(_xlpm.customer,"), name  # as the file stores it
        assert added[name] == lookups.typed_formula(stored[name]), name
    book = openpyxl.load_workbook(path)
    assert {n: "=" + book.defined_names[n].attr_text for n in lookups.CUSTOMER_FUNCTIONS} == \
        {n: added[n] for n in lookups.CUSTOMER_FUNCTIONS}


def test_after_a_run_and_a_restart_the_functions_answer_from_the_books_customers_table(first_run):
    _, path = first_run
    excel.CACHE.clear()  # what a restarted server has: nothing
    tx, issues = read_transactions(demo_path())
    customers = classify(tx, Settings(), issues).customers
    table = sheet_matrix(path, "Customers")  # tbCustomers[#All] of the book the ribbon wrote
    got = call("segment", [[c] for c in customers["customer"]] + [["nobody"]], table, caller=f"[{BOOK}]Sales!N2")
    assert [r[0] for r in got] == primary_segment(customers).tolist() + ["unknown customer"]
    assert excel.CACHE.computed == 0
    assert call("segment", "Redwood Supplies Inc", caller=f"[{BOOK}]Sales!N2") == [[excel.NO_TABLE]]


def test_a_russian_ribbon_run_adds_the_names_of_the_russian_file(tmp_path):
    actions = run_script("segment_customers", payload_with_settings(lang="ru"))
    added = {a["args"][0]: a["args"][1] for a in actions if a["func"] == "namesAdd"}
    jobs.segment_file(demo_path(), tmp_path / "ru.xlsx", lang="ru")
    stored = openpyxl.load_workbook(tmp_path / "ru.xlsx").defined_names
    for name in lookups.CUSTOMER_FUNCTIONS:
        assert added[name] == lookups.typed_formula(stored[name].attr_text), name
    assert "tbCustomers[[Сегмент]]" in added["SEGMENT"] and "tbCustomers[[Клиент]]" in added["SEGMENT"]


def test_a_rerun_replaces_the_names_that_point_at_the_deleted_customers_sheet(first_run):
    _, path = first_run
    again = run_script("segment_customers", book_payload(path, exclude=excluded("segment_customers")))
    order = [(a["func"], a["args"][2] if a["func"] == "nameDelete" else a["args"][0]) for a in again
             if a["func"] in ("nameDelete", "namesAdd")]
    for name in lookups.CUSTOMER_FUNCTIONS:
        assert order.index(("nameDelete", name)) < order.index(("namesAdd", name)), name
    deleted = max(i for i, a in enumerate(again) if a["func"] == "sheetDelete")
    assert all(i > deleted for i, a in enumerate(again) if a["func"] == "namesAdd")  # after the new Customers sheet
    wb = openpyxl.load_workbook(path)
    apply_actions(wb, again)
    assert {n: wb.defined_names[n].attr_text for n in lookups.CUSTOMER_FUNCTIONS} == \
        {n: openpyxl.load_workbook(path).defined_names[n].attr_text for n in lookups.CUSTOMER_FUNCTIONS}


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


# --------------------------------------------------------------------------- the ribbon run equals the file


def file_charts(ws) -> list[tuple]:
    """(type, categories, [series values]) of each chart of a sheet of a file."""
    out = []
    for chart in ws._charts:
        refs = []
        for s in chart.series:
            x, y = s.cat or s.xVal, s.val or s.yVal
            refs.append(((x.numRef or x.strRef).f.split("!")[-1].replace("$", ""),
                         y.numRef.f.split("!")[-1].replace("$", "")))
        kind = {"barChart": "ColumnClustered", "lineChart": "Line", "scatterChart": "XYScatterLinesNoMarkers"}
        out.append((kind[chart.tagname], refs[0][0], [v for _, v in refs]))
    return out


def ribbon_charts(charts: list[dict], title: str) -> list[tuple]:
    """The same for the charts an action list added: the source's first row names the
    series; without x-axis values its first column is the categories."""
    out = []
    for chart in (c for c in charts if c["sheet"] == title):
        c0, r0, c1, r1 = range_boundaries(chart["source"])
        columns = [get_column_letter(c) for c in range(c0, c1 + 1)]
        if chart["x"] is None:
            x, columns = f"{columns[0]}{r0 + 1}:{columns[0]}{r1}", columns[1:]
        else:
            x = chart["x"]
        out.append((chart["kind"], x, [f"{c}{r0 + 1}:{c}{r1}" for c in columns]))
    return out


def rules(ws) -> list[tuple]:
    found = []
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            fill = rule.dxf.fill.fgColor.rgb if rule.dxf and rule.dxf.fill is not None else None
            found.append((str(cf.sqref), tuple(rule.formula), rule.dxf.font.color.rgb[-6:], str(fill)[-6:]))
    return sorted(found)


def looks(ws) -> dict:
    """Number format, bold, font colour, fill and alignment (horizontal, vertical, wrapped)
    of every cell that holds a value."""
    out = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            fill = cell.fill.fgColor.rgb[-6:] if cell.fill is not None and cell.fill.fill_type == "solid" else None
            color = cell.font.color.rgb[-6:] if cell.font.color is not None and isinstance(cell.font.color.rgb, str) \
                else None
            align = cell.alignment
            out[cell.coordinate] = (cell.number_format, bool(cell.font.b), color if color != "000000" else None, fill,
                                    align.horizontal, align.vertical, bool(align.wrap_text))
    return out


def dropdowns(ws) -> list[tuple[str, str]]:
    """The list validations of WS: (cells, choices)."""
    return sorted((str(dv.sqref), dv.formula1) for dv in ws.data_validations.dataValidation)


def assert_same_features(path: Path, charts: list[dict], expected: Path, user_sheets: tuple[str, ...] = ()) -> None:
    """Sheet by sheet, the open book PATH (a ribbon run's actions applied, CHARTS the
    charts they added) has the file EXPECTED's values, formulas, number formats, fonts
    and fills, conditional-format rules, tables, freeze panes, merged cells, column
    widths and charts (type, categories, series ranges). The file's copy of the sales
    sheet is the book's own sheet; USER_SHEETS (the Contact log the user fills in) are
    compared by value only."""
    book, file = openpyxl.load_workbook(path), openpyxl.load_workbook(expected)
    assert sum(len(ws._charts) for ws in file.worksheets) == len(charts)
    for ws in file.worksheets:
        if ws.title == "Sales":
            continue
        got = book[ws.title]
        assert grid(got) == grid(ws), ws.title
        if ws.title in user_sheets:
            continue
        assert looks(got) == looks(ws), ws.title
        assert rules(got) == rules(ws), ws.title
        assert dropdowns(got) == dropdowns(ws), ws.title
        assert {t.name: t.ref for t in got.tables.values()} == {t.name: t.ref for t in ws.tables.values()}, ws.title
        assert got.freeze_panes == ws.freeze_panes, ws.title
        assert sorted(map(str, got.merged_cells.ranges)) == sorted(map(str, ws.merged_cells.ranges)), ws.title
        widths = {k: round(d.width, 1) for k, d in ws.column_dimensions.items() if d.width}
        assert {k: round(got.column_dimensions[k].width, 1) for k in widths} == widths, ws.title
        assert ribbon_charts(charts, ws.title) == file_charts(ws), ws.title
        assert got.sheet_view.showGridLines == ws.sheet_view.showGridLines, ws.title


def test_the_ribbon_run_has_every_feature_of_the_file(first_run, cli_file):
    """Item 2 of issue 11: after Segment customers the open book has every feature of
    the file `tierbook segment` writes, charts drawn from the same series."""
    actions, path = first_run
    model = openpyxl.load_workbook(demo_path())
    apply_actions(model, actions)
    assert len(CHARTS[id(model)]) == 4
    assert_same_features(path, CHARTS[id(model)], cli_file)


def test_every_chart_of_the_file_has_its_series_in_one_range(cli_file):
    """Excel's chart API (xlwings remote addChart) takes one source range: the layout
    keeps each chart's series in adjacent columns, so no chart draws a column between."""
    for ws in openpyxl.load_workbook(cli_file).worksheets:
        for kind, _, series in file_charts(ws):
            columns = [range_boundaries(s)[0] for s in series]
            assert columns == list(range(columns[0], columns[0] + len(columns))), (ws.title, kind, series)


def test_no_ribbon_request_passes_excel_on_the_webs_limit(first_run):
    """Values go in chunks: no single action of the demo run near Excel on the web's 5 MB."""
    import json

    actions, _ = first_run
    assert max(len(json.dumps(a, default=str)) for a in actions) < 5_000_000 / 10


def test_formatting_takes_a_few_actions_per_sheet_whatever_the_rows(first_run):
    """Each action is one Office.js round of Excel's: the looks go by rectangles and the
    VIP ledger's entries and exits by conditional formats, so no sheet needs more than a
    few hundred formatting actions (the ledger alone took 1,100 on the demo and 34,000 at
    50k rows when every highlighted cell was styled)."""
    actions, _ = first_run
    titles = {a["args"][0]: a["args"][1] for a in actions if a["func"] == "addSheet"}
    formatting = collections.Counter(titles.get(a["sheet_position"]) for a in actions
                                     if a["func"] in ("setNumberFormat", "setFontProperty", "setRangeColor"))
    assert formatting["VIP ledger"] < 40, formatting
    assert max(formatting.values()) < 200, formatting


# --------------------------------------------------------------------------- the user's own cells (issue 10)


def segmented(rows: list[list], tmp_path: Path, name: str = "mine.xlsx") -> tuple[list[dict], openpyxl.Workbook]:
    """ROWS as the workbook's first sheet, after one click on Segment customers."""
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    for row in rows:
        wb.active.append(row)
    wb.save(tmp_path / name)
    actions = run_script("segment_customers", book_payload(tmp_path / name))
    wb = openpyxl.load_workbook(tmp_path / name)
    apply_actions(wb, actions)
    return actions, wb


SALES = [["customer", "date", "amount", "Segment"],
         ["Acme", dt.datetime(2024, 1, 5), 100.0, "Retail"],
         ["Bolt", dt.datetime(2024, 2, 5), 50.0, "Wholesale"],
         ["Acme", dt.datetime(2024, 3, 5), 70.0, "Retail"]]


def test_a_users_column_headed_segment_is_never_written(tmp_path):
    _, wb = segmented(SALES, tmp_path)
    data = wb["Data"]
    assert [c.value for c in data["D"]] == ["Segment", "Retail", "Wholesale", "Retail"]  # the user's, unchanged
    assert data["E1"].value == labels.header("segment", "en") and data["E2"].value
    assert wb.defined_names[excel.SEGMENT_NAME].attr_text == "'Data'!$E$1"


def test_a_second_run_rewrites_only_the_marked_column(tmp_path):
    _, wb = segmented(SALES, tmp_path)
    wb.save(tmp_path / "again.xlsx")
    again = run_script("segment_customers", book_payload(tmp_path / "again.xlsx",
                                                          exclude=excluded("segment_customers")))
    apply_actions(wb, again)
    data = wb["Data"]
    assert data.max_column == 5  # no third column: the marked one was written again
    assert [c.value for c in data["D"]] == ["Segment", "Retail", "Wholesale", "Retail"]
    assert excel.SEGMENT_NAME not in [a["args"][0] for a in again if a["func"] == "namesAdd"]  # the mark stays


def test_a_note_in_the_last_column_of_the_grid_keeps_the_segment_column_inside_it(tmp_path):
    rows = [r[:3] for r in SALES]
    rows[0] = rows[0] + [None] * (excel.MAX_COLUMNS - 4) + ["note: checked by Ann"]
    _, wb = segmented(rows, tmp_path)
    data = wb["Data"]
    assert data.cell(row=1, column=4).value == labels.header("segment", "en")
    assert data.cell(row=2, column=4).value
    assert data.cell(row=1, column=excel.MAX_COLUMNS).value == "note: checked by Ann"


# --------------------------------------------------------------------------- plan and results (issue 11.2)


def clicked(script: str, path: Path, target: Path) -> list[dict]:
    """One click on SCRIPT in the book PATH (sent as the client sends it, without the
    sheets the script does not read); the book after it saved as TARGET; its charts."""
    actions = run_script(script, book_payload(path, BOOK, exclude=excluded(script)))
    model = openpyxl.load_workbook(path)
    apply_actions(model, actions)
    model.save(target)
    return CHARTS.get(id(model), [])


@pytest.fixture(scope="module")
def planned_pair(first_run, cli_file, tmp_path_factory):
    """Plan reactivation clicked on the segmented demo book, and `tierbook reactivation
    plan` on the CLI's file with the seed the click drew: (book, its charts, file)."""
    _, path = first_run
    folder = tmp_path_factory.mktemp("plan")
    book = folder / BOOK
    charts = clicked("plan_reactivation", path, book)
    rows = [tuple(r) for r in openpyxl.load_workbook(book)["Reactivation"].iter_rows(values_only=True)]
    plan = jobs._read_plan(rows, "en", {})
    file = folder / "tierbook.xlsx"
    file.write_bytes(cli_file.read_bytes())
    run = jobs.reactivation_plan(file, seed=plan.seed)
    pd.testing.assert_frame_equal(run.plan.assignments, plan.assignments, check_dtype=False)
    return book, charts, file, plan


def test_plan_reactivation_has_every_feature_of_the_file(planned_pair):
    book, charts, file, plan = planned_pair
    assert len(plan.assignments) > 0
    assert "Reactivation" in openpyxl.load_workbook(book).sheetnames
    assert_same_features(book, charts, file, user_sheets=("Contact log",))


def log_rows(plan) -> list[list]:
    """A manager's Contact log: ten contacts of the plan, and one row with problems."""
    day = dt.datetime(2026, 3, 2)
    rows = [[c, day, v, "email", "called"] for c, v in plan.assignments[["customer", "variant"]].head(10).values]
    return rows + [["nobody", "next week", "Z", "fax", ""]]


def with_log(path: Path, rows: list[list], target: Path) -> Path:
    wb = openpyxl.load_workbook(path)
    for row in rows:
        wb["Contact log"].append(row)
    wb.save(target)
    return target


@pytest.fixture(scope="module")
def measured_pair(planned_pair, tmp_path_factory):
    """Reactivation results clicked, and `tierbook reactivation results`, on the same log."""
    book, _, file, plan = planned_pair
    folder = tmp_path_factory.mktemp("results")
    logged = with_log(book, log_rows(plan), folder / "logged.xlsx")
    charts = clicked("reactivation_results", logged, folder / BOOK)
    measured = with_log(file, log_rows(plan), folder / "tierbook.xlsx")
    run = jobs.reactivation_results(measured)
    return folder / BOOK, charts, measured, run


def test_reactivation_results_has_every_feature_of_the_file(measured_pair):
    book, charts, file, run = measured_pair
    assert int(run.results["contacted"].sum()) == 10 and len(run.issues) > 0
    sheets = openpyxl.load_workbook(book).sheetnames
    assert {"Reactivation", "Reactivation results", "Contact log", "Input issues"} <= set(sheets)
    assert_same_features(book, charts, file, user_sheets=("Contact log",))


@pytest.mark.slow
def test_the_ribbon_run_has_every_feature_of_the_file_at_20k_rows(tmp_path):
    """The same comparison on a 20,000-row synthetic export (benchmarks/bench.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", Path(__file__).parents[1] / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sales = tmp_path / "sales.xlsx"
    bench.write_xlsx(bench.synthetic(20_000), sales)
    cli = tmp_path / "tierbook.xlsx"
    jobs.segment_file(sales, cli)
    actions = run_script("segment_customers", book_payload(sales))
    model = openpyxl.load_workbook(sales)
    apply_actions(model, actions)
    model.save(tmp_path / "book.xlsx")
    assert_same_features(tmp_path / "book.xlsx", CHARTS[id(model)], cli)
    assert max(len(json.dumps(a, default=str)) for a in actions) < 5_000_000


# --------------------------------------------------------------------------- a second click (issue 11.5)


def touched(names: list[str], actions: list[dict]) -> tuple[set[str], set[str]]:
    """(sheets deleted, sheets an action wrote into) by ACTIONS on a book with sheets NAMES."""
    names, deleted, written = list(names), set(), set()
    for action in actions:
        position = action.get("sheet_position")
        if action["func"] == "addSheet":
            names.insert(action["args"][0], action["args"][1])
        elif action["func"] == "sheetDelete":
            deleted.add(names.pop(position))
        elif position is not None and action["func"] != "activateSheet":
            written.add(names[position])
    return deleted, written


def test_a_second_click_replaces_only_tierbooks_sheets_and_keeps_the_users(first_run, tmp_path):
    """Between clicks the user adds a sheet of their own and a column beside the data:
    every later click (Segment customers, Plan reactivation, Segment customers again)
    deletes only sheets tierbook wrote, writes no cell of the user's sheet, and keeps the
    user's column, sheet and sheet order."""
    _, path = first_run
    wb = openpyxl.load_workbook(path)
    budget = wb.create_sheet("Budget", 1)  # between the data and the generated sheets
    budget["A1"], budget["B2"] = "my plan", 42
    sales = wb["Sales"]
    note_col = sales.max_column + 1
    sales.cell(row=1, column=note_col, value="my note")
    sales.cell(row=2, column=note_col, value="call first")
    wb.save(tmp_path / "mine.xlsx")
    before = openpyxl.load_workbook(tmp_path / "mine.xlsx")
    generated = set(before.sheetnames) - {"Sales", "Budget", excel.SETTINGS_SHEET}

    for script in ("segment_customers", "plan_reactivation", "segment_customers"):
        wb = openpyxl.load_workbook(tmp_path / "mine.xlsx")
        actions = run_script(script, book_payload(tmp_path / "mine.xlsx", BOOK, exclude=excluded(script)))
        deleted, written = touched(wb.sheetnames, actions)
        assert deleted <= generated and "Budget" not in written, script
        assert "Contact log" not in deleted, script  # the user fills it in
        apply_actions(wb, actions)
        wb.save(tmp_path / "mine.xlsx")
        generated |= {"Reactivation"}

    after = openpyxl.load_workbook(tmp_path / "mine.xlsx")
    assert grid(after["Budget"]) == grid(before["Budget"]) and after.sheetnames.index("Budget") == 1
    width = before["Sales"].max_column
    assert [[c.value for c in row] for row in after["Sales"].iter_rows()] == \
        [[c.value for c in row] for row in before["Sales"].iter_rows()]  # the Segment column and the note kept
    assert after["Sales"].max_column == width
    assert {"Reactivation", "Contact log", "Summary"} <= set(after.sheetnames)
    assert after.sheetnames.count("Summary") == 1 and after.sheetnames[-2:] == [excel.SETTINGS_SHEET, "Contact log"]


def test_a_script_shows_a_users_problem_as_it_is_and_a_bug_as_one_line_never_a_traceback():
    """excel._run: a TierbookError (here a setting) reaches the user as its message; any
    other exception is named as a bug in one line (the traceback goes to the log)."""
    from tierbook.errors import SettingsError

    book = xw.Book(json=demo_payload())

    def bad_setting(book):
        raise SettingsError("lang must be one of en, ru, got 'de'")

    with pytest.raises(excel.TierbookExcelError, match=r"^tierbook: lang must be one of en, ru, got 'de'$"):
        excel._run(bad_setting, book)
    with pytest.raises(excel.TierbookExcelError,
                       match=r"^tierbook: internal error \(ZeroDivisionError: division by zero\); this is a bug"):
        excel._run(lambda book: 1 / 0, book)
