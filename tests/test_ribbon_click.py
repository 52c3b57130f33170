"""The ribbon click as Excel takes it (issue 20): ribbon.js in node, the real server on
127.0.0.1, and the strict Excel stand-in (tests/js/excel_standin.js) holding the
workbook: it refuses what Excel refuses (a formula naming a table, sheet or name not
there yet, a LAMBDA name where Excel has none, a sync over 5 MB, a call beyond the
manifest's requirement set) and counts the Office.js syncs. What the stand-in holds after
a click is compared feature by feature with `tierbook segment`'s file."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

os.environ["XLWINGS_ON_SERVER"] = "true"  # before the first import of xlwings
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"

import openpyxl
import pytest
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.numbers import is_date_format
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table

from helpers import running_server
from test_excel import BOOK, book_payload
from test_excel_scripts import (JS_ALIGNMENT, assert_same_features, demo_payload, log_rows, payload_with_settings,
                                with_log)
from tierbook import jobs, lookups
from tierbook.demo import demo_path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "js" / "ribbon_harness.js"
LIMIT = 5 * 1024 * 1024  # Excel on the web: 5 MB a request or response


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server({"TIERBOOK_OUTPUT_ROOT": str(tmp_path_factory.mktemp("root"))}) as base:
        yield base


def click(server: str, scripts: str, payload: dict, folder: Path, env: dict[str, str] | None = None,
          expect_ok: bool = True) -> dict:
    """ribbon.js's clicks SCRIPTS (comma-separated) in node against SERVER, the stand-in
    loaded with PAYLOAD: the harness's record (tests/js/ribbon_harness.js)."""
    node = shutil.which("node")
    assert node, "node is needed (scripts/test.sh installs it)"
    book, out = folder / "book.json", folder / "out.json"
    book.write_text(json.dumps(payload, default=str))
    done = subprocess.run([node, str(HARNESS), server, scripts, str(book), str(out)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})
    if not expect_ok:
        assert done.returncode != 0
        return {"error": done.stderr}
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- the stand-in's book as a file


def _serial_date(value: float) -> dt.datetime:
    return dt.datetime(1899, 12, 30) + dt.timedelta(days=value)


def _address(text: str) -> str:
    """Summary!$E$8:$F$12 → E8:F12."""
    return text.split("!")[-1].replace("$", "")


def book_of(snapshot: dict, path: Path) -> list[dict]:
    """The stand-in's workbook SNAPSHOT saved as an .xlsx at PATH (values, formulas,
    number formats, fonts, fills, alignments, widths, heights, merges, tables,
    conditional formats, dropdowns, panes, gridlines): what Excel would hold. Returns its
    charts as test_excel_scripts.ribbon_charts takes them."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    charts = []
    for sheet in snapshot["sheets"]:
        ws = wb.create_sheet(sheet["name"])
        for ref, cell in sheet["cells"].items():
            target = ws[ref]
            fmt = cell.get("numberFormat")
            if "formula" in cell:
                target.value = cell["formula"]
            elif "value" in cell:
                value = cell["value"]
                if fmt and isinstance(value, (int, float)) and not isinstance(value, bool) and is_date_format(fmt):
                    value = _serial_date(value)
                target.value = value
                if isinstance(value, str):
                    target.data_type = "s"
            if fmt:
                target.number_format = fmt
            if any(k in cell for k in ("bold", "italic", "size", "color")):
                target.font = Font(b=cell.get("bold"), i=cell.get("italic"), sz=cell.get("size"),
                                   color=cell["color"][1:].upper() if cell.get("color") else None)
            if cell.get("fill"):
                target.fill = PatternFill(fill_type="solid", fgColor=cell["fill"][1:].upper())
            if any(k in cell for k in ("wrapText", "horizontalAlignment", "verticalAlignment")):
                target.alignment = Alignment(wrap_text=cell.get("wrapText"),
                                             horizontal=JS_ALIGNMENT.get(cell.get("horizontalAlignment")),
                                             vertical=JS_ALIGNMENT.get(cell.get("verticalAlignment")))
        for letter, points in sheet["columnWidths"].items():
            ws.column_dimensions[letter].width = (points - 3.75) / 0.75 / 7
        for row, points in sheet["rowHeights"].items():
            ws.row_dimensions[int(row)].height = points
        for merged in sheet["merged"]:
            ws.merge_cells(_address(merged))
        for table in sheet["tables"]:
            ws.add_table(Table(displayName=table["name"], ref=_address(table["address"])))
        for cf in sheet["conditionalFormats"]:
            font = Font(color=cf["fontColor"][1:].upper()) if cf["fontColor"] else None
            fill = PatternFill(fill_type="solid", fgColor=cf["fillColor"][1:].upper()) if cf["fillColor"] else None
            ws.conditional_formatting.add(_address(cf["range"]), FormulaRule(formula=[cf["formula"].lstrip("=")],
                                                                               font=font, fill=fill))
        for dv in sheet["dataValidations"]:
            rule = DataValidation(type="list", formula1=f'"{dv["source"]}"')
            rule.add(_address(dv["range"]))
            ws.add_data_validation(rule)
        if sheet["freezePanes"]:
            frozen = sheet["freezePanes"]
            ws.freeze_panes = f"{get_column_letter(frozen['columns'] + 1)}{frozen['rows'] + 1}"
        if sheet["showGridlines"] is False:
            ws.sheet_view.showGridLines = False
        for chart in sheet["charts"]:
            x = chart["xAxisValues"]
            charts.append({"sheet": sheet["name"], "kind": chart["type"], "source": _address(chart["source"]),
                           "x": _address(x[0]) if x else None, "anchor": chart["anchor"]["start"],
                           "title": chart["name"]})
    for name in snapshot["names"]:
        from openpyxl.workbook.defined_name import DefinedName

        wb.defined_names[name["name"]] = DefinedName(name["name"], attr_text=name["formula"].lstrip("="))
    wb.save(path)
    return charts


def sheet_of(snapshot: dict, title: str) -> dict:
    return next(s for s in snapshot["sheets"] if s["name"] == title)


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def two_clicks(server, tmp_path_factory) -> dict:
    """Segment customers clicked twice on the demo workbook in the stand-in."""
    return click(server, "segment_customers,segment_customers", demo_payload(), tmp_path_factory.mktemp("clicks"))


def test_a_click_takes_a_handful_of_syncs_none_over_excels_limit(two_clicks):
    """Item 3: the whole click (reads included) in at most 8 Office.js syncs on the demo,
    the second click likewise; no sync carries over 5 MB either way."""
    for run in two_clicks["clicks"]:
        assert run["syncs"] <= 8, (run["script"], run["syncs"])
        assert run["largest_sync_request"] <= LIMIT and run["largest_sync_response"] <= LIMIT
        assert run["max_excel_api"] == "1.8"  # what the manifest declares (the stand-in refuses more)
    assert two_clicks["clicks"][0]["reads"] >= 1 and two_clicks["clicks"][1]["reads"] >= 2  # the lists too


def test_after_two_clicks_the_book_has_every_feature_of_the_file(two_clicks, cli_file, tmp_path):
    """What Excel holds after the clicks, read from the stand-in, against `tierbook
    segment`'s file: values, formulas, number formats, fonts, fills, alignments,
    conditional formats, dropdowns, tables, panes, merges, widths, charts, gridlines."""
    snapshot = two_clicks["snapshot"]
    titles = [s["name"] for s in snapshot["sheets"]]
    generated = [t for t in openpyxl.load_workbook(cli_file, read_only=True).sheetnames if t != "Sales"]
    assert titles == ["Sales"] + generated + ["tierbook settings"]  # the user's sheet first, as it was
    charts = book_of(snapshot, tmp_path / "book.xlsx")
    assert_same_features(tmp_path / "book.xlsx", charts, cli_file)
    names = {n["name"]: n["formula"] for n in snapshot["names"]}
    assert set(lookups.CUSTOMER_FUNCTIONS) <= set(names) and "tierbook_segment" in names
    assert names["SEGMENT"] == lookups.typed_formula(lookups.file_names("en")["SEGMENT"])


def test_the_users_rows_are_as_they_were_with_the_segment_column_beside(two_clicks):
    sales = sheet_of(two_clicks["snapshot"], "Sales")
    original = demo_payload()["sheets"][0]["values"]
    width = len(original[0])
    header = {ref: c for ref, c in sales["cells"].items() if ref.endswith("1") and ref[:-1].isalpha()}
    assert header[f"{get_column_letter(width + 1)}1"]["value"] == "Segment"
    for ref, cell in list(sales["cells"].items())[:200]:
        column = column_index_from_string("".join(ch for ch in ref if ch.isalpha()))
        row = int("".join(ch for ch in ref if ch.isdigit()))
        if column <= width and not isinstance(original[row - 1][column - 1], str):
            assert cell["value"] == original[row - 1][column - 1], ref


def test_every_formula_named_only_what_existed_when_it_was_written(two_clicks):
    """Structure before content (item 2): the stand-in refuses a formula naming a table or
    sheet that is not there yet, so the click passing is the check; it also found no
    formula naming an undefined name."""
    for run in two_clicks["clicks"]:
        assert run["undefined_names"] == []
        funcs = [a["func"] for a in run["actions"]]
        last_table = max(i for i, f in enumerate(funcs) if f == "addTable")
        assert all(i > last_table for i, f in enumerate(funcs) if f == "setFormula")
        assert all(f in ("namesAdd", "nameDelete", "activateSheet") for f in funcs[funcs.index("namesAdd"):])


def test_the_old_order_is_refused_and_the_error_names_the_action_and_the_sheet(server, tmp_path):
    """The stand-in is a test of Excel only where it refuses: the Summary's formulas before
    the Customers table (the order of the ribbon before issue 20) stop the click, and the
    page replayed action by action names the action and its sheet."""
    actions = click(server, "segment_customers", demo_payload(), tmp_path)["actions"]
    formulas = [a for a in actions if a["func"] == "setFormula"]
    reordered = [a for a in actions if a["func"] != "setFormula"]
    first_table = next(i for i, a in enumerate(reordered) if a["func"] == "addTable")
    reordered[first_table:first_table] = formulas
    (tmp_path / "actions.json").write_text(json.dumps(reordered))
    done = subprocess.run(["node", "-e", APPLY, str(ROOT), str(tmp_path / "actions.json")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["error"].startswith("tierbook: Excel refused action"), out
    assert '(setFormula on sheet "Summary")' in out["error"] and "tbCustomers" in out["error"], out
    assert out["tables"] == [], out  # nothing after the refused formula was applied


def test_a_refused_page_is_replayed_without_adding_twice_what_excel_had_applied(tmp_path):
    """Office.js keeps the operations of a refused batch that came before the refused one:
    the replay finds the sheet and the chart already there (not added twice), and stops at
    the refused formula, naming it."""
    def action(func, args, sheet=None, values=None, at=(None, None, None, None)):
        row, column, rows, columns = at
        return {"func": func, "args": args, "values": values, "sheet_position": sheet, "start_row": row,
                "start_column": column, "row_count": rows, "column_count": columns}

    actions = [action("addSheet", [1, "Chart sheet"]),
               action("setValues", [None], 1, [["x", "y"], [1, 2], [3, 4]], (0, 0, 3, 2)),
               action("addChart", ["Chart one", "ColumnClustered", "Chart sheet", "$A$1:$B$3", None, None, 300, 200,
                                   "Columns", "$D$2", None], 1),
               action("setChartXAxisValues", [0, "Chart sheet", "$A$2:$A$3"], 1),
               action("setFormula", [None], 1, [["=SUM(tbMissing[[y]])"]], (5, 0, 1, 1))]
    (tmp_path / "actions.json").write_text(json.dumps(actions))
    done = subprocess.run(["node", "-e", APPLY, str(ROOT), str(tmp_path / "actions.json")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["error"].startswith('tierbook: Excel refused action 5 of part 1 (setFormula on sheet "Chart sheet")')
    assert out["sheets"] == ["Sales", "Chart sheet"] and out["charts"] == ["Chart one"]


#: Applies a list of actions to an empty stand-in book (one sheet, Sales) with ribbon.js's applyPage.
APPLY = r"""
const path = require("path");
const root = process.argv[1];
const ribbon = require(path.join(root, "addin/tierbook/server/static/js/ribbon.js"));
const { createExcel } = require(path.join(root, "tests/js/excel_standin.js"));
const host = createExcel({ excelApi: "1.9", book: { sheets: [{ name: "Sales", values: [["Customer"]] }] } });
const book = { sheets: ["Sales"], charts: {}, skipped: [], alerts: [], supports: () => true };
const actions = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
host.Excel.run((context) => ribbon.applyPage(context, actions, book, { runActions: async () => {} }))
  .then(() => ({ error: null }), (error) => ({ error: error.message }))
  .then((out) => {
    const snap = host.snapshot();
    out.tables = snap.sheets.flatMap((s) => s.tables.map((t) => t.name));
    out.sheets = snap.sheets.map((s) => s.name);
    out.charts = snap.sheets.flatMap((s) => s.charts.map((c) => c.name));
    console.log(JSON.stringify(out));
  });
"""


def test_the_print_area_is_set_where_excel_has_it_and_left_where_it_has_not(server, two_clicks, tmp_path):
    """The manifest asks for ExcelApi 1.8 (Excel 2019); the print area needs 1.9: set there,
    left alone on 1.8 (the stand-in refuses the call on 1.8, so the click passing shows it
    was not made)."""
    assert sheet_of(two_clicks["snapshot"], "Summary")["printArea"] is None
    run = click(server, "segment_customers", demo_payload(), tmp_path, env={"TIERBOOK_HARNESS_EXCEL_API": "1.9"})
    assert sheet_of(run["snapshot"], "Summary")["printArea"] == "A1:G201"


def test_without_lambda_the_click_completes_and_says_which_formulas_to_type(server, tmp_path):
    """Item 4: an Excel without LAMBDA (2019, 2021) refuses the function names; the click
    still writes every sheet and the task pane names the skipped names with the plain
    formula to type instead."""
    run = click(server, "segment_customers", demo_payload(), tmp_path, env={"TIERBOOK_HARNESS_LAMBDA": "0"})
    snapshot = run["snapshot"]
    assert "Customers" in [s["name"] for s in snapshot["sheets"]]
    names = {n["name"] for n in snapshot["names"]}
    assert not names & set(lookups.CUSTOMER_FUNCTIONS) and "tierbook_segment" in names
    assert sorted(s.split(":")[0] for s in run["skipped"]) == sorted(lookups.CUSTOMER_FUNCTIONS)
    (alert,) = run["alerts"]
    assert "did not take the names" in alert["text"]
    assert lookups.fallback_formula("segment", "A2", "en") in alert["text"]
    assert run["syncs"] <= 8 + 2 + len(lookups.CUSTOMER_FUNCTIONS)  # the names tried one by one


def test_a_russian_book_clicks_through_the_stand_in_like_the_file(server, tmp_path):
    """The settings sheet says lang ru: the Russian sheets, tables and names pass Excel's rules."""
    run = click(server, "segment_customers", payload_with_settings(lang="ru"), tmp_path)
    assert run["syncs"] <= 8
    expected = tmp_path / "ru.xlsx"
    jobs.segment_file(demo_path(), expected, lang="ru")
    charts = book_of(run["snapshot"], tmp_path / "book.xlsx")
    assert_same_features(tmp_path / "book.xlsx", charts, expected)
    names = {n["name"]: n["formula"] for n in run["snapshot"]["names"]}
    assert "tbCustomers[[Сегмент]]" in names["SEGMENT"]


def test_plan_and_results_click_through_the_stand_in_like_the_files(server, cli_file, tmp_path):
    """Plan reactivation after Segment customers, then Reactivation results on the book
    with a Contact log: each as the file of the same command (the plan's seed drawn by
    the click)."""
    run = click(server, "segment_customers,plan_reactivation", demo_payload(), tmp_path)
    assert all(c["syncs"] <= 8 for c in run["clicks"]), [c["syncs"] for c in run["clicks"]]
    book = tmp_path / "book.xlsx"
    charts = book_of(run["snapshot"], book)
    rows = [tuple(r) for r in openpyxl.load_workbook(book)["Reactivation"].iter_rows(values_only=True)]
    plan = jobs._read_plan(rows, "en", {})
    assert len(plan.assignments) > 0
    planned = tmp_path / "planned.xlsx"
    planned.write_bytes(cli_file.read_bytes())
    jobs.reactivation_plan(planned, seed=plan.seed)
    assert_same_features(book, charts, planned, user_sheets=("Contact log",))

    logged = with_log(book, log_rows(plan), tmp_path / "logged.xlsx")
    after = click(server, "reactivation_results", book_payload(logged, name=BOOK), tmp_path)
    assert after["syncs"] <= 8
    measured = with_log(planned, log_rows(plan), tmp_path / "measured.xlsx")
    jobs.reactivation_results(measured)
    charts = book_of(after["snapshot"], tmp_path / "after.xlsx")
    assert_same_features(tmp_path / "after.xlsx", charts, measured, user_sheets=("Contact log",))


@pytest.mark.slow
def test_a_click_on_50k_rows_takes_at_most_20_syncs_none_over_the_limit(server, tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench import synthetic, write_xlsx

    source = tmp_path / "sales.xlsx"
    write_xlsx(synthetic(50_000), source)
    run = click(server, "segment_customers,segment_customers", book_payload(source), tmp_path)
    for one in run["clicks"]:
        assert one["syncs"] <= 20, (one["script"], one["syncs"])
        assert one["largest_sync_request"] <= LIMIT and one["largest_sync_response"] <= LIMIT


@pytest.mark.slow
def test_in_a_browser_the_task_pane_has_the_ribbon_client_and_xlwings_date_rule(server, chromium):
    """The task pane page in Debian's chromium: ribbon.js is loaded, and the module its
    browserEnv imports (xlwings' client's convertDateValues, served beside it) loads and
    converts a serial with a date format as the harness's copy does."""
    page = chromium.new_page()
    page.goto(server + "/taskpane.html")
    page.wait_for_function("() => typeof TierbookRibbon !== \"undefined\"")
    converted = page.evaluate("""async () => {
        const src = document.querySelector('script[src*="ribbon.js"]').src;
        const { convertDateValues } = await import(new URL("./custom-scripts/workbook-metadata.js", src).href);
        const values = [[46022, "x", 3]];
        convertDateValues(values, [["yyyy-mm-dd", "General", "General"]]);
        return values;
    }""")
    assert converted == [["2025-12-31T00:00:00.000Z", "x", 3]]
