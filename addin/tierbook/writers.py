"""The two writers of the output workbook: a file, or the workbook open in Excel.

The layout of every sheet is made once, by workbook.SheetWriter, from the sheet
descriptions of sheets.py and the templates: rows of values and styled cells, column
widths, freeze panes, merged cells, tables, conditional formats and charts, in
openpyxl's worksheet model. The file writer streams that model into an .xlsx (openpyxl
write-only mode). The open-workbook writer keeps the model in memory (RecordedSheet)
and renders it through xlwings' API (xlwings Server / Office.js or desktop Excel):
values, formulas, number formats, fonts and fills, widths, tables, conditional
formats, freeze panes and charts, so that a ribbon run gives the workbook the
command line writes, without a temporary file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: Cells per setValues action: one request to Excel on the web must stay under 5 MB.
CHUNK_CELLS = 100_000
FORMULA_STARTS = ("=", "+", "-", "@")
#: The xlwings chart type of each openpyxl chart tag.
CHART_TYPES = {"barChart": "column_clustered", "lineChart": "line", "scatterChart": "xy_scatter_lines_no_markers"}


class RecordedSheet(WriteOnlyWorksheet):
    """A write-only worksheet that keeps its rows in memory instead of streaming them
    into a file: the layout SheetWriter made, for a writer that renders it elsewhere."""

    def __init__(self, parent, title: str):
        super().__init__(parent, title)
        self.rows: list[list] = []

    def append(self, row) -> None:  # noqa: D102 - as WriteOnlyWorksheet.append
        self.rows.append(list(row))

    def close(self) -> None:  # nothing was streamed
        pass


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
                     ("left", "center", "right") else None)
        _LOOKS[key] = found
    return found


@dataclass
class Grid:
    """A recorded sheet as plain data: values (text quote-escaped as typed), formulas by
    cell, and looks by cell."""

    values: list[list]
    formulas: list[tuple[int, int, str]] = field(default_factory=list)  # (row, column, formula), 1-based
    looks: dict[tuple[int, int], Look] = field(default_factory=dict)


def grid_of(ws: RecordedSheet) -> Grid:
    """Values, formulas and looks of the rows SheetWriter appended to WS."""
    width = max((len(r) for r in ws.rows), default=0)
    values: list[list] = []
    formulas: list[tuple[int, int, str]] = []
    looks: dict[tuple[int, int], Look] = {}
    for r, row in enumerate(ws.rows, 1):
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
                if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or item.quotePrefix):
                    value = "'" + value
            else:
                value = item
                if isinstance(value, str) and value.startswith("="):
                    formulas.append((r, c, value))
                    continue
                if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                    value = "'" + value
            out[c - 1] = value
        values.append(out)
    return Grid(values, formulas, looks)


def _runs(cells: dict[tuple[int, int], Look], values: list[list] | None = None
          ) -> Iterator[tuple[int, int, int, Look]]:
    """Runs down each column of cells with the same look: (column, first row, last row,
    look). A run bridges empty cells without a style (an empty date in a column of
    dates gets the column's format too, as a typed value would need)."""
    def bridged(c: int, after: int, before: int) -> bool:
        if values is None:
            return False
        return all(c > len(values[r - 1]) or values[r - 1][c - 1] is None for r in range(after + 1, before))
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


def _rectangles(cells: dict[tuple[int, int], Look], values: list[list] | None = None
                ) -> list[tuple[int, int, int, int, Look]]:
    """The column runs of _runs joined across adjacent columns with the same rows and
    look: (first column, first row, last column, last row, look), one action each."""
    out: list[list] = []
    open_: dict[tuple[int, int, Look], list] = {}
    for c, r0, r1, look in _runs(cells, values):
        key = (r0, r1, look)
        rect = open_.get(key)
        if rect is not None and rect[2] == c - 1:
            rect[2] = c
        else:
            rect = [c, r0, c, r1, look]
            open_[key] = rect
            out.append(rect)
    return [tuple(r) for r in out]


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


class ExcelWriter:
    """Renders recorded sheets into an open workbook through xlwings' API."""

    def __init__(self, book, points: bool | None = None):
        self.book = book
        # Office.js sets column widths in points, desktop Excel in characters.
        self.points = (book.app.engine.name == "remote") if points is None else points

    def write(self, ws: RecordedSheet, target) -> None:
        """Everything SheetWriter put in WS, into the xlwings sheet TARGET."""
        g = grid_of(ws)
        self._values(target, g.values)
        self._widths(target, ws)
        for r, dim in ws.row_dimensions.items():
            if dim.height:
                target.range(f"{r}:{r}").row_height = float(dim.height)
        for c0, r0, c1, r1, look in _rectangles(g.looks, g.values):
            self._look(target.range(_address(c0, r0, c1, r1)), look)
        for merged in ws.merged_cells.ranges:
            target.range(merged.coord).merge()
        for table in ws.tables.values():
            style = table.tableStyleInfo.name if table.tableStyleInfo is not None else None
            target.tables.add(source=target.range(table.ref), name=table.displayName, table_style_name=style,
                              has_headers=True)
        for c, r0, column in _formula_runs(g.formulas):  # after the tables: formulas name them
            target.range((r0, c), (r0 + len(column) - 1, c)).formula = [[f] for f in column]
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
            self._print_area(target, ws, g.values)

    @staticmethod
    def _print_area(target, ws, values: list[list]) -> None:
        """The print area: every written cell and chart. Of the file's print setup
        (workbook._print_setup: landscape, one page wide, the header row on every page)
        xlwings' API for Office.js has only the print area; the rest is set by hand in
        Excel (README, "Printing")."""
        width = max((len(r) for r in values), default=0)
        height = len(values)
        for chart in ws._charts:
            width, height = max(width, chart.anchor.to.col), max(height, chart.anchor.to.row)
        if width and height:
            target.page_setup.print_area = _address(1, 1, width, height)

    def _values(self, target, values: list[list]) -> None:
        if not values or not any(v is not None for row in values for v in row):
            return
        width = max(len(values[0]), 1)
        step = max(1, CHUNK_CELLS // width)
        for start in range(0, len(values), step):
            block = values[start:start + step]
            if any(v is not None for row in block for v in row):
                target.range((start + 1, 1)).value = block

    def _widths(self, target, ws) -> None:
        for letter, dim in ws.column_dimensions.items():
            if dim.width:
                width = float(dim.width)
                target.range(f"{letter}:{letter}").column_width = round(width * 7 * 0.75 + 3.75, 2) \
                    if self.points else width

    @staticmethod
    def _look(rng, look: Look) -> None:
        if look.number_format:
            rng.number_format = look.number_format
        if look.bold:
            rng.font.bold = True
        if look.italic:
            rng.font.italic = True
        if look.size:
            rng.font.size = look.size
        if look.font_color:
            rng.font.color = look.font_color
        if look.fill:
            rng.color = look.fill
        if look.wrap:
            rng.wrap_text = True

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


def write_names(book, laid_out) -> list[str]:
    """The workbook-level defined names of the laid-out openpyxl book LAID_OUT (the
    LAMBDA names of workbook.add_lookup_names) into the open xlwings BOOK, as Excel
    takes a formula (lookups.typed_formula). A name of the same name is replaced: after
    a rerun its sheet was deleted and rewritten, so Excel shows #REF! in the old one.
    Returns the names written (a name the Excel refuses is left out)."""
    from .lookups import typed_formula

    wanted = {name: typed_formula(defined.attr_text) for name, defined in laid_out.defined_names.items()}
    for existing in list(book.names):
        if existing.name in wanted:
            existing.delete()
    written = []
    for name, formula in wanted.items():
        try:
            book.names.add(name, formula)
        except Exception:  # noqa: BLE001 - a desktop Excel before LAMBDA may refuse one (COM error): the
            continue       # run's sheets stand, and the README's plain lookup formula works there
        written.append(name)
    return written


def record_sheets(book) -> list[RecordedSheet]:
    return [ws for ws in book._sheets if isinstance(ws, RecordedSheet)]


def write_into_book(book, sheets: Sequence[RecordedSheet], add_sheet) -> list[str]:
    """Render SHEETS into the open xlwings BOOK; ADD_SHEET(title) → the new xlwings sheet."""
    writer = ExcelWriter(book)
    titles = []
    for ws in sheets:
        writer.write(ws, add_sheet(ws.title))
        titles.append(ws.title)
    return titles


def python_value(value: object) -> object:
    """A value as the open workbook gets it (datetimes as they are; xlwings converts)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value
