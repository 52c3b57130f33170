"""=SEGMENT() and the other tierbook.excel functions, called the way Excel calls them:
through xlwings' own custom_functions_call with Office.js-shaped payloads (every
argument a 2-D matrix, dates as serial numbers), on the bundled demo transactions.

Also home of the payload builders the other test_excel_* modules share.
"""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import asyncio
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlwings as xw
import xlwings.server
from openpyxl.utils import get_column_letter
from xlwings.server import Caller, caller_from_address

import tierbook.excel as excel
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import CUSTOMER_COLUMNS, classify
from tierbook.settings import Settings

BOOK = "demo_sales.xlsx"
CALLER = f"[{BOOK}]Sales!N2"
EPOCH = dt.datetime(1899, 12, 30)


# --------------------------------------------------------------------------- payload builders


def serial(value: object) -> object:
    """A cell as a custom function receives it: dates are serial numbers."""
    if isinstance(value, dt.datetime):
        return (value - EPOCH) / dt.timedelta(days=1)
    return "" if value is None else value


def sheet_matrix(path: Path, sheet: str | None = None) -> list[list]:
    """The used range of a sheet as Office.js passes a range argument."""
    ws = openpyxl.load_workbook(path)[sheet] if sheet else openpyxl.load_workbook(path).worksheets[0]
    return [[serial(v) for v in row] for row in ws.iter_rows(values_only=True)]


def book_payload(path: Path, name: str | None = None, exclude: tuple[str, ...] = ()) -> dict:
    """The JSON the xlwings Office.js client sends for a script (see getBookData in
    xlwings Server's custom-scripts/index.js): every sheet's used range from A1, cells
    with a date format as ISO text, defined names."""
    wb = openpyxl.load_workbook(path)
    sheets = []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True)) or [()]
        width = max((len(r) for r in rows), default=0)
        values = [[(v.isoformat(timespec="milliseconds") + "Z") if isinstance(v, dt.datetime)
                   else ("" if v is None else v) for v in row] + [""] * (width - len(row)) for row in rows]
        if ws.title in exclude:  # the client sends an excluded sheet's name, not its cells
            values, width = [[]], 0
        empty = width == 0 or all(v == "" for row in values for v in row)
        address = None if empty else f"A1:{get_column_letter(width)}{len(rows)}"
        tables = [{"name": t.name, "range_address": t.ref, "columns": [], "show_headers": True,
                   "show_totals": False, "header_row_range_address": None, "data_body_range_address": None,
                   "total_row_range_address": None, "row_count": 0, "column_count": 0, "table_style": "",
                   "show_autofilter": True, "show_table_style_first_column": False,
                   "show_table_style_last_column": False, "show_table_style_row_stripes": True,
                   "show_table_style_column_stripes": False} for t in ws.tables.values() if ws.title not in exclude]
        sheets.append({"name": ws.title, "visibility": "Visible", "show_gridlines": True, "print_area": None,
                       "notes": [], "notes_supported": True, "used_range_address": address,
                       "used_range_row_count": 0 if empty else len(rows),
                       "used_range_column_count": 0 if empty else width,
                       "values": values if not empty else [[""]], "pictures": [], "shapes": [], "charts": [],
                       "tables": tables, "pivot_tables": []})
    return {"client": "Office.js", "version": xw.__version__,
            "book": {"name": name or Path(path).name, "active_sheet_index": 0, "selection": "A1",
                     "calculation": "Automatic"},
            "sheets": sheets, "names": [_name(wb, n, d) for n, d in wb.defined_names.items()]}


def _name(wb: openpyxl.Workbook, name: str, defined) -> dict:
    """A book-scoped defined name as the client sends it."""
    sheet, _, address = defined.attr_text.rpartition("!")
    title = sheet.strip("'").replace("''", "'")
    index = wb.sheetnames.index(title) if title in wb.sheetnames else None
    return {"name": name, "refers_to": "=" + defined.attr_text, "sheet_index": index,
            "address": address.replace("$", ""), "book_scope": True, "scope_sheet_index": None,
            "scope_sheet_name": None}


def call(func_name: str, *args: object, caller: str | None = CALLER) -> object:
    """Call a custom function through xlwings.server.custom_functions_call as xlwings
    Server's /xlwings/custom-functions-call route does (the Caller injected from the
    address)."""
    matrices = [None if a is None else a if isinstance(a, list) else [[a]] for a in args]
    data = {"func_name": func_name, "args": matrices, "caller_address": caller, "culture_info_name": "en-US",
            "date_format": "yyyy-mm-dd", "runtime": "1.4", "version": xw.__version__, "client": "Office.js"}
    return asyncio.run(xlwings.server.custom_functions_call(
        data, excel, typehint_to_value={Caller: caller_from_address(caller)}))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tx_matrix() -> list[list]:
    return sheet_matrix(demo_path(), "Sales")


@pytest.fixture(scope="module")
def engine():
    """What the engine says about the demo file, read by the file reader."""
    tx, issues = read_transactions(demo_path())
    return classify(tx, Settings(), issues)


@pytest.fixture(autouse=True)
def fresh_state():
    excel.CACHE.clear()
    yield
    excel.CACHE.clear()


# --------------------------------------------------------------------------- the functions


def column(rows: list[list]) -> list:
    return [row[0] for row in rows]


def customer_cells(engine) -> list[list]:
    return [[name] for name in engine.customers["customer"]]


def test_segment_spills_one_result_per_customer_and_matches_the_engine(tx_matrix, engine):
    from tierbook.sheets import primary_segment

    got = call("segment", customer_cells(engine), tx_matrix)
    assert column(got) == primary_segment(engine.customers).tolist()
    assert {"VIP", "Good", "Regular", "lost VIP"} <= set(column(got))


@pytest.mark.parametrize("func, field", [("lifecycle", "lifecycle"), ("quadrant", "quadrant"),
                                         ("size_tier", "size_tier"), ("vip_months", "vip_months")])
def test_customer_functions_match_the_engine(func, field, tx_matrix, engine):
    got = call(func, customer_cells(engine), tx_matrix)
    assert column(got) == engine.customers[field].tolist()


def test_next_contact_is_a_date_cell_matching_the_contact_plan(tx_matrix, engine):
    from tierbook.sheets import next_contacts

    expected = next_contacts(engine.customers, engine.as_of)["date"]
    got = column(call("next_contact", customer_cells(engine), tx_matrix))
    for value, date in zip(got, expected):
        if pd.isna(date):
            assert value == ""
        else:  # Office.js runtime 1.4: a number formatted as a date
            assert value == {"type": "FormattedNumber", "basicValue": (date - EPOCH).days,
                             "numberFormat": "yyyy-mm-dd"}
    assert any(v != "" for v in got) and any(v == "" for v in got)


def test_one_cell_gives_one_value_and_ids_are_matched_as_the_reader_cleans_them(tx_matrix):
    assert call("segment", "Redwood Supplies Inc", tx_matrix) == [["VIP"]]
    assert call("segment", "  Redwood   Supplies Inc ", tx_matrix) == [["VIP"]]
    assert call("segment", [["nobody"], [""]], tx_matrix) == [["unknown customer"], [""]]


def test_numeric_customer_ids_match_as_the_reader_reads_them():
    table = [["customer", "date", "amount"], [1001, 45600, 10.0], [1002.0, 45601, 5.0]]
    assert call("vip_months", [[1001], [1002]], table) == [[1], [0]]
    assert call("segment", "1001", table) == [["VIP"]]


def test_the_table_is_classified_once_for_any_number_of_cells(tx_matrix):
    for name in ("Redwood Supplies Inc", "Tidewater Builders plc", "Highland Retail GmbH"):
        call("segment", name, tx_matrix)
        call("lifecycle", name, tx_matrix)
    assert excel.CACHE.computed == 1
    changed = [list(row) for row in tx_matrix]
    changed[1][3] = 1_000_000.0  # one amount: a different table
    assert call("segment", "Redwood Supplies Inc", changed) == [["VIP"]]
    assert excel.CACHE.computed == 2
    call("segment", "Redwood Supplies Inc", tx_matrix)  # the first table is still cached
    assert excel.CACHE.computed == 2


@pytest.mark.parametrize("settings_arg", [
    "criterion=units; window=3; share=10%",
    "Criterion: units\nwindow: 3\nshare: 0.1",
    [["setting", "value"], ["criterion", "units"], ["window", 3.0], ["share", 0.1], ["", ""]],
])
def test_the_settings_argument_as_text_or_as_a_range(settings_arg, tx_matrix):
    tx, issues = read_transactions(demo_path())
    expected = classify(tx, Settings(criterion="units", window=3, share=0.1), issues).customers
    default = classify(tx, Settings(), issues).customers
    assert not expected["tier"].equals(default["tier"])  # the settings matter on this data
    cells = [[name] for name in expected["customer"]]
    assert column(call("segment", cells, tx_matrix, settings_arg)) == \
        __import__("tierbook.sheets", fromlist=["x"]).primary_segment(expected).tolist()


def test_a_month_given_as_an_excel_date_is_the_analysis_month(tx_matrix, engine):
    got = call("segments", tx_matrix, [["month", (dt.datetime(2026, 3, 15) - EPOCH).days]])
    tx, issues = read_transactions(demo_path())
    expected = classify(tx, Settings(month="2026-03"), issues).customers
    assert [row[0] for row in got[1:]] == expected["customer"].tolist()
    assert [row[1] for row in got[1:]] == expected["tier"].tolist()


def test_segments_spills_the_customers_table_with_text_kept_as_typed(tx_matrix, engine):
    got = call("segments", tx_matrix)
    assert got[0] == CUSTOMER_COLUMNS
    assert len(got) == 1 + len(engine.customers)
    assert [row[0] for row in got[1:]] == engine.customers["customer"].tolist()
    assert "=HYPERLINK Trading Co" in [row[0] for row in got[1:]]  # a value, not a formula
    assert [row[CUSTOMER_COLUMNS.index("revenue")] for row in got[1:]] == \
        pytest.approx(engine.customers["revenue"].tolist())


def test_without_a_table_the_cell_says_what_to_type():
    assert call("segment", "Redwood Supplies Inc") == [[
        'tierbook: give the Customers table as the second argument, e.g. =TIERBOOK.SEGMENT(A2, tbCustomers[#All]) '
        '(click "Segment customers" first), or the transactions range']]


@pytest.mark.parametrize("settings_arg, message", [
    ("criterion=bogus", "tierbook: setting criterion must be one of revenue, payments, units, profit, got 'bogus'"),
    ("window=2.5", "tierbook: setting window must be a whole number of months, got '2.5'"),
    ("share=2", "tierbook: settings: share must be in (0, 1], got 2.0"),
    ("colour=red", "tierbook: unknown setting 'colour'; settings are: criterion, share, good_share, window, month, "
                   "lang, sheet, folder, generated"),
    ("units", 'tierbook: settings must look like "criterion=units; window=3", got \'units\''),
])
def test_bad_settings_give_a_message_in_the_cell(settings_arg, message, tx_matrix):
    assert call("segment", "Redwood Supplies Inc", tx_matrix, settings_arg) == [[message]]


def test_a_table_without_the_required_columns_gives_a_message_in_the_cell():
    got = call("segment", "a", [["client", "when"], ["a", 45600]])
    assert got == [['tierbook: Sheet "transactions" has no column for date, amount (headers found: "client", '
                    '"when")']]


def test_the_metadata_lists_exactly_the_intended_functions_with_optional_arguments():
    meta = xlwings.server.custom_functions_meta(excel)
    names = sorted(f["name"] for f in meta["functions"])
    # classify_handle is CLASSIFY in Excel (`classify` is the engine's name in Python)
    assert names == sorted("CLASSIFY" if name == "classify_handle" else name.upper() for name in excel.FUNCTIONS)
    segment = next(f for f in meta["functions"] if f["name"] == "SEGMENT")
    assert [(p["name"], p.get("optional", False)) for p in segment["parameters"]] == [
        ("customer", False), ("transactions", True), ("settings", True)]


def test_a_row_of_customers_spills_a_row(tx_matrix):
    assert call("segment", [["Redwood Supplies Inc", "nobody"]], tx_matrix) == [["VIP", "unknown customer"]]


@pytest.mark.parametrize("func", ["segments", "segment", "movement"])
def test_an_unexpected_failure_shows_a_short_reason_in_the_cell(func, tx_matrix, engine, monkeypatch):
    # a fault injected into the engine, as a bug would be: the cell says what went wrong
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nin a long\n  multi-line text " + "x" * 500)

    monkeypatch.setattr(excel, "classify", broken)
    args = [tx_matrix] if func == "segments" else [customer_cells(engine)[:3], tx_matrix]
    got = call(func, *args)
    text = got[0][0] if isinstance(got, list) else got
    assert text.startswith("tierbook: unexpected ZeroDivisionError: division by zero in a long multi-line text x")
    assert len(text) == excel.REASON_CHARS and "\n" not in text


def test_a_sheet_as_sent_reads_as_xlwings_conversion_reads_it():
    """The ribbon reads the transactions sheet as the client sent it (Range.raw_value)
    and raw_frame(sent=True) turns it into what xlwings' conversion gives cell by cell:
    ISO dates (with and without milliseconds) as datetimes, "" and error values
    as empty, other text and numbers as they are."""
    rows = [["Customer", "Date", "Amount", "Note"],
            ["C1", "2024-11-01T00:00:00.000Z", 10.5, "2024-11-01"],
            ["C2", "2024-11-02T13:45:10Z", "", "#N/A"],
            ["", "2024-11-03T00:00:00.5Z", 3, "plain"],
            ["=C4", "not a date T00:00:00Z", "#VALUE!", "2024-13-01T00:00:00.000Z"],
            [7, True, -0.0, "x"]]
    payload = with_rows(rows)
    used = xw.Book(json=payload).sheets[0].used_range
    sent = excel.raw_frame(used.raw_value, sent=True)
    converted = excel.raw_frame(xw.Book(json=with_rows(rows)).sheets[0].used_range.options(ndim=2).value)
    pd.testing.assert_frame_equal(sent, converted)
    cells = sent.astype(object).values.tolist()
    assert [[type(v) for v in r] for r in cells] == [[type(v) for v in r] for r in converted.values.tolist()]
    assert cells[0][1] == dt.datetime(2024, 11, 1) and cells[1][2] is None and cells[1][3] is None
    assert cells[2][3] == "plain" and cells[3][0] == "=C4" and cells[3][2] is None
    # text typed like a date without the Z (xlwings' own reading fails on it) is a date too
    typed = excel.raw_frame([["Date"], ["2024-11-03T08:00:00"], ["2024-11-03T08:00:00+02:00"]], sent=True)
    assert typed["Date"].tolist() == [dt.datetime(2024, 11, 3, 8)] * 2


def with_rows(rows: list[list]) -> dict:
    """A one-sheet payload holding ROWS from A1, as the Office.js client sends a book."""
    width = max(len(r) for r in rows)
    return {"client": "Office.js", "version": xw.__version__,
            "book": {"name": "t.xlsx", "active_sheet_index": 0, "selection": "A1", "calculation": "Automatic"},
            "sheets": [{"name": "Sales", "visibility": "Visible", "show_gridlines": True, "print_area": None,
                        "notes": [], "notes_supported": True, "used_range_address": f"A1:{get_column_letter(width)}"
                        f"{len(rows)}", "used_range_row_count": len(rows), "used_range_column_count": width,
                        "values": rows, "pictures": [], "shapes": [], "charts": [], "tables": [], "pivot_tables": []}],
            "names": []}


# --------------------------------------------------------------------------- the answers' language

#: The demo's Sales headers as a Russian export names them.
RUSSIAN_HEADERS = ["Клиент", "Дата", "Заказ", "Сумма", "Количество", "Маржа", "Менеджер", "Почта", "Телефон",
                   "Согласие", "Канал", "Время звонка"]


@pytest.fixture(scope="module")
def ru_matrix(tx_matrix) -> list[list]:
    assert len(tx_matrix[0]) == len(RUSSIAN_HEADERS)
    return [RUSSIAN_HEADERS] + tx_matrix[1:]


@pytest.mark.parametrize("func, field", [("segment", "segment"), ("lifecycle", "lifecycle"),
                                         ("quadrant", "quadrant"), ("size_tier", "size_tier")])
def test_a_russian_export_gets_its_answers_in_russian(func, field, ru_matrix, engine):
    """A transactions range with Russian headers answers in Russian, as the Customers
    sheet of a Russian book shows the same customers; lang=en in the settings argument
    answers in English whatever the headers."""
    from tierbook import labels
    from tierbook.sheets import primary_segment

    codes = primary_segment(engine.customers) if field == "segment" else engine.customers[field]
    got = column(call(func, customer_cells(engine), ru_matrix))
    assert got == [labels.value(field, c, "ru") for c in codes]
    assert any(g != c for g, c in zip(got, codes))  # words translated, not codes
    assert column(call(func, customer_cells(engine), ru_matrix, "lang=en")) == list(codes)


def test_a_russian_export_names_an_unknown_customer_and_spills_its_table_in_russian(ru_matrix, tx_matrix, engine):
    from tierbook import labels
    from tierbook.lookups import customers_header, unknown_customer

    assert call("segment", [["nobody"], [""]], ru_matrix) == [[unknown_customer("ru")], [""]]
    table = call("segments", ru_matrix)
    assert table[0] == [customers_header(c, "ru") for c in CUSTOMER_COLUMNS]
    tiers = [row[CUSTOMER_COLUMNS.index("tier")] for row in table[1:]]
    assert tiers == [labels.value("tier", t, "ru") for t in engine.customers["tier"]]
    assert call("segments", tx_matrix)[0] == list(CUSTOMER_COLUMNS)  # an English export: the column keys


def test_a_russian_export_moves_in_russian(ru_matrix, tx_matrix, engine):
    from tierbook.lookups import unknown_customer
    from tierbook.sheets import tier_label

    from tierbook.movement import tier_changes, tier_history

    tx, _ = read_transactions(demo_path())
    changes = tier_changes(tier_history(tx, Settings())).set_index("customer")
    codes = changes.loc[engine.customers["customer"], ["previous_tier", "changed_on"]].to_numpy().tolist()
    cells = customer_cells(engine)
    for lang, matrix in (("en", tx_matrix), ("ru", ru_matrix)):  # as the Movement sheet shows the tiers
        assert call("movement", cells, matrix) == [[tier_label(t, lang) if t else "", m] for t, m in codes], lang
    assert "inactive" in {t for t, _ in codes}
    assert call("movement", [["nobody"]], ru_matrix) == [[unknown_customer("ru"), ""]]
