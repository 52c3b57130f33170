"""Issue 13: every text of the Russian workbook is Russian. The demo's dirty export is
classified in Russian, a reactivation test planned, its Contact log filled in (with a
bad row) and measured; then every text cell tierbook wrote is scanned for Latin-letter
words, leaving out what is the user's: customer data (names, managers, emails, phones,
contact times, the values and places Input issues quotes), the copy of the user's
sheet and the Contact log, formulas, and the few proper names below."""

from __future__ import annotations

import datetime as dt
import re

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from tierbook import jobs, labels
from tierbook.demo import demo_path
from tierbook.workbook import read_customers, workbook_properties

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
#: Proper names a Russian text may hold: the VIP tier, the template's sheet «Texts».
PROPER_NAMES = {"VIP", "Texts"}
#: Columns holding the user's data (field keys; their Russian headers are looked up).
DATA_COLUMNS = ("customer", "manager", "email", "phone", "contact_time", "value", "sheet", "column")


@pytest.fixture(scope="module")
def russian_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("ru") / "tierbook.xlsx"
    jobs.segment_file(demo_path(), out, lang="ru")
    jobs.reactivation_plan(out)
    wb = openpyxl.load_workbook(out)
    rows = list(wb[labels.sheet_title("reactivation", "ru")].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if labels.header("customer", "ru") in r)
    who, variant = rows[at].index(labels.header("customer", "ru")), rows[at].index(labels.header("variant", "ru"))
    log = wb[labels.sheet_title("contact_log", "ru")]
    for row in rows[at + 1:at + 40]:
        log.append([row[who], dt.datetime(2026, 10, 1), row[variant], "телефон", "звонок"])
    log.append(["nobody", "next week", "Z", "pigeon", "?"])  # a dirty log row: its problems in Input issues
    wb.save(out)
    jobs.reactivation_results(out)
    return out


def english_words(path) -> list[tuple[str, str, str]]:
    """(sheet, cell, text) of every text cell tierbook wrote with a Latin-letter word
    that is not the user's data nor a proper name."""
    meta = workbook_properties(path)
    customers, _ = read_customers(path)
    names = sorted({v for c in ("customer", "manager", "email", "phone") for v in customers[c] if v},
                   key=len, reverse=True)
    data_headers = {labels.header(k, "ru") for k in DATA_COLUMNS}
    users = {meta["source_sheet"], labels.sheet_title("contact_log", "ru")}
    found = []
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.title in users:
            continue
        data_cells = set()
        for table in ws.tables.values():
            c0, r0, c1, r1 = range_boundaries(table.ref)
            for c in range(c0, c1 + 1):
                if ws.cell(row=r0, column=c).value in data_headers:
                    data_cells |= {(r, c) for r in range(r0 + 1, r1 + 1)}
        for row in ws.iter_rows():
            for cell in row:
                text = cell.value
                if not isinstance(text, str) or text.startswith("=") or (cell.row, cell.column) in data_cells \
                        or not LATIN_WORD.search(text):
                    continue
                rest = text
                for name in names:  # customers and managers named in a text (the concentration alert, strata)
                    if name in rest:
                        rest = rest.replace(name, " ")
                if set(LATIN_WORD.findall(rest)) - PROPER_NAMES:
                    found.append((ws.title, cell.coordinate, text))
    return found


def test_every_text_tierbook_writes_in_the_russian_book_is_russian(russian_book):
    wb = openpyxl.load_workbook(russian_book, read_only=True)
    assert {labels.sheet_title(k, "ru") for k in ("issues", "reactivation", "reactivation_results", "movement")} \
        <= set(wb.sheetnames)
    issues = list(wb[labels.sheet_title("issues", "ru")].iter_rows(values_only=True))
    assert len(issues) > 5  # the dirty export and the bad log row are reported
    wb.close()
    assert english_words(russian_book) == []


def test_the_scan_finds_an_english_word(russian_book, tmp_path):
    """The scan can fail: an English task word on a call list is found."""
    wb = openpyxl.load_workbook(russian_book)
    ws = wb[labels.sheet_title("segment:VIP", "ru")]
    (table,) = ws.tables.values()
    c0, r0, _, _ = range_boundaries(table.ref)
    header = [c.value for c in ws[r0]][c0 - 1:]
    ws.cell(row=r0 + 1, column=c0 + header.index(labels.header("task", "ru"))).value = "reminder"
    wb.save(tmp_path / "spoiled.xlsx")
    assert [t for _, _, t in english_words(tmp_path / "spoiled.xlsx")] == ["reminder"]


def test_channels_strata_and_the_seed_are_russian_and_the_plan_reads_back(russian_book):
    from tierbook.targets import TierbookFile, FileTarget

    customers, _ = read_customers(russian_book)
    assert set(customers["channel"]) <= {"email", "phone", "sms", ""}  # codes again when read back
    plan = FileTarget(russian_book).earlier_plan("ru")
    assert plan is not None and plan.seed > 0
    assert set(plan.assignments["channel"]) <= {"email", "phone", "sms", ""}
    assert all(s.rsplit(" / ", 1)[1] in ("huge", "medium", "small") for s in plan.assignments["stratum"])
    rows = [r for r in openpyxl.load_workbook(russian_book, read_only=True)[labels.sheet_title("reactivation", "ru")]
            .iter_rows(values_only=True)]
    assert any(isinstance(v, str) and v.startswith("зерно: ") for r in rows for v in r)
    assert TierbookFile(russian_book).lang == "ru"
    assert labels.month_label("2025-03", "ru") == "03.2025" and labels.month_label("2025-03", "en") == "2025-03"
