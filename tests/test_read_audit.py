"""The reader under attack and under broken files (issue 10): every broken or hostile
input becomes a reported row or one line a manager understands, never a traceback,
and nothing is expanded or unpacked without limit.

Every file is written here by hand: workbooks part by part with zipfile (so that cells
Excel writes but openpyxl cannot, such as `#NAME?` or a DOCTYPE, can be built), CSVs
byte by byte.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from tierbook import cli
from tierbook.read import read_transactions
from tierbook.schema import InputError

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sales" sheetId="1" r:id="rId1"/>'
    '</sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def cell(ref: str, value: object) -> str:
    """One <c> element: a number, inline text, or (type, inner XML) as written."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        kind, inner = value
        return f'<c r="{ref}" t="{kind}">{inner}</c>' if kind else f'<c r="{ref}">{inner}</c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def sheet_xml(rows: list[list], prolog: str = "", tail: str = "") -> str:
    body = "".join(
        f'<row r="{i}">' + "".join(cell(f"{chr(65 + j)}{i}", v) for j, v in enumerate(row)) + "</row>"
        for i, row in enumerate(rows, 1)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData>{tail}</worksheet>'


def xlsx(path: Path, rows: list[list] | None = None, sheet: str | None = None, extra: dict | None = None) -> Path:
    """A workbook of one sheet "Sales", written part by part."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in PARTS.items():
            book.writestr(name, text)
        book.writestr("xl/worksheets/sheet1.xml", sheet if sheet is not None else sheet_xml(rows or []))
        for name, data in (extra or {}).items():
            book.writestr(name, data)
    return path


def error(e: pytest.ExceptionInfo) -> str:
    return str(e.value)


def segment(capsys, *args: str) -> tuple[int, str]:
    """tierbook segment through the real command line (in process): exit code, stderr."""
    code = cli.main(["segment", *args, "--quiet"])
    return code, capsys.readouterr().err


def as_list(report) -> list[tuple]:
    return list(report.itertuples(index=False, name=None))


HEAD = ["customer", "date", "amount", "units"]


# --- 8: error values calamine cannot read ------------------------------------------------


@pytest.mark.parametrize("value", ["#NAME?", "#SPILL!", "#CALC!", "#GETTING_DATA", "#BLOCKED!"])
@pytest.mark.parametrize("column", [0, 1, 2, 3])
def test_any_excel_error_value_in_any_column_is_a_reported_row(tmp_path, value, column):
    rows = [HEAD, ["a", 45000, 10, 1], ["b", 45001, 3, 2]]
    rows[2][column] = ("e", f"<f>FOO()</f><v>{value}</v>")
    tx, report = read_transactions(xlsx(tmp_path / "e.xlsx", rows))
    problem = "Excel error value" + (", left empty" if column == 3 else "")
    assert as_list(report) == [("Sales", 3, HEAD[column], value, problem)]
    assert tx.index.tolist() == ([2, 3] if column == 3 else [2])
    assert tx["customer"].tolist()[:1] == ["a"] and tx["date"].iloc[0] == pd_day("2023-03-15")


def pd_day(text: str):
    import pandas as pd

    return pd.Timestamp(text)


def test_a_name_error_keeps_typed_columns_and_sheet_row_numbers(tmp_path):
    rows = [["Report"], [], HEAD, ["a", 45000, 10.5, 1], [("e", "<v>#NAME?</v>"), 45001, 3, 2], ["c", 45002, "7", None]]
    tx, report = read_transactions(xlsx(tmp_path / "e.xlsx", rows))
    assert tx.index.tolist() == [4, 6]
    assert tx["amount"].tolist() == [10.5, 7.0]
    assert as_list(report) == [("Sales", 5, "customer", "#NAME?", "Excel error value")]


def test_name_error_through_the_cli_writes_the_workbook(tmp_path, capsys):
    rows = [HEAD, ["a", 45000, 10, 1], ["b", 45001, ("e", "<v>#NAME?</v>"), 2]]
    code, err = segment(capsys, str(xlsx(tmp_path / "e.xlsx", rows)), "--out", str(tmp_path / "out.xlsx"))
    assert code == 0 and err == ""
    assert (tmp_path / "out.xlsx").is_file()


# --- 9: a DOCTYPE is refused, never expanded -----------------------------------------------


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/workbook.xml"])
def test_a_doctype_in_any_part_is_one_line_and_nothing_is_expanded(tmp_path, part):
    doctype = '<!DOCTYPE x [<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    rows = [HEAD, ["&b;", 45000, 1, 1]]
    path = tmp_path / "dt.xlsx"
    extra = {}
    if part == "xl/worksheets/sheet1.xml":
        xlsx(path, sheet=sheet_xml(rows, prolog=doctype))
    elif part == "xl/sharedStrings.xml":
        extra[part] = f'<?xml version="1.0"?>{doctype}<sst xmlns="{MAIN}"><si><t>&b;</t></si></sst>'
        xlsx(path, [HEAD, ["a", 45000, 1, 1]], extra=extra)
    else:
        with zipfile.ZipFile(path, "w") as book:
            for name, text in PARTS.items():
                book.writestr(name, text.replace("?><workbook", "?>" + doctype + "<workbook") if name == part else text)
            book.writestr("xl/worksheets/sheet1.xml", sheet_xml([HEAD]))
    with pytest.raises(InputError) as e:
        read_transactions(path)
    assert error(e) == (f"dt.xlsx is not a workbook as Excel writes it: its part {part} declares a DOCTYPE (XML "
                        f"entities), which tierbook does not read; open the file in Excel and save it again, or "
                        f"export it again")


# --- 21: files that are something else --------------------------------------------------------


def openpyxl_book(path: Path, *sheets: tuple[str, list[list]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("sales.xlsx", b"customer,date,amount\na,2024-01-05,1\n",
         "sales.xlsx is a text file (CSV), not an Excel workbook: rename it to sales.csv"),
        ("sales.xlsx", "customer\tdate\n".encode("utf-16"),
         "sales.xlsx is a text file (Unicode text or CSV), not an Excel workbook: rename it to sales.csv"),
        ("sales.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
         "sales.xlsx is an old Excel 97-2003 workbook (.xls) or a password-protected workbook, not an .xlsx: open "
         "it in Excel, remove any password and save it as an Excel Workbook (.xlsx)"),
        ("sales.xlsx", b"", "sales.xlsx is empty (0 bytes): export the data again"),
        ("sales.xlsx", b"<html><body><table><tr><td>1</td></tr></table></body></html>",
         "sales.xlsx is a web page (HTML) saved under a workbook's name, not an Excel workbook: open it in Excel "
         "and save it as an Excel Workbook (.xlsx)"),
        ("sales.xlsx", b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
         "sales.xlsx is an Excel 2003 XML spreadsheet, not an .xlsx workbook: open it in Excel and save it as an "
         "Excel Workbook (.xlsx)"),
        ("sales.xlsx", b"PK\x03\x04" + bytes(100),
         "sales.xlsx is damaged or incomplete (not a whole Excel workbook): export or download it again"),
        ("sales.csv", b"", "sales.csv is empty (0 bytes): export the data again"),
        ("sales.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
         "sales.csv is an old Excel 97-2003 workbook (.xls), not a CSV text file: open it in Excel and save it as "
         "an Excel Workbook (.xlsx) or as CSV"),
    ],
)
def test_a_file_that_is_something_else_is_named_for_what_it_is(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_transactions(path)
    assert error(e) == message
    code, err = segment(capsys, str(path), "--out", str(tmp_path / "out.xlsx"))
    assert (code, err) == (2, f"tierbook: error: {message}\n")
    assert not (tmp_path / "out.xlsx").exists()


def test_an_xlsx_named_csv_and_an_ods_and_a_plain_zip(tmp_path):
    workbook = openpyxl_book(tmp_path / "book.xlsx", ("Sales", [HEAD]))
    (tmp_path / "book.csv").write_bytes(workbook.read_bytes())
    with pytest.raises(InputError) as e:
        read_transactions(tmp_path / "book.csv")
    assert error(e) == "book.csv is an Excel workbook (.xlsx), not a CSV text file: rename it to book.xlsx"
    with zipfile.ZipFile(tmp_path / "calc.xlsx", "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("content.xml", "<x/>")
    with pytest.raises(InputError) as e:
        read_transactions(tmp_path / "calc.xlsx")
    assert error(e) == ("calc.xlsx is an OpenDocument spreadsheet (LibreOffice .ods), not an Excel workbook: save "
                        "it as an Excel Workbook (.xlsx)")
    with zipfile.ZipFile(tmp_path / "photos.xlsx", "w") as other:
        other.writestr("a.txt", "x")
    with pytest.raises(InputError) as e:
        read_transactions(tmp_path / "photos.xlsx")
    assert error(e) == "photos.xlsx is a zip archive but not an Excel workbook: export the data as .xlsx"


@pytest.mark.parametrize("bom", [True, False])
def test_a_utf16_csv_is_read(tmp_path, bom):
    text = "Клиент\tДата\tСумма\nООО Ромашка\t19.11.2023\t1 234,56\n\nИП Иванов\t20.11.2023\t5\n"
    data = text.encode("utf-16") if bom else text.encode("utf-16-le")
    path = tmp_path / "unicode.csv"
    path.write_bytes(data)
    tx, report = read_transactions(path)
    assert tx["customer"].tolist() == ["ООО Ромашка", "ИП Иванов"]
    assert tx["amount"].tolist() == [1234.56, 5.0]
    assert tx.index.tolist() == [2, 4]
    assert as_list(report) == [("unicode.csv", 3, "", "", "blank row, skipped")]


def test_an_empty_first_sheet_names_the_sheets_and_sheet_option(tmp_path, capsys):
    path = openpyxl_book(tmp_path / "b.xlsx", ("Лист1", []), ("Data", [HEAD, ["a", dt.date(2024, 1, 5), 1, 1]]))
    message = 'Sheet "Лист1" of b.xlsx is empty: choose the sheet with the transactions with --sheet; its sheets are "Лист1", "Data"'
    with pytest.raises(InputError) as e:
        read_transactions(path)
    assert error(e) == message
    assert segment(capsys, str(path), "--out", str(tmp_path / "o.xlsx")) == (2, f"tierbook: error: {message}\n")
    tx, _ = read_transactions(path, sheet="Data")
    assert tx["customer"].tolist() == ["a"]
    alone = openpyxl_book(tmp_path / "c.xlsx", ("Лист1", []))
    with pytest.raises(InputError) as e:
        read_transactions(alone)
    assert error(e) == 'Sheet "Лист1" of c.xlsx is empty: it has no other sheets'


# --- 6: zip bombs ----------------------------------------------------------------------------


def bomb(path: Path, megabytes: int) -> Path:
    strings = b'<?xml version="1.0"?><sst xmlns="' + MAIN.encode() + b'"><si><t>' + b"A" * (megabytes << 20) + b"</t></si></sst>"
    return xlsx(path, [HEAD, ["a", 45000, 1, 1]], extra={"xl/sharedStrings.xml": strings})


def test_a_zip_bomb_is_refused_before_it_is_unpacked_and_the_limit_can_be_raised(tmp_path, monkeypatch, capsys):
    path = bomb(tmp_path / "bomb.xlsx", 40)
    assert path.stat().st_size < 100_000
    code, err = segment(capsys, str(path), "--out", str(tmp_path / "o.xlsx"))
    assert code == 2 and err.startswith(
        "tierbook: error: bomb.xlsx has a part (xl/sharedStrings.xml) that unpacks to 1,0")
    assert err.endswith("times its packed size, more than the 200 times tierbook reads (a file built to exhaust "
                        "memory looks like this): if it is a genuine workbook, raise the limit with the environment "
                        "variable TIERBOOK_MAX_ZIP_RATIO and run again\n")
    monkeypatch.setenv("TIERBOOK_MAX_ZIP_RATIO", "5000")
    monkeypatch.setenv("TIERBOOK_MAX_UNPACKED_MB", "20")
    with pytest.raises(InputError) as e:
        read_transactions(path)
    assert error(e) == ("bomb.xlsx unpacks to 40 MB, more than the 20 MB tierbook reads (a file built to exhaust "
                        "memory looks like this): if it is a genuine workbook, raise the limit with the environment "
                        "variable TIERBOOK_MAX_UNPACKED_MB and run again")
    monkeypatch.setenv("TIERBOOK_MAX_UNPACKED_MB", "100")
    tx, _ = read_transactions(path)  # raised limits: the genuine (if odd) workbook is read
    assert tx["customer"].tolist() == ["a"]
    monkeypatch.setenv("TIERBOOK_MAX_UNPACKED_MB", "lots")
    with pytest.raises(InputError) as e:
        read_transactions(path)
    assert error(e) == "TIERBOOK_MAX_UNPACKED_MB must be a number, got 'lots'"


def test_a_small_highly_compressed_part_is_not_a_bomb(tmp_path):
    tx, _ = read_transactions(bomb(tmp_path / "small.xlsx", 2))  # 2 MB at ~1000x: under the 16 MB floor
    assert len(tx) == 1


# --- 16: title rows above the header -------------------------------------------------------


def test_title_rows_above_the_header_are_skipped_and_rows_keep_their_numbers(tmp_path):
    path = openpyxl_book(tmp_path / "1c.xlsx", ("TDSheet", [
        ["Отчет по продажам"], ["Период: 01.01.2024 - 31.01.2024"], [],
        ["Клиент", "Дата", "Сумма"],  # row 4
        ["ООО Ромашка", dt.date(2024, 1, 5), 100.5],
        ["ИП Иванов", dt.date(2024, 1, 6), "n/a"],
        ["Итого", None, 100.5],
    ]))
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [5]
    assert tx["date"].tolist() == [pd_day("2024-01-05")] and tx["amount"].tolist() == [100.5]
    assert as_list(report) == [("TDSheet", 6, "Сумма", "n/a", "not a number"),
                               ("TDSheet", 7, "", "Итого", "totals row, skipped")]


def test_without_a_header_anywhere_the_headers_of_the_first_row_are_named(tmp_path):
    path = openpyxl_book(tmp_path / "t.xlsx", ("S", [["Отчет по продажам"], ["x", "y"]]))
    with pytest.raises(InputError) as e:
        read_transactions(path)
    assert error(e).startswith('Sheet "S" has no column for customer, date, amount (headers found: "Отчет по продажам"')


# --- no traceback reaches the user -------------------------------------------------------------


def test_broken_files_through_the_installed_command_print_one_line(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"customer;date;amount\n")
    xlsx(tmp_path / "b.xlsx", sheet=sheet_xml([HEAD], prolog='<!DOCTYPE x [<!ENTITY a "b">]>'))
    (tmp_path / "c.xlsx").write_bytes(b"PK\x03\x04garbage")
    for name in ("a.xlsx", "b.xlsx", "c.xlsx"):
        done = subprocess.run([TIERBOOK, "segment", str(tmp_path / name), "--out", str(tmp_path / "o.xlsx")],
                              capture_output=True, text=True, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and lines[-1].startswith("tierbook: error: ") and "Traceback" not in done.stderr


# --- 12: numeric ids as the user wrote them ------------------------------------------------------


@pytest.mark.parametrize("arrow", [True, False])
def test_numeric_ids_and_phones_keep_every_digit(arrow, monkeypatch):
    import pandas as pd

    from tierbook import arrowless, read

    if not arrow:
        monkeypatch.setattr(read, "pa", arrowless.pa)
        monkeypatch.setattr(read, "pc", arrowless.pc)
    raw = pd.DataFrame({"customer": [123456789012.0, 1001.0, 12.5, 9007199254740993.0], "date": [45000] * 4,
                        "amount": [1.0, 2.0, 3.0, 4.0], "order_id": [4607001234567.0] * 4, "phone": [79001234567.0] * 4})
    tx, report = read.clean_transactions(raw)
    assert tx["customer"].tolist()[:3] == ["123456789012", "1001", "12.5"]
    assert tx["order_id"].tolist()[0] == "4607001234567" and tx["phone"].tolist()[0] == "79001234567"
    assert report.empty


def test_numeric_ids_in_a_workbook_and_a_bad_amount_shown_in_full(tmp_path):
    path = openpyxl_book(tmp_path / "ids.xlsx", ("Sales", [HEAD, [123456789012, dt.date(2024, 1, 5), 10, 1],
                                                            [123456789013, dt.date(2024, 1, 5), "12345678901234 р", 1]]))
    tx, report = read_transactions(path)
    assert tx["customer"].tolist() == ["123456789012", "123456789013"]
    assert tx["amount"].tolist() == [10.0, 12345678901234.0]


# --- 13: a typo date far in the future ----------------------------------------------------------


def test_a_date_in_the_future_is_a_reported_row_not_the_analysis_month(tmp_path, capsys):
    rows = [HEAD] + [[f"c{i}", dt.date(2024, 1 + i % 12, 5), 100 + i, 1] for i in range(24)]
    rows.append(["c1", dt.date(2042, 3, 5), 5000, 1])  # typed 2042 for 2024: row 26
    path = openpyxl_book(tmp_path / "typo.xlsx", ("Sales", rows))
    tx, report = read_transactions(path)
    assert len(tx) == 24 and tx["date"].max() == pd_day("2024-12-05")
    latest = dt.date.today() + dt.timedelta(days=1)
    assert as_list(report) == [("Sales", 26, "date", "2042-03-05",
                                f"date in the future (after {latest:%Y-%m-%d}: a typo?)")]
    code, err = segment(capsys, str(path), "--out", str(tmp_path / "o.xlsx"))
    assert code == 0
    from tierbook.workbook import workbook_properties

    assert workbook_properties(tmp_path / "o.xlsx")["month"] == "2024-12"


def test_the_latest_plausible_date_can_be_set(monkeypatch):
    import pandas as pd

    from tierbook.read import clean_transactions

    raw = pd.DataFrame({"customer": ["a", "b"], "date": ["2024-01-05", "2024-03-01"], "amount": [1.0, 2.0]})
    monkeypatch.setenv("TIERBOOK_LATEST_DATE", "2024-02-29")
    tx, report = clean_transactions(raw)
    assert tx["customer"].tolist() == ["a"]
    assert as_list(report) == [("data", 3, "date", "2024-03-01", "date in the future (after 2024-02-29: a typo?)")]
    monkeypatch.setenv("TIERBOOK_LATEST_DATE", "soon")
    with pytest.raises(InputError) as e:
        clean_transactions(raw)
    assert error(e) == "TIERBOOK_LATEST_DATE must be a day like 2024-12-31, got 'soon'"


# --- 20: formulas never calculated; 15: merged customer cells --------------------------------------


def test_formulas_without_values_are_named_as_such_not_empty(tmp_path):
    path = openpyxl_book(tmp_path / "f.xlsx", ("S", [
        ["Клиент", "Дата", "Сумма", "Кол-во"],
        ["a", dt.date(2024, 1, 5), "=D2*10", 1],  # openpyxl writes the formula and no value
        ["b", dt.date(2024, 1, 6), 20, "=1+1"],
        ["c", dt.date(2024, 1, 7), None, 3],  # really empty
        ["d", "=TODAY()", 5, 3],
    ]))
    tx, report = read_transactions(path)
    never = "formula never calculated (the file was written by a program, not saved by Excel: open it in Excel and save it, then run again)"
    assert tx.index.tolist() == [3]
    assert as_list(report) == [
        ("S", 2, "Сумма", "=D2*10", never),
        ("S", 3, "Кол-во", "=1+1", never + ", left empty"),
        ("S", 4, "Сумма", "", "amount is empty"),
        ("S", 5, "Дата", "=TODAY()", never),
    ]


def test_a_calculated_formula_is_its_value(tmp_path):
    rows = [HEAD, ["a", 45000, ("", "<f>2*5</f><v>10</v>"), 1], ["b", 45000, ("", "<f>1+1</f>"), 1]]
    tx, report = read_transactions(xlsx(tmp_path / "v.xlsx", rows))
    assert tx["amount"].tolist() == [10.0]
    assert [r[3:] for r in as_list(report)] == [("=1+1", report["problem"].iloc[0])]
    assert report["problem"].iloc[0].startswith("formula never calculated")


def test_merged_customer_cells_are_filled_down_but_merged_amounts_are_not(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "S"
    for row in [["Title"], [], ["Клиент", "Дата", "Сумма", "Менеджер"],
                ["ООО Ромашка", dt.date(2024, 1, 5), 10, "Ann"],  # row 4; A4:A6 and D4:D6 merged
                [None, dt.date(2024, 1, 6), 20, None],
                [None, dt.date(2024, 1, 7), 30, None],
                ["ИП", dt.date(2024, 1, 8), 40, "Bob"],  # C7:C8 merged: one amount over two rows
                ["ИП", dt.date(2024, 1, 9), None, "Bob"],
                [None, dt.date(2024, 1, 9), 7, None]]:  # not merged: customer is empty
        sheet.append(row)
    for cells in ("A4:A6", "D4:D6", "C7:C8", "A1:D1"):
        sheet.merge_cells(cells)
    book.save(tmp_path / "m.xlsx")
    tx, report = read_transactions(tmp_path / "m.xlsx")
    assert tx.index.tolist() == [4, 5, 6, 7]
    assert tx["customer"].tolist() == ["ООО Ромашка"] * 3 + ["ИП"]
    assert tx["manager"].tolist() == ["Ann"] * 3 + ["Bob"]
    assert tx["amount"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert as_list(report) == [("S", 8, "Сумма", "", "amount is empty"), ("S", 9, "Клиент", "", "customer is empty")]


# --- 14: US dates ----------------------------------------------------------------------------------


def dates_of(*cells: str) -> tuple[list[str], list[tuple]]:
    import pandas as pd

    from tierbook.read import clean_transactions

    tx, report = clean_transactions(pd.DataFrame({"customer": ["a"] * len(cells), "date": list(cells),
                                                  "amount": [1.0] * len(cells)}))
    return tx["date"].dt.strftime("%Y-%m-%d").tolist(), [r[1:] for r in as_list(report)]


ASSUMED = ("day and month could be either way in every date of this column; read day first (DD/MM/YYYY): for "
           "US dates (MM/DD/YYYY) set TIERBOOK_DATE_ORDER=MDY")


def test_a_column_with_a_month_first_date_is_read_month_first():
    assert dates_of("01/02/2024", "11/19/2023", "3/4/24 10:30 PM") == (["2024-01-02", "2023-11-19", "2024-03-04"], [])


def test_a_column_with_a_day_first_date_is_read_day_first_and_dots_are_always_day_first():
    assert dates_of("01/02/2024", "19/11/2023") == (["2024-02-01", "2023-11-19"], [])
    assert dates_of("01.02.2024", "11/19/2023") == (["2024-02-01", "2023-11-19"], [])


def test_when_nothing_proves_the_order_the_assumption_is_reported_once_and_can_be_set(monkeypatch):
    assert dates_of("05/05/2024", "01/02/2024", "03/04/2024") == (
        ["2024-05-05", "2024-02-01", "2024-04-03"], [(3, "date", "01/02/2024", ASSUMED)])
    assert dates_of("05/05/2024") == (["2024-05-05"], [])  # the same either way: nothing to say
    monkeypatch.setenv("TIERBOOK_DATE_ORDER", "mdy")
    assert dates_of("01/02/2024", "03/04/2024") == (["2024-01-02", "2024-03-04"], [])
    monkeypatch.setenv("TIERBOOK_DATE_ORDER", "YMD")
    with pytest.raises(InputError) as e:
        dates_of("01/02/2024")
    assert error(e) == "TIERBOOK_DATE_ORDER must be DMY or MDY, got 'YMD'"


def test_a_column_mixing_both_orders_reports_the_impossible_ones():
    assert dates_of("01/02/2024", "11/19/2023", "19/11/2023") == (
        ["2024-02-01", "2023-11-19"], [(3, "date", "11/19/2023", "not a date")])


# --- 15: 1C reports grouped by customer --------------------------------------------------------------


GROUP = "customer group row (a subtotal: its documents below are read as its payments), skipped"


def test_a_1c_report_grouped_by_customer_reads_documents_as_the_customers_payments(tmp_path):
    path = openpyxl_book(tmp_path / "1c.xlsx", ("TDSheet", [
        ["Продажи по контрагентам"], ["Период: апрель 2024"], [], ["Контрагент", "Дата", "Сумма"],
        ["ООО Ромашка", None, 3000],  # row 5: the group row and its subtotal
        ["Реализация товаров и услуг 00000012 от 10.04.2024 12:00:00", dt.datetime(2024, 4, 10, 12), 1000],
        ["Реализация товаров и услуг 00000013 от 15.04.2024", None, 2000],  # the date only in its name
        ["ИП Иванов", None, 500],
        ["Реализация товаров и услуг 00000014 от 11.04.2024 0:00:00", None, 500],
        ["ООО Без документов", dt.date(2024, 4, 3), 70],  # a plain row: no document under it
        ["Итого", None, 3570],
        ["Возврат товаров от покупателя 0001 от 20.04.2024", None, -5],  # after the totals: no customer
    ]))
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [6, 7, 9, 10]
    assert tx["customer"].tolist() == ["ООО Ромашка", "ООО Ромашка", "ИП Иванов", "ООО Без документов"]
    assert tx["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-04-10", "2024-04-15", "2024-04-11", "2024-04-03"]
    assert tx["amount"].tolist() == [1000.0, 2000.0, 500.0, 70.0]
    assert as_list(report) == [
        ("TDSheet", 5, "", "ООО Ромашка", GROUP), ("TDSheet", 8, "", "ИП Иванов", GROUP),
        ("TDSheet", 11, "", "Итого", "totals row, skipped"),
        ("TDSheet", 12, "Дата", "", "date is empty"),  # a document with no customer above it: not guessed
    ]


@pytest.mark.parametrize("arrow", [True, False])
def test_a_customer_named_with_ot_is_not_a_document(arrow, monkeypatch):
    import pandas as pd

    from tierbook import arrowless, read

    if not arrow:
        monkeypatch.setattr(read, "pa", arrowless.pa)
        monkeypatch.setattr(read, "pc", arrowless.pc)
    raw = pd.DataFrame({"customer": ["Подарки от Деда", "ООО Ромашка", "Счет 1 от 01.04.2024"],
                        "date": ["2024-04-01", None, "2024-04-02"], "amount": [1.0, 5.0, 5.0]}, dtype=object)
    tx, report = read.clean_transactions(raw)
    assert tx["customer"].tolist() == ["Подарки от Деда", "ООО Ромашка"]
    assert tx.index.tolist() == [2, 4]
    assert as_list(report) == [("data", 3, "", "ООО Ромашка", GROUP)]


# --- 19: the smaller ones ---------------------------------------------------------------------------


@pytest.mark.parametrize("arrow", [True, False])
def test_accents_control_characters_dot_thousands_and_serial_60(arrow, monkeypatch):
    import unicodedata

    import pandas as pd

    from tierbook import arrowless, read

    if not arrow:
        monkeypatch.setattr(read, "pa", arrowless.pa)
        monkeypatch.setattr(read, "pc", arrowless.pc)
    raw = pd.DataFrame({
        "customer": ["Café", unicodedata.normalize("NFD", "Café"), "ACME\x07", "ACME", " AC\x00ME ", "x", "y", "z",
                     unicodedata.normalize("NFD", "Йошкар")],
        "date": ["2024-01-05"] * 5 + [60, 1, 59, 61],
        "amount": ["1.234,56", "2.500", "5", "2.500 ₽", "12.5", "1", "1", "1", "99,5"],
    }, dtype=object)
    tx, report = read.clean_transactions(raw)
    assert tx["customer"].tolist() == ["Café", "Café", "ACME", "ACME", "ACME", "y", "z", "Йошкар"]
    assert len(set(tx["customer"])) == 5  # NFC and NFD Café are one customer, ACME\x07 is ACME
    assert tx["amount"].tolist() == [1234.56, 2500.0, 5.0, 2500.0, 12.5, 1.0, 1.0, 99.5]
    assert tx["date"].dt.strftime("%Y-%m-%d").tolist()[-3:] == ["1900-01-01", "1900-02-28", "1900-03-01"]
    thousands = ("read as thousands (2.500 = 2500): the column's other amounts write decimals with a comma "
                 "(1.234,56); check it")
    assert [r[1:3] + r[4:] for r in as_list(report)] == [
        (3, "amount", thousands), (4, "customer", "invisible control character removed"),
        (5, "amount", thousands), (6, "customer", "invisible control character removed"),
        (7, "date", "not a date"),  # serial 60: 29 February 1900, which never was
    ]


def test_a_dot_is_a_decimal_point_where_no_amount_has_a_decimal_comma():
    import pandas as pd

    from tierbook.read import clean_transactions

    raw = pd.DataFrame({"customer": ["a", "b"], "date": ["2024-01-05"] * 2, "amount": ["2.500", "1,234.56"]})
    tx, report = clean_transactions(raw)
    assert tx["amount"].tolist() == [2.5, 1234.56] and report.empty


def test_a_csv_with_a_title_above_the_header_and_us_dates(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("Отчет по продажам\n\nКлиент;Дата;Сумма\nа;01/02/2024;1\nб;11/19/2023;2\n", encoding="utf-8")
    tx, report = read_transactions(path)
    assert tx.index.tolist() == [4, 5]
    assert tx["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-02", "2023-11-19"]
    assert report.empty


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp1251", "utf-8-sig"])
def test_the_copied_sales_sheet_of_a_csv_has_the_columns_the_reader_read(tmp_path, encoding):
    """The copy of the user's sheet in the workbook is made by the reader's rules for the
    encoding and separator: a UTF-16 export (Excel's "Unicode text") copied as one column
    reading 'яюКлиент\\tДата\\tСумма' when the copy decoded it on its own."""
    import openpyxl

    from tierbook import jobs

    text = "Клиент\tДата\tСумма\nООО Ромашка\t19.11.2023\t1 234,56\nИП Иванов\t20.11.2023\t5\n"
    path = tmp_path / "unicode.csv"
    path.write_bytes(text.encode(encoding))
    out = tmp_path / "out.xlsx"
    jobs.segment_file(path, out, lang="ru")
    book = openpyxl.load_workbook(out, read_only=True)
    copy = next(ws for ws in book.worksheets if ws.title == "unicode")
    rows = [list(r) for r in copy.iter_rows(values_only=True)]
    assert rows[0][:3] == ["Клиент", "Дата", "Сумма"] and len(rows) == 3
    assert rows[1][0] == "ООО Ромашка" and rows[2][0] == "ИП Иванов"
