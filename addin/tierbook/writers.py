"""The two writers of the output workbook: a file, or the workbook open in Excel.

The layout of every sheet is made once, by workbook.SheetWriter, from the sheet
descriptions of sheets.py and the templates: rows of values and styled cells, column
widths, freeze panes, merged cells, tables, conditional formats and charts, in
openpyxl's worksheet model. The file writer streams that model into an .xlsx (openpyxl
write-only mode, the tables' data rows as sheet XML by fastsheet). The open-workbook
writer keeps the model in memory (RecordedSheet: the template's rows as cells, each
table's data rows as the frame they come from, TableRows) and renders it through
xlwings' API (xlwings Server / Office.js or desktop Excel): values, formulas, number
formats, fonts and fills, widths, tables, conditional formats, freeze panes and charts,
so that a ribbon run gives the workbook the command line writes, without a temporary
file. A table's rows go as 2-D blocks made column by column from the frame and are
formatted a column at a time, never one openpyxl cell per value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: Cells per setValues action: one request to Excel on the web must stay under 5 MB.
CHUNK_CELLS = 100_000
#: The xlwings chart type of each openpyxl chart tag.
CHART_TYPES = {"barChart": "column_clustered", "lineChart": "line", "scatterChart": "xy_scatter_lines_no_markers"}


class RecordedSheet(WriteOnlyWorksheet):
    """A write-only worksheet that keeps its rows in memory instead of streaming them
    into a file: the layout SheetWriter made, for a writer that renders it elsewhere.
    ROWS holds lists of values and cells (one row each) and TableRows (a table's rows)."""

    def __init__(self, parent, title: str):
        super().__init__(parent, title)
        self.rows: list[list | TableRows] = []

    def append(self, row) -> None:  # noqa: D102 - as WriteOnlyWorksheet.append
        self.rows.append(list(row))

    def append_table(self, rows: "TableRows") -> None:
        """A table's data rows, one row per row of ROWS.frame, below the rows so far."""
        self.rows.append(rows)

    def close(self) -> None:  # nothing was streamed
        pass


@dataclass(frozen=True)
class TableRows:
    """The data rows of one table, as the frame they are written from: COLUMNS are
    (frame column, sheet column from 1, style array or None), as workbook._data_rows
    would make the cells; a text stays that text (workbook.safe_text)."""

    frame: pd.DataFrame
    columns: tuple[tuple[str, int, object], ...]

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def first_column(self) -> int:
        return min(col for _, col, _ in self.columns)

    @property
    def last_column(self) -> int:
        return max(col for _, col, _ in self.columns)


@dataclass(frozen=True)
class Look:
    """What a cell's style shows, as the open-workbook writer sets it."""

    number_format: str | None = None
    bold: bool | None = None
    italic: bool | None = None
    size: float | None = None
    font_color: str | None = None
    fill: str | None = None
    wrap: bool | None = None
    halign: str | None = None
    valign: str | None = None


def _rgb(color) -> str | None:
    rgb = getattr(color, "rgb", None) if color is not None else None
    if not isinstance(rgb, str) or len(rgb) not in (6, 8):
        return None
    return "#" + rgb[-6:]


_LOOKS: dict[tuple, Look] = {}


def look_of(cell) -> Look:
    """The Look of a written cell (a WriteOnlyCell with a style), cached per style array."""
    style = getattr(cell, "_style", None)
    if style is None:
        return Look()
    key = (id(cell.parent.parent), tuple(style))
    found = _LOOKS.get(key)
    if found is None:
        fmt = cell.number_format
        font, fill, align = cell.font, cell.fill, cell.alignment
        found = Look(number_format=None if fmt == "General" else fmt,
                     bold=True if font is not None and font.b else None,
                     italic=True if font is not None and font.i else None,
                     size=float(font.sz) if font is not None and font.sz and float(font.sz) != 11 else None,
                     font_color=_rgb(font.color) if font is not None else None,
                     fill=_rgb(fill.fgColor) if fill is not None and fill.fill_type == "solid" else None,
                     wrap=True if align is not None and align.wrap_text else None,
                     halign=align.horizontal if align is not None and align.horizontal in
                     ("left", "center", "right") else None,
                     valign=align.vertical if align is not None and align.vertical in
                     ("top", "center") else None)
        _LOOKS[key] = found
    return found


def style_look(ws, style) -> Look:
    """The Look of a cell of WS with the style array STYLE (None: the default style)."""
    if style is None:
        return Look()
    cell = WriteOnlyCell(ws)
    cell._style = style
    return look_of(cell)


@dataclass
class Grid:
    """Rows of a recorded sheet as plain data: values (text quote-escaped as typed),
    formulas by cell, and looks by cell; row numbers are the sheet's."""

    values: list[list]
    formulas: list[tuple[int, int, str]] = field(default_factory=list)  # (row, column, formula), 1-based
    looks: dict[tuple[int, int], Look] = field(default_factory=dict)


def grid_of(rows: Sequence[list], first: int = 1) -> Grid:
    """Values, formulas and looks of ROWS, lists of values and cells that SheetWriter
    appended, the first of them the sheet's row FIRST. Text is escaped as
    workbook.safe_text says (Excel takes a value as typed)."""
    from .workbook import safe_text

    width = max((len(r) for r in rows), default=0)
    values: list[list] = []
    formulas: list[tuple[int, int, str]] = []
    looks: dict[tuple[int, int], Look] = {}
    for r, row in enumerate(rows, first):
        out = [None] * width
        for c, item in enumerate(row, 1):
            if isinstance(item, Cell):
                value = item.value
                if item.has_style:
                    look = look_of(item)
                    if look != Look():
                        looks[(r, c)] = look
                if item.data_type == "f" or (isinstance(value, str) and value.startswith("=")
                                             and item.data_type not in ("s",)):
                    formulas.append((r, c, value))
                    continue
                if isinstance(value, str):
                    value = "'" + value if item.quotePrefix else safe_text(value)
            else:
                value = item
                if isinstance(value, str) and value.startswith("="):
                    formulas.append((r, c, value))
                    continue
                if isinstance(value, str):
                    value = safe_text(value)
            out[c - 1] = value
        values.append(out)
    return Grid(values, formulas, looks)


def _parts(rows: Iterable[list | TableRows]) -> Iterator[tuple[int, list[list] | TableRows]]:
    """A recorded sheet's rows as (first row, part): runs of plain rows, and TableRows."""
    plain: list[list] = []
    at = 1
    for item in rows:
        if isinstance(item, TableRows):
            if plain:
                yield at, plain
                at += len(plain)
                plain = []
            yield at, item
            at += len(item)
        else:
            plain.append(item)
    if plain:
        yield at, plain


def _runs(cells: dict[tuple[int, int], Look], values: list[list] | None = None, first: int = 1
          ) -> Iterator[tuple[int, int, int, Look]]:
    """Runs down each column of cells with the same look: (column, first row, last row,
    look). A run bridges empty cells without a style (an empty date in a column of
    dates gets the column's format too, as a typed value would need). VALUES are the
    rows from the sheet's row FIRST."""
    def bridged(c: int, after: int, before: int) -> bool:
        if values is None:
            return False
        return all(c > len(values[r - first]) or values[r - first][c - 1] is None for r in range(after + 1, before))
    by_col: dict[int, list[tuple[int, Look]]] = {}
    for (r, c), look in cells.items():
        by_col.setdefault(c, []).append((r, look))
    for c, items in sorted(by_col.items()):
        items.sort(key=lambda x: x[0])
        start, prev, current = items[0][0], items[0][0], items[0][1]
        for r, look in items[1:]:
            if look == current and (r == prev + 1 or bridged(c, prev, r)):
                prev = r
                continue
            yield c, start, prev, current
            start, prev, current = r, r, look
        yield c, start, prev, current


def _joined(runs: Iterable[tuple[int, int, int, Look]]) -> list[tuple[int, int, int, Look]]:
    """RUNS sorted by column and row, a run that starts right below one of the same look
    joined to it (a table's column under a template row styled alike)."""
    out: list[list] = []
    for c, r0, r1, look in sorted(runs, key=lambda x: (x[0], x[1])):
        if out and out[-1][0] == c and out[-1][3] == look and out[-1][2] + 1 == r0:
            out[-1][2] = r1
        else:
            out.append([c, r0, r1, look])
    return [tuple(r) for r in out]


def _rectangles(runs: Iterable[tuple[int, int, int, Look]]) -> list[tuple[int, int, int, int, Look]]:
    """Column RUNS (column, first row, last row, look; by column) joined across adjacent
    columns with the same rows and look: (first column, first row, last column, last
    row, look), one action each."""
    out: list[list] = []
    open_: dict[tuple[int, int, Look], list] = {}
    for c, r0, r1, look in runs:
        key = (r0, r1, look)
        rect = open_.get(key)
        if rect is not None and rect[2] == c - 1:
            rect[2] = c
        else:
            rect = [c, r0, c, r1, look]
            open_[key] = rect
            out.append(rect)
    return [tuple(r) for r in out]


def _table_runs(ws, rows: TableRows, first: int) -> list[tuple[int, int, int, Look]]:
    """A table's data rows formatted a column at a time: each styled column's look
    over all of its rows (the empty cells too, as a run of _runs bridges them)."""
    last = first + len(rows) - 1
    out = []
    for _, col, style in rows.columns:
        look = style_look(ws, style)
        if look != Look():
            out.append((col, first, last, look))
    return out


#: How each attribute of a Look is set on an xlwings range (desktop Excel, and the
#: Office.js clients of xlwings Server and Lite: the only remote clients the ribbon serves,
#: as xlwings sets gridlines and alignments through Office.js only).
SETTERS = {
    "number_format": lambda rng, v: setattr(rng, "number_format", v),
    "bold": lambda rng, v: setattr(rng.font, "bold", v),
    "italic": lambda rng, v: setattr(rng.font, "italic", v),
    "size": lambda rng, v: setattr(rng.font, "size", v),
    "font_color": lambda rng, v: setattr(rng.font, "color", v),
    "fill": lambda rng, v: setattr(rng, "color", v),
    "wrap": lambda rng, v: setattr(rng, "wrap_text", v),
    "halign": lambda rng, v: setattr(rng, "horizontal_alignment", v),
    "valign": lambda rng, v: setattr(rng, "vertical_alignment", v),
}


def _attribute_rectangles(runs: Sequence[tuple[int, int, int, Look]]
                          ) -> list[tuple[str, object, tuple[int, int, int, int]]]:
    """The looks of RUNS as (attribute, value, (first column, first row, last column,
    last row)): each attribute over the largest rectangles of cells that share its
    value, whatever their other attributes (a header row is bold in one action even
    when its columns' number formats differ). Each is an action (the ribbon client commits
    a page of them with one Office.js sync)."""
    out = []
    for name in SETTERS:
        runs_of = [(c, r0, r1, getattr(look, name)) for c, r0, r1, look in runs if getattr(look, name) is not None]
        out += [(name, value, (c0, r0, c1, r1)) for c0, r0, c1, r1, value in _rectangles(_joined(runs_of))]
    return out


def table_values(rows: TableRows, first: int, remote: bool) -> tuple[list[list], list[tuple[int, int, str]]]:
    """The 2-D block of a table's data rows (from its first column) and its formulas
    (row, column, formula; sheets.Formula values, e.g. the Summary's counts), made a
    column at a time. Text is quote-escaped where Excel would not keep it as typed
    (workbook.safe_text). REMOTE:
    each value as xlwings' remote engine would send it (its prepare_xl_data_element:
    "" for an empty cell, a date as ISO text), so the block goes as it is (raw_value)."""
    from .workbook import python_values, safe_text

    c0 = rows.first_column
    width = rows.last_column - c0 + 1
    empty = "" if remote else None
    columns: list[list] = [[empty] * len(rows)] * width
    formulas: list[tuple[int, int, str]] = []
    for key, col, _ in rows.columns:
        series = rows.frame[key]
        if remote and pd.api.types.is_datetime64_any_dtype(series):
            columns[col - c0] = _iso_dates(series)
            continue
        values = python_values(series)
        if series.dtype.kind in "biuf":  # numbers and bools: only the gaps change
            if remote and None in values:
                values = [empty if v is None else v for v in values]
        elif set(map(type, values)) <= {str, type(None)}:  # texts: escaped as typed
            values = [empty if v is None else safe_text(v) for v in values]
        else:
            for i, v in enumerate(values):
                if isinstance(v, str) and type(v) is not str:  # sheets.Formula
                    formulas.append((first + i, col, str(v)))
                    v = None
                values[i] = _typed(v, remote)
        columns[col - c0] = values
    return [list(row) for row in zip(*columns)], formulas


def _typed(value: object, remote: bool) -> object:
    """VALUE as the open workbook gets it: text escaped, nothing as an empty cell;
    REMOTE: dates and other objects as xlwings' remote engine converts them."""
    from .workbook import safe_text

    if value is None:
        return "" if remote else None
    if type(value) is str:
        return safe_text(value)
    if not remote or type(value) in (int, float, bool):
        return value
    from xlwings.pro._xlremote import Engine

    return Engine.prepare_xl_data_element(value, {})


def _iso_dates(series: pd.Series) -> list[str]:
    """A datetime column as xlwings' remote engine sends dates: 2025-10-01, or with the
    time of day when it has one (2025-10-01 14:30:00); "" for none. Made by numpy for
    the whole column."""
    stamps = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
    when = stamps.to_numpy(dtype="datetime64[ns]")
    day = when.astype("datetime64[D]")
    out = np.datetime_as_string(day).astype(object)
    timed = (when != day) & ~np.isnat(when)
    if timed.any():
        out[timed] = np.char.replace(np.datetime_as_string(when[timed], unit="s"), "T", " ")
    out[np.isnat(when)] = ""
    return out.tolist()


def _formula_runs(formulas: list[tuple[int, int, str]]) -> Iterator[tuple[int, int, list[str]]]:
    """FORMULAS (row, column, formula) as runs down a column of adjacent cells:
    (column, first row, formulas), one action each instead of one per cell."""
    run: list[str] = []
    col = first = 0
    for r, c, formula in sorted(formulas, key=lambda f: (f[1], f[0])):
        if run and c == col and r == first + len(run):
            run.append(formula)
            continue
        if run:
            yield col, first, run
        col, first, run = c, r, [formula]
    if run:
        yield col, first, run


def _address(c0: int, r0: int, c1: int, r1: int) -> str:
    return f"{get_column_letter(c0)}{r0}:{get_column_letter(c1)}{r1}"


@dataclass
class LaidSheet:
    """A recorded sheet whose values are in the open book (ExcelWriter.content), with
    what its later phases still write: its formulas and the runs of its looks."""

    ws: RecordedSheet
    target: object  # the xlwings sheet
    formulas: list[tuple[int, int, str]]
    runs: list[tuple[int, int, int, Look]]
    width: int
    height: int


class ExcelWriter:
    """Renders recorded sheets into an open workbook through xlwings' API.

    Excel refuses a formula that names a table, sheet or defined name that does not
    exist yet (Office.js: InvalidArgument; COM: error 1004), and the Summary's formulas
    name the Customers table of another sheet. So a run writes in phases over all its
    sheets, structure before content: every sheet and its values (content), then every
    table (tables), then the formulas (formulas), then the looks, conditional formats,
    dropdowns, panes and charts (looks); the caller adds the defined names last
    (write_names: no formula of the sheets names them). `write` does the phases for one
    sheet."""

    def __init__(self, book, points: bool | None = None):
        self.book = book
        # Office.js sets column widths in points, desktop Excel in characters.
        self.points = self.remote if points is None else points

    def write(self, ws: RecordedSheet, target) -> None:
        """Everything SheetWriter put in WS, into the xlwings sheet TARGET (a sheet whose
        formulas name only its own tables)."""
        laid = self.content(ws, target)
        self.tables(laid)
        self.formulas(laid)
        self.looks(laid)

    def content(self, ws: RecordedSheet, target) -> LaidSheet:
        """Phase 1: the values of WS (template rows and tables' data rows) into TARGET."""
        formulas: list[tuple[int, int, str]] = []
        runs: list[tuple[int, int, int, Look]] = []
        width = height = 0
        for first, part in _parts(ws.rows):
            if isinstance(part, TableRows):
                block, found = table_values(part, first, self.remote)
                self.values(target, first, part.first_column, block, raw=True)
                formulas += found
                runs += _table_runs(ws, part, first)
                width = max(width, part.last_column)
            else:
                g = grid_of(part, first)
                self.values(target, first, 1, g.values)
                formulas += g.formulas
                runs += _runs(g.looks, g.values, first)
                width = max([width] + [len(r) for r in part])
            height = first + len(part) - 1
        return LaidSheet(ws, target, formulas, runs, width, height)

    @staticmethod
    def tables(laid: LaidSheet) -> None:
        """Phase 2: the sheet's tables, over the values content wrote (their header rows)."""
        for table in laid.ws.tables.values():
            style = table.tableStyleInfo.name if table.tableStyleInfo is not None else None
            laid.target.tables.add(source=laid.target.range(table.ref), name=table.displayName,
                                   table_style_name=style, has_headers=True)

    @staticmethod
    def formulas(laid: LaidSheet) -> None:
        """Phase 3: the sheet's formulas, once every sheet and table they may name exists."""
        for c, r0, column in _formula_runs(laid.formulas):
            laid.target.range(_address(c, r0, c, r0 + len(column) - 1)).formula = [[f] for f in column]

    def looks(self, laid: LaidSheet) -> None:
        """Phase 4: widths, heights, looks, merges, conditional formats, dropdowns,
        frozen panes, charts, gridlines and the print area."""
        ws, target = laid.ws, laid.target
        self._widths(target, ws)
        for r, dim in ws.row_dimensions.items():
            if dim.height:
                target.range(f"{r}:{r}").row_height = float(dim.height)
        for name, value, (c0, r0, c1, r1) in _attribute_rectangles(laid.runs):
            SETTERS[name](target.range(_address(c0, r0, c1, r1)), value)
        for merged in ws.merged_cells.ranges:
            target.range(merged.coord).merge()
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                self._conditional(target.range(str(cf.sqref)), rule)
        for rule in ws.data_validations.dataValidation:  # the call lists' Done / Outcome dropdowns
            self._dropdown(target, rule)
        if ws.freeze_panes:
            self._freeze(target, ws.freeze_panes)
        for chart in ws._charts:
            self._chart(target, ws, chart)
        if ws.sheet_view.showGridLines is False:
            target.show_gridlines = False
        if ws.print_title_rows or ws.page_setup.orientation == "landscape":
            self._print_area(target, ws, laid.width, laid.height)

    @property
    def remote(self) -> bool:
        """Excel through xlwings Server / Office.js (not desktop Excel over COM or AppleScript)."""
        return self.book.app.engine.name == "remote"

    @staticmethod
    def _print_area(target, ws, width: int, height: int) -> None:
        """The print area: every written cell (WIDTH columns, HEIGHT rows) and chart. Of
        the file's print setup (workbook._print_setup: landscape, one page wide, the
        header row on every page) xlwings' API for Office.js has only the print area;
        the rest is set by hand in Excel (README, "Printing")."""
        for chart in ws._charts:
            width, height = max(width, chart.anchor.to.col), max(height, chart.anchor.to.row)
        if width and height:
            target.page_setup.print_area = _address(1, 1, width, height)

    def values(self, target, row: int, col: int, values: list[list], raw: bool = False) -> None:
        """VALUES with their top left cell at (ROW, COL), in chunks of CHUNK_CELLS (one
        request to Excel on the web stays under 5 MB); an empty chunk of plain rows is
        left out. In Office.js the values go as xlwings' remote engine sends them (RAW: they
        are already, see table_values; else each is typed here), by address and past
        xlwings' conversion (Range.raw_value): one pass over the cells, not three."""
        remote = self.remote
        width = max((len(r) for r in values), default=0)
        step = max(1, CHUNK_CELLS // max(width, 1))
        for start in range(0, len(values), step):
            chunk = values[start:start + step]
            if not raw and not any(v is not None and v != "" for r in chunk for v in r):
                continue  # the empty rows of a template part (a table's rows are never left out)
            if not remote:
                target.range((row + start, col)).value = chunk
                continue
            if not raw:
                chunk = [[_typed(v, True) for v in r] + [""] * (width - len(r)) for r in chunk]
            # by address: xlwings' remote Range from two cells copies the whole sheet's values
            target.range(_address(col, row + start, col + width - 1, row + start + len(chunk) - 1)).raw_value = chunk

    def _widths(self, target, ws) -> None:
        """The column widths, adjacent columns of one width in one action."""
        widths = sorted((column_index_from_string(letter), float(dim.width))
                        for letter, dim in ws.column_dimensions.items() if dim.width)
        groups: list[list] = []
        for c, width in widths:
            if groups and groups[-1][1] == c - 1 and groups[-1][2] == width:
                groups[-1][1] = c
            else:
                groups.append([c, c, width])
        for c0, c1, width in groups:
            target.range(f"{get_column_letter(c0)}:{get_column_letter(c1)}").column_width = \
                round(width * 7 * 0.75 + 3.75, 2) if self.points else width

    @staticmethod
    def _conditional(rng, rule) -> None:
        if rule.type != "expression" or not rule.formula:
            return
        formula = "=" + rule.formula[0]
        spec: dict = {}
        dxf = rule.dxf
        if dxf is not None:
            if dxf.font is not None and _rgb(dxf.font.color):
                spec["font_color"] = _rgb(dxf.font.color)
            if dxf.font is not None and dxf.font.b:
                spec["font_bold"] = True
            if dxf.fill is not None:
                color = _rgb(dxf.fill.fgColor) or _rgb(dxf.fill.bgColor)
                if color:
                    spec["fill_color"] = color
        rng.conditional_formats.add_custom(formula, **spec)

    @staticmethod
    def _dropdown(target, rule) -> None:
        """A list validation ("a,b,c") as xlwings' Range.data_validation.set_list. Only
        xlwings' Office.js client and desktop Excel have it; elsewhere the cells stay
        free text (a dropdown is a convenience, the column is still there)."""
        choices = [c for c in (rule.formula1 or "").strip('"').split(",") if c]
        if rule.type != "list" or not choices:
            return
        for ref in str(rule.sqref).split():
            try:
                target.range(ref).data_validation.set_list(choices, in_cell_dropdown=True)
            except NotImplementedError:
                return

    @staticmethod
    def _freeze(target, top_left: str) -> None:
        c, r, _, _ = range_boundaries(top_left)
        if c > 1 and r > 1:
            target.freeze_panes.freeze_at(_address(1, 1, c - 1, r - 1))
        elif r > 1:
            target.freeze_panes.freeze_at(f"1:{r - 1}")
        elif c > 1:
            target.freeze_panes.freeze_at(f"A:{get_column_letter(c - 1)}")

    def _chart(self, target, ws, chart) -> None:
        kind = CHART_TYPES.get(chart.tagname)
        refs = [(s.cat or s.xVal, s.val or s.yVal) for s in chart.series]
        if kind is None or not refs:
            return
        xs, _ = refs[0]
        x_ref = _ref(xs.numRef.f if xs.numRef is not None else xs.strRef.f)
        y_refs = [_ref(y.numRef.f) for _, y in refs]
        c0, r0, _, r1 = range_boundaries(x_ref)
        # The source: categories and series with their header row (series names).
        cols = [c0] + [range_boundaries(y)[0] for y in y_refs]
        anchor = chart.anchor
        frm = anchor._from
        width = sum(float(ws.column_dimensions[get_column_letter(c)].width or 8.43) * 7 * 0.75
                    for c in range(frm.col + 1, anchor.to.col + 1))
        height = (anchor.to.row - frm.row) * 15.0
        obj = target.charts.add(0, 0, max(width, 200.0), max(height, 120.0), chart_type=kind,
                                anchor=target.range((frm.row + 1, frm.col + 1)), name=chart_name(chart))
        if cols == list(range(cols[0], cols[0] + len(cols))):
            obj.set_source_data(target.range(_address(cols[0], r0 - 1, cols[-1], r1)), plot_by="columns")
        else:  # categories and series apart: the series, then their categories
            ys = [range_boundaries(y)[0] for y in y_refs]
            obj.set_source_data(target.range(_address(min(ys), r0 - 1, max(ys), r1)), plot_by="columns")
            obj.set_x_axis_values(target.range(_address(c0, r0, c0, r1)))


def chart_name(chart) -> str | None:
    title = chart.title
    try:
        return "".join(run.t for p in title.tx.rich.p for run in (p.r or [])) or None
    except AttributeError:
        return None


def _ref(formula: str) -> str:
    """'Summary'!$B$5:$B$9 → B5:B9."""
    return formula.split("!")[-1].replace("$", "")


def write_names(book, laid_out, lang: str = "en") -> tuple[str, ...]:
    """The workbook-level defined names of the laid-out openpyxl book LAID_OUT (the
    LAMBDA names of workbook.add_lookup_names) into the open xlwings BOOK, as Excel
    takes a formula (lookups.typed_formula). A name of the same name is replaced: after
    a rerun its sheet was deleted and rewritten, so Excel shows #REF! in the old one.

    A name Excel refuses (an Excel without LAMBDA: 2019, 2021) never stops the run:
    desktop Excel refuses it at once (a COM error), and it is returned among the names
    skipped; Office.js refuses it only when the ribbon client syncs, so each namesAdd
    action carries `instead`, what the task pane says to type in its place
    (lookups.name_instead), and `refused`, the message before those lines
    (lookups.NAMES_REFUSED), and the client reports the names Excel refused."""
    from .lookups import NAMES_REFUSED, name_instead, typed_formula

    wanted = {name: typed_formula(defined.attr_text) for name, defined in laid_out.defined_names.items()}
    for existing in list(book.names):
        if existing.name in wanted:
            existing.delete()
    actions = book.json()["actions"] if book.app.engine.name == "remote" else None
    skipped = []
    for name, formula in wanted.items():
        try:
            book.names.add(name, formula)
        except Exception:  # noqa: BLE001 - desktop Excel before LAMBDA refuses it (COM error 1004)
            skipped.append(name)
            continue
        if actions and actions[-1]["func"] == "namesAdd":
            actions[-1].update(instead=name_instead(name, lang), refused=NAMES_REFUSED)
    return tuple(skipped)


def record_sheets(book) -> list[RecordedSheet]:
    return [ws for ws in book._sheets if isinstance(ws, RecordedSheet)]
