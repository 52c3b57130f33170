"""Issue 10.13 and 10.20 through the real CLI: the run says which month it analysed and
why; when no row can be used, the Input issues are still written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([TIERBOOK, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_summary_line_says_what_the_analysis_month_is_and_why(tmp_path):
    (tmp_path / "s.csv").write_text("customer,date,amount\nA,2024-01-05,10\nB,2024-03-02,20\nA,2042-03-01,5\n",
                                    encoding="utf-8")
    done = run("segment", "s.csv", "--out", "o.xlsx", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the 2042 typo is a reported row, not the analysis month
    assert "as of 2024-03 (the last month with payments in the data; --month YYYY-MM to choose another)" in done.stdout
    chosen = run("segment", "s.csv", "--out", "p.xlsx", "--quiet", "--month", "2024-01", cwd=tmp_path)
    assert "as of 2024-01 (the month you chose)" in chosen.stdout


def test_when_every_row_is_bad_the_input_issues_are_still_written(tmp_path):
    (tmp_path / "s.csv").write_text("customer,date,amount\nA,someday,10\n,2024-01-05,20\nC,2024-01-06,lots\n",
                                    encoding="utf-8")
    done = run("segment", "s.csv", "--out", "o.xlsx", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        'tierbook: error: no usable transactions in s.csv: all its rows have problems; 3 are listed in the sheet '
        '"Input issues" of o.xlsx')
    book = openpyxl.load_workbook(tmp_path / "o.xlsx", read_only=True)
    assert book.sheetnames == ["Input issues"]
    rows = list(book["Input issues"].iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == [2, 3, 4]  # the sheet's row numbers, one issue each
    # a later good run may replace it: the file holds only tierbook's sheet
    (tmp_path / "s.csv").write_text("customer,date,amount\nA,2024-01-05,10\n", encoding="utf-8")
    assert run("segment", "s.csv", "--out", "o.xlsx", "--quiet", cwd=tmp_path).returncode == 0
