"""Files and raw frames → a clean transactions frame (schema.py) and an input report.

Real exports are dirty (DOMAIN.md, "Real exports are dirty"): amounts written as
`1 234,56` or `1,234.56 ₽`, dates as Excel serials or `19.11.2013`, blank rows, totals
rows, repeated header rows, stray spaces in ids. This module turns such a table into
the clean frame every other part of tierbook agrees on, and reports every row it
could not use, so that nothing is dropped silently and no bad cell stops the run:

- every input row is either in the clean frame (its index is the row number in the
  user's sheet) or named in the issues frame (sheet, row, column, value, problem);
- a bad required cell (customer, date, amount) drops its row, with one issue per bad
  cell; a bad optional cell is reported and left empty, the row is kept;
- only a missing file, sheet or required column raises InputError.

All conversions work on whole columns (pyarrow compute and numpy), never row by row,
so that reading a large workbook costs little more than loading it with fastexcel.
Columns that already have the right type (numbers, Excel dates) take a fast path.

The rules live in one place each: ALIASES (header names), `parse_amounts` (every
numeric column), `parse_dates` (the date column), TOTALS_LABEL (totals rows),
CONSENT_WORDS and CHANNEL_WORDS.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
try:
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # xlwings Lite (Pyodide) has no pyarrow: the same calls in plain Python
    from tierbook.arrowless import pa, pc

from tierbook.schema import COLUMNS, ISSUE_COLUMNS, NUMERIC, REQUIRED, InputError, issues_frame

# --------------------------------------------------------------------------------------
# Header names
# --------------------------------------------------------------------------------------

#: The header names accepted for each column of the clean frame, in English and Russian,
#: including the names tierbook itself writes (so its own output can be read back).
#: Matching ignores case, spaces and punctuation (see `header_key`): "Customer ID",
#: "customer_id" and "CUSTOMER-ID:" are the same name.
ALIASES: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer", "client", "customer id", "client id", "customer name", "client name",
        "customer code", "buyer", "account",
        "клиент", "покупатель", "контрагент", "заказчик", "код клиента", "id клиента",
        "клиент id", "имя клиента", "наименование клиента",
    ),
    "date": (
        "date", "order date", "payment date", "invoice date", "transaction date", "paid on",
        "дата", "дата оплаты", "дата заказа", "дата продажи", "дата платежа", "дата документа",
    ),
    "amount": (
        "amount", "sum", "total", "revenue", "sales", "value", "payment", "paid",
        "сумма", "выручка", "оплата", "сумма оплаты", "сумма заказа", "сумма продажи",
        "стоимость",
    ),
    "units": ("units", "qty", "quantity", "pcs", "количество", "кол-во", "штук", "шт"),
    "margin": (
        "margin", "profit", "gross profit", "маржа", "прибыль", "валовая прибыль", "доход",
    ),
    "order_id": (
        "order_id", "order", "order id", "order no", "order number", "invoice",
        "invoice no", "invoice number",
        "заказ", "номер заказа", "№ заказа", "счет", "счёт", "номер счета", "номер счёта",
        "документ",
    ),
    "manager": (
        "manager", "sales manager", "account manager", "salesperson", "sales rep",
        "менеджер", "ответственный",
    ),
    "email": ("email", "e-mail", "mail", "почта", "электронная почта", "эл. почта", "email клиента"),
    "phone": ("phone", "telephone", "mobile", "tel", "телефон", "тел", "мобильный", "телефон клиента"),
    "consent": ("consent", "opt-in", "opt in", "agree", "согласие", "согласие на рассылку"),
    "channel": ("channel", "preferred channel", "канал", "канал связи", "предпочтительный канал"),
    "contact_time": (
        "contact_time", "contact time", "best time", "call time", "preferred time",
        "время звонка", "время контакта", "время связи", "удобное время",
    ),
}


def header_key(name: object) -> str:
    """A header name reduced to what matters for matching: lower case, no spaces or punctuation."""
    return re.sub(r"[\W_]+", "", str(name).casefold().replace("ё", "е"))


def _alias_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for column, names in ALIASES.items():
        for name in (column, *names):
            other = lookup.setdefault(header_key(name), column)
            if other != column:
                raise AssertionError(f"header {name!r} is an alias of both {other} and {column}")
    return lookup


_HEADER_LOOKUP = _alias_lookup()


def match_columns(headers: list[object]) -> dict[str, object]:
    """Which input header is which clean column: {clean name: header}; the first match wins."""
    found: dict[str, object] = {}
    for header in headers:
        column = _HEADER_LOOKUP.get(header_key(header))
        if column is not None and column not in found:
            found[column] = header
    return found


def headers_lang(headers: list[object]) -> str:
    """The language of a sales export, from its headers: "ru" when a header that names one
    of its columns (match_columns) is written in Cyrillic, else "en"."""
    named = match_columns(headers).values()
    return "ru" if any(re.search("[а-яё]", str(h).casefold()) for h in named) else "en"


# --------------------------------------------------------------------------------------
# Value rules
# --------------------------------------------------------------------------------------

#: Problems, in the words the user reads in the report.
NOT_A_NUMBER = "not a number"
NOT_A_DATE = "not a date"
EXCEL_ERROR = "Excel error value"
LEFT_EMPTY = ", left empty"  # appended for optional columns: the row is kept
BLANK_ROW = "blank row, skipped"
TOTALS_ROW = "totals row, skipped"
HEADER_ROW = "repeated header row, skipped"
NOT_CALCULATED = ("formula never calculated (the file was written by a program, not saved by Excel: open it "
                  "in Excel and save it, then run again)")

#: Excel's error values, as they appear in a cell or in a CSV export.
EXCEL_ERRORS = (
    "#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA",
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
)
_FASTEXCEL_ERRORS = {
    "NA": "#N/A", "Div0": "#DIV/0!", "Value": "#VALUE!", "Ref": "#REF!", "Name": "#NAME?",
    "Num": "#NUM!", "Null": "#NULL!", "GettingData": "#GETTING_DATA",
}

#: A label that makes a row a totals row ("Итого", "Total:", "Grand total", "Итого за март").
#: The whole cell must be the label, so a customer called "Total Solutions" is a customer.
TOTALS_LABEL = (
    r"(?i)^(?:grand\s+total|sub-?total|total|итого|всего|итог|общий\s+итог)"
    r"(?:\s+(?:for|по|за)\s.*)?[\s:.]*$"
)

_TOTALS_START = ("gra", "sub", "tot", "ито", "все", "общ")  # how TOTALS_LABEL can begin

#: Excel date serials: day 1 is 1900-01-01 in Excel, but Excel counts a 29 February 1900
#: that never was, so from 1 March 1900 on the serial is days since 1899-12-30.
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
#: Dates outside [DATE_MIN, DATE_MAX) are not payment dates (e.g. a time-only cell,
#: which Excel stores on 1899-12-31, or a number that is not a serial).
DATE_MIN = np.datetime64("1900-01-01", "D")
DATE_MAX = EXCEL_EPOCH + np.timedelta64(80_000, "D")  # serial 80 000 = 2119-01-11

#: Payments dated after the latest plausible date (by default tomorrow, by the clock) are
#: typos such as 2042 for 2024: reported and left out, so that they never become the
#: analysis month. TIERBOOK_LATEST_DATE=YYYY-MM-DD sets another day.
FUTURE_DATE = "date in the future (after"


def latest_plausible_date() -> dt.date:
    """The last day a payment can be dated: TIERBOOK_LATEST_DATE, else tomorrow."""
    value = os.environ.get("TIERBOOK_LATEST_DATE", "").strip()
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(f"TIERBOOK_LATEST_DATE must be a day like 2024-12-31, got {value!r}") from None
    return dt.date.today() + dt.timedelta(days=1)


#: consent cell (lower case, trimmed) → may we contact this customer.
CONSENT_WORDS: dict[str, bool] = {
    **dict.fromkeys(("yes", "y", "true", "1", "+", "да", "д", "истина"), True),
    **dict.fromkeys(("no", "n", "false", "0", "-", "нет", "н", "ложь"), False),
}

#: channel cell (as header_key reduces it) → the channel tierbook uses.
CHANNEL_WORDS: dict[str, str] = {
    **dict.fromkeys(("email", "mail", "почта", "элпочта", "электроннаяпочта", "емейл", "имейл"), "email"),
    **dict.fromkeys(("sms", "text", "смс", "эсэмэс"), "sms"),
    **dict.fromkeys(("phone", "call", "tel", "telephone", "телефон", "звонок", "тел"), "phone"),
}

_SPACES = " \u00a0\u202f\u2007\u2009\t"  # space, NBSP, narrow NBSP, figure and thin space, tab
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_CURRENCY = r"(?:руб(?:лей|ля|ль)?|р|rub|usd|eur|грн|тг|[$€₽£¥])\.?"
_TIME = (
    r"(?:[T ]\s*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_ISO_DATE = r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME + "$"
_DMY_DATE = r"^(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4}|\d{2})(?:\s*г\.?)?" + _TIME + "$"
_SERIAL_TEXT = r"^\d+(?:[.,]\d+)?$"


# --------------------------------------------------------------------------------------
# One input column, seen as numbers, datetimes or text
# --------------------------------------------------------------------------------------


@dataclass
class _Cells:
    """One input column prepared once for every rule that reads it.

    kind is "number" (numeric dtype), "datetime" (datetime dtype) or "text" (anything
    else, converted to text). `text` is the trimmed text, null where the cell is empty
    (for numbers: their shortest decimal form). `filled` marks non-empty cells,
    `unreadable` cells the file reader could not read (Excel errors), whose text is in
    `overlay`.
    """

    header: str
    kind: str
    series: pd.Series
    filled: np.ndarray
    unreadable: np.ndarray
    overlay: dict[int, str]
    _text: pa.ChunkedArray | None = None

    @property
    def text(self) -> pa.ChunkedArray:
        if self._text is None:
            if self.kind == "number":
                self._text = pa.chunked_array([_number_text(self.series.to_numpy("float64", na_value=np.nan))])
            else:  # datetime columns are only read as text when they are in the wrong place
                self._text = pa.chunked_array([pa.array(self.series.astype("str"), from_pandas=True)])
        return self._text

    def excel_error(self) -> np.ndarray:
        """Cells holding an Excel error value (#N/A, #DIV/0! …), read as such or as text."""
        errors = np.zeros(len(self.series), dtype=bool)
        errors[[p for p, value in self.overlay.items() if value in EXCEL_ERRORS]] = True
        if self.kind == "text" and _may_contain(self.text, (b"#",)):
            errors |= _mask(pc.is_in(self.text, pa.array(EXCEL_ERRORS)))
        return errors

    def values_as_text(self, positions: np.ndarray) -> np.ndarray:
        """The cells at `positions` as the user wrote them, for the report."""
        subset = self.series.iloc[positions]
        if self.kind == "number":
            out = np.asarray(_number_text(subset.to_numpy("float64", na_value=np.nan)).fill_null(""), dtype=object)
        else:
            out = subset.astype("str").fillna("").to_numpy(dtype=object)
        for i, position in enumerate(positions):  # only the few unreadable cells
            if position in self.overlay:
                out[i] = self.overlay[position]
        return out


def _number_text(numbers: np.ndarray) -> pa.Array:
    """Numbers as the user wrote them: whole numbers in full (customer id 123456789012, phone
    79001234567, never 1.23456789012e+11), others in their shortest decimal form."""
    text = pc.cast(pa.array(numbers, from_pandas=True), pa.string())
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(numbers) & (numbers == np.trunc(numbers)) & (np.abs(numbers) < 2.0**53)
    if whole.any():
        ints = pc.cast(pa.array(np.where(whole, numbers, 0).astype("int64")), pa.string())
        text = pc.if_else(pa.array(whole), ints, text)
    return text


def _cells(series: pd.Series, header: str, overlay: dict[int, str] | None = None) -> _Cells:
    """Look at one input column once: its kind, which cells are empty, its trimmed text."""
    overlay = overlay or {}
    n = len(series)
    unreadable = np.zeros(n, dtype=bool)
    if overlay:
        unreadable[list(overlay)] = True
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        filled = series.notna().to_numpy() | unreadable
        return _Cells(header, "number", series, filled, unreadable, overlay)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        filled = series.notna().to_numpy() | unreadable
        return _Cells(header, "datetime", series, filled, unreadable, overlay)
    raw = pa.chunked_array([pa.array(series.astype("str"), from_pandas=True)]) if not _is_arrow_text(series) else _arrow_of(series)
    trimmed = pc.utf8_trim_whitespace(raw)
    empty = pc.equal(trimmed, "")
    text = pc.if_else(empty, pa.scalar(None, trimmed.type), trimmed) if pc.any(empty).as_py() else trimmed
    if overlay:
        text = pc.if_else(pa.array(unreadable), pa.array(_overlay_array(overlay, n), trimmed.type), text)
    filled = _mask(text.is_valid())
    return _Cells(header, "text", series, filled, unreadable, overlay, text)


def _is_arrow_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"


def _arrow_of(series: pd.Series) -> pa.ChunkedArray:
    """The pyarrow data behind an arrow-backed text column, without a copy."""
    data = pa.array(series.array)
    return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])


def _overlay_array(overlay: dict[int, str], n: int) -> list[str | None]:
    out: list[str | None] = [None] * n
    for position, value in overlay.items():
        out[position] = value
    return out


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean arrow column as a numpy mask, null counted as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


#: Byte strings whose absence proves a column has no stray inner spaces. U+2007, U+2009
#: and U+202F all start with the UTF-8 bytes E2 80, so one search looks for all three.
_ODD_SPACE_BYTES = (b"  ", "\u00a0".encode(), "\u2000".encode()[:2], b"\t", b"\n", b"\r")


def _may_contain(text: pa.ChunkedArray, needles: tuple[bytes, ...]) -> bool:
    """Whether any cell might contain one of `needles`: one fast search of the raw bytes.

    Most columns are clean, so this lets the rules that repair them cost nothing.
    """
    for chunk in text.chunks:
        data = chunk.buffers()[2]
        if data is not None:
            raw = data.to_pybytes()
            if any(needle in raw for needle in needles):
                return True
    return False


def _may_match(text: pa.ChunkedArray, pattern: re.Pattern) -> bool:
    """Like `_may_contain`, with one regular expression over the raw bytes (one pass)."""
    for chunk in text.chunks:
        data = chunk.buffers()[2]
        if data is not None and pattern.search(data.to_pybytes()):
            return True
    return False


def _positions(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


def _scatter(target: np.ndarray, mask: np.ndarray, values: np.ndarray) -> None:
    target[np.flatnonzero(mask)] = values


# --------------------------------------------------------------------------------------
# The parsers: one for numbers, one for dates, one for words
# --------------------------------------------------------------------------------------


def parse_amounts(cells: _Cells) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a column as float64, and a mask of filled cells that are not numbers.

    Text is read the way people write money: thousands separated by spaces (also NBSP
    and narrow NBSP), commas or dots; a decimal comma or dot; a currency sign or word
    before or after (₽, руб., $, €, USD …); accounting negatives `(500)`. A single
    comma followed by exactly three digits (`1,234`) is a thousands separator; a single
    dot is always a decimal point.
    """
    n = len(cells.series)
    if cells.kind == "number":
        values = cells.series.to_numpy("float64", na_value=np.nan).copy()
    elif cells.kind == "datetime":
        values = np.full(n, np.nan)
    else:
        values = _numbers_from_text(cells.text)
    values[~np.isfinite(values)] = np.nan
    values[cells.unreadable] = np.nan
    bad = cells.filled & np.isnan(values)
    return values, bad


def _numbers_from_text(text: pa.ChunkedArray) -> np.ndarray:
    """Parse text to float64 (NaN where it is not a number): plain numbers first, then the rest."""
    values = np.full(len(text), np.nan)
    plain = _mask(pc.match_substring_regex(text, _PLAIN_NUMBER))
    if plain.any():
        _scatter(values, plain, _to_float(text.filter(pa.array(plain))))
    rest = _mask(text.is_valid()) & ~plain
    if rest.any():
        cleaned = _normalise_number_text(text.filter(pa.array(rest)))
        ok = _mask(pc.match_substring_regex(cleaned, _PLAIN_NUMBER))
        parsed = np.full(len(cleaned), np.nan)
        _scatter(parsed, ok, _to_float(cleaned.filter(pa.array(ok))))
        _scatter(values, rest, parsed)
    return values


def _to_float(text: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(text, pa.float64()).to_numpy(), dtype="float64")


def _normalise_number_text(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """`1 234,56 ₽` → `1234.56`, `(500)` → `-500`, `1.234.567,8` → `1234567.8`."""
    s = pc.replace_substring_regex(text, r"(?i)^\s*" + _CURRENCY + r"\s*", "")
    s = pc.replace_substring_regex(s, r"(?i)\s*" + _CURRENCY + r"\s*$", "")
    s = pc.replace_substring(s, "\u2212", "-")  # the typographic minus sign
    s = pc.replace_substring_regex(s, "[" + _SPACES + "']", "")
    s = pc.replace_substring_regex(s, r"^\((.*)\)$", r"-\1")
    dot_groups = _mask(pc.match_substring_regex(s, r"^[+-]?[1-9]\d{0,2}(?:\.\d{3})+,\d+$|^[+-]?[1-9]\d{0,2}(?:\.\d{3}){2,}$"))
    comma_groups = _mask(pc.match_substring_regex(s, r"^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$"))
    decimal_comma = _mask(pc.match_substring_regex(s, r"^[+-]?\d*,\d+$")) & ~comma_groups
    dot_thousands = pc.replace_substring(pc.replace_substring(s, ".", ""), ",", ".")
    s = pc.if_else(pa.array(dot_groups), dot_thousands, s)
    s = pc.if_else(pa.array(comma_groups), pc.replace_substring(s, ",", ""), s)
    return pc.if_else(pa.array(decimal_comma), pc.replace_substring(s, ",", "."), s)


#: How to read a slash date such as 01/02/2024 whose column does not prove its order:
#: "DMY" (day first, as in Europe and Russia) unless TIERBOOK_DATE_ORDER says "MDY" (US).
DATE_ORDER_ASSUMED = ("day and month could be either way in every date of this column; read day first "
                      "(DD/MM/YYYY): for US dates (MM/DD/YYYY) set TIERBOOK_DATE_ORDER=MDY")
_SLASH_DATE = r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?:\d{4}|\d{2})(?:\s*г\.?)?" + _TIME + "$"


def date_order(cells: _Cells) -> tuple[str, int | None]:
    """The order of day and month in the column's slash dates ("DMY" or "MDY"), and the
    position of a cell it was assumed for (None when the column proves it or has no
    slash dates, or when TIERBOOK_DATE_ORDER names it).

    A date like 11/19/2023 proves month first, 19/11/2023 day first; dates with dots or
    dashes (19.11.2023) are always day first.
    """
    setting = os.environ.get("TIERBOOK_DATE_ORDER", "").strip().upper()
    if setting and setting not in ("DMY", "MDY"):
        raise InputError(f"TIERBOOK_DATE_ORDER must be DMY or MDY, got {setting!r}")
    if cells.kind != "text" or not _may_contain(cells.text, (b"/",)):
        return setting or "DMY", None
    parts = pc.extract_regex(cells.text, _SLASH_DATE)
    matched = _mask(parts.is_valid())
    if setting or not matched.any():
        return setting or "DMY", None
    parts = parts.filter(pa.array(matched))
    a, b = (np.asarray(pc.cast(pc.struct_field(parts, name), pa.int64()).to_numpy(), dtype="int64") for name in ("a", "b"))
    day_first, month_first = ((a > 12) & (b <= 12)).any(), ((b > 12) & (a <= 12)).any()
    if month_first and not day_first:
        return "MDY", None
    if day_first:
        return "DMY", None
    either = np.flatnonzero(a != b)
    return "DMY", (int(np.flatnonzero(matched)[either[0]]) if len(either) else None)


DOT_THOUSANDS = ("read as thousands (2.500 = 2500): the column's other amounts write decimals with a comma "
                 "(1.234,56); check it")


def _dot_thousands(cells: _Cells) -> np.ndarray:
    """Amounts like `2.500` in a column whose amounts write decimals with a comma (`1.234,56`,
    `99,5`): there the dot separates thousands, and such a cell is ambiguous."""
    n = len(cells.series)
    if cells.kind != "text" or not _may_contain(cells.text, (b",",)) or not _may_contain(cells.text, (b".",)):
        return np.zeros(n, dtype=bool)
    ambiguous = _mask(pc.match_substring_regex(cells.text, r"(?i)^[+-]?[1-9]\d{0,2}\.\d{3}(?:\s*" + _CURRENCY + ")?$"))
    if not ambiguous.any():
        return ambiguous
    decimal_comma = _mask(pc.match_substring_regex(cells.text, r"\d,\d{1,2}(?:\s*\D*)?$"))
    return ambiguous if decimal_comma.any() else np.zeros(n, dtype=bool)


def parse_dates(cells: _Cells, order: str = "DMY") -> tuple[np.ndarray, np.ndarray]:
    """Days of a column as datetime64[ns] (time of day dropped), and a mask of bad cells.

    Accepted: real dates; Excel serial numbers (1 … 80 000, fractions are the time of
    day); 8-digit numbers yyyymmdd; text `2013-11-19`, `2013-11-19 10:30`, `2013/11/19`,
    and day first `19.11.2013`, `19/11/2013`, `19-11-13` (two-digit years 69-99 are
    19xx, the others 20xx). Dates outside 1900 … 2118 are not payment dates.
    """
    n = len(cells.series)
    if cells.kind == "datetime":
        series = cells.series
        if getattr(series.dtype, "tz", None) is not None:
            series = series.dt.tz_localize(None)
        days = series.to_numpy().astype("datetime64[D]")
    elif cells.kind == "number":
        days = _days_from_numbers(cells.series.to_numpy("float64", na_value=np.nan))
    else:
        days = _days_from_text(cells.text, order)
    days = days.copy()
    days[(days < DATE_MIN) | (days >= DATE_MAX) | cells.unreadable] = np.datetime64("NaT")
    bad = cells.filled & np.isnat(days)
    return days.astype("datetime64[ns]"), bad


def _days_from_numbers(numbers: np.ndarray) -> np.ndarray:
    """Excel serials (and yyyymmdd numbers) → datetime64[D], NaT where neither."""
    days = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[D]")
    with np.errstate(invalid="ignore"):
        serial = (numbers >= 1) & (numbers < 80_000)
        ymd = (numbers >= 19000101) & (numbers <= 21181231) & (numbers == np.floor(numbers))
    whole = np.floor(numbers[serial]).astype("int64")
    # Excel counts a 29 February 1900 that never was (serial 60): serials before it are one
    # day later than the 1899-12-30 origin gives (serial 1 is 1900-01-01), 60 is no date.
    never = whole == 60
    whole = np.where(whole < 60, whole + 1, whole)
    days[serial] = np.where(never, np.datetime64("NaT"), EXCEL_EPOCH + whole.astype("timedelta64[D]"))
    if ymd.any():
        whole = numbers[ymd].astype("int64")
        days[ymd] = _days_from_parts(whole // 10_000, whole // 100 % 100, whole % 100)
    return days


def _days_from_parts(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Year, month, day numbers → datetime64[D]; NaT where they are no calendar date."""
    parts = pd.DataFrame({"year": year, "month": month, "day": day}, dtype="float64")
    return pd.to_datetime(parts, errors="coerce").to_numpy().astype("datetime64[D]")


def _days_from_text(text: pa.ChunkedArray, order: str = "DMY") -> np.ndarray:
    """Date text (ISO, day first, or an Excel serial written as text) → datetime64[D]."""
    days = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[D]")
    serial = _mask(pc.match_substring_regex(text, _SERIAL_TEXT))
    if serial.any():
        numbers = _to_float(pc.replace_substring(text.filter(pa.array(serial)), ",", "."))
        _scatter(days, serial, _days_from_numbers(numbers))
    for pattern in (_ISO_DATE, _DMY_DATE):
        parts = pc.extract_regex(text, pattern)
        matched = _mask(parts.is_valid())
        if not matched.any():
            continue
        parts = parts.filter(pa.array(matched))
        year, month, day = (
            np.asarray(pc.cast(pc.struct_field(parts, name), pa.int64()).to_numpy(), dtype="int64")
            for name in ("y", "m", "d")
        )
        year = np.where(year < 100, year + np.where(year < 69, 2000, 1900), year)
        if order == "MDY" and pattern == _DMY_DATE:  # US dates: only those written with slashes
            slash = _mask(pc.match_substring_regex(text.filter(pa.array(matched)), r"^\d{1,2}/"))
            day, month = np.where(slash, month, day), np.where(slash, day, month)
        _scatter(days, matched, _days_from_parts(year, month, day))
    return days


def _words(cells: _Cells, mapping: dict[str, object], key=None) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Map the cells through `mapping` (keys as `key` reduces the text); unknown → null, bad."""
    text = cells.text if cells.kind != "datetime" else pa.chunked_array([pa.nulls(len(cells.series), pa.string())])
    reduced = key(text) if key else pc.utf8_lower(text)
    index = pc.index_in(reduced, value_set=pa.array(list(mapping)))
    values = pc.take(pa.array(list(mapping.values())), index)
    bad = cells.filled & ~_mask(values.is_valid())
    return values, bad


def _channel_key(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """The arrow twin of header_key, for channel words like "E-mail" or "эл. почта"."""
    lower = pc.replace_substring(pc.utf8_lower(text), "ё", "е")
    return pc.replace_substring_regex(lower, r"[^\pL\pN]+", "")


#: Control characters (not tab, LF, CR, which are spaces here): removed from text, and
#: reported in the customer column (`ACME\x07` and `ACME` would look the same).
_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_REMOVED = "invisible control character removed"


def _clean_text(cells: _Cells, is_id: bool = False) -> pa.ChunkedArray:
    """Text with stray spaces removed: trimmed, inner runs of spaces (also NBSP) made one;
    control characters removed; accents composed (Unicode NFC), so that "Café" typed on
    a Mac and on Windows is one customer.

    Ids written by Excel as numbers come out as `1001`, not `1001.0`.
    """
    text = cells.text
    if cells.kind == "datetime":
        return text
    if _may_match(text, _CONTROL_BYTES):  # "ACME\x07" is ACME: the bell was never meant as text
        control = _mask(pc.match_substring_regex(text, _CONTROL))
        text = _replace_where(text, control, lambda t: pc.utf8_trim_whitespace(pc.replace_substring_regex(t, _CONTROL, "")))
    if _may_contain(text, (b"\xcc", b"\xcd")):  # combining accents (U+0300-U+036F): "Café" in NFD is "Café"
        decomposed = _mask(pc.match_substring_regex(text, "[\u0300-\u036f]"))
        text = _replace_where(text, decomposed, lambda t: pa.chunked_array([pa.array(
            [unicodedata.normalize("NFC", str(v)) for v in t.to_pandas()], t.type)]))
    if _may_contain(text, _ODD_SPACE_BYTES):
        needles = ("  ", *_SPACES[1:], "\n", "\r")
        odd_space = np.logical_or.reduce([_mask(pc.match_substring(text, needle)) for needle in needles])
        text = _replace_where(text, odd_space, lambda t: pc.replace_substring_regex(t, "[\\s" + _SPACES + "]+", " "))
    if is_id and cells.kind == "text" and _may_contain(text, (b".0",)):
        text = _replace_where(text, _mask(pc.ends_with(text, ".0")), lambda t: pc.replace_substring_regex(t, r"^(-?\d+)\.0+$", r"\1"))
    return text


def _replace_where(text: pa.ChunkedArray, mask: np.ndarray, change) -> pa.ChunkedArray:
    """`change` applied to the masked cells only (cheap when few cells need it)."""
    if not mask.any():
        return text
    where = pa.array(mask)
    changed = change(text.filter(where))
    return pa.chunked_array([pc.replace_with_mask(text.combine_chunks(), where, changed.combine_chunks())])


def _clean_time(cells: _Cells) -> pa.ChunkedArray:
    """Preferred contact time as text; Excel time cells become `HH:MM`."""
    if cells.kind == "datetime":
        return pa.chunked_array([pa.array(cells.series.dt.strftime("%H:%M"), from_pandas=True)])
    if cells.kind == "number":  # a fraction of a day
        numbers = cells.series.to_numpy("float64", na_value=np.nan)
        minutes = pd.Series(np.round((numbers % 1) * 1440), dtype="float64")
        text = (minutes // 60).astype("Int64").astype("str").str.zfill(2) + ":" + (minutes % 60).astype("Int64").astype("str").str.zfill(2)
        return pa.chunked_array([pa.array(text.where(minutes.notna()), from_pandas=True)])
    return pc.replace_substring_regex(_clean_text(cells), r"^1899-12-3[01][ T](\d{1,2}:\d{2}):00$", r"\1")


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


def clean_transactions(raw: pd.DataFrame, sheet: str = "data", first_row: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A raw table (header already used as column names) → (clean transactions, issues).

    Raw row i is row `first_row + i` of the user's sheet; that number is the index of
    the clean frame and the `row` of every issue. The input frame is not changed.
    Raises InputError when a required column (customer, date, amount) is missing.
    """
    return _clean(raw, sheet, first_row, {})


def _clean(
    raw: pd.DataFrame, sheet: str, first_row: int, unreadable: dict[object, dict[int, str]],
    formulas: dict[object, dict[int, str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """clean_transactions, plus the cells the file reader could not read ({header: {position: text}})
    and the formulas that were never calculated ({header: {position: "=formula"}})."""
    formulas = formulas or {}
    headers = list(raw.columns)
    found = match_columns(headers)
    missing = [column for column in REQUIRED if column not in found]
    if missing:
        seen = ", ".join(f'"{h}"' for h in headers) or "none"
        raise InputError(f'Sheet "{sheet}" has no column for {", ".join(missing)} (headers found: {seen})')

    n = len(raw)
    where = {column: headers.index(header) for column, header in found.items()}
    columns = [
        _cells(raw.iloc[:, i].reset_index(drop=True), str(header), unreadable.get(header))
        for i, header in enumerate(headers)
    ]
    cells = {column: columns[i] for column, i in where.items()}
    group = np.zeros(n, dtype=bool)
    if cells["customer"].kind == "text" and _may_contain(cells["customer"].text, (" от ".encode(),)):
        ungrouped, group = _ungroup_documents(raw, found, cells["customer"])
        if group.any():  # a 1C report grouped by customer: read its documents as the customer's rows
            columns = [
                _cells(ungrouped.iloc[:, i].reset_index(drop=True), str(header), unreadable.get(header))
                for i, header in enumerate(headers)
            ]
            cells = {column: columns[i] for column, i in where.items()}
    customer, date, amount = cells["customer"], cells["date"], cells["amount"]
    order, assumed_at = date_order(date)
    days, bad_date = parse_dates(date, order)
    amounts, bad_amount = parse_amounts(amount)
    report = _Report(sheet, first_row, [str(h) for h in headers])

    # Row-level rules: blank rows, repeated headers, totals rows.
    blank = ~np.logical_or.reduce([c.filled for c in columns]) if columns else np.ones(n, dtype=bool)
    header_row = ~blank & _repeats_header(cells, bad_date)
    label = _totals_label(customer) | _totals_label(date)
    if columns[0] is not customer and columns[0] is not date:  # e.g. "Итого" under a "№" column
        label |= _totals_label(columns[0])
    totals = ~blank & ~header_row & (label | (amount.filled & ~customer.filled & ~date.filled))
    report.rows(blank, BLANK_ROW)
    report.rows(header_row, HEADER_ROW, customer)
    report.rows(totals & customer.filled, TOTALS_ROW, customer)
    report.rows(totals & ~customer.filled & label, TOTALS_ROW, columns[0])
    report.rows(totals & ~customer.filled & ~label, TOTALS_ROW, amount)
    checked = ~(blank | header_row | totals)
    report.rows(checked & group, GROUP_ROW, customer)
    checked &= ~group

    # Required cells: a bad one drops the row, with one issue per bad cell.
    bad_required = np.zeros(n, dtype=bool)
    for name, cell, bad, problem in (
        ("customer", customer, np.zeros(n, dtype=bool), ""),
        ("date", date, bad_date, NOT_A_DATE),
        ("amount", amount, bad_amount, NOT_A_NUMBER),
    ):
        error = cell.excel_error()
        never = _where(formulas.get(headers[where[name]]), n) & ~cell.filled
        report.cells(checked & error, cell, EXCEL_ERROR)
        report.cells(checked & bad & ~error, cell, problem)
        report.texts(checked & never, cell, formulas.get(headers[where[name]]), NOT_CALCULATED)
        report.cells(checked & ~cell.filled & ~never, cell, f"{name} is empty")
        bad_required |= error | bad | ~cell.filled
    if assumed_at is not None:
        report.cells(_where({assumed_at: 1}, n), date, DATE_ORDER_ASSUMED)
    if customer.kind == "text" and _may_match(customer.text, _CONTROL_BYTES):
        report.cells(checked & ~bad_required & _mask(pc.match_substring_regex(customer.text, _CONTROL)), customer,
                     CONTROL_REMOVED)
    thousands = _dot_thousands(amount) & checked & ~bad_required
    if thousands.any():
        amounts = amounts.copy()
        amounts[thousands] = _numbers_from_text(pc.replace_substring(amount.text.filter(pa.array(thousands)), ".", ""))
        report.cells(thousands, amount, DOT_THOUSANDS)
    latest = latest_plausible_date()
    future = checked & ~bad_required & (days > np.datetime64(latest, "ns"))
    report.cells(future, date, f"{FUTURE_DATE} {latest:%Y-%m-%d}: a typo?)")
    keep = checked & ~bad_required & ~future

    # Optional cells: a bad one is reported and left empty; the row is kept.
    out: dict[str, object] = {"customer": _clean_text(customer, is_id=True), "date": days, "amount": amounts}
    for column in (c for c in COLUMNS if c in cells and c not in REQUIRED):
        cell = cells[column]
        error = cell.excel_error()
        report.cells(checked & error, cell, EXCEL_ERROR + LEFT_EMPTY)
        never = _where(formulas.get(headers[where[column]]), n) & ~cell.filled
        report.texts(checked & never, cell, formulas.get(headers[where[column]]), NOT_CALCULATED + LEFT_EMPTY)
        if column in ("units", "margin"):
            values, bad = parse_amounts(cell)
            report.cells(checked & bad & ~error, cell, NOT_A_NUMBER + LEFT_EMPTY)
        elif column == "consent":
            values, bad = _words(cell, CONSENT_WORDS)
            report.cells(checked & bad & ~error, cell, "not yes or no" + LEFT_EMPTY)
        elif column == "channel":
            values, bad = _words(cell, CHANNEL_WORDS, key=_channel_key)
            report.cells(checked & bad & ~error, cell, "not email, sms or phone" + LEFT_EMPTY)
        elif column == "contact_time":
            values = _clean_time(cell)
        else:
            values = _clean_text(cell, is_id=column == "order_id")
        out[column] = _blank_out(values, error) if error.any() else values

    kept = np.flatnonzero(keep)
    tx = pd.DataFrame({column: _take(column, values, kept) for column, values in out.items()})
    tx.index = pd.Index(first_row + kept, dtype="int64", name="row")
    return tx, report.frame()


#: A 1C document named in the customer column of a report grouped by customer:
#: "Реализация товаров и услуг 00000012 от 10.04.2024 12:00:00".
_DOCUMENT = r"^\S.*\sот\s+(\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2}))(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*г?\.?$"
GROUP_ROW = "customer group row (a subtotal: its documents below are read as its payments), skipped"


def _ungroup_documents(raw: pd.DataFrame, found: dict[str, object], customer: _Cells) -> tuple[pd.DataFrame, np.ndarray]:
    """A 1C report grouped by customer → one row per document, under its customer.

    In such a report the customer column holds a customer's name on a group row (with
    the customer's subtotal) and then the documents "… от 10.04.2024" under it. Each
    document row gets the customer of the group row above it (and, when its date cell
    is empty, the date in the document's name); returns the changed copy of RAW and the
    group rows, which are subtotals and not payments. A name row with no document under
    it stays an ordinary row; a totals row ("Итого") ends a group.
    """
    n = len(raw)
    text = pd.Series(np.asarray(customer.text.to_pandas(), dtype=object))
    dates = text.str.extract(_DOCUMENT, expand=False)
    doc = dates.notna().to_numpy()
    label = _totals_label(customer)
    head = customer.filled & ~doc & ~label
    marker = text.where(head)
    marker[label] = ""
    owner = marker.ffill()
    owned = doc & owner.notna().to_numpy() & (owner != "").to_numpy()
    if not owned.any():
        return raw, np.zeros(n, dtype=bool)
    section = np.cumsum(head | label)
    group = head & np.isin(section, np.unique(section[owned]))
    out = raw.copy()
    names = out[found["customer"]].astype(object).to_numpy(copy=True)
    names[owned] = owner.to_numpy()[owned]
    out[found["customer"]] = names
    day = out[found["date"]].astype(object).to_numpy(copy=True)
    empty = owned & pd.isna(day)
    day[empty] = dates.to_numpy()[empty]
    out[found["date"]] = day
    return out, group


def _where(positions: dict[int, object] | None, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if positions:
        mask[list(positions)] = True
    return mask


def _take(column: str, values: object, positions: np.ndarray) -> object:
    """The kept rows of one clean column, in the dtype schema.py promises."""
    if isinstance(values, np.ndarray):
        return values[positions] if len(positions) < len(values) else values
    if len(positions) < len(values):
        values = pc.take(values, pa.array(positions, type=pa.int64()))
    taken = values.to_pandas()
    return pd.array(taken, dtype="boolean" if column == "consent" else "str")


def _blank_out(values: object, mask: np.ndarray) -> object:
    if isinstance(values, np.ndarray):
        values = values.copy()
        values[mask] = np.nan
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _totals_label(cells: _Cells) -> np.ndarray:
    """Cells that are a totals label such as "Итого", "Total:" or "Grand total"."""
    found = np.zeros(len(cells.series), dtype=bool)
    if cells.kind != "text":
        return found
    start = pc.utf8_lower(pc.utf8_slice_codeunits(cells.text, 0, 3))  # a cheap first look
    maybe = _mask(pc.is_in(start, pa.array(_TOTALS_START)))
    if maybe.any():
        _scatter(found, maybe, _mask(pc.match_substring_regex(cells.text.filter(pa.array(maybe)), TOTALS_LABEL)))
    return found


def _repeats_header(cells: dict[str, _Cells], bad_date: np.ndarray) -> np.ndarray:
    """Rows whose customer, date and amount cells are header names of those columns again.

    Only rows whose date is not a date can be such rows, so only they are looked at.
    """
    candidates = bad_date.copy()
    for column in REQUIRED:
        if not candidates.any():
            return candidates
        cell = cells[column]
        if cell.kind != "text":
            return np.zeros_like(candidates)
        subset = cell.text.filter(pa.array(candidates))
        names = pc.index_in(_channel_key(subset), value_set=pa.array(list(_HEADER_LOOKUP)))
        canonical = pc.take(pa.array(list(_HEADER_LOOKUP.values())), names)
        candidates[np.flatnonzero(candidates)] = _mask(pc.equal(canonical, column))
    return candidates


class _Report:
    """Collects issues as whole columns (never one row at a time) and builds the issues frame."""

    def __init__(self, sheet: str, first_row: int, headers: list[str]) -> None:
        self.sheet, self.first_row, self.headers = sheet, first_row, headers
        self.parts: list[pd.DataFrame] = []

    def rows(self, mask: np.ndarray, problem: str, value_from: _Cells | None = None) -> None:
        positions = _positions(mask)
        if len(positions):
            values = value_from.values_as_text(positions) if value_from is not None else np.full(len(positions), "", dtype=object)
            self._add(positions, "", -1, values, problem)

    def texts(self, mask: np.ndarray, cells: _Cells, texts: dict[int, str] | None, problem: str) -> None:
        """Like `cells`, with the values shown taken from `texts` ({position: text})."""
        positions = _positions(mask)
        if len(positions):
            values = np.array([(texts or {}).get(p, "") for p in positions], dtype=object)
            self._add(positions, cells.header, self.headers.index(cells.header), values, problem)

    def cells(self, mask: np.ndarray, cells: _Cells, problem: str) -> None:
        positions = _positions(mask)
        if len(positions):
            self._add(positions, cells.header, self.headers.index(cells.header), cells.values_as_text(positions), problem)

    def _add(self, positions: np.ndarray, column: str, order: int, values: np.ndarray, problem: str) -> None:
        self.parts.append(
            pd.DataFrame(
                {"row": self.first_row + positions, "column": column, "value": values, "problem": problem, "_order": order}
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return issues_frame()
        issues = pd.concat(self.parts, ignore_index=True).sort_values(["row", "_order"], kind="stable")
        issues.insert(0, "sheet", self.sheet)
        issues = issues[ISSUE_COLUMNS].reset_index(drop=True)
        return issues.astype({"sheet": "str", "row": "int64", "column": "str", "value": "str", "problem": "str"})


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def read_transactions(path: str | Path, sheet: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a transactions file (.xlsx/.xlsm, .csv, .parquet) → (clean transactions, issues).

    Workbooks: the first sheet, or the one named; the header is the first non-empty row
    and issue rows are the workbook's row numbers. CSV: comma or semicolon, UTF-8 (with
    or without BOM) or cp1251, found from the file itself; the header is the first
    non-empty line. Parquet: rows are numbered from 2, as if written to a sheet under a
    header row. Raises InputError for a missing file, an unknown extension, a missing
    sheet or a missing required column.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"File not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_workbook(path, sheet)
    if suffix == ".csv":
        kind = what_file_is(path)
        if kind in _NOT_CSV:
            raise InputError(_NOT_CSV[kind].format(name=path.name, stem=path.stem))
        raw, first_row = _read_csv(path)
        return _clean(raw, path.name, first_row, {})
    if suffix == ".parquet":
        try:
            raw = pd.read_parquet(path)
        except Exception as e:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputError(f"Cannot read {path.name}: {e}") from None
        return _clean(raw.reset_index(drop=True), path.name, 2, {})
    raise InputError(f'Cannot read "{path.name}": use an .xlsx, .xlsm, .csv or .parquet file')


def _read_workbook(path: Path, sheet: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load one sheet with fastexcel, keeping typed columns typed, and clean it."""
    raw, sheet, first_row, unreadable = load_sheet(path, sheet)
    found = match_columns(list(raw.columns))
    formulas: dict = {}
    if any(raw[found[c]].isna().any() for c in REQUIRED if c in found):
        raw, formulas = _fill_merged_and_find_formulas(path, sheet, raw, first_row)
    return _clean(raw, sheet, first_row, unreadable, formulas)


def load_sheet(path: str | Path, sheet: str | None = None) -> tuple[pd.DataFrame, str, int, dict]:
    """One sheet of a workbook as a raw frame, with the sheet's name, the row number of
    its first data row, and the cells fastexcel could not read ({header: {position: text}}).

    The header is the first non-empty row, or, when that row does not name the customer,
    date and amount columns (a report title above the table, as 1C writes), the first of
    the sheet's first HEADER_SEARCH_ROWS rows that does. The file is checked first
    (`check_workbook_file`): what it really is, its unpacked size, no DOCTYPE. Cells
    fastexcel cannot read at all (`#NAME?`, `#SPILL!` …) make it read the sheet with
    openpyxl instead, so they are reported like any other Excel error value.
    """
    fastexcel = _fastexcel()

    path = Path(path)
    if not path.is_file():
        raise InputError(f"File not found: {path}")
    check_workbook_file(path)
    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
    except Exception as e:  # noqa: BLE001 - a corrupt or encrypted workbook
        raise InputError(f"Cannot read {path.name} as a workbook: {_first_line(e)}") from None
    if sheet is None:
        if not names:
            raise InputError(f"{path.name} has no sheets")
        sheet = names[0]
    elif sheet not in names:
        listed = ", ".join(f'"{name}"' for name in names)
        raise InputError(f'No sheet "{sheet}" in {path.name}; its sheets are {listed}')
    try:
        raw, errors, header = _fastexcel_sheet(fastexcel, reader, sheet)
    except Exception as e:  # noqa: BLE001 - calamine refuses some cells; anything else is a bad file
        if not _openpyxl_can_read(e):
            raise InputError(f'Cannot read sheet "{sheet}" of {path.name}: {_first_line(e)}') from None
        raw, first_row = _openpyxl_sheet(path, sheet)
        unreadable: dict = {}
    else:
        first_row = _first_used_row(path, sheet) + header + 1
        unreadable = _unreadable_cells(errors, list(raw.columns))
    if raw.shape[1] == 0:
        others = [n for n in names if n != sheet]
        hint = (f"choose the sheet with the transactions with --sheet; its sheets are "
                + ", ".join(f'"{n}"' for n in names)) if others else "it has no other sheets"
        raise InputError(f'Sheet "{sheet}" of {path.name} is empty: {hint}')
    return raw, sheet, first_row, unreadable


#: How many rows from the top of a sheet are searched for the header row.
HEADER_SEARCH_ROWS = 30


def _fastexcel_sheet(fastexcel, reader, sheet: str) -> tuple[pd.DataFrame, object, int]:
    """The sheet as fastexcel reads it: (raw frame, cell errors, header index from the first used row)."""
    # schema_sample_rows=None: a column's type is guessed from all its cells, so a column
    # with one text cell among numbers is read as text (nothing coerced to empty); a
    # column fastexcel cannot type at all (e.g. durations and numbers) is read as text.
    def load(header: int):
        try:
            return reader.load_sheet(sheet, header_row=header, schema_sample_rows=None).to_arrow_with_errors()
        except fastexcel.UnsupportedColumnTypeCombinationError:
            return reader.load_sheet(sheet, header_row=header, dtypes="string").to_arrow_with_errors()

    batch, errors = load(0)
    header = 0
    if batch.num_columns and not _names_required(batch.schema.names):
        top = reader.load_sheet(sheet, header_row=None, n_rows=HEADER_SEARCH_ROWS, dtypes="string").to_pandas()
        found = _header_index(top.itertuples(index=False, name=None))
        if found:
            header = found
            batch, errors = load(header)
    return batch.to_pandas(), errors, header


def _names_required(headers: list[object]) -> bool:
    return all(column in match_columns(list(headers)) for column in REQUIRED)


def _header_index(rows) -> int:
    """The index of the first row naming the customer, date and amount columns (0 when none does)."""
    for i, row in enumerate(rows):
        if i >= HEADER_SEARCH_ROWS:
            break
        if _names_required([cell for cell in row if cell is not None and cell == cell]):
            return i
    return 0


def _openpyxl_can_read(error: Exception) -> bool:
    """Whether fastexcel failed on a cell value it does not know (#NAME?, #SPILL! …)."""
    text = str(error)
    return "cell error" in text or "Unsupported cell error value" in text


def _openpyxl_sheet(path: Path, sheet: str) -> tuple[pd.DataFrame, int]:
    """The sheet read with openpyxl (slower; for sheets fastexcel cannot read): the raw
    frame, header found as fastexcel would, error cells as the text Excel shows."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = [list(row) for row in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()
    used = [i for i, row in enumerate(rows) if any(v is not None and str(v).strip() for v in row)]
    if not used:
        return pd.DataFrame(), 1
    rows = rows[used[0]:used[-1] + 1]
    width = max(len(row) for row in rows)
    rows = [row + [None] * (width - len(row)) for row in rows]
    left = min(next(j for j, v in enumerate(row) if v is not None) for row in rows if any(v is not None for v in row))
    rows = [row[left:] for row in rows]
    header = _header_index(rows)
    names, seen = [], set()
    for j, cell in enumerate(rows[header]):
        name = f"__UNNAMED__{j}" if cell is None or not str(cell).strip() else str(cell)
        while name in seen:
            name += "_1"
        seen.add(name)
        names.append(name)
    raw = pd.DataFrame(rows[header + 1:], columns=names, dtype=object)
    for name in names:  # typed columns stay typed, as fastexcel gives them
        values = raw[name].dropna()
        if len(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raw[name] = pd.to_numeric(raw[name]).astype("float64")
        elif len(values) and all(isinstance(v, dt.datetime) for v in values):
            raw[name] = pd.to_datetime(raw[name])
    return raw, used[0] + 1 + header + 1


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# --------------------------------------------------------------------------------------
# What a file really is
# --------------------------------------------------------------------------------------

#: Limits on what a workbook may unpack to (a small file can unpack to gigabytes: a "zip
#: bomb"). Raise them with the environment variables of the same names.
TIERBOOK_MAX_UNPACKED_MB = 2048
TIERBOOK_MAX_ZIP_RATIO = 200
_RATIO_FROM_MB = 16  # parts smaller than this unpacked are never too compressed

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _limit(name: str) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return float(globals()[name])
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{name} must be a number, got {value!r}") from None


def what_file_is(path: Path) -> str:
    """What the file's first bytes say it is: zip, ole2 (.xls or an encrypted workbook),
    parquet, empty, utf16, html, xml2003 (Excel 2003 XML), text or binary."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(_OLE2):
        return "ole2"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(head):
        return "utf16"
    lower = head.lstrip(codecs.BOM_UTF8).lstrip().lower()
    if lower.startswith((b"<!doctype html", b"<html", b"<table")) or b"<html" in lower[:512]:
        return "html"
    if lower.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in lower:
        return "xml2003"
    if b"\x00" in head:
        return "binary"
    return "text"


def _utf16_without_bom(head: bytes) -> str:
    """ "utf-16-le" or "utf-16-be" when the bytes have NULs (no 8-bit text has) and read
    as UTF-16 into printable text; else ""."""
    sample = head[: len(head[:400]) // 2 * 2]
    if b"\x00" not in sample:
        return ""
    for codec in ("utf-16-le", "utf-16-be"):
        text = sample.decode(codec, errors="replace")
        if sum(c.isprintable() or c in "\t\r\n" for c in text) >= 0.95 * len(text):
            return codec
    return ""


def _not_a_workbook(path: Path, kind: str) -> str:
    """What to tell the user whose .xlsx file is something else."""
    name, stem = path.name, path.stem
    return {
        "empty": f"{name} is empty (0 bytes): export the data again",
        "ole2": f"{name} is an old Excel 97-2003 workbook (.xls) or a password-protected workbook, not an .xlsx: "
                f"open it in Excel, remove any password and save it as an Excel Workbook (.xlsx)",
        "parquet": f"{name} is a Parquet file, not an Excel workbook: rename it to {stem}.parquet",
        "utf16": f"{name} is a text file (Unicode text or CSV), not an Excel workbook: rename it to {stem}.csv",
        "text": f"{name} is a text file (CSV), not an Excel workbook: rename it to {stem}.csv",
        "html": f"{name} is a web page (HTML) saved under a workbook's name, not an Excel workbook: open it in "
                f"Excel and save it as an Excel Workbook (.xlsx)",
        "xml2003": f"{name} is an Excel 2003 XML spreadsheet, not an .xlsx workbook: open it in Excel and save it "
                   f"as an Excel Workbook (.xlsx)",
    }.get(kind, f"{name} is not an Excel workbook (.xlsx): open it in Excel and save it as an Excel Workbook")


def check_workbook_file(path: Path) -> None:
    """Refuse, with a sentence a manager understands, a workbook file that is something
    else (a CSV, an .xls or a web page under an .xlsx name), that is damaged, that would
    unpack to more than TIERBOOK_MAX_UNPACKED_MB or TIERBOOK_MAX_ZIP_RATIO times its
    compressed size (a zip bomb), or whose XML declares a DOCTYPE (entities, which Excel
    never writes: refused rather than parsed, so nothing is ever expanded)."""
    kind = what_file_is(path)
    if kind != "zip":
        raise InputError(_not_a_workbook(path, kind))
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"{path.name} is damaged or incomplete (not a whole Excel workbook): export or "
                         f"download it again") from None
    with book:
        members = book.infolist()
        names = {m.filename for m in members}
        if "xl/workbook.xml" not in names:
            if "content.xml" in names:
                raise InputError(f"{path.name} is an OpenDocument spreadsheet (LibreOffice .ods), not an Excel "
                                 f"workbook: save it as an Excel Workbook (.xlsx)")
            raise InputError(f"{path.name} is a zip archive but not an Excel workbook: export the data as .xlsx")
        max_mb, max_ratio = _limit("TIERBOOK_MAX_UNPACKED_MB"), _limit("TIERBOOK_MAX_ZIP_RATIO")
        unpacked = sum(m.file_size for m in members)
        packed = max(1, sum(m.compress_size for m in members))
        worst = max(members, key=lambda m: m.file_size / max(1, m.compress_size))
        too_big = unpacked > max_mb * 2**20
        too_packed = worst.file_size > _RATIO_FROM_MB * 2**20 and worst.file_size / max(1, worst.compress_size) > max_ratio
        if too_big or too_packed:
            what = (f"unpacks to {unpacked / 2**20:,.0f} MB, more than the {max_mb:,.0f} MB tierbook reads" if too_big
                    else f"has a part ({worst.filename}) that unpacks to {worst.file_size / max(1, worst.compress_size):,.0f}"
                         f" times its packed size, more than the {max_ratio:,.0f} times tierbook reads")
            raise InputError(
                f"{path.name} {what} (a file built to exhaust memory looks like this): if it is a genuine workbook, "
                f"raise the limit with the environment variable "
                f"{'TIERBOOK_MAX_UNPACKED_MB' if too_big else 'TIERBOOK_MAX_ZIP_RATIO'} and run again")
        for member in members[:1000]:
            if member.filename.endswith((".xml", ".rels")):
                with book.open(member) as part:
                    start = part.read(8192)
                if b"<!doctype" in start.lower() or b"<!entity" in start.lower():
                    raise InputError(
                        f"{path.name} is not a workbook as Excel writes it: its part {member.filename} declares a "
                        f"DOCTYPE (XML entities), which tierbook does not read; open the file in Excel and save it "
                        f"again, or export it again")


FASTEXCEL_MISSING = ("Reading .xlsx files needs fastexcel, which is not installed (xlwings Lite has none): "
                     "pip install fastexcel, or in Excel use the workbook's own sheets")


def _fastexcel():
    """fastexcel, imported when a workbook file is read (xlwings Lite reads the open book instead)."""
    try:
        import fastexcel
    except ImportError:
        raise InputError(FASTEXCEL_MISSING) from None
    return fastexcel


def _unreadable_cells(errors: object, headers: list[object]) -> dict[object, dict[int, str]]:
    """Cells fastexcel left empty because it could not read them: {header: {position: text}}.

    Excel error values (#N/A …) are given back as Excel shows them; an empty text cell
    in a number column is simply empty.
    """
    found: dict[object, dict[int, str]] = {}
    for error in getattr(errors, "errors", None) or []:
        row, column = error.offset_position
        match = re.search(r"got '(\w+)\((.*)\)'$", error.detail)
        kind, inner = (match.group(1), match.group(2)) if match else ("", error.detail)
        if kind == "String":
            inner = inner.strip('"')
            if not inner.strip():
                continue
        elif kind == "Error":
            inner = _FASTEXCEL_ERRORS.get(inner, "#" + inner.upper())
        found.setdefault(headers[column], {})[row] = inner
    return found


def _first_used_row(path: Path, sheet: str) -> int:
    """The row number of the first non-empty row of a sheet (where fastexcel's data starts).

    fastexcel numbers rows from the first non-empty one; the user needs real row numbers,
    so the sheet's XML is read until its first cell with a value (a few kilobytes).
    """
    from defusedxml.ElementTree import iterparse, parse

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    try:
        with zipfile.ZipFile(path) as book:
            member = _sheet_part(book, sheet)
            if member is None:
                return 1
            row = 0
            with book.open(member) as xml:
                for event, element in iterparse(xml, events=("start", "end")):
                    name = local(element.tag)
                    if event == "start" and name == "row":
                        row = int(element.get("r") or row + 1)
                    elif event == "end" and name == "c":
                        if any(local(child.tag) in ("v", "is") and (child.text or len(child)) for child in element):
                            reference = element.get("r")
                            return int(re.sub(r"\D", "", reference)) if reference else row
                        element.clear()
    except (KeyError, StopIteration, ValueError, zipfile.BadZipFile, OSError):
        return 1
    return 1


def _sheet_part(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The name of the zip member holding the sheet's XML (xl/worksheets/sheet1.xml …)."""
    from defusedxml.ElementTree import parse

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    relation = None
    for element in parse(book.open("xl/workbook.xml")).iter():
        if local(element.tag) == "sheet" and element.get("name") == sheet:
            relation = next(v for k, v in element.attrib.items() if local(k) == "id")
    target = None
    for element in parse(book.open("xl/_rels/workbook.xml.rels")).iter():
        if local(element.tag) == "Relationship" and element.get("Id") == relation:
            target = element.get("Target")
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)


_P = rb"(?:\w+:)?"  # an optional namespace prefix
_MERGE = re.compile(rb"<" + _P + rb'mergeCell\b[^>]*\bref="\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)"')
#: a cell with a formula and no value (written by a program, never calculated by Excel)
_UNCALCULATED = re.compile(
    rb"<" + _P + rb"c\b([^>]*)>\s*<" + _P + rb"f\b[^>]*?(?:/>|>([^<]*)</" + _P + rb"f>)\s*"
    rb"(?:<" + _P + rb"v\s*/>|<" + _P + rb"v>\s*</" + _P + rb"v>)?\s*</" + _P + rb"c>")


def _column_number(letters: bytes | str) -> int:
    number = 0
    for letter in letters.decode() if isinstance(letters, bytes) else letters:
        number = number * 26 + ord(letter) - 64
    return number


def _fill_merged_and_find_formulas(path: Path, sheet: str, raw: pd.DataFrame,
                                   first_row: int) -> tuple[pd.DataFrame, dict[object, dict[int, str]]]:
    """Read what fastexcel does not give: merged cells (a customer written once in A2
    for rows 2-4) are filled down into their rows, except in number columns (one amount
    merged over rows is one amount); and formulas without a value (the file was written
    by a program and never calculated) are found: {header: {position: "=formula"}}.

    This reads the whole sheet's XML, so it is done only when a required column has
    empty cells (the only case either can matter)."""
    from xml.sax.saxutils import unescape

    try:
        with zipfile.ZipFile(path) as book:
            member = _sheet_part(book, sheet)
            data = book.read(member) if member else b""
    except (KeyError, StopIteration, ValueError, zipfile.BadZipFile, OSError):
        return raw, {}
    first_col = 0
    for number in range(1, 16385):  # the leftmost column with a value is fastexcel's first column
        letters, n = "", number
        while n:
            n, rest = divmod(n - 1, 26)
            letters = chr(65 + rest) + letters
        if re.search(rb"<" + _P + rb'c\b[^>]*\br="' + letters.encode() + rb'\d+"[^>]*>(?:(?!</' + _P + rb"c>).)*?<"
                     + _P + rb"(?:v|is)\b", data, re.S):
            first_col = number
            break
    if not first_col:
        return raw, {}
    headers = list(raw.columns)
    numeric = {header for column, header in match_columns(headers).items() if column in NUMERIC}
    filled = None
    for left, top, right, bottom in _MERGE.findall(data):
        j, top, bottom = _column_number(left) - first_col, int(top) - first_row, int(bottom) - first_row
        if bottom <= top or top < 0 or not 0 <= j < len(headers) or headers[j] in numeric:
            continue
        if filled is None:
            filled = raw.copy()
        column = filled.iloc[:, j]
        below = column.iloc[top + 1:bottom + 1]
        if pd.notna(column.iloc[top]) and below.isna().all():
            filled.iloc[top + 1:bottom + 1, j] = column.iloc[top]
    formulas: dict[object, dict[int, str]] = {}
    for match in _UNCALCULATED.finditer(data):
        reference = re.search(rb'\br="([A-Z]{1,3})(\d+)"', match.group(1))
        if reference is None:
            continue
        j, position = _column_number(reference.group(1)) - first_col, int(reference.group(2)) - first_row
        if 0 <= j < len(headers) and 0 <= position < len(raw):
            formulas.setdefault(headers[j], {})[position] = "=" + unescape((match.group(2) or b"").decode("utf-8", "replace"))
    return (raw if filled is None else filled), formulas


#: What to tell the user whose .csv file is something else ({name}, {stem}: the file's name).
_NOT_CSV = {
    "empty": "{name} is empty (0 bytes): export the data again",
    "zip": "{name} is an Excel workbook (.xlsx), not a CSV text file: rename it to {stem}.xlsx",
    "ole2": "{name} is an old Excel 97-2003 workbook (.xls), not a CSV text file: open it in Excel and save it "
            "as an Excel Workbook (.xlsx) or as CSV",
    "parquet": "{name} is a Parquet file, not a CSV text file: rename it to {stem}.parquet",
    "binary": "{name} is not a text file, so not a CSV: export the data again as CSV or .xlsx",
}


def csv_encoding(path: Path) -> str:
    """The encoding of the CSV file PATH, from its start: UTF-16 as Excel's "Unicode text"
    writes it (with or without BOM), UTF-8 with or without BOM, else cp1251. The one rule
    for the reader and the copy of the user's sheet (workbook.copy_source)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    codec = _utf16_without_bom(head[:4096])
    if codec:
        return codec
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


def csv_layout(lines: list[str]) -> tuple[int, str]:
    """Where the header is among the CSV's first LINES (a title above it, as 1C writes,
    is skipped; else the first line that is not blank) and the separator: the most
    frequent of `;`, `,` and tab in the header line. (skipped lines, separator)."""
    skip = next((i for i, line in enumerate(lines) if line.strip()), 0)
    for i, line in enumerate(lines[:HEADER_SEARCH_ROWS]):
        if line.strip() and any(_names_required([cell.strip().strip('"') for cell in line.split(sep)])
                                for sep in (";", ",", "\t")):
            skip = i
            break
    header_line = lines[skip] if lines else ""
    return skip, max((";", ",", "\t"), key=header_line.count)


def _read_csv(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a CSV as text columns; return it with the line number of its first data row.

    The encoding and the separator are found from the file's start (csv_encoding,
    csv_layout). Blank lines are kept as rows, so that row numbers are line numbers.
    """
    encoding = csv_encoding(path)
    utf16 = encoding.startswith("utf-16")
    if utf16:
        try:
            text = path.read_bytes().decode(encoding)
        except UnicodeDecodeError:
            raise InputError(f"{path.name} looks like UTF-16 text but is damaged: export it again") from None
        path = io.StringIO(text)  # type: ignore[assignment] - read from memory below
        head = text[: 1 << 15].encode("utf-8")
        encoding = "utf-8"
    else:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    skip, sep = csv_layout(head.decode(encoding, errors="replace").splitlines())
    options = dict(
        sep=sep, dtype="str", skiprows=skip, skip_blank_lines=False, keep_default_na=False, na_values=[""],
    )
    name = getattr(path, "name", "the CSV file")
    try:
        if utf16:
            raw = pd.read_csv(path, engine="c", **options)
            return raw, skip + 2
        try:
            raw = pd.read_csv(path, encoding=encoding, engine="pyarrow", **options)
        except Exception:  # noqa: BLE001 - pyarrow refuses some files (quoted newlines, …)
            try:
                raw = pd.read_csv(path, encoding=encoding, engine="c", **options)
            except UnicodeDecodeError:
                raw = pd.read_csv(path, encoding="cp1251", engine="c", **options)
    except pd.errors.EmptyDataError:
        raw = pd.DataFrame()
    except Exception as e:  # noqa: BLE001
        raise InputError(f"Cannot read {name} as CSV: {_first_line(e)}") from None
    return raw, skip + 2


# --------------------------------------------------------------------------------------
# The reactivation contact log
# --------------------------------------------------------------------------------------

#: Header names of the contact log managers keep (DOMAIN §6).
CONTACT_LOG_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": ALIASES["customer"],
    "date": ("date", "contact date", "contacted on", "дата", "дата контакта", "дата звонка"),
    "variant": ("variant", "message", "version", "вариант", "сообщение"),
    "channel": ALIASES["channel"],
    "note": ("note", "outcome", "outcome note", "comment", "result", "примечание", "результат", "комментарий"),
}
CONTACT_LOG_COLUMNS = list(CONTACT_LOG_ALIASES)


def clean_contact_log(raw: pd.DataFrame, sheet: str, first_row: int = 2,
                      variants: str = "ABCDE") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A contact log as managers typed it → (clean log, issues), like the transactions:
    a row without a customer, a date or a known variant is reported and left out."""
    lookup = {header_key(name): column for column, names in CONTACT_LOG_ALIASES.items() for name in (column, *names)}
    headers = list(raw.columns)
    found: dict[str, int] = {}
    for i, header in enumerate(headers):
        found.setdefault(lookup.get(header_key(header), ""), i)
    missing = [c for c in ("customer", "date", "variant") if c not in found]
    if missing:
        seen = ", ".join(f'"{h}"' for h in headers) or "none"
        raise InputError(f'Sheet "{sheet}" has no column for {", ".join(missing)} (headers found: {seen})')
    columns = [_cells(raw.iloc[:, i].reset_index(drop=True), str(h)) for i, h in enumerate(headers)]
    cells = {column: columns[i] for column, i in found.items() if column}
    report = _Report(sheet, first_row, [str(h) for h in headers])
    n = len(raw)
    blank = ~np.logical_or.reduce([c.filled for c in columns]) if columns else np.ones(n, dtype=bool)
    report.rows(blank, BLANK_ROW)
    days, bad_date = parse_dates(cells["date"])
    variant, bad_variant = _words(cells["variant"], {v.lower(): v for v in variants})
    checked = ~blank
    report.cells(checked & ~cells["customer"].filled, cells["customer"], "customer is empty")
    report.cells(checked & bad_date, cells["date"], NOT_A_DATE)
    report.cells(checked & ~cells["date"].filled, cells["date"], "date is empty")
    report.cells(checked & bad_variant, cells["variant"], f"not a variant ({', '.join(variants)})")
    report.cells(checked & ~cells["variant"].filled, cells["variant"], "variant is empty")
    keep = np.flatnonzero(checked & cells["customer"].filled & ~np.isnat(days) & _mask(variant.is_valid()))
    out = {"customer": _clean_text(cells["customer"], is_id=True), "date": days, "variant": variant}
    if "channel" in cells:
        channel, bad_channel = _words(cells["channel"], CHANNEL_WORDS, key=_channel_key)
        report.cells(checked & bad_channel, cells["channel"], "not email, sms or phone" + LEFT_EMPTY)
        out["channel"] = channel
    if "note" in cells:
        out["note"] = _clean_text(cells["note"])
    log = pd.DataFrame({column: _take(column, values, keep) for column, values in out.items()})
    log.index = pd.Index(first_row + keep, dtype="int64", name="row")
    return log, report.frame()
