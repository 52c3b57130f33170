"""Issue 6 in the workbook: the reactivation plan and results sheets written into a
tierbook workbook (regenerated from its own data, the user's sheets kept), the Movement
sheet, the CLI through the installed entry point, and =MOVEMENT() through xlwings.

A small sales file: 12 one-time buyers with consent (one purchase in February to April) (two managers, two order sizes),
two without consent, four repeat customers; analysis month 2026-05 (a setting), and
June purchases of some one-time buyers after the contacts, which are the conversions.
"""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import datetime as dt
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from libreoffice import convert, structure_problems
from test_excel import call, serial
from tierbook import jobs, mail, movement, reactivation
from tierbook.read import clean_contact_log, read_transactions
from tierbook.settings import Settings

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))
D = dt.datetime
ONE_TIME = [f"o{i:02d}" for i in range(1, 13)]
CONVERTED = {"o01": 300.0, "o02": 150.0, "o05": 80.0}  # June purchases after the contact
LOG_DAY = D(2026, 6, 5)


def sales_rows() -> list[list]:
    rows = [["customer", "date", "amount", "manager", "consent", "channel", "email"]]
    for i, name in enumerate(ONE_TIME):
        amount = 900.0 if i % 4 == 0 else 100.0 + i
        rows.append([name, D(2026, 2 + i % 3, 10 + i), amount, "Ann" if i % 2 else "Bob", "yes", "email",
                     f"{name}@example.com"])
    for name in ("x1", "x2"):
        rows.append([name, D(2026, 4, 2), 50.0, "Ann", "no", "email", ""])
    for name in ("r1", "r2", "r3", "r4"):
        for month in range(1, 6):
            rows.append([name, D(2026, month, 3), 400.0 + 10 * month, "Bob", "yes", "phone", ""])
    for name, amount in CONVERTED.items():
        rows.append([name, D(2026, 6, 20), amount, "", "yes", "email", ""])
    return rows


def write_xlsx(path: Path, rows: list[list], title: str = "Sales") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TIERBOOK, *args], capture_output=True, text=True, timeout=300)


def sheet_rows(path: Path, title: str) -> list[tuple]:
    """The values of a sheet, row by row (empty cells at a row's end left out)."""
    rows = []
    for row in openpyxl.load_workbook(path, read_only=True)[title].iter_rows(values_only=True):
        row = list(row)
        while row and row[-1] is None:
            row.pop()
        rows.append(tuple(row))
    return rows


def table_after(rows: list[tuple], first_header: str) -> list[dict]:
    """The rows of the table whose header row starts with FIRST_HEADER, as dicts."""
    at = next(i for i, r in enumerate(rows) if r and r[0] == first_header)
    head = [h for h in rows[at] if h is not None]
    out = []
    for row in rows[at + 1:]:
        if not row or row[0] is None:
            break
        out.append(dict(zip(head, row)))
    return out


def append_rows(path: Path, title: str, rows: list[list]) -> None:
    """What a manager does in Excel: type rows into a sheet (here with openpyxl; the
    next tierbook run writes the whole workbook again, charts included)."""
    wb = openpyxl.load_workbook(path)
    for row in rows:
        wb[title].append(row)
    wb.save(path)


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    folder = tmp_path_factory.mktemp("react")
    src = write_xlsx(folder / "sales.xlsx", sales_rows())
    out = folder / "tierbook.xlsx"
    jobs.segment_file(src, out, Settings(month="2026-05"))
    return src, out


@pytest.fixture(scope="module")
def planned(segmented, tmp_path_factory):
    """The workbook after: segment, Mailing sheet added and filled, plan (2 variants,
    seed 7), contacts logged (one bad row), and a new one-time buyer in the data."""
    _, out = segmented
    mail.init_mailing(out)
    wb = openpyxl.load_workbook(out)
    wb["Mailing"]["C2"] = "boss@example.com"
    wb.save(out)
    first = jobs.reactivation_plan(out, variants=2, seed=7)
    return out, first


def test_plan_assigns_every_one_time_buyer_with_consent_balanced_and_stores_the_seed(planned):
    out, first = planned
    assigned = first.plan.assignments
    assert sorted(assigned["customer"]) == ONE_TIME
    per_stratum = assigned.groupby("stratum")["variant"].value_counts().unstack(fill_value=0)
    assert ((per_stratum.max(axis=1) - per_stratum.min(axis=1)) <= 1).all()  # balanced in every stratum
    assert set(assigned["stratum"]) >= {"Ann / small", "Bob / huge"}
    rows = sheet_rows(out, "Reactivation")
    assert ("seed: 7",) == rows[3][:1]
    table = table_after(rows, "Customer")
    assert {r["Customer"]: r["Variant"] for r in table} == dict(zip(assigned["customer"], assigned["variant"]))
    assert {r["Planned for"] for r in table} == {D(2026, 6, 7)}  # 2026-05-31 + contact_in_days 7
    messages = {r["Variant"]: r["Message"] for r in table}
    assert messages["A"].startswith("Thank you:") and messages["B"].startswith("A useful tip:")
    assert sheet_rows(out, "Contact log") == [("Customer", "Date", "Variant", "Channel", "Note")]


def test_planning_again_keeps_the_assignments_and_adds_only_new_customers(planned, tmp_path):
    out, first = planned
    copy = tmp_path / "again.xlsx"
    copy.write_bytes(out.read_bytes())
    append_rows(copy, "Sales", [["o13", D(2026, 4, 20), 120.0, "Ann", "yes", "sms", ""]])
    again = jobs.reactivation_plan(copy)
    before = dict(zip(first.plan.assignments["customer"], first.plan.assignments["variant"]))
    after = dict(zip(again.plan.assignments["customer"], again.plan.assignments["variant"]))
    assert again.plan.seed == 7 and again.plan.variants == 2 and again.added == 1
    assert set(after) == set(before) | {"o13"}
    assert {k: after[k] for k in before} == before


def test_mailing_and_contact_log_survive_a_re_plan(planned, tmp_path):
    out, _ = planned
    copy = tmp_path / "kept.xlsx"
    copy.write_bytes(out.read_bytes())
    append_rows(copy, "Contact log", [["o01", LOG_DAY, "A", "email", "-no answer, call again-"]])
    mailing = sheet_rows(copy, "Mailing")
    jobs.reactivation_plan(copy)
    assert sheet_rows(copy, "Mailing") == mailing
    assert mailing[1][2] == "boss@example.com"
    assert sheet_rows(copy, "Contact log")[1] == ("o01", LOG_DAY, "A", "email", "-no answer, call again-")
    wb = openpyxl.load_workbook(copy)
    assert wb["Contact log"]["E2"].data_type == "s" and wb["Contact log"]["E2"].quotePrefix  # text, never a formula
    assert wb.sheetnames[-2:] == ["Mailing", "Contact log"]


def test_classifying_again_into_the_same_file_keeps_the_users_sheets_and_the_plan(segmented, planned, tmp_path):
    src, _ = segmented
    out, first = planned
    copy = tmp_path / "again.xlsx"
    copy.write_bytes(out.read_bytes())
    append_rows(copy, "Contact log", [["o02", LOG_DAY, "B", "email", "will think"]])
    before = {title: sheet_rows(copy, title) for title in ("Mailing", "Contact log", "Reactivation")}
    jobs.segment_file(src, copy, Settings(month="2026-05"))
    assert {title: sheet_rows(copy, title) for title in before} == before
    again = jobs.reactivation_plan(copy)
    assert again.added == 0 and again.plan.seed == first.plan.seed


@pytest.fixture(scope="module")
def measured(planned, tmp_path_factory):
    out, first = planned
    path = tmp_path_factory.mktemp("results") / "tierbook.xlsx"
    path.write_bytes(out.read_bytes())
    variant_of = dict(zip(first.plan.assignments["customer"], first.plan.assignments["variant"]))
    log = [[name, LOG_DAY, variant_of[name], "email", "called"] for name in ONE_TIME[:10]]
    log.append(["o11", "next week", "Z", "fax", ""])  # row 12: bad date, unknown variant
    append_rows(path, "Contact log", log)
    done = run("reactivation", "results", str(path))
    return path, done, log


def test_results_sheet_holds_variant_results_of_the_same_data(measured, segmented):
    path, done, log = measured
    src, _ = segmented
    assert done.returncode == 0, done.stderr
    raw = pd.DataFrame(log, columns=["Customer", "Date", "Variant", "Channel", "Note"], dtype=object)
    clean, _ = clean_contact_log(raw, "Contact log", variants="AB")
    tx, _ = read_transactions(src)
    expected = reactivation.variant_results(reactivation.conversions(clean, tx, 60))
    table = table_after(sheet_rows(path, "Reactivation results"), "Variant")
    assert [r["Variant"] for r in table] == expected["variant"].tolist()
    for row, (_, want) in zip(table, expected.iterrows()):
        assert (row["Contacted"], row["Converted"]) == (want["contacted"], want["converted"])
        assert row["Conversion rate"] == pytest.approx(want["rate"])
        assert (row["95% low"], row["95% high"]) == (pytest.approx(want["rate_low"]), pytest.approx(want["rate_high"]))
        assert row["Revenue after contact"] == pytest.approx(want["revenue_after"])
    assert expected["converted"].sum() == 3 and expected["revenue_after"].sum() == pytest.approx(530.0)
    verdict = reactivation.verdict(expected).text
    assert done.stdout.strip() == f"{path}: {verdict}"
    assert verdict in [c for row in sheet_rows(path, "Reactivation results") for c in row]


def test_a_bad_contact_log_row_is_reported_with_sheet_row_and_column(measured):
    path, done, _ = measured
    assert 'tierbook: Sheet "Contact log", row 12, column "Date": not a date (got \'next week\')' in done.stderr
    assert 'tierbook: Sheet "Contact log", row 12, column "Variant": not a variant (A, B) (got \'Z\')' \
        in done.stderr
    issues = table_after(sheet_rows(path, "Input issues"), "sheet")
    assert {(r["sheet"], r["row"], r["column"]) for r in issues} >= {
        ("Contact log", 12, "Date"), ("Contact log", 12, "Variant"), ("Contact log", 12, "Channel")}


def test_contacts_outside_the_plan_or_with_another_variant_are_reported_not_counted(planned, tmp_path):
    out, first = planned
    path = tmp_path / "strangers.xlsx"
    path.write_bytes(out.read_bytes())
    variant_of = dict(zip(first.plan.assignments["customer"], first.plan.assignments["variant"]))
    other = {"A": "B", "B": "A"}
    append_rows(path, "Contact log", [
        ["o01", LOG_DAY, variant_of["o01"], "email", ""],  # row 2: counted, converted
        ["r1", LOG_DAY, "A", "phone", ""],  # row 3: a repeat customer, not in the plan
        ["o02", LOG_DAY, other[variant_of["o02"]], "email", ""],  # row 4: another variant than planned
    ])
    done = run("reactivation", "results", str(path))
    assert done.returncode == 0, done.stderr
    assert 'Sheet "Contact log", row 3, column "Customer": customer is not in the reactivation plan, not counted' \
        in done.stderr
    assert (f'Sheet "Contact log", row 4, column "Variant": variant {other[variant_of["o02"]]} is not the planned '
            f'variant {variant_of["o02"]}, not counted') in done.stderr
    table = table_after(sheet_rows(path, "Reactivation results"), "Variant")
    assert sum(r["Contacted"] for r in table) == 1 and sum(r["Converted"] for r in table) == 1
    issues = table_after(sheet_rows(path, "Input issues"), "sheet")
    assert {(r["row"], r["column"]) for r in issues if r["sheet"] == "Contact log"} == {(3, "Customer"), (4, "Variant")}


def test_libreoffice_opens_the_workbook_and_the_charts_are_present(measured, tmp_path):
    path, _, _ = measured
    book = openpyxl.load_workbook(path)
    assert structure_problems(book) == []
    assert [type(c).__name__ for c in book["Movement"]._charts] == ["LineChart"]
    assert [type(c).__name__ for c in book["Reactivation results"]._charts] == ["BarChart"]
    (converted,) = convert([path], "xlsx", tmp_path / "lo", tmp_path / "profile")
    again = openpyxl.load_workbook(converted)
    assert len(again["Movement"]._charts) == 1 and len(again["Reactivation results"]._charts) == 1
    assert len(again["Summary"]._charts) == 3


def test_movement_sheet_shows_the_matrix_of_the_analysis_month(segmented):
    src, out = segmented
    tx, _ = read_transactions(src)
    history = movement.tier_history(tx, Settings(month="2026-05"))
    matrix = movement.transition_matrix(history, "2026-05")
    rows = sheet_rows(out, "Movement")
    table = table_after(rows, "Tier last month")
    assert [r["Tier last month"] for r in table] == ["VIP", "Good", "Regular", "Inactive"]
    assert [[r[t] for t in ("VIP", "Good", "Regular", "Inactive")] for r in table] == matrix.to_numpy().tolist()
    sizes = table_after(rows, "Month")
    assert [r["Month"] for r in sizes] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    changes = {r["Customer"]: r for r in table_after(rows, "Customer")}
    want = movement.tier_changes(history).set_index("customer")
    assert changes["o01"]["Changed in"] == want.loc["o01", "changed_on"]


def test_cli_plan_prints_customers_per_variant_and_refuses_a_new_seed(planned, tmp_path):
    out, _ = planned
    copy = tmp_path / "cli.xlsx"
    copy.write_bytes(out.read_bytes())
    done = run("reactivation", "plan", str(copy), "--quiet")
    assert done.returncode == 0, done.stderr
    a, b = (int((planned[1].plan.assignments["variant"] == v).sum()) for v in "AB")
    assert a + b == 12
    assert done.stdout.strip() == f"{copy}: 12 one-time buyers in 2 variants (A: {a}, B: {b}; 0 new), seed 7"
    done = run("reactivation", "plan", str(copy), "--seed", "8")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == \
        "tierbook: error: cli.xlsx already has a plan with seed 7; the seed of a test cannot change"


def test_cli_results_without_a_plan_is_a_one_line_error(segmented, tmp_path):
    _, out = segmented
    fresh = tmp_path / "fresh.xlsx"
    jobs.segment_file(write_xlsx(tmp_path / "s.xlsx", sales_rows()), fresh)
    done = run("reactivation", "results", str(fresh))
    assert done.returncode == 2
    assert done.stderr.strip() == ("tierbook: error: fresh.xlsx has no reactivation plan yet: run tierbook "
                                   "reactivation plan first")


def test_movement_function_gives_previous_tier_and_change_month(segmented):
    from tierbook.sheets import tier_label

    src, _ = segmented
    matrix = [[serial(v) for v in row] for row in sales_rows()]
    settings = "month=2026-05"
    tx, _ = read_transactions(src)
    want = movement.tier_changes(movement.tier_history(tx, Settings(month="2026-05"))).set_index("customer")
    got = call("movement", [["r1"], ["o01"], ["nobody"]], matrix, settings)
    assert got == [[tier_label(want.loc["r1", "previous_tier"], "en"), want.loc["r1", "changed_on"]],
                   [tier_label(want.loc["o01", "previous_tier"], "en"), want.loc["o01", "changed_on"]],
                   ["unknown customer", ""]]
    assert want.loc["o01", "previous_tier"] == "inactive"
    assert got[1] == ["Inactive", "2026-02"]  # o01's one purchase, in February; as the Movement sheet says it


def test_ribbon_plan_reactivation_writes_the_plan_and_keeps_it_on_a_second_click(tmp_path):
    from test_excel import book_payload
    from test_excel_scripts import apply_actions, run_script

    src = write_xlsx(tmp_path / "sales.xlsx", sales_rows())
    actions = run_script("plan_reactivation", book_payload(src, "sales.xlsx"))
    wb = openpyxl.load_workbook(src)
    apply_actions(wb, actions)
    assert {"Movement", "Reactivation", "Contact log"} <= set(wb.sheetnames)
    assert [c.value for c in wb["Contact log"][1]] == ["Customer", "Date", "Variant", "Channel", "Note"]
    first = wb.sheetnames
    wb.save(tmp_path / "clicked.xlsx")
    plan = jobs._read_plan(sheet_rows(tmp_path / "clicked.xlsx", "Reactivation"), "en", {})
    assert plan.variants == 5 and len(plan.assignments) > 0

    again = run_script("plan_reactivation", book_payload(tmp_path / "clicked.xlsx", "sales.xlsx"))
    apply_actions(wb, again)
    wb.save(tmp_path / "twice.xlsx")
    replanned = jobs._read_plan(sheet_rows(tmp_path / "twice.xlsx", "Reactivation"), "en", {})
    assert replanned.seed == plan.seed and wb.sheetnames == first
    pd.testing.assert_frame_equal(replanned.assignments, plan.assignments)

    # classifying again from the ribbon keeps the plan, as `tierbook segment` into the same file does
    segmented_again = run_script("segment_customers", book_payload(tmp_path / "twice.xlsx", "sales.xlsx"))
    apply_actions(wb, segmented_again)
    wb.save(tmp_path / "resegmented.xlsx")
    kept = jobs._read_plan(sheet_rows(tmp_path / "resegmented.xlsx", "Reactivation"), "en", {})
    assert kept is not None and kept.seed == plan.seed
    pd.testing.assert_frame_equal(kept.assignments, plan.assignments)
