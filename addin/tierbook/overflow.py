"""Sheets beyond Excel's row limit (issue 14): how many rows a sheet holds, and the full
customer list written beside a workbook whose Customers sheet cannot hold everyone.

Excel stops at 1,048,576 rows per sheet; a source with more customers (or a segment, a
ledger, a monthly VIP table with more rows) still gives a valid workbook: each such
sheet holds the rows that fit (sheets.fit_rows says which, and says so on the sheet) and
the whole Customers table is written as a CSV file beside the workbook. SHEET_ROWS is
the one place of the limit, so that a test can lower it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

#: Excel's rows per sheet (the header row included).
SHEET_ROWS = 1_048_576
#: Rows a template may use above and around its table (the bundled ones use under 12).
TEMPLATE_ROWS = 100


def sheet_capacity(template: str | None) -> int:
    """The data rows a sheet holds: under a header at row 1 (a plain sheet), or under a
    template's title rows."""
    return SHEET_ROWS - (1 if template is None else TEMPLATE_ROWS)


def full_list_path(out: str | Path) -> Path:
    """Where the full customer list of the workbook OUT goes: OUT's name with
    " - customers.csv", in the same folder."""
    out = Path(out)
    return out.with_name(f"{out.stem} - customers.csv")


def write_full_list(result, out: str | Path):
    """When the customers of RESULT (a segment.Segmentation) do not fit in one sheet,
    write them all to full_list_path(OUT) (UTF-8 CSV, the Customers columns) and return
    RESULT with a line in the input report saying where; otherwise RESULT unchanged."""
    customers = result.customers
    capacity = sheet_capacity(None)
    if len(customers) <= capacity:
        return result
    path = full_list_path(out)
    tmp = path.with_name(path.name + ".tmp")
    customers.to_csv(tmp, index=False, encoding="utf-8")
    tmp.replace(path)
    note = pd.DataFrame([{"sheet": "customers", "row": 0, "column": "", "value": path.name,
                          "problem": f"{len(customers):,} customers exceed Excel's {SHEET_ROWS:,} rows per sheet: "
                                     f"the Customers sheet holds the {capacity:,} with the highest revenue, all of "
                                     f"them are in {path.name} beside the workbook"}])
    issues = pd.concat([result.issues, note], ignore_index=True).astype({"row": "int64"})
    return dataclasses.replace(result, issues=issues)
