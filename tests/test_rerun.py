"""Issue 10.2: writing again into an existing workbook never loses a sheet the user
added there silently: the run is refused, naming the sheets, unless --force. Through
the installed `tierbook` command."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from test_cli import error_line, run
from tierbook.demo import demo_path


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("rerun")
    sales = folder / "sales.xlsx"
    shutil.copyfile(demo_path(), sales)
    done = run("segment", str(sales), "--out", str(folder / "tierbook.xlsx"))
    assert done.returncode == 0, done.stderr
    return sales, folder / "tierbook.xlsx"


def with_user_sheets(path: Path, target: Path, *titles: str) -> Path:
    wb = openpyxl.load_workbook(path)
    for title in titles:
        ws = wb.create_sheet(title)
        ws["A1"], ws["B1"] = "my notes", "=1+1"
    wb.save(target)
    return target


def test_a_rerun_into_a_workbook_of_tierbook_sheets_only_replaces_it(written, tmp_path):
    sales, out = written
    copy = tmp_path / "again.xlsx"
    shutil.copyfile(out, copy)
    done = run("segment", str(sales), "--out", str(copy))
    assert done.returncode == 0, done.stderr


def test_segment_refuses_to_lose_the_users_sheets_and_names_them(written, tmp_path):
    sales, out = written
    target = with_user_sheets(out, tmp_path / "mine.xlsx", "Budget", "Q3 notes")
    before = target.read_bytes()
    done = run("segment", str(sales), "--out", str(target))
    assert done.returncode == 2
    assert error_line(done) == ('tierbook: error: mine.xlsx has sheets tierbook did not write, which would be lost: '
                                '"Budget", "Q3 notes"; move them to another workbook or write to another file, or add '
                                "--force to replace them")
    assert target.read_bytes() == before  # untouched


def test_force_replaces_them(written, tmp_path):
    sales, out = written
    target = with_user_sheets(out, tmp_path / "mine.xlsx", "Budget")
    done = run("segment", str(sales), "--out", str(target), "--force")
    assert done.returncode == 0, done.stderr
    assert "Budget" not in openpyxl.load_workbook(target, read_only=True).sheetnames


def test_a_workbook_tierbook_did_not_write_is_refused(written, tmp_path):
    sales, _ = written
    other = tmp_path / "report.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Report"
    wb.save(other)
    done = run("segment", str(sales), "--out", str(other))
    assert done.returncode == 2 and '"Report"' in error_line(done)
    (tmp_path / "notes.xlsx").write_text("not a workbook")
    done = run("segment", str(sales), "--out", str(tmp_path / "notes.xlsx"))
    assert done.returncode == 2
    assert error_line(done) == ("tierbook: error: notes.xlsx exists and is not a workbook tierbook can read: it would "
                                "be replaced; write to another file, or add --force to replace it")


@pytest.mark.parametrize("command", [["reactivation", "plan", "--seed", "7"], ["reactivation", "results"]])
def test_reactivation_refuses_to_lose_the_users_sheets(written, tmp_path, command):
    _, out = written
    planned = tmp_path / "planned.xlsx"
    shutil.copyfile(out, planned)
    assert run("reactivation", "plan", str(planned), "--seed", "7").returncode == 0
    target = with_user_sheets(planned, tmp_path / "mine.xlsx", "Budget")
    done = run(*command, str(target))
    assert done.returncode == 2 and '"Budget"' in error_line(done)
    done = run(*command, str(target), "--force")
    assert done.returncode == 0, done.stderr
