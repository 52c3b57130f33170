"""Reading dirty transaction tables: every row ends up in the clean frame or in the report.

Each test builds its input by hand (frames inline, files in tmp_path) and checks exact
values: the clean frame, the issues with their real sheet row numbers, and the errors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from tierbook.read import ALIASES, clean_transactions, header_key, match_columns, read_transactions
from tierbook.schema import ISSUE_COLUMNS, InputError

D = pd.Timestamp


def frame(columns: str, *rows: tuple) -> pd.DataFrame:
    """A raw frame as a reader gives it: object cells, header names as written."""
    return pd.DataFrame([list(r) for r in rows], columns=columns.split("|"), dtype=object)


def issues(*rows: tuple, sheet: str = "data") -> list[tuple]:
    return [(sheet, *r) for r in rows]


def as_list(report: pd.DataFrame) -> list[tuple]:
    assert list(report.columns) == ISSUE_COLUMNS
    return list(report.itertuples(index=False, name=None))


def one_value(column: str, cell: object, other: str = "amount") -> object:
    """Clean a one-row table whose `column` cell is `cell`; return the clean value."""
    row = {"customer": "a", "date": "2024-01-05", "amount": 1}
    row[column] = cell
    tx, report = clean_transactions(pd.DataFrame([row], dtype=object))
    assert report.empty, as_list(report)
    return tx[column].iloc[0]


# --- headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, column",
    [
        ("Customer", "customer"), ("  CLIENT ", "customer"), ("customer_id", "customer"),
        ("Customer Name", "customer"), ("Клиент:", "customer"), ("Покупатель", "customer"),
        ("Контрагент", "customer"), ("Order Date", "date"), ("Дата оплаты", "date"),
        ("ДАТА", "date"), ("Sum", "amount"), ("Revenue", "amount"), ("Выручка", "amount"),
        ("Сумма", "amount"), ("Оплата", "amount"), ("Qty.", "units"), ("Кол-во", "units"),
        ("Количество", "units"), ("Profit", "margin"), ("Маржа", "margin"),
        ("Order_ID", "order_id"), ("Invoice", "order_id"), ("Номер заказа", "order_id"),
        ("Счёт", "order_id"), ("Менеджер", "manager"), ("E-mail", "email"), ("Почта", "email"),
        ("Телефон", "phone"), ("Согласие", "consent"), ("Канал", "channel"),
        ("contact_time", "contact_time"), ("Время звонка", "contact_time"),
    ],
)
def test_header_is_matched_ignoring_case_spaces_and_punctuation(header, column):
    assert match_columns([header]) == {column: header}


def test_every_alias_names_one_column():
    keys = [header_key(name) for names in ALIASES.values() for name in names]
    owners = {header_key(n): c for c, names in ALIASES.items() for n in names}
    assert len(owners) == len(set(keys))
    assert all(owners[header_key(n)] == c for c, names in ALIASES.items() for n in names)


def test_first_matching_header_wins_and_unknown_headers_are_ignored():
    raw = frame("Comment|Client|Customer|Date|Sum", ("x", "a", "b", "2024-01-05", 5))
    tx, report = clean_transactions(raw)
    assert tx["customer"].tolist() == ["a"]
    assert list(tx.columns) == ["customer", "date", "amount"]


def test_missing_required_columns_stop_the_run_with_the_headers_found():
    raw = frame("Клиент|Qty|Comment", ("a", 1, "x"))
    with pytest.raises(InputError) as e:
        clean_transactions(raw, sheet="Sales")
    assert str(e.value) == 'Sheet "Sales" has no column for date, amount (headers found: "Клиент", "Qty", "Comment")'


# --- the clean frame -------------------------------------------------------------------


def test_clean_frame_has_the_schema_dtypes_and_sheet_row_numbers():
    raw = frame(
        "Customer|Date|Amount|Units|Margin|Order|Manager|Email|Phone|Consent|Channel|Contact time",
        ("a", "2024-01-05", "10", "2", "3,5", "A-1", "Ann", "a@x.ru", "+7 900", "yes", "SMS", "10:00"),
        ("b", "2024-01-06", "20", None, None, None, None, None, None, None, None, None),
    )
    tx, report = clean_transactions(raw, first_row=5)
    assert report.empty
    assert tx.index.tolist() == [5, 6]
    assert tx.index.dtype == "int64"
    assert tx.dtypes.astype(str).to_dict() == {
        "customer": "str", "date": "datetime64[ns]", "amount": "float64", "units": "float64",
        "margin": "float64", "order_id": "str", "manager": "str", "email": "str", "phone": "str",
        "consent": "boolean", "channel": "str", "contact_time": "str",
    }
    assert tx.iloc[0].tolist() == ["a", D("2024-01-05"), 10.0, 2.0, 3.5, "A-1", "Ann", "a@x.ru", "+7 900", True, "sms", "10:00"]
    assert tx.iloc[1].isna().tolist() == [False] * 3 + [True] * 9


def test_input_frame_is_not_changed():
    raw = frame("Customer|Date|Amount", (" a ", "19.11.2013", "1 234,56"), (None, None, None))
    before = raw.copy()
    clean_transactions(raw)
    pd.testing.assert_frame_equal(raw, before)


# --- amounts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, value",
    [
        ("1 234,56", 1234.56), ("1,234.56", 1234.56), ("1234,5", 1234.5), ("1 234", 1234.0),
        ("1\u00a0234,56", 1234.56), ("1\u202f234,56", 1234.56), ("-500", -500.0), ("(500)", -500.0),
        ("−500", -500.0), ("1 234 ₽", 1234.0), ("1 234,50 руб.", 1234.5), ("$1,234.56", 1234.56),
        ("€ 99", 99.0), ("1.234.567,89", 1234567.89), ("1,234,567", 1234567.0), ("0,5", 0.5),
        ("  42  ", 42.0), ("12.5", 12.5), (12.5, 12.5), (7, 7.0), (-3.25, -3.25),
    ],
)
def test_amount_is_read_as_people_write_money(cell, value):
    assert one_value("amount", cell) == value


@given(st.integers(min_value=-10**9, max_value=10**9), st.sampled_from([" ", "\u00a0", "\u202f"]))
def test_amount_with_grouped_thousands_and_decimal_comma_round_trips(cents, space):
    whole, frac = divmod(abs(cents), 100)
    text = ("-" if cents < 0 else "") + f"{whole:,}".replace(",", space) + f",{frac:02d}"
    assert one_value("amount", text) == pytest.approx(cents / 100)


def test_numeric_amount_column_passes_through():
    raw = pd.DataFrame({"customer": ["a", "b"], "date": ["2024-01-05"] * 2, "amount": [1.5, -2.0]})
    tx, report = clean_transactions(raw)
    assert tx["amount"].tolist() == [1.5, -2.0] and report.empty


def test_refunds_are_kept_as_negative_amounts_and_not_reported():
    raw = frame("customer|date|amount", ("a", "2024-01-05", 100), ("a", "2024-01-06", "-100"))
    tx, report = clean_transactions(raw)
    assert tx["amount"].tolist() == [100.0, -100.0]
    assert report.empty


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, day",
    [
        (dt.datetime(2023, 3, 15, 10, 30), "2023-03-15"), (pd.Timestamp("2023-03-15 23:59"), "2023-03-15"),
        (dt.date(2023, 3, 15), "2023-03-15"), (45000, "2023-03-15"), (45000.5, "2023-03-15"),
        ("45000", "2023-03-15"), ("2013-11-19", "2013-11-19"), ("2013-11-19 10:30", "2013-11-19"),
        ("2013-11-19T10:30:00", "2013-11-19"), ("19.11.2013", "2013-11-19"), ("19/11/2013", "2013-11-19"),
        ("19.11.13", "2013-11-19"), ("5.1.2024", "2024-01-05"), (" 19.11.2013 10:30 ", "2013-11-19"),
        (20131119, "2013-11-19"),
    ],
)
def test_date_is_read_from_real_dates_serials_and_text_as_the_day(cell, day):
    assert one_value("date", cell) == D(day)


def test_excel_serial_60_onwards_uses_the_1899_12_30_origin(monkeypatch):
    # Excel's serial 61 is 1900-03-01 (it counts a 29 February 1900 that never was).
    monkeypatch.setenv("TIERBOOK_LATEST_DATE", "2119-12-31")  # else 2119 is a date in the future
    assert one_value("date", 61) == D("1900-03-01")
    assert one_value("date", 79999) == D("2119-01-10")


def test_datetime_column_passes_through_as_days():
    raw = pd.DataFrame(
        {"customer": ["a", "b"], "date": pd.to_datetime(["2024-01-05 13:00", "2024-02-01 00:00"]), "amount": [1.0, 2.0]}
    )
    tx, report = clean_transactions(raw)
    assert tx["date"].tolist() == [D("2024-01-05"), D("2024-02-01")] and report.empty


# --- rows that are not payments ---------------------------------------------------------


def test_blank_totals_and_repeated_header_rows_are_skipped_and_reported():
    raw = frame(
        "Клиент|Дата|Сумма",
        ("a", "2024-01-05", "100"),  # row 2
        (None, None, None),  # 3: blank
        ("  ", "", None),  # 4: blank (only spaces)
        ("Итого", None, "100"),  # 5: totals by label
        ("ИТОГО:", "2024-01-31", "100"),  # 6: totals by label, even with a date
        ("Grand total", None, 100),  # 7
        (None, None, "100"),  # 8: totals: an amount and nothing else
        ("Клиент", "Дата", "Сумма"),  # 9: the header again
        ("Total Solutions", "2024-01-06", "5"),  # 10: a customer, not a totals row
        ("Всего за январь", None, "105"),  # 11
    )
    tx, report = clean_transactions(raw, sheet="Sales")
    assert tx.index.tolist() == [2, 10]
    assert tx["customer"].tolist() == ["a", "Total Solutions"]
    assert as_list(report) == issues(
        (3, "", "", "blank row, skipped"),
        (4, "", "", "blank row, skipped"),
        (5, "", "Итого", "totals row, skipped"),
        (6, "", "ИТОГО:", "totals row, skipped"),
        (7, "", "Grand total", "totals row, skipped"),
        (8, "", "100", "totals row, skipped"),
        (9, "", "Клиент", "repeated header row, skipped"),
        (11, "", "Всего за январь", "totals row, skipped"),
        sheet="Sales",
    )


def test_repeated_header_may_use_other_aliases():
    raw = frame("customer|date|amount", ("a", "2024-01-05", 1), ("Client", "Order date", "Sum"))
    tx, report = clean_transactions(raw)
    assert as_list(report) == issues((3, "", "Client", "repeated header row, skipped"))


def test_totals_label_in_first_column_makes_a_totals_row():
    raw = frame("№|customer|date|amount", (1, "a", "2024-01-05", 1), ("Итого", None, None, 1))
    tx, report = clean_transactions(raw)
    assert tx.index.tolist() == [2]
    assert as_list(report) == issues((3, "", "Итого", "totals row, skipped"))


# --- ids and text ------------------------------------------------------------------------


def test_stray_spaces_in_ids_are_removed_without_a_report():
    raw = frame(
        "customer|date|amount|order_id|manager",
        ("  ACME  ", "2024-01-05", 1, " A-1 ", "Ann  Lee"),
        ("ACME\u00a0 Ltd", "2024-01-05", 1, "A-2\u00a0", "\tBob "),
        (1001.0, "2024-01-05", 1, 77.0, ""),
        ("1001.0", "2024-01-05", 1, "  ", None),
    )
    tx, report = clean_transactions(raw)
    assert report.empty
    assert tx["customer"].tolist() == ["ACME", "ACME Ltd", "1001", "1001"]
    assert tx["order_id"].tolist()[:3] == ["A-1", "A-2", "77"]
    assert tx["order_id"].isna().tolist() == [False, False, False, True]
    assert tx["manager"].tolist()[:2] == ["Ann Lee", "Bob"]
    assert tx["manager"].isna().tolist() == [False, False, True, True]


def test_numeric_customer_column_becomes_text_ids():
    raw = pd.DataFrame({"customer": [1001.0, 1002.0], "date": [45000, 45001], "amount": [1.0, 2.0]})
    tx, _ = clean_transactions(raw)
    assert tx["customer"].tolist() == ["1001", "1002"]


# --- bad cells -----------------------------------------------------------------------------


def test_bad_required_cells_drop_the_row_with_one_issue_per_cell():
    raw = frame(
        "Клиент|Дата оплаты|Сумма",
        ("a", "2024-01-05", "n/a"),  # 2
        ("b", "yesterday", "10"),  # 3
        (None, "2024-01-05", "10"),  # 4
        ("c", "31.02.2024", "abc"),  # 5: two bad cells, two issues
        ("d", None, "10"),  # 6
        ("e", "2024-01-05", None),  # 7
        ("f", "#N/A", "#DIV/0!"),  # 8
        ("#REF!", "2024-01-05", "1"),  # 9
        ("g", "2024-01-05", "5"),  # 10: fine
    )
    tx, report = clean_transactions(raw, sheet="Sales")
    assert tx.index.tolist() == [10]
    assert as_list(report) == issues(
        (2, "Сумма", "n/a", "not a number"),
        (3, "Дата оплаты", "yesterday", "not a date"),
        (4, "Клиент", "", "customer is empty"),
        (5, "Дата оплаты", "31.02.2024", "not a date"),
        (5, "Сумма", "abc", "not a number"),
        (6, "Дата оплаты", "", "date is empty"),
        (7, "Сумма", "", "amount is empty"),
        (8, "Дата оплаты", "#N/A", "Excel error value"),
        (8, "Сумма", "#DIV/0!", "Excel error value"),
        (9, "Клиент", "#REF!", "Excel error value"),
        sheet="Sales",
    )


def test_dates_outside_the_excel_range_are_not_dates():
    raw = frame("customer|date|amount", ("a", 0, 1), ("b", 80000, 1), ("c", dt.datetime(1899, 12, 31, 10), 1))
    tx, report = clean_transactions(raw)
    assert tx.empty
    assert [r[4] for r in as_list(report)] == ["not a date"] * 3
    assert [r[3] for r in as_list(report)] == ["0", "80000", "1899-12-31 10:00:00"]


def test_bad_optional_cells_are_reported_and_left_empty_keeping_the_row():
    raw = frame(
        "customer|date|amount|Qty|Profit|Consent|Channel",
        ("a", "2024-01-05", 1, "two", "1 000,5", "maybe", "pigeon"),
        ("b", "2024-01-05", 1, "3", "x", "ДА", "Звонок"),
        ("c", "2024-01-05", 1, 4, 5, "-", " E-Mail "),
        ("d", "2024-01-05", 1, None, None, "0", "смс"),
    )
    tx, report = clean_transactions(raw)
    assert tx.index.tolist() == [2, 3, 4, 5]
    np.testing.assert_array_equal(tx["units"], [np.nan, 3.0, 4.0, np.nan])
    assert tx["margin"].iloc[0] == 1000.5 and np.isnan(tx["margin"].iloc[1])
    assert tx["consent"].tolist() == [pd.NA, True, False, False]
    assert tx["channel"].tolist()[1:] == ["phone", "email", "sms"] and pd.isna(tx["channel"].iloc[0])
    assert as_list(report) == issues(
        (2, "Qty", "two", "not a number, left empty"),
        (2, "Consent", "maybe", "not yes or no, left empty"),
        (2, "Channel", "pigeon", "not email, sms or phone, left empty"),
        (3, "Profit", "x", "not a number, left empty"),
    )


@pytest.mark.parametrize(
    "cell, value",
    [("yes", True), ("No", False), ("да", True), ("НЕТ", False), ("true", True), ("FALSE", False),
     (1, True), (0, False), ("y", True), ("n", False), ("+", True), ("-", False), (True, True), (False, False)],
)
def test_consent_words(cell, value):
    assert one_value("consent", cell) == value


def test_every_input_row_is_in_the_clean_frame_or_in_the_report():
    raw = frame(
        "customer|date|amount|units",
        ("a", "2024-01-05", 1, "x"), (None, None, None, None), ("Итого", None, 1, None),
        ("b", "bad", 1, None), ("c", 45000, "1 234", 2), ("customer", "date", "amount", "units"),
        (None, "2024-01-05", 3, None), ("d", "2024-01-05", None, None),
    )
    tx, report = clean_transactions(raw, first_row=10)
    rows = set(range(10, 10 + len(raw)))
    assert set(tx.index) | set(report["row"]) == rows
    dropped = rows - set(tx.index)
    assert dropped <= set(report["row"])
    assert tx.index.tolist() == [10, 14]


def test_a_clean_table_gives_an_empty_report_with_the_issue_columns():
    tx, report = clean_transactions(frame("customer|date|amount", ("a", "2024-01-05", 1)))
    assert list(report.columns) == ISSUE_COLUMNS and report.empty


# --- files -----------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sales", before: int = 0, extra: str | None = None) -> Path:
    """A workbook whose rows start after `before` empty rows; optionally a second sheet."""
    book = Workbook()
    ws = book.active
    ws.title = sheet
    for _ in range(before):
        ws.append([])
    for row in rows:
        ws.append(row)
    if extra:
        book.create_sheet(extra).append(["nothing"])
    book.save(path)
    return path


def test_xlsx_issue_rows_are_excel_row_numbers_and_cells_keep_their_types(tmp_path):
    rows = [
        ["Клиент", "Дата", "Сумма", "Кол-во"],  # Excel row 3
        [1001, dt.datetime(2024, 1, 5, 14, 30), 100.5, 2],  # 4: a real date cell
        ["b ", 45000, "1 234,56", 1],  # 5: a serial number and a text amount
        [None, None, None, None],  # 6
        ["c", "19.11.2013", "n/a", "x"],  # 7
        ["d", dt.date(2024, 2, 1), -50, None],  # 8
        ["Итого", None, 1285.06, None],  # 9
    ]
    path = write_xlsx(tmp_path / "book.xlsx", rows, before=2)
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [4, 5, 8]
    assert tx["customer"].tolist() == ["1001", "b", "d"]
    assert tx["date"].tolist() == [D("2024-01-05"), D("2023-03-15"), D("2024-02-01")]
    assert tx["amount"].tolist() == [100.5, 1234.56, -50.0]
    assert as_list(report) == issues(
        (6, "", "", "blank row, skipped"),
        (7, "Сумма", "n/a", "not a number"),
        (7, "Кол-во", "x", "not a number, left empty"),
        (9, "", "Итого", "totals row, skipped"),
        sheet="Sales",
    )


def test_xlsx_text_after_many_numbers_is_reported_not_lost(tmp_path):
    rows = [["customer", "date", "amount"]] + [[f"c{i}", dt.date(2024, 1, 1), i] for i in range(1500)]
    rows.append(["late", "2024-01-02", "n/a"])  # Excel row 1502, after fastexcel's usual 1000-row sample
    tx, report = read_transactions(write_xlsx(tmp_path / "long.xlsx", rows))
    assert len(tx) == 1500 and tx.index[-1] == 1501
    assert as_list(report) == issues((1502, "amount", "n/a", "not a number"), sheet="Sales")


def test_xlsx_error_cells_are_reported(tmp_path):
    rows = [["customer", "date", "amount", "units"], ["a", dt.date(2024, 1, 1), 1.5, 2], ["b", dt.date(2024, 1, 2), "#N/A", "#DIV/0!"]]
    tx, report = read_transactions(write_xlsx(tmp_path / "err.xlsx", rows))
    assert tx.index.tolist() == [2]
    assert as_list(report) == issues(
        (3, "amount", "#N/A", "Excel error value"),
        (3, "units", "#DIV/0!", "Excel error value, left empty"),
        sheet="Sales",
    )


def test_xlsx_named_sheet_and_missing_sheet(tmp_path):
    path = write_xlsx(tmp_path / "two.xlsx", [["nothing"]], sheet="Notes", extra="Data")
    with pytest.raises(InputError) as e:
        read_transactions(path, sheet="Sales")
    assert str(e.value) == 'No sheet "Sales" in two.xlsx; its sheets are "Notes", "Data"'
    with pytest.raises(InputError) as e:
        read_transactions(path, sheet="Data")
    assert str(e.value) == 'Sheet "Data" has no column for customer, date, amount (headers found: "nothing")'


def test_csv_comma_utf8_with_bom(tmp_path):
    path = tmp_path / "export.csv"
    text = 'Customer,Date,Amount,Order ID\n a ,2024-01-05,"1,234.56",007\n\nb,19.11.2013,n/a,8\nTotal,,"1,234.56",\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [2]
    assert tx.iloc[0].tolist() == ["a", D("2024-01-05"), 1234.56, "007"]
    assert as_list(report) == issues(
        (3, "", "", "blank row, skipped"),
        (4, "Amount", "n/a", "not a number"),
        (5, "", "Total", "totals row, skipped"),
        sheet="export.csv",
    )


def test_csv_semicolon_cp1251_with_russian_headers(tmp_path):
    path = tmp_path / "выгрузка.csv"
    text = "Клиент;Дата оплаты;Сумма;Согласие;Канал\nООО Ромашка;19.11.2013;1 234,56;да;смс\nИП Иванов;45000;-500;нет;почта\n;;;;\nИтого;;734,56;;\n"
    path.write_bytes(text.encode("cp1251"))
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [2, 3]
    assert tx["customer"].tolist() == ["ООО Ромашка", "ИП Иванов"]
    assert tx["date"].tolist() == [D("2013-11-19"), D("2023-03-15")]
    assert tx["amount"].tolist() == [1234.56, -500.0]
    assert tx["consent"].tolist() == [True, False]
    assert tx["channel"].tolist() == ["sms", "email"]
    assert as_list(report) == issues(
        (4, "", "", "blank row, skipped"), (5, "", "Итого", "totals row, skipped"), sheet="выгрузка.csv"
    )


def test_csv_utf8_semicolon_without_bom_and_a_leading_blank_line(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("\nклиент;дата;сумма\nа;2024-01-05;5\n", encoding="utf-8")
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [3] and tx["customer"].tolist() == ["а"] and report.empty


def test_parquet(tmp_path):
    path = tmp_path / "tx.parquet"
    pd.DataFrame(
        {"customer": ["a", None, "b"], "date": pd.to_datetime(["2024-01-05", None, "2024-01-06"]), "amount": [1.0, None, 2.0]}
    ).to_parquet(path)
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [2, 4]
    assert as_list(report) == issues((3, "", "", "blank row, skipped"), sheet="tx.parquet")


def test_unknown_extension_and_missing_file_are_input_errors(tmp_path):
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(InputError) as e:
        read_transactions(tmp_path / "data.txt")
    assert str(e.value) == 'Cannot read "data.txt": use an .xlsx, .xlsm, .csv or .parquet file'
    with pytest.raises(InputError) as e:
        read_transactions(tmp_path / "none.xlsx")
    assert str(e.value) == f"File not found: {tmp_path / 'none.xlsx'}"
