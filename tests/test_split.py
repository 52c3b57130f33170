"""`tierbook split`: one workbook per segment or per manager, from the same templates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from libreoffice import convert, structure_problems
from tierbook import labels
from tierbook.demo import demo_path
from tierbook.read import read_transactions
from tierbook.segment import classify
from tierbook.sheets import segment_members
from tierbook.workbook import read_customers, split_workbook, write_workbook

TIERBOOK = str(Path(sys.executable).with_name("tierbook"))


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tx, issues = read_transactions(demo_path())
    result = classify(tx, issues=issues)
    folder = tmp_path_factory.mktemp("split")
    return {lang: (write_workbook(result, folder / f"tierbook_{lang}.xlsx", lang=lang), result)
            for lang in ("en", "ru")}


@pytest.fixture(scope="module")
def by_segment(out, tmp_path_factory):
    path, _ = out["en"]
    return split_workbook(path, "segment", tmp_path_factory.mktemp("by-segment"))


def test_one_file_per_non_empty_segment_with_only_its_customers(out, by_segment):
    _, result = out["en"]
    expected = [s for s in labels.SEGMENTS if segment_members(result.customers, s).any()]
    assert [p.name for p in by_segment] == [f"{labels.sheet_title(f'segment:{s}', 'en')}.xlsx" for s in expected]
    for segment, path in zip(expected, by_segment):
        customers, meta = read_customers(path)
        members = result.customers[segment_members(result.customers, segment)].reset_index(drop=True)
        pd.testing.assert_frame_equal(customers, members)
        book = openpyxl.load_workbook(path, read_only=True)
        assert book.sheetnames == [labels.sheet_title(f"segment:{segment}", "en"), "Contact plan", "Customers"]
        assert meta["split_by"] == "segment"


def test_one_file_per_manager_with_their_call_lists(out, tmp_path):
    path, result = out["en"]
    written = split_workbook(path, "manager", tmp_path)
    managers = sorted(result.customers["manager"].unique())
    assert [p.stem for p in written] == managers
    for manager, file in zip(managers, written):
        customers, _ = read_customers(file)
        assert set(customers["customer"]) == set(result.customers.loc[result.customers["manager"] == manager,
                                                                      "customer"])
        mine = result.customers[result.customers["manager"] == manager]
        sheets = openpyxl.load_workbook(file, read_only=True).sheetnames
        assert sheets == [labels.sheet_title(f"segment:{s}", "en") for s in labels.SEGMENTS
                          if segment_members(mine, s).any()] + ["Contact plan", "Customers"]


def test_split_files_open_in_libreoffice_and_need_no_repair(by_segment, tmp_path):
    converted = convert(by_segment, "xlsx", tmp_path / "out", tmp_path / "profile")
    assert len(converted) == len(by_segment)
    for path in by_segment:
        assert structure_problems(path) == []


def test_split_a_russian_workbook_keeps_its_language(out, tmp_path):
    path, result = out["ru"]
    written = split_workbook(path, "segment", tmp_path)
    assert written[0].name == "VIP.xlsx" and (tmp_path / "Разовые.xlsx") in written
    sheets = openpyxl.load_workbook(tmp_path / "Разовые.xlsx", read_only=True).sheetnames
    assert sheets == ["Разовые", "План контактов", "Клиенты"]
    customers, _ = read_customers(tmp_path / "Разовые.xlsx")
    assert set(customers["lifecycle"]) == {"one-time"}


def test_cli_split_prints_the_files(out, tmp_path):
    path, _ = out["en"]
    done = subprocess.run([TIERBOOK, "split", str(path), "--by", "manager", "--dir", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines() == [str(p) for p in sorted(tmp_path.glob("*.xlsx"))]


def test_cli_split_of_a_file_that_is_not_a_tierbook_workbook_exits_2(tmp_path):
    done = subprocess.run([TIERBOOK, "split", str(demo_path()), "--by", "segment", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == ('tierbook: error: demo_sales.xlsx has no sheet "Customers" or '
                                                     '"Клиенты": is it a workbook written by tierbook?')
    missing = subprocess.run([TIERBOOK, "split", str(tmp_path / "nope.xlsx"), "--by", "segment", "--dir",
                              str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "File not found" in missing.stderr


def test_file_names_are_safe_and_unique(tmp_path):
    from tierbook.workbook import _file_stem

    used: set[str] = set()
    assert [_file_stem(n, used) for n in ("A/B: C?", "a/b: c?", "", "..")] == ["A_B_ C", "a_b_ c (2)", "_", "_ (2)"]
