"""=SEGMENT(A2) answered by the workbook (issue 12.1): the LAMBDA names the file writer
stores, the plain fallback formula recalculated by LibreOffice, and the add-in's
functions given the Customers table, called through xlwings' custom_functions_call.
Nothing here may depend on what an earlier call left in the process."""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import tierbook.excel as excel
from libreoffice import convert
from test_excel import EPOCH, call, sheet_matrix
from tierbook import jobs, labels, lookups
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.settings import Settings
from tierbook.sheets import next_contacts, primary_segment

#: Functions of Excel 2007 that a stored formula may name without the _xlfn. prefix.
OLD_FUNCTIONS = {"IF", "TRIM", "INDEX", "MATCH", "IFERROR"}


@pytest.fixture(scope="module")
def engine():
    tx, issues = read_transactions(demo_path())
    return classify(tx, Settings(), issues)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The demo classified by `tierbook segment`, in English and in Russian."""
    folder = tmp_path_factory.mktemp("files")
    out = {}
    for lang in ("en", "ru"):
        out[lang] = folder / f"tierbook_{lang}.xlsx"
        jobs.segment_file(demo_path(), out[lang], lang=lang)
    return out


def expected(engine, field: str, lang: str) -> dict[str, object]:
    """customer → what FIELD's function must answer, from the engine (in LANG, as the
    Customers table shows it)."""
    customers = engine.customers
    if field == "segment":
        values = [labels.value("segment", c, lang) for c in primary_segment(customers)]
    elif field == "next_contact":
        values = [None if pd.isna(d) else d.to_pydatetime() for d in next_contacts(customers, engine.as_of)["date"]]
    elif field in ("lifecycle", "quadrant", "size_tier"):
        values = [labels.value(field, c, lang) or None for c in customers[field]]
    else:
        values = customers[field].tolist()
    return dict(zip(customers["customer"], values))


def referenced_columns(formula: str) -> list[str]:
    """The Customers columns a formula refers to, by header: tbCustomers[[Header]]."""
    return [h.replace("'", "") for h in re.findall(r"tbCustomers\[\[((?:[^\]']|'.)*)\]\]", formula)]


def table_columns(path: Path, lang: str) -> dict[str, list]:
    """Header → the values of that column of the written Customers table."""
    rows = list(openpyxl.load_workbook(path, read_only=True)[labels.sheet_title("customers", lang)]
                .iter_rows(values_only=True))
    return {h: [r[i] if i < len(r) else None for r in rows[1:]] for i, h in enumerate(rows[0])}


# --------------------------------------------------------------------------- the names in the file


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_file_stores_a_lambda_name_for_every_function_with_the_future_function_prefixes(files, lang):
    names = {n: d.attr_text for n, d in openpyxl.load_workbook(files[lang]).defined_names.items()}
    assert set(lookups.CUSTOMER_FUNCTIONS) <= set(names)
    for name in lookups.CUSTOMER_FUNCTIONS:
        text = names[name]
        assert text.startswith("_xlfn.LAMBDA(_xlpm.customer,"), text
        assert "_xlfn.XLOOKUP(" in text and "_xlfn.LET(" in text
        code = re.sub(r'"[^"]*"|tbCustomers\[\[(?:[^\]\']|\'.)*\]\]', "", text)  # no texts, no column headers
        called = set(re.findall(r"(?<![\w.])([A-Z][A-Z0-9.]*)\(", code))
        assert called <= OLD_FUNCTIONS, (name, called)  # every newer function carries its _xlfn.
        parameters = set(re.findall(r"(?<![\w.])(customer|key|found)(?!\w)", code))
        assert not parameters, (name, parameters)  # every parameter is _xlpm.-prefixed


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_each_name_looks_up_the_customer_in_the_column_holding_the_engines_answer(files, engine, lang):
    columns = table_columns(files[lang], lang)
    names = {n: d.attr_text for n, d in openpyxl.load_workbook(files[lang]).defined_names.items()}
    for name, field in lookups.CUSTOMER_FUNCTIONS.items():
        keys, answers = referenced_columns(names[name])
        assert keys in columns and answers in columns, (name, keys, answers, list(columns)[-3:])
        got = dict(zip(columns[keys], columns[answers]))
        assert got == expected(engine, field, lang), (lang, name)


def test_the_russian_names_point_at_the_russian_headers(files):
    names = {n: d.attr_text for n, d in openpyxl.load_workbook(files["ru"]).defined_names.items()}
    assert referenced_columns(names["SEGMENT"]) == ["Клиент", "Сегмент"]
    assert referenced_columns(names["NEXT_CONTACT"]) == ["Клиент", "Следующий контакт"]


def test_a_split_workbook_carries_the_names_too(files, tmp_path):
    from tierbook.workbook import split_workbook

    written = split_workbook(files["en"], "manager", tmp_path)
    names = openpyxl.load_workbook(written[0]).defined_names
    assert set(lookups.CUSTOMER_FUNCTIONS) <= set(names)


# --------------------------------------------------------------------------- the fallback in LibreOffice


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_libreoffice_recalculates_the_fallback_formula_to_the_engines_segment(files, engine, lang, tmp_path):
    """The plain formula for LibreOffice and older Excel, typed beside every customer of
    the demo (and an unknown one, an empty cell) in a copy of the file."""
    book = openpyxl.load_workbook(files[lang])
    ws = book.create_sheet("Mine")
    customers = engine.customers["customer"].tolist() + ["nobody", None]
    for r, customer in enumerate(customers, 1):
        cell = ws.cell(row=r, column=1, value=customer)
        if isinstance(customer, str):
            cell.data_type = "s"  # "=HYPERLINK Trading Co" is a name, not a formula
        ws.cell(row=r, column=2, value=lookups.fallback_formula("segment", f"A{r}", lang))
        ws.cell(row=r, column=3, value=lookups.fallback_formula("vip_months", f"A{r}", lang))
    book.save(tmp_path / "typed.xlsx")
    (out,) = convert([tmp_path / "typed.xlsx"], "xlsx", tmp_path / "out", tmp_path / "profile")
    got = [(r[1], r[2]) for r in openpyxl.load_workbook(out, data_only=True)["Mine"].iter_rows(values_only=True)]
    segments, months = expected(engine, "segment", lang), expected(engine, "vip_months", lang)
    assert got[:-2] == [(segments[c], months[c]) for c in customers[:-2]]
    assert got[-2] == (lookups.unknown_customer(lang), lookups.unknown_customer(lang))  # in the book's language
    assert got[-1] in ((None, None), ("", ""))


# --------------------------------------------------------------------------- the add-in's functions


def serial(value: object) -> object:
    return (value - EPOCH) / dt.timedelta(days=1) if isinstance(value, dt.datetime) else ("" if value is None else value)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_given_the_customers_table_every_function_answers_what_the_engine_says_without_classifying(
        files, engine, lang):
    excel.CACHE.clear()
    table = sheet_matrix(files[lang], labels.sheet_title("customers", lang))  # tbCustomers[#All] as Office.js sends it
    customers = [[c] for c in engine.customers["customer"]]
    for field in lookups.CUSTOMER_FIELDS:
        got = [row[0] for row in call(field, customers, table)]
        want = [serial(v) for v in expected(engine, field, lang).values()]
        assert got == want, field
    assert excel.CACHE.computed == 0  # looked up, never classified
    assert call("segment", [["nobody"], [""]], table) == [[lookups.unknown_customer(lang)], [""]]


def test_two_books_of_the_same_name_with_different_tables_get_their_own_answers(files, engine, tmp_path):
    table = sheet_matrix(files["en"], "Customers")
    other = [list(r) for r in table]
    at = other[0].index("segment")
    redwood = next(i for i, r in enumerate(other) if r[0] == "Redwood Supplies Inc")
    other[redwood][at] = "Regular"  # the manager's copy, edited by hand
    caller = "[demo_sales.xlsx]Sales!N2"  # the same workbook name for both
    assert call("segment", "Redwood Supplies Inc", table, caller=caller) == [["VIP"]]
    assert call("segment", "Redwood Supplies Inc", other, caller=caller) == [["Regular"]]
    assert call("segment", "Redwood Supplies Inc", table, caller=caller) == [["VIP"]]


def test_without_a_table_the_cell_says_what_to_type_and_never_answers_from_memory(files):
    table = sheet_matrix(files["en"], "Customers")
    assert call("segment", "Redwood Supplies Inc", table) == [["VIP"]]
    assert call("segment", "Redwood Supplies Inc") == [[excel.NO_TABLE]]
    assert "tbCustomers[#All]" in excel.NO_TABLE and len(excel.NO_TABLE) <= excel.REASON_CHARS
    assert call("movement", "Redwood Supplies Inc", table) == [[excel.NO_TRANSACTIONS, ""]]
    assert call("segment", "Redwood Supplies Inc", table, "criterion=units") == [[excel.NO_SETTINGS]]
    assert not hasattr(excel, "CURRENT")


def test_a_customers_table_of_an_older_tierbook_says_to_run_again(files):
    table = [row[:-2] for row in sheet_matrix(files["en"], "Customers")]  # without segment, next_contact
    assert call("segment", "Redwood Supplies Inc", table) == [[
        'tierbook: this Customers table has no column segment, next_contact (an older tierbook wrote it): '
        'click "Segment customers" again']]


def test_a_transactions_range_is_still_classified(engine):
    excel.CACHE.clear()
    rows = sheet_matrix(demo_path(), "Sales")
    assert call("segment", "Redwood Supplies Inc", rows) == [["VIP"]]
    assert excel.CACHE.computed == 1


def test_a_fresh_python_answers_from_the_table_alone(files, tmp_path):
    """A "server restart": a new process that never saw a ribbon run or the file."""
    import json

    given = tmp_path / "given.json"
    given.write_text(json.dumps(sheet_matrix(files["en"], "Customers"), default=str), encoding="utf-8")
    script = ("import json, sys; sys.path.insert(0, 'tests'); from test_excel import call; "
              "print(json.dumps(call('segment', [['Redwood Supplies Inc'], ['nobody']], "
              "json.load(open(sys.argv[1])))))")
    done = subprocess.run([sys.executable, "-c", script, str(given)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [["VIP"], [lookups.UNKNOWN_CUSTOMER]]
