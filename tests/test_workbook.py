"""The output workbook: templated sheets, live Summary formulas, Excel conventions.

The demo export is classified once and written in English and Russian; LibreOffice
(headless, required) opens both, recalculates them and saves them again, so the Summary
formulas can be compared with the pandas figures and the charts checked after a real
spreadsheet application has read the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.formula.tokenizer import Tokenizer
from openpyxl.formula.translate import Translator
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries

from helpers import transactions
from libreoffice import chart_parts, convert, structure_problems
from tierbook import labels
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import CONTACT_ACTIONS, CUSTOMER_COLUMNS, classify
from tierbook.settings import Settings
from tierbook.sheets import (LIFECYCLE_ROWS, TIER_ROWS, contact_plan, contact_tasks, load_texts, row_segments,
                             segment_members, share_figures, sheet_tables)
from tierbook.templates import load_template, templates_dir
from tierbook.workbook import read_customers, write_workbook

ROOT = Path(__file__).resolve().parents[1]
SEGMENT_SHEETS = ["VIP", "Good", "Regular", "New", "One-time", "Potential", "Lost VIP"]


@pytest.fixture(scope="module")
def demo():
    tx, issues = read_transactions(demo_path())
    return tx, classify(tx, Settings(), issues)


@pytest.fixture(scope="module")
def books(demo, tmp_path_factory):
    tx, result = demo
    folder = tmp_path_factory.mktemp("books")
    return {lang: write_workbook(result, folder / f"tierbook_{lang}.xlsx", lang=lang, tx=tx,
                                 source=(demo_path(), None)) for lang in ("en", "ru")}


@pytest.fixture(scope="module")
def opened(books):
    """The written workbooks loaded in full once (tests only read them)."""
    return {lang: openpyxl.load_workbook(path) for lang, path in books.items()}


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return tmp_path_factory.mktemp("lo-profile")


@pytest.fixture(scope="module")
def recalculated(books, profile, tmp_path_factory):
    """Both workbooks as LibreOffice saves them after opening and recalculating them."""
    out = convert(books.values(), "xlsx", tmp_path_factory.mktemp("recalculated"), profile)
    return dict(zip(books, out))


def table_box(ws, name):
    return range_boundaries(ws.tables[name].ref)


def table_values(ws, name, first_col_offset=0):
    """A table's data rows as lists (header excluded), read from worksheet WS."""
    min_col, min_row, max_col, max_row = table_box(ws, name)
    return [[ws.cell(row=r, column=c).value for c in range(min_col, max_col + 1)]
            for r in range(min_row + 1, max_row + 1)]


# --------------------------------------------------------------------------- sheets and languages


def test_sheets_in_order_in_english(books):
    book = openpyxl.load_workbook(books["en"], read_only=True)
    assert book.sheetnames == ["Summary", "Contact plan", *SEGMENT_SHEETS, "VIP ledger", "Monthly VIP", "Customers",
                               "Sales", "Input issues"]


def test_lang_ru_translates_sheet_titles_headers_and_values(books, demo):
    _, result = demo
    book = openpyxl.load_workbook(books["ru"], read_only=True)
    assert book.sheetnames == ["Сводка", "План контактов", "VIP", "Хорошие", "Обычные", "Новые", "Разовые",
                               "Потенциальные", "Потерянные VIP", "Реестр VIP", "VIP по месяцам", "Клиенты",
                               "Sales", "Ошибки ввода"]
    rows = list(book["Клиенты"].iter_rows(values_only=True))
    assert list(rows[0]) == [labels.CUSTOMER_HEADERS_RU[c] for c in CUSTOMER_COLUMNS] + ["Сегмент", "Следующий контакт"]
    tiers = {row[1] for row in rows[1:]}
    assert tiers == {"VIP", "Хороший", "Обычный", None}
    assert next(book["Sales"].iter_rows(max_row=1, values_only=True))[-1] == "Сегмент"


def test_english_customers_headers_are_the_column_names(books):
    customers = openpyxl.load_workbook(books["en"], read_only=True)["Customers"]
    header = next(customers.iter_rows(max_row=1, values_only=True))
    assert list(header) == CUSTOMER_COLUMNS + ["segment", "next_contact"]  # then the columns the lookups read


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_customers_sheet_reads_back_as_the_customers_frame_exactly(books, demo, lang):
    _, result = demo
    customers, meta = read_customers(books[lang])
    pd.testing.assert_frame_equal(customers, result.customers)
    assert meta == {"lang": lang, "as_of": "2026-10-30", "month": "2026-10", "criterion": "revenue"}


# --------------------------------------------------------------------------- LibreOffice


def test_libreoffice_opens_every_generated_workbook(recalculated):
    for lang, path in recalculated.items():
        assert openpyxl.load_workbook(path, read_only=True).sheetnames[0] == labels.sheet_title("summary", lang)


def test_nothing_that_makes_excel_repair_a_file(opened):
    for book in opened.values():
        assert structure_problems(book) == []


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_summary_formulas_after_recalculation_equal_the_pandas_figures(opened, books, recalculated, demo, lang):
    _, result = demo
    title = labels.sheet_title("summary", lang)
    written = opened[lang][title]
    calculated = openpyxl.load_workbook(recalculated[lang], data_only=True)[title]
    for table, column, codes in (("tbTiers", "tier", TIER_ROWS), ("tbLifecycles", "lifecycle", LIFECYCLE_ROWS)):
        min_col, min_row, max_col, max_row = table_box(written, table)
        formulas = [[written.cell(row=r, column=c).value for c in range(min_col + 1, max_col + 1)]
                    for r in range(min_row + 1, max_row + 1)]
        assert all(str(f).startswith("=") for row in formulas for f in row)  # live, not values
        got = pd.DataFrame([[calculated.cell(row=r, column=c).value for c in range(min_col + 1, max_col + 1)]
                            for r in range(min_row + 1, max_row + 1)],
                           columns=["customers", "revenue", "profit", "customer_share", "revenue_share",
                                    "profit_share"])
        expected = share_figures(result.customers, column, codes)[got.columns]
        pd.testing.assert_frame_equal(got.astype("float64"), expected.astype("float64"), rtol=1e-9, atol=1e-6)


def test_summary_follows_an_edited_customers_row(profile, tmp_path):
    """Change a Regular customer to VIP in the Customers sheet: after recalculation the
    Summary counts one VIP more and moves that customer's revenue."""
    tx = transactions("customer date amount margin",
                      ("a", "2024-01-05", 100, 10), ("b", "2024-01-06", 50, 5), ("c", "2024-01-07", 20, 2),
                      ("d", "2024-01-08", 10, 1), ("e", "2024-01-09", 5, 1), ("f", "2024-01-10", 4, 1))
    result = classify(tx)
    assert result.customers["tier"].tolist() == ["VIP", "VIP", "Good", "Regular", "Regular", "Regular"]
    book = openpyxl.load_workbook(write_workbook(result, tmp_path / "small.xlsx"))
    book["Customers"]["B5"] = "VIP"  # customer d, revenue 10
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    (out,) = convert([edited], "xlsx", tmp_path / "out", profile)
    summary = openpyxl.load_workbook(out, data_only=True)["Summary"]
    min_col, min_row, max_col, _ = table_box(book["Summary"], "tbTiers")
    rows = [[summary.cell(row=r, column=c).value for c in range(min_col, max_col + 1)]
            for r in range(min_row + 1, min_row + 6)]
    assert [r[:3] for r in rows] == [["VIP", 3, 160], ["Good", 1, 20], ["Regular", 2, 9],
                                     ["not active in the window", 0, 0], ["All customers", 6, 189]]
    assert rows[0][4] == pytest.approx(0.5) and rows[0][5] == pytest.approx(160 / 189)


def test_summary_has_three_native_charts_that_survive_libreoffice(opened, books, recalculated):
    charts = opened["en"]["Summary"]._charts
    assert [type(c).__name__ for c in charts] == ["BarChart", "ScatterChart", "BarChart"]
    assert [c.title.tx.rich.p[0].r[0].t for c in charts] == [
        "Customers and revenue per tier", "Pareto curve: cumulative share of revenue",
        "VIP ledger: entries and exits per month"]
    for path in recalculated.values():
        assert len(chart_parts(path)) == 3


def test_summary_states_the_concentration_alert_in_plain_words(books, demo):
    _, result = demo
    ws = openpyxl.load_workbook(books["en"], read_only=True)["Summary"]
    texts = [v for row in ws.iter_rows(max_row=10, values_only=True) for v in row if isinstance(v, str)]
    names = result.concentration["top_customers"].iloc[0]
    top = result.customers.sort_values("profit", ascending=False)["customer"].iloc[0]
    assert names.startswith(f"{top} (25%), ")
    assert "Alert — the disease of three clients: one customer gives 25% of profit (alert at 20%). If one of them " \
           f"leaves, it can ruin the company: attract smaller and, above all, new customers. Who: {names}." in texts
    period = result.concentration["period"].iloc[0].replace("..", " – ")
    assert f"Tiers: VIP, Good, Regular from the window {period}; customers, revenue and profit are all-time " \
           f"totals up to {result.as_of.date()} (live formulas on the Customers table)" in texts
    ru = openpyxl.load_workbook(books["ru"], read_only=True)["Сводка"]
    texts = [v for row in ru.iter_rows(max_row=10, values_only=True) for v in row if isinstance(v, str)]
    assert any(t.startswith("Тревога — болезнь трёх клиентов: один клиент даёт 25% прибыли") for t in texts)


# --------------------------------------------------------------------------- the user's sheet


def test_transaction_sheet_is_copied_unchanged_with_a_segment_column(books, demo):
    tx, result = demo
    source = list(openpyxl.load_workbook(demo_path(), read_only=True)["Sales"].iter_rows(values_only=True))
    copied = list(openpyxl.load_workbook(books["en"], read_only=True)["Sales"].iter_rows(values_only=True))
    width = len(source[0])
    assert len(copied) == len(source)
    assert [list(r[:width]) + [None] * (width - len(r[:width])) for r in copied] == \
           [list(r) + [None] * (width - len(r)) for r in source]
    assert copied[0][width] == "Segment"
    segments = row_segments(result, tx)
    for number, row in enumerate(copied[1:], 2):
        got = row[width] if len(row) > width else None
        assert got == (segments.get(number) or None), number
    assert {r[width] for r in copied[1:] if len(r) > width} >= {"VIP", "Good", "Regular", "lost VIP", "one-time"}


def test_dates_and_number_formats_of_the_user_sheet_are_kept(opened, books):
    source = openpyxl.load_workbook(demo_path())["Sales"]
    copied = opened["en"]["Sales"]
    for row in range(2, 40):
        for col in range(1, source.max_column + 1):
            a, b = source.cell(row=row, column=col), copied.cell(row=row, column=col)
            assert (a.value, a.number_format if a.value is not None else None) == \
                   (b.value, b.number_format if b.value is not None else None)


# --------------------------------------------------------------------------- segment sheets


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_each_segment_sheet_lists_exactly_its_customers_with_its_strategy(opened, books, demo, lang):
    _, result = demo
    book = opened[lang]
    texts = load_template("call_list").texts[lang]
    for segment in labels.SEGMENTS:
        key = f"segment:{segment}"
        ws = book[labels.sheet_title(key, lang)]
        rows = table_values(ws, labels.TABLE_NAMES[key])
        names = {r[0] for r in rows if r[0] is not None}
        assert names == set(result.customers.loc[segment_members(result.customers, segment), "customer"]), segment
        cells = [c.value for row in ws.iter_rows(max_row=8) for c in row]
        assert texts[f"strategy.{segment}"] in cells and texts[f"script.{segment}"] in cells
        assert texts[f"title.{segment}"] in cells


def test_one_time_buyers_get_the_soft_reactivation_of_seed_004_not_a_hard_sell(opened, books):
    for lang, words in (("en", ("Do not rush to the phone", "free sample", "Never a hard sell")),
                        ("ru", ("Не бросайтесь обзванивать", "пробник", "Никакого давления"))):
        ws = opened[lang][labels.sheet_title("segment:one-time", lang)]
        text = " ".join(str(c.value) for row in ws.iter_rows(max_row=8) for c in row if c.value)
        assert all(w in text for w in words)


def test_call_list_columns_follow_the_template_marker_row(opened, books):
    ws = opened["en"]["VIP"]
    min_col, min_row, max_col, _ = table_box(ws, "tbVIP")
    header = [ws.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
    assert header == ["Customer", "Manager", "Next contact", "Overdue since", "Task", "Why", "Done", "Outcome", "Note",
                      "Expected purchase", "Usual cycle, days", "Average order", "Last purchase", "Last contact",
                      "Consent", "Channel", "Contact time", "Phone", "Email", "Revenue", "Payments", "Profit", "Tier", "Lifecycle"]


# --------------------------------------------------------------------------- contact plan


def test_contact_plan_has_one_next_action_per_customer_and_says_who_is_left_out(opened, books, demo):
    _, result = demo
    c = result.customers
    ws = opened["en"]["Contact plan"]
    rows = table_values(ws, "tbContactPlan")
    planned = [r[4] for r in rows]
    assert len(planned) == len(set(planned))  # one row per customer
    assert set(planned) == set(c.loc[c["action"].isin(CONTACT_ACTIONS), "customer"])
    assert not set(planned) & set(c.loc[c["consent_status"] == "no", "customer"])
    refused, unknown = int((c["action"] == "no_consent").sum()), int((c["consent_status"] == "unknown").sum())
    assert refused > 0
    cells = [c.value for row in ws.iter_rows(max_row=6) for c in row if c.value]
    assert any(str(v).startswith(f"Not in this plan: customers who refused consent — {refused}; unprofitable "
                                 f"customers, who get no marketing spend — {int((c['action'] == 'no_marketing').sum())}. "
                                 f"Customers whose consent is unknown — {unknown} — are in it") for v in cells)
    as_of = result.as_of.to_pydatetime()
    by_name = c.set_index("customer")
    for date, overdue, task, reason, name, *_ in rows:
        due = by_name.loc[name, "action_due"].to_pydatetime()
        assert (date, overdue) == ((as_of, due) if due < as_of else (due, None)), name  # overdue: never a plan
    dates = [r[0] for r in rows]
    assert dates == sorted(dates)  # the day to act first
    follow_ups = {r[4] for r in rows if r[2] == "follow-up call after the first purchase"}
    assert follow_ups == set(c.loc[(c["lifecycle"] == "new") & (c["consent_status"] == "yes"), "customer"])


def test_contact_tasks_follow_the_engines_next_action():
    as_of = pd.Timestamp("2024-06-30")
    customers = pd.DataFrame({
        "customer": ["a", "b", "c", "d", "e", "f"],
        "action": ["reminder", "lost_vip", "no_consent", "periodic", "ask_permission", "follow_up"],
        "action_reason": ["purchase_expected", "lost_vip", "refused", "contact_plan", "new", "new"],
        "action_due": pd.to_datetime(["2024-06-20", "2024-06-30", None, "2024-07-02", "2024-06-30", "2024-06-25"]),
        "revenue": [10.0, 500.0, 900.0, 30.0, 40.0, 5.0],
    })
    tasks = contact_tasks(customers, as_of)
    got = [(customers["customer"][c], str(d.date()), t, None if pd.isna(o) else str(o.date()))
           for c, d, t, o, _ in tasks.itertuples(index=False)]
    assert got == [("b", "2024-06-30", "lost_vip", None), ("f", "2024-06-30", "follow_up", "2024-06-25"),
                   ("a", "2024-06-30", "reminder", "2024-06-20"), ("e", "2024-06-30", "ask_permission", None),
                   ("d", "2024-07-02", "periodic", None)]


def test_contact_plan_classes_show_the_setting(demo):
    _, result = demo
    texts = load_texts("en")
    settings = result.settings.with_(contacts_per_year={**result.settings.contacts_per_year, "potential": 4})
    sheet = contact_plan(result.customers, result.as_of, "en", texts, settings)
    classes = sheet.tables["classes"].frame.set_index("lifecycle")["contacts_per_year"].to_dict()
    assert classes == {"new": 12, "one-time": 6, "permanent": 12, "occasional": 12, "potential": 4,
                       "unprofitable": 0}


# --------------------------------------------------------------------------- VIP ledger


def highlighted(path: Path, title: str, profile: Path, tmp_path: Path) -> dict[tuple[int, int], str]:
    """The cells of sheet TITLE that its conditional formats colour, as LibreOffice
    computes them: (row, column) → the fill colour of the rule that holds. Every rule's
    formula is moved to each cell of its range (as Excel reads a rule: relative to the
    range's top-left cell) and written into a copy of the workbook, which LibreOffice
    recalculates."""
    book = openpyxl.load_workbook(path)
    ws, check = book[title], book.create_sheet("check")
    quoted = "'" + title.replace("'", "''") + "'!"
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            for bounds in cf.sqref.ranges:
                c0, r0, c1, r1 = bounds.bounds
                origin = f"{get_column_letter(c0)}{r0}"
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        moved = Translator("=" + rule.formula[0], origin).translate_formula(f"{get_column_letter(c)}{r}")
                        tokens = Tokenizer(moved)
                        for token in tokens.items:
                            if token.type == "OPERAND" and token.subtype == "RANGE":
                                token.value = quoted + token.value
                        colour = rule.dxf.fill.fgColor.rgb[-6:]
                        test = tokens.render()[1:]
                        earlier = check.cell(row=r, column=c).value
                        check.cell(row=r, column=c).value = f'=IF({test},"{colour}","")' if earlier is None else \
                            f'=IF({earlier[1:]}<>"",{earlier[1:]},IF({test},"{colour}",""))'
    copy = tmp_path / "check.xlsx"
    book.save(copy)
    done = openpyxl.load_workbook(convert([copy], "xlsx", tmp_path / "calc", profile)[0], data_only=True)["check"]
    return {(cell.row, cell.column): cell.value for row in done.iter_rows() for cell in row if cell.value}


def test_ledger_marks_entries_and_exits_with_the_template_colours(tmp_path, profile):
    # window 2: "a" is VIP in January and April → enters in January, leaves in March
    # (two months after January), enters again in April
    tx = transactions("customer date amount",
                      ("a", "2024-01-05", 100), ("b", "2024-01-06", 10), ("c", "2024-01-07", 5),
                      ("b", "2024-02-05", 100), ("c", "2024-02-06", 5),
                      ("b", "2024-03-05", 100), ("c", "2024-03-06", 5),
                      ("a", "2024-04-05", 100), ("c", "2024-04-06", 5))
    result = classify(tx, Settings(window=2, share=0.3))
    out = write_workbook(result, tmp_path / "ledger.xlsx")
    ws = openpyxl.load_workbook(out)["VIP ledger"]
    min_col, min_row, max_col, max_row = table_box(ws, "tbLedger")
    header = [ws.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
    rows = {ws.cell(row=r, column=min_col).value: r for r in range(min_row + 1, max_row + 1)}
    col = {m: min_col + header.index(m) for m in ("2024-01", "2024-02", "2024-03", "2024-04")}
    template = load_template("ledger")
    entry, exit_ = (template.samples[k].fill.fgColor.rgb[-6:] for k in ("entry", "exit"))
    assert [ws.cell(row=rows["a"], column=col[m]).value for m in col] == [1, None, "×", 1]
    assert highlighted(out, "VIP ledger", profile, tmp_path) == {
        (rows["a"], col["2024-01"]): entry, (rows["a"], col["2024-03"]): exit_, (rows["a"], col["2024-04"]): entry,
        (rows["b"], col["2024-02"]): entry}
    assert [ws.cell(row=rows["a"], column=min_col + header.index(k)).value
            for k in ("Status", "First VIP month", "Last VIP month", "VIP months")] == \
           ["current VIP", "2024-01", "2024-04", 2]


def test_the_demo_ledger_highlights_every_entry_and_exit_and_nothing_else(books, demo, profile, tmp_path):
    """On the demo (a window of several months, customers entering more than once) the
    rules colour exactly the engine's entries (a VIP month after more than a window
    without one, or the first) and exits (a window after the last VIP month of a run)."""
    _, result = demo
    window = result.settings.window
    ws = openpyxl.load_workbook(books["en"])["VIP ledger"]
    min_col, min_row, max_col, max_row = table_box(ws, "tbLedger")
    header = [ws.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
    months = [m for m in header if len(str(m)) == 7 and str(m)[4] == "-"]
    template = load_template("ledger")
    entry, exit_ = (template.samples[k].fill.fgColor.rgb[-6:] for k in ("entry", "exit"))
    expected = {}
    for r in range(min_row + 1, max_row + 1):
        vip = [i for i, m in enumerate(months)
               if isinstance(ws.cell(row=r, column=min_col + header.index(m)).value, int)]
        for k, i in enumerate(vip):
            if k == 0 or i - vip[k - 1] > window:
                expected[(r, min_col + header.index(months[i]))] = entry
            if (k == len(vip) - 1 or vip[k + 1] - i > window) and i + window < len(months):
                expected[(r, min_col + header.index(months[i + window]))] = exit_
    assert len({k for k, v in expected.items() if v == entry}) > len(range(min_row + 1, max_row + 1))  # re-entries
    assert highlighted(books["en"], "VIP ledger", profile, tmp_path) == expected


# --------------------------------------------------------------------------- Excel conventions


def test_every_data_range_is_a_table_with_frozen_header_formats_and_fitted_widths(opened):
    book = opened["en"]
    for title in ["Contact plan", *SEGMENT_SHEETS, "VIP ledger", "Monthly VIP", "Customers", "Input issues"]:
        ws = book[title]
        assert ws.tables, title
        main = max(ws.tables.values(), key=lambda t: range_boundaries(t.ref)[3])
        _, header_row, _, _ = range_boundaries(main.ref)
        assert ws.freeze_panes is not None and int(ws.freeze_panes.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) == \
               header_row + 1, title
        assert main.autoFilter is not None and main.autoFilter.ref == main.ref
        assert main.tableStyleInfo is not None
    customers = book["Customers"]
    formats = {customers.cell(row=1, column=c).value: customers.cell(row=2, column=c).number_format
               for c in range(1, customers.max_column + 1)}
    assert formats["last_purchase"] == "yyyy-mm-dd" and formats["revenue"] == "#,##0.00"
    assert formats["payments"] == "0"
    widths = {c: customers.column_dimensions[c].width for c in "ABM"}
    longest = max(len(str(customers.cell(row=r, column=1).value)) for r in range(2, customers.max_row + 1))
    assert longest + 2 <= widths["A"] <= longest + 4
    vip = book["VIP"]
    min_col, min_row, max_col, _ = table_box(vip, "tbVIP")
    header = [vip.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
    assert vip.cell(row=min_row + 1, column=min_col + header.index("Next contact")).number_format == "yyyy-mm-dd"
    assert vip.cell(row=min_row + 1, column=min_col + header.index("Revenue")).number_format == "#,##0.00"


def test_overdue_contacts_are_red_before_the_analysis_date(opened, demo):
    """Red is relative to the analysis date, not TODAY(): an old export is judged at its
    own date, and the sheet says so."""
    _, result = demo
    day = pd.Timestamp(result.as_of)
    book = opened["en"]
    for title, column in (("Contact plan", "Date"), ("VIP", "Next contact"), ("Customers", "remind_on")):
        ws = book[title]
        table = max(ws.tables.values(), key=lambda t: range_boundaries(t.ref)[3])
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        header = [ws.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
        letter = openpyxl.utils.get_column_letter(min_col + header.index(column))
        rules = [(str(cf.sqref), rule) for cf in ws.conditional_formatting for rule in cf.rules]
        (sqref, rule), = [(s, r) for s, r in rules if s.startswith(letter)]
        assert sqref == f"{letter}{min_row + 1}:{letter}{max_row}"
        assert rule.formula == [f"AND(ISNUMBER({letter}{min_row + 1}),{letter}{min_row + 1}"
                                f"<DATE({day.year},{day.month},{day.day}))"]
        assert rule.dxf.font.color.rgb.endswith("9C0006")
    legend = "Red date: the contact was due before the analysis date " + day.strftime("%Y-%m-%d")
    assert any(str(c.value).startswith(legend) for c in book["VIP"]["A"] if c.value)
    ru = opened["ru"][labels.sheet_title("segment:VIP", "ru")]
    assert any(str(c.value).startswith("Красная дата: контакт был нужен раньше даты анализа " + day.strftime("%d.%m.%Y"))
               for c in ru["A"] if c.value)


def test_text_from_the_data_is_never_a_formula(tmp_path):
    tx = transactions("customer date amount manager phone",
                      ("=HYPERLINK(\"http://x\")", "2024-01-05", 100, "@boss", "+1 555 0100"),
                      ("-minus", "2024-01-06", 10, "=1+1", "-5"),
                      ("plain", "2024-02-06", 10, "Ann", "123"))
    result = classify(tx)
    out = write_workbook(result, tmp_path / "escaped.xlsx")
    book = openpyxl.load_workbook(out)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert ws.title == "Summary", (ws.title, cell.coordinate, cell.value)
    customers = book["Customers"]
    cells = {customers.cell(row=r, column=1).value: customers.cell(row=r, column=1) for r in range(2, 5)}
    assert set(cells) == {"=HYPERLINK(\"http://x\")", "-minus", "plain"}
    assert cells["=HYPERLINK(\"http://x\")"].data_type == "s" and cells["=HYPERLINK(\"http://x\")"].quotePrefix
    assert cells["-minus"].quotePrefix and not cells["plain"].quotePrefix
    back, _ = read_customers(out)
    pd.testing.assert_frame_equal(back, result.customers)


def test_a_workbook_without_the_source_sheet_and_with_empty_segments(tmp_path):
    tx = transactions("customer date amount", ("a", "2024-01-05", 100), ("b", "2024-01-06", 10))
    result = classify(tx)
    out = write_workbook(result, tmp_path / "small.xlsx")
    book = openpyxl.load_workbook(out)
    assert "Sales" not in book.sheetnames
    potential = book["Potential"]
    min_col, min_row, max_col, max_row = table_box(potential, "tbPotential")
    assert max_row == min_row + 1  # one empty row: a table needs a data row
    assert all(potential.cell(row=max_row, column=c).value is None for c in range(min_col, max_col + 1))
    assert structure_problems(out) == []
    pd.testing.assert_frame_equal(read_customers(out)[0], result.customers)


# --------------------------------------------------------------------------- templates


def test_restyled_templates_are_used_without_touching_code(tmp_path):
    """A user reorders the call-list columns, drops one, renames the company and rewords
    a strategy, all in Excel: the output follows."""
    result = classify(transactions("customer date amount", ("a", "2024-01-05", 100), ("b", "2024-01-06", 10)))
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    book = openpyxl.load_workbook(folder / "call_list.xlsx")
    ws = book.worksheets[0]
    _, row, _, _ = range_boundaries(book.defined_names["tb_rows"].attr_text.split("!")[1].replace("$", ""))
    ws.cell(row=row, column=1).value, ws.cell(row=row, column=2).value = "manager", "customer"
    email = next(c for c in range(1, ws.max_column + 1) if ws.cell(row=row, column=c).value == "email")
    ws.cell(row=row, column=email).value = None  # no email column
    texts = book["Texts"]
    for r in range(2, texts.max_row + 1):
        if texts.cell(row=r, column=1).value == "company":
            texts.cell(row=r, column=2).value = "Acme Distribution"
        if texts.cell(row=r, column=1).value == "strategy.VIP":
            texts.cell(row=r, column=2).value = "Treat them like family."
    book.save(folder / "call_list.xlsx")
    out = write_workbook(result, tmp_path / "restyled.xlsx", templates=folder)
    vip = openpyxl.load_workbook(out)["VIP"]
    min_col, min_row, max_col, _ = table_box(vip, "tbVIP")
    header = [vip.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
    assert header[:3] == ["Manager", "Customer", "Next contact"] and "Email" not in header
    cells = [c.value for row in vip.iter_rows(max_row=8) for c in row]
    assert "Acme Distribution" in cells and "Treat them like family." in cells
    assert structure_problems(out) == []


def test_the_committed_templates_are_what_make_templates_writes(tmp_path):
    import runpy

    runpy.run_path(str(ROOT / "workbook_templates" / "make_templates.py"), run_name="make").get("make_all")(tmp_path)
    for name in ("call_list.xlsx", "vip_ledger.xlsx", "summary.xlsx", "contact_plan.xlsx"):
        made = openpyxl.load_workbook(tmp_path / name)
        committed = openpyxl.load_workbook(ROOT / "workbook_templates" / name)
        for a, b in zip(made.worksheets, committed.worksheets):
            assert a.title == b.title
            assert [[c.value for c in row] for row in a.iter_rows()] == \
                   [[c.value for c in row] for row in b.iter_rows()]
        assert {k: v.attr_text for k, v in made.defined_names.items()} == \
               {k: v.attr_text for k, v in committed.defined_names.items()}


def test_sheet_tables_gives_the_same_content_without_writing(demo):
    _, result = demo
    sheets = sheet_tables(result, "en")
    assert list(sheets)[:3] == ["Summary", "Contact plan", "VIP"]
    frame = sheets["Customers"].tables["rows"].frame
    assert frame[CUSTOMER_COLUMNS].equals(result.customers)
    assert list(frame.columns[len(CUSTOMER_COLUMNS):]) == ["segment", "next_contact"]  # what the lookups read
    formulas = sheets["Summary"].tables["tiers"].frame["customers"].tolist()
    assert formulas[0] == '=COUNTIFS(tbCustomers[[tier]],"VIP")'
    assert sheets["Summary"].charts[1].kind == "line"


def test_a_csv_export_is_copied_as_typed_with_its_segments(tmp_path):
    source = tmp_path / "sales.csv"
    source.write_text("client;date;sum;phone\nAcme;2024-01-05;1 234,50;+1 555\n\n=Evil;2024-01-06;10;-5\n"
                      "Beta;06.01.2024;n/a;\nAcme;2024-02-05;100;\n", encoding="utf-8")
    tx, issues = read_transactions(source)
    result = classify(tx, issues=issues)
    out = write_workbook(result, tmp_path / "out.xlsx", tx=tx, source=(source, None))
    ws = openpyxl.load_workbook(out)["sales"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [["client", "date", "sum", "phone", "Segment"],
                    ["Acme", "2024-01-05", "1 234,50", "+1 555", "VIP"],
                    [None] * 5,
                    ["=Evil", "2024-01-06", 10, -5, "Good"],
                    ["Beta", "06.01.2024", "n/a", None, None],  # not usable: no segment
                    ["Acme", "2024-02-05", 100, None, "VIP"]]
    assert ws["A4"].data_type == "s" and ws["A4"].quotePrefix
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E6"


def test_a_written_workbook_is_readable_like_any_new_file(tmp_path):
    import os

    from tierbook.files import replace_atomically

    umask = os.umask(0o022)
    try:
        target = replace_atomically(tmp_path / "book.xlsx", lambda tmp: tmp.write_bytes(b"x"))
    finally:
        os.umask(umask)
    assert (target.stat().st_mode & 0o777, target.read_bytes()) == (0o644, b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_a_note_in_the_last_column_keeps_the_copys_segment_column_inside_the_grid(tmp_path):
    """Issue 10.11: text in XFD1 makes the sheet 16,384 columns wide; the Segment column
    goes into the first empty column after the data, and the file opens."""
    import datetime as dt

    import openpyxl

    from tierbook import jobs

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws.append(["customer", "date", "amount"])
    for i in range(6):
        ws.append([f"C{i % 3}", dt.datetime(2024, 1 + i, 3), 10.0 * (i + 1)])
    ws["XFD1"] = "note: checked by Ann"
    wb.save(tmp_path / "sales.xlsx")
    jobs.segment_file(tmp_path / "sales.xlsx", tmp_path / "out.xlsx")
    copy = openpyxl.load_workbook(tmp_path / "out.xlsx")["Sales"]
    assert copy["D1"].value == "Segment" and all(copy.cell(row=r, column=4).value for r in range(2, 8))
    assert copy["XFD1"].value == "note: checked by Ann"
    assert copy.max_column == 16384


def test_russian_input_issues_are_in_russian(tmp_path):
    from tierbook.schema import InputIssue, issues_frame

    issues = issues_frame([InputIssue("Продажи", 4, "Сумма", "abc", "not a number"),
                           InputIssue("Продажи", 5, "Маржа", "x", "not a number, left empty"),
                           InputIssue("Продажи", 6, "", "", "blank row, skipped"),
                           InputIssue("Журнал", 3, "Вариант", "B", "variant B is not the planned variant A, not counted")])
    result = classify(transactions("customer date amount", ("a", "2024-01-05", 100)), Settings(), issues)
    out = write_workbook(result, tmp_path / "ru.xlsx", lang="ru")
    rows = list(openpyxl.load_workbook(out, read_only=True)["Ошибки ввода"].iter_rows(values_only=True))
    assert [r[-1] for r in rows] == ["Проблема", "не число", "не число, оставлено пустым", "пустая строка, пропущена",
                                     "вариант B — не назначенный клиенту вариант A, не учтён"]
    english = list(openpyxl.load_workbook(write_workbook(result, tmp_path / "en.xlsx", lang="en"),
                                          read_only=True)["Input issues"].iter_rows(values_only=True))
    assert english[1][-1] == "not a number"


def test_a_column_width_is_measured_with_any_kind_of_missing_value():
    """Texts mixed with numbers and every kind of missing value (None, NaN, NaT, pd.NA):
    the width is the longest text's, a missing value counts as none."""
    from tierbook.workbook import _content_width

    column = pd.Series(["abc", None, float("nan"), pd.NaT, pd.NA, 12345678, "a longer text"], dtype=object)
    assert _content_width(column) == len("a longer text") + 2
    assert _content_width(pd.Series([pd.NA, None], dtype=object)) == 2


def test_properties_and_sheet_names_from_the_package_parts_are_openpyxls(books, recalculated):
    """workbook_properties and sheet_names read two small parts of the package instead of
    loading the workbook: the same as openpyxl reads, for the files tierbook writes and
    for the same files as LibreOffice saves them (its own package layout)."""
    from tierbook.workbook import PROPERTY_PREFIX, sheet_names, workbook_properties

    for path in (*books.values(), *recalculated.values()):
        book = openpyxl.load_workbook(path, read_only=True)
        expected = {p.name[len(PROPERTY_PREFIX):]: str(p.value) for p in book.custom_doc_props
                    if p.name.startswith(PROPERTY_PREFIX)}
        assert workbook_properties(path) == expected and {"lang", "settings", "sheets"} <= set(expected), path
        assert sheet_names(path) == book.sheetnames, path
        book.close()
