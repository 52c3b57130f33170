"""The bulk rows of the .xlsx file, written as sheet XML built column by column.

openpyxl still writes every sheet's skeleton from the templates (styles, widths, freeze
panes, tables, conditional formats, validations, charts, print setup, the template's
own rows); only the data rows of the tables and the copy of the user's sales sheet are
made here, where openpyxl would make one Python object per cell:

- `Bulk` takes the place of a table's data rows in a write-only sheet (`bulk_rows`
  installs the row writer that understands it): openpyxl writes one marker row and
  counts on past the rows, and `save` splices the XML of the rows in its place;
- `table_xml` builds those rows with Arrow's vectorised string kernels: numbers and
  dates (as serial numbers) as <v> with openpyxl's 16 significant digits, text as
  shared strings (`SharedStrings`: each distinct text once, XML-escaped, control
  characters dropped), and text that starts like a formula (=, +, -, @) written as text
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


@dataclass
class Bulk:
    """ROWS sheet rows made by XML (a callable giving the rows' XML text in chunks, given
    the first row number), appended to a write-only sheet in their place."""

    rows: int
    xml: Callable[[int], Iterator[bytes]]
    columns: int  # the last column's number
    key: int = 0
    first: int = 1  # the first row's number (set when appended)


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


def save(book, out: str | Path, registry: Mapping[int, Bulk], strings: SharedStrings | None = None) -> None:
    """Save BOOK (written by openpyxl, uncompressed, in memory) to OUT with the Bulk rows
    of REGISTRY spliced into their sheets, deflated at COMPRESS_LEVEL, and the shared
    STRINGS the rows refer to (openpyxl's write-only sheets use inline strings only, so
    the part is ours alone)."""
    buffer = BytesIO()
    ExcelWriter(book, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as skeleton, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=COMPRESS_LEVEL) as zf:
        if strings is not None and "xl/sharedStrings.xml" in skeleton.namelist():
            raise ValueError("the workbook has its own shared strings")  # write-only sheets never do
        for info in skeleton.infolist():
            data = skeleton.read(info.filename)
            if strings is not None and info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="'
                                    + SST_TYPE.encode() + b'"/></Types>')
            if strings is not None and info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdTierbookSst" Type="' + SST_REL.encode()
                                    + b'" Target="sharedStrings.xml"/></Relationships>')
            if not info.filename.startswith("xl/worksheets/sheet"):
                zf.writestr(info.filename, data)
                continue
            data = _with_dimension(data, registry)
            with zf.open(info.filename, "w", force_zip64=True) as part:
                at = 0
                for match in _MARKER.finditer(data):
                    part.write(data[at:match.start()])
                    bulk = registry[int(match.group(1))]
                    for chunk in bulk.xml(bulk.first):
                        part.write(chunk)
                    at = match.end()
                part.write(data[at:])
        if strings is not None:
            zf.writestr("xl/sharedStrings.xml", strings.xml())


_ROW_NUMBER = re.compile(rb'<row r="(\d+)"')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z]+)\d')


def _with_dimension(data: bytes, registry: Mapping[int, Bulk]) -> bytes:
    """A skeleton sheet's XML with its <dimension> (the used range, with the Bulk rows its
    markers stand for): a reader (openpyxl read-only, pandas) then need not scan the whole
    sheet to learn its size. Unchanged when the sheet has no rows or a dimension."""
    if b"<dimension" in data:
        return data
    rows = [int(n) for n in _ROW_NUMBER.findall(data)]
    columns = [_column_number(c) for c in set(_CELL_COLUMN.findall(data))]
    for match in _MARKER.finditer(data):
        bulk = registry[int(match.group(1))]
        rows.append(bulk.first + bulk.rows - 1)
        columns.append(bulk.columns)
    if not rows or not columns:
        return data
    ref = f"A1:{get_column_letter(max(columns))}{max(rows)}".encode()
    at = min((i for i in (data.find(tag) for tag in (b"<sheetViews", b"<sheetFormatPr", b"<cols", b"<sheetData"))
              if i >= 0), default=-1)
    return data if at < 0 else data[:at] + b'<dimension ref="' + ref + b'"/>' + data[at:]


# --------------------------------------------------------------------------- table rows


@dataclass
class Column:
    """One output column of a table: its field KEY, column number, and style ids: STYLE
    of its cells, QUOTED of its text that starts like a formula; STYLE_EMPTY: an empty
    cell keeps the style."""

    key: str
    col: int
    style: int
    quoted: int
    style_empty: bool


def _s(ids: object) -> object:
    """The s="…" attribute text of style ids (a scalar or an array), "" for style 0."""
    if np.isscalar(ids):
        return f' s="{ids}"' if ids else ""
    uniques, at = np.unique(np.asarray(ids), return_inverse=True)  # a few styles: each text made once
    return pc.take(pa.array([f' s="{i}"' if i else "" for i in uniques.tolist()], type=pa.string()),
                   pa.array(at.ravel()))


class SharedStrings:
    """The workbook's shared strings: those of the user's workbook whose sheet is copied
    (their indexes kept, SOURCE), then each distinct text of the tables once (a table's
    repeated texts, such as the contact plan's scripts, are written once)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.index: dict[str, int] = {}
        self.source: bytes | None = None  # the user's <sst> part

    @property
    def base(self) -> int:
        """The index of the first text of the tables (after the user's strings)."""
        return _items(self.source)[1] if self.source is not None else 0

    def ids(self, uniques: list[str]) -> np.ndarray:
        out = np.empty(len(uniques), dtype=np.int64)
        index, texts = self.index, self.texts
        for i, text in enumerate(uniques):
            j = index.get(text)
            if j is None:
                j = index[text] = len(texts)
                texts.append(text)
            out[i] = j
        return out + self.base

    def xml(self) -> bytes:
        """The sharedStrings part."""
        items, count = _items(self.source) if self.source is not None else (b"", 0)
        mine = b""
        if self.texts:
            text = _escaped(pa.array(self.texts, type=pa.string()))
            spaced = pc.not_equal(pc.utf8_trim_whitespace(text), text)
            open_t = pc.if_else(spaced, '<si><t xml:space="preserve">', "<si><t>")
            mine = _joined(pc.binary_join_element_wise(open_t, text, "</t></si>", ""))
        head = f'<sst xmlns="{MAIN}" uniqueCount="{count + len(self.texts)}">'.encode()
        return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + head + items + mine + b"</sst>"


def _items(sst: bytes) -> tuple[bytes, int]:
    """The <si> items of a sharedStrings part, and how many."""
    start = sst.find(b"<sst")
    start = sst.index(b">", start) + 1
    if sst[start - 2:start] == b"/>":
        return b"", 0
    items = sst[start:sst.rfind(b"</sst>")]
    return items, items.count(b"<si>") + items.count(b"<si/>")


#: What XML text content escapes ("&" first): a CR kept as a character reference, as
#: openpyxl (lxml) writes it, so "Anna\r\nBcc" reads back as written.
XML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))


def xml_text(text: str) -> str:
    """TEXT escaped for XML content, as _escaped does for an array."""
    for char, entity in XML_ENTITIES:
        if char in text:
            text = text.replace(char, entity)
    return text


def _escaped(values: pa.Array) -> pa.Array:
    """Text escaped for XML content (& < >, and a carriage return as &#13;, which a
    reader would otherwise read as a line feed), the kernels run only when needed."""
    data = values.buffers()[2]
    raw = data.to_pybytes() if data is not None else b""
    for char, entity in XML_ENTITIES:
        if char.encode() in raw:
            values = pc.replace_substring(values, char, entity)
    return values


def _clean(values: pa.Array) -> pa.Array:
    """Text without the control characters XML does not allow, "" as null."""
    data = values.buffers()[2]
    if data is not None and re.search(ILLEGAL.encode(), data.to_pybytes()):
        values = pc.replace_substring_regex(values, ILLEGAL, "")
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _g16(numbers: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Floats as openpyxl writes them ("%.16g": 16 significant digits), null where MISSING.
    Arrow's shortest text is the same number unless it needs 17 digits: only those are
    formatted one by one."""
    text = pc.cast(pa.array(numbers, mask=missing), pa.string())
    # 17 digits need 17 characters: digits are counted only in texts that long
    maybe = np.flatnonzero(pc.fill_null(pc.greater_equal(pc.binary_length(text), 17), False).to_numpy(
        zero_copy_only=False))
    if maybe.size == 0:
        return text
    digits = pc.count_substring_regex(pc.take(text, pa.array(maybe)), "[0-9]").to_numpy(zero_copy_only=False)
    at = maybe[digits >= 17]
    if at.size == 0:
        return text
    values = text.to_numpy(zero_copy_only=False).astype(object)
    values[at] = ["%.16g" % v for v in numbers[at].tolist()]
    return pa.array(values, type=pa.string(), mask=missing)


def _values(col: pd.Series, strings: SharedStrings) -> tuple[str, pa.Array, pa.Array | None] | None:
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
            return "n", _g16(days, missing), None
        return "n", pc.cast(text, pa.string()), None
    if pd.api.types.is_bool_dtype(col):
        flags = col.astype("boolean")
        return "b", pa.array(np.where(flags.fillna(False).to_numpy(bool), "1", "0"),
                             mask=flags.isna().to_numpy()), None
    if pd.api.types.is_numeric_dtype(col):
        numbers = col.to_numpy(dtype="float64", na_value=np.nan)
        missing = ~np.isfinite(numbers)
        if pd.api.types.is_integer_dtype(col):
            return "n", pc.cast(pa.array(col.to_numpy(dtype="int64", na_value=0), mask=missing), pa.string()), None
        return "n", _g16(numbers, missing), None
    values = col.to_numpy(dtype=object)
    if Formula in set(map(type, values)):
        return None
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)  # None, NaN, NA: null
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers, dates among the texts
        return None
    coded = pc.dictionary_encode(_clean(arr)).combine_chunks() if isinstance(arr, pa.ChunkedArray) else \
        pc.dictionary_encode(_clean(arr))
    uniques = coded.dictionary
    ids = pa.array(strings.ids(uniques.to_pylist()))
    formula = pc.is_in(pc.utf8_slice_codeunits(uniques, 0, 1), pa.array(["=", "+", "-", "@"]))
    return "ss", pc.cast(pc.take(ids, coded.indices), pa.string()), pc.fill_null(pc.take(formula, coded.indices), False)
    return "s", text, formula


def table_xml(frame: pd.DataFrame, columns: Sequence[Column], first_row: int,
              strings: SharedStrings) -> Iterator[bytes]:
    """The XML of FRAME's rows (<row> elements from FIRST_ROW on), chunk by chunk."""
    n = len(frame)
    prepared = []
    for column in columns:
        prepared.append((column, get_column_letter(column.col), _values(frame[column.key], strings)))
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        numbers = pc.cast(pa.array(np.arange(first_row + start, first_row + stop)), pa.string())
        parts: list[object] = ['<row r="', numbers, '">']
        for column, letter, made in prepared:
            parts.append(_column_chunk(frame, column, letter, made, numbers, start, stop))
        parts += ["</row>", ""]
        rows = pc.binary_join_element_wise(*parts, null_handling="replace", null_replacement="")
        yield _joined(rows)


def _column_chunk(frame: pd.DataFrame, column: Column, letter: str, made, numbers: pa.Array, start: int,
                  stop: int) -> pa.Array:
    ids = np.full(stop - start, column.style, dtype=np.int64)
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
                ids = np.where(quoted, column.quoted, ids)
        value_open, value_close = ("<is>", "</is></c>") if kind == "s" else ("<v>", "</v></c>")
        kind_attr = {"s": ' t="inlineStr">', "n": ">", "ss": ' t="s">'}.get(kind, f' t="{kind}">')
        if (ids != column.style).any():
            text = pc.binary_join_element_wise(f'<c r="{letter}', numbers, '"', _s(ids), kind_attr + value_open, values,
                                               value_close, "", null_handling="emit_null")
        else:  # one style: the text between the row number and the value is the same in every cell
            text = pc.binary_join_element_wise(f'<c r="{letter}', numbers, '"' + _s(column.style) + kind_attr + value_open,
                                               values, value_close, "", null_handling="emit_null")
        empty = pc.is_null(values).to_numpy(zero_copy_only=False)
    empty = np.asarray(empty, dtype=bool)
    keep = (empty & column.style_empty) & (ids != 0)
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
            return f'<c r="{ref}"{s}><f>{xml_text(value[1:])}</f><v></v></c>'
        text = re.sub(ILLEGAL, "", value)
        if text.startswith(("=", "+", "-", "@")):
            s = f' s="{quoted}"' if quoted else ""
        space = ' xml:space="preserve"' if text != text.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{xml_text(text)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        value = to_excel(value)
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"{s} t="n"><v>{"%.16g" % value}</v></c>'
    text = xml_text(str(value))
    return f'<c r="{ref}"{s} t="inlineStr"><is><t>{text}</t></is></c>'


# --------------------------------------------------------------------------- the user's sales sheet


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


class NotCopied(Exception):
    """The sheet XML has a shape source_sheet does not copy (the caller copies it cell by cell)."""


@dataclass
class SourceSheet:
    """A sheet of the user's .xlsx as its XML: TITLE, DATA (the <sheetData> content),
    the number format of each style id (FORMATS), the shared strings (SST, the part's
    XML, or None) and the last column's number from the sheet's dimension (WIDTH)."""

    title: str
    data: bytes
    formats: list[str]
    sst: bytes | None
    width: int
    rows: int  # the last row's number, from the dimension (else the last row in DATA)


def read_source(path: Path, sheet: str | None) -> SourceSheet:
    """The sheet SHEET (None: the first) of the .xlsx PATH, as XML (never parsed cell by
    cell). Raises NotCopied for what it does not handle."""
    from defusedxml.ElementTree import fromstring
    from openpyxl.styles.numbers import BUILTIN_FORMATS
    from openpyxl.utils.cell import range_boundaries

    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        book = fromstring(zf.read("xl/workbook.xml"))
        sheets = book.findall(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet")
        chosen = next((s for s in sheets if sheet is None or s.get("name") == sheet), None)
        if chosen is None:
            raise NotCopied(f"no sheet {sheet}")
        rid = chosen.get(f"{{{rel_ns}}}id")
        rels = fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        target = next((r.get("Target") for r in rels if r.get("Id") == rid), None)
        sst_target = next((r.get("Target") for r in rels if r.get("Type", "").endswith("/sharedStrings")), None)
        if target is None:
            raise NotCopied("sheet part not found")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        if part not in names:
            raise NotCopied("sheet part not found")
        xml = zf.read(part)
        sst = None
        if sst_target is not None:
            sst_part = sst_target.lstrip("/") if sst_target.startswith("/") else "xl/" + sst_target
            sst = zf.read(sst_part) if sst_part in names else None
        formats = ["General"]
        if "xl/styles.xml" in names:
            styles = fromstring(zf.read("xl/styles.xml"))
            custom = {int(f.get("numFmtId")): f.get("formatCode")
                      for f in styles.findall(f"{{{MAIN}}}numFmts/{{{MAIN}}}numFmt")}
            xfs = styles.findall(f"{{{MAIN}}}cellXfs/{{{MAIN}}}xf")
            formats = [custom.get(int(x.get("numFmtId", 0)), BUILTIN_FORMATS.get(int(x.get("numFmtId", 0)), "General"))
                       for x in xfs] or ["General"]
    start, stop = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
    if start < 0:
        raise NotCopied("no sheetData")
    open_end = xml.index(b">", start)
    data = b"" if xml[open_end - 1:open_end] == b"/" else xml[open_end + 1:stop]
    width = rows = 0
    dimension = re.search(rb'<dimension ref="([A-Z]+\d+(?::[A-Z]+\d+)?)"', xml[:start])
    if dimension is not None:
        ref = dimension.group(1).decode()
        bounds = range_boundaries(ref if ":" in ref else f"{ref}:{ref}")
        if bounds[3] != 1 or bounds[2] != 1:
            width, rows = bounds[2], bounds[3]
    if not width:
        width = max((_column_number(m) for m in set(re.findall(rb'<c r="([A-Z]+)\d', data))), default=1)
        last = data.rfind(b'<row r="')
        rows = int(data[last + 8:data.index(b'"', last + 8)]) if last >= 0 else 0
    if re.search(rb'<(?:t|v)(?:\s[^>]*)?>[^<]*="', data):  # the attribute edits below would touch such text
        raise NotCopied("cell text that looks like an attribute")
    return SourceSheet(str(chosen.get("name")), data, formats, sst, width, rows)


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


_ROW = re.compile(rb'<row r="(\d+)"[^>]*?(/?)>')
_FORMULA = re.compile(rb"<f>[^<]*</f>|<f\s[^>]*/>|<f\s[^>]*>[^<]*</f>|<f/>")
_STR = re.compile(rb't="str"([^>]*)><v>([^<]*)</v>')
_STR_EMPTY = re.compile(rb't="str"([^>]*)>(?:<v/>|<v></v>)?</c>')
_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


def normalise(data: bytes, drop_column: str | None) -> bytes:
    """The source's <sheetData> content as the copy keeps it: rows as the user made them
    (heights, hidden) but without their spans (the copy has one more column), formulas
    replaced by their cached values (text results as inline strings), the cells of column
    DROP_COLUMN left out. Raises NotCopied when a row or cell has no reference."""
    if data.count(b"<row ") != data.count(b'<row r="') or data.count(b"<c>") \
            or data.count(b"<c ") != data.count(b'<c r="'):
        raise NotCopied("rows or cells without a reference")
    if b' spans="' in data:
        data = re.sub(rb' spans="[^"]*"', b"", data)
    if b' cm="' in data or b' vm="' in data:  # cell and value metadata: parts the copy does not have
        data = re.sub(rb' [cv]m="\d+"', b"", data)
    while re.search(rb'<row r="\d+"[^>]*? \w+:\w+="', data):  # x14ac:dyDescent: a namespace the copy lacks
        data = re.sub(rb'(<row r="\d+"[^>]*?) \w+:\w+="[^"]*"', rb"\1", data)
    if b"<f" in data:
        data = _FORMULA.sub(b"", data)
        data = _STR_EMPTY.sub(rb"\1></c>", data)
        data = _STR.sub(rb't="inlineStr"\1><is><t>\2</t></is>', data)
        data = data.replace(b"<v></v>", b"").replace(b"<v/>", b"")  # a formula without a cached value: empty
    if drop_column:
        data = re.sub(rb'<c r="' + drop_column.encode() + rb'\d+"[^>]*?(?:/>|>.*?</c>)', b"", data, flags=re.S)
    return data


def head_values(data: bytes, last_row: int, sst_items: Callable[[int], str], formats: list[str]) -> dict[int, dict]:
    """The values of the rows up to LAST_ROW of a normalised <sheetData> (row → column → value):
    numbers as floats, dates (a date number format) as datetimes, text unescaped."""
    from html import unescape

    from openpyxl.styles.numbers import is_date_format
    from openpyxl.utils.datetime import from_excel

    out: dict[int, dict] = {}
    at = 0
    while True:
        start = data.find(b"<row ", at)
        match = _ROW.match(data, start) if start >= 0 else None
        if match is None or int(match.group(1)) > last_row:
            break
        if match.group(2):  # <row r="5"/>
            at = match.end()
            continue
        row = int(match.group(1))
        end = data.find(b"</row>", match.end())
        values = {}
        for cell in _CELL.finditer(data, match.end(), end):
            attrs, body = cell.group(3), cell.group(4) or b""
            kind = re.search(rb'\bt="(\w+)"', attrs)
            kind = kind.group(1) if kind else b"n"
            style = re.search(rb'\bs="(\d+)"', attrs)
            fmt = formats[int(style.group(1))] if style and int(style.group(1)) < len(formats) else "General"
            v = re.search(rb"<v>([^<]*)</v>", body)
            col = _column_number(cell.group(1))
            if kind == b"s" and v:
                values[col] = sst_items(int(v.group(1)))
            elif kind == b"inlineStr":
                values[col] = unescape("".join(t.decode() for t in re.findall(rb"<t[^>]*>([^<]*)</t>", body)))
            elif kind == b"b" and v:
                values[col] = v.group(1) == b"1"
            elif kind in (b"e", b"str") and v:
                values[col] = unescape(v.group(1).decode())
            elif v and v.group(1):
                number = float(v.group(1))
                as_float = any(ch in v.group(1) for ch in b".eE")
                values[col] = from_excel(number) if is_date_format(fmt) else (number if as_float else int(number))
        out[row] = values
        at = end + 6
    return out


def shared_texts(sst: bytes | None) -> tuple[Callable[[int], str], set[int]]:
    """(the text of shared string i, the indexes of the strings that start like a formula)."""
    from html import unescape

    if sst is None:
        return (lambda i: ""), set()
    body = sst[sst.find(b"<si>"):]
    items = body.split(b"<si>")[1:]

    def text(i: int) -> str:
        item = items[i] if 0 <= i < len(items) else b""
        item = re.sub(rb"<rPh\b.*?</rPh>", b"", item, flags=re.S)
        return unescape("".join(t.decode() for t in re.findall(rb"<t[^>]*>([^<]*)</t>", item)))

    formulas = {i for i, item in enumerate(items) if re.match(rb"(?:<r>(?:<rPr>.*?</rPr>)?)?<t[^>]*>[=+\-@]", item, re.S)} \
        if re.search(rb"<t[^>]*>[=+\-@]", body) else set()
    return text, formulas


_QUOTED_INLINE = re.compile(rb'<c r="([A-Z]+\d+)"([^>]*?)><is><t([^>]*)>(?=[=+\-@])')


def restyled(data: bytes, formats: list[str], style_of: Callable[[str, bool], int], quoted_sst: set[int]) -> bytes:
    """DATA with the source's style ids replaced by this workbook's: a cell keeps its number
    format (STYLE_OF(format, quoted) gives the id), text that starts like a formula gets
    the quote prefix (inline strings, and shared strings whose index is in QUOTED_SST)."""
    def fmt_of(attrs: bytes) -> str:
        style = re.search(rb' s="(\d+)"', attrs)
        k = int(style.group(1)) if style else 0
        return formats[k] if k < len(formats) else "General"

    def quote(match: re.Match) -> bytes:
        attrs = re.sub(rb' s="\d+"', b"", match.group(2))
        sid = style_of(fmt_of(match.group(2)), True)
        return b'<c r="%s" S="%d"%s>' % (match.group(1), sid, attrs) + match.group(0)[match.end(2) - match.start() + 1:]

    if re.search(rb'<is><t(?: xml:space="preserve")?>[=+\-@]', data):  # one pass over the sheet
        data = _QUOTED_INLINE.sub(quote, data)
    if quoted_sst:
        numbers = b"|".join(str(i).encode() for i in sorted(quoted_sst))
        shared = re.compile(rb'<c r="([A-Z]+\d+)"([^>]*?\bt="s"[^>]*?)><v>(?:' + numbers + rb')</v>')
        data = shared.sub(quote, data)
    for k in range(len(formats)):
        old = b' s="%d"' % k
        if old not in data:
            continue
        sid = style_of(formats[k], False) if formats[k] and formats[k] != "General" else 0
        data = data.replace(old, b' S="%d"' % sid if sid else b"")
    return data.replace(b' S="', b' s="')


def with_segments(data: bytes, column: str, header_row: int, header: bytes, segments: Mapping[int, str]) \
        -> Callable[[], Iterator[bytes]]:
    """DATA (normalised rows) with a cell in COLUMN at the end of the HEADER_ROW row (the
    XML HEADER, its value and style) and of each row in SEGMENTS (row number → text): a
    callable giving the XML in chunks of CHUNK_ROWS rows (a 1M-row copy is never held
    twice). Raises NotCopied, before any is written, when the rows do not nest."""
    if b"/>" in data:  # empty rows
        data = re.sub(rb'<row (r="\d+"[^>]*?)\s*/>', rb'<row \1></row>', data)
    numbers = [int(n) for n in re.findall(rb'<row r="(\d+)"', data)]
    if data.count(b"</row>") != len(numbers):
        raise NotCopied("rows do not nest")
    ref = column.encode()
    cells = {label: b'" t="inlineStr"><is><t>%s</t></is></c></row>' % xml_text(label).encode()
             for label in set(segments.values()) if label}

    def chunks() -> Iterator[bytes]:
        out: list[bytes] = []
        at = 0
        for number, end in zip(numbers, (m.start() for m in re.finditer(b"</row>", data))):
            piece = data[at:end]
            at = end + 6
            if number == header_row:
                out.append(piece + header + b"</row>")
            else:
                label = segments.get(number)
                out.append(piece + b'<c r="' + ref + str(number).encode() + cells[label] if label
                           else piece + b"</row>")
            if len(out) >= CHUNK_ROWS:
                yield b"".join(out)
                out = []
        out.append(data[at:])
        yield b"".join(out)

    return chunks


def text_lengths(values: np.ndarray) -> int:
    """The length of the longest text among VALUES (None and NaN: 0), as len() counts it."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(str(error)) from None
    longest = pc.max(pc.utf8_length(arr)).as_py()
    return int(longest or 0)
