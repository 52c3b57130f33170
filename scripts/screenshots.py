"""Regenerate the README screenshots of the demo workbook, rendered by LibreOffice.

    python scripts/screenshots.py [--out docs]

Runs `tierbook demo` into a temporary folder, then for the Summary and the VIP ledger:
hides the other sheets of a copy, prints the top of the sheet to one landscape page
(LibreOffice, headless, to PDF) and turns the page into a PNG with pdftoppm.
Needs soffice (Debian: libreoffice-calc-nogui) and pdftoppm (poppler-utils).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.page import PageMargins

ROOT = Path(__file__).resolve().parents[1]
try:
    import tierbook  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "addin"))

from tierbook import jobs  # noqa: E402

#: PNG name → (sheet, how many rows and columns of it to show: None = up to the chart data).
SHOTS = {
    "summary.png": ("Summary", None, None),
    "vip_ledger.png": ("VIP ledger", 36, 22),
}


def _one_page(book: openpyxl.Workbook, title: str, rows: int | None, cols: int | None) -> None:
    """Hide every other sheet and print the top of TITLE on one landscape page."""
    for ws in book.worksheets:
        ws.sheet_state = "visible" if ws.title == title else "hidden"
    book.active = book.sheetnames.index(title)
    ws = book[title]
    if rows is None:  # the Summary: everything above the chart data
        rows = range_boundaries(ws.tables["tbLedgerFlow"].ref)[1] - 2
        cols = range_boundaries(ws.tables["tbTiers"].ref)[2]
    ws.print_area = f"A1:{get_column_letter(cols)}{rows}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.2, right=0.2, top=0.2, bottom=0.2, header=0, footer=0)
    ws.oddHeader.center.text = ws.oddFooter.center.text = None


def _content_box(pdf: Path, dpi: int) -> tuple[int, int]:
    """Width and height in pixels of the page's used part (text, including chart labels),
    so the PNG has no empty half page."""
    import re

    words = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"], check=True,
                           capture_output=True, text=True, timeout=120).stdout
    boxes = [(float(x), float(y)) for x, y in re.findall(r'xMax="([\d.]+)" yMax="([\d.]+)"', words)]
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', words)
    x_max = max((x for x, _ in boxes), default=float(page.group(1))) + 14
    y_max = max((y for _, y in boxes), default=float(page.group(2))) + 14
    return int(min(x_max, float(page.group(1))) * dpi / 72), int(min(y_max, float(page.group(2))) * dpi / 72)


def render(workbook: Path, out: Path, dpi: int = 120) -> list[Path]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftoppm") is None:
        raise SystemExit("screenshots need soffice and pdftoppm: apt-get install libreoffice-calc-nogui poppler-utils")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, (sheet, rows, cols) in SHOTS.items():
            book = openpyxl.load_workbook(workbook)
            _one_page(book, sheet, rows, cols)
            copy = folder / f"{Path(name).stem}.xlsx"
            book.save(copy)
            subprocess.run([soffice, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless",
                            "--norestore", "--convert-to", "pdf", "--outdir", str(folder), str(copy)],
                           check=True, capture_output=True, timeout=300)
            target = out / name
            pdf = folder / f"{copy.stem}.pdf"
            width, height = _content_box(pdf, dpi)
            subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile",
                            "-x", "0", "-y", "0", "-W", str(width), "-H", str(height),
                            str(pdf), str(target.with_suffix(""))], check=True, timeout=120)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder of the PNGs (default docs/)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        _, workbook, _ = jobs.demo(folder)
        for path in render(workbook, args.out):
            print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
