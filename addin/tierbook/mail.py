"""Workbooks → messages: each manager gets the workbook of their segment, or of their
own customers, with a short note on what to do this week.

    send_workbooks(OUT.xlsx, by)   split OUT as `tierbook split` does, then one message
                                   per row of OUT's Mailing sheet, written as .eml drafts
                                   into an outbox folder (the default) or sent over SMTP

The parts, each usable on its own:

- routing: `read_mailing` reads the Mailing sheet (by, segment or manager, to, cc),
  `init_mailing` adds an empty one to a workbook;
- the message: `compose` fills the subject and body templates (mail_templates/<lang>/
  subject.txt, body.txt, body.html, or a restyled copy) with the figures of one
  recipient's workbook, `build_message` makes the EmailMessage;
- delivery: `Outbox` writes .eml files a mail client opens as drafts, `SmtpSender`
  sends with STARTTLS, SSL or neither, and login; `smtp_settings` reads the
  TIERBOOK_SMTP_* variables and the user's config file;
- safety: the send log (JSON lines beside the workbook) keeps every message's
  recipients, date and checksum, and a re-run skips what was already sent.

Headers are made by the email package (policy SMTP); every text that goes into a
header (subject, display names, file name) is first made one line, so a CR/LF in a
segment label or a manager's name cannot start a header of its own.

The checksum of a message is the sha256 of its recipients, subject, plain-text body and
the *content* of its workbook (every sheet's title and cell values): the workbook's
bytes are not reproducible (openpyxl stamps the time into the file), its content is.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import html
import json
import os
import re
import smtplib
import ssl
import string
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape as xml_escape

import pandas as pd

from . import labels
from .labels import SEGMENTS
from .files import exclusive_lock, refuse_overwrite, replace_atomically, safe_filename
from .errors import TierbookError
from .schema import InputIssue

# --------------------------------------------------------------------------- constants

#: Titles of the routing sheet (the first is written by init_mailing in English).
MAILING_TITLES = {"en": "Mailing", "ru": "Рассылка"}
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
SEND_LOG = "tierbook-sent.jsonl"
CONFIG_ENV = "TIERBOOK_CONFIG"
TEMPLATES_ENV = "TIERBOOK_TEMPLATES"
SECURITIES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
BY = ("segment", "manager")

#: Header texts of the Mailing sheet, by field, in each language (what init_mailing writes).
MAILING_HEADERS = {
    "en": {"by": "By", "name": "Segment or manager", "to": "To", "cc": "Cc"},
    "ru": {"by": "Разбивка", "name": "Сегмент или менеджер", "to": "Кому", "cc": "Копия"},
}
#: Every header the reader understands (casefolded), by field.
MAILING_ALIASES = {
    "by": {"by", "split by", "kind", "разбивка", "по", "тип"},
    "name": {"segment or manager", "name", "segment", "manager", "recipient", "сегмент или менеджер", "сегмент",
             "менеджер", "получатель", "имя"},
    "to": {"to", "email", "emails", "e-mail", "address", "addresses", "кому", "адрес", "адреса", "эл. почта"},
    "cc": {"cc", "copy", "копия", "копии"},
}
BY_WORDS = {"segment": {"segment", "segments", "сегмент", "сегменты"},
            "manager": {"manager", "managers", "менеджер", "менеджеры"}}
BY_LABELS = {"en": {"segment": "segment", "manager": "manager"}, "ru": {"segment": "сегмент", "manager": "менеджер"}}

_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_NAMED = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^<>"]*?))\s*<([^<>]*)>\s*')
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


class MailError(TierbookError, ValueError):
    """A problem the user must fix before anything can be sent (no Mailing sheet, bad
    addresses, no SMTP server, login refused): one message in words a user can act on."""

    code = "mail"


# --------------------------------------------------------------------------- small texts


def one_line(text: object) -> str:
    """TEXT with every line break and control character replaced by one space: safe to
    put in a header (a CR/LF can never start a header of its own)."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", "" if text is None else str(text))).strip()


def windows_filename(name: str, suffix: str = ".xlsx", limit: int = 100) -> str:
    """NAME as a file name every system accepts (tierbook.files.safe_filename): no
    <>:"/\\|?* or control characters, no trailing dot or space, not a reserved device
    name (CON, PRN, AUX, NUL, COM1…, LPT1…), at most LIMIT characters and 180 bytes of
    UTF-8 with SUFFIX."""
    return safe_filename(name, suffix, max_chars=limit)


def _key(text: object) -> str:
    return " ".join(one_line(text).split()).casefold()


# --------------------------------------------------------------------------- the Mailing sheet


@dataclass(frozen=True)
class Address:
    addr: str  # the addr-spec, e.g. ivan@example.com
    name: str = ""  # display name, one line

    def __str__(self) -> str:
        return formataddr((self.name, self.addr)) if self.name else self.addr


@dataclass(frozen=True)
class Route:
    """One row of the Mailing sheet: who gets the workbook of a segment or a manager."""

    by: str  # "segment" or "manager"
    key: str  # the segment code ("lost VIP") or the manager's name ("" = no manager)
    label: str  # as written in the sheet
    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    row: int = 0


@dataclass(frozen=True)
class Mailing:
    routes: tuple[Route, ...]
    sheet: str = "Mailing"
    source: str = ""

    def route(self, by: str, key: str) -> Route | None:
        """The addresses for one group; several rows for the same group are merged."""
        rows = [r for r in self.routes if r.by == by and _key(r.key) == _key(key)]
        if not rows:
            return None
        to = tuple(dict.fromkeys(a for r in rows for a in r.to))
        cc = tuple(dict.fromkeys(a for r in rows for a in r.cc if a not in to))
        return replace(rows[0], to=to, cc=cc)


def _segment_names() -> dict[str, str]:
    """Every way a segment may be written (code, sheet title, value, in any language) → code."""
    names: dict[str, str] = {}
    for segment in SEGMENTS:
        names[_key(segment)] = segment
        for lang in labels.LANGS:
            names[_key(labels.sheet_title(f"segment:{segment}", lang))] = segment
            names[_key(labels.value("segment", segment, lang))] = segment
    return names


def _no_manager_names() -> set[str]:
    return {_key(labels.word("no_manager", lang)) for lang in labels.LANGS}


def parse_addresses(text: object) -> tuple[list[Address], list[str]]:
    """The addresses in a cell: separated by ;, comma or line breaks, each either
    name@domain or Name <name@domain>. Returns (addresses, pieces that are not one)."""
    if text is None or (isinstance(text, float) and text != text):
        return [], []
    pieces, current, quoted, angle = [], "", False, False
    for ch in str(text):
        if ch in "\r\n\u2028\u2029\x85":  # a line break always ends an address
            pieces.append(current)
            current, quoted, angle = "", False, False
            continue
        if ch in ";," and not quoted and not angle:
            pieces.append(current)
            current = ""
            continue
        if ch == '"' and not angle:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        current += ch
    pieces.append(current)
    good, bad = [], []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        named = _NAMED.fullmatch(piece)
        name, addr = ((named.group(1) or named.group(2) or "").replace('\\"', '"'), named.group(3).strip()) \
            if named else ("", piece)
        if _ADDRESS.fullmatch(addr) and len(addr) <= 254 and len(addr.split("@")[0]) <= 64:
            good.append(Address(addr, one_line(name)))
        else:
            bad.append(piece)
    return good, bad


def mailing_from_rows(rows: Sequence[Sequence[object]], sheet: str = "Mailing", source: str = "") -> Mailing:
    """The routes of a Mailing sheet given as rows of cell values (row 1 first), as
    openpyxl or xlwings read them. Raises MailError listing every unusable cell."""
    rows = list(rows or [])
    if rows and not isinstance(rows[0], (list, tuple)):  # xlwings gives a one-row range as a flat list
        rows = [rows]
    rows = [list(r) if r is not None else [] for r in rows]
    header_at = next((i for i, r in enumerate(rows) if any(v not in (None, "") for v in r)), None)
    if header_at is None:
        raise MailError(f'Sheet "{sheet}" is empty: its first row must hold the headers '
                        f'{", ".join(MAILING_HEADERS["en"].values())}')
    columns: dict[str, int] = {}
    for c, value in enumerate(rows[header_at]):
        for fld, aliases in MAILING_ALIASES.items():
            if _key(value) in aliases and fld not in columns:
                columns[fld] = c
    missing = [MAILING_HEADERS["en"][f] for f in ("name", "to") if f not in columns]
    if missing:
        raise MailError(f'Sheet "{sheet}" has no column {" or ".join(repr(m) for m in missing)} in its header row '
                        f"(row {header_at + 1}): the columns are {', '.join(MAILING_HEADERS['en'].values())}")
    headers = {f: str(rows[header_at][c]) for f, c in columns.items()}
    segments, nobody = _segment_names(), _no_manager_names()
    issues: list[InputIssue] = []
    routes: list[Route] = []

    def cell(r: list, fld: str) -> object:
        c = columns.get(fld)
        return r[c] if c is not None and c < len(r) else None

    for i, r in enumerate(rows[header_at + 1:], start=header_at + 2):
        name, to_text, cc_text, by_text = (cell(r, f) for f in ("name", "to", "cc", "by"))
        if all(v in (None, "") for v in (name, to_text, cc_text)):
            continue
        label = one_line(name)
        if not label:
            issues.append(InputIssue(sheet, i, headers["name"], name, "no segment or manager name"))
            continue
        if _key(by_text):
            by = next((b for b, words in BY_WORDS.items() if _key(by_text) in words), None)
            if by is None:
                issues.append(InputIssue(sheet, i, headers.get("by", "By"), by_text,
                                           "must be segment or manager"))
                continue
        else:
            by = "segment" if _key(label) in segments else "manager"
        if by == "segment":
            key = segments.get(_key(label))
            if key is None:
                issues.append(InputIssue(sheet, i, headers["name"], name,
                                           f"not a segment; the segments are {', '.join(SEGMENTS)}"))
                continue
        else:
            key = "" if _key(label) in nobody else label
        to, bad_to = parse_addresses(to_text)
        cc, bad_cc = parse_addresses(cc_text)
        for piece in bad_to:
            issues.append(InputIssue(sheet, i, headers["to"], piece, "not an email address"))
        for piece in bad_cc:
            issues.append(InputIssue(sheet, i, headers.get("cc", "Cc"), piece, "not an email address"))
        if not to and cc and not bad_to:
            issues.append(InputIssue(sheet, i, headers["to"], to_text, "no address to send to, only a Cc"))
        if bad_to or bad_cc or not to:
            continue
        routes.append(Route(by, key, label, tuple(to), tuple(cc), i))
    if issues:
        raise MailError(f"the {sheet} sheet of {source or 'the workbook'} has "
                        f"{len(issues)} cell{'s' if len(issues) > 1 else ''} to fix:\n"
                        + "\n".join(f"  {issue}" for issue in issues))
    return Mailing(tuple(routes), sheet, source)


def mailing_sheet_title(sheetnames: Iterable[str]) -> str | None:
    titles = {t.casefold() for t in MAILING_TITLES.values()}
    return next((s for s in sheetnames if s.strip().casefold() in titles), None)


def read_mailing(path: str | Path) -> Mailing:
    """The Mailing sheet of the workbook PATH (English "Mailing" or Russian "Рассылка")."""
    from openpyxl import load_workbook

    path = Path(path)
    if path.suffix.lower() == ".csv":
        import csv

        with open(path, newline="", encoding="utf-8-sig") as handle:
            return mailing_from_rows(list(csv.reader(handle)), path.name, str(path))
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        title = mailing_sheet_title(book.sheetnames)
        if title is None:
            raise MailError(
                f'{path} has no "Mailing" sheet, so tierbook does not know where to send the workbooks. Add one '
                f"with `tierbook send {path} --init-mailing` (it lists every segment and manager), fill in the "
                f"To (and Cc) addresses, save, and run send again.")
        rows = [list(r) for r in book[title].iter_rows(values_only=True)]
    finally:
        book.close()
    return mailing_from_rows(rows, title, str(path))


def init_mailing(path: str | Path, lang: str | None = None) -> str:
    """Add a Mailing sheet to the tierbook workbook PATH: one row per segment that has
    customers and per manager, with empty To and Cc cells to fill in. The rest of the
    workbook is kept byte for byte (the sheet is added to the file's package; nothing
    is loaded and saved again, so charts and styles stay); the file is replaced
    atomically. Returns the sheet's title."""
    from .sheets import segment_members
    from .workbook import read_customers

    path = Path(path)
    customers, meta = read_customers(path)
    lang = labels.check_lang(lang or meta.get("lang", "en"))
    with zipfile.ZipFile(path) as package:
        names = set(package.namelist())
        parts = {name: package.read(name) for name in ("[Content_Types].xml", "xl/workbook.xml",
                                                       "xl/_rels/workbook.xml.rels")}
    workbook_xml = parts["xl/workbook.xml"].decode("utf-8")
    existing = re.findall(r'<(?:\w+:)?sheet\b[^>]*\bname="([^"]*)"', workbook_xml)
    existing = [html.unescape(n) for n in existing]
    if mailing_sheet_title(existing) is not None:
        raise MailError(f'{path} already has a sheet "{mailing_sheet_title(existing)}"')
    title = MAILING_TITLES[lang]
    head = MAILING_HEADERS[lang]
    rows = [[head["by"], head["name"], head["to"], head["cc"]]]
    by_word = BY_LABELS[lang]
    for segment in SEGMENTS:
        if segment_members(customers, segment).any():
            rows.append([by_word["segment"], labels.sheet_title(f"segment:{segment}", lang), "", ""])
    for manager in sorted(customers["manager"].unique()):
        rows.append([by_word["manager"], manager or labels.word("no_manager", lang), "", ""])

    n = 1
    while f"xl/worksheets/sheet{n}.xml" in names:
        n += 1
    part = f"xl/worksheets/sheet{n}.xml"
    rel_ids = set(re.findall(r'\bId="([^"]+)"', parts["xl/_rels/workbook.xml.rels"].decode("utf-8")))
    rid, k = "rIdTbMailing", 2
    while rid in rel_ids:
        rid, k = f"rIdTbMailing{k}", k + 1
    sheet_ids = [int(v) for v in re.findall(r'<(?:\w+:)?sheet\b[^>]*\bsheetId="(\d+)"', workbook_xml)]
    sheet_id = max(sheet_ids, default=0) + 1
    prefix = (re.search(r"<(\w+:)?sheets\b", workbook_xml) or re.search("()", "")).group(1) or ""
    # the relationships namespace is declared on the element itself: openpyxl declares it
    # on the root or (with lxml) on each sheet element, and a local declaration suits both
    declare = ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    sheet_el = f'<{prefix}sheet name="{xml_escape(title, {chr(34): "&quot;"})}" sheetId="{sheet_id}" r:id="{rid}"{declare}/>'
    workbook_xml = _insert_before(workbook_xml, rf"</{re.escape(prefix)}sheets>", sheet_el, "xl/workbook.xml")
    rels = _insert_before(parts["xl/_rels/workbook.xml.rels"].decode("utf-8"), r"</(?:\w+:)?Relationships>",
                          f'<Relationship Id="{rid}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                          f'relationships/worksheet" Target="/{part}"/>', "workbook.xml.rels")
    types = _insert_before(parts["[Content_Types].xml"].decode("utf-8"), r"</(?:\w+:)?Types>",
                           f'<Override PartName="/{part}" ContentType="application/vnd.openxmlformats-'
                           f'officedocument.spreadsheetml.worksheet+xml"/>', "[Content_Types].xml")
    replaced = {"xl/workbook.xml": workbook_xml, "xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types}

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                data = replaced[info.filename].encode("utf-8") if info.filename in replaced \
                    else source.read(info.filename)
                target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            target.writestr(part, _sheet_xml(rows, lang))

    replace_atomically(path, write)
    return title


def _insert_before(xml: str, closing: str, element: str, part: str) -> str:
    found = list(re.finditer(closing, xml))
    if not found:
        raise MailError(f"cannot add a sheet: the workbook's {part} has no {closing.replace(chr(92), '')}")
    at = found[-1].start()
    return xml[:at] + element + xml[at:]


def _sheet_xml(rows: list[list[str]], lang: str) -> bytes:
    def cell(ref: str, text: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{xml_escape(text)}</t></is></c>' if text else ""

    body = "".join(
        f'<row r="{r}">' + "".join(cell(f"{'ABCD'[c]}{r}", v) for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(rows, 1))
    choices = ",".join(BY_LABELS[lang].values())
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="A1:D{len(rows)}"/><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/></sheetView></sheetViews>'
            '<cols><col min="1" max="1" width="12" customWidth="1"/><col min="2" max="2" width="26" customWidth="1"/>'
            '<col min="3" max="4" width="40" customWidth="1"/></cols>'
            f"<sheetData>{body}</sheetData>"
            f'<dataValidations count="1"><dataValidation type="list" allowBlank="1" sqref="A2:A500">'
            f'<formula1>"{xml_escape(choices)}"</formula1></dataValidation></dataValidations>'
            "</worksheet>").encode("utf-8")


# --------------------------------------------------------------------------- the recipients' workbooks


@dataclass(frozen=True)
class Figures:
    """What the note says about one recipient's workbook."""

    customers: int
    reminders: int  # reminder dates (remind_on) in the week
    new_customers: int  # new customers who gave consent: the follow-up call
    lost_vips: int
    week_start: date
    week_end: date


def week_of(day: date | None = None) -> tuple[date, date]:
    """Monday and Sunday of the week of DAY (default today)."""
    day = day or date.today()
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def figures(customers: pd.DataFrame, week: tuple[date, date]) -> Figures:
    """The counts of the note, from a customers frame (segment.CUSTOMER_COLUMNS)."""
    start, end = (pd.Timestamp(d) for d in week)
    remind = customers["remind_on"]
    consent = customers["consent"].astype(bool)
    return Figures(
        customers=len(customers),
        reminders=int(((remind >= start) & (remind <= end) & consent).sum()),
        new_customers=int(((customers["lifecycle"] == "new") & consent).sum()),
        lost_vips=int(customers["lost_vip"].astype(bool).sum()),
        week_start=week[0], week_end=week[1])


def content_digest(path: str | Path) -> str:
    """sha256 of a workbook's content: every part of the .xlsx package, uncompressed, but
    the creation and modification times in docProps/core.xml. Two writes of the same
    content give the same digest, though their bytes differ (openpyxl stamps the time)."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as package:
        for name in sorted(package.namelist()):
            data = package.read(name)
            if name == "docProps/core.xml":
                data = re.sub(rb"<dcterms:(created|modified)\b[^>]*>[^<]*</dcterms:\1>", b"", data)
            digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def sheet_names(path: str | Path) -> list[str]:
    """The sheet titles of an .xlsx file, read from its package without loading it."""
    with zipfile.ZipFile(path) as package:
        xml = package.read("xl/workbook.xml").decode("utf-8")
    return [html.unescape(n) for n in re.findall(r'<(?:\w+:)?sheet\b[^>]*\bname="([^"]*)"', xml)]


@dataclass(frozen=True)
class Group:
    """One recipient's workbook, as split_workbook wrote it."""

    by: str
    key: str  # segment code or manager name ("" = no manager)
    label: str  # as shown (the segment's title in the language, or the manager's name)
    path: Path
    customers: pd.DataFrame  # the customers in the workbook
    meta: Mapping[str, str]


def split_groups(workbook: str | Path, by: str, directory: str | Path, lang: str | None = None,
                 templates: str | Path | None = None) -> list[Group]:
    """Split WORKBOOK as `tierbook split` does and tell, for each file written, whose it
    is: by segment, the segment whose call list it holds; by manager, the manager of its
    customers. The group's customers are WORKBOOK's, picked by the same rule as split."""
    from .sheets import segment_members
    from .workbook import read_customers, split_workbook

    customers, meta = read_customers(workbook)
    lang = labels.check_lang(lang or meta.get("lang", "en"))
    meta = {**meta, "lang": lang}
    groups = []
    for path in split_workbook(workbook, by, directory, lang=lang, templates=templates):
        path = Path(path)
        if by == "segment":
            titles = set(sheet_names(path))
            key = next((s for s in SEGMENTS if labels.sheet_title(f"segment:{s}", lang) in titles), None)
            if key is None:
                raise MailError(f"cannot tell which segment {path.name} is for: it has no call list sheet")
            mask = segment_members(customers, key).to_numpy()
            label = labels.sheet_title(f"segment:{key}", lang)
        else:
            key = _manager_of(path, lang)
            mask = (customers["manager"] == key).to_numpy()
            label = key or labels.word("no_manager", lang)
        groups.append(Group(by, key, label, path, customers[mask].reset_index(drop=True), meta))
    return groups


def _manager_of(path: Path, lang: str) -> str:
    """The manager of a by-manager workbook: the manager of its first customer."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        sheet = book[labels.sheet_title("customers", lang)]
        head, first = (list(r) + [None] for r in sheet.iter_rows(min_row=1, max_row=2, max_col=200,
                                                                 values_only=True))
    finally:
        book.close()
    value = first[head.index(labels.customer_header("manager", lang))]
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- the message


@dataclass(frozen=True)
class Templates:
    subject: str
    text: str
    html: str
    folder: Path


def mail_templates_dir(lang: str, directory: str | Path | None = None) -> Path:
    """The folder of LANG's mail templates: DIRECTORY (or its mail/ subfolder), else
    $TIERBOOK_TEMPLATES/mail, else the copy installed with tierbook (mail_templates/)."""
    candidates = []
    for base in ([Path(directory)] if directory else []) + (
            [Path(os.environ[TEMPLATES_ENV])] if os.environ.get(TEMPLATES_ENV) else []):
        candidates += [base / "mail" / lang, base / lang]
    candidates.append(Path(__file__).resolve().parent / "mail_templates" / lang)
    for folder in candidates:
        if (folder / "subject.txt").is_file():
            return folder
    raise MailError(f"no mail templates for {lang!r} in {', '.join(str(c) for c in candidates)}")


def load_templates(lang: str, directory: str | Path | None = None) -> Templates:
    folder = mail_templates_dir(labels.check_lang(lang), directory)
    texts = {}
    for name in ("subject.txt", "body.txt", "body.html"):
        try:
            texts[name] = (folder / name).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise MailError(f"the mail templates in {folder} have no {name}") from None
    return Templates(texts["subject.txt"], texts["body.txt"], texts["body.html"], folder)


def _fill(template: str, values: Mapping[str, str], where: Path) -> str:
    try:
        return string.Template(template).substitute(values)
    except KeyError as error:
        raise MailError(f"the mail template {where} has an unknown placeholder ${error.args[0]}; "
                        f"the placeholders are {', '.join('$' + k for k in sorted(values))}") from None
    except ValueError as error:
        raise MailError(f"the mail template {where} has a stray $ ({error}); write $$ for a dollar sign") from None


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str
    attachment_name: str


def compose(group: Group, figures_: Figures, lang: str, templates: Templates) -> Composed:
    """Subject, plain-text and HTML body of one recipient's note."""
    month = group.meta.get("month", "")
    attachment = windows_filename(f"{group.label} {month}".strip())
    day = "%d.%m.%Y" if lang == "ru" else "%Y-%m-%d"
    values = {
        "name": one_line(group.label),
        "by_label": BY_LABELS[lang][group.by],
        "customers": f"{figures_.customers:,}".replace(",", "\u00a0" if lang == "ru" else ","),
        "reminders": str(figures_.reminders),
        "new_customers": str(figures_.new_customers),
        "lost_vips": str(figures_.lost_vips),
        "week_start": figures_.week_start.strftime(day),
        "week_end": figures_.week_end.strftime(day),
        "as_of": pd.Timestamp(group.meta["as_of"]).strftime(day) if group.meta.get("as_of") else "",
        "month": month,
        "attachment": attachment,
    }
    subject = one_line(_fill(templates.subject, values, templates.folder / "subject.txt"))
    text = _fill(templates.text, {**values, "subject": subject}, templates.folder / "body.txt")
    escaped = {k: html.escape(v) for k, v in {**values, "subject": subject}.items()}
    body_html = _fill(templates.html, escaped, templates.folder / "body.html")
    return Composed(subject, text, body_html, attachment)


def build_message(*, to: Sequence[Address], cc: Sequence[Address] = (), sender: Address | None = None,
                  subject: str, text: str, html_body: str, attachment: bytes, attachment_name: str,
                  when: datetime | None = None, draft: bool = False) -> EmailMessage:
    """The message: multipart/mixed of a multipart/alternative (text/plain, text/html)
    and the workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).

    Every header text is made one line first. DRAFT adds X-Unsent: 1, which makes Outlook
    open a saved .eml as a new message ready to send.
    """
    message = EmailMessage(policy=policy.SMTP)
    if sender is not None:
        message["From"] = str(Address(sender.addr, one_line(sender.name)))
    message["To"] = ", ".join(str(Address(a.addr, one_line(a.name))) for a in to)
    if cc:
        message["Cc"] = ", ".join(str(Address(a.addr, one_line(a.name))) for a in cc)
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(when or datetime.now(timezone.utc))
    domain = sender.addr.rsplit("@", 1)[1] if sender is not None else "tierbook.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    if draft:
        message["X-Unsent"] = "1"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html_body, subtype="html", charset="utf-8")
    for part in message.iter_parts():
        del part["MIME-Version"]  # the email package repeats it in parts; once, at the top, is the standard
    message.add_attachment(attachment, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                           filename=windows_filename(attachment_name, suffix=""))
    return message


def checksum(to: Sequence[Address], cc: Sequence[Address], subject: str, text: str, workbook_digest: str) -> str:
    """The identity of a message's content for the send log: recipients, subject, text
    body and the workbook's content digest (never the time or the Message-ID)."""
    payload = json.dumps({"to": sorted(a.addr.casefold() for a in to), "cc": sorted(a.addr.casefold() for a in cc),
                          "subject": subject, "text": text, "workbook": workbook_digest},
                         ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- SMTP settings


def config_path() -> Path:
    """The user's config file: $TIERBOOK_CONFIG, else %APPDATA%\\tierbook\\tierbook.ini on
    Windows, else $XDG_CONFIG_HOME (~/.config)/tierbook/tierbook.ini."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "tierbook" / "tierbook.ini"
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "tierbook" / "tierbook.ini"


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. The password is kept out of repr() and never written."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""  # the From address; default: USER when it is an address
    ca_file: str = ""  # a CA bundle to trust besides the system's (a company's own CA)
    timeout: float = 30.0
    context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.security not in SECURITIES:
            raise MailError(f"SMTP security must be one of {', '.join(SECURITIES)}, got {self.security!r}")

    def ssl_context(self) -> ssl.SSLContext:
        if self.context is not None:
            return self.context
        return ssl.create_default_context(cafile=self.ca_file or None)

    def from_address(self) -> Address:
        text = self.sender or (self.user if "@" in self.user else "")
        found, bad = parse_addresses(text)
        if len(found) != 1 or bad:
            raise MailError(f"no valid sender address (got {text!r}): set TIERBOOK_SMTP_FROM, or from in the [smtp] "
                            f"section of {config_path()}")
        return found[0]


_ENV_KEYS = {"host": "TIERBOOK_SMTP_HOST", "port": "TIERBOOK_SMTP_PORT", "user": "TIERBOOK_SMTP_USER",
             "password": "TIERBOOK_SMTP_PASSWORD", "security": "TIERBOOK_SMTP_SECURITY",
             "sender": "TIERBOOK_SMTP_FROM", "ca_file": "TIERBOOK_SMTP_CA_FILE"}
_FILE_KEYS = {"host": "host", "port": "port", "user": "user", "password": "password", "security": "security",
              "sender": "from", "ca_file": "ca_file"}


def read_config(path: str | Path | None = None) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    path = Path(path) if path else config_path()
    if path.is_file():
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as error:
            raise MailError(f"cannot read {path}: {_config_error(error)}") from None
    return parser


def _config_error(error: Exception) -> str:
    """What is wrong with the config file, by line number: configparser's own message
    quotes the line, and the line may hold the password."""
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text: save it as UTF-8"
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} comes before any [section] header: start the file with [smtp]"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"the section [{error.section}] appears twice (line {error.lineno})"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"{error.option} is set twice in [{error.section}] (line {error.lineno})"
    if isinstance(error, configparser.ParsingError):
        lines = ", ".join(str(lineno) for lineno, _ in error.errors)
        return f"line {lines} is not a setting (write name = value); the line is not shown here, it may hold a secret"
    return f"a syntax error ({type(error).__name__}); the line is not shown here, it may hold a secret"


def smtp_settings(environ: Mapping[str, str] | None = None, config: str | Path | None = None,
                  required: bool = True) -> SmtpSettings | None:
    """SMTP settings from the TIERBOOK_SMTP_* variables, else the [smtp] section of the
    user's config file (see config_path; never the workbook). None when no host is set
    and not REQUIRED."""
    environ = os.environ if environ is None else environ
    section = read_config(config)["smtp"] if read_config(config).has_section("smtp") else {}
    values = {}
    for key in _ENV_KEYS:
        value = environ.get(_ENV_KEYS[key]) or section.get(_FILE_KEYS[key], "")
        values[key] = value.strip() if key != "password" else value
    if not values["host"]:
        if not required:
            return None
        raise MailError(f"no SMTP server: set TIERBOOK_SMTP_HOST (and TIERBOOK_SMTP_PORT, _USER, _PASSWORD, "
                        f"_SECURITY, _FROM), or host in the [smtp] section of {config or config_path()}")
    security = (values["security"] or "starttls").lower()
    if security not in SECURITIES:
        raise MailError(f"TIERBOOK_SMTP_SECURITY must be one of {', '.join(SECURITIES)}, got {values['security']!r}")
    try:
        port = int(values["port"]) if values["port"] else DEFAULT_PORTS[security]
    except ValueError:
        raise MailError(f"TIERBOOK_SMTP_PORT must be a number, got {values['port']!r}") from None
    return SmtpSettings(host=values["host"], port=port, security=security, user=values["user"],
                        password=values["password"], sender=values["sender"], ca_file=values["ca_file"])


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Outgoing:
    group: Group
    route: Route
    message: EmailMessage
    raw: bytes
    checksum: str
    only: tuple[str, ...] = ()  # deliver to these recipients only (the ones a temporary refusal held back)

    @property
    def recipients(self) -> list[str]:
        return list(self.only) or [a.addr for a in (*self.route.to, *self.route.cc)]


class DeliveryFailed(Exception):
    """One message could not be delivered; the others go on."""

    def __init__(self, reason: str, attempts: int = 1):
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts


class Outbox:
    """Writes each message as an .eml file that Outlook and Thunderbird open as a draft."""

    channel = "outbox"

    def __init__(self, directory: str | Path, protect: Sequence[str | Path | None] = ()):
        self.directory = Path(directory)
        self.protect = tuple(protect)  # the input files, never written over

    def __enter__(self) -> "Outbox":
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def path_for(self, out: Outgoing) -> Path:
        return self.directory / windows_filename(f"{out.group.by} - {out.group.label}", suffix=".eml")

    def deliver(self, out: Outgoing) -> tuple[dict, Path]:
        refuse_overwrite(self.path_for(out), *self.protect, what="the draft")
        target = replace_atomically(self.path_for(out), lambda tmp: tmp.write_bytes(out.raw))
        return {}, target


class SmtpSender:
    """Sends over one SMTP connection, reconnecting when the server drops it. A message
    that fails for a temporary reason (a dropped connection, a 4xx reply) is tried again
    up to RETRIES times; a permanent refusal (5xx) is reported at once."""

    channel = "smtp"

    def __init__(self, settings: SmtpSettings, retries: int = 2, retry_delay: float = 2.0):
        self.settings, self.retries, self.retry_delay = settings, retries, retry_delay
        self.sender = settings.from_address()
        self.connection: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpSender":
        try:
            self._connect()
        except smtplib.SMTPAuthenticationError as error:
            raise MailError(f"the SMTP server {self._where()} refused the login of {self.settings.user!r}: "
                            f"{self._safe(_reply(error))}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailError(f"cannot connect to the SMTP server {self._where()}: {self._safe(_reason(error))}") \
                from None
        return self

    def _safe(self, text: str) -> str:
        """TEXT (a server's reply) without the password: some servers repeat the AUTH line,
        whose base64 holds it, in their 535 reply."""
        return redact(text, self.settings.password)

    def __exit__(self, *exc) -> None:
        self._drop(quit=True)

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port} ({self.settings.security})"

    def _connect(self) -> None:
        s = self.settings
        if s.security == "ssl":
            connection = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=s.ssl_context())
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            connection.ehlo()
            if s.security == "starttls":
                connection.starttls(context=s.ssl_context())
                connection.ehlo()
            if s.user:
                _login(connection, s.user, s.password)
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def _drop(self, quit: bool = False) -> None:
        if self.connection is not None:
            try:
                if quit:
                    self.connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self.connection.close()
                self.connection = None

    def deliver(self, out: Outgoing) -> tuple[dict, None]:
        """Send OUT; returns the recipients refused (address → the server's reply, which
        starts with its code: 4xx temporary, 5xx permanent). Raises DeliveryFailed when no
        recipient got it. Texts never hold the password."""
        try:
            refused = self._deliver(out)
        except DeliveryFailed as error:
            raise DeliveryFailed(self._safe(error.reason), error.attempts) from None
        return {addr: self._safe(text) for addr, text in refused.items()}, None

    def _deliver(self, out: Outgoing) -> dict[str, str]:
        attempts, pending, refusals, delivered = 0, out.recipients, {}, False
        while True:
            attempts += 1
            try:
                if self.connection is None:
                    self._connect()
                refused = self.connection.sendmail(self.sender.addr, pending, out.raw)
                delivered = True
                for addr in pending:  # those of this attempt: what it says about them is the news
                    refusals.pop(addr, None)
                refusals.update({addr: f"{code} {_decode(msg)}" for addr, (code, msg) in refused.items()})
                pending = [addr for addr, (code, _) in refused.items() if 400 <= code < 500]
                if not pending or attempts > self.retries:
                    return refusals
                last = "temporary refusal"  # try the held-back recipients again
            except smtplib.SMTPRecipientsRefused as error:
                if delivered:  # a retry of the held-back recipients: the others have the message
                    refusals.update({a: f"{c} {_decode(m)}" for a, (c, m) in error.recipients.items()})
                    if attempts > self.retries or all(c >= 500 for c, _ in error.recipients.values()):
                        return refusals
                    time.sleep(self.retry_delay * attempts)
                    continue
                codes = [code for code, _ in error.recipients.values()]
                reason = "; ".join(f"{addr}: {code} {_decode(msg)}" for addr, (code, msg) in error.recipients.items())
                if all(code >= 500 for code in codes):
                    raise DeliveryFailed(f"refused: {reason}", attempts) from None
                last = f"refused: {reason}"
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
                if error.smtp_code >= 500 and delivered:
                    return {**refusals, **{a: _reply(error) for a in pending}}
                if error.smtp_code >= 500:
                    raise DeliveryFailed(_reply(error), attempts) from None
                last = _reply(error)
                if error.smtp_code == 421:
                    self._drop()
            except smtplib.SMTPAuthenticationError as error:
                self._drop()
                if delivered:
                    return {**refusals, **{a: f"4xx login refused on reconnecting: {_reply(error)}" for a in pending}}
                raise DeliveryFailed(f"login refused: {_reply(error)}", attempts) from None
            except (smtplib.SMTPException, OSError) as error:  # a dropped connection, a timeout
                self._drop()
                last = _reason(error)
            if delivered and attempts > self.retries:  # some have it: the rest stay pending for a re-run
                return {**refusals, **{a: f"4xx {last}" for a in pending if not refusals.get(a, "").startswith("4")}}
            if attempts > self.retries:
                raise DeliveryFailed(f"{last} (after {attempts} attempts)", attempts)
            time.sleep(self.retry_delay * attempts)


def _login(connection: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with the first mechanism the server offers (CRAM-MD5, PLAIN, LOGIN), once:
    smtplib's login() would try each in turn, and three failed logins lock some accounts."""
    offered = connection.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("CRAM-MD5", "PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        raise smtplib.SMTPNotSupportedError("the server offers no login (AUTH) on this connection"
                                            + ("" if offered else ": many offer it only after STARTTLS"))
    connection.user, connection.password = user, password
    connection.auth(mechanism, getattr(connection, "auth_" + mechanism.lower().replace("-", "_")))


def redact(text: str, secret: str) -> str:
    """TEXT with SECRET, and every base64 word that decodes to something holding it (an
    AUTH PLAIN or LOGIN argument), replaced by ***."""
    if not secret:
        return text
    text = text.replace(secret, "***")
    needle = secret.encode("utf-8")

    def word(match: re.Match) -> str:
        token = match.group(0)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            return token
        return "***" if needle in decoded else token

    return re.sub(r"[A-Za-z0-9+/]{4,}={0,2}", word, text)


def _decode(value: object) -> str:
    return one_line(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)


def _reply(error: smtplib.SMTPResponseException) -> str:
    return f"{error.smtp_code} {_decode(error.smtp_error)}"


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error)
    text = one_line(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if isinstance(error, OSError) else text


# --------------------------------------------------------------------------- the send log


def read_log(path: Path) -> dict[tuple[str, str], dict]:
    """The successful entries of a send log by (checksum, channel): the latest wins."""
    done: dict[tuple[str, str], dict] = {}
    if not path.is_file():
        return done
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if isinstance(entry, dict) and entry.get("status") in ("sent", "partial"):
                done[(entry.get("checksum", ""), entry.get("channel", ""))] = entry
    return done


def append_log(path: Path, entry: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Result:
    """What happened to one recipient's workbook."""

    by: str
    name: str
    status: str  # sent | written | would send | skipped | no address | failed | partial | too large
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    attachment: str = ""
    size: int = 0
    checksum: str = ""
    detail: str = ""
    path: Path | None = None  # the .eml file (outbox)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "partial", "too large")

    def __str__(self) -> str:
        who = ", ".join(self.to) + (f" (cc {', '.join(self.cc)})" if self.cc else "")
        line = f"{self.status:<11} {self.by} {self.name!r}"
        if who:
            line += f" → {who}"
        if self.attachment:
            line += f": {self.attachment}, {_size(self.size)}"
        if self.path is not None:
            line += f", {self.path}"
        return line + (f" — {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class SendReport:
    results: tuple[Result, ...]
    channel: str  # outbox | smtp
    log_path: Path
    outbox: Path | None = None
    dry_run: bool = False

    def count(self, *statuses: str) -> int:
        return sum(r.status in statuses for r in self.results)

    @property
    def failed(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.failed)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        done = "to send" if self.dry_run else ("sent" if self.channel == "smtp" else "written")
        where = f" to {self.outbox}" if self.channel == "outbox" and not self.dry_run else ""
        n = self.count("would send") if self.dry_run else self.count("sent", "written", "partial")
        return (f"{n} message{'s' if n != 1 else ''} {done}{where}, {self.count('skipped')} already sent, "
                f"{self.count('no address')} without an address, {len(self.failed)} failed")

    def __str__(self) -> str:
        return "\n".join([*(str(r) for r in self.results), self.summary()])


# --------------------------------------------------------------------------- the entry point


def send_workbooks(workbook: str | Path, by: str | None = None, *, outbox: str | Path | None = None,
                   smtp: SmtpSettings | None = None, dry_run: bool = False, resend: bool = False,
                   lang: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES, log_path: str | Path | None = None,
                   mailing: Mailing | str | Path | None = None, week: date | None = None,
                   templates: str | Path | None = None, sender: str | None = None, retries: int = 2,
                   retry_delay: float = 2.0, progress: Progress = _quiet) -> SendReport:
    """Email each manager the workbook of their segment or their own customers.

    WORKBOOK: an output workbook of `tierbook segment`. BY: "segment", "manager", or
    None for every row of the Mailing sheet. MAILING: the routes (default: WORKBOOK's
    Mailing sheet; a path reads another workbook's). With SMTP the messages are sent,
    else written as .eml drafts into OUTBOX (default ./outbox). Every delivered message
    is appended to the send log LOG_PATH (default tierbook-sent.jsonl beside WORKBOOK);
    one already delivered with the same checksum over the same channel is skipped unless
    RESEND. A message over MAX_BYTES is refused. WEEK: a day of the week the note is
    about (default today). DRY_RUN: build everything, deliver and log nothing.

    Raises MailError before anything is sent when the routing or the settings are
    unusable; a recipient that fails is reported in the SendReport and the others go on.
    """
    workbook = Path(workbook)
    if by is not None and by not in BY:
        raise MailError(f"--by must be segment or manager, got {by!r}")
    if not workbook.is_file():
        raise MailError(f"{workbook} does not exist")
    if max_bytes <= 0:
        raise MailError(f"the size limit must be positive, got {max_bytes}")
    if not isinstance(mailing, Mailing):
        mailing = read_mailing(mailing or workbook)
    log_path = Path(log_path) if log_path else workbook.parent / SEND_LOG
    inputs = (workbook, mailing.source if mailing.source and Path(mailing.source).is_file() else None)
    refuse_overwrite(log_path, *inputs, what="the send log")
    kinds = [by] if by else [b for b in BY if any(r.by == b for r in mailing.routes)]
    if not kinds:
        raise MailError(f'the {mailing.sheet} sheet of {mailing.source or workbook} has no row with an address: '
                        f'fill in the "To" column')
    channel = "smtp" if smtp is not None else "outbox"
    outbox_dir = None if smtp is not None else Path(outbox or "outbox")
    from_address = None
    if smtp is not None:
        from_address = smtp.from_address()
    else:  # drafts: the SMTP settings (and the password) are not read, only a From address if one is given
        text = sender or os.environ.get(_ENV_KEYS["sender"], "")
        if text:
            found, bad = parse_addresses(text)
            if len(found) != 1 or bad:
                raise MailError(f"the sender {text!r} is not one email address")
            from_address = found[0]
    week_range = week_of(week)
    results: list[Result] = []

    deliverer = None if dry_run else (SmtpSender(smtp, retries, retry_delay) if smtp is not None
                                      else Outbox(outbox_dir, protect=inputs))
    with (_Nothing() if dry_run else lock_log(log_path)), \
            (deliverer if deliverer is not None else _Nothing()), \
            tempfile.TemporaryDirectory(prefix="tierbook-mail-") as scratch:
        done = {} if resend else read_log(log_path)  # read under the lock: another run may just have sent
        outgoing: list[Outgoing | Result] = []
        for kind in kinds:
            progress(f"splitting {workbook.name} by {kind}")
            groups = split_groups(workbook, kind, Path(scratch) / kind, lang=lang, templates=templates)
            for group in groups:
                glang = labels.check_lang(lang or group.meta.get("lang", "en"))
                route = mailing.route(kind, group.key)
                if route is None:
                    outgoing.append(Result(kind, group.label, "no address",
                                           detail=f"no row for it in the {mailing.sheet} sheet"))
                    continue
                composed = compose(group, figures(group.customers, week_range), glang, load_templates(glang, templates))
                data = group.path.read_bytes()
                message = build_message(to=route.to, cc=route.cc, sender=from_address, subject=composed.subject,
                                        text=composed.text, html_body=composed.html, attachment=data,
                                        attachment_name=composed.attachment_name, draft=channel == "outbox")
                digest = checksum(route.to, route.cc, composed.subject, composed.text, content_digest(group.path))
                outgoing.append(Outgoing(group, route, message, message.as_bytes(policy=policy.SMTP), digest))
            known = {_key(g.key) for g in groups}
            for route in mailing.routes:
                if route.by == kind and _key(route.key) not in known:
                    outgoing.append(Result(kind, route.label, "no address",
                                           detail=f"row {route.row} of the {mailing.sheet} sheet: no customers "
                                                  f"of this {kind} in {workbook.name}"))

        for item in outgoing:
            if isinstance(item, Result):
                results.append(item)
                continue
            results.append(_deliver(item, deliverer, channel, done, max_bytes, log_path, progress))
    return SendReport(tuple(results), channel, log_path, outbox_dir, dry_run)


def lock_log(log_path: Path):
    """The send log, locked for one run: a second `tierbook send` on the same log stops at
    once instead of sending what the first is sending (the lock is the file .NAME.lock)."""
    return exclusive_lock(log_path.with_name(f".{log_path.name}.lock"), lambda: MailError(
        f"another tierbook send is using the send log {log_path}: wait until it has finished, then run again "
        f"(nothing was sent by this run)"))


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _deliver(item: Outgoing, deliverer: Outbox | SmtpSender | None, channel: str, done: dict, max_bytes: int,
             log_path: Path, progress: Progress) -> Result:
    base = Result(item.group.by, item.group.label, "", tuple(a.addr for a in item.route.to),
                  tuple(a.addr for a in item.route.cc), str(item.message["Subject"]),
                  item.message.get_payload()[-1].get_filename(), len(item.raw), item.checksum)
    previous = done.get((item.checksum, channel))
    pending = [a for a in previous.get("pending", ()) if isinstance(a, str)] if previous is not None else []
    if previous is not None and not pending:
        return replace(base, status="skipped",
                       detail=f"already {'sent' if channel == 'smtp' else 'written'} on {previous.get('date', '?')} "
                              f"(--resend to send it again)")
    if pending:  # sent on an earlier run but to these, which the server refused for the time being
        item = replace(item, only=tuple(pending))
    if len(item.raw) > max_bytes:
        return _logged(replace(base, status="too large",
                               detail=f"the message is {_size(len(item.raw))}, over the limit of {_size(max_bytes)}: "
                                      f"raise the limit (--max-mb) or split by manager"),
                       channel, log_path, deliverer is not None)
    if deliverer is None:
        return replace(base, status="would send")
    progress(f"{'sending' if channel == 'smtp' else 'writing'} {item.group.by} {item.group.label!r}")
    try:
        refused, path = deliverer.deliver(item)
    except DeliveryFailed as error:
        return _logged(replace(base, status="failed", detail=error.reason), channel, log_path, True)
    status = "partial" if refused else ("sent" if channel == "smtp" else "written")
    detail = "refused: " + "; ".join(f"{a}: {why}" for a, why in refused.items()) if refused else ""
    held = [a for a, why in refused.items() if why.startswith("4")]
    if held:
        detail += f" (refused for now: a re-run sends it to {', '.join(held)})"
    if pending:
        detail = (f"sent now to {', '.join(a for a in pending if a not in refused)} (held back on "
                  f"{previous.get('date', '?')}); " + detail).rstrip("; ")
    return _logged(replace(base, status=status, detail=detail, path=path), channel, log_path, True, held)


def _size(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def _logged(result: Result, channel: str, log_path: Path, write: bool, pending: Sequence[str] = ()) -> Result:
    """RESULT, appended to the send log when WRITE; PENDING: the recipients a temporary
    refusal held back, whom a re-run sends the message to."""
    if write:
        status = "sent" if result.status in ("sent", "written") else result.status
        append_log(log_path, {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "channel": channel,
            "status": status, "by": result.by, "name": result.name, "to": list(result.to), "cc": list(result.cc),
            "subject": result.subject, "attachment": result.attachment, "bytes": result.size,
            "checksum": result.checksum, "detail": result.detail, **({"pending": list(pending)} if pending else {}),
            **({"file": str(result.path)} if result.path is not None else {})})
    return result


# --------------------------------------------------------------------------- the ribbon

DELIVERY_ENV = "TIERBOOK_MAIL_DELIVERY"


def delivery(environ: Mapping[str, str] | None = None, config: str | Path | None = None) -> str:
    """How the ribbon delivers: "outbox" (the default) or "smtp", from $TIERBOOK_MAIL_DELIVERY,
    else `delivery` in the [mail] section of the user's config file."""
    environ = os.environ if environ is None else environ
    parser = read_config(config)
    value = (environ.get(DELIVERY_ENV) or (parser["mail"].get("delivery", "") if parser.has_section("mail") else "")
             or "outbox").strip().lower()
    if value not in ("outbox", "smtp"):
        raise MailError(f"the mail delivery must be outbox or smtp, got {value!r} ({DELIVERY_ENV} or [mail] delivery "
                        f"in {config or config_path()})")
    return value


def send_from_excel(workbook: str | Path, rows: Sequence[Sequence[object]], *, folder: str | Path,
                    sheet: str = "Mailing", lang: str | None = None, progress: Progress = _quiet) -> SendReport:
    """The ribbon's "Email workbooks": send_workbooks for the classification the add-in
    wrote into WORKBOOK (a temporary file), with the routes of the open workbook's
    Mailing sheet (ROWS, its values). Over SMTP when delivery() says so, else .eml drafts
    into FOLDER/outbox; the send log is FOLDER/tierbook-sent.jsonl."""
    folder = Path(folder)
    mailing = mailing_from_rows(rows, sheet, sheet)
    smtp = smtp_settings() if delivery() == "smtp" else None
    return send_workbooks(workbook, None, outbox=folder / "outbox", smtp=smtp, lang=lang, mailing=mailing,
                          log_path=folder / SEND_LOG, progress=progress)
