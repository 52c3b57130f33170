"""Headless LibreOffice for the workbook tests: open a file, recalculate, convert.

LibreOffice is required, not optional (.ci/run installs Debian's
libreoffice-calc-nogui): a test that needs it fails with the install hint instead of
being skipped. Every session uses its own profile directory, so runs never share or
wait for a user's LibreOffice.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Iterable

import openpyxl
from openpyxl.utils.cell import range_boundaries

TIMEOUT = 240


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise RuntimeError("LibreOffice is needed for this test: apt-get install -y libreoffice-calc-nogui")
    return found


def convert(paths: Iterable[Path], fmt: str, outdir: Path, profile: Path) -> list[Path]:
    """Open each file in headless LibreOffice (which recalculates every formula that has
    no cached value, i.e. all of openpyxl's) and save it as FMT ("xlsx", "pdf", ...).
    Returns the converted files, in order; raises when LibreOffice could not open one."""
    paths = [Path(p) for p in paths]
    outdir.mkdir(parents=True, exist_ok=True)
    command = [soffice(), f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
               "--nolockcheck", "--convert-to", fmt, "--outdir", str(outdir), *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0 and "ConfigItem" in done.stderr:
        # LibreOffice sometimes aborts while it creates a new profile (utl::ConfigItem, on a
        # busy machine): that is its start, not the file; the second start finds the profile.
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    out = [outdir / f"{p.stem}.{fmt.split(':')[0]}" for p in paths]
    missing = [str(p) for p in out if not p.is_file()]
    if done.returncode != 0 or missing:
        raise AssertionError(f"LibreOffice could not convert {missing or paths}: {done.stdout}\n{done.stderr}")
    return out


def chart_parts(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return sorted(n for n in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))


def structure_problems(path: "Path | openpyxl.Workbook") -> list[str]:
    """What makes Excel offer to repair a workbook, checked without Excel: table names
    unique and valid, table column names equal to the header cells, autofilters on the
    table's range, tables and merged ranges not overlapping, defined names valid."""
    problems = []
    book = path if isinstance(path, openpyxl.Workbook) else openpyxl.load_workbook(path)
    names = set()
    for ws in book.worksheets:
        boxes = []
        for table in ws.tables.values():
            if table.displayName.casefold() in names or not re.fullmatch(r"[A-Za-z_\\][\w.]*", table.displayName):
                problems.append(f"{ws.title}: bad or repeated table name {table.displayName}")
            names.add(table.displayName.casefold())
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            if max_row <= min_row:
                problems.append(f"{ws.title}: table {table.displayName} has no data row")
            header = [ws.cell(row=min_row, column=c).value for c in range(min_col, max_col + 1)]
            columns = [c.name for c in table.tableColumns]
            if header != columns:
                problems.append(f"{ws.title}: table {table.displayName} columns {columns} != header {header}")
            if len({c.casefold() for c in columns}) != len(columns):
                problems.append(f"{ws.title}: table {table.displayName} repeats a column name")
            if table.autoFilter is not None and table.autoFilter.ref not in (None, table.ref):
                problems.append(f"{ws.title}: table {table.displayName} filter {table.autoFilter.ref} != {table.ref}")
            boxes.append((table.displayName, min_col, min_row, max_col, max_row))
        for merged in ws.merged_cells.ranges:
            boxes.append((f"merged {merged.coord}", merged.min_col, merged.min_row, merged.max_col, merged.max_row))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                if a[1] <= b[3] and b[1] <= a[3] and a[2] <= b[4] and b[2] <= a[4]:
                    problems.append(f"{ws.title}: {a[0]} overlaps {b[0]}")
        if len(ws.title) > 31 or re.search(r"[\[\]:*?/\\]", ws.title):
            problems.append(f"bad sheet title {ws.title!r}")
    return problems
