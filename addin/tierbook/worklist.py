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
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from . import labels
from .sheets import CALL_LIST_KEYS, WORK_KEYS, SheetContent

#: The columns read back from a call list: the manager's and what identifies the task.
READ_KEYS = ("customer", "next_contact", "task", *WORK_KEYS)


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
    (worklog_from_rows of its sheets). {} when PATH is missing or not a workbook (it is
    replaced anyway)."""
    from openpyxl import load_workbook

    path = Path(path)
    if not path.is_file():
        return {}
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - not a workbook of ours: nothing to carry over
        return {}
    try:
        return worklog_from_rows((title, book[title].iter_rows(values_only=True)) for title in book.sheetnames)
    finally:
        book.close()


def call_list_titles() -> dict[str, str]:
    """Sheet title → sheet key ("segment:VIP", ...) of every call list, both languages."""
    return {labels.sheet_title(f"segment:{s}", lang): f"segment:{s}" for lang in labels.LANGS
            for s in labels.SEGMENTS}


def worklog_from_rows(sheets: Iterable[tuple[str, Iterable[Sequence[object]]]]) -> dict[str, pd.DataFrame]:
    """The Done / Outcome / Note of the call lists among SHEETS ((title, rows of values),
    as a file or the open workbook gives them), by sheet key ("segment:VIP", ...):
    READ_KEYS columns, one row per listed customer with something filled in. The table's
    header row is found by its Customer and Done headers (either language); sheets that
    are no call list, and call lists written before these columns existed, give nothing."""
    keys_by_title = call_list_titles()
    headers = {labels.header(k, lang).casefold(): k for lang in labels.LANGS for k in CALL_LIST_KEYS}
    found: dict[str, pd.DataFrame] = {}
    for title, rows in sheets:
        key = keys_by_title.get(title)
        if key is None:
            continue
        columns = None
        records = []
        for row in rows:
            row = row if isinstance(row, (list, tuple)) else [row]
            if columns is None:
                named = {i: headers.get(str(v).strip().casefold()) for i, v in enumerate(row) if v is not None}
                if {"customer", "done"} <= set(named.values()):
                    columns = {k: i for i, k in named.items() if k in READ_KEYS}
                continue
            record = {k: (row[i] if i < len(row) else None) for k, i in columns.items()}
            if _text(record.get("customer")) and any(_text(record.get(k)) for k in WORK_KEYS):
                records.append(record)
        if records:
            found[key] = pd.DataFrame(records, columns=[k for k in READ_KEYS if k in columns])
    return found


def with_worklog(contents: list[SheetContent], worklog: Mapping[str, pd.DataFrame], lang: str) -> list[SheetContent]:
    """CONTENTS with each call list's rows carried over from WORKLOG (worklog_from_rows):
    by customer, what was written on the same list first, else on another list, so that
    a customer who moved (a VIP now on Lost VIP) keeps the outcome and note. What was
    written for a customer now on no call list is not written again."""
    from dataclasses import replace

    out = []
    for content in contents:
        table = content.tables.get("rows")
        earlier = [worklog[content.key]] if content.key in worklog else []
        earlier += [frame for key, frame in worklog.items() if key != content.key]
        if not earlier or table is None or "done" not in table.frame.columns:
            out.append(content)
            continue
        previous = pd.concat(earlier, ignore_index=True)  # carry_over keeps each customer's first row
        tables = {**content.tables, "rows": replace(table, frame=carry_over(previous, table.frame, lang))}
        out.append(replace(content, tables=tables))
    return out


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
