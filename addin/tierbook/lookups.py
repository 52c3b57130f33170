"""=SEGMENT(A2) answered by the workbook itself: lookups into its Customers table.

A manager types =SEGMENT(A2), =LIFECYCLE(A2), =NEXT_CONTACT(A2) ... beside a customer.
The answer is what the workbook holds, its Customers table (tbCustomers), never a
classification kept in a server's memory:

- Excel 365 (Windows, Mac, the web): every workbook tierbook writes (the file writer
  and the ribbon) carries workbook-level LAMBDA names, one per function, so the very
  formula =SEGMENT(A2) works without the add-in, in an emailed copy too, and
  recalculates when the Customers table changes (a ribbon run rewrites it).
- LibreOffice and Excel before LAMBDA: the plain formula of `fallback_formula`
  (INDEX / MATCH over the same table columns), or the add-in's function with the
  table as argument, =TIERBOOK.SEGMENT(A2, tbCustomers[#All]) (`customer_answers`).

The table columns are named by their headers, so the Russian workbook (Клиенты,
Сегмент, ...) is looked up in its own columns; the engine's column keys stay English.
Pure: no xlwings, so the file writer and the command line use it too.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping, Sequence

import pandas as pd

from . import labels
from .schema import InputError
from .segment import CUSTOMER_COLUMNS

#: The workbook's per-customer functions: defined name → the Customers column it
#: answers. The one list: the defined names, the add-in's functions and the object
#: handles (tierbook.excel.HANDLE_FIELDS) all answer these.
CUSTOMER_FUNCTIONS: Mapping[str, str] = {
    "SEGMENT": "segment",
    "LIFECYCLE": "lifecycle",
    "QUADRANT": "quadrant",
    "NEXT_CONTACT": "next_contact",
    "VIP_MONTHS": "vip_months",
    "SIZE_TIER": "size_tier",
}
#: The fields the functions answer, in order.
CUSTOMER_FIELDS: tuple[str, ...] = tuple(CUSTOMER_FUNCTIONS.values())

#: Columns of the Customers sheet beyond the engine's (segment.CUSTOMER_COLUMNS), so
#: that a lookup needs no rule of its own: the segment of the Segment column
#: (sheets.primary_segment) and the date of the next contact (sheets.next_contacts).
LOOKUP_COLUMNS: tuple[str, ...] = ("segment", "next_contact")

#: What a function answers for a customer who is not in the Customers table (in
#: English; unknown_customer(lang) in the book's language).
UNKNOWN_CUSTOMER = "unknown customer"


def unknown_customer(lang: str) -> str:
    """What a lookup answers in a LANG book for a customer who is not in its Customers table."""
    return labels.word("unknown_customer", lang)

#: The Customers table's name (labels.TABLE_NAMES), the same in every language.
CUSTOMERS_TABLE = labels.TABLE_NAMES["customers"]


def customers_header(column: str, lang: str) -> str:
    """The header of a Customers column in LANG: the engine's columns as
    labels.customer_header, the LOOKUP_COLUMNS under their key in English."""
    if column in LOOKUP_COLUMNS:
        return column if labels.check_lang(lang) == "en" else labels.header(column, lang)
    return labels.customer_header(column, lang)


@functools.cache
def header_keys() -> dict[str, str]:
    """Every Customers header of every language (casefolded) → its column key."""
    return {customers_header(c, lang).casefold(): c for lang in labels.LANGS
            for c in (*CUSTOMER_COLUMNS, *LOOKUP_COLUMNS)}


def _column_ref(column: str, lang: str) -> str:
    """tbCustomers[[Header]]: a structured reference to a whole data column, by its
    header (Excel's escape character ' before ' [ ] #)."""
    header = customers_header(column, lang)
    escaped = "".join("'" + ch if ch in "'[]#" else ch for ch in header)
    return f"{CUSTOMERS_TABLE}[[{escaped}]]"


def _lookup(column: str, lang: str, fn: Callable[[str], str], pm: Callable[[str], str]) -> str:
    """The LAMBDA of COLUMN. FN names a function newer than Excel 2007 and PM a LAMBDA /
    LET parameter: as typed in Excel, or with the file format's _xlfn. / _xlpm. prefixes."""
    customer, key, found = pm("customer"), pm("key"), pm("found")
    lookup = (f'{fn("XLOOKUP")}({key},{_column_ref("customer", lang)},{_column_ref(column, lang)},'
              f'"{unknown_customer(lang)}")')
    # key: the customer as the reader cleans ids (a number typed as 1001 matches "1001");
    # an empty customer or an empty answer is an empty cell, not 0.
    return (f'{fn("LAMBDA")}({customer},{fn("LET")}({key},TRIM({customer}&""),{found},{lookup},'
            f'IF({key}="","",IF({found}="","",{found}))))')


def _typed(name: str) -> str:
    return name


def lambda_names(lang: str) -> dict[str, str]:
    """Defined name → its formula as Excel shows and takes it ("=LAMBDA(customer, ...)",
    what xlwings' names.add sends to Office.js and desktop Excel)."""
    return {name: "=" + _lookup(column, lang, _typed, _typed) for name, column in CUSTOMER_FUNCTIONS.items()}


def file_names(lang: str) -> dict[str, str]:
    """Defined name → its formula as an .xlsx stores it: no "=", the functions newer
    than Excel 2007 as _xlfn.NAME and the parameters as _xlpm.name (Excel shows
    #NAME? for a LAMBDA stored without them)."""
    return {name: _lookup(column, lang, lambda f: "_xlfn." + f, lambda p: "_xlpm." + p)
            for name, column in CUSTOMER_FUNCTIONS.items()}


def typed_formula(stored: str) -> str:
    """A defined name's formula as stored in the file → as typed in Excel (the inverse
    of file_names: the prefixes dropped, "=" in front)."""
    return "=" + stored.replace("_xlfn.", "").replace("_xlpm.", "")


def fallback_formula(field: str, cell: str, lang: str) -> str:
    """The plain formula for LibreOffice and Excel before LAMBDA: FIELD of the customer
    in CELL, e.g. =IFERROR(INDEX(tbCustomers[[segment]],MATCH(TRIM(A2&""),
    tbCustomers[[customer]],0)),"unknown customer") (the answer in LANG)."""
    key = f'TRIM({cell}&"")'
    found = f'INDEX({_column_ref(field, lang)},MATCH({key},{_column_ref("customer", lang)},0))'
    return f'=IF({key}="","",IFERROR(IF({found}="","",{found}),"{unknown_customer(lang)}"))'


def name_instead(name: str, lang: str, cell: str = "A2") -> str:
    """What to type where Excel refused the defined name NAME (no LAMBDA): its plain
    formula for the customer in CELL (fallback_formula)."""
    return f"{name}: {fallback_formula(CUSTOMER_FUNCTIONS[name], cell, lang)}"


#: What a run whose function names Excel refused says before name_instead of each (the
#: desktop add-in's alert, and the ribbon client's: each namesAdd action carries it).
NAMES_REFUSED = ("tierbook wrote every sheet, but this Excel did not take the names of its functions (Excel "
                 "without LAMBDA, or a name of yours). Instead of =NAME(A2), type the plain formula, e.g. for the "
                 "customer in A2:")


def skipped_names_message(instead: Sequence[str]) -> str:
    """The message of a run whose names Excel refused: INSTEAD holds name_instead of each."""
    return "\n".join([NAMES_REFUSED, *instead])


# --------------------------------------------------------------------------- the table as an argument


def customers_columns(header: Sequence[object]) -> dict[str, int] | None:
    """Column key → position in HEADER when HEADER is the header row of a Customers
    table (English or Russian: customer, tier and lifecycle), else None (a transactions
    range, say). Raises InputError for a Customers table without the lookup columns."""
    keys = header_keys()
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        key = keys.get(str(cell).strip().casefold()) if cell is not None else None
        if key is not None and key not in found:
            found[key] = i
    if not {"customer", "tier", "lifecycle"} <= found.keys():
        return None
    missing = [c for c in LOOKUP_COLUMNS if c not in found]
    if missing:
        raise InputError(f"this Customers table has no column {', '.join(missing)} (an older tierbook wrote it): "
                         f'click "Segment customers" again')
    return found


def customer_answers(rows: Sequence[Sequence[object]], customer_key: Callable[[object], str]) -> pd.DataFrame | None:
    """The answers of the functions from ROWS, the cells of a Customers table under its
    header (tbCustomers[#All]): a row per customer (index: the customer as
    CUSTOMER_KEY matches it), a column per field of CUSTOMER_FIELDS, the values as the
    table holds them. None when ROWS is not a Customers table. Nothing is classified."""
    if not rows:
        return None
    columns = customers_columns(rows[0])
    if columns is None:
        return None
    at, first = columns["customer"], {}
    for row in rows[1:]:
        key = customer_key(row[at]) if row and len(row) > at else ""
        if key and key not in first:
            first[key] = row
    unknown = unknown_answers(table_lang(rows[0][at]))
    data = {field: [_cell(r, columns.get(field)) for r in first.values()] + [unknown[field]]
            for field in CUSTOMER_FIELDS}
    return pd.DataFrame(data, index=pd.Index([*first, UNKNOWN_KEY], name="customer"), dtype=object)


#: The key of the row of an answers table that a customer missing from it gets (no
#: customer's key: an empty customer cell answers empty before any lookup).
UNKNOWN_KEY = ""


def unknown_answers(lang: str) -> dict[str, object]:
    """The row UNKNOWN_KEY of an answers table, by field: the unknown-customer words of
    LANG as its segment (what every function answers for a customer who is not in the
    table), empty elsewhere (no next contact, 0 months). Kept in the table itself, so
    that it survives the object cache (Redis keeps a frame's values, not its attributes)."""
    row: dict[str, object] = {field: "" for field in CUSTOMER_FIELDS}
    row.update(segment=unknown_customer(lang), next_contact=None, vip_months=0)
    return row


def table_lang(customer_header: object) -> str:
    """The language of a Customers table, from the header of its customer column."""
    text = str(customer_header).strip().casefold()
    return next((lang for lang in labels.LANGS if customers_header("customer", lang).casefold() == text), "en")


def _cell(row: Sequence[object], i: int | None) -> object:
    if i is None or i >= len(row):
        return ""
    value = row[i]
    return "" if value is None else value
