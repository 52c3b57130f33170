"""Issue 13: a ribbon re-run keeps what a manager typed on the call lists of the open
workbook (Done / Outcome / Note), by customer, as a re-run of `tierbook segment` into
the same file does. Run through xlwings' custom_scripts_call on the book the Office.js
client sends; the actions are applied to an openpyxl model of the book, in which the
manager's words are typed."""

from __future__ import annotations

import test_excel_scripts  # noqa: F401 - first: sets XLWINGS_ON_SERVER before xlwings is imported

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils.cell import range_boundaries

import tierbook.excel as excel
from test_excel_scripts import apply_actions, book_payload, demo_payload, dropdowns, excluded, grid, run_script
from tierbook import jobs, labels
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.settings import Settings
from tierbook.sheets import segment_members

LISTS = tuple(f"segment:{s}" for s in labels.SEGMENTS)


def lists_of(customers: pd.DataFrame) -> dict[str, set[str]]:
    """Customer → the call lists (sheet keys) the customer is on."""
    out: dict[str, set[str]] = {}
    for key in LISTS:
        for who in customers.loc[segment_members(customers, key.split(":", 1)[1]), "customer"]:
            out.setdefault(who, set()).add(key)
    return out


def rows_of(ws) -> tuple[list[str], list[list], int, int]:
    """The call list's table: header, rows, its first column and header row."""
    from openpyxl.utils.cell import range_boundaries

    (table,) = ws.tables.values()
    c0, r0, c1, r1 = range_boundaries(table.ref)
    rows = [[ws.cell(row=r, column=c).value for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]
    return rows[0], rows[1:], c0, r0


def type_work(wb: openpyxl.Workbook, work: dict[tuple[str, str], tuple]) -> None:
    """Type (Done, Outcome, Note) into the call list's row of each (list key, customer)."""
    for (key, customer), values in work.items():
        ws = wb[labels.sheet_title(key, "en")]
        header, rows, c0, r0 = rows_of(ws)
        i = [r[header.index("Customer")] for r in rows].index(customer)
        for name, value in zip(("Done", "Outcome", "Note"), values):
            ws.cell(row=r0 + 1 + i, column=c0 + header.index(name)).value = value


def work_on(wb: openpyxl.Workbook) -> dict[tuple[str, str], tuple]:
    """(list key, customer) → (Done, Outcome, Note) of every call-list row with one filled in."""
    found = {}
    for key in LISTS:
        title = labels.sheet_title(key, "en")
        if title not in wb.sheetnames:
            continue
        header, rows, _, _ = rows_of(wb[title])
        for row in rows:
            values = tuple(row[header.index(k)] for k in ("Done", "Outcome", "Note"))
            if any(v is not None for v in values):
                found[(key, row[header.index("Customer")])] = values
    return found


def work_on_with(wb: openpyxl.Workbook, column: str) -> dict[tuple[str, str], object]:
    """(list key, customer) → the COLUMN cell of every call-list row."""
    found = {}
    for key in LISTS:
        title = labels.sheet_title(key, "en")
        if title in wb.sheetnames:
            header, rows, _, _ = rows_of(wb[title])
            found.update({(key, r[header.index("Customer")]): r[header.index(column)] for r in rows})
    return found


def kept_notes_of(wb: openpyxl.Workbook) -> dict[str, tuple]:
    """Customer → (Call list, Done, Outcome, Note) of the Kept notes sheet ({} without one)."""
    title = labels.sheet_title("kept_notes", "en")
    if title not in wb.sheetnames:
        return {}
    header, rows, _, _ = rows_of(wb[title])
    return {r[header.index("Customer")]: tuple(r[header.index(k)] for k in ("Call list", "Done", "Outcome", "Note"))
            for r in rows}


def ribbon_run(path: Path, out: Path) -> openpyxl.Workbook:
    """Segment customers on the book PATH as the client sends it (the sheets the script
    does not read left out); the actions applied to PATH's model, saved as OUT."""
    actions = run_script("segment_customers", book_payload(path, exclude=excluded("segment_customers")))
    wb = openpyxl.load_workbook(path)
    apply_actions(wb, actions)
    wb.save(out)  # stored as a file stores values
    return openpyxl.load_workbook(out)


def set_month(wb: openpyxl.Workbook, month: str) -> None:
    ws = wb[excel.SETTINGS_SHEET]
    (row,) = [r for r in ws.iter_rows(min_row=2) if r[0].value == "month"]
    row[1].value = month


@pytest.fixture(scope="module")
def cases():
    """Customers for the three cases: on VIP now and at an earlier month (STAYS); on VIP
    now, on other lists only at the earlier month (MOVES); on a list now, on none at the
    earlier month (LEAVES)."""
    tx, issues = read_transactions(demo_path())
    now = classify(tx, Settings(), issues)
    earlier_month = (pd.Period(now.analysis_month, "M") - 4).strftime("%Y-%m")
    before = classify(tx, Settings(month=earlier_month), issues)
    lists_now, lists_before = lists_of(now.customers), lists_of(before.customers)
    stays = next(c for c, ls in lists_now.items() if "segment:VIP" in ls and "segment:VIP" in lists_before.get(c, ()))
    moves = next(c for c, ls in lists_now.items() if ls == {"segment:VIP"} and lists_before.get(c)
                 and "segment:VIP" not in lists_before[c])
    leaves = next(c for c, ls in lists_now.items() if len(ls) == 1 and not lists_before.get(c))
    return {"stays": stays, "moves": moves, "leaves": leaves, "month": earlier_month,
            "moved_to": sorted(lists_before[moves]), "left_from": next(iter(lists_now[leaves]))}


def test_a_ribbon_rerun_keeps_the_managers_done_outcome_and_note_by_customer(cases, tmp_path):
    assert "VIP" not in excluded("segment_customers")  # the call lists are in the request
    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, run_script("segment_customers", demo_payload()))
    work = {("segment:VIP", cases["stays"]): ("yes", "call back", "wants the autumn price list"),
            ("segment:VIP", cases["moves"]): ("yes", "reached", "=not a formula, a note"),
            (cases["left_from"], cases["leaves"]): ("no", "not interested", "went to a competitor")}
    type_work(wb, work)
    wb.save(tmp_path / "typed.xlsx")

    again = ribbon_run(tmp_path / "typed.xlsx", tmp_path / "again.xlsx")  # the same data and settings
    assert work_on(again) == work  # the same tasks: Done too
    header, _, _, _ = rows_of(again[labels.sheet_title("segment:VIP", "en")])
    assert "Note" in header

    # next the analysis month moves back: one customer leaves VIP for other lists, one leaves all lists
    set_month(again, cases["month"])
    again.save(tmp_path / "earlier.xlsx")
    moved = ribbon_run(tmp_path / "earlier.xlsx", tmp_path / "moved.xlsx")
    got = work_on(moved)
    assert got[("segment:VIP", cases["stays"])][1:] == ("call back", "wants the autumn price list")
    for key in cases["moved_to"]:  # outcome and note follow the customer; Done is for the old task
        assert got[(key, cases["moves"])] == (None, "reached", "=not a formula, a note"), key
        ws = moved[labels.sheet_title(key, "en")]
        header, rows, c0, r0 = rows_of(ws)
        i = [r[header.index("Customer")] for r in rows].index(cases["moves"])
        assert ws.cell(row=r0 + 1 + i, column=c0 + header.index("Note")).data_type == "s"  # text, never a formula
    assert not [k for k in got if k[1] == cases["leaves"]]  # on no list: not on a list ...
    assert {c for _, c in got} == {cases["stays"], cases["moves"]}  # nobody else got anything
    kept = kept_notes_of(moved)  # ... but on the Kept notes sheet, with the list it was on
    assert kept == {cases["leaves"]: (labels.sheet_title(cases["left_from"], "en"), "no", "not interested",
                                      "went to a competitor")}

    # a run that keeps it (the customer still on no list), then one at the latest month: back on the list
    kept_again = ribbon_run(tmp_path / "moved.xlsx", tmp_path / "kept.xlsx")
    assert kept_notes_of(kept_again) == kept
    set_month(kept_again, "")
    kept_again.save(tmp_path / "latest.xlsx")
    back = ribbon_run(tmp_path / "latest.xlsx", tmp_path / "back.xlsx")
    assert work_on(back)[(cases["left_from"], cases["leaves"])] == ("no", "not interested", "went to a competitor")
    assert labels.sheet_title("kept_notes", "en") not in back.sheetnames  # nobody's notes are off the lists now


def test_the_ribbon_carries_the_worklog_as_the_file_does(cases, tmp_path):
    work = {("segment:VIP", cases["stays"]): ("yes", "ordered", "second order in May"),
            ("segment:VIP", cases["moves"]): ("no", "no answer", "try the mobile"),
            (cases["left_from"], cases["leaves"]): ("yes", "reached", "closing the shop")}
    contacted = dt.datetime(2025, 3, 14)  # a reactivation call, in the Contact log

    def log_a_call(wb):
        ws = wb.create_sheet("Contact log")
        ws.append(["Customer", "Date", "Variant"])
        ws.append([cases["moves"], contacted, "A"])
        ws.append([cases["moves"], dt.datetime(2024, 1, 2), "A"])  # an older call of the same customer

    # the file: segment, type, segment at the earlier month into the same file
    out = tmp_path / "tierbook.xlsx"
    jobs.segment_file(demo_path(), out)
    wb = openpyxl.load_workbook(out)
    type_work(wb, work)
    log_a_call(wb)
    before = {k: v for k, v in work_on_with(wb, "Next contact").items()}
    wb.save(out)
    jobs.segment_file(demo_path(), out, Settings(month=cases["month"]))
    from_file = openpyxl.load_workbook(out)

    # the ribbon: the same in the open book
    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, run_script("segment_customers", demo_payload()))
    type_work(wb, work)
    log_a_call(wb)
    set_month(wb, cases["month"])
    wb.save(tmp_path / "typed.xlsx")
    from_ribbon = ribbon_run(tmp_path / "typed.xlsx", tmp_path / "moved.xlsx")

    assert work_on(from_ribbon) == work_on(from_file)
    assert (cases["moved_to"][0], cases["moves"]) in work_on(from_file)
    # Last contact: the Contact log's latest call; a task marked Done on its day to act, not after the analysis date
    as_of = classify(*read_transactions(demo_path())[:1], Settings(month=cases["month"])).as_of
    done_day = min(before[("segment:VIP", cases["stays"])], pd.Timestamp(as_of).to_pydatetime())
    for book in (from_file, from_ribbon):
        last = work_on_with(book, "Last contact")
        assert last[("segment:VIP", cases["stays"])] == done_day
        for key in cases["moved_to"]:
            assert last[(key, cases["moves"])] == contacted, key
        assert len({v for v in last.values() if v is not None}) == 2  # nobody else was contacted
    for key in (*LISTS, "kept_notes"):
        title = labels.sheet_title(key, "en")
        assert grid(from_ribbon[title]) == grid(from_file[title]), title
    assert kept_notes_of(from_file)[cases["leaves"]][1:] == ("yes", "reached", "closing the shop")
    kept = labels.sheet_title("kept_notes", "en")
    assert dropdowns(from_ribbon[kept]) == dropdowns(from_file[kept]) and len(dropdowns(from_file[kept])) == 2


def test_every_generated_sheet_of_the_open_book_prints_what_it_holds(tmp_path):
    """Of the file's print setup, xlwings' Office.js API can set the print area: every
    sheet tierbook writes gets one over its cells and charts."""
    from openpyxl.utils import get_column_letter

    actions = run_script("segment_customers", demo_payload())
    areas = {a["sheet_position"]: a["args"][0] for a in actions if a["func"] == "setPrintArea"}
    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, actions)
    generated = [ws for ws in wb.worksheets if ws.title not in ("Sales", excel.SETTINGS_SHEET)]
    assert len(areas) == len(generated)
    for ws in generated:
        rows = grid(ws)
        width = max(len(r) - next((i for i, v in enumerate(reversed(r)) if v is not None), len(r)) for r in rows)
        height = max([len(rows)] + [range_boundaries(t.ref)[3] for t in ws.tables.values()])  # an empty table row
        area = ws.print_area.split("!")[-1].replace("$", "")
        c0, r0, c1, r1 = range_boundaries(area)
        assert (c0, r0) == (1, 1) and c1 >= width and r1 >= height, ws.title
        if ws.title != labels.sheet_title("summary", "en"):  # the Summary's charts reach further right
            assert area == f"A1:{get_column_letter(width)}{height}", ws.title


def test_a_column_a_manager_added_to_a_call_list_stops_the_rewrite_in_the_file_and_the_book(tmp_path):
    """A column a manager added beside a call list's table (Excel widens the table) would be
    lost by the rewrite: `tierbook segment` refuses (naming the list and the column; --force
    replaces it) and so does the ribbon, before it changes anything."""
    import xlwings as xw

    from test_cli import run

    def add_column(wb: openpyxl.Workbook) -> None:
        ws = wb[labels.sheet_title("segment:VIP", "en")]
        (table,) = ws.tables.values()
        c0, r0, c1, r1 = range_boundaries(table.ref)
        ws.cell(row=r0, column=c1 + 1).value = "Comment 2"
        ws.cell(row=r0 + 1, column=c1 + 1).value = "met at the fair"

    out = tmp_path / "tierbook.xlsx"
    jobs.segment_file(demo_path(), out)
    wb = openpyxl.load_workbook(out)
    add_column(wb)
    wb.save(out)
    before = out.read_bytes()
    done = run("segment", str(demo_path()), "--out", str(out))
    assert done.returncode != 0 and '("VIP": "Comment 2")' in done.stderr and "--force" in done.stderr, done.stderr
    assert out.read_bytes() == before  # nothing written
    assert run("segment", str(demo_path()), "--out", str(out), "--force").returncode == 0

    wb = openpyxl.load_workbook(demo_path())
    apply_actions(wb, run_script("segment_customers", demo_payload()))
    add_column(wb)
    wb.save(tmp_path / "book.xlsx")
    with pytest.raises(xw.XlwingsError) as error:
        run_script("segment_customers", book_payload(tmp_path / "book.xlsx", exclude=excluded("segment_customers")))
    assert str(error.value) == ('call lists have columns tierbook did not write, which a rewrite would lose '
                                '("VIP": "Comment 2"): move them to another sheet, then click again')

