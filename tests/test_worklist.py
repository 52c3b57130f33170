"""Issue 13: the call lists are worklists (the why, Done / Outcome / Note with dropdowns,
kept by a re-run), the Summary's calls per manager, the Russian book's formats and the
print setup of every sheet; LibreOffice renders every sheet without a ### cell."""

from __future__ import annotations

import shutil
from dataclasses import replace
import subprocess

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries

from libreoffice import convert
from test_cli import run
from test_workbook import books, demo, opened  # noqa: F401 - fixtures: the demo workbooks in both languages
from tierbook import labels
from tierbook.demo import demo_path
from tierbook.segment import manager_workload
from tierbook.worklist import carry_over, with_worklog, worklog_from_rows

# --------------------------------------------------------------------------- carry_over, on small frames


def new_rows(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer", "next_contact", "task", "done", "outcome", "note"])
    frame["next_contact"] = pd.to_datetime(frame["next_contact"])
    return frame


def test_outcome_and_note_follow_the_customer_done_only_while_the_task_is_the_same():
    previous = pd.DataFrame({
        "customer": ["a", "b", "gone", "c"],
        "next_contact": [pd.Timestamp("2024-06-30"), pd.Timestamp("2024-06-10"), pd.Timestamp("2024-06-01"), None],
        "task": ["reminder", "reminder", "reminder", "regular message"],
        "done": ["yes", "yes", "yes", None],
        "outcome": ["call back", "ordered", "reached", None],
        "note": ["after the 15th", None, "moved away", "ask for Olga"],
    })
    new = new_rows(("c", "2024-07-30", "regular message", "", "", ""),
                   ("a", "2024-06-30", "reminder", "", "", ""),  # the same task, the same day: still done
                   ("b", "2024-07-20", "reminder", "", "", ""),  # a new date: a new task, not done yet
                   ("d", "2024-07-01", "follow-up", "", "", ""))
    got = carry_over(previous, new, "en")
    assert got[["customer", "done", "outcome", "note"]].values.tolist() == [
        ["c", "", "", "ask for Olga"],
        ["a", "yes", "call back", "after the 15th"],
        ["b", "", "ordered", ""],
        ["d", "", "", ""],
    ]
    assert new["done"].tolist() == ["", "", "", ""]  # pure: the input is unchanged


def test_dropdown_words_are_shown_in_the_new_language_and_typed_words_stay():
    previous = pd.DataFrame({"customer": ["a", "b"], "next_contact": [pd.Timestamp("2024-06-30")] * 2,
                             "task": ["t", "t"], "done": ["да", "maybe"], "outcome": ["нет ответа", "voicemail"],
                             "note": ["", ""]})
    got = carry_over(previous, new_rows(("a", "2024-06-30", "t", "", "", ""), ("b", "2024-06-30", "t", "", "", "")),
                     "en")
    assert got[["done", "outcome"]].values.tolist() == [["yes", "no answer"], ["maybe", "voicemail"]]


def test_a_worklog_is_read_from_rows_of_either_language_below_the_sheets_texts():
    h = lambda k: labels.header(k, "ru")  # noqa: E731
    rows = [("Потерянные VIP",), (None,), (None, h("customer"), h("task"), h("done"), h("outcome"), h("note")),
            (None, "a", "звонок", "да", None, None), (None, "b", "звонок", None, None, None),
            (None, "c", None, None, None, "перезвонить")]
    got = worklog_from_rows([("Потерянные VIP", rows), ("Summary", rows), ("Lost VIP", rows[:3])])
    assert list(got) == ["segment:lost VIP"]  # not Summary; an empty list gives nothing
    frame = got["segment:lost VIP"][["customer", "task", "done", "note"]]
    assert frame.fillna("").values.tolist() == [["a", "звонок", "да", ""], ["c", "", "", "перезвонить"]]


def test_notes_follow_a_customer_to_another_list():
    worklog = {"segment:VIP": pd.DataFrame({"customer": ["a", "b"], "task": ["t", "t"], "next_contact": [None] * 2,
                                            "done": ["yes", None], "outcome": ["reached", None],
                                            "note": ["own list", "b on VIP"]}),
               "segment:lost VIP": pd.DataFrame({"customer": ["a"], "task": ["u"], "next_contact": [None],
                                                 "done": [None], "outcome": [None], "note": ["lost list"]})}
    from tierbook.sheets import SheetContent, SheetTable

    lists = [SheetContent(key=key, title=key, template=None, texts={},
                          tables={"rows": SheetTable("t", new_rows(*rows).assign(next_contact=None), {})})
             for key, rows in (("segment:VIP", [("a", None, "t", "", "", "")]),
                               ("segment:lost VIP", [("a", None, "t", "", "", ""), ("b", None, "v", "", "", "")]))]
    got = [c.tables["rows"].frame[["customer", "done", "outcome", "note"]].values.tolist()
           for c in with_worklog(lists, worklog, "en")]
    only_a_log = {"contact_log": pd.DataFrame({"customer": ["b"], "last_contact": [pd.Timestamp("2025-01-02")]})}
    lists = [replace(c, tables={"rows": replace(c.tables["rows"], frame=c.tables["rows"].frame.assign(
        last_contact=pd.NaT))}) for c in lists]
    (_, lost) = with_worklog(lists, only_a_log, "en")  # a Contact log and no notes yet
    assert lost.tables["rows"].frame["last_contact"].tolist() == [pd.NaT, pd.Timestamp("2025-01-02")]
    assert got == [[["a", "yes", "reached", "own list"]],
                   [["a", "", "", "lost list"], ["b", "", "", "b on VIP"]]]


def test_last_contact_is_the_latest_of_the_contact_log_an_earlier_list_and_a_done_task_on_its_day():
    from tierbook.worklist import last_contacts, log_contacts

    log = log_contacts([("Журнал контактов",), ("Клиент", "Дата", "Вариант"), ("a", "03.02.2025", "A"),
                        ("a", pd.Timestamp("2025-01-05"), "B"), ("b", "not a day", "A"), (None, "2025-01-01", "A")])
    assert log.values.tolist() == [["a", pd.Timestamp("2025-02-03")]]
    worklog = {"contact_log": log,
               "segment:VIP": pd.DataFrame({"customer": ["a", "b", "c", "d"], "task": ["t"] * 4,
                                            "next_contact": pd.to_datetime(["2025-03-01", "2025-06-30", "2025-04-01",
                                                                            "2025-04-02"]),
                                            "last_contact": [None, None, pd.Timestamp("2025-04-20"), None],
                                            "done": ["yes", "да", "no", None], "outcome": [None] * 4,
                                            "note": [None] * 4})}
    got = last_contacts(worklog, pd.Timestamp("2025-05-31"))
    assert got.to_dict() == {"a": pd.Timestamp("2025-03-01"),  # the done task is later than the log's call
                             "b": pd.Timestamp("2025-05-31"),  # done, planned after the analysis date: done by it
                             "c": pd.Timestamp("2025-04-20")}  # not done: the earlier list's last contact stays


# --------------------------------------------------------------------------- the workbook, opened again


def table(ws, name: str) -> tuple[list[str], list[list], tuple[int, int, int, int]]:
    box = range_boundaries(ws.tables[name].ref)
    min_col, min_row, max_col, max_row = box
    rows = [[ws.cell(row=r, column=c).value for c in range(min_col, max_col + 1)] for r in range(min_row, max_row + 1)]
    return rows[0], rows[1:], box


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_call_list_has_the_why_and_done_outcome_dropdowns(opened, demo, lang):
    _, result = demo
    by_name = result.customers.set_index("customer")
    h = lambda key: labels.header(key, lang)  # noqa: E731
    for segment in labels.SEGMENTS:
        key = f"segment:{segment}"
        ws = opened[lang][labels.sheet_title(key, lang)]
        header, rows, (min_col, min_row, _, max_row) = table(ws, labels.TABLE_NAMES[key])
        for k in ("next_purchase", "cycle_days", "average_order", "done", "outcome", "note"):
            assert h(k) in header, (segment, k)
        for row in [r for r in rows if r[header.index(h("customer"))] is not None][:20]:
            who = by_name.loc[row[header.index(h("customer"))]]
            assert row[header.index(h("average_order"))] == pytest.approx(who["average_order"], nan_ok=True) \
                or (row[header.index(h("average_order"))] is None and pd.isna(who["average_order"]))
            expected = row[header.index(h("next_purchase"))]
            assert (expected is None and pd.isna(who["next_purchase"])) or expected == who["next_purchase"]
        dropdowns = {}
        for dv in ws.data_validations.dataValidation:
            c0, r0, c1, r1 = range_boundaries(str(dv.sqref))
            dropdowns[f"{get_column_letter(c0)}{r0}:{get_column_letter(c1)}{r1}"] = dv.formula1
        done = get_column_letter(min_col + header.index(h("done")))
        outcome = get_column_letter(min_col + header.index(h("outcome")))
        assert dropdowns == {
            f"{done}{min_row + 1}:{done}{max_row}": '"' + ",".join(labels.choices("done", lang)) + '"',
            f"{outcome}{min_row + 1}:{outcome}{max_row}": '"' + ",".join(labels.choices("outcome", lang)) + '"',
        }, segment
    assert labels.choices("outcome", "en") == ("reached", "no answer", "call back", "not interested", "ordered")
    assert labels.choices("done", "ru") == ("да", "нет")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_sheet_prints_landscape_one_page_wide_with_its_header_row_on_each_page(opened, lang):
    book = opened[lang]
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1, ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title  # as many pages down as needed
    # the header row of the list repeats on every page
    for key in ("contact_plan", "segment:VIP", "segment:lost VIP", "customers", "issues"):
        ws = book[labels.sheet_title(key, lang)]
        name = {"contact_plan": "contact_plan"}.get(key, key)
        _, _, (_, header_row, _, _) = table(ws, labels.TABLE_NAMES[name])
        assert ws.print_title_rows == f"${header_row}:${header_row}", key


def test_the_russian_book_shows_russian_dates_and_whole_units(opened, demo):
    _, result = demo
    ru, en = opened["ru"], opened["en"]
    day = pd.Timestamp(result.as_of)
    vip = ru[labels.sheet_title("segment:VIP", "ru")]
    header, _, (min_col, min_row, _, _) = table(vip, "tbVIP")
    for key in ("next_contact", "next_purchase", "last_purchase"):
        assert vip.cell(row=min_row + 1, column=min_col + header.index(labels.header(key, "ru"))).number_format \
            == "dd.mm.yyyy"
    assert f"на {day.strftime('%d.%m.%Y')}" in vip["A3"].value
    customers = ru["Клиенты"]
    head = [c.value for c in customers[1]]
    assert customers.cell(row=2, column=head.index("Последняя покупка") + 1).number_format == "dd.mm.yyyy"
    assert customers.cell(row=2, column=head.index("Единиц") + 1).number_format == "#,##0"  # 17, not 17.00
    english = en["Customers"]
    head = [c.value for c in english[1]]
    assert english.cell(row=2, column=head.index("units") + 1).number_format == "#,##0"
    assert english.cell(row=2, column=head.index("last_purchase") + 1).number_format == "yyyy-mm-dd"


def test_tier_words_are_capitalised_alike(opened):
    assert labels.word("tier.inactive", "en") == "Inactive" == labels.header("inactive", "en")
    assert labels.word("tier.inactive", "ru") == "Неактивный" == labels.header("inactive", "ru")
    assert [labels.value("tier", t, "ru") for t in ("VIP", "Good", "Regular")] == ["VIP", "Хороший", "Обычный"]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_summary_shows_the_calls_of_each_manager_at_the_analysis_date(opened, demo, lang):
    _, result = demo
    ws = opened[lang][labels.sheet_title("summary", lang)]
    header, rows, (_, min_row, _, _) = table(ws, "tbManagerCalls")
    assert header == [labels.header(k, lang) for k in ("manager", "overdue", "due_this_week", "later", "calls")]
    expected = manager_workload(result.customers, result.as_of)
    expected["manager"] = [m or labels.word("no_manager", lang) for m in expected["manager"]]
    assert rows == expected.values.tolist()
    assert sum(r[1] for r in rows) > 0 and sum(r[2] for r in rows) > 0  # the demo has both
    day = pd.Timestamp(result.as_of).strftime("%Y-%m-%d" if lang == "en" else "%d.%m.%Y")
    assert day in ws.cell(row=min_row - 1, column=1).value


# --------------------------------------------------------------------------- a re-run keeps a manager's notes


def test_a_rerun_into_the_same_workbook_keeps_the_managers_notes(tmp_path):
    sales = tmp_path / "sales.xlsx"
    shutil.copyfile(demo_path(), sales)
    out = tmp_path / "tierbook.xlsx"
    done = run("segment", str(sales), "--out", str(out))
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(out)
    notes = {}
    for title, (done_word, outcome, note) in (("VIP", ("yes", "call back", "wants the autumn price list")),
                                              ("lost VIP", ("no", "not interested", "went to a competitor"))):
        ws = book[labels.sheet_title(f"segment:{title}", "en")]
        header, rows, (min_col, min_row, _, _) = table(ws, labels.TABLE_NAMES[f"segment:{title}"])
        customer = rows[1][0]
        for key, value in (("Done", done_word), ("Outcome", outcome), ("Note", note)):
            ws.cell(row=min_row + 2, column=min_col + header.index(key)).value = value
        notes[title] = (customer, done_word, outcome, note)
    book.save(out)

    done = run("segment", str(sales), "--out", str(out))  # next month's run, into the same file
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(out)
    for title, (customer, done_word, outcome, note) in notes.items():
        header, rows, _ = table(book[labels.sheet_title(f"segment:{title}", "en")],
                                labels.TABLE_NAMES[f"segment:{title}"])
        (row,) = [r for r in rows if r[0] == customer]
        assert [row[header.index(k)] for k in ("Done", "Outcome", "Note")] == [done_word, outcome, note], title
        typed = {c for c, *_ in notes.values()}  # a customer on both lists has the notes on both
        others = [r for r in rows if r[0] not in typed]
        assert all(r[header.index("Note")] is None for r in others)  # nobody else got a note



def test_a_note_for_a_customer_on_no_list_is_kept_by_the_rerun_and_the_next(tmp_path):
    """A note and outcome typed below a call list's table, for a customer tierbook does not
    list (no Done, no Contact log: no contact day known), goes to the Kept notes sheet of
    the re-run and stays there on the run after it."""
    sales = tmp_path / "sales.xlsx"
    shutil.copyfile(demo_path(), sales)
    out = tmp_path / "tierbook.xlsx"
    assert run("segment", str(sales), "--out", str(out)).returncode == 0
    book = openpyxl.load_workbook(out)
    ws = book[labels.sheet_title("segment:VIP", "en")]
    header, _, (min_col, _, _, max_row) = table(ws, labels.TABLE_NAMES["segment:VIP"])
    for key, value in (("Customer", "Ghost Trading Ltd"), ("Outcome", "call back"), ("Note", "asks about the tender")):
        ws.cell(row=max_row + 1, column=min_col + header.index(key)).value = value
    book.save(out)
    expected = [["Ghost Trading Ltd", "VIP", None, None, None, None, "call back", "asks about the tender"]]
    for _ in range(2):  # the re-run, and the run after it (which reads the Kept notes sheet back)
        done = run("segment", str(sales), "--out", str(out))
        assert done.returncode == 0, done.stderr
        book = openpyxl.load_workbook(out)
        header, rows, _ = table(book[labels.sheet_title("kept_notes", "en")], labels.TABLE_NAMES["kept_notes"])
        assert header[:3] == ["Customer", "Call list", "Task"] and rows == expected
        assert book.sheetnames.index("Kept notes") == book.sheetnames.index("Lost VIP") + 1


def test_the_worklog_read_by_fastexcel_is_the_worklog_of_the_cells_openpyxl_reads(tmp_path):
    """read_worklog (fastexcel, every cell as text) gives what worklog_from_rows makes of
    the same sheets' cells as openpyxl reads them (numbers, dates, dates with a time, text
    dates, words over a date, formulas as their value), as carry_over and last_contacts
    compare them: texts as texts, days as days."""
    import datetime as dt

    from tierbook import jobs
    from tierbook.worklist import _ident, _text, read_worklog

    out = tmp_path / "tierbook.xlsx"
    jobs.segment_file(demo_path(), out)
    book = openpyxl.load_workbook(out)
    typed = [("Done", "yes"), ("Outcome", "call back"), ("Note", 123), ("Note", 1.5), ("Note", dt.datetime(2025, 2, 1)),
             ("Note", "=tbd"), ("Next contact", "tomorrow"), ("Next contact", "2025-03-04"),
             ("Next contact", dt.datetime(2025, 3, 5, 10, 30)), ("Last contact", dt.datetime(2025, 1, 9)),
             ("Note", " spaced  "), ("Outcome", "не дозвонились"), ("Done", "нет")]
    for key in ("segment:VIP", "segment:Regular"):
        ws = book[labels.sheet_title(key, "en")]
        header, rows, (min_col, min_row, _, _) = table(ws, labels.TABLE_NAMES[key])
        for i, (column, value) in enumerate(typed):
            cell = ws.cell(row=min_row + 1 + i, column=min_col + header.index(column))
            cell.value = value
            if column == "Note" and isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # typed as text, as Excel keeps "=tbd" typed after a quote
            if column != "Note":
                ws.cell(row=min_row + 1 + i, column=min_col + header.index("Note")).value = f"row {i}"
    log = book.create_sheet("Contact log")
    log.append(["Customer", "Date", "Variant"])
    for who, when in (("A", dt.datetime(2025, 3, 14)), ("B", "2025-03-15"), ("C", dt.datetime(2025, 3, 16, 9, 5)),
                      ("D", "not a date")):
        log.append([who, when, "A"])
    book.save(out)

    cells = openpyxl.load_workbook(out, read_only=True, data_only=True)
    expected = worklog_from_rows((t, cells[t].iter_rows(values_only=True)) for t in cells.sheetnames)
    got = read_worklog(out)
    assert sorted(got) == sorted(expected) == ["contact_log", "segment:Regular", "segment:VIP"]
    def compared(frame: pd.DataFrame) -> pd.DataFrame:  # as carry_over compares them
        return frame.apply(lambda c: c.map(_ident if c.name in ("task", "next_contact", "last_contact") else _text))

    for key, frame in expected.items():
        pd.testing.assert_frame_equal(compared(got[key]), compared(frame), check_dtype=False, obj=key)
    vip = got["segment:VIP"]
    assert pd.Timestamp("2025-03-05") in set(vip["next_contact"]) and "tomorrow" in set(vip["next_contact"])

# --------------------------------------------------------------------------- LibreOffice renders every sheet


def test_libreoffice_prints_every_sheet_without_a_hash_cell(books, opened, tmp_path):
    pdfs = convert(books.values(), "pdf", tmp_path / "pdf", tmp_path / "profile")
    for (lang, path), pdf in zip(books.items(), pdfs):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "###" not in text, lang
        for ws in opened[lang].worksheets:  # every sheet is printed: its first text is in the PDF
            first = next(str(c.value) for row in ws.iter_rows(max_row=3) for c in row
                         if isinstance(c.value, str) and not c.value.startswith("="))
            assert first.split()[0] in text, (lang, ws.title)


def test_what_was_written_for_customers_on_no_list_is_kept_and_comes_back_with_them():
    """kept_notes: the earlier lists' rows of customers on no new list (the first list's
    row), then the earlier Kept notes' rows of customers still on none; dropdown words in
    the new language, days as dates. A customer back on a list gets the kept note there."""
    from tierbook.sheets import SheetContent, SheetTable
    from tierbook.worklist import KEPT_NOTES, kept_notes

    day = pd.Timestamp("2025-02-03")
    worklog = {"segment:VIP": pd.DataFrame({"customer": ["a", "gone"], "task": ["t", "t"], "next_contact": [day, day],
                                            "done": ["yes", "yes"], "outcome": ["reached", "call back"],
                                            "note": ["listed", "left VIP"]}),
               KEPT_NOTES: pd.DataFrame({"customer": ["older", "gone", "back"], "call_list": ["Good", "VIP", "New"],
                                         "task": ["u", "u", "w"], "next_contact": [None, None, "2024-12-01"],
                                         "done": [None, None, "no"], "outcome": ["no answer", None, "ordered"],
                                         "note": ["kept before", "older row", "back again"]}),
               "contact_log": pd.DataFrame({"customer": ["loggy"], "last_contact": [day]})}
    lists = [SheetContent(key=key, title=key, template=None, texts={},
                          tables={"rows": SheetTable("t", new_rows(*rows), {})})
             for key, rows in (("segment:VIP", [("a", None, "t", "", "", "")]),
                               ("segment:new", [("back", None, "w2", "", "", "")]))]
    kept = kept_notes(worklog, with_worklog(lists, worklog, "ru"), "ru")
    assert kept[["customer", "call_list", "done", "outcome", "note"]].values.tolist() == [
        ["gone", labels.sheet_title("segment:VIP", "ru"), "да", labels.word("outcome.call_back", "ru"), "left VIP"],
        ["older", "Good", "", labels.word("outcome.no_answer", "ru"), "kept before"]]
    assert kept["next_contact"].tolist() == [day, pd.NaT]
    (_, new) = with_worklog(lists, worklog, "ru")  # back on a list: the kept outcome and note, not Done (a new task)
    assert new.tables["rows"].frame[["customer", "done", "outcome", "note"]].values.tolist() == [
        ["back", "", labels.word("outcome.ordered", "ru"), "back again"]]
    assert kept_notes({"contact_log": worklog["contact_log"]}, lists, "en").empty
