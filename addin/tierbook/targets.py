"""Where a job's transactions come from and where its workbook goes.

A job of tierbook.jobs (segment, reactivation plan, reactivation results, split) is
written once and works on

- a *source* of transactions: `read(progress) → Transactions` (the clean transactions,
  their input issues, the settings and the language to use), with `name` and `lang`
  known before reading. ExportFile is a sales export (`tierbook segment`), TierbookFile
  a workbook tierbook wrote, read back from its copy of the user's sheet (`tierbook
  reactivation ...`), BookTarget the open workbook's own rows (the ribbon);
- a *target*, one small interface:
    check()                      refuse before any work (a file holding the user's sheets)
    earlier_plan(lang)           the reactivation plan the target holds, or None
    contact_log(lang, variants)  the Contact log sheet, cleaned: (log, issues, sheet name)
    no_plan()                    the error for a target without a plan
    unusable(issues, source)     the error when no row can be used (a file still gets them)
    write(layout)                the laid-out workbook, keeping what is the user's
  FileTarget writes a file atomically, carries the Mailing and Contact log sheets and
  the plan over, and refuses to lose sheets tierbook did not write unless --force.
  BookTarget writes into the open workbook through writers.ExcelWriter: it replaces
  only the sheets tierbook wrote before, keeps the settings sheet, writes the Segment
  column it marked (the defined name tierbook_segment) and never a user's sheet or cell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from . import labels
from .schema import InputError
from .segment import Segmentation
from .settings import Settings

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class Transactions:
    """What a source read: the clean transactions (index: the row in the user's sheet),
    the input issues, and the settings and language of the run. COPY: (file, sheet)
    whose copy a file gets with a Segment column (None: no copy, the open book has the
    sheet itself); COPY_HAS_SEGMENT: that sheet's last column is an earlier Segment column."""

    tx: pd.DataFrame
    issues: pd.DataFrame
    settings: Settings
    lang: str
    copy: tuple[Path, str | None] | None = None
    copy_has_segment: bool = False


@dataclass(frozen=True)
class Layout:
    """What a job asks a target to write: the classification RESULT of DATA, the EXTRA
    sheets (reactivation plan and results), the problems of the contact log (shown in
    Input issues too), whether the workbook must have a Contact log sheet, and the
    sheet to show afterwards (a key of labels.SHEETS)."""

    result: Segmentation
    data: Transactions
    extra: Sequence = ()
    log_issues: pd.DataFrame | None = None
    contact_log: bool = False
    show: str = "summary"

    @property
    def written(self) -> Segmentation:
        """RESULT with the contact log's problems among its input issues."""
        if self.log_issues is None or not len(self.log_issues):
            return self.result
        return replace(self.result, issues=pd.concat([self.result.issues, self.log_issues], ignore_index=True))

    def history(self) -> pd.DataFrame:
        from .movement import tier_history

        return tier_history(self.data.tx, self.result.settings)


# --------------------------------------------------------------------------- plans kept in a workbook


@dataclass(frozen=True)
class Plan:
    assignments: pd.DataFrame  # reactivation.PLAN_COLUMNS
    seed: int
    variants: int


#: The seed line of a Reactivation sheet, either language ("seed: 7", "зерно: 7").
SEED_LINE = re.compile(r"(?:seed|зерно):\s*(\d+)")


def _read_plan(rows: list[tuple], lang: str, meta: dict[str, str]) -> Plan | None:
    """The assignments and seed of the Reactivation sheet (its rows of values)."""
    from .reactivation import PLAN_COLUMNS, VARIANTS

    seed = None
    keys = {labels.header(k, l).casefold(): k for l in labels.LANGS
            for k in ("customer", "variant", "stratum", "manager", "channel", "contact_time", "email", "phone",
                      "planned_on", "customers", "message")}
    header_at, columns = None, {}
    for i, row in enumerate(rows):
        texts = [str(v).strip() if v is not None else "" for v in row]
        if seed is None:
            found = next((SEED_LINE.search(t) for t in texts if SEED_LINE.search(t)), None)
            if found:
                seed = int(found.group(1))
        named = {keys.get(t.casefold()): j for j, t in enumerate(texts) if keys.get(t.casefold())}
        if "customer" in named and "variant" in named and "planned_on" in named:
            header_at, columns = i, named
            break
    if header_at is None or seed is None:
        return None
    data = []
    for row in rows[header_at + 1:]:
        if not row or columns["customer"] >= len(row) or row[columns["customer"]] in (None, ""):
            break
        data.append({k: (row[j] if j < len(row) else None) for k, j in columns.items()})
    frame = pd.DataFrame(data, columns=list(columns))
    for column in PLAN_COLUMNS:
        if column not in frame:
            frame[column] = ""
    frame["customer"] = frame["customer"].map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer()
                                              else str(v).strip())
    frame["planned_on"] = pd.to_datetime(frame["planned_on"]).astype("datetime64[ns]")
    for column in ("stratum", "manager", "channel", "contact_time", "email", "phone"):
        # an empty cell is "" (pandas 3 reads a text column's None as NaN, which is not "nan")
        frame[column] = frame[column].map(lambda v: "" if v is None or v != v else str(v)).astype(object)
    # the sheet shows them in LANG; the plan keeps the codes (the strata balance the variants)
    frame["stratum"] = frame["stratum"].map(lambda v: labels.stratum_code(v, lang)).astype(object)
    frame["channel"] = frame["channel"].map(lambda v: labels.code("channel", v, lang)).astype(object)
    used = sorted(set(frame["variant"].astype(str)))
    variants = max([VARIANTS.index(v) + 1 for v in used if v in VARIANTS] + [int(meta.get("variants", 0) or 0), 1])
    count = _variant_count(rows, header_at)
    return Plan(frame[PLAN_COLUMNS].reset_index(drop=True), seed, max(variants, count))


def _variant_count(rows: list[tuple], until: int) -> int:
    """How many variants the plan's variant table lists (the rows above the plan)."""
    from .reactivation import VARIANTS

    count = 0
    for row in rows[:until]:
        first = next((v for v in row if v is not None), None)
        if isinstance(first, str) and first in VARIANTS:
            count = max(count, VARIANTS.index(first) + 1)
    return count


def plan_sheet(plan: Plan, lang: str):
    """The Reactivation sheet (sheets.reactivation_sheet) of PLAN."""
    from .sheets import load_texts, reactivation_sheet

    return reactivation_sheet(plan.assignments, plan.seed, plan.variants, lang, load_texts(lang))


# --------------------------------------------------------------------------- files


class ExportFile:
    """A sales export (.xlsx, .xlsm, .csv, .parquet): the source of `tierbook segment`."""

    def __init__(self, path: str | Path, sheet: str | None = None, settings: Settings | None = None,
                 lang: str = "en"):
        self.path, self.sheet = Path(path), sheet
        self.settings, self.lang = settings or Settings(), lang
        self.name = self.path.name

    def read(self, progress: Progress = _quiet) -> Transactions:
        from .read import read_transactions

        progress(f"reading {self.path}")
        tx, issues = read_transactions(self.path, sheet=self.sheet)
        return Transactions(tx, issues, self.settings, self.lang, copy=(self.path, self.sheet))


class TierbookFile:
    """A workbook tierbook wrote, as a source: its transactions come from its copy of
    the user's sheet, its settings and language from its properties, so that it can be
    written again from itself (the reactivation commands)."""

    def __init__(self, path: str | Path):
        from .workbook import workbook_properties

        path = Path(path)
        if not path.is_file():
            raise InputError(f"File not found: {path}")
        try:
            meta = workbook_properties(path)
        except Exception as e:  # noqa: BLE001 - not a workbook
            raise InputError(f"Cannot read {path.name} as a workbook: {e}") from None
        if "settings" not in meta or "source_sheet" not in meta:
            raise InputError(f"{path.name} was not written by tierbook segment (or demo) of this version: write it "
                             f"again with tierbook segment, then plan")
        self.path, self.name = path, path.name
        self.settings = Settings(**json.loads(meta["settings"]))
        self.lang = labels.check_lang(meta.get("lang", "en"))
        self.source_sheet = meta["source_sheet"]

    def read(self, progress: Progress = _quiet) -> Transactions:
        from .read import read_transactions

        tx, issues = read_transactions(self.path, sheet=self.source_sheet)
        if len(issues):  # the copy's Segment column is ours, not a column of the user's data
            issues = issues[~issues["column"].astype(str).isin(
                [labels.header("segment", l) for l in labels.LANGS])].reset_index(drop=True)
        return Transactions(tx, issues, self.settings, self.lang, copy=(self.path, self.source_sheet),
                            copy_has_segment=True)


def foreign_sheets(out: str | Path) -> list[str] | None:
    """The sheets of the existing workbook OUT that tierbook did not write and a rewrite
    would lose (the Mailing and Contact log sheets are carried over, so they are not
    among them); None when OUT is not a workbook at all; [] when OUT does not exist."""
    from .mail import mailing_sheet_title
    from .workbook import sheet_names, workbook_properties

    out = Path(out)
    if not out.exists():
        return []
    try:
        meta = workbook_properties(out)
        names = sheet_names(out)
    except Exception:  # noqa: BLE001 - not a workbook: the user's file, whatever it is
        return None
    if "sheets" in meta:
        ours = set(json.loads(meta["sheets"]))
    elif "settings" in meta or "lang" in meta:  # written by an earlier version: its sheet titles
        ours = {t for lang in labels.LANGS for t in labels.SHEETS[lang].values()} | {meta.get("source_sheet")}
    else:
        ours = set()
    kept = {mailing_sheet_title(names)} | {labels.sheet_title("contact_log", lang) for lang in labels.LANGS}
    return [n for n in names if n not in ours and n not in kept]


def check_replaceable(out: str | Path, force: bool = False) -> None:
    """Refuse to write over OUT when that would lose sheets tierbook did not write
    (issue 10.2), naming them; FORCE replaces it anyway."""
    if force:
        return
    foreign = foreign_sheets(out)
    name = Path(out).name
    if foreign is None:
        raise InputError(f"{name} exists and is not a workbook tierbook can read: it would be replaced; write to "
                         f"another file, or add --force to replace it")
    if foreign:
        listed = ", ".join(f'"{t}"' for t in foreign)
        raise InputError(f"{name} has sheets tierbook did not write, which would be lost: {listed}; move them to "
                         f"another workbook or write to another file, or add --force to replace them")


def user_sheets(path: Path, lang: str, meta: dict[str, str]) -> tuple[list[str], Plan | None, list]:
    """What the user keeps in a tierbook workbook and a rewrite must carry over: its
    sheet names, the reactivation plan, and the Mailing and Contact log sheets as rows."""
    from openpyxl import load_workbook

    from .mail import mailing_sheet_title

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        names = list(book.sheetnames)
        plan = None
        title = labels.sheet_title("reactivation", lang)
        if title in names:
            plan = _read_plan(list(book[title].iter_rows(values_only=True)), lang, meta)
        kept = []
        for title in (mailing_sheet_title(names), labels.sheet_title("contact_log", lang)):
            if title and title in names:
                rows = [list(r) for r in book[title].iter_rows(values_only=True)]
                while rows and all(v is None for v in rows[-1]):
                    rows.pop()
                kept.append((title, rows))
    finally:
        book.close()
    return names, plan, kept


class FileTarget:
    """The workbook file OUT: replaced atomically; what the user keeps in an earlier
    tierbook workbook there (the plan, the Mailing and Contact log sheets) is carried
    over; a workbook with sheets tierbook did not write is refused unless FORCE."""

    def __init__(self, out: str | Path, force: bool = False):
        self.out, self.force = Path(out), force
        self.name = self.out.name
        self.where = self.out
        self._user: dict[str, tuple[list[str], Plan | None, list]] = {}
        self._call_lists: tuple[dict[str, pd.DataFrame], dict[str, list[str]]] | None = None

    def check(self) -> None:
        """Refuse (unless FORCE) an OUT whose rewrite would lose sheets tierbook did not
        write (check_replaceable) or columns a manager added to its call lists."""
        from .worklist import added_columns_message

        check_replaceable(self.out, self.force)
        added = {} if self.force else self._read_call_lists()[1]
        if added:
            raise InputError(f"{self.name}: " + added_columns_message(
                added, "move them to another sheet or workbook, or write to another file, or add --force to replace "
                       "them"))

    def worklog(self) -> dict[str, pd.DataFrame]:
        """The Done / Outcome / Note a manager typed on the call lists of an earlier OUT
        (worklist.read_call_lists, read once for check and write)."""
        return self._read_call_lists()[0]

    def _read_call_lists(self) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
        if self._call_lists is None:
            from .worklist import read_call_lists

            self._call_lists = read_call_lists(self.out)
        return self._call_lists

    def _user_work(self, lang: str) -> tuple[list[str], Plan | None, list]:
        """(sheet names, plan, kept sheets) of an earlier tierbook workbook OUT in LANG;
        nothing when OUT is not one (it is simply replaced), read once."""
        if lang not in self._user:
            from .workbook import workbook_properties

            try:
                meta = workbook_properties(self.out) if self.out.is_file() else None
            except Exception:  # noqa: BLE001 - not a workbook of ours: it is simply replaced
                meta = None
            found = ([], None, []) if not meta or meta.get("lang", "en") != lang else user_sheets(self.out, lang, meta)
            self._user[lang] = found
        return self._user[lang]

    def earlier_plan(self, lang: str) -> Plan | None:
        return self._user_work(lang)[1]

    def no_plan(self) -> Exception:
        return InputError(f"{self.name} has no reactivation plan yet: run tierbook reactivation plan first")

    def contact_log(self, lang: str, variants: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        from .read import clean_contact_log, load_sheet

        title = labels.sheet_title("contact_log", lang)
        if title not in self._user_work(lang)[0]:
            raise InputError(f'{self.name} has no sheet "{title}": plan the test first, then record the '
                             f"contacts there")
        raw, sheet, first_row, _ = load_sheet(self.out, title)
        log, issues = clean_contact_log(raw, sheet, first_row, variants=variants)
        return log, issues, title

    def unusable(self, issues: pd.DataFrame, source: str, lang: str) -> Exception:
        """OUT with just the Input issues sheet: when no row can be used, the user still
        gets the list of what is wrong with each; the error that ends the run."""
        from .sheets import issues_sheet, load_texts
        from .workbook import write_sheets

        content = issues_sheet(issues, lang)
        write_sheets([content], self.out, load_texts(lang),
                     properties={"lang": lang, "sheets": json.dumps([content.title])})
        return InputError(f"no usable transactions in {source}: all its rows have problems; {len(issues):,} "
                          f'are listed in the sheet "{content.title}" of {self.out}')

    def kept_sheets(self, lang: str, contact_log: bool = False) -> list[tuple[str, list[list]]]:
        """The user's sheets of an earlier tierbook workbook OUT (Mailing, Contact log) to
        write again as they are; with CONTACT_LOG an empty Contact log when there is none."""
        from .sheets import contact_log_headers

        kept = list(self._user_work(lang)[2])
        title = labels.sheet_title("contact_log", lang)
        if contact_log and all(t != title for t, _ in kept):
            kept.append((title, [contact_log_headers(lang)]))
        return kept

    def write(self, layout: Layout) -> Path:
        from .workbook import write_workbook

        lang = layout.data.lang
        return write_workbook(layout.written, self.out, lang=lang, tx=layout.data.tx, source=layout.data.copy,
                              history=layout.history(), extra=layout.extra,
                              kept=self.kept_sheets(lang, layout.contact_log),
                              source_has_segment=layout.data.copy_has_segment, worklog=self.worklog())


# --------------------------------------------------------------------------- the open workbook


class BookTarget:
    """The workbook open in Excel (an xlwings Book), as source and target: its rows are
    the transactions (the first sheet tierbook did not write, or the one the settings
    sheet names), its settings sheet gives the settings and language. Writing replaces
    only the sheets an earlier run wrote (named in the settings sheet), keeps the
    settings sheet last, writes the Segment column marked by the defined name
    tierbook_segment, and never a sheet or cell of the user's."""

    def __init__(self, book):
        from . import excel

        self.book = book
        self.values = excel.read_book_settings(book)
        self.lang = self.values.lang
        self.name = book.name
        self.where = book.name
        self._read = None  # (sheet, header row, Segment column, its header, rows)
        self.run = None  # the excel.BookRun of the last write

    # ---- the source

    def read(self, progress: Progress = _quiet) -> Transactions:
        from . import excel

        sheet, tx, issues, header_row, seg_col, seg_header, n_rows = excel._read_data(
            self.book, self.values, set(labels.SHEETS[self.lang].values()))
        self._read = (sheet, header_row, seg_col, seg_header, n_rows)
        return Transactions(tx, issues, self.values.settings, self.lang)

    # ---- the target

    def check(self) -> None:
        """Nothing to refuse up front: a user's sheet with a generated title stops the write."""

    def unusable(self, issues: pd.DataFrame, source: str, lang: str) -> Exception | None:
        """None: the open book is classified as it is (the engine says what is missing)."""
        return None

    def earlier_plan(self, lang: str) -> Plan | None:
        """The reactivation plan of the book's Reactivation sheet (None without one)."""
        from .excel import _find

        sheet = _find(self.book, labels.sheet_title("reactivation", lang))
        if sheet is None:
            return None
        rows = sheet.used_range.options(ndim=2).value
        top = sheet.used_range.row
        return _read_plan([()] * (top - 1) + [tuple(r) for r in rows], lang, {})

    def no_plan(self) -> Exception:
        from .excel import TierbookExcelError

        return TierbookExcelError('tierbook: this workbook has no reactivation plan yet: click "Plan reactivation" '
                                  "first")

    def contact_log(self, lang: str, variants: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        from .excel import TierbookExcelError, _find, raw_frame
        from .read import clean_contact_log

        title = labels.sheet_title("contact_log", lang)
        sheet = _find(self.book, title)
        if sheet is None:
            raise TierbookExcelError(f'tierbook: this workbook has no sheet "{title}"')
        used = sheet.used_range
        log, issues = clean_contact_log(raw_frame(used.options(ndim=2).value), sheet.name, first_row=used.row + 1,
                                        variants=variants)
        return log, issues, sheet.name

    def write(self, layout: Layout):
        """The laid-out sheets into the book, the Segment column beside the user's rows,
        the settings sheet; returns (and keeps as .run) the excel.BookRun."""
        from .excel import SETTINGS_SHEET, BookRun, BookSettings, _find, _safe, write_settings_sheet
        from .sheets import contact_log_headers, row_segments
        from .workbook import build_workbook
        from .writers import ExcelWriter, record_sheets, write_names

        if self._read is None:
            raise RuntimeError("BookTarget.write before read: the Segment column's place is not known")
        sheet, header_row, seg_col, seg_header, n_rows = self._read
        result, tx, lang = layout.result, layout.data.tx, layout.data.lang
        laid_out = build_workbook(layout.written, lang=lang, history=layout.history(), extra=layout.extra,
                                  record=True, worklog=self.worklog())  # a manager's Done / Outcome / Note
        # Structure before content (writers.ExcelWriter): every sheet with its values, then
        # the tables, then the formulas that name them, then the looks, then the names.
        writer = ExcelWriter(self.book)
        laid = self._replace_sheets(record_sheets(laid_out), self.values.generated,
                                    protected={sheet.name, SETTINGS_SHEET}, writer=writer)
        generated = tuple(part.ws.title for part in laid)

        # The Segment column: the header, then one value per row of the used range.
        segments = row_segments(result, tx, lang).reindex(range(header_row + 1, header_row + n_rows), fill_value="")
        safe = {label: _safe(label) for label in segments.unique()}
        column = [[seg_header]] + [[safe[label]] for label in segments.tolist()]
        writer.values(sheet, header_row, seg_col, column)

        values = BookSettings(result.settings, lang, self.values.sheet, self.values.folder, generated)
        write_settings_sheet(self.book, values)
        if layout.contact_log and _find(self.book, labels.sheet_title("contact_log", lang)) is None:
            log = self.book.sheets.add(name=labels.sheet_title("contact_log", lang),
                                       after=self.book.sheets[len(self.book.sheets) - 1])
            log.range((1, 1)).value = [contact_log_headers(lang)]
        for part in laid:
            writer.tables(part)
        for part in laid:
            writer.formulas(part)
        for part in laid:
            writer.looks(part)
        shown = _find(self.book, labels.sheet_title(layout.show, lang))
        if shown is not None:
            shown.activate()
        # The names last: no formula of the sheets names them, and an Excel without LAMBDA
        # refuses them (Office.js: at the client's next sync) after everything else stands.
        self._mark_segment_column(sheet, header_row, seg_col)
        skipped = write_names(self.book, laid_out, lang)  # =SEGMENT(A2) and friends: lookups into the new Customers table
        self.values = values
        self.run = BookRun(result, tx, sheet.name, seg_col, generated, values, layout.data.issues, skipped)
        return self.run

    def worklog(self) -> dict[str, pd.DataFrame]:
        """The Done / Outcome / Note a manager typed on the call lists an earlier run
        wrote into the book (worklist.worklog_from_rows, as read_worklog reads a file):
        the new call lists carry them over by customer; with the Contact log (the user's
        sheet, only read) they give Last contact. The scripts read these sheets
        (excel.EXCLUDE leaves them in the request)."""
        from .excel import TierbookExcelError, _find
        from .worklist import added_columns, added_columns_message, call_list_titles, worklog_from_rows

        lists = call_list_titles()
        titles = [t for t in self.values.generated if t in lists] + [labels.sheet_title("contact_log", self.lang)]
        sheets = []
        for title in titles:
            sheet = _find(self.book, title)
            if sheet is not None:
                sheets.append((title, sheet.used_range.options(ndim=2).value))
        added = added_columns(sheets)
        if added:  # nothing is changed yet: the new lists are written after this
            raise TierbookExcelError(added_columns_message(added, "move them to another sheet, then click again"))
        return worklog_from_rows(sheets)

    def _mark_segment_column(self, sheet, row: int, col: int) -> None:
        """Name the Segment column's header cell SEGMENT_NAME: the next run recognises it."""
        from openpyxl.utils import get_column_letter

        from .excel import SEGMENT_NAME, _segment_name

        quoted = sheet.name.replace("'", "''")
        refers_to = f"='{quoted}'!${get_column_letter(col)}${row}"
        existing = _segment_name(self.book)
        if existing is not None:
            if str(existing.refers_to) == refers_to:
                return
            existing.delete()
        self.book.names.add(SEGMENT_NAME, refers_to)

    def _replace_sheets(self, sheets: Sequence, previous: Sequence[str], protected: set[str], writer) -> list:
        """Add the laid-out SHEETS (writers.RecordedSheet) to the book with their values
        (writers.ExcelWriter.content: what the file has, no temporary file); returns the
        writers.LaidSheet of each, for the later phases. A sheet of the same title that an
        earlier run wrote is deleted first; one the user made stops the run."""
        from .excel import SETTINGS_SHEET, TierbookExcelError, _find

        book = self.book
        ours = {t.casefold() for t in previous}
        guarded = {p.casefold() for p in protected}
        titles = [ws.title for ws in sheets]
        for title in titles:
            existing = _find(book, title)
            if existing is None:
                continue
            if title.casefold() in guarded or title.casefold() not in ours:
                raise TierbookExcelError(f'the workbook already has a sheet "{existing.name}" that tierbook did not '
                                         f"write: rename it, then run Segment customers again")
        for title in previous:  # sheets of an earlier run, including ones this run does not write
            existing = _find(book, title)
            if existing is not None and title.casefold() not in guarded:
                existing.delete()
        laid = []
        for ws in sheets:
            anchor = _find(book, SETTINGS_SHEET)  # keep the settings sheet last
            if anchor is not None and anchor.index > 1:
                target = book.sheets.add(name=ws.title, after=book.sheets[anchor.index - 2])
            else:
                target = book.sheets.add(name=ws.title)
            laid.append(writer.content(ws, target))
        return laid
