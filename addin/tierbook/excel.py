"""Excel entry points: =SEGMENT() and friends, and the ribbon scripts, through xlwings.

One module serves three places: desktop Excel with a local Python (the tierbook.xlam
add-in: UDFs plus one ribbon dispatcher, `ribbon`), the xlwings Server Office.js add-in
(custom functions and custom scripts, re-exported by tierbook/server/) and xlwings
Lite. The decorated functions are thin: they parse Excel's arguments, call the
engine (tierbook.segment), the reader (tierbook.read) and the workbook builder
(tierbook.workbook), and turn every error into a message a user can act on.

Functions (an optional trailing `settings` argument each: text such as
"criterion=units; share=0.1; window=3; month=2026-06", or a two-column range of
setting/value pairs such as the settings sheet):

    SEGMENT(customer, [transactions], [settings])       the segment: VIP / Good / Regular / new ...
    LIFECYCLE, QUADRANT, NEXT_CONTACT, VIP_MONTHS, SIZE_TIER   same arguments
    SEGMENTS(transactions, [settings])                  the whole Customers table, spilled
    MOVEMENT(customer, [transactions], [settings])      previous tier and the month it changed (2 cells)

The second argument says what a function answers from; nothing is kept between calls:
- the Customers table of a tierbook workbook (`tbCustomers[#All]`, recognised by its
  header): looked up as the table holds it, nothing classified (tierbook.lookups);
- a transactions range or table with the usual headers: classified once per distinct
  table content and settings (cached by content), then looked up;
- a CLASSIFY object handle.
Without it, desktop Excel reads the calling workbook's Customers sheet; xlwings Server
cannot see the workbook, so the cell says what to type. In Excel 365 the workbook's own
LAMBDA names answer =SEGMENT(A2) without the add-in (tierbook.lookups).

Scripts (ribbon buttons; BUTTONS lists them for the manifest and the xlam ribbon):

    segment_customers   classify the open workbook in place
    segment_workbooks   one workbook per segment and per manager, like `tierbook split`
    edit_settings       show the settings sheet (created with the defaults if missing)
    plan_reactivation   the Reactivation sheet, like `tierbook reactivation plan`
    reactivation_results   the Reactivation results sheet, like `tierbook reactivation results`
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import sys
import inspect
import logging
import threading
from contextvars import ContextVar
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import xlwings as xw

if sys.platform != "emscripten":
    # xlwings looks for Pyodide's JsNull (`from pyodide.ffi import JsNull`) on every
    # argument of every function call; outside Pyodide each failed import searches
    # sys.path again (0.35 ms, most of a warm call's cost). Pyodide exists only on
    # emscripten, so there it is marked absent once.
    sys.modules.setdefault("pyodide", None)

from . import labels
from .read import clean_transactions
from .errors import TierbookError
from .schema import InputError
from .lookups import (CUSTOMER_FIELDS, UNKNOWN_CUSTOMER, UNKNOWN_KEY, customer_answers, customers_columns,
                      unknown_answers, unknown_customer)
from .segment import CUSTOMER_COLUMNS, Segmentation, classify
from .settings import Criterion, Settings

# --------------------------------------------------------------------------- settings

#: The visible sheet that keeps the workbook's settings, so they travel with the file.
SETTINGS_SHEET = "tierbook settings"

#: Settings of the classification that a function's `settings` argument may change.
FUNCTION_SETTINGS = ("criterion", "share", "good_share", "window", "month")

#: Every row of the settings sheet: key → (default, meaning).
BOOK_SETTINGS: dict[str, tuple[object, str]] = {
    "criterion": ("revenue", "ranking measure: revenue, payments, units or profit"),
    "share": (0.2, "share of each month's payers that is VIP"),
    "good_share": (0.2, "share of the other active customers that is Good"),
    "window": (6, "months a monthly VIP stays in the ledger"),
    "month": ("", "analysis month YYYY-MM; empty: the last month in the data"),
    "lang": ("en", "language of the generated sheets: en or ru"),
    "sheet": ("", "sheet with the transactions; empty: the first sheet that tierbook did not write"),
    "folder": ("", "desktop Excel: where Segment workbooks writes its files (empty: a tierbook folder in your "
                   "home folder); the web add-in gives download links instead"),
    "generated": ("", "the sheets tierbook wrote, replaced on the next run (kept by tierbook, do not edit)"),
}

NO_TABLE = ('tierbook: give the Customers table as the second argument, e.g. =TIERBOOK.SEGMENT(A2, '
            'tbCustomers[#All]) (click "Segment customers" first), or the transactions range')


_LOG = logging.getLogger("tierbook")


class TierbookExcelError(TierbookError, xw.XlwingsError):
    """A problem the user can fix, shown as text (a cell message or an alert)."""


def _number(key: str, value: object) -> float:
    if isinstance(value, bool):
        raise TierbookExcelError(f"setting {key} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().rstrip("%")
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        raise TierbookExcelError(f"setting {key} must be a number, got {value!r}") from None
    return number / 100 if str(value).strip().endswith("%") else number


def _month(value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 10_000:
        day = dt.date(1899, 12, 30) + dt.timedelta(days=int(value))  # an Excel date serial
        return f"{day.year:04d}-{day.month:02d}"
    text = str(value).strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?(?:[ T].*)?", text)
    return f"{match.group(1)}-{int(match.group(2)):02d}" if match else text


def setting_pairs(value: object) -> dict[str, object]:
    """The settings in a `settings` argument: text "key=value; key=value" (also ":" and
    newlines), or rows of a range whose first two cells are setting and value (a header
    row "setting | value" and empty rows are skipped)."""
    if value is None:
        return {}
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], (list, tuple)) \
            and len(value[0]) == 1:
        value = value[0][0]  # one cell holding the text form
    if value is None or value == "":
        return {}
    pairs: list[tuple[object, object]] = []
    if isinstance(value, str):
        for part in re.split(r"[;\n]+", value):
            part = part.strip()
            if not part:
                continue
            match = re.fullmatch(r"([^=:]+?)\s*[=:]\s*(.*)", part)
            if not match:
                raise TierbookExcelError(f'settings must look like "criterion=units; window=3", got {part!r}')
            pairs.append((match.group(1), match.group(2)))
    else:
        rows = _cells(value)
        for row in rows:
            if not row or row[0] is None or str(row[0]).strip() == "":
                continue
            if len(row) < 2:
                raise TierbookExcelError("the settings range needs two columns: setting and value")
            pairs.append((row[0], row[1]))
    out: dict[str, object] = {}
    for key, val in pairs:
        name = re.sub(r"[\s-]+", "_", str(key).strip().lower())
        if name in ("setting", "key", "name"):  # a header row
            continue
        if name not in BOOK_SETTINGS:
            raise TierbookExcelError(f"unknown setting {str(key).strip()!r}; settings are: {', '.join(BOOK_SETTINGS)}")
        out[name] = val
    return out


def settings_from(pairs: dict[str, object], base: Settings | None = None) -> Settings:
    """Settings with the classification settings of PAIRS applied (others ignored)."""
    changes: dict[str, Any] = {}
    for key in FUNCTION_SETTINGS:
        value = pairs.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key == "criterion":
            text = str(value).strip().lower()
            if text not in {c.value for c in Criterion}:
                raise TierbookExcelError(f"setting criterion must be one of {', '.join(c.value for c in Criterion)}, "
                                         f"got {value!r}")
            changes[key] = text
        elif key == "window":
            number = _number(key, value)
            if not number.is_integer():
                raise TierbookExcelError(f"setting window must be a whole number of months, got {value!r}")
            changes[key] = int(number)
        elif key == "month":
            changes[key] = _month(value)
        else:
            changes[key] = _number(key, value)
    try:
        return (base or Settings()).with_(**changes)
    except ValueError as error:
        raise TierbookExcelError(f"settings: {error}") from None


def parse_settings(value: object) -> Settings:
    """The Settings of a function's `settings` argument (None: the defaults)."""
    return settings_from(setting_pairs(value))


# --------------------------------------------------------------------------- transactions from cells


#: The error values xlwings' remote engine reads as empty cells (err_to_str off).
CELL_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#DATA!")


def raw_frame(rows: Sequence[Sequence[object]], sent: bool = False) -> pd.DataFrame:
    """A 2-D block of cells whose first row is the header → the raw frame the reader
    takes (empty cells as None; unnamed columns as "column N"). SENT: the cells as
    xlwings' Office.js client sends them (Range.raw_value), read here a column at a
    time as xlwings' conversion reads them cell by cell: a date is ISO text
    ("2024-11-01T00:00:00.000Z"), an error value (#N/A) is empty."""
    rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in rows]
    if not rows:
        raise InputError("the transactions range is empty: it needs a header row and data rows")
    width = max(len(r) for r in rows)
    head = [("" if h is None else str(h).strip()) or f"column {i}" for i, h in enumerate(rows[0], 1)]
    head += [f"column {i}" for i in range(len(head) + 1, width + 1)]
    seen: dict[str, int] = {}
    for i, name in enumerate(head):  # duplicated headers stay readable by the reader's error text
        if name in seen:
            seen[name] += 1
            head[i] = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
    body = [r + [None] * (width - len(r)) if len(r) < width else r for r in rows[1:]]
    frame = pd.DataFrame(body, columns=range(width), dtype=object)
    for j in range(width):
        frame[j] = _read_cells(frame[j], sent)
    frame.columns = head
    return frame


def _read_cells(col: pd.Series, sent: bool) -> pd.Series:
    """One column of raw_frame: "" as None, a rich value (a dict) as its basicValue;
    SENT: ISO dates as datetimes, error values as None."""
    values = col.tolist()
    kinds = set(map(type, values))
    if not kinds & {str, dict}:
        return col
    if dict in kinds:
        values = [v.get("basicValue") if isinstance(v, dict) else v for v in values]
    if sent:
        from xlwings.pro._xlremote import datetime_regex

        date, errors = datetime_regex.match, set(CELL_ERRORS)
        values = [v if type(v) is not str else None if v == "" or v in errors else
                  _sent_date(v) if date(v) else v for v in values]
    else:
        values = [None if v == "" else v for v in values]
    return pd.Series(values, index=col.index, dtype=object)


def _sent_date(text: str) -> dt.datetime:
    """An ISO date of the client ("2024-11-01T00:00:00.000Z"; a text typed like one may
    lack the Z or have an offset, which xlwings' own reading fails on) as a naive datetime."""
    return dt.datetime.fromisoformat(text[:-1] if text.endswith("Z") else text).replace(tzinfo=None)


def customer_key(value: object) -> str:
    """A customer cell as the reader cleans customer ids: trimmed, inner spaces made one,
    ids written as numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = re.sub(r"[\s\u00a0\u202f\u2007\u2009]+", " ", str(value)).strip()
    return re.sub(r"^(-?\d+)\.0+$", r"\1", text)


# --------------------------------------------------------------------------- the cache


@dataclass
class _Table:
    rows: list  # the cells as Excel sent them (compared in full on a hit)
    tx: pd.DataFrame
    issues: pd.DataFrame
    results: dict  # settings_key → _Lookup


@dataclass
class _Lookup:
    result: Segmentation
    position: dict[str, int]  # customer → row of result.customers
    _next: pd.DataFrame | None = None

    @classmethod
    def of(cls, result: Segmentation) -> "_Lookup":
        names = result.customers["customer"].tolist()
        return cls(result, {name: i for i, name in enumerate(names)})

    _segments: dict | None = None

    def segments(self) -> dict[str, str]:
        """customer → segment (sheets.primary_segment), computed once."""
        if self._segments is None:
            from .sheets import primary_segment

            codes = primary_segment(self.result.customers).tolist()
            self._segments = {name: codes[i] for name, i in self.position.items()}
        return self._segments

    def next_contacts(self) -> pd.DataFrame:
        if self._next is None:
            from .sheets import next_contacts

            self._next = next_contacts(self.result.customers, self.result.as_of)
        return self._next


def settings_key(settings: Settings) -> tuple:
    """Settings as a dictionary key (Settings holds a mapping, so it is not hashable)."""
    return tuple((k, repr(v)) for k, v in settings.as_dict().items())


class SegmentationCache:
    """The classification of a transactions range, computed once per distinct content
    (compared cell by cell) and settings; the least recently used tables are dropped."""

    def __init__(self, size: int = 8):
        self.size = size
        self.tables: OrderedDict[tuple, list[_Table]] = OrderedDict()
        self.lock = threading.Lock()
        self.computed = 0  # classifications run (for tests and the benchmark)

    @staticmethod
    def _fingerprint(rows: list) -> tuple:
        first, last = rows[0], rows[-1]
        return (len(rows), len(first), repr(first), repr(last), repr(rows[len(rows) // 2]))

    def get(self, rows: list, settings: Settings, sheet: str = "transactions") -> _Lookup:
        key = self._fingerprint(rows)
        with self.lock:
            table = next((t for t in self.tables.get(key, ()) if t.rows == rows), None)
            if table is None:
                tx, issues = clean_transactions(raw_frame(rows), sheet=sheet, first_row=2)
                table = _Table(rows, tx, issues, {})
                self.tables.setdefault(key, []).append(table)
                while sum(len(v) for v in self.tables.values()) > self.size:
                    oldest = next(iter(self.tables))
                    self.tables[oldest].pop(0)
                    if not self.tables[oldest]:
                        del self.tables[oldest]
            self.tables.move_to_end(key)
            lookup = table.results.get(settings_key(settings))
            if lookup is None:
                lookup = _Lookup.of(classify(table.tx, settings, table.issues))
                self.computed += 1
                table.results[settings_key(settings)] = lookup
            return lookup

    def changes(self, rows: list, settings: Settings) -> dict[str, tuple[str, str]]:
        """customer → (previous tier, month the tier last changed), from the tier history
        of the table (movement.tier_history), computed once per table and settings."""
        lookup = self.get(rows, settings)
        key = self._fingerprint(rows)
        with self.lock:
            table = next(t for t in self.tables.get(key, ()) if t.rows == rows)
            found = table.results.get(("changes", settings_key(settings)))
        if found is None:
            found = _changes(table.tx, lookup.result.settings)
            with self.lock:
                table.results[("changes", settings_key(settings))] = found
        return found

    def clear(self) -> None:
        with self.lock:
            self.tables.clear()
            self.computed = 0


CACHE = SegmentationCache()


def _changes(tx: pd.DataFrame, settings: Settings) -> dict[str, tuple[str, str]]:
    from .movement import tier_changes, tier_history

    changes = tier_changes(tier_history(tx, settings))
    return dict(zip(changes["customer"], zip(changes["previous_tier"], changes["changed_on"])))


# --------------------------------------------------------------------------- the functions


try:  # xlwings Lite (Pyodide >= 0.28) passes empty cells as JsNull
    from pyodide.ffi import JsNull as _JsNull
except ImportError:
    _JsNull = None


def _cells(value: object) -> list[list]:
    """An argument as a 2-D list of cells (a scalar is a 1 × 1 range; desktop Excel
    sends tuples)."""
    if type(value) is list and value and all(type(r) is list for r in value):
        rows = value  # already a 2-D list (no copy: a table is compared, not changed)
    elif isinstance(value, (list, tuple)) and value and not any(isinstance(r, (list, tuple)) for r in value):
        rows = [list(value)]  # xlwings passes a one-row range as a flat list
    elif isinstance(value, (list, tuple)):
        rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in value]
    else:
        rows = [[value]]
    if _JsNull is not None:
        rows = [[None if isinstance(v, _JsNull) else v for v in r] for r in rows]
    return rows


def _message(error: Exception) -> str:
    text = str(error)
    return text if text.startswith("tierbook:") else f"tierbook: {text}"


def _value(lookup: _Lookup, field: str, customer: object, lang: str = "en") -> object:
    name = customer_key(customer)
    if not name:
        return ""
    i = lookup.position.get(name)
    if i is None:
        return unknown_customer(lang)
    customers = lookup.result.customers
    if field == "segment":
        return labels.value("segment", lookup.segments()[name], lang)
    if field == "next_contact":
        date = lookup.next_contacts()["date"].iloc[i]
        return "" if pd.isna(date) else date.to_pydatetime()
    value = customers[field].iloc[i]
    if isinstance(value, (np.integer,)):
        return int(value)
    return labels.value(field, value, lang) if field in SHOWN_IN_LANG else value


#: The answers that are words of the book's language (engine codes shown as labels.value).
SHOWN_IN_LANG = ("lifecycle", "quadrant", "size_tier")


def answer_lang(rows: list[list], settings: object = None) -> str:
    """The language a function answers in from a transactions range ROWS: the `lang` of
    its settings argument (the Settings sheet has one), else that of the range's headers
    (read.headers_lang: "Клиент | Дата | Сумма" answers in Russian)."""
    from .read import headers_lang

    lang = str(setting_pairs(settings).get("lang") or "").strip().lower()
    return lang if lang in labels.LANGS else headers_lang(list(rows[0]) if rows else [])


#: Settings change a classification; the Customers table is one already.
NO_SETTINGS = ("tierbook: the Customers table is classified already; to try other settings give the transactions "
               "range instead")


def customer_values(field: str, customer: object, transactions: object = None, settings: object = None,
                    book: object = None) -> list[list]:
    """FIELD of each customer cell (one result per cell, same shape), from TRANSACTIONS
    (a Customers table, a transactions range or an object handle) or, without it, from
    the Customers sheet of BOOK (the calling workbook, desktop Excel only); NO_TABLE
    when there is neither; a message on any problem."""
    try:
        if transactions is None and book is not None:
            transactions = book_customers(book)
        if transactions is None:
            return [[NO_TABLE]]
        answers = handle_answers(transactions)
        if answers is None:
            answers = customer_answers(_cells(transactions), customer_key)
            if answers is not None and setting_pairs(settings):
                return [[NO_SETTINGS]]
        if answers is not None:
            return [[_answer(answers, field, c) for c in row] for row in _cells(customer)]
        rows = _cells(transactions)
        lookup = CACHE.get(rows, parse_settings(settings))
        lang = answer_lang(rows, settings)
        return [[_value(lookup, field, c, lang) for c in row] for row in _cells(customer)]
    except xw.ObjectCacheMissError:
        raise
    except Exception as error:  # noqa: BLE001 - a cell shows a message, never a traceback
        return [[reason(error)]]


# --------------------------------------------------------------------------- object handles

#: What a CLASSIFY handle answers for each customer: the functions that take a customer.
HANDLE_FIELDS = CUSTOMER_FIELDS
_HANDLE_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def answers_table(lookup: _Lookup, lang: str = "en") -> pd.DataFrame:
    """One classification as the table an object handle holds: a row per customer (index:
    the customer as the functions match it), a column per function, the words in LANG,
    and the row a missing customer gets (lookups.unknown_answers). A plain frame of
    text, numbers and dates, so that Redis (xlwings Server's object cache with more
    than one worker) can hold it as well as memory can."""
    customers = lookup.result.customers
    segments = lookup.segments()
    keys = [customer_key(c) for c in customers["customer"]]

    unknown = unknown_answers(lang)

    def words(field: str, codes) -> list:  # labels.value once per distinct code
        codes = list(codes)
        shown = {c: labels.value(field, c, lang) for c in set(codes)}
        return [shown[c] for c in codes] + [unknown[field]]

    return pd.DataFrame({
        "segment": words("segment", (segments[c] for c in customers["customer"])),
        "lifecycle": words("lifecycle", customers["lifecycle"]),
        "quadrant": words("quadrant", customers["quadrant"]),
        "next_contact": np.append(lookup.next_contacts()["date"].to_numpy(dtype="datetime64[ns]"),
                                  np.datetime64("NaT", "ns")),
        "vip_months": np.append(customers["vip_months"].to_numpy(), unknown["vip_months"]),
        "size_tier": words("size_tier", customers["size_tier"]),
    }, index=pd.Index([*keys, UNKNOWN_KEY], name="customer"))


def handle_answers(value: object) -> pd.DataFrame | None:
    """The answers table behind an object handle argument, or None if VALUE is no handle.

    xlwings Server's Office.js client sends an object handle cell as its cache key (a
    UUID). An expired key raises xlwings' ObjectCacheMissError: the cell then shows
    xlwings' "Expired object: recalculate" card, and recalculating makes a new handle."""
    if value is None:
        return None
    cells = _cells(value)
    if len(cells) != 1 or len(cells[0]) != 1 or not isinstance(cells[0][0], str):
        return None
    key = cells[0][0]
    if not _HANDLE_KEY.match(key):
        return None
    from xlwings.pro import object_handles

    table = object_handles.cache.get(key)
    if table is None:
        raise xw.ObjectCacheMissError(key)
    if not isinstance(table, pd.DataFrame) or not set(HANDLE_FIELDS) <= set(table.columns):
        raise TierbookExcelError("tierbook: this object is not a tierbook classification (make one with CLASSIFY)")
    return table


def _answer(table: pd.DataFrame, field: str, customer: object) -> object:
    name = customer_key(customer)
    if not name:
        return ""
    if field not in HANDLE_FIELDS:
        raise TierbookExcelError(f"tierbook: a classification handle does not answer {field}")
    try:
        value = table.at[name, field]
    except KeyError:  # in the table's language (lookups.unknown_answers)
        return table.at[UNKNOWN_KEY, "segment"] if UNKNOWN_KEY in table.index else UNKNOWN_CUSTOMER
    if value is None or value is pd.NaT or (isinstance(value, str) and value == "") \
            or (isinstance(value, float) and np.isnan(value)):
        return ""
    if field == "next_contact" and isinstance(value, (dt.date, np.datetime64)):
        return pd.Timestamp(value).to_pydatetime()  # a Customers cell sent as a serial number stays one
    if isinstance(value, np.integer):
        return int(value)
    return value


def customers_table(transactions: object, settings: object = None) -> list[list] | pd.DataFrame:
    """The Customers table of TRANSACTIONS as the Customers sheet shows it, in the
    language of answer_lang."""
    from .lookups import customers_header
    from .sheets import localize_customers

    try:
        rows = _cells(transactions)
        lookup = CACHE.get(rows, parse_settings(settings))
        lang = answer_lang(rows, settings)
    except Exception as error:  # noqa: BLE001 - a cell shows a message, never a traceback
        return [[reason(error)]]
    frame = localize_customers(lookup.result.customers[CUSTOMER_COLUMNS], lang)
    return _excel_frame(frame.rename(columns={c: customers_header(c, lang) for c in frame.columns}))


def _excel_frame(frame: pd.DataFrame) -> list[list]:
    """A frame as rows of cell values under its header, NaN/NaT empty. Not escaped: a
    function's result is a value, never read as a formula."""
    from .workbook import python_values

    columns = [["" if v is None else v for v in python_values(frame[c])] for c in frame.columns]
    return [list(frame.columns)] + [list(row) for row in zip(*columns)]




# --------------------------------------------------------------------------- the functions

#: The calling workbook of a desktop Excel function call (see _with_caller).
_CALLER_BOOK: ContextVar[object] = ContextVar("tierbook_caller_book", default=None)


CUSTOMER_DOC = "a customer, or a range of customers (one result each)"
TRANSACTIONS_DOC = "optional: the transactions range or table, with its header row"
SETTINGS_DOC = 'optional: "criterion=units; share=0.1; window=3; month=2026-06" or a setting/value range'


def _excel_function(**docs: str) -> Callable[[Callable], Callable]:
    """@xw.func with every argument a 2-D range (ndim=2) described by DOCS."""

    def decorate(f: Callable) -> Callable:
        g = xw.func(_with_caller(_short_reason(f)))
        for name, doc in docs.items():
            # "raw": the cells as Excel sends them. xlwings' value converter costs about
            # 0.1 ms a cell outside Pyodide, which a 50,000-cell table pays on every call.
            g = xw.arg(name, "raw", doc=doc)(g)
        return g

    return decorate


#: The longest reason a cell shows (Excel's function results are best kept short).
REASON_CHARS = 200


def _short_reason(f: Callable) -> Callable:
    """F, whose every failure becomes a short reason in the cell ("tierbook: ..."):
    xlwings would show "An error occurred" (Server) or a traceback (desktop)."""

    @functools.wraps(f)
    def guarded(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except xw.ObjectCacheMissError:
            raise  # an expired object handle: xlwings shows its "recalculate" card
        except Exception as error:  # noqa: BLE001 - a cell shows a message, never a traceback
            return [[reason(error)]]

    return guarded


def reason(error: Exception) -> str:
    """What a cell shows for ERROR: our own messages as they are, anything else named as
    unexpected; one line, at most REASON_CHARS characters."""
    if isinstance(error, (TierbookError, xw.XlwingsError)):
        text = _message(error)
    else:
        text = f"tierbook: unexpected {type(error).__name__}: {error}"
    return " ".join(text.split())[:REASON_CHARS]


def _with_caller(f: Callable) -> Callable:
    """F, plus on desktop Excel the calling cell: xlwings fills a last parameter named
    `caller` (its reserved argument, which the generated VBA wrapper hides from Excel)
    with the calling Range, and F finds its workbook in _CALLER_BOOK, so that
    =SEGMENT(A2) reads that workbook's Customers sheet. xlwings Server and Lite send no
    workbook with a function call: there F is as it is. (Desktop Excel only: not run
    by the tests, which have no Windows Excel.)"""
    if xw_on_server() or sys.platform == "emscripten":
        return f
    signature = inspect.signature(f)
    caller = inspect.Parameter("caller", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
    full = signature.replace(parameters=[*signature.parameters.values(), caller])

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        bound = full.bind(*args, **kwargs)
        calling = bound.arguments.pop("caller", None)
        token = _CALLER_BOOK.set(getattr(getattr(calling, "sheet", None), "book", None))
        try:
            return f(**bound.arguments)
        finally:
            _CALLER_BOOK.reset(token)

    wrapper.__signature__ = full
    return wrapper


def book_customers(book: object) -> list[list] | None:
    """The cells of BOOK's Customers sheet (either language), None without one."""
    for lang in labels.LANGS:
        sheet = _find(book, labels.sheet_title("customers", lang))
        if sheet is not None:
            return sheet.used_range.options(ndim=2).value
    return None


def xw_on_server() -> bool:
    return os.environ.get("XLWINGS_ON_SERVER") == "true"


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def segment(customer, transactions=None, settings=None):
    """The customer's segment: VIP, Good, Regular, lost VIP, or the lifecycle class of an inactive customer."""
    return customer_values("segment", customer, transactions, settings, _CALLER_BOOK.get())


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def lifecycle(customer, transactions=None, settings=None):
    """The lifecycle class: new, one-time, permanent, occasional, potential or unprofitable."""
    return customer_values("lifecycle", customer, transactions, settings, _CALLER_BOOK.get())


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def quadrant(customer, transactions=None, settings=None):
    """The volume × value quadrant of the customer."""
    return customer_values("quadrant", customer, transactions, settings, _CALLER_BOOK.get())


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def next_contact(customer, transactions=None, settings=None):
    """The date of the next planned contact (empty without consent or plan)."""
    return customer_values("next_contact", customer, transactions, settings, _CALLER_BOOK.get())


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def vip_months(customer, transactions=None, settings=None):
    """The number of months the customer was in the monthly VIP table."""
    return customer_values("vip_months", customer, transactions, settings, _CALLER_BOOK.get())


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def size_tier(customer, transactions=None, settings=None):
    """The order-size tier: huge, medium, small or one-time."""
    return customer_values("size_tier", customer, transactions, settings, _CALLER_BOOK.get())


@_excel_function(transactions="the transactions range with its header row", settings=SETTINGS_DOC)
def segments(transactions, settings=None):
    """The whole Customers table of the transactions, spilled."""
    return customers_table(transactions, settings)


#: MOVEMENT needs the history, which the Customers table does not hold.
NO_TRANSACTIONS = "tierbook: MOVEMENT needs the transactions range as the second argument, e.g. Sales!A1:L5000"


def movement_values(customer: object, transactions: object = None, settings: object = None) -> list[list]:
    """[previous tier, month the tier last changed] of each customer cell (one row each),
    from the tier history of TRANSACTIONS; NO_TRANSACTIONS without them."""
    try:
        if transactions is None or customers_columns(_cells(transactions)[0]) is not None:
            return [[NO_TRANSACTIONS, ""]]
        from .sheets import tier_label

        rows = _cells(transactions)
        changes = CACHE.changes(rows, parse_settings(settings))
        lang = answer_lang(rows, settings)
        out = []
        for row in _cells(customer):
            for c in row:
                name = customer_key(c)
                if not name:
                    out.append(["", ""])
                elif name not in changes:
                    out.append([unknown_customer(lang), ""])
                else:
                    previous, changed_on = changes[name]
                    out.append([tier_label(previous, lang) if previous else "", changed_on])
        return out
    except Exception as error:  # noqa: BLE001 - a cell shows a message, never a traceback
        return [[reason(error), ""]]


@_excel_function(customer=CUSTOMER_DOC, transactions=TRANSACTIONS_DOC, settings=SETTINGS_DOC)
def movement(customer, transactions=None, settings=None):
    """The customer's previous tier and the month their tier last changed (two cells, spilled)."""
    return movement_values(customer, transactions, settings)


@xw.func(name="CLASSIFY")
@xw.arg("transactions", "raw", doc="the transactions range or table, with its header row")
@xw.arg("settings", "raw", doc=SETTINGS_DOC)
def classify_handle(transactions, settings=None) -> xw.ObjectHandle:
    """=CLASSIFY(Sales!A1:L5000): classify the transactions once, as an object handle; give
    its cell to SEGMENT, LIFECYCLE, QUADRANT, NEXT_CONTACT, VIP_MONTHS and SIZE_TIER
    instead of the range, so thousands of cells look up in one classification without
    sending the table. (Python name classify_handle: `classify` is the engine's.)"""
    try:
        lookup = CACHE.get(_cells(transactions), parse_settings(settings))
    except Exception as error:  # noqa: BLE001 - the cell shows why, never a traceback
        raise TierbookExcelError(reason(error)) from None
    result = lookup.result
    tiers = result.customers["tier"].value_counts()
    card = {"Customers": len(result.customers), "As of": result.analysis_month,
            **{tier: int(tiers.get(tier, 0)) for tier in ("VIP", "Good", "Regular")}}
    properties = {name: {"type": "Double", "basicValue": value} if isinstance(value, int) else
                  {"type": "String", "basicValue": str(value)} for name, value in card.items()}
    return xw.ObjectHandle(answers_table(lookup, answer_lang(_cells(transactions), settings)), properties=properties,
                           text=f"{len(result.customers):,} customers as of {result.analysis_month}")


# --------------------------------------------------------------------------- the open workbook


@dataclass(frozen=True)
class BookSettings:
    settings: Settings
    lang: str
    sheet: str  # the transactions sheet ("" = the first sheet tierbook did not write)
    folder: str
    generated: tuple[str, ...]  # sheets the last run wrote


def _sheet_names(book: xw.Book) -> list[str]:
    return [s.name for s in book.sheets]


def _find(book: xw.Book, title: str):
    for sheet in book.sheets:
        if sheet.name.casefold() == title.casefold():
            return sheet
    return None


def read_book_settings(book: xw.Book) -> BookSettings:
    """The settings kept in the workbook's settings sheet (the defaults without one)."""
    sheet = _find(book, SETTINGS_SHEET)
    pairs = setting_pairs(sheet.used_range.options(ndim=2).value) if sheet is not None else {}
    settings = settings_from(pairs)
    lang = str(pairs.get("lang") or "en").strip().lower()
    if lang not in labels.LANGS:
        raise TierbookExcelError(f"setting lang must be one of {', '.join(labels.LANGS)}, got {pairs.get('lang')!r}")
    generated = tuple(t.strip() for t in str(pairs.get("generated") or "").split(";") if t.strip())
    return BookSettings(settings, lang, str(pairs.get("sheet") or "").strip(), str(pairs.get("folder") or "").strip(),
                        generated)


def settings_rows(values: BookSettings) -> list[list]:
    """The settings sheet's cells: setting, value, meaning."""
    current = {**{k: d for k, (d, _) in BOOK_SETTINGS.items()}, **values.settings.as_dict(),
               "month": values.settings.month or "", "lang": values.lang, "sheet": values.sheet,
               "folder": values.folder, "generated": "; ".join(values.generated)}
    return [["setting", "value", "meaning"]] + [[k, current[k], meaning] for k, (_, meaning) in BOOK_SETTINGS.items()]


def write_settings_sheet(book: xw.Book, values: BookSettings) -> None:
    sheet = _find(book, SETTINGS_SHEET) or book.sheets.add(name=SETTINGS_SHEET)
    rows = settings_rows(values)
    sheet.range((1, 1)).value = [[_safe(v) for v in row] for row in rows]


def _safe(value: object) -> object:
    from .workbook import safe_text

    return safe_text(value) if isinstance(value, str) else value


def _data_sheet(book: xw.Book, values: BookSettings, generated_titles: set[str]):
    if values.sheet:
        sheet = _find(book, values.sheet)
        if sheet is None:
            raise TierbookExcelError(f'the settings name the transactions sheet "{values.sheet}", but the workbook '
                                     f"has no such sheet; sheets: {', '.join(_sheet_names(book))}")
        return sheet
    skip = {t.casefold() for t in (*values.generated, *generated_titles, SETTINGS_SHEET)}
    for sheet in book.sheets:
        if sheet.name.casefold() not in skip:
            return sheet
    raise TierbookExcelError("the workbook has no sheet with transactions: add one with the columns customer, date "
                             "and amount")


@dataclass
class BookRun:
    """What "Segment customers" did to a workbook."""

    result: Segmentation
    tx: pd.DataFrame
    sheet: str  # the transactions sheet
    segment_column: int  # 1-based column of the Segment column
    generated: tuple[str, ...]  # the sheets written, in order
    values: BookSettings
    issues: pd.DataFrame | None = None  # the input issues of the transactions sheet
    skipped_names: tuple[str, ...] = ()  # the defined names desktop Excel refused (writers.write_names)


#: The workbook name that marks tierbook's Segment column (its header cell), so that a
#: user's own column headed "Segment" is never taken for it, nor written.
SEGMENT_NAME = "tierbook_segment"
#: Columns in an Excel sheet (A..XFD).
MAX_COLUMNS = 16384


def _segment_name(book: xw.Book):
    for name in book.names:
        if name.name == SEGMENT_NAME:
            return name
    return None


def _marked_column(book: xw.Book, sheet) -> int | None:
    """The 1-based column of tierbook's Segment column on SHEET (from SEGMENT_NAME), or None."""
    from openpyxl.utils import range_boundaries

    name = _segment_name(book)
    if name is None:
        return None
    match = re.fullmatch(r"=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)", str(name.refers_to or ""))
    if match is None or (match[1] or match[2]).replace("''", "'").casefold() != sheet.name.casefold():
        return None
    return range_boundaries(f"{match[3]}{match[4]}")[0]


def _free_column(cells: list[list], first_col: int, sheet_name: str) -> int:
    """The column for the Segment column: after the last used column; when that is past
    Excel's last column (a note far to the right, say in XFD1), the first column after
    the data that is empty in every row. Never a column holding a user's cell."""
    width = len(cells[0]) if cells else 1
    if first_col + width <= MAX_COLUMNS:
        return first_col + width
    filled = [any(row[j] not in (None, "") for row in cells) for j in range(width)]
    below = [j for j in range(width) if any(row[j] not in (None, "") for row in cells[1:])]
    for j in range(below[-1] + 1 if below else 0, width):
        if not filled[j]:
            return first_col + j
    raise TierbookExcelError(f'sheet "{sheet_name}" has no empty column left for the Segment column: clear a '
                             f"column to the right of your data")


def _read_data(book: xw.Book, values: BookSettings, titles: set[str]):
    sheet = _data_sheet(book, values, titles)
    used = sheet.used_range
    sent = book.app.engine.name == "remote"  # Office.js: the cells as sent, read a column at a time
    cells = used.raw_value if sent else used.options(ndim=2).value
    header_row, first_col = used.row, used.column
    seg_header = labels.header("segment", values.lang)
    marked = _marked_column(book, sheet)
    if marked is not None and first_col <= marked < first_col + len(cells[0]):
        j = marked - first_col  # the column an earlier run wrote: left out, and written again
        cells = [row[:j] + row[j + 1:] for row in cells]
        seg_col = marked
    else:
        seg_col = _free_column(cells, first_col, sheet.name)
    if len(cells) < 2:
        raise InputError(f'Sheet "{sheet.name}" has no rows under its header: is it the transactions sheet?')
    raw = raw_frame(cells, sent)
    tx, issues = clean_transactions(raw, sheet=sheet.name, first_row=header_row + 1)
    return sheet, tx, issues, header_row, seg_col, seg_header, len(cells)


def _book_job(book: xw.Book, job: Callable, **options) -> BookRun:
    """Run JOB (a job of tierbook.jobs) on the open workbook, as its source and target
    (targets.BookTarget); its Customers table and LAMBDA names then answer the functions."""
    from .targets import BookTarget

    target = BookTarget(book)
    job(target, target, **options)
    return target.run


def segment_book(book: xw.Book) -> BookRun:
    """Ribbon "Segment customers": what `tierbook segment` does (jobs.segment), in the
    open workbook: a Segment column beside the user's rows, and the generated sheets
    (replaced, never duplicated; a reactivation plan kept). The user's cells are left as
    they are. Raises TierbookExcelError or InputError with a message for the user."""
    from .jobs import segment

    return _book_job(book, segment)


def plan_book(book: xw.Book) -> BookRun:
    """Ribbon "Plan reactivation": what `tierbook reactivation plan` does
    (jobs.plan_reactivation), in the open workbook: the Reactivation sheet (assignments
    of an earlier plan kept) and an empty Contact log sheet if there is none."""
    from .jobs import plan_reactivation

    return _book_job(book, plan_reactivation)


def results_book(book: xw.Book) -> BookRun:
    """Ribbon "Reactivation results": what `tierbook reactivation results` does
    (jobs.measure_reactivation), in the open workbook, from its Contact log sheet; rows
    with problems go to Input issues."""
    from .jobs import measure_reactivation

    return _book_job(book, measure_reactivation)


def split_book(book: xw.Book, folder: str | Path | None = None) -> list[Path]:
    """One workbook per segment and one per manager, like `tierbook split`, from the
    open workbook's transactions and settings (jobs.split_source: no workbook written
    first). Where the files go depends on where Excel is:

    - an Office.js client of the add-in's server (xlwings' remote engine, a request the
      server hands files off for: tierbook.downloads): into a fresh folder of the
      server's download shelf, offered to the browser as links (the server's disk is
      not the manager's);
    - desktop Excel (tierbook.xlam), xlwings Lite, or the remote engine used as a
      library: into FOLDER, else the settings' folder, else ~/tierbook/<workbook name>/
      (under Lite ~/tierbook is /data/tierbook, Lite's Import/Export folder); a folder
      outside the output root (~/tierbook, or $TIERBOOK_OUTPUT_ROOT) is refused.

    Returns the files written."""
    from . import downloads
    from .files import output_folder, safe_filename
    from .jobs import split_source
    from .targets import BookTarget

    source = BookTarget(book)
    stem = re.sub(r'[\\/:*?"<>|]+', "_", Path(book.name).stem) or "workbook"
    handoff = downloads.current()
    if book.app.engine.name == "remote" and sys.platform != "emscripten" and handoff is not None:
        run_folder = (handoff.shelf or downloads.shelf()).new_folder()
        try:
            files = split_source(source, run_folder)
            downloads.offer(files, run_folder, safe_filename(f"{stem} - tierbook workbooks", ".zip"))
        except BaseException:
            shutil.rmtree(run_folder, ignore_errors=True)
            raise
        return files
    target = output_folder(folder or source.values.folder, stem)  # never outside the output root (TIERBOOK_OUTPUT_ROOT)
    return split_source(source, target)


def show_settings(book: xw.Book) -> None:
    """Show the settings sheet, creating it with the defaults (or repairing nothing:
    a sheet with bad values is reported, not overwritten)."""
    sheet = _find(book, SETTINGS_SHEET)
    if sheet is None:
        write_settings_sheet(book, BookSettings(Settings(), "en", "", "", ()))
        sheet = _find(book, SETTINGS_SHEET)
    else:
        read_book_settings(book)  # report bad values now, not at the next run
    sheet.activate()


# --------------------------------------------------------------------------- the scripts (ribbon buttons)


def _run(action: Callable[[xw.Book], object], book: xw.Book) -> object:
    """Run a library action for a script: the user sees a message, never a traceback;
    names that desktop Excel refused are said in one alert (the run is complete)."""
    try:
        done = action(book)
    except (TierbookExcelError, xw.XlwingsError):
        raise
    except TierbookError as error:
        raise TierbookExcelError(_message(error)) from None
    except Exception as error:  # noqa: BLE001 - a bug: a short message for the user, the traceback in the log
        _LOG.exception("tierbook: internal error in a script")
        raise TierbookExcelError(f"tierbook: internal error ({type(error).__name__}: {error}); this is a bug in "
                                 f"tierbook, not in your workbook (the details are in the server's log)") from None
    if isinstance(done, BookRun) and done.skipped_names:
        from .lookups import name_instead, skipped_names_message

        book.app.alert(skipped_names_message([name_instead(n, done.values.lang) for n in done.skipped_names]),
                       title="tierbook")
    return done


def _not_read(*read: str) -> list[str]:
    """The generated sheets (both languages) a script does not read: xlwings Server's
    client leaves their cells out of the request (their names still come)."""
    keep = {labels.sheet_title(k, lang) for k in read for lang in labels.LANGS}
    return sorted({t for lang in labels.LANGS for t in labels.SHEETS[lang].values()} - keep)


#: The call lists and the Kept notes: every script that writes them reads them and the
#: Contact log (the manager's Done / Outcome / Note, the Last contact).
CALL_LISTS = (*(f"segment:{s}" for s in labels.SEGMENTS), "kept_notes")
#: What each script's request leaves out (xw.script(exclude=...)).
EXCLUDE = {"segment_customers": _not_read("reactivation", "contact_log", *CALL_LISTS),
           "plan_reactivation": _not_read("reactivation", "contact_log", *CALL_LISTS),
           "reactivation_results": _not_read("reactivation", "contact_log", *CALL_LISTS),
           "segment_workbooks": _not_read()}


#: The workbook a script that reads the sales sheet is given. Under xlwings Lite the
#: async book: Lite's client then sends the workbook without cell values (one read of a
#: 50,000-row sheet is over Excel for the web's 5 MB) and _read_in_blocks reads them.
#: Elsewhere xw.Book, so that xlwings Server's script metadata ("lazy": false) and what
#: its clients send are as before: a BookAsync hint would make xlwings' own client send
#: no values to the server (custom-scripts/index.js getBookData, lazy) and make
#: custom_scripts_call mark the server's full book as not loaded (udfs_officejs._inject_value).
DataBook = xw.BookAsync if sys.platform == "emscripten" else xw.Book


async def _read_in_blocks(book: xw.Book, script: str) -> None:
    """Under xlwings Lite, the cell values of the sheets SCRIPT reads, read in row blocks
    under Excel for the web's limit and put into BOOK (tierbook.lite); elsewhere nothing:
    the book already holds them."""
    if sys.platform == "emscripten":
        from .lite import load_in_blocks

        meta = globals()[script].__xlscript__
        await load_in_blocks(book, meta.get("include"), meta.get("exclude"))


@xw.script(name="Segment customers", exclude=EXCLUDE["segment_customers"])
async def segment_customers(book: DataBook):
    """Classify the open workbook in place."""
    await _read_in_blocks(book, "segment_customers")
    _run(segment_book, book)


@xw.script(name="Segment workbooks", exclude=EXCLUDE["segment_workbooks"])
async def segment_workbooks(book: DataBook):
    """Write one workbook per segment and per manager; say where they are."""
    from . import downloads

    await _read_in_blocks(book, "segment_workbooks")
    files = _run(split_book, book)
    handoff = downloads.current()
    offered = handoff.downloads if handoff is not None else []
    if offered:
        if not handoff.listed:  # xlwings' own script route: its client shows only a message
            bundle = next((d for d in offered if d.get("zip")), offered[-1])
            minutes = (handoff.shelf or downloads.shelf()).max_age / 60
            book.app.alert(f"tierbook made {len(files)} workbooks. Download them once, within {minutes:g} minutes, "
                           f"as one zip: {handoff.origin}{bundle['url']}", title="tierbook")
        return  # tierbook's ribbon route: the task pane lists the links
    folder = os.path.commonpath([str(p.parent) for p in files]) if files else ""
    where = (" (xlwings Lite: menu > Files > Import/Export, where Download All makes one zip)"
             if sys.platform == "emscripten" else "")
    book.app.alert(f"tierbook wrote {len(files)} workbooks into {folder}{where}", title="tierbook")


@xw.script(name="Settings", include=[SETTINGS_SHEET])
def edit_settings(book: xw.Book):
    """Show the settings sheet (created with the defaults if missing). It reads only the
    settings sheet: the whole request is small, also under xlwings Lite."""
    _run(show_settings, book)


@xw.script(name="Plan reactivation", exclude=EXCLUDE["plan_reactivation"])
async def plan_reactivation(book: DataBook):
    """Assign each one-time buyer with consent a message variant (the Reactivation sheet)."""
    await _read_in_blocks(book, "plan_reactivation")
    _run(plan_book, book)


@xw.script(name="Reactivation results", exclude=EXCLUDE["reactivation_results"])
async def reactivation_results(book: DataBook):
    """Conversion per variant from the Contact log sheet, and a verdict."""
    await _read_in_blocks(book, "reactivation_results")
    _run(results_book, book)


@dataclass(frozen=True)
class Button:
    """A ribbon button: the same list makes the Office.js manifest and the xlam's customUI."""

    id: str  # control id, passed to `ribbon` by the xlam's VBA dispatcher
    label: str
    tip: str
    script: str  # the @xw.script it runs
    image: str  # imageMso of the desktop ribbon
    taskpane: bool = False  # Office.js: open the task pane instead of running the script


BUTTONS: tuple[Button, ...] = (
    Button("tbSegment", "Segment customers", "Classify the customers of this workbook: a Segment column beside "
           "your rows and the tierbook sheets", "segment_customers", "GroupSortFilter"),
    Button("tbSplit", "Segment workbooks", "Write one workbook per segment and one per manager",
           "segment_workbooks", "FileSaveAsExcelXlsx"),
    Button("tbSettings", "Settings", "Criterion, shares, window, month and language, kept in the workbook",
           "edit_settings", "ControlProperties", taskpane=True),
    Button("tbPlanReactivation", "Plan reactivation", "A/B test for one-time buyers: give each a message variant, "
           "balanced by manager and order size", "plan_reactivation", "HappyFace"),
    Button("tbReactivationResults", "Reactivation results", "Conversion per message variant from the Contact log, "
           "with a verdict", "reactivation_results", "ChartInsert"),
)

_ACTIONS: dict[str, Callable[[xw.Book], object]] = {
    "segment_customers": segment_book, "segment_workbooks": split_book, "edit_settings": show_settings,
    "plan_reactivation": plan_book, "reactivation_results": results_book}


def ribbon(control_id: str) -> None:
    """The desktop add-in's one entry: its VBA dispatcher passes the id of the clicked
    button (RunPython "import tierbook.excel; tierbook.excel.ribbon('tbSegment')")."""
    button = next((b for b in BUTTONS if b.id == control_id), None)
    if button is None:
        raise TierbookExcelError(f"unknown tierbook button {control_id!r}")
    book = xw.Book.caller()
    try:
        _run(_ACTIONS[button.script], book)
    except xw.XlwingsError as error:
        book.app.alert(str(error), title="tierbook")


def entry_points(mark: str) -> dict[str, Callable]:
    """The custom functions (MARK "__xlfunc__") or scripts ("__xlscript__") of this
    module by name: each is declared once, by xlwings' decorator on it, and found here as
    xlwings itself finds them (inspect.getmembers and the decorator's mark, as in
    xlwings/pro/udfs_officejs.py); the server re-exports these, the tests count them."""
    return {name: f for name, f in inspect.getmembers(sys.modules[__name__], inspect.isfunction)
            if f.__module__ == __name__ and hasattr(f, mark)}


#: The names of the custom functions and scripts, as entry_points finds them.
FUNCTIONS: tuple[str, ...] = tuple(entry_points("__xlfunc__"))
SCRIPTS: tuple[str, ...] = tuple(entry_points("__xlscript__"))
