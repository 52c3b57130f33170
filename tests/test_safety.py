"""The user's files are never written over, file names are safe on every system, and a
failed write says one line: through the installed `tierbook` command."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tierbook import jobs

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))


def run(*args: str, cwd: Path | None = None, max_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limit():  # a disk that takes no file larger than MAX_FILE_BYTES (EFBIG, as a full disk gives ENOSPC)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([TIERBOOK, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          preexec_fn=limit if max_file_bytes else None)


def only_error_line(done: subprocess.CompletedProcess) -> str:
    """The run printed exactly one line on stderr, the error, and exited 2."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tierbook: error: "), done.stderr
    return lines[0]


def sales_csv(path: Path, managers: dict[str, int]) -> Path:
    """A sales export: MANAGERS maps each manager to a number of customers (3 purchases each)."""
    rows = ["customer,date,amount,manager"]
    n = 0
    for manager, customers in managers.items():
        for _ in range(customers):
            n += 1
            rows += [f"C{n:05},2026-{m:02}-1{n % 9},{100 + n % 50}.5,{manager}" for m in (8, 9, 10)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sales_book(tmp_path_factory) -> Path:
    """A user's own workbook (with a formula) holding a sales export."""
    path = tmp_path_factory.mktemp("user") / "sales.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    sheet.append(["customer", "date", "amount", "manager"])
    for i in range(20):
        sheet.append([f"C{i}", f"2026-{8 + i % 3:02}-1{i % 9}", 100 + i, "Anna" if i % 2 else "Bob"])
    sheet["F1"] = "=SUM(C2:C21)"
    book.create_sheet("My notes")["A1"] = "keep me"
    book.save(path)
    return path


# --------------------------------------------------------------------------- OUT is never the input


def test_segment_refuses_to_write_over_its_input_however_the_path_is_spelled(sales_book, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    sales = work / "sales.xlsx"
    shutil.copyfile(sales_book, sales)
    before = sales.read_bytes()
    (work / "link.xlsx").symlink_to(sales)
    os.link(sales, work / "hard.xlsx")
    (work / "sub").mkdir()
    spellings = {"the same path": str(sales), "relative": "sales.xlsx", "with ./": "./sales.xlsx",
                 "through ..": "sub/../sales.xlsx", "doubled slashes": str(work) + "//sales.xlsx",
                 "a symlink to it": "link.xlsx", "a hard link to it": "hard.xlsx"}
    for how, out in spellings.items():
        line = only_error_line(run("segment", "sales.xlsx", "--out", out, cwd=work))
        assert line == (f"tierbook: error: --out {Path(out)} is the input file sales.xlsx: tierbook never writes over "
                        f"its input; choose another name"), how
        assert sales.read_bytes() == before, how
    # the input through a symlinked folder
    (tmp_path / "alias").symlink_to(work)
    only_error_line(run("segment", str(tmp_path / "alias" / "sales.xlsx"), "--out", str(sales)))
    assert sales.read_bytes() == before
    assert sorted(p.name for p in work.iterdir()) == ["hard.xlsx", "link.xlsx", "sales.xlsx", "sub"]


def test_a_name_differing_in_case_is_the_input_only_where_the_disk_says_so(sales_book, tmp_path):
    sales = tmp_path / "sales.xlsx"
    shutil.copyfile(sales_book, sales)
    before = sales.read_bytes()
    case_insensitive = (tmp_path / "SALES.xlsx").exists()
    done = run("segment", str(sales), "--out", str(tmp_path / "SALES.xlsx"), "--quiet")
    if case_insensitive:  # Windows, macOS: the same file
        only_error_line(done)
    else:  # a case-sensitive disk: another file, written beside the input
        assert done.returncode == 0, done.stderr
        assert openpyxl.load_workbook(tmp_path / "SALES.xlsx", read_only=True).sheetnames[0] == "Summary"
    assert sales.read_bytes() == before


def test_split_never_writes_over_the_workbook_it_splits(tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    book = folder / "Anna.xlsx"  # the name split gives the file of manager Anna
    jobs.segment_file(sales_csv(tmp_path / "sales.csv", {"Anna": 3, "Bob": 3}), book)
    before = book.read_bytes()
    line = only_error_line(run("split", str(book), "--by", "manager", "--dir", str(folder), "--quiet"))
    assert line == (f"tierbook: error: the file {folder / 'Anna.xlsx'} is the input file {book}: tierbook never "
                    f"writes over its input; choose another name")
    assert book.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["Anna.xlsx"]  # Bob.xlsx neither: all or nothing


def test_send_refuses_a_send_log_that_is_the_workbook(tmp_path):
    book = tmp_path / "tierbook.xlsx"
    jobs.segment_file(sales_csv(tmp_path / "sales.csv", {"Anna": 3}), book)
    assert run("send", str(book), "--init-mailing").returncode == 0
    before = book.read_bytes()
    line = only_error_line(run("send", str(book), "--log", str(book), "--outbox", str(tmp_path / "out"),
                               "--quiet"))
    assert line == (f"tierbook: error: the send log {book} is the input file {book}: tierbook never writes over "
                    f"its input; choose another name")
    assert book.read_bytes() == before


# --------------------------------------------------------------------------- file names


def test_split_names_files_safely_for_windows_and_long_names(tmp_path):
    cjk, emoji = "客户经理" * 30, "😀👩‍👩‍👧🇷🇺" * 30  # 120 characters of 3 and 4 bytes each
    managers = {"CON": 1, "nul": 1, "COM1": 1, "lpt1.backup": 1, "A/B: C?": 1, "a/b: c": 1, cjk: 1, emoji: 1}
    book = tmp_path / "tierbook.xlsx"
    jobs.segment_file(sales_csv(tmp_path / "sales.csv", managers), book)
    out = tmp_path / "split"
    done = run("split", str(book), "--by", "manager", "--dir", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    names = [Path(line).name for line in done.stdout.splitlines()]
    assert sorted(names) == sorted(p.name for p in out.iterdir())  # what it says it wrote, and nothing else
    assert {"_CON.xlsx", "_nul.xlsx", "_COM1.xlsx", "_lpt1.backup.xlsx", "A_B_ C.xlsx", "a_b_ c (2).xlsx"} <= set(names)
    long = [n for n in names if n.startswith(("客", "😀"))]
    assert len(long) == 2 and all(len(n.encode("utf-8")) <= 180 for n in long)
    assert all(n.encode("utf-8").decode("utf-8") == n for n in long)
    for name in names:
        assert openpyxl.load_workbook(out / name, read_only=True).sheetnames[-1] == "Customers"


def test_a_failed_split_leaves_no_part_of_its_files(tmp_path):
    book = tmp_path / "tierbook.xlsx"
    # Anna's and Bob's files are small; Zoe's (written last) is larger than the disk takes
    jobs.segment_file(sales_csv(tmp_path / "sales.csv", {"Anna": 2, "Bob": 2, "Zoe": 3000}), book)
    out = tmp_path / "split"
    line = only_error_line(run("split", str(book), "--by", "manager", "--dir", str(out), "--quiet",
                               max_file_bytes=150_000))
    assert line.startswith("tierbook: error: cannot write ") and line.endswith(
        ": the file is larger than the system allows")
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- failed saves


def test_a_failed_save_prints_one_line_and_leaves_nothing(sales_book, tmp_path):
    out = tmp_path / "tierbook.xlsx"
    done = run("segment", str(sales_book), "--out", str(out), max_file_bytes=20_000)
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == f"tierbook: error: cannot write {out}: the file is larger than the system allows"
    assert [l for l in lines if not l.startswith("tierbook: ")] == []
    assert done.returncode == 2 and list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_earlier_workbook(sales_book, tmp_path):
    out = tmp_path / "tierbook.xlsx"
    assert run("segment", str(sales_book), "--out", str(out), "--quiet").returncode == 0
    before = out.read_bytes()
    folder = tmp_path / "not-a-folder"
    folder.write_text("x")
    line = only_error_line(run("segment", str(sales_book), "--out", str(folder / "t.xlsx"), "--quiet"))
    assert line == f"tierbook: error: cannot write {folder / 't.xlsx'}: File exists" and folder.read_text() == "x"
    (tmp_path / "a-folder.xlsx").mkdir()
    line = only_error_line(run("segment", str(sales_book), "--out", str(tmp_path / "a-folder.xlsx"), "--quiet"))
    # an OUT that is no workbook (here a folder) is never replaced without --force
    assert line == ("tierbook: error: a-folder.xlsx exists and is not a workbook tierbook can read: it would be "
                    "replaced; write to another file, or add --force to replace it")
    (tmp_path / "a-folder.xlsx").rmdir()
    only_error_line(run("segment", str(sales_book), "--out", str(out), "--quiet", max_file_bytes=20_000))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder", "tierbook.xlsx"]


def test_reactivation_writes_only_into_a_workbook_tierbook_wrote(sales_book, tmp_path):
    sales = tmp_path / "sales.xlsx"
    shutil.copyfile(sales_book, sales)
    before = sales.read_bytes()
    for command in (["reactivation", "plan"], ["reactivation", "results"]):
        line = only_error_line(run(*command, str(sales), "--quiet"))
        assert "was not written by tierbook segment" in line
        assert sales.read_bytes() == before
