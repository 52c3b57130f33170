"""Frames → the output workbook, laid out with the templates in workbook_templates/.

What goes in each sheet is decided in sheets.py; this module only writes it with
openpyxl, streaming (write-only mode) so that a 50,000-customer workbook is written
about as fast as plain DataFrame.to_excel. The look comes from the templates: each
column's number format, font, fill and alignment are copied from the template's style
row, texts from its Texts sheet.

Text that comes from the data is never written as a formula: it is stored as a string
cell with Excel's quote prefix when it starts with =, +, - or @. The file is replaced
atomically, so a failed run never leaves half a workbook behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
import zipfile
from copy import copy
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference, ScatterChart, Series
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor
from openpyxl.formatting.rule import FormulaRule
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from .errors import SettingsError
from . import labels
from .labels import SEGMENTS
from .read import csv_encoding, csv_layout
from .schema import InputError
from .files import failed_writes_reported, replace_atomically, safe_stem, staged_folder, track_workbook, unique_stem
from .segment import CUSTOMER_COLUMNS, LATER_COLUMNS, TEXT_COLUMNS, Segmentation
from .sheets import (TRANSLATED_COLUMNS, Formula, PrintSetup, SheetContent, SheetTable, Texts, call_list, contact_plan,
                     customers_sheet, load_texts, movement_sheet, row_segments, segment_members,
                     workbook_content)
from .templates import Slot, Template, load_template

try:
    from . import fastsheet
except ImportError:  # no pyarrow (Pyodide): every cell through openpyxl
    fastsheet = None

#: Kept for compatibility: the names of the engine issue's sheets.
SHEETS = {lang: {k: labels.sheet_title(k, lang) for k in ("customers", "monthly_vip", "ledger", "issues")}
          for lang in labels.LANGS}
FORMULA_STARTS = ("=", "+", "-", "@")
DATE_FORMAT = "yyyy-mm-dd"
MONEY_FORMAT = "#,##0.00"
DEFAULT_TABLE_STYLE = "TableStyleMedium2"
OVERDUE_FONT = "9C0006"
OVERDUE_FILL = "FFC7CE"
ENTRY_FONT = "006100"
ENTRY_FILL = "C6EFCE"
MIN_WIDTH, MAX_WIDTH = 8, 60
MAX_COLUMNS = 16384  # A..XFD
PROPERTY_PREFIX = "tierbook."
#: Properties kept only to write the workbook again from itself (see workbook_properties).
REGENERATION = ("settings", "source_sheet", "sheets")


#: A text that Excel, taking it as typed (Office.js Range.values, COM Range.Value), would
#: not keep as the text it is: a formula (= + - @), or what it may read as a number, date,
#: time, percentage, currency amount, error or boolean ("11.2024", "2026-10", "$5",
#: "(12)", "#N/A", "true"). Wider than Excel's parser on purpose: a quote before a text
#: Excel would have kept changes nothing that shows.
TYPED_AS_SOMETHING_ELSE = re.compile(r"[=+\-@]|\s*[\d.,$€£¥(#]|\s*(?:true|false)\s*$", re.IGNORECASE)


def safe_text(value: str) -> str:
    """Text as a user would type it so that a spreadsheet keeps it as that text: escaped
    with a leading quote character where Excel would read it as a formula or a value
    (TYPED_AS_SOMETHING_ELSE). For writers that type values into cells, such as the Excel
    add-in; the .xlsx writer stores text as text (and the quote-prefix style)."""
    return "'" + value if TYPED_AS_SOMETHING_ELSE.match(value) else value


def cell_values(frame: pd.DataFrame) -> Iterable[list]:
    """Rows of plain Python values for a sheet: NaN/NaT as empty cells, text escaped."""
    columns = [[safe_text(v) if type(v) is str else v for v in python_values(frame[name])] for name in frame.columns]
    return (list(row) for row in zip(*columns))


def python_values(col: pd.Series) -> list:
    """A column as plain Python values: None for NaN/NaT/NA/"" (and an infinite number),
    datetimes, ints, floats, bools and str (control characters a workbook cannot hold
    dropped; Formula objects stay Formula). Whole numeric and text columns are turned
    into lists at once, only their few gaps fixed one by one."""
    if pd.api.types.is_datetime64_any_dtype(col):
        stamps = col.dt.tz_localize(None) if getattr(col.dt, "tz", None) is not None else col
        return [None if v is pd.NaT or v != v else v.to_pydatetime() for v in stamps.astype(object)]
    if pd.api.types.is_bool_dtype(col):
        return [None if v is None or v is pd.NA else bool(v) for v in col.astype(object)]
    if pd.api.types.is_numeric_dtype(col):
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(arr)
        whole = pd.api.types.is_integer_dtype(col)
        out = (np.where(finite, arr, 0).astype(np.int64) if whole else arr).tolist()
        for i in np.flatnonzero(~finite).tolist():
            out[i] = None
        return out
    values = col.to_numpy(dtype=object, na_value=None).tolist()
    if set(map(type, values)) <= {str, type(None)}:
        texts = [v for v in values if v]
        if not ILLEGAL_CHARACTERS_RE.search("".join(texts)):
            return [v or None for v in values]  # texts as they are, "" as empty
    out = []
    for v in values:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) or v == "":
            out.append(None)
        elif isinstance(v, Formula):
            out.append(v)
        elif isinstance(v, str):
            out.append(ILLEGAL_CHARACTERS_RE.sub("", v) if ILLEGAL_CHARACTERS_RE.search(v) else v)
        elif isinstance(v, pd.Timestamp):
            out.append(None if pd.isna(v) else v.to_pydatetime())
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


# --------------------------------------------------------------------------- the entry points


@failed_writes_reported
def write_workbook(result: Segmentation, out: str | Path, lang: str = "en", *, tx: pd.DataFrame | None = None,
                   source: tuple[str | Path, str | None] | None = None,
                   templates: str | Path | None = None, history: pd.DataFrame | None = None,
                   extra: Sequence[SheetContent] = (), kept: Sequence[tuple[str, list[list]]] = (),
                   source_has_segment: bool = False, cell_by_cell: bool = False,
                   worklog: Mapping[str, pd.DataFrame] | None = None) -> Path:
    """Write the classification as a workbook (replacing OUT atomically).

    Sheets: Summary, Contact plan, one call list per segment, VIP ledger, Movement (when
    the tier HISTORY of movement.tier_history is given), the EXTRA sheets (reactivation
    plan and results), Monthly VIP, Customers, a copy of the user's transaction sheet
    with a Segment column (when SOURCE = (input file, sheet name or None for the first)
    and the clean transactions TX are given; TX's index is the row number in that
    sheet), Input issues, then the KEPT sheets: (title, rows of values) the user filled
    in (Mailing, Contact log), written back as values.
    SOURCE_HAS_SEGMENT: the source sheet is the copy in a tierbook workbook, whose last
    column is the Segment column of an earlier run (left out of the new copy).
    TEMPLATES: a folder with restyled templates (default: workbook_templates/).
    The workbook's properties keep the settings (as JSON) and the copy's sheet title, so
    that the workbook can be written again from itself (see jobs.reactivation_plan).
    CELL_BY_CELL: every cell through openpyxl, not the bulk rows of fastsheet (the
    reference the tests compare the fast file with).
    WORKLOG: what a manager typed on the call lists of the earlier OUT (default: read
    from OUT, worklist.read_worklog), carried over to the new ones.
    """
    from .worklist import read_worklog

    if worklog is None:
        worklog = read_worklog(out)  # a manager's Done / Outcome / Note survive the rewrite
    book = build_workbook(result, lang, tx=tx, source=source, templates=templates, history=history, extra=extra,
                          kept=kept, source_has_segment=source_has_segment, cell_by_cell=cell_by_cell,
                          worklog=worklog)
    return save_atomically(book, out)


def build_workbook(result: Segmentation, lang: str = "en", *, tx: pd.DataFrame | None = None,
                   source: tuple[str | Path, str | None] | None = None,
                   templates: str | Path | None = None, history: pd.DataFrame | None = None,
                   extra: Sequence[SheetContent] = (), kept: Sequence[tuple[str, list[list]]] = (),
                   source_has_segment: bool = False, record: bool = False,
                   worklog: Mapping[str, pd.DataFrame] | None = None, cell_by_cell: bool = False) -> Workbook:
    """The workbook of write_workbook, laid out and not yet saved. RECORD: its sheets are
    writers.RecordedSheet, kept in memory for the open-workbook writer (never saved).
    WORKLOG: the call lists' Done / Outcome / Note of an earlier run (worklist.read_worklog)."""
    lang = labels.check_lang(lang)
    texts = load_texts(lang, templates)
    contents = workbook_content(result, lang, texts)
    if worklog:
        from .worklist import kept_notes, kept_notes_sheet, with_worklog

        contents = with_worklog(contents, worklog, lang)
        notes = kept_notes(worklog, contents, lang)  # for customers on no call list now
        if len(notes):
            at = max(i for i, c in enumerate(contents) if c.key.startswith("segment:")) + 1
            contents.insert(at, kept_notes_sheet(notes, lang))
    after_ledger = [movement_sheet(history, result, lang, texts)] if history is not None else []
    after_ledger += list(extra)
    if after_ledger:
        at = next(i for i, c in enumerate(contents) if c.key == "ledger") + 1
        contents[at:at] = after_ledger
    segments = row_segments(result, tx, lang) if tx is not None and source is not None else None
    properties = _properties(result, lang)
    book = _new_book(properties)
    writer = SheetWriter(book, texts, templates, record=record, cell_by_cell=cell_by_cell)
    copy_title = None
    for content in contents:
        writer.write(content)
        if content.key == "customers" and segments is not None:
            copy_title = writer.copy_source(Path(source[0]), source[1], segments, lang,
                                            drop_last=source_has_segment)
    for title, rows in kept:
        writer.values_sheet(title, rows)
    extra_properties = {"settings": json.dumps(result.settings.as_dict(), ensure_ascii=False),
                        "sheets": json.dumps([ws.title for ws in book._sheets], ensure_ascii=False)}
    if copy_title is not None:
        extra_properties["source_sheet"] = copy_title
    for name, value in extra_properties.items():
        book.custom_doc_props.append(StringProperty(name=PROPERTY_PREFIX + name, value=value))
    return book


def add_lookup_names(book: Workbook, lang: str) -> None:
    """The workbook-level LAMBDA names of lookups.file_names (=SEGMENT(A2) and the other
    functions answered from the Customers table), stored as Excel stores them. The
    open-workbook writer renders the same names (writers.write_names)."""
    from openpyxl.workbook.defined_name import DefinedName

    from .lookups import file_names

    for name, formula in file_names(lang).items():
        book.defined_names[name] = DefinedName(name, attr_text=formula)


def workbook_properties(path: str | Path) -> dict[str, str]:
    """The tierbook properties of the workbook PATH (lang, as_of, month, criterion,
    settings, source_sheet, ...), without the "tierbook." prefix. Read from the package's
    custom properties part alone (no sheet, no shared string is parsed: a 50k-row book's
    strings took openpyxl a quarter of a second each time); {} without that part."""
    with zipfile.ZipFile(path) as package:
        part = _package_target(package, "_rels/.rels", "/custom-properties")
        if part is None:
            return {}
        found = {}
        for element in _package_xml(package, part):
            if element.tag.rsplit("}", 1)[-1] == "property" and (element.get("name") or "").startswith(PROPERTY_PREFIX):
                found[element.get("name")[len(PROPERTY_PREFIX):]] = "".join(element.itertext())
        return found


def sheet_names(path: str | Path) -> list[str]:
    """The sheet names of the workbook PATH in order, from its workbook part alone."""
    with zipfile.ZipFile(path) as package:
        part = _package_target(package, "_rels/.rels", "/officeDocument")
        if part is None:
            raise KeyError("the package has no workbook part")
        return [e.get("name") for e in _package_xml(package, part).iter() if e.tag.rsplit("}", 1)[-1] == "sheet"]


#: The largest package part read whole (workbook_properties, sheet_names): a few kB in a real book.
MAX_PART_BYTES = 16 << 20


def _package_xml(package: zipfile.ZipFile, part: str):
    """The XML element tree of PART, parsed by defusedxml (no entities), within MAX_PART_BYTES."""
    from defusedxml.ElementTree import fromstring

    if package.getinfo(part).file_size > MAX_PART_BYTES:
        raise InputError(f"the workbook's part {part} is larger than {MAX_PART_BYTES >> 20} MB")
    return fromstring(package.read(part))


def _package_target(package: zipfile.ZipFile, rels: str, kind: str) -> str | None:
    """The part that the relationships part RELS names for the relationship type ending in KIND."""
    if rels not in package.namelist():
        return None
    for element in _package_xml(package, rels).iter():
        if element.tag.rsplit("}", 1)[-1] == "Relationship" and (element.get("Type") or "").endswith(kind):
            target = element.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else str(Path(rels).parent.parent / target)
    return None


@failed_writes_reported
def write_sheets(contents: Sequence[SheetContent], out: str | Path, texts: Texts,
                 properties: dict[str, str] | None = None, templates: str | Path | None = None) -> Path:
    """Write prepared sheet contents into a new workbook OUT."""
    book = _new_book(properties or {})
    writer = SheetWriter(book, texts, templates)
    for content in contents:
        writer.write(content)
    return save_atomically(book, out)


def _new_book(properties: dict[str, str]) -> Workbook:
    book = track_workbook(Workbook(write_only=True))  # closed quietly when the write fails
    for name, value in properties.items():
        book.custom_doc_props.append(StringProperty(name=PROPERTY_PREFIX + name, value=str(value)))
    return book


def _properties(result: Segmentation, lang: str) -> dict[str, str]:
    return {"lang": lang, "as_of": pd.Timestamp(result.as_of).strftime("%Y-%m-%d"),
            "month": result.analysis_month, "criterion": result.settings.criterion.value}


def save_atomically(book: Workbook, out: str | Path) -> Path:
    """Save to a temporary file beside OUT, then rename it over OUT (with the bulk rows
    of a SheetWriter spliced in, see fastsheet.save)."""
    bulks = getattr(book, "_tierbook_bulks", None)
    if bulks is None:
        return replace_atomically(out, book.save)
    return replace_atomically(out, lambda path: fastsheet.save(book, path, bulks, book._tierbook_strings))


# --------------------------------------------------------------------------- reading back


def read_customers(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """The Customers sheet of a tierbook workbook (English or Russian) as the engine's
    customers frame (same columns, codes and dtypes), and the workbook's properties
    (lang, as_of, month, criterion)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"File not found: {path}")
    try:
        book = load_workbook(path, read_only=True)
    except Exception as e:  # noqa: BLE001 - not a workbook, or a corrupt one
        raise InputError(f"Cannot read {path.name} as a workbook: {e}") from None
    try:
        meta = {p.name[len(PROPERTY_PREFIX):]: str(p.value) for p in book.custom_doc_props
                if p.name.startswith(PROPERTY_PREFIX) and p.name[len(PROPERTY_PREFIX):] not in REGENERATION}
        lang = meta.get("lang")
        if lang not in labels.LANGS:
            lang = next((l for l in labels.LANGS if labels.sheet_title("customers", l) in book.sheetnames), None)
        if lang is None:
            names = " or ".join(f'"{labels.sheet_title("customers", l)}"' for l in labels.LANGS)
            raise InputError(f"{path.name} has no sheet {names}: is it a workbook written by tierbook?")
        meta["lang"] = lang
        rows = book[labels.sheet_title("customers", lang)].iter_rows(values_only=True)
        head = next(rows, ())
        data = [r for r in rows if r and r[0] is not None]
    finally:
        book.close()
    columns = {labels.customer_header(c, l): c for l in labels.LANGS for c in CUSTOMER_COLUMNS}
    keys = [columns.get(str(h), str(h)) for h in head]
    missing = [c for c in CUSTOMER_COLUMNS if c not in keys and c not in LATER_COLUMNS]
    if missing:
        raise InputError(f"the Customers sheet of {path.name} has no column {', '.join(missing)}")
    width = len(keys)
    raw = pd.DataFrame([tuple(r[:width]) + (None,) * (width - len(r)) for r in data], columns=keys)
    frame = pd.DataFrame(index=range(len(raw)))
    for column in CUSTOMER_COLUMNS:
        frame[column] = _restore(column, raw[column] if column in raw else pd.Series([None] * len(raw)), lang)
    if "as_of" not in meta:
        meta["as_of"] = str(frame["last_purchase"].max().date()) if len(frame) else ""
    return frame, meta


_DATE_COLUMNS = ("next_purchase", "remind_on", "first_purchase", "last_purchase", "follow_up_on", "action_due")
_INT_COLUMNS = ("vip_months", "payments", "purchase_days", "contacts_per_year")
_BOOL_COLUMNS = ("lost_vip", "consent")


def _restore(column: str, values: pd.Series, lang: str) -> pd.Series:
    values = values.reset_index(drop=True)
    if column in _DATE_COLUMNS:
        return pd.to_datetime(values.where(values.notna(), None)).astype("datetime64[ns]")
    if column in _INT_COLUMNS:
        return values.fillna(0).astype("int64")
    if column in _BOOL_COLUMNS:
        return values.map(lambda v: bool(v) if v is not None and v == v else False).astype(bool)
    if column in TEXT_COLUMNS:
        text = values.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
        if column in TRANSLATED_COLUMNS:
            text = text.map(lambda v: labels.code(column, v, lang))
        return text.astype("str")
    return pd.to_numeric(values, errors="coerce").astype("float64")


# --------------------------------------------------------------------------- split


def check_split_by(by: str) -> None:
    """A split is by segment or by manager (checked before any file is read)."""
    if by not in ("segment", "manager"):
        raise SettingsError(f"split by must be segment or manager, got {by!r}", "split_by", by=by)


def split_workbook(path: str | Path, by: str, directory: str | Path, lang: str | None = None,
                   templates: str | Path | None = None) -> list[Path]:
    """One workbook per segment (by="segment") or per manager (by="manager") in
    DIRECTORY, from the Customers sheet of the tierbook workbook PATH: the call list(s),
    the contact plan and the Customers rows of only that segment's or manager's
    customers, laid out with the same templates. Returns the files written."""
    check_split_by(by)
    customers, meta = read_customers(path)
    return split_customers(customers, meta, by, directory, lang, templates, protect=(path,), name=Path(path).name)


def split_customers(customers: pd.DataFrame, meta: dict[str, str], by: str, directory: str | Path,
                    lang: str | None = None, templates: str | Path | None = None, protect: Sequence = (),
                    name: str = "the workbook") -> list[Path]:
    """split_workbook of the CUSTOMERS frame (the engine's columns) whose classification
    has the properties META (lang, as_of, month, criterion), without reading a workbook;
    PROTECT: files the output folder must not replace; NAME: their source, for messages."""
    check_split_by(by)
    if len(customers) == 0:
        raise InputError(f"{name} has no customers to split")
    lang = labels.check_lang(lang or meta["lang"])
    texts = load_texts(lang, templates)
    as_of = pd.Timestamp(meta["as_of"])
    criterion = meta.get("criterion", "revenue")
    groups: list[tuple[str, np.ndarray, list[str]]] = []
    if by == "segment":
        for segment in SEGMENTS:
            mask = segment_members(customers, segment).to_numpy()
            if mask.any():
                groups.append((labels.sheet_title(f"segment:{segment}", lang), mask, [segment]))
    else:
        for manager in sorted(customers["manager"].unique()):
            mask = (customers["manager"] == manager).to_numpy()
            sub = customers[mask]
            segments = [s for s in SEGMENTS if segment_members(sub, s).any()]
            groups.append((manager or labels.word("no_manager", lang), mask, segments))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    properties = {**meta, "lang": lang, "split_by": by}
    stems = [_file_stem(name, used) for name, _, _ in groups]  # every name is settled before any file is written
    with staged_folder(directory, protect=list(protect)) as stage:  # all files appear together, or none
        for (name, mask, segments), stem in zip(groups, stems):
            sub = customers[mask].reset_index(drop=True)
            contents = [call_list(sub, s, as_of, lang, texts, criterion=criterion) for s in segments]
            contents += [contact_plan(sub, as_of, lang, texts), customers_sheet(sub, lang, as_of)]
            write_sheets(contents, stage / f"{stem}.xlsx", texts, properties, templates)
            written.append(directory / f"{stem}.xlsx")
    return written


def _file_stem(name: str, used: set[str]) -> str:
    """A safe file stem for NAME (tierbook.files.safe_stem), unique in USED."""
    return unique_stem(safe_stem(name, fallback="_", suffix=".xlsx"), used)


# --------------------------------------------------------------------------- the sheet writer


class SheetWriter:
    """Writes SheetContent into a write-only workbook, laid out with the templates."""

    def __init__(self, book: Workbook, texts: Texts, templates: str | Path | None = None, record: bool = False,
                 cell_by_cell: bool = False):
        self.book = book
        self.texts = texts
        self.templates = templates
        self.titles: set[str] = set()
        self.record = record  # keep the sheets in memory (writers.RecordedSheet), for an open workbook
        # a file's data rows are written as XML by fastsheet (spliced in by save_atomically)
        self.fast = not record and not cell_by_cell and fastsheet is not None
        if self.fast:
            self.bulks = book.__dict__.setdefault("_tierbook_bulks", {})
            self.strings = book.__dict__.setdefault("_tierbook_strings", fastsheet.SharedStrings())

    # ------------------------------------------------------------------ dispatch

    def write(self, content: SheetContent) -> None:
        self.formats = dict(content.number_formats or labels.NUMBER_FORMATS.get(self.texts.lang, {}))
        if content.template is None:
            self._plain(content)
        else:
            self._templated(content, load_template(content.template, self.templates))
        if content.key == "customers":  # every book with a Customers table answers =SEGMENT(A2)
            add_lookup_names(self.book, self.texts.lang)

    def _sheet(self, title: str):
        if self.record:
            from .writers import RecordedSheet

            ws = RecordedSheet(self.book, title)
            self.book._sheets.append(ws)
        else:
            ws = self.book.create_sheet(title)
            if self.fast:
                fastsheet.bulk_rows(ws, self.bulks)
        self.titles.add(title.casefold())
        return ws

    def _rows(self, ws, table: SheetTable, columns: list[_Column], styles: "_Styles",
              style_empty: bool = False) -> None:
        """Append the table's data rows (_data_rows): as one fastsheet.Bulk in a file, as
        the frame itself (writers.TableRows) in a recorded sheet."""
        if self.record and len(table.frame) and columns:
            from .writers import TableRows

            ws.append_table(TableRows(table.frame, tuple((c.key, c.col, c.style) for c in columns)))
            return
        if not self.fast or len(table.frame) == 0 or not columns:
            for row in _data_rows(ws, table, columns, styles, style_empty):
                ws.append(row)
            return
        registry = self.book._cell_styles
        sid = lambda style: registry.add(style) if style is not None else 0  # noqa: E731
        spec = [fastsheet.Column(c.key, c.col, sid(c.style), sid(styles.quoted(c.style)), style_empty)
                for c in columns]
        frame = table.frame
        fastsheet.append_bulk(ws, fastsheet.Bulk(len(frame), lambda first: fastsheet.table_xml(frame, spec, first, self.strings),
                                                 max(c.col for c in columns)))

    # ------------------------------------------------------------------ plain sheets: a table at A1

    def _plain(self, content: SheetContent) -> None:
        ws = self._sheet(content.title)
        table = content.tables["rows"]
        keys = list(table.frame.columns)
        columns = [_Column(key, col, None, None) for col, key in enumerate(keys, 1)]
        styles = _Styles(ws, self.formats)
        for column in columns:
            fmt = _plain_format(column.key, table.frame[column.key])
            column.style = styles.of(number_format=fmt) if fmt else None
        _fit_widths(ws, columns, table)
        n = max(1, len(table.frame))
        _print_setup(ws, content.print_setup, 1 if content.print_setup.titles_of == "rows" else None)  # before rows
        ws.freeze_panes = f"{get_column_letter(1 + content.freeze_columns)}2"
        head = [_text_cell(ws, name) for name in _column_names(table, columns)]
        if content.texts.get("note"):  # what is left out (Excel's row limit), beside the table
            head += [None, _text_cell(ws, content.texts["note"])]
        ws.append(head)
        self._rows(ws, table, columns, styles)
        _add_table(ws, table, 1, columns, n, DEFAULT_TABLE_STYLE, None)
        for column in columns:
            if column.key in ("remind_on", "follow_up_on", "next_contact"):
                _overdue(ws, column.col, 2, 1 + n, None, content.overdue_before)
        _validations(ws, content, {"rows": (columns, 1, n)})

    # ------------------------------------------------------------------ templated sheets

    def _templated(self, content: SheetContent, tpl: Template) -> None:
        ws = self._sheet(content.title)
        styles = _Styles(ws, self.formats)
        src = tpl.sheet
        slots = {name: slot for name, slot in tpl.slots.items()}
        placed: dict[str, _Placed] = {}

        # Plan the rows: template row → output row, table slots expanded.
        plan: list[tuple[str, int, object]] = []  # (kind, template row, payload)
        last_row = max([src.max_row] + [s.row + 1 for s in slots.values()])
        skip: set[int] = set()
        for slot in slots.values():
            skip.update((slot.row, slot.row + 1))
        out_row = 0
        row_map: dict[int, int] = {}
        for r in range(1, last_row + 1):
            slot = next((s for s in slots.values() if s.row == r), None)
            if slot is not None:
                table = content.tables.get(slot.name)
                if table is None:
                    continue
                out_row += 1
                row_map[r] = out_row
                columns = self._columns(tpl, slot, table, styles)
                n = max(1, len(table.frame))
                placed[slot.name] = _Placed(slot, table, columns, out_row, n)
                plan.append(("table", r, slot.name))
                out_row += n
                row_map[r + 1] = out_row - n + 1
                continue
            if r in skip:
                continue
            out_row += 1
            row_map[r] = out_row
            plan.append(("row", r, None))

        # Column widths: fitted to the tables' content, else the template's.
        widths: dict[int, float] = {}
        for letter, dim in src.column_dimensions.items():
            if dim.width and dim.customWidth:
                for c in range(dim.min or 0, (dim.max or 0) + 1):
                    if c:
                        widths[c] = dim.width
        fitted: dict[int, float] = {}
        for p in placed.values():
            for column in p.columns:
                width = _column_width(column, p.table)
                fitted[column.col] = max(fitted.get(column.col, 0), width)
        widths.update(fitted)
        for c, width in widths.items():
            ws.column_dimensions[get_column_letter(c)].width = width

        # Sheet-wide settings, before the first row is written.
        ws.sheet_view.showGridLines = src.sheet_view.showGridLines
        ws.sheet_properties.pageSetUpPr = copy(src.sheet_properties.pageSetUpPr)
        for attr in ("orientation", "paperSize", "fitToWidth", "fitToHeight"):
            setattr(ws.page_setup, attr, getattr(src.page_setup, attr))
        titled = placed.get(content.print_setup.titles_of) if content.print_setup.titles_of else None
        _print_setup(ws, content.print_setup, titled.header if titled is not None else None)
        frozen = placed.get(content.freeze) if content.freeze else None
        if frozen is not None:
            ws.freeze_panes = f"{get_column_letter(frozen.slot.first_col + content.freeze_columns)}{frozen.header + 1}"

        merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in src.merged_cells.ranges]
        merged_at = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in merged}
        for kind, r, payload in plan:
            if kind == "row":
                cells, height = self._template_row(ws, tpl, content, r, styles, merged_at, widths)
                if height:
                    ws.row_dimensions[row_map[r]].height = height
                ws.append(cells)
            else:
                p = placed[payload]
                ws.append(self._header_row(ws, tpl, p, styles))
                self._rows(ws, p.table, p.columns, styles, style_empty=True)

        for r0, c0, r1, c1 in merged:
            if r0 in row_map and r1 in row_map and all(not (p.slot.row <= r0 <= p.slot.row + 1)
                                                       for p in placed.values()):
                ws.merged_cells.add(f"{get_column_letter(c0)}{row_map[r0]}:{get_column_letter(c1)}{row_map[r1]}")
        for p in placed.values():
            style = p.slot.table_style.name if p.slot.table_style is not None else DEFAULT_TABLE_STYLE
            _add_table(ws, p.table, p.header, p.columns, p.n, style, p.slot.table_style)
            for column in p.columns:
                if column.key in ("next_contact", "date", "remind_on", "follow_up_on") and _is_date(p.table, column):
                    _overdue(ws, column.col, p.header + 1, p.header + p.n, tpl.samples.get("overdue"),
                             content.overdue_before)
            if p.table.month_marks is not None:
                _month_marks(ws, p, tpl.samples)
        _validations(ws, content, {name: (p.columns, p.header, p.n) for name, p in placed.items()})
        for chart in content.charts:
            self._chart(ws, tpl, chart, placed, row_map, widths)

    def _columns(self, tpl: Template, slot: Slot, table: SheetTable, styles: "_Styles") -> list["_Column"]:
        columns = []
        col = slot.first_col
        for offset, key in enumerate(slot.keys):
            template_col = slot.first_col + offset
            if not key:
                continue
            keys = list(table.month_columns) if key == "months" else [key]
            for k in keys:
                if k not in table.frame.columns:
                    continue
                style = styles.copy_of(tpl.style_cell(slot, template_col))
                head = styles.copy_of(tpl.header_cell(slot, template_col))
                columns.append(_Column(k, col, style, head))
                col += 1
        return columns

    def _header_row(self, ws, tpl: Template, p: "_Placed", styles: "_Styles") -> list:
        row: list = [None] * (p.slot.first_col - 1)
        for column, name in zip(p.columns, _column_names(p.table, p.columns)):
            cell = WriteOnlyCell(ws, name)
            cell.data_type = "s"
            if column.head is not None:
                cell._style = column.head
            row.append(cell)
        return row

    def _template_row(self, ws, tpl: Template, content: SheetContent, r: int, styles: "_Styles",
                      merged_at: dict, widths: dict[int, float]) -> tuple[list, float | None]:
        src = tpl.sheet
        height = src.row_dimensions[r].height if r in src.row_dimensions else None
        cells: list = []
        max_col = src.max_column
        wrapped_height = None
        for c in range(1, max_col + 1):
            tc = src._cells.get((r, c))
            if tc is None:
                cells.append(None)
                continue
            value = tc.value
            if isinstance(value, str) and "{{" in value:
                value = self._substitute(tpl, content, value)
            style = styles.copy_of(tc)
            if value is None and style is None:
                cells.append(None)
                continue
            cell = WriteOnlyCell(ws, value)
            if isinstance(value, str):
                cell.data_type = "s"
            if style is not None:
                cell._style = style
            cells.append(cell)
            if isinstance(value, str) and tc.alignment is not None and tc.alignment.wrap_text:
                end = merged_at.get((r, c), (r, c))[1]
                width = sum(widths.get(k, 8.43) for k in range(c, end + 1))
                wrapped_height = max(wrapped_height or 0, _text_height(value, width, tc.font.sz if tc.font else 11))
        while cells and cells[-1] is None:
            cells.pop()
        if wrapped_height is not None:
            height = wrapped_height
        return cells, height

    def _substitute(self, tpl: Template, content: SheetContent, text: str) -> str:
        def one(match: re.Match) -> str:
            key = match.group(1)
            if key in content.texts:
                return str(content.texts[key])
            return self.texts.get(tpl.kind, key)

        # a customer's name in a text (the Summary's alert) may hold a control character
        return ILLEGAL_CHARACTERS_RE.sub("", re.sub(r"\{\{\s*([\w.:-]+)\s*\}\}", one, text))

    def _chart(self, ws, tpl: Template, chart, placed: dict, row_map: dict[int, int],
               widths: dict[int, float]) -> None:
        p = placed.get(chart.table)
        anchor = tpl.anchors.get(chart.anchor)
        if p is None or anchor is None:
            return
        by_key = {c.key: c.col for c in p.columns}
        if chart.x not in by_key or not all(y in by_key for y in chart.ys):
            return
        rows = min(p.n, chart.rows or p.n)
        first, last = p.header + 1, p.header + rows
        if chart.kind == "line":
            obj = ScatterChart()
            obj.style = 12
            xs = Reference(ws, min_col=by_key[chart.x], min_row=first, max_row=last)
            for y in chart.ys:
                series = Series(Reference(ws, min_col=by_key[y], min_row=p.header, max_row=last), xs,
                                title_from_data=True)
                series.marker.symbol = "none"
                series.smooth = False
                obj.series.append(series)
            obj.x_axis.number_format = "0%"
            obj.x_axis.scaling.min = 0
            obj.x_axis.scaling.max = 1
            obj.y_axis.scaling.min = 0
            obj.y_axis.scaling.max = 1
            obj.x_axis.majorGridlines = None
        elif chart.kind == "lines":
            obj = LineChart()
            obj.style = 12
            for y in chart.ys:
                obj.add_data(Reference(ws, min_col=by_key[y], min_row=p.header, max_row=last), titles_from_data=True)
            obj.set_categories(Reference(ws, min_col=by_key[chart.x], min_row=first, max_row=last))
            for series in obj.series:
                series.marker.symbol = "none"
                series.smooth = False
        else:
            obj = BarChart()
            obj.type = "col"
            obj.grouping = "clustered"
            obj.style = 10
            for y in chart.ys:
                obj.add_data(Reference(ws, min_col=by_key[y], min_row=p.header, max_row=last), titles_from_data=True)
            obj.set_categories(Reference(ws, min_col=by_key[chart.x], min_row=first, max_row=last))
        if chart.percent:
            obj.y_axis.number_format = "0%"
        obj.title = chart.title
        obj.x_axis.delete = False
        obj.y_axis.delete = False
        obj.legend.position = "b"
        row, col = anchor
        right, bottom = _chart_extent(tpl, anchor, placed)
        # Anchored to cells at both corners, so the chart fills its area in any application
        # (widths in cm would depend on how each one converts column widths).
        box = TwoCellAnchor()
        box._from = AnchorMarker(col=col - 1, row=_map_row(row, row_map) - 1)
        box.to = AnchorMarker(col=right, row=_map_row(bottom, row_map))
        ws.add_chart(obj, box)

    # ------------------------------------------------------------------ the user's sheet, with a Segment column

    def copy_source(self, path: Path, sheet: str | None, segments: pd.Series, lang: str,
                    drop_last: bool = False) -> str | None:
        """Copy the user's transaction sheet unchanged (values and number formats), with
        a Segment column after its last column: the segment of the row's customer.
        DROP_LAST: leave out the source's last column (an earlier run's Segment column).
        Returns the copy's title."""
        suffix = path.suffix.lower()
        if suffix in (".xlsx", ".xlsm") and self.fast:
            try:
                return self._source_xml(fastsheet.read_source(path, sheet), segments, lang, drop_last)
            except (fastsheet.NotCopied, KeyError, ValueError, zipfile.BadZipFile):
                pass  # a shape the XML copy does not handle: cell by cell below
        if suffix in (".xlsx", ".xlsm"):
            book = load_workbook(path, read_only=True, data_only=True)
            try:
                src = book[sheet] if sheet else book.worksheets[0]
                title = src.title
                if not src.max_column or (src.max_row == 1 and src.max_column == 1):
                    src.reset_dimensions()
                    src.calculate_dimension(force=True)
                width = src.max_column or 1
                if drop_last and width > 1:
                    width -= 1
                    rows = ([(c.value, getattr(c, "number_format", None)) for c in row][:width]
                            for row in src.iter_rows(max_col=width))
                else:
                    rows = ([(c.value, getattr(c, "number_format", None)) for c in row] for row in src.iter_rows())
                return self._source_rows(title, rows, width, segments, lang)
            finally:
                book.close()
        elif suffix in (".csv", ".txt"):
            # the reader's rules for the encoding and the separator (a UTF-16 export too)
            text = path.read_bytes().decode(csv_encoding(path), errors="replace").lstrip("\ufeff")
            _, sep = csv_layout(text[: 1 << 16].splitlines())
            data = [[(_csv_value(v), None) for v in row]
                    for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep)]
            width = max((len(r) for r in data), default=1)
            return self._source_rows(path.stem, iter(data), width, segments, lang)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
            columns = [python_values(frame[c]) for c in frame.columns]
            fmt = [DATE_FORMAT if pd.api.types.is_datetime64_any_dtype(frame[c]) else None for c in frame.columns]
            data = [[(str(c), None) for c in frame.columns]]
            data += [list(zip(row, fmt)) for row in zip(*columns)]
            return self._source_rows(path.stem, iter(data), len(frame.columns), segments, lang)
        return None

    def _source_xml(self, src: "fastsheet.SourceSheet", segments: pd.Series, lang: str, drop_last: bool) -> str:
        """copy_source of an .xlsx sheet from its own XML (fastsheet): the same sheet as
        _source_rows makes, without reading and writing each cell."""
        width = src.width - 1 if drop_last and src.width > 1 else src.width
        seg_col = width + 1
        if seg_col > MAX_COLUMNS:
            raise fastsheet.NotCopied("no free column")
        data = fastsheet.normalise(src.data, get_column_letter(seg_col) if width < src.width else None)
        src.data = b""  # one copy of a big sheet at a time
        first_data = int(segments.index.min()) if len(segments) else 2
        text_of, quoted_sst = fastsheet.shared_texts(src.sst if b't="s"' in data else None)
        head = fastsheet.head_values(data, first_data + 199, text_of, src.formats)
        header_row = next((r for r in range(1, first_data) if any(v is not None and str(v).strip() != ""
                                                                   for v in head.get(r, {}).values())), 0)
        title = self._free_title(src.title, lang)
        ws = self._sheet(title)
        styles = _Styles(ws)
        registry = self.book._cell_styles

        def style_of(fmt: str, quoted: bool) -> int:
            style = styles.of(number_format=fmt) if fmt and fmt != "General" else None
            style = styles.quoted(style) if quoted else style
            return registry.add(style) if style is not None else 0

        data = fastsheet.restyled(data, src.formats, style_of, quoted_sst)
        uses_sst = b't="s"' in data
        segment_of = {int(r): str(v) for r, v in segments.items() if v}
        _source_setup(ws, ((c, v) for row in head.values() for c, v in row.items() if c <= width), header_row,
                      seg_col, segments.to_dict().values(), lang)
        letter = get_column_letter(seg_col)
        bold = registry.add(styles.of(font=Font(bold=True)))
        header = (f'<c r="{letter}{header_row}" s="{bold}" t="inlineStr"><is><t>'
                  f'{fastsheet.xml_text(labels.header("segment", lang))}</t></is></c>').encode()
        rows = fastsheet.with_segments(data, letter, header_row, header, segment_of)
        del data
        last = max(src.rows, max(segment_of, default=0))
        if header_row and last > header_row:
            ws.auto_filter.ref = f"A{header_row}:{letter}{last}"
        if uses_sst:
            self.strings.source = src.sst
        fastsheet.append_bulk(ws, fastsheet.Bulk(last, lambda first: rows(), seg_col))
        return title

    def _source_rows(self, title: str, rows: Iterator[list[tuple[object, str | None]]], width: int,
                     segments: pd.Series, lang: str) -> str:
        title = self._free_title(title, lang)
        ws = self._sheet(title)
        styles = _Styles(ws)
        first_data = int(segments.index.min()) if len(segments) else 2
        segment_of = segments.to_dict()
        seg_col = width + 1
        if seg_col > MAX_COLUMNS:  # text far to the right (a note in XFD1): the first free column after the data
            rows, seg_col = _free_column(list(rows))
        # Buffer the rows up to the first data row (to find the header) and a sample
        # (to fit the column widths), then stream the rest.
        head: list[list] = []
        for row in rows:
            head.append(row)
            if len(head) >= first_data + 200:
                break
        header_row = next((i for i, row in enumerate(head[:first_data - 1], 1)  # the reader's rule:
                           if any(v is not None and str(v).strip() != "" for v, _ in row)), 0)  # first non-empty
        _source_setup(ws, ((c, v) for row in head for c, (v, _) in enumerate(row, 1)), header_row, seg_col,
                      segment_of.values(), lang)
        bold = styles.of(font=Font(bold=True))
        last = 0
        for r, row in enumerate(_chain(head, rows), 1):
            cells: list = []
            for v, fmt in row:
                cells.append(_source_cell(ws, v, fmt, styles))
            if r == header_row or r in segment_of:
                cells += [None] * (seg_col - 1 - len(cells))
                if r == header_row:
                    cell = WriteOnlyCell(ws, labels.header("segment", lang))
                    cell._style = bold
                else:
                    cell = segment_of[r] or None
                if len(cells) >= seg_col:
                    cells[seg_col - 1] = cell
                else:
                    cells.append(cell)
            ws.append(cells)
            last = r
        if header_row and last > header_row:
            ws.auto_filter.ref = f"A{header_row}:{get_column_letter(seg_col)}{last}"
        return title

    # ------------------------------------------------------------------ a sheet of the user's values

    def values_sheet(self, title: str, rows: list[list]) -> None:
        """A sheet the user filled in (Mailing, Contact log), written back as values: the
        first row bold, dates as dates, text never read as a formula."""
        ws = self._sheet(title)
        styles = _Styles(ws)
        bold = styles.of(font=Font(bold=True))
        width = max((len(r) for r in rows), default=0)
        lengths = [0] * width
        for row in rows[:500]:
            for c, v in enumerate(row):
                if v is not None:
                    lengths[c] = max(lengths[c], 10 if isinstance(v, datetime) else len(str(v)))
        for c, n in enumerate(lengths, 1):
            ws.column_dimensions[get_column_letter(c)].width = min(max(n + 2, MIN_WIDTH + 4), MAX_WIDTH)
        if rows:
            ws.freeze_panes = "A2"
        for r, row in enumerate(rows):
            cells = []
            for v in row:
                if r == 0 and v is not None:
                    cell = _text_cell(ws, str(v))
                    cell._style = styles.quoted(bold) if str(v).startswith(FORMULA_STARTS) else bold
                    cells.append(cell)
                else:
                    cells.append(_source_cell(ws, v, DATE_FORMAT if isinstance(v, datetime) else None, styles))
            ws.append(cells)

    def _free_title(self, title: str, lang: str) -> str:
        title = re.sub(r"[\[\]:*?/\\]", "_", title).strip("'")[:31] or "Data"
        if title.casefold() not in self.titles:
            return title
        suffix = " (data)" if lang == "en" else " (данные)"
        candidate, n = title[:31 - len(suffix)] + suffix, 2
        while candidate.casefold() in self.titles:
            candidate, n = f"{title[:25]} ({n})", n + 1
        return candidate


def _source_setup(ws, sample: Iterable[tuple[int, object]], header_row: int, seg_col: int,
                  segments: Iterable[object], lang: str) -> None:
    """The sheet-wide settings of a sales copy, before its first row: column widths
    fitted to a SAMPLE of its cells (column, value) and to its Segment column, the panes
    frozen under the header row, the print setup."""
    lengths: dict[int, int] = {}
    for c, v in sample:
        if v is not None:
            lengths[c] = max(lengths.get(c, 0), len(v.strftime("%Y-%m-%d") if isinstance(v, datetime) else str(v)))
            if isinstance(v, (int, float)) and not isinstance(v, bool):  # room for a totals row below
                lengths[c] = max(lengths[c], len(f"{abs(v) * 1000:,.2f}"))
    lengths[seg_col] = max([len(str(v)) for v in segments] + [len(labels.header("segment", lang))])
    for c, n in lengths.items():
        ws.column_dimensions[get_column_letter(c)].width = min(max(n + 2, MIN_WIDTH), MAX_WIDTH)
    if header_row:
        ws.freeze_panes = f"A{header_row + 1}"
    _print_setup(ws, PrintSetup(), header_row or None)


def _free_column(rows: list[list[tuple[object, str | None]]]) -> tuple[Iterator, int]:
    """The rows again, and the first column after the last one with data under the first
    non-empty row that is empty in every row (the Segment column's place when the sheet's
    last used column is Excel's last). Raises InputError when there is none."""
    def empty(v: object) -> bool:
        return v is None or (isinstance(v, str) and v.strip() == "")

    top = next((i for i, row in enumerate(rows) if any(not empty(v) for v, _ in row)), 0)
    width = max((len(r) for r in rows), default=0)
    filled, below = [False] * width, -1
    for i, row in enumerate(rows):
        for j, (v, _) in enumerate(row):
            if not empty(v):
                filled[j] = True
                if i > top:
                    below = max(below, j)
    for j in range(below + 1, min(width, MAX_COLUMNS)):
        if not filled[j]:
            return iter(rows), j + 1
    raise InputError("the transactions sheet has no empty column left for the Segment column: clear a column to "
                     "the right of the data")


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


def _csv_value(text: str) -> object:
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return text if text != "" else None


def _source_cell(ws, value: object, fmt: str | None, styles: "_Styles") -> object:
    if value is None:
        return None
    if isinstance(value, str):
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(FORMULA_STARTS):
            cell = WriteOnlyCell(ws, value)
            cell.data_type = "s"
            cell._style = styles.quoted(styles.of(number_format=fmt) if fmt and fmt != "General" else None)
            return cell
        return value
    if fmt and fmt != "General":
        cell = WriteOnlyCell(ws, value)
        cell._style = styles.of(number_format=fmt)
        return cell
    return value


# --------------------------------------------------------------------------- helpers


def _text_cell(ws, text: str) -> WriteOnlyCell:
    """A header: always text (a header such as "=total" stays text), quote-prefixed when it
    looks like a formula."""
    cell = WriteOnlyCell(ws, text)
    cell.data_type = "s"
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def _empty(ws, style) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws)
    cell._style = style
    return cell


class _Column:
    __slots__ = ("key", "col", "style", "head")

    def __init__(self, key: str, col: int, style, head):
        self.key, self.col, self.style, self.head = key, col, style, head


class _Placed:
    def __init__(self, slot: Slot, table: SheetTable, columns: list[_Column], header: int, n: int):
        self.slot, self.table, self.columns, self.header, self.n = slot, table, columns, header, n


class _Styles:
    """Style arrays of one output sheet, made once and shared by the cells that use them."""

    def __init__(self, ws, formats: dict[str, str] | None = None):
        self.ws = ws
        self.formats = formats or {}  # number format → the one to use (SheetContent.number_formats)
        # the copies of template cells' styles, shared by every sheet of the workbook (a
        # style array holds ids into the workbook's style lists); each keeps its template
        # cell alive, so an id() is never reused for another cell
        self._copies: dict[tuple, tuple] = vars(ws.parent).setdefault("_tierbook_style_copies", {})
        self._made: dict[tuple, object] = {}
        self._quoted: dict[int, object] = {}

    def copy_of(self, tc):
        """The style of template cell TC in this workbook (None for the default style)."""
        if tc is None or not tc.has_style:
            return None
        number_format = self.formats.get(tc.number_format, tc.number_format)
        key = (id(tc), number_format)
        if key not in self._copies:
            cell = WriteOnlyCell(self.ws)
            cell.font = copy(tc.font)
            cell.fill = copy(tc.fill)
            cell.border = copy(tc.border)
            cell.alignment = copy(tc.alignment)
            cell.number_format = number_format
            cell.protection = copy(tc.protection)
            self._copies[key] = (tc, cell._style if cell.has_style else None)
        return self._copies[key][1]

    def of(self, number_format: str | None = None, font: Font | None = None):
        key = (number_format, repr(font))
        if key not in self._made:
            cell = WriteOnlyCell(self.ws)
            if number_format:
                cell.number_format = self.formats.get(number_format, number_format)
            if font is not None:
                cell.font = font
            self._made[key] = cell._style if cell.has_style else None
        return self._made[key]

    def quoted(self, style):
        """STYLE with Excel's quote prefix: the cell's text is never read as a formula."""
        key = id(style)
        if key not in self._quoted:
            array = StyleArray(style) if style is not None else StyleArray()
            array.quotePrefix = 1
            self._quoted[key] = array
        return self._quoted[key]

def _data_rows(ws, table: SheetTable, columns: list[_Column], styles: _Styles,
               style_empty: bool = False) -> Iterator[list]:
    """The table's rows as lists of values and styled cells (an empty row when none)."""
    frame = table.frame
    values = [python_values(frame[c.key]) for c in columns]
    pad = [None] * (columns[0].col - 1) if columns else []
    protos = [c.style for c in columns]
    if len(frame) == 0:
        yield pad + [_empty(ws, p) if style_empty and p is not None else None for p in protos]
        return
    for row in zip(*values):
        out = list(pad)
        for j, v in enumerate(row):
            proto = protos[j]
            if v is None:
                if proto is not None and style_empty:
                    cell = WriteOnlyCell(ws)
                    cell._style = proto
                    out.append(cell)
                else:
                    out.append(None)
            elif type(v) is str and v.startswith(FORMULA_STARTS):
                cell = WriteOnlyCell(ws, v)
                cell.data_type = "s"
                cell._style = styles.quoted(proto)
                out.append(cell)
            elif proto is None:
                out.append(v)
            else:
                cell = WriteOnlyCell(ws, v)
                cell._style = proto
                out.append(cell)
        yield out


def _header_text(table: SheetTable, key: str) -> str:
    return str(table.headers.get(key, key)) or key


def _column_names(table: SheetTable, columns: list[_Column]) -> list[str]:
    """The header texts, made unique (a table's column names must be) by numbering repeats."""
    names, seen = [], set()
    for column in columns:
        name = base = _header_text(table, column.key).replace("\n", " ")
        n = 2
        while name.casefold() in seen:
            name, n = f"{base} {n}", n + 1
        seen.add(name.casefold())
        names.append(name)
    return names


def _add_table(ws, table: SheetTable, header: int, columns: list[_Column], n: int, style: str,
               style_info: TableStyleInfo | None) -> None:
    if not columns:
        return
    first, last = columns[0].col, columns[-1].col
    ref = f"{get_column_letter(first)}{header}:{get_column_letter(last)}{header + n}"
    names = _column_names(table, columns)
    obj = Table(displayName=table.name, ref=ref)
    obj.tableColumns = [TableColumn(id=i, name=name) for i, name in enumerate(names, 1)]
    info = copy(style_info) if style_info is not None else TableStyleInfo(name=style, showRowStripes=True)
    obj.tableStyleInfo = info
    obj.autoFilter = AutoFilter(ref=ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "In write-only mode you must add table columns manually": done above
        ws.add_table(obj)


def _overdue(ws, col: int, first: int, last: int, sample, before: pd.Timestamp | None = None) -> None:
    """Dates before BEFORE (the analysis date; None: today) in red (the template's
    tb_overdue look)."""
    if last < first:
        return
    letter = get_column_letter(col)
    font, fill = _sample_look(sample, Font(color=OVERDUE_FONT), OVERDUE_FILL)
    limit = "TODAY()" if before is None else f"DATE({before.year},{before.month},{before.day})"
    rule = FormulaRule(formula=[f"AND(ISNUMBER({letter}{first}),{letter}{first}<{limit})"], font=font, fill=fill)
    ws.conditional_formatting.add(f"{letter}{first}:{letter}{last}", rule)


def _month_marks(ws, p: "_Placed", samples: dict) -> None:
    """The VIP ledger's entries and exits (sheets.MonthMarks) as conditional formats in
    the looks of the template's tb_entry and tb_exit cells. The formulas are relative to
    the top-left cell of their range, as Excel reads them: an exit is the exit mark; an
    entry is a number with no number in the window's month columns before it (the first
    months, with fewer columns before them, get a rule each)."""
    marks, months = p.table.month_marks, set(p.table.month_columns)
    cols = [c.col for c in p.columns if c.key in months]
    first, last = p.header + 1, p.header + p.n
    if not cols or cols != list(range(cols[0], cols[0] + len(cols))):
        return
    letter = get_column_letter

    def area(c0: int, c1: int) -> str:
        return f"{letter(c0)}{first}:{letter(c1)}{last}"

    font, fill = _sample_look(samples.get("exit"), Font(color=OVERDUE_FONT), OVERDUE_FILL)
    mark = marks.exit_mark.replace('"', '""')
    ws.conditional_formatting.add(area(cols[0], cols[-1]),
                                  FormulaRule(formula=[f'{letter(cols[0])}{first}="{mark}"'], font=font, fill=fill))
    font, fill = _sample_look(samples.get("entry"), Font(color=ENTRY_FONT), ENTRY_FILL)
    window = max(1, marks.window)
    for k, col in enumerate(cols[:window + 1]):
        cell = f"{letter(col)}{first}"
        before = cols[max(0, k - window):k]
        formula = f"ISNUMBER({cell})" if not before else \
            f"AND(ISNUMBER({cell}),COUNT({letter(before[0])}{first}:{letter(before[-1])}{first})=0)"
        ws.conditional_formatting.add(area(col, col if k < window else cols[-1]),
                                      FormulaRule(formula=[formula], font=font, fill=fill))


def _sample_look(sample, font: Font, color: str) -> tuple[Font, PatternFill]:
    """The font colour, boldness and fill of a template's sample cell (tb_overdue,
    tb_entry, tb_exit) for a conditional format; FONT and COLOR when there is none."""
    if sample is not None:
        font = Font(color=copy(sample.font.color), bold=sample.font.b)
        if sample.fill is not None and sample.fill.fill_type:
            color = sample.fill.fgColor.rgb
    return font, PatternFill(fill_type="solid", start_color=color, end_color=color)


def _validations(ws, content: SheetContent, placed: Mapping[str, tuple[list, int, int]]) -> None:
    """The content's dropdowns: a list validation on the data rows of each column.
    PLACED: table key → (its columns, header row, data rows)."""
    for v in content.validations:
        columns, header, n = placed.get(v.table, ([], 0, 0))
        col = next((c.col for c in columns if c.key == v.column), None)
        if col is None or not v.choices:
            continue
        letter = get_column_letter(col)
        listed = ",".join(str(c).replace('"', "'") for c in v.choices)
        rule = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True, showDropDown=False)
        rule.add(f"{letter}{header + 1}:{letter}{header + n}")
        ws.data_validations.append(rule)


def _print_setup(ws, setup: PrintSetup, header: int | None) -> None:
    """A sheet's print setup (SheetContent.print_setup): the header row HEADER repeated
    on every page, landscape, one page wide (as many pages down as needed). Before the
    first row is written (fit-to-page goes in the sheet's header)."""
    if header is not None:
        ws.print_title_rows = f"{header}:{header}"
    if setup.landscape:
        ws.page_setup.orientation = "landscape"
    if setup.fit_width:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0


def _is_date(table: SheetTable, column: _Column) -> bool:
    return pd.api.types.is_datetime64_any_dtype(table.frame[column.key])


def _plain_format(key: str, col: pd.Series) -> str | None:
    if pd.api.types.is_datetime64_any_dtype(col):
        return DATE_FORMAT
    if pd.api.types.is_bool_dtype(col):
        return None
    if pd.api.types.is_integer_dtype(col):
        return "0"
    if pd.api.types.is_float_dtype(col):
        if key == "units":  # whole units as integers (17, not 17.00), fractions (kg) as they are
            finite = col.dropna()
            return "#,##0" if bool((finite == finite.round()).all()) else "#,##0.###"
        return "0.0" if key == "cycle_days" else MONEY_FORMAT
    return None


def _column_width(column: _Column, table: SheetTable) -> float:
    header = _header_text(table, column.key)
    longest_word = max((len(w) for w in header.split()), default=0)
    head = max(min(len(header), 22), longest_word) + 3  # +3: the autofilter button
    return float(min(max(head, _content_width(table.frame[column.key]), MIN_WIDTH), MAX_WIDTH))


def _fit_widths(ws, columns: list[_Column], table: SheetTable) -> None:
    for column in columns:
        ws.column_dimensions[get_column_letter(column.col)].width = _column_width(column, table)


def _content_width(col: pd.Series) -> int:
    if len(col) == 0:
        return 0
    if pd.api.types.is_datetime64_any_dtype(col):
        return 12
    if pd.api.types.is_bool_dtype(col):
        return 7
    if pd.api.types.is_numeric_dtype(col):
        finite = col[np.isfinite(col.astype("float64"))] if len(col) else col
        if len(finite) == 0:
            return 0
        biggest = float(np.nanmax(np.abs(finite.astype("float64"))))
        text = f"{biggest:,.2f}" if pd.api.types.is_float_dtype(col) else f"{biggest:,.0f}"
        return len(text) + 3
    sample = col if len(col) <= 20000 else col.sample(20000, random_state=0)
    if fastsheet is not None and isinstance(col.dtype, pd.StringDtype) and col.dtype.na_value is not pd.NA:
        return fastsheet.text_lengths(sample.array) + 2  # texts and NaN only: measured by Arrow as they are
    texts = sample.astype(object)
    kinds = set(map(type, texts))
    if Formula in kinds:
        return 14
    if fastsheet is not None and kinds <= {str, type(None), float}:  # texts (NaN: none): measured by Arrow
        try:
            lengths = fastsheet.text_lengths(texts.to_numpy())
        except ValueError:
            pass
        else:
            return int(lengths) + 2
    lengths = texts.astype(str).str.len().where(texts.notna(), 0)  # None, NaN, NaT, pd.NA: no width
    return int(lengths.max()) + 2


def _text_height(text: str, width_chars: float, size: float | None) -> float:
    size = size or 11
    per_line = max(width_chars * 1.15 * 11 / size, 10)
    lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
    return round(lines * size * 1.35 + 6, 1)


def _chart_extent(tpl: Template, anchor: tuple[int, int], placed: dict) -> tuple[int, int]:
    """A chart fills its template area: to the column before the next anchor on its row
    (else to the last table column) and down to the row before the next template row
    with content or another anchor (template rows)."""
    row, col = anchor
    others = [c for r, c in tpl.anchors.values() if r == row and c > col]
    last_col = max([c.col for p in placed.values() for c in p.columns], default=col + 5)
    right = max(min(others) - 1 if others else last_col, col + 1)
    busy = {r for r, c in tpl.anchors.values() if r > row}
    busy |= {s.row for s in tpl.slots.values() if s.row > row}
    busy |= {r for (r, c), cell in tpl.sheet._cells.items() if r > row and cell.value is not None}
    bottom = (min(busy) - 1) if busy else row + 15
    return right, max(bottom, row + 5)


def _map_row(row: int, row_map: dict[int, int]) -> int:
    if row in row_map:
        return row_map[row]
    before = [r for r in row_map if r < row]
    if not before:
        return row
    r = max(before)
    return row_map[r] + (row - r)
