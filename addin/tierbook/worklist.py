"""The call lists as worklists: what a manager wrote on them survives the next run.

A call list has three columns the manager fills in: Done (yes / no), Outcome (reached,
no answer, call back, not interested, ordered) and Note. Classifying again into the
same workbook (next month's export) writes every call list anew; `carry_over` puts
each customer's Done, Outcome and Note back on the new list, and `read_worklog` reads
them from the workbook about to be replaced: `read_worklog` from a file, the ribbon
(targets.BookTarget) from the open book's call-list sheets, both through
`worklog_from_rows`. Notes follow the customer from one list to another. Both languages
are read; the dropdown words are shown in the new workbook's language.

Done is carried only while the task is the same one (the same task and the same day
to act): a new task starts not done, with last time's outcome and note beside it.

What was written for a customer who is on no call list any more is not lost: it goes
to the Kept notes sheet (`kept_notes_sheet`), which is read back like a call list, so
that the note is on the customer's list again when they return to one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from . import labels
from .schema import InputError
from .sheets import CALL_LIST_KEYS, WORK_KEYS, SheetContent, SheetTable, work_validations

#: The columns read back from a call list: the manager's and what identifies the task
#: (and, on the Kept notes sheet, the list it was written on).
READ_KEYS = ("customer", "next_contact", "task", "last_contact", *WORK_KEYS, "call_list")
#: The key under which a worklog holds the Contact log's last contact day per customer.
CONTACT_LOG = "contact_log"
#: The sheet key (labels.SHEETS) and worklog key of the Kept notes sheet.
KEPT_NOTES = "kept_notes"
#: The Kept notes sheet's columns, in order.
KEPT_COLUMNS = ("customer", "call_list", "task", "next_contact", "last_contact", *WORK_KEYS)


def carry_over(previous: pd.DataFrame, new: pd.DataFrame, lang: str) -> pd.DataFrame:
    """NEW (a call list's rows, field keys as columns) with the Done, Outcome and Note
    of PREVIOUS (the same list's rows from the last run, READ_KEYS columns) put back
    by customer. Outcome and Note are kept whatever the task; Done only where the task
    and the next-contact day are unchanged. Dropdown words of either language are shown
    in LANG; anything else a manager typed stays as typed. Only NEW's customers are in
    the result; PREVIOUS's first row of a customer counts.

    Pure: neither frame is changed."""
    out = new.copy()
    if previous is None or len(previous) == 0 or len(out) == 0:
        return out
    prev = previous.copy()
    prev["customer"] = prev["customer"].map(_text)
    prev = prev[prev["customer"] != ""].drop_duplicates("customer", keep="first").set_index("customer")
    who = out["customer"].map(_text)
    for key in ("outcome", "note", "done"):
        if key not in out.columns or key not in prev.columns:
            continue
        old = who.map(prev[key].map(_text)).fillna("")
        if key in ("done", "outcome"):
            old = old.map(lambda v, k=key: _shown(k, v, lang))
        if key == "done":
            same = pd.Series(True, index=out.index)
            for ident in ("task", "next_contact"):
                if ident in prev.columns and ident in out.columns:
                    before = who.map(prev[ident].map(_ident))
                    same &= before.eq(out[ident].map(_ident)).fillna(False).astype(bool)
            old = old.where(same, "")
        typed = out[key].map(_text)
        out[key] = typed.where(typed != "", old).astype(object)
    return out


def read_worklog(path: str | Path) -> dict[str, pd.DataFrame]:
    """The Done / Outcome / Note of every call list of the tierbook workbook PATH
    (read_call_lists)."""
    return read_call_lists(path)[0]


def read_call_lists(path: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """What the call lists, Kept notes and Contact log of the tierbook workbook PATH hold
    for a rewrite, from one reading: the worklog (worklog_from_rows) and the columns a
    manager added (added_columns). ({}, {}) when PATH is missing or not a workbook (it is
    replaced anyway).

    The sheets are read by fastexcel as text (calamine: some ten times faster than
    openpyxl on a 50k-row book's call lists): numbers as their digits, dates as
    "YYYY-MM-DD HH:MM:SS", which worklog_from_rows reads as days."""
    from .read import _fastexcel, check_workbook_file

    path = Path(path)
    if not path.is_file():
        return {}, {}
    try:
        check_workbook_file(path)  # the size limits of an untrusted workbook
    except InputError:  # not a workbook of ours: nothing to carry over
        return {}, {}
    reader = _fastexcel().read_excel(path)
    wanted = set(call_list_titles()) | {labels.sheet_title(CONTACT_LOG, lang) for lang in labels.LANGS}
    sheets = []
    for title in reader.sheet_names:
        if title in wanted:
            frame = reader.load_sheet(title, header_row=None, dtypes="string").to_pandas()
            sheets.append((title, list(frame.astype(object).where(frame.notna(), None).itertuples(index=False,
                                                                                                 name=None))))
    return worklog_from_rows(sheets), added_columns(sheets)


def call_list_titles() -> dict[str, str]:
    """Sheet title → sheet key ("segment:VIP", ..., KEPT_NOTES) of every sheet read back as
    a call list, both languages."""
    return {labels.sheet_title(key, lang): key for lang in labels.LANGS
            for key in (*(f"segment:{s}" for s in labels.SEGMENTS), KEPT_NOTES)}


def read_columns() -> dict[str, dict[str, list[str]]]:
    """What worklog_from_rows reads of each call list (by title, both languages), for a
    reader that can leave the other columns out (the ribbon's client in Excel): the
    header row is the first row with a cell among "customer" and one among "done", and
    only the columns headed by one of "read" are needed (headers casefolded)."""
    def headers(*keys: str) -> list[str]:
        return sorted({labels.header(k, lang).casefold() for lang in labels.LANGS for k in keys})
    spec = {"customer": headers("customer"), "done": headers("done"), "read": headers(*READ_KEYS)}
    return {title: spec for title in call_list_titles()}


def worklog_from_rows(sheets: Iterable[tuple[str, Iterable[Sequence[object]]]]) -> dict[str, pd.DataFrame]:
    """The Done / Outcome / Note of the call lists among SHEETS ((title, rows of values),
    as a file or the open workbook gives them), by sheet key ("segment:VIP", ...):
    READ_KEYS columns, one row per listed customer with something filled in. The table's
    header row is found by its Customer and Done headers (either language); sheets that
    are no call list, and call lists written before these columns existed, give nothing.
    The Contact log sheet (the reactivation test's) gives CONTACT_LOG: its last contact
    day per customer (log_contacts)."""
    keys_by_title = call_list_titles()
    logs = {labels.sheet_title(CONTACT_LOG, lang) for lang in labels.LANGS}
    headers = _list_headers()
    found: dict[str, pd.DataFrame] = {}
    for title, rows in sheets:
        if title in logs:
            contacts = log_contacts(rows)
            if len(contacts):
                found[CONTACT_LOG] = contacts
            continue
        key = keys_by_title.get(title)
        if key is None:
            continue
        columns = None
        records = []
        for row in rows:
            row = row if isinstance(row, (list, tuple)) else [row]
            if columns is None:
                named = _header_row(row, headers)
                if named is not None:
                    columns = {k: i for i, k in named.items() if k in READ_KEYS}
                continue
            record = {k: (row[i] if i < len(row) else None) for k, i in columns.items()}
            if _text(record.get("customer")) and any(_text(record.get(k)) for k in WORK_KEYS):
                for day_key in DAY_KEYS.intersection(record):
                    record[day_key] = _as_day(record[day_key])
                records.append(record)
        if records:
            found[key] = pd.DataFrame(records, columns=[k for k in READ_KEYS if k in columns])
    return found


def _list_headers() -> dict[str, str]:
    """Every header of a call list's columns (and the Kept notes'), casefolded → its key."""
    return {labels.header(k, lang).casefold(): k for lang in labels.LANGS for k in (*CALL_LIST_KEYS, "call_list")}


def _header_row(row: Sequence[object], headers: Mapping[str, str]) -> dict[int, str | None] | None:
    """Position → column key (None: not one of tierbook's) of ROW's filled cells when ROW is
    a call list's header row (it has a Customer and a Done header); else None."""
    named = {i: headers.get(str(v).strip().casefold()) for i, v in enumerate(row) if v is not None and v != ""}
    return named if {"customer", "done"} <= set(named.values()) else None


def added_columns(sheets: Iterable[tuple[str, Iterable[Sequence[object]]]]) -> dict[str, list[str]]:
    """The columns a manager added to the call lists among SHEETS ((title, rows of
    values)): title → the headers in a list's header row that are none of tierbook's, in
    order. A rewrite of the list would lose these columns, so the jobs stop and say so
    (the note beside the Kept notes' header row is tierbook's own)."""
    lists = call_list_titles()
    headers = _list_headers()
    own = {labels.word("kept_notes.note", lang).casefold() for lang in labels.LANGS}
    found: dict[str, list[str]] = {}
    for title, rows in sheets:
        if title not in lists:
            continue
        for row in rows:
            row = row if isinstance(row, (list, tuple)) else [row]
            named = _header_row(row, headers)
            if named is not None:
                texts = (str(row[i]).strip() for i, key in named.items() if key is None)
                extra = [t for t in texts if t and t.casefold() not in own]
                if extra:
                    found[title] = extra
                break
    return found


def added_columns_message(added: Mapping[str, Sequence[str]], how: str) -> str:
    """What a job says when ADDED (added_columns) is not empty; HOW: what to do then."""
    listed = "; ".join(f'"{title}": ' + ", ".join(f'"{h}"' for h in headers) for title, headers in added.items())
    return f"call lists have columns tierbook did not write, which a rewrite would lose ({listed}): {how}"


def with_worklog(contents: list[SheetContent], worklog: Mapping[str, pd.DataFrame], lang: str) -> list[SheetContent]:
    """CONTENTS with each call list's rows carried over from WORKLOG (worklog_from_rows):
    by customer, what was written on the same list first, else on another list (or the
    Kept notes sheet), so that a customer who moved (a VIP now on Lost VIP) keeps the
    outcome and note. What was written for a customer now on no call list goes to the
    Kept notes sheet (kept_notes_sheet), not here."""
    from dataclasses import replace

    out = []
    known: dict[object, pd.Series] = {}  # last_contacts by analysis date: the same for every call list
    for content in contents:
        table = content.tables.get("rows")
        earlier = [worklog[content.key]] if content.key in worklog else []
        earlier += [frame for key, frame in worklog.items() if key not in (content.key, CONTACT_LOG)]
        if (not earlier and CONTACT_LOG not in worklog) or table is None or "done" not in table.frame.columns:
            out.append(content)
            continue
        previous = pd.concat(earlier, ignore_index=True) if earlier else None  # each customer's first row counts
        frame = carry_over(previous, table.frame, lang)
        if "last_contact" in frame.columns:
            if content.overdue_before not in known:
                known[content.overdue_before] = last_contacts(worklog, content.overdue_before)
            days = known[content.overdue_before]
            # reindex, not map: map fails on an empty series of days (no contact known yet)
            frame["last_contact"] = days.reindex(frame["customer"].map(_text)).astype("datetime64[ns]").to_numpy()
        tables = {**content.tables, "rows": replace(table, frame=frame)}
        out.append(replace(content, tables=tables))
    return out


def kept_notes(worklog: Mapping[str, pd.DataFrame], contents: Sequence[SheetContent], lang: str) -> pd.DataFrame:
    """What WORKLOG (an earlier run's call lists and Kept notes) holds for customers who
    are on none of the call lists of CONTENTS: KEPT_COLUMNS, a row per customer (the
    first call list's, else the earlier Kept notes'), the list's title in CALL_LIST, the
    dropdown words in LANG, days as dates. Empty when every such customer is listed."""
    listed: set[str] = set()
    for content in contents:
        table = content.tables.get("rows")
        if content.key.startswith("segment:") and table is not None and "customer" in table.frame.columns:
            listed |= set(table.frame["customer"].map(_text))
    frames = []
    for key in sorted((k for k in worklog if k != CONTACT_LOG), key=lambda k: k == KEPT_NOTES):
        frame = worklog[key].reindex(columns=KEPT_COLUMNS)
        if key != KEPT_NOTES:
            frame["call_list"] = labels.sheet_title(key, lang)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(KEPT_COLUMNS))
    kept = pd.concat(frames, ignore_index=True)
    kept["customer"] = kept["customer"].map(_text)
    kept = kept[(kept["customer"] != "") & ~kept["customer"].isin(listed)].drop_duplicates("customer")
    out = pd.DataFrame({c: kept[c].map(_text).astype(object) for c in KEPT_COLUMNS}).reset_index(drop=True)
    for key in ("done", "outcome"):
        out[key] = out[key].map(lambda v, k=key: _shown(k, v, lang)).astype(object)
    for key in ("next_contact", "last_contact"):
        out[key] = kept[key].map(_day).astype("datetime64[ns]").to_numpy()
    return out


def kept_notes_sheet(notes: pd.DataFrame, lang: str) -> SheetContent:
    """The Kept notes sheet of NOTES (kept_notes): a plain table with a line saying what it
    is, and the call lists' Done and Outcome dropdowns."""
    headers = {c: labels.header(c, lang) for c in KEPT_COLUMNS}
    return SheetContent(key=KEPT_NOTES, title=labels.sheet_title(KEPT_NOTES, lang), template=None,
                        texts={"note": labels.word("kept_notes.note", lang)},
                        tables={"rows": SheetTable(labels.TABLE_NAMES[KEPT_NOTES], notes, headers)},
                        validations=work_validations("rows", lang))


def last_contacts(worklog: Mapping[str, pd.DataFrame], as_of: pd.Timestamp | None = None) -> pd.Series:
    """The day of each customer's last contact the workbook knows of (customer → day),
    the latest of: the Contact log's dates (worklog[CONTACT_LOG]); the Last contact an
    earlier call list showed; and a task the manager marked Done = yes, counted on its
    day to act (the list's Next contact: the workbook has no column for the day a call
    was made), but never after AS_OF (the analysis date), since it was done by then."""
    days = []
    for key, frame in worklog.items():
        if not len(frame) or "customer" not in frame.columns:
            continue
        who = frame["customer"].map(_text)
        if "last_contact" in frame.columns:
            days.append(pd.DataFrame({"customer": who, "day": frame["last_contact"].map(_day)}))
        if key != CONTACT_LOG and {"done", "next_contact"} <= set(frame.columns):
            done = frame["done"].map(lambda v: labels.choice_code("done", _text(v)) == "yes").astype(bool)
            day = frame["next_contact"].map(_day)
            if as_of is not None:
                day = day.map(lambda d: min(d, pd.Timestamp(as_of)) if d is not pd.NaT else d)
            days.append(pd.DataFrame({"customer": who[done], "day": day[done]}))
    if not days:
        return pd.Series(dtype="datetime64[ns]")
    found = pd.concat(days, ignore_index=True)
    found = found[(found["customer"] != "") & found["day"].notna()]
    return found.assign(day=found["day"].astype("datetime64[ns]")).groupby("customer")["day"].max()


def log_contacts(rows: Iterable[Sequence[object]]) -> pd.DataFrame:
    """The last contact day per customer of a Contact log sheet's rows (its header row
    found by a customer and a date column, either language): customer, last_contact.
    Rows without a customer or a readable date are left out here (the reactivation
    results report them)."""
    from .read import CONTACT_LOG_ALIASES, header_key

    lookup = {header_key(name): column for column, names in CONTACT_LOG_ALIASES.items() for name in (column, *names)}
    columns = None
    records = []
    for row in rows:
        row = row if isinstance(row, (list, tuple)) else [row]
        if columns is None:
            named: dict[str, int] = {}
            for i, v in enumerate(row):
                if v is not None and lookup.get(header_key(v)):
                    named.setdefault(lookup[header_key(v)], i)
            if {"customer", "date"} <= set(named):
                columns = named
            continue
        get = lambda k: row[columns[k]] if columns[k] < len(row) else None  # noqa: E731
        who, day = _text(get("customer")), _day(get("date"))
        if who and day is not pd.NaT:
            records.append((who, day))
    frame = pd.DataFrame(records, columns=["customer", "last_contact"])
    if not len(frame):
        return frame
    frame["last_contact"] = frame["last_contact"].astype("datetime64[ns]")
    return frame.groupby("customer", as_index=False, sort=False)["last_contact"].max()


#: The columns read back as days (_as_day).
DAY_KEYS = frozenset({"next_contact", "last_contact"})


def _as_day(value: object) -> object:
    """A date cell, or a text that is one (as fastexcel reads dates), as its day; any
    other value as it is (a word typed over a date stays that word)."""
    day = _day(value)
    return value if day is pd.NaT and value not in (None, "") else day


def _day(value: object) -> pd.Timestamp:
    """A cell as a day (a date, ISO or dd.mm.yyyy text); NaT when it is none."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value) or value == "":
        return pd.NaT
    if hasattr(value, "year"):
        return pd.Timestamp(value).normalize()
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return pd.Timestamp(pd.to_datetime(text, format=fmt)).normalize()
        except (ValueError, TypeError):
            continue
    return pd.NaT


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _ident(value: object) -> str:
    """A task or day as compared between two runs (a date as its day)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if hasattr(value, "strftime"):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    return str(value).strip()


def _shown(kind: str, value: str, lang: str) -> str:
    code = labels.choice_code(kind, value)
    return labels.word(f"{kind}.{code}", lang) if code else value
