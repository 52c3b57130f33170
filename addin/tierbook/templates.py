"""The workbook templates: where they are and what the filler finds in them.

A template (see workbook_templates/make_templates.py) is an .xlsx whose first sheet is
the layout, with {{key}} placeholders, defined names tb_<table> on marker rows of field
keys (the row below is the style row), tb_chart_<name> anchors and tb_overdue /
tb_entry / tb_exit style samples; its "Texts" sheet holds the prose (key, en, ru).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.table import TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

FILES = {"call_list": "call_list.xlsx", "ledger": "vip_ledger.xlsx", "summary": "summary.xlsx",
         "contact_plan": "contact_plan.xlsx", "movement": "movement.xlsx", "reactivation": "reactivation.xlsx",
         "reactivation_results": "reactivation_results.xlsx"}
ENV = "TIERBOOK_TEMPLATES"


def templates_dir(directory: str | Path | None = None) -> Path:
    """The folder of the templates: DIRECTORY if given, else $TIERBOOK_TEMPLATES, else
    workbook_templates/ of the source tree, else the copy installed with the package."""
    candidates = [Path(directory)] if directory else []
    if os.environ.get(ENV):
        candidates.append(Path(os.environ[ENV]))
    here = Path(__file__).resolve().parent
    candidates += [here.parent.parent / "workbook_templates", here / "workbook_templates"]
    for folder in candidates:
        if (folder / FILES["summary"]).is_file():
            return folder
    raise FileNotFoundError(f"no workbook templates in {', '.join(str(c) for c in candidates)}")


def _bundled(name: str) -> Path:
    here = Path(__file__).resolve().parent
    for folder in (here.parent.parent / "workbook_templates", here / "workbook_templates"):
        if (folder / name).is_file():
            return folder / name
    return here.parent.parent / "workbook_templates" / name


@dataclass(frozen=True)
class Slot:
    """A table's place in a template: the marker row and the style row below it."""

    name: str
    row: int  # the marker (header) row
    first_col: int
    keys: tuple[str, ...]  # one field key per column, in the template's order
    table_style: TableStyleInfo | None


@dataclass(frozen=True)
class Template:
    kind: str
    path: Path
    sheet: Worksheet  # the layout sheet, loaded in full (templates are small)
    texts: dict[str, dict[str, str]]  # lang → key → text
    slots: dict[str, Slot]  # by table name, in row order
    anchors: dict[str, tuple[int, int]]  # chart name → (row, col)
    samples: dict[str, Cell]  # "overdue", "entry", "exit" → the cell whose look marks such cells

    def style_cell(self, slot: Slot, col: int) -> Cell:
        return self.sheet.cell(row=slot.row + 1, column=col)

    def header_cell(self, slot: Slot, col: int) -> Cell:
        return self.sheet.cell(row=slot.row, column=col)


def load_template(kind: str, directory: str | Path | None = None) -> Template:
    path = templates_dir(directory) / FILES[kind]
    if not path.is_file():  # a restyled folder made before this template existed: use the bundled one
        path = _bundled(FILES[kind])
    return _load(kind, str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _load(kind: str, path: str, mtime: int) -> Template:
    book = load_workbook(path)
    sheet = book.worksheets[0]
    slots, anchors, samples = {}, {}, {}
    for name, defined in book.defined_names.items():
        if not name.startswith("tb_"):
            continue
        destinations = [(title, ref) for title, ref in defined.destinations if title == sheet.title]
        if not destinations:
            continue
        min_col, min_row, max_col, max_row = range_boundaries(destinations[0][1].replace("$", ""))
        key = name[3:]
        if key.startswith("chart_"):
            anchors[key[6:]] = (min_row, min_col)
        elif key in ("overdue", "entry", "exit"):
            samples[key] = sheet.cell(row=min_row, column=min_col)
        else:
            keys = []
            for col in range(min_col, max_col + 1):
                value = sheet.cell(row=min_row, column=col).value
                keys.append(str(value).strip() if value is not None else "")
            while keys and not keys[-1]:
                keys.pop()
            slots[key] = Slot(key, min_row, min_col, tuple(keys), _table_style(sheet, min_row, min_col))
    slots = dict(sorted(slots.items(), key=lambda item: item[1].row))
    return Template(kind, Path(path), sheet, _texts(book), slots, anchors, samples)


def _table_style(sheet: Worksheet, row: int, col: int) -> TableStyleInfo | None:
    for table in sheet.tables.values():
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        if min_row <= row <= max_row and min_col <= col <= max_col:
            return table.tableStyleInfo
    return None


def _texts(book) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if "Texts" not in book.sheetnames:
        return out
    rows = book["Texts"].iter_rows(values_only=True)
    head = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    for values in rows:
        if not values or values[0] is None:
            continue
        key = str(values[0]).strip()
        for lang, text in zip(head[1:], values[1:]):
            if lang and text is not None:
                out.setdefault(lang, {})[key] = str(text)
    return out


def all_texts(lang: str, directory: str | Path | None = None) -> dict[str, dict[str, str]]:
    """The prose of every template in LANG (falling back to English): kind → key → text."""
    out = {}
    for kind in FILES:
        texts = load_template(kind, directory).texts
        out[kind] = {**texts.get("en", {}), **texts.get(lang, {})}
    return out
