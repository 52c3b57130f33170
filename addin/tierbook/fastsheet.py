"""The bulk rows of the .xlsx file, written as sheet XML built column by column.

openpyxl still writes every sheet's skeleton from the templates (styles, widths, freeze
panes, tables, conditional formats, validations, charts, print setup, the template's
own rows); only the data rows of the tables and the copy of the user's sales sheet are
made here, where openpyxl would make one Python object per cell:

- `Bulk` takes the place of a table's data rows in a write-only sheet (`bulk_rows`
  installs the row writer that understands it): openpyxl writes one marker row and
  counts on past the rows, and `save` splices the XML of the rows in its place;
- `table_xml` builds those rows with Arrow's vectorised string kernels: numbers and
  dates (as serial numbers) as <v>, text as inline strings, XML-escaped, control
  characters dropped, and text that starts like a formula (=, +, -, @) written as text
  with the quote-prefix style, exactly as workbook._data_rows does cell by cell;
- `source_sheet_xml` copies the user's .xlsx sales sheet from its own sheet XML (values
  and number formats, formulas as their cached values) with the Segment cell appended
  to each data row, instead of reading and writing every cell through openpyxl;
- `save` writes the package once, deflated at level 1 (the files are a few times
  bigger than at level 6, and written several times faster).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from html import escape
from io import BytesIO
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from .sheets import Formula

CHUNK_ROWS = 50_000  # rows built at once: bounds the memory of a 1M-row sheet
COMPRESS_LEVEL = 1
EPOCH = np.datetime64("1899-12-30", "ns")
ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"  # openpyxl's ILLEGAL_CHARACTERS_RE: not allowed in XML
FORMULA_START = r"^[=+\-@]"  # workbook.FORMULA_STARTS


@dataclass
class Bulk:
    """ROWS sheet rows made by XML (a callable giving the rows' XML text in chunks, given
    the first row number), appended to a write-only sheet in their place."""

    rows: int
    xml: Callable[[int], Iterator[bytes]]
    key: int = 0


def bulk_rows(ws, registry: dict[int, Bulk]) -> None:
    """Let the write-only sheet WS take Bulk rows: each is written as one marker row
    (replaced by its XML in save), and the row numbers after it count on past it."""

    def write_rows():
        try:
            xf = ws._writer.xf.send(True)
        except StopIteration:
            ws._already_saved()
        with xf.element("sheetData"):
            row_idx = 1
            try:
                while True:
                    row = (yield)
                    if isinstance(row, Bulk):
                        row.key = len(registry) + 1
                        registry[row.key] = row
                        row.first = row_idx
                        with xf.element("row", {"r": str(row_idx), "spans": f"tbbulk{row.key}"}):
                            pass
                        row_idx += row.rows
                        continue
                    ws._writer.write_row(xf, ws._values_to_row(row, row_idx), row_idx)
                    row_idx += 1
            except GeneratorExit:
                pass
        ws._writer.xf.send(None)

    ws._write_rows = write_rows


def append_bulk(ws, bulk: Bulk) -> None:
    """Append BULK to a sheet prepared by bulk_rows."""
    ws._get_writer()
    if ws._rows is None:
        ws._rows = ws._write_rows()
        next(ws._rows)
    ws._rows.send(bulk)


_MARKER = re.compile(rb'<row r="\d+" spans="tbbulk(\d+)"\s*(?:/>|></row>)')


def save(book, out: str | Path, registry: Mapping[int, Bulk]) -> None:
    """Save BOOK (written by openpyxl, uncompressed, in memory) to OUT with the Bulk rows
    of REGISTRY spliced into their sheets, deflated at COMPRESS_LEVEL."""
    buffer = BytesIO()
    ExcelWriter(book, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as skeleton, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=COMPRESS_LEVEL) as zf:
        for info in skeleton.infolist():
            data = skeleton.read(info.filename)
            if not registry or not info.filename.startswith("xl/worksheets/sheet") or b"tbbulk" not in data:
                zf.writestr(info.filename, data)
                continue
            with zf.open(info.filename, "w", force_zip64=True) as part:
                at = 0
                for match in _MARKER.finditer(data):
                    part.write(data[at:match.start()])
                    bulk = registry[int(match.group(1))]
                    for chunk in bulk.xml(bulk.first):
                        part.write(chunk)
                    at = match.end()
                part.write(data[at:])


# --------------------------------------------------------------------------- table rows


@dataclass
class Column:
    """One output column of a table: its field KEY, column number, and style ids: STYLE
    of its cells, QUOTED of its text that starts like a formula, MARKED (row position →
    style id) of highlighted cells; STYLE_EMPTY: an empty cell keeps the style."""

    key: str
    col: int
    style: int
    quoted: int
    marked: Mapping[int, int]
    style_empty: bool


def _s(ids: object) -> object:
    """The s="…" attribute text of style ids (a scalar or an array), "" for style 0."""
    if np.isscalar(ids):
        return f' s="{ids}"' if ids else ""
    ids = np.asarray(ids)
    text = pc.binary_join_element_wise(' s="', pa.array(ids.astype(str)), '"', "")
    return pc.if_else(pa.array(ids == 0), "", text)


def _text(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Text → (the <t> element's XML, whether it starts like a formula), "" as null."""
    values = pc.replace_substring_regex(values, ILLEGAL, "")
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    formula = pc.fill_null(pc.match_substring_regex(values, FORMULA_START), False)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, char, entity)
    spaced = pc.fill_null(pc.match_substring_regex(values, r"^\s|\s$"), False)
    open_t = pc.if_else(spaced, '<t xml:space="preserve">', "<t>")
    return pc.binary_join_element_wise(open_t, values, "</t>", "", null_handling="emit_null"), formula


def _values(col: pd.Series) -> tuple[str, pa.Array, pa.Array | None] | None:
    """(kind, the <v> or <t> text of each value, whether text starts like a formula), or
    None when the column needs the cell-by-cell writer (formulas, mixed types)."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(col):
        stamps = col.to_numpy(dtype="datetime64[ns]")
        missing = np.isnat(stamps)
        days = (stamps - EPOCH) / np.timedelta64(1, "D")
        whole = np.floor(days) == days
        if whole[~missing].all():
            text = pa.array(np.where(missing, 0, days).astype(np.int64), mask=missing)
        else:
            text = pa.array(days, mask=missing)
        return "n", pc.cast(text, pa.string()), None
    if pd.api.types.is_bool_dtype(col):
        flags = col.astype("boolean")
        return "b", pa.array(np.where(flags.fillna(False).to_numpy(bool), "1", "0"),
                             mask=flags.isna().to_numpy()), None
    if pd.api.types.is_numeric_dtype(col):
        numbers = col.to_numpy(dtype="float64", na_value=np.nan)
        missing = ~np.isfinite(numbers)
        if pd.api.types.is_integer_dtype(col):
            arr = pa.array(col.to_numpy(dtype="int64", na_value=0), mask=missing)
        else:
            arr = pa.array(numbers, mask=missing)
        return "n", pc.cast(arr, pa.string()), None
    values = col.to_numpy(dtype=object)
    if any(isinstance(v, Formula) for v in values):
        return None
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)  # None, NaN, NA: null
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers, dates among the texts
        return None
    text, formula = _text(arr)
    return "s", text, formula


def table_xml(frame: pd.DataFrame, columns: Sequence[Column], first_row: int) -> Iterator[bytes]:
    """The XML of FRAME's rows (<row> elements from FIRST_ROW on), chunk by chunk."""
    n = len(frame)
    prepared = []
    for column in columns:
        prepared.append((column, get_column_letter(column.col), _values(frame[column.key])))
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        numbers = pa.array(np.arange(first_row + start, first_row + stop).astype(str))
        parts: list[object] = ['<row r="', numbers, '">']
        for column, letter, made in prepared:
            parts.append(_column_chunk(frame, column, letter, made, numbers, start, stop))
        parts += ["</row>", ""]
        rows = pc.binary_join_element_wise(*parts, null_handling="replace", null_replacement="")
        yield _joined(rows)


def _column_chunk(frame: pd.DataFrame, column: Column, letter: str, made, numbers: pa.Array, start: int,
                  stop: int) -> pa.Array:
    ids = np.full(stop - start, column.style, dtype=np.int64)
    for i, sid in column.marked.items():
        if start <= i < stop:
            ids[i - start] = sid
    marked = np.zeros(stop - start, dtype=bool)
    for i in column.marked:
        if start <= i < stop:
            marked[i - start] = True
    if made is None:  # formulas or mixed values: one cell at a time (small tables)
        from .workbook import python_values

        values = python_values(frame[column.key].iloc[start:stop])
        out = [cell_xml(v, f"{letter}{first}", int(sid), column.quoted) if v is not None else None
               for v, first, sid in zip(values, numbers.to_pylist(), ids)]
        text = pa.array(out, type=pa.string())
        empty = [v is None for v in values]
    else:
        kind, values, formula = made
        values = values.slice(start, stop - start)
        if formula is not None and column.quoted != column.style:
            quoted = np.asarray(formula.slice(start, stop - start).to_numpy(zero_copy_only=False), dtype=bool)
            if quoted.any():
                ids = np.where(quoted & ~marked, column.quoted, ids)
        value_open, value_close = ("<is>", "</is></c>") if kind == "s" else ("<v>", "</v></c>")
        kind_attr = ' t="inlineStr">' if kind == "s" else f' t="{kind}">'
        style = _s(ids) if (ids != column.style).any() else _s(column.style)
        text = pc.binary_join_element_wise(f'<c r="{letter}', numbers, '"', style, kind_attr, value_open, values, value_close, "", null_handling="emit_null")
        empty = pc.is_null(values).to_numpy(zero_copy_only=False)
    empty = np.asarray(empty, dtype=bool)
    keep = (empty & (marked | column.style_empty)) & (ids != 0)
    if keep.any():
        blank = pc.binary_join_element_wise(f'<c r="{letter}', numbers, '"', _s(ids), "/>", "")
        text = pc.if_else(pa.array(keep), blank, text)
    return text


def _joined(rows: pa.Array) -> bytes:
    """The concatenated values of a string array without nulls (its data buffer)."""
    rows = rows.cast(pa.large_string()) if rows.type != pa.large_string() else rows
    if rows.null_count:
        rows = pc.fill_null(rows, "")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + len(rows) + 1]
    data = rows.buffers()[2]
    return data.to_pybytes()[offsets[0]:offsets[-1]] if data is not None else b""


def cell_xml(value: object, ref: str, style: int, quoted: int) -> str:
    """One cell's XML, as openpyxl writes it (for the columns table_xml cannot vectorise)."""
    from datetime import datetime

    from openpyxl.utils.datetime import to_excel

    s = f' s="{style}"' if style else ""
    if isinstance(value, str):
        if isinstance(value, Formula):
            return f'<c r="{ref}"{s}><f>{escape(value[1:], quote=False)}</f><v></v></c>'
        text = re.sub(ILLEGAL, "", value)
        if text.startswith(("=", "+", "-", "@")):
            s = f' s="{quoted}"' if quoted else ""
        space = ' xml:space="preserve"' if text != text.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{escape(text, quote=False)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        value = to_excel(value)
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"{s} t="n"><v>{"%.16g" % value}</v></c>'
    text = escape(str(value), quote=False)
    return f'<c r="{ref}"{s} t="inlineStr"><is><t>{text}</t></is></c>'
