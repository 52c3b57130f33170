"""The reader's cleaning rules without pyarrow (xlwings Lite): tierbook.arrowless stands in
for pyarrow.compute, and must give the very answers pyarrow gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tierbook import arrowless, read
from tierbook.demo import demo_path

TESTS = Path(__file__).resolve().parent


def test_the_reader_tests_pass_without_pyarrow_and_fastexcel():
    # every rule of test_read.py that does not read a file (files need fastexcel or pyarrow)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "without_pyarrow", "-o", "addopts=", "-q", "-p", "no:cacheprovider",
         str(TESTS / "test_read.py"), "-k", "not xlsx and not parquet and not csv"],
        capture_output=True, text=True, timeout=600, cwd=TESTS,
        env={**os.environ, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


def test_the_demo_export_cleans_the_same_with_and_without_pyarrow(monkeypatch):
    raw, sheet, first_row, _ = read.load_sheet(demo_path())
    # a dirty copy: text amounts and dates, spaces in ids, totals and blank rows, bad cells
    dirty = raw.astype(object).copy()
    dirty.loc[3, "Amount"] = "1 234,50 ₽"
    dirty.loc[4, "Amount"] = "(500)"
    dirty.loc[5, "Amount"] = "n/a"
    dirty.loc[6, "Date"] = "19.11.2025"
    dirty.loc[7, "Date"] = "2025-11-19 10:30"
    dirty.loc[8, "Date"] = "45000"
    dirty.loc[9, "Customer"] = "  Acme   Trading "
    dirty.loc[10, "Customer"] = "Итого"
    dirty.loc[11, :] = None
    dirty.loc[12, "Amount"] = "#N/A"
    with_arrow = read.clean_transactions(dirty, sheet=sheet, first_row=first_row)
    monkeypatch.setattr(read, "pa", arrowless.pa)
    monkeypatch.setattr(read, "pc", arrowless.pc)
    without = read.clean_transactions(dirty, sheet=sheet, first_row=first_row)
    for a, b in zip(with_arrow, without):
        pd.testing.assert_frame_equal(a, b)
    assert len(with_arrow[1]) >= 3  # the bad cells were reported, not dropped
