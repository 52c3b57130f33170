"""What the command line and the ribbon do: a file in, a workbook out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from .read import read_transactions
from .segment import Segmentation, classify
from .settings import Settings
from .workbook import write_workbook

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def segment_file(src: str | Path, out: str | Path, settings: Settings | None = None, sheet: str | None = None,
                 lang: str = "en", progress: Progress = _quiet) -> Segmentation:
    """Read the transactions in SRC, classify the customers and write the workbook OUT."""
    started = time.perf_counter()
    progress(f"reading {src}")
    tx, issues = read_transactions(src, sheet=sheet)
    progress(f"read {len(tx):,} usable rows, {len(issues):,} input issues ({time.perf_counter() - started:.1f} s)")
    result = classify(tx, settings or Settings(), issues)
    progress(f"classified {len(result.customers):,} customers as of {result.analysis_month} "
             f"({time.perf_counter() - started:.1f} s)")
    write_workbook(result, out, lang=lang, tx=tx, source=(src, sheet))
    progress(f"wrote {out} ({time.perf_counter() - started:.1f} s)")
    return result


def demo(directory: str | Path, settings: Settings | None = None, lang: str = "en",
         progress: Progress = _quiet) -> tuple[Path, Path, Segmentation]:
    """Copy the bundled sample sales export into DIRECTORY and classify it there."""
    from .demo import demo_path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sales = directory / "demo_sales.xlsx"
    shutil.copyfile(demo_path(), sales)
    progress(f"sample sales export: {sales}")
    out = directory / "tierbook.xlsx"
    result = segment_file(sales, out, settings, lang=lang, progress=progress)
    return sales, out, result


def split_file(src: str | Path, by: str, directory: str | Path, lang: str | None = None,
               progress: Progress = _quiet) -> list[Path]:
    """One workbook per segment (by="segment") or per manager (by="manager") of the
    tierbook workbook SRC, written into DIRECTORY; returns the files."""
    from .workbook import split_workbook

    started = time.perf_counter()
    progress(f"splitting {src} by {by}")
    written = split_workbook(src, by, directory, lang=lang)
    progress(f"wrote {len(written)} workbooks into {directory} ({time.perf_counter() - started:.1f} s)")
    return written
