"""What goes in each sheet of the output workbook: values, live formulas and texts.

No styling and no file format here: `workbook.py` writes this content into an .xlsx
with openpyxl, and an Excel add-in can write the same content into an open workbook.
Every sheet is a `SheetContent`: its title, the template it is laid out with (see
templates.py), the values of the template's {{placeholders}}, and its tables, each a
frame whose columns are field keys ("customer", "next_contact", ...) with the header
text of each key in the output language.

Values are plain data; a `Formula` is a formula the workbook computes (only this module
makes them, so text from the data never becomes one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from . import labels
from .labels import SEGMENTS, TABLE_NAMES
from .overflow import SHEET_ROWS, sheet_capacity
from .segment import (CONTACT_ACTIONS, CUSTOMER_COLUMNS, LIFECYCLES, WEEK_DAYS, Segmentation, action_order,
                      manager_workload)
from .settings import Settings

#: Categorical columns of Customers whose engine codes are translated.
TRANSLATED_COLUMNS = ("tier", "lifecycle", "quadrant", "size_tier", "rhythm", "tier_whole_period", "owner",
                      "consent_status", "action", "action_reason", "channel")


class Formula(str):
    """A formula the workbook computes, e.g. '=COUNTIFS(tbCustomers[[tier]],"VIP")'."""

    __slots__ = ()


@dataclass(frozen=True)
class SheetTable:
    """One table of a sheet: the frame's columns are field keys."""

    name: str  # the Excel table name, e.g. "tbVIP"
    frame: pd.DataFrame
    headers: Mapping[str, str]  # field key → header text
    #: the columns that the template's "months" key expands to (VIP ledger)
    month_columns: tuple[str, ...] = ()
    #: how the month columns' entries and exits are highlighted (VIP ledger)
    month_marks: "MonthMarks | None" = None


@dataclass(frozen=True)
class MonthMarks:
    """The VIP ledger's highlights as rules the workbook applies (conditional formats in
    the template's tb_entry / tb_exit looks), not a style per cell: an entry is a rank
    with no rank in the WINDOW month columns before it, an exit is a cell holding
    EXIT_MARK. A few rules instead of thousands of styled cells, in the file and in the
    open book alike."""

    window: int
    exit_mark: str


@dataclass(frozen=True)
class Chart:
    """A native chart over columns of a table in the same sheet."""

    kind: str  # "bar" (clustered columns) or "line"
    title: str
    table: str  # key of the table in SheetContent.tables
    x: str  # field key of the categories
    ys: tuple[str, ...]  # field keys of the series
    anchor: str  # the template's tb_chart_<anchor> cell
    rows: int | None = None  # chart only the first `rows` rows of the table
    percent: bool = False  # the values are shares


@dataclass(frozen=True)
class Validation:
    """A dropdown (list data validation) on one column of a table: every data row of
    COLUMN in table TABLE accepts one of CHOICES (or stays empty)."""

    table: str  # key of the table in SheetContent.tables
    column: str  # field key
    choices: tuple[str, ...]


@dataclass(frozen=True)
class PrintSetup:
    """How a sheet prints: the header row of table TITLES_OF repeated on every page,
    landscape, as many pages down as needed but one page wide."""

    titles_of: str | None = "rows"  # key of the table whose header row repeats (None: no print titles)
    landscape: bool = True
    fit_width: bool = True


@dataclass(frozen=True)
class SheetContent:
    key: str  # "summary", "contact_plan", "segment:VIP", "ledger", "monthly_vip", "customers", "issues"
    title: str  # the sheet title in the output language
    template: str | None  # "summary", "contact_plan", "call_list", "ledger"; None: a plain table at A1
    texts: Mapping[str, str]  # {{placeholder}} values
    tables: Mapping[str, SheetTable]  # the template's tb_<key> → table ("rows" for plain sheets)
    charts: tuple[Chart, ...] = ()
    freeze: str | None = "rows"  # freeze the panes under the header of this table
    freeze_columns: int = 0  # ... and this many columns of it
    validations: tuple[Validation, ...] = ()  # dropdowns (the call lists' Done and Outcome)
    print_setup: PrintSetup = PrintSetup()
    #: number formats of the template (or the writer's defaults) → the ones to use, e.g.
    #: {"yyyy-mm-dd": "dd.mm.yyyy"}; empty: labels.NUMBER_FORMATS of the output language
    number_formats: Mapping[str, str] = field(default_factory=dict)
    #: dates before this day are red (overdue): the analysis date, so an old export is
    #: judged at its own date; None: before the day the workbook is opened (TODAY())
    overdue_before: pd.Timestamp | None = None


class Texts:
    """The prose of the templates' Texts sheets in one language: kind → key → text."""

    def __init__(self, by_kind: Mapping[str, Mapping[str, str]], lang: str):
        self.by_kind = by_kind
        self.lang = lang

    def get(self, kind: str, key: str, **values: object) -> str:
        text = self.by_kind.get(kind, {}).get(key)
        if text is None:
            for other in self.by_kind.values():
                if key in other:
                    text = other[key]
                    break
        return fill(text or "", **values)


def fill(text: str, **values: object) -> str:
    """TEXT with its {name} fields filled in; unknown or broken fields stay as typed."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return re.sub(r"\{(\w+)\}", one, text)


def load_texts(lang: str, templates: object = None) -> Texts:
    from .templates import all_texts

    return Texts(all_texts(labels.check_lang(lang), templates), lang)


# --------------------------------------------------------------------------- the whole workbook


def workbook_content(result: Segmentation, lang: str = "en", texts: Texts | None = None) -> list[SheetContent]:
    """Every generated sheet of the output workbook, in order (the copy of the user's
    transaction sheet, if any, goes after Customers; see row_segments)."""
    texts = texts or load_texts(lang)
    customers = result.customers
    as_of = result.as_of
    sheets = [summary(result, lang, texts), contact_plan(customers, as_of, lang, texts, result.settings)]
    contacts = next_contacts(customers, as_of)  # once for every call list
    sheets += [call_list(customers, segment, as_of, lang, texts, contacts=contacts) for segment in SEGMENTS]
    sheets += [ledger(result, lang, texts), monthly_vip(result, lang), customers_sheet(customers, lang, as_of),
               issues_sheet(result.issues, lang)]
    return sheets


def sheet_tables(result: Segmentation, lang: str = "en", texts: Texts | None = None) -> dict[str, SheetContent]:
    """The generated sheets by title: what an Excel writer puts in each sheet."""
    return {sheet.title: sheet for sheet in workbook_content(result, lang, texts)}


# --------------------------------------------------------------------------- segments


def segment_members(customers: pd.DataFrame, segment: str) -> pd.Series:
    """Who is on a segment's call list: VIP/Good/Regular by tier; new, one-time and
    potential by lifecycle class; lost VIP by the lost_vip flag. Lists may overlap."""
    if segment in ("VIP", "Good", "Regular"):
        return customers["tier"] == segment
    if segment in ("new", "one-time", "potential"):
        return customers["lifecycle"] == segment
    if segment == "lost VIP":
        return customers["lost_vip"].astype(bool)
    raise ValueError(f"unknown segment {segment!r}; segments are: {', '.join(SEGMENTS)}")


def primary_segment(customers: pd.DataFrame) -> pd.Series:
    """One segment code per customer, for the Segment column beside the user's rows:
    "lost VIP" when flagged, else the tier, else the lifecycle class."""
    out = customers["tier"].where(customers["tier"] != "", customers["lifecycle"]).astype(object)
    out[customers["lost_vip"].astype(bool).to_numpy()] = "lost VIP"
    return out


def row_segments(result: Segmentation, tx: pd.DataFrame, lang: str = "en") -> pd.Series:
    """The Segment of each transaction row: index = the row number in the user's sheet
    (the clean frame's index), value = the primary segment of the row's customer in LANG.
    Rows after the analysis month get their customer's segment too."""
    labels_by_customer = pd.Series(primary_segment(result.customers).to_numpy(), index=result.customers["customer"])
    codes = tx["customer"].map(labels_by_customer).fillna("")
    return codes.map({c: labels.value("segment", c, lang) for c in codes.unique()}).astype(object)


# --------------------------------------------------------------------------- contact planning


def contact_tasks(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The contacts to make: one row per customer whose next action (decided by the
    engine, segment.next_action) is a contact, in the order to work them
    (segment.action_order).

    Columns: customer (position in CUSTOMERS), date (the day to act: the due date, or
    the analysis date when that is overdue), task (the action), overdue_since (the due
    date when it is before the analysis date, else NaT), reason.
    """
    order = action_order(customers, as_of)
    order = order[customers["action"].isin(CONTACT_ACTIONS).to_numpy()[order]]
    due = pd.to_datetime(customers["action_due"].iloc[order]).astype("datetime64[ns]").reset_index(drop=True)
    overdue = due < as_of
    return pd.DataFrame({
        "customer": order.astype("int64"),
        "date": due.where(~overdue, pd.Timestamp(as_of)),
        "task": customers["action"].iloc[order].to_numpy(),
        "overdue_since": due.where(overdue),
        "reason": customers["action_reason"].iloc[order].to_numpy(),
    })


def each(values: object, label) -> list:
    """LABEL(value) for each of VALUES, computed once per distinct value (labels are pure
    functions of a code; iterating a 50,000-row column of Arrow strings one by one costs
    more than the labels)."""
    array = pd.Series(values).to_numpy(dtype=object)
    codes, uniques = pd.factorize(array, use_na_sentinel=False)
    return np.array([label(u) for u in uniques], dtype=object)[codes].tolist() if len(array) else []


def _task_label(task: str, lang: str) -> str:
    return labels.word(f"task.{task}", lang)


def _reason_label(reason: str, lang: str) -> str:
    return labels.word(f"reason.{reason}", lang) if reason else ""


def _consent_label(status: str, lang: str) -> str:
    return labels.word(f"consent.{status}", lang) if status else ""


def _script(task: str, lifecycle: str, texts: Texts) -> str:
    key = f"script.periodic.{lifecycle}" if task == "periodic" else f"script.{task}"
    return texts.get("contact_plan", key)


def contact_plan(customers: pd.DataFrame, as_of: pd.Timestamp, lang: str, texts: Texts,
                 settings: Settings | None = None) -> SheetContent:
    """Who to contact, when, on which channel and at which time, with which script: one
    next action per customer, in the order to work them. The classes table shows the
    contacts_per_year setting (SETTINGS; without them, what the customers carry)."""
    tasks = contact_tasks(customers, as_of)
    who = customers.iloc[tasks["customer"].to_numpy()].reset_index(drop=True)
    segment = primary_segment(who)
    rows = pd.DataFrame({
        "date": tasks["date"],
        "overdue_since": tasks["overdue_since"],
        "task": each(tasks["task"], lambda t: _task_label(t, lang)),
        "reason": each(tasks["reason"], lambda r: _reason_label(r, lang)),
        "customer": who["customer"],
        "manager": who["manager"],
        "segment": each(segment, lambda s: labels.value("segment", s, lang)),
        "consent": each(who["consent_status"], lambda c: _consent_label(c, lang)),
        "channel": each(who["channel"], lambda c: labels.value("channel", c, lang)),
        "contact_time": who["contact_time"],
        "phone": who["phone"],
        "email": who["email"],
        "script": each(pd.Series(list(zip(tasks["task"].to_numpy(dtype=object), who["lifecycle"].to_numpy(dtype=object))),
                                 dtype=object), lambda pair: _script(pair[0], pair[1], texts)),
    })
    consent = customers["consent"].astype(bool)
    in_plan = pd.Series(customers["customer"].iloc[tasks["customer"].unique()].to_numpy()).groupby(
        customers["lifecycle"].iloc[tasks["customer"].unique()].to_numpy()).size()
    counts = customers.groupby("lifecycle").agg(customers=("customer", "size"),
                                                contacts_per_year=("contacts_per_year", "max"))
    with_consent = consent.groupby(customers["lifecycle"]).sum()
    codes = pd.Series(list(LIFECYCLES))
    classes = pd.DataFrame({
        "lifecycle": [labels.value("lifecycle", c, lang) for c in codes],
        "contacts_per_year": (codes.map(dict(settings.contacts_per_year)) if settings is not None
                              else codes.map(counts["contacts_per_year"])).fillna(0).astype("int64"),
        "customers": codes.map(counts["customers"]).fillna(0).astype("int64"),
        "with_consent": codes.map(with_consent).fillna(0).astype("int64"),
        "in_plan": codes.map(in_plan).fillna(0).astype("int64"),
    })
    no_consent = int((customers["action"] == "no_consent").sum())
    no_marketing = int((customers["action"] == "no_marketing").sum())
    unknown = int((customers["consent_status"] == "unknown").sum())
    planned_customers = int(tasks["customer"].nunique())
    text_values = {
        "title": texts.get("contact_plan", "title"),
        "subtitle": texts.get("contact_plan", "subtitle", tasks=len(tasks), customers=planned_customers,
                              as_of=_day(as_of, texts.lang)),
        "excluded": texts.get("contact_plan", "excluded", no_consent=no_consent, no_marketing=no_marketing,
                              unknown=unknown, as_of=_day(as_of, texts.lang)),
        "classes_note": texts.get("contact_plan", "classes_note"),
        "overdue_legend": texts.get("contact_plan", "overdue_legend", as_of=_day(as_of, lang)),
    }
    return SheetContent(
        key="contact_plan",
        title=labels.sheet_title("contact_plan", lang),
        template="contact_plan",
        texts=text_values,
        tables={"classes": _table("plan_classes", classes, lang),
                "rows": _table("contact_plan", rows, lang)},
        overdue_before=pd.Timestamp(as_of),
    )


def next_contacts(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each customer's next action, by position: date (the day to act, NaT when the action
    is not a contact), task (the action, "" when none), overdue_since, reason."""
    tasks = contact_tasks(customers, as_of)
    out = pd.DataFrame({"date": pd.Series(pd.NaT, index=range(len(customers)), dtype="datetime64[ns]"),
                        "task": customers["action"].astype(str).to_numpy(),
                        "overdue_since": pd.Series(pd.NaT, index=range(len(customers)), dtype="datetime64[ns]"),
                        "reason": customers["action_reason"].astype(str).to_numpy()})
    out.loc[tasks["customer"].to_numpy(), "date"] = tasks["date"].to_numpy()
    out.loc[tasks["customer"].to_numpy(), "overdue_since"] = tasks["overdue_since"].to_numpy()
    return out


# --------------------------------------------------------------------------- call lists


CALL_LIST_KEYS = ["customer", "manager", "next_contact", "overdue_since", "task", "reason", "done", "outcome", "note",
                  "next_purchase", "cycle_days", "average_order", "last_purchase", "last_contact", "consent", "channel",
                  "contact_time", "phone", "email", "revenue", "payments", "profit", "tier", "lifecycle"]
#: The columns a manager fills in on a call list (carried over by worklist.carry_over).
WORK_KEYS = ("done", "outcome", "note")


def work_validations(table: str, lang: str) -> tuple[Validation, ...]:
    """The dropdowns of a worklist's Done and Outcome columns in LANG."""
    return (Validation(table, "done", labels.choices("done", lang)),
            Validation(table, "outcome", labels.choices("outcome", lang)))


def call_list(customers: pd.DataFrame, segment: str, as_of: pd.Timestamp, lang: str, texts: Texts,
              analysis_month: str | None = None, criterion: str = "revenue",
              contacts: pd.DataFrame | None = None) -> SheetContent:
    """One segment's call list: its customers with their next action, in the order to
    work them (segment.action_order: the day to act, the action, the biggest first).
    CONTACTS: next_contacts(CUSTOMERS, AS_OF) when the caller has it (one computation
    for all the call lists of a workbook)."""
    inside = segment_members(customers, segment).to_numpy()
    members = customers[inside]
    nxt = (next_contacts(customers, as_of) if contacts is None else contacts)[inside]
    order = action_order(members.reset_index(drop=True), as_of)
    members = members.iloc[order].reset_index(drop=True)
    nxt = nxt.iloc[order].reset_index(drop=True)
    rows = pd.DataFrame({
        "customer": members["customer"],
        "manager": members["manager"],
        "next_contact": nxt["date"],
        "overdue_since": nxt["overdue_since"],
        "task": each(nxt["task"], lambda t: _task_label(t, lang) if t else ""),
        "reason": each(nxt["reason"], lambda r: _reason_label(r, lang)),
        # filled in by the manager (kept by a re-run, worklist.carry_over)
        "done": pd.Series("", index=members.index, dtype=object),
        "outcome": pd.Series("", index=members.index, dtype=object),
        "note": pd.Series("", index=members.index, dtype=object),
        # the why: when the customer usually buys again, how often, how much
        "next_purchase": members["next_purchase"],
        "cycle_days": members["cycle_days"],
        "average_order": members["average_order"],
        "last_purchase": members["last_purchase"],
        # from what the workbook holds (the Contact log, the Done tasks): worklist.with_worklog
        "last_contact": pd.Series(pd.NaT, index=members.index, dtype="datetime64[ns]"),
        "consent": each(members["consent_status"], lambda c: _consent_label(c, lang)),
        "channel": each(members["channel"], lambda c: labels.value("channel", c, lang)),
        "contact_time": members["contact_time"],
        "phone": members["phone"],
        "email": members["email"],
        "revenue": members["revenue"],
        "payments": members["payments"],
        "profit": members["profit"],
        "tier": each(members["tier"], lambda t: labels.value("tier", t, lang)),
        "lifecycle": each(members["lifecycle"], lambda t: labels.value("lifecycle", t, lang)),
    })
    key = f"segment:{segment}"
    total = len(rows)
    rows, note = fit_rows(rows, "call_list", lang)
    text_values = {
        "title": texts.get("call_list", f"title.{segment}"),
        "subtitle": _with_note(texts.get("call_list", "subtitle", customers=total, as_of=_day(as_of, texts.lang),
                                         criterion=texts.get("summary", f"criterion.{criterion}")), note),
        "strategy": texts.get("call_list", f"strategy.{segment}"),
        "script": texts.get("call_list", f"script.{segment}"),
        "overdue_legend": texts.get("call_list", "overdue_legend", as_of=_day(as_of, lang)),
        "work_note": texts.get("call_list", "work_note"),
    }
    return SheetContent(key=key, title=labels.sheet_title(key, lang), template="call_list", texts=text_values,
                        tables={"rows": _table(key, rows, lang)}, freeze_columns=1,
                        validations=work_validations("rows", lang), overdue_before=pd.Timestamp(as_of))


# --------------------------------------------------------------------------- VIP ledger


def ledger(result: Segmentation, lang: str, texts: Texts) -> SheetContent:
    """The VIP ledger: one column per month with the customer's rank where they were
    VIP; entries (a VIP month after none in the window before) and exits (the month
    they leave the ledger, marked ×) are highlighted."""
    total, current = len(result.ledger), int((result.ledger["status"] == "current VIP").sum())
    book, note = fit_rows(result.ledger, "ledger", lang)
    months = tuple(c for c in book.columns if re.fullmatch(r"\d{4}-\d{2}", str(c)))
    frame = book[["customer", "status", "first_vip", "last_vip", "vip_months", "left_on", *months]].copy()
    frame["status"] = each(frame["status"], lambda s: labels.value("status", s, lang))
    frame = frame.astype({m: object for m in months})
    window = result.settings.window
    exit_mark = labels.word("month_marker_exit", lang)
    frame[list(months)] = frame[list(months)].mask(ledger_exits(book[list(months)].notna().to_numpy(), window),
                                                   exit_mark)
    for m in months:
        frame[m] = [None if v is None or v is pd.NA else v for v in frame[m]]
    headers = {k: labels.header(k, lang) for k in ("customer", "status", "first_vip", "last_vip", "vip_months",
                                                   "left_on")}
    headers.update({m: labels.month_label(m, lang) for m in months})
    text_values = {
        "title": texts.get("ledger", "title"),
        "subtitle": _with_note(texts.get("ledger", "subtitle", customers=total, current=current, window=window,
                                         month=labels.month_label(result.analysis_month, lang)), note),
    }
    table = SheetTable(TABLE_NAMES["ledger"], frame, headers, month_columns=months,
                       month_marks=MonthMarks(window, exit_mark))
    return SheetContent(key="ledger", title=labels.sheet_title("ledger", lang), template="ledger",
                        texts=text_values, tables={"rows": table}, freeze_columns=1)


def ledger_exits(vip: np.ndarray, window: int) -> np.ndarray:
    """Where the ledger marks an exit, from VIP (customers × months, True in a VIP
    month): WINDOW months after a VIP month that no VIP month follows within WINDOW."""
    exits = np.zeros_like(vip, dtype=bool)
    months = vip.shape[1]
    if window < 1 or months <= window:
        return exits
    counts = np.concatenate([np.zeros((len(vip), 1), dtype=np.int64), vip.cumsum(axis=1)], axis=1)
    first = months - window  # VIP months that can have an exit inside the window
    after = counts[:, window + 1:window + 1 + first] - counts[:, 1:1 + first]  # VIP months in j+1..j+window
    exits[:, window:] = vip[:, :first] & (after == 0)
    return exits


# --------------------------------------------------------------------------- summary


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def column_ref(column: str, lang: str) -> str:
    """A structured reference to a column of the Customers table, e.g. tbCustomers[[tier]]."""
    name = re.sub(r"(['\[\]#])", r"'\1", labels.customer_header(column, lang))
    return f"{TABLE_NAMES['customers']}[[{name}]]"


def _share_rows(column: str, codes: list[str], row_labels: list[str], lang: str, label_key: str) -> pd.DataFrame:
    """Counts, revenue and profit per value of COLUMN, and their shares, as live formulas
    on the Customers table; the last row is all customers."""
    by = column_ref(column, lang)
    rows = []
    everyone = f"ROWS({column_ref('customer', lang)})"
    revenue_all = f"SUM({column_ref('revenue', lang)})"
    profit_all = f"SUM({column_ref('profit', lang)})"
    for code_, label in zip(codes, row_labels):
        crit = _quote(labels.value(column, code_, lang))
        count = f"COUNTIFS({by},{crit})"
        revenue = f"SUMIFS({column_ref('revenue', lang)},{by},{crit})"
        profit = f"SUMIFS({column_ref('profit', lang)},{by},{crit})"
        rows.append([label, Formula(f"={count}"), Formula(f"=IFERROR({count}/{everyone},0)"),
                     Formula(f"={revenue}"), Formula(f"=IFERROR({revenue}/{revenue_all},0)"),
                     Formula(f"={profit}"), Formula(f"=IFERROR({profit}/{profit_all},0)")])
    rows.append([labels.word("row.all", lang), Formula(f"={everyone}"), Formula(f"=IFERROR({everyone}/{everyone},0)"),
                 Formula(f"={revenue_all}"), Formula(f"=IFERROR({revenue_all}/{revenue_all},0)"),
                 Formula(f"={profit_all}"), Formula(f"=IFERROR({profit_all}/{profit_all},0)")])
    # dtype=object: a string dtype would turn the Formula objects into plain text
    return pd.DataFrame(rows, columns=[label_key, "customers", "customer_share", "revenue", "revenue_share", "profit",
                                       "profit_share"], dtype=object)


def _share_values(customers: pd.DataFrame, column: str, codes: list[str], row_labels: list[str], lang: str,
                  label_key: str) -> pd.DataFrame:
    """What _share_rows computes, as values: for a workbook whose Customers sheet cannot
    hold every customer (Excel's row limit), where formulas over it would count a part."""
    figures = share_figures(customers, column, codes)
    figures.insert(0, label_key, row_labels + [labels.word("row.all", lang)])
    return figures.astype(object)


def share_figures(customers: pd.DataFrame, column: str, codes: list[str]) -> pd.DataFrame:
    """What the Summary formulas compute, in pandas (for checks): per code and for all."""
    out = []
    total = len(customers)
    revenue_all = customers["revenue"].sum()
    profit_all = customers["profit"].fillna(0).sum()
    for code_ in list(codes) + [None]:
        part = customers if code_ is None else customers[customers[column] == code_]
        revenue = part["revenue"].sum()
        profit = part["profit"].fillna(0).sum()
        out.append({"customers": len(part), "customer_share": len(part) / total if total else 0.0,
                    "revenue": revenue, "revenue_share": revenue / revenue_all if revenue_all else 0.0,
                    "profit": profit, "profit_share": profit / profit_all if profit_all else 0.0})
    return pd.DataFrame(out)


TIER_ROWS = ["VIP", "Good", "Regular", ""]
LIFECYCLE_ROWS = list(LIFECYCLES)


def pareto(customers: pd.DataFrame, points: int = 100) -> pd.DataFrame:
    """The Pareto curve: cumulative share of revenue given by the top x% of customers
    (ranked by revenue; customers with revenue ≤ 0 give nothing), at x = 0, 1/points, …, 1."""
    revenue = np.sort(customers["revenue"].fillna(0).clip(lower=0).to_numpy())[::-1]
    total = revenue.sum()
    cumulative = np.concatenate([[0.0], np.cumsum(revenue)]) / (total if total > 0 else 1.0)
    x = np.linspace(0, 1, points + 1)
    k = np.ceil(x * len(revenue) - 1e-9).astype(int)
    return pd.DataFrame({"customers_pct": x, "cumulative_revenue": cumulative[k]})


def _pct(x: float) -> str:
    return f"{x:.0%}"


def alert_text(result: Segmentation, texts: Texts) -> str:
    """The concentration alert in plain words (or why there is none)."""
    c = result.concentration.iloc[0]
    s = result.settings
    values = {"top1": _pct(c["top1_share"]), "top3": _pct(c["top3_share"]), "top1_alert": _pct(s.top1_alert),
              "top3_alert": _pct(s.top3_alert), "basis": texts.get("summary", f"basis.{c['basis']}")}
    reasons = []
    if c["top3_share"] >= s.top3_alert:
        reasons.append(texts.get("summary", "reason_top3", **values))
    if c["top1_share"] >= s.top1_alert:
        reasons.append(texts.get("summary", "reason_top1", **values))
    if reasons:
        text = texts.get("summary", "alert_on", reasons="; ".join(reasons), **values)
        names = str(c.get("top_customers", "") or "")
        return f"{text} {texts.get('summary', 'alert_names', names=names)}" if names else text
    return texts.get("summary", "alert_off", **values)


def summary(result: Segmentation, lang: str, texts: Texts) -> SheetContent:
    """Counts, revenue and profit per tier and per lifecycle class (live formulas), the
    concentration metrics and alert, and the data of three charts."""
    s = result.settings
    tier_labels = [labels.value("tier", t, lang) if t else labels.word("row.inactive", lang) for t in TIER_ROWS]
    lifecycle_labels = [labels.value("lifecycle", c, lang) for c in LIFECYCLE_ROWS]
    if len(result.customers) > sheet_capacity(None):  # Customers holds only part: figures, not formulas over it
        tiers = _share_values(result.customers, "tier", TIER_ROWS, tier_labels, lang, "tier")
        lifecycles = _share_values(result.customers, "lifecycle", LIFECYCLE_ROWS, lifecycle_labels, lang,
                                    "lifecycle")
    else:
        tiers = _share_rows("tier", TIER_ROWS, tier_labels, lang, "tier")
        lifecycles = _share_rows("lifecycle", LIFECYCLE_ROWS, lifecycle_labels, lang, "lifecycle")
    c = result.concentration
    concentration = pd.DataFrame({
        "basis": [labels.header(str(b), lang) for b in c["basis"]],
        "period": c["period"],
        "top1_share": c["top1_share"], "top3_share": c["top3_share"], "top5_share": c["top5_share"],
        "customers_for_80pct": c["customers_for_80pct"], "herfindahl": c["herfindahl"],
    })
    flow = result.ledger_flow[["month", "entered", "left", "size"]].reset_index(drop=True)
    text_values = {
        "title": texts.get("summary", "title"),
        "subtitle": texts.get("summary", "subtitle", as_of=_day(result.as_of, lang),
                              month=labels.month_label(result.analysis_month, lang),
                              criterion=texts.get("summary", f"criterion.{s.criterion.value}"),
                              share=_pct(s.share), window=s.window),
        "alert": alert_text(result, texts),
        # every period named: tiers come from the window, the money beside them is all-time
        "tiers_heading": texts.get("summary", "tiers_heading", period=_period(c, lang), as_of=_day(result.as_of, lang)),
        "lifecycles_heading": texts.get("summary", "lifecycles_heading", as_of=_day(result.as_of, texts.lang)),
        "concentration_heading": texts.get("summary", "concentration_heading", period=_period(c, lang)),
        "pareto_heading": texts.get("summary", "pareto_heading", as_of=_day(result.as_of, texts.lang)),
        "managers_heading": texts.get("summary", "managers_heading", as_of=_day(result.as_of, texts.lang),
                                      week_end=_day(pd.Timestamp(result.as_of) + pd.Timedelta(days=WEEK_DAYS - 1),
                                                    lang)),
    }
    workload = manager_workload(result.customers, result.as_of)
    workload["manager"] = [m or labels.word("no_manager", lang) for m in workload["manager"]]
    tables = {
        "tiers": _table("tiers", tiers, lang),
        "lifecycles": _table("lifecycles", lifecycles, lang),
        "concentration": _table("concentration", concentration, lang),
        "flow": _table("flow", flow.assign(month=flow["month"].map(lambda m: labels.month_label(m, lang))), lang),
        "pareto": _table("pareto", pareto(result.customers), lang),
        "managers": _table("managers", workload, lang),
    }
    charts = (
        Chart("bar", texts.get("summary", "chart.tiers"), "tiers", "tier", ("customer_share", "revenue_share"),
              "tiers", rows=len(TIER_ROWS), percent=True),
        Chart("line", texts.get("summary", "chart.pareto"), "pareto", "customers_pct", ("cumulative_revenue",),
              "pareto", percent=True),
        Chart("bar", texts.get("summary", "chart.flow"), "flow", "month", ("entered", "left"), "flow"),
    )
    return SheetContent(key="summary", title=labels.sheet_title("summary", lang), template="summary",
                        texts=text_values, tables=tables, charts=charts, freeze=None,
                        print_setup=PrintSetup(titles_of=None))


# --------------------------------------------------------------------------- Excel's row limit


def fit_rows(frame: pd.DataFrame, template: str | None, lang: str, order: str = "first") -> tuple[pd.DataFrame, str]:
    """The rows of FRAME that fit in one sheet laid out with TEMPLATE (None: a plain
    table at A1), and the sentence that says what is left out ("" when everything fits).

    ORDER says which rows stay: "revenue" (the customers with the highest revenue, in
    that order), "first" (the first rows: call lists are in the order to work them),
    "latest" (the last rows: the latest months)."""
    capacity = sheet_capacity(template)
    total = len(frame)
    if total <= capacity:
        return frame, ""
    if order == "revenue":
        kept = frame.sort_values(["revenue", "customer"], ascending=[False, True], kind="stable").head(capacity)
    elif order == "latest":
        kept = frame.tail(capacity)
    else:
        kept = frame.head(capacity)

    def number(n: int) -> str:
        return f"{n:,}" if lang == "en" else f"{n:,}".replace(",", "\u00a0")

    note = fill(labels.word("left_out", lang), shown=number(capacity), total=number(total),
                limit=number(SHEET_ROWS), left=number(total - capacity),
                order=labels.word(f"left_out.{order}", lang), where=labels.word("left_out.where", lang))
    return kept.reset_index(drop=True), note


def _with_note(text: str, note: str) -> str:
    return f"{text} {note}" if note and text else note or text


# --------------------------------------------------------------------------- plain data sheets


def localize_customers(customers: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The customers frame as the Customers sheet shows it in LANG: codes translated
    (headers are given separately by labels.customer_header)."""
    if labels.check_lang(lang) == "en":
        return customers
    out = customers.copy()
    for column in TRANSLATED_COLUMNS:
        mapping = dict(labels.VALUES_RU[column])
        out[column] = out[column].map(lambda v: mapping.get(v, v)).astype(customers[column].dtype)
    return out


def customers_sheet(customers: pd.DataFrame, lang: str, as_of: pd.Timestamp | None = None) -> SheetContent:
    """The Customers sheet (English column keys, stable for other tools); dates before
    AS_OF (the analysis date) red. After the engine's columns, the lookup columns
    (lookups.LOOKUP_COLUMNS) that =SEGMENT(A2) and =NEXT_CONTACT(A2) read: each
    customer's segment (as in the Segment column) and next contact date (as in the
    contact plan; AS_OF None: the last purchase in the table). More customers than a
    sheet holds: those with the highest revenue, and a note of what is left out (fit_rows)."""
    from .lookups import LOOKUP_COLUMNS, customers_header

    shown, note = fit_rows(customers, None, lang, "revenue")
    frame = localize_customers(shown[CUSTOMER_COLUMNS], lang)
    when = pd.Timestamp(as_of) if as_of is not None else customers["last_purchase"].max()
    frame = frame.assign(
        segment=each(primary_segment(shown), lambda c: labels.value("segment", c, lang)),
        next_contact=next_contacts(shown, when)["date"].to_numpy() if len(shown) else
        pd.Series([], dtype="datetime64[ns]"))[[*CUSTOMER_COLUMNS, *LOOKUP_COLUMNS]]
    headers = {c: customers_header(c, lang) for c in frame.columns}
    table = SheetTable(TABLE_NAMES["customers"], frame, headers)
    return SheetContent(key="customers", title=labels.sheet_title("customers", lang), template=None,
                        texts={"note": note} if note else {},
                        tables={"rows": table}, freeze_columns=1,
                        overdue_before=pd.Timestamp(as_of) if as_of is not None else None)


def monthly_vip(result: Segmentation, lang: str) -> SheetContent:
    frame, note = fit_rows(result.monthly_vip, None, lang, "latest")
    headers = {c: (c if lang == "en" else labels.header(c, lang)) for c in frame.columns}
    table = SheetTable(TABLE_NAMES["monthly_vip"], frame, headers)
    return SheetContent(key="monthly_vip", title=labels.sheet_title("monthly_vip", lang), template=None,
                        texts={"note": note} if note else {},
                        tables={"rows": table})


def issues_sheet(issues: pd.DataFrame, lang: str) -> SheetContent:
    """The input report; in Russian, its problems in Russian too (labels.problem)."""
    if lang != "en" and "problem" in issues.columns and len(issues):
        issues = issues.assign(problem=[labels.problem(str(p), lang) for p in issues["problem"]])
    issues, note = fit_rows(issues, None, lang)
    headers = {c: (c if lang == "en" else labels.header(c, lang)) for c in issues.columns}
    table = SheetTable(TABLE_NAMES["issues"], issues, headers)
    return SheetContent(key="issues", title=labels.sheet_title("issues", lang), template=None,
                        texts={"note": note} if note else {},
                        tables={"rows": table})


def _table(key: str, frame: pd.DataFrame, lang: str) -> SheetTable:
    return SheetTable(TABLE_NAMES[key], frame, {c: labels.header(c, lang) for c in frame.columns})


def _period(concentration: pd.DataFrame, lang: str = "en") -> str:
    """The window as "YYYY-MM – YYYY-MM" (the engine's period "YYYY-MM..YYYY-MM"), its
    months in LANG's format (labels.month_label)."""
    return " – ".join(labels.month_label(m, lang) for m in str(concentration["period"].iloc[0]).split(".."))


DAY_FORMATS = {"en": "%Y-%m-%d", "ru": "%d.%m.%Y"}


def _day(stamp: pd.Timestamp, lang: str = "en") -> str:
    """A day in a text: 2025-10-31 in English, 31.10.2025 in Russian."""
    return pd.Timestamp(stamp).strftime(DAY_FORMATS.get(lang, DAY_FORMATS["en"]))


# --------------------------------------------------------------------------- movement between tiers


MOVEMENT_TIERS = ("VIP", "Good", "Regular", "inactive")


def tier_label(code_: str, lang: str) -> str:
    """A tier of the movement history (VIP / Good / Regular / inactive) in LANG."""
    if code_ == "inactive":
        return labels.word("tier.inactive", lang)
    return labels.value("tier", code_, lang)


def previous_month(month: str) -> str:
    return (pd.Period(month, "M") - 1).strftime("%Y-%m")


def movement_sheet(history: pd.DataFrame, result: Segmentation, lang: str, texts: Texts) -> SheetContent:
    """How customers moved between tiers: the transition matrix of the analysis month
    (tier last month × tier now), entries and exits per tier that month, the tier sizes
    of every month (with a line chart) and each customer's previous tier and the month
    their tier last changed."""
    from .movement import entries_and_exits, tier_changes, tier_sizes, transition_matrix, transitions

    month = result.analysis_month
    before = previous_month(month)
    moves = transitions(history)  # once for the matrix and the entries and exits
    matrix = transition_matrix(history, month, moves)
    matrix_rows = pd.DataFrame({"tier_before": [tier_label(t, lang) for t in matrix.index]})
    for tier in MOVEMENT_TIERS:
        matrix_rows[tier] = matrix[tier].to_numpy()
    flow = entries_and_exits(history, moves)
    flow = flow[flow["month"] == month]
    flow_rows = pd.DataFrame({"tier": [tier_label(t, lang) for t in MOVEMENT_TIERS]})
    by_tier = flow.set_index("tier")
    flow_rows["entered"] = [int(by_tier["entered"].get(t, 0)) for t in MOVEMENT_TIERS]
    flow_rows["left"] = [int(by_tier["left"].get(t, 0)) for t in MOVEMENT_TIERS]
    sizes = tier_sizes(history)[["month", *MOVEMENT_TIERS]]
    changes = tier_changes(history)
    changes = changes.sort_values(["changed_on", "customer"], ascending=[False, True], ignore_index=True)
    change_rows = pd.DataFrame({
        "customer": changes["customer"],
        "tier": each(changes["tier"], lambda t: tier_label(t, lang)),
        "previous_tier": each(changes["previous_tier"], lambda t: tier_label(t, lang) if t else ""),
        "changed_on": changes["changed_on"],
    })
    changed = int(np.diag(matrix.to_numpy()).sum())
    changed = int(matrix.to_numpy().sum()) - changed
    shown = lambda m: labels.month_label(m, lang)  # noqa: E731 - months as LANG shows them
    sizes = sizes.assign(month=sizes["month"].map(shown))
    change_rows["changed_on"] = change_rows["changed_on"].map(shown)
    text_values = {
        "title": texts.get("movement", "title"),
        "subtitle": texts.get("movement", "subtitle", month=shown(month), previous=shown(before),
                              customers=len(changes), changed=changed),
        "matrix_heading": texts.get("movement", "matrix_heading", month=shown(month), previous=shown(before)),
        "flow_heading": texts.get("movement", "flow_heading", month=shown(month)),
    }
    tables = {
        "matrix": _table("movement_matrix", matrix_rows, lang),
        "flow": _table("movement_flow", flow_rows, lang),
        "sizes": _table("tier_sizes", sizes, lang),
        "changes": _table("tier_changes", change_rows, lang),
    }
    charts = (Chart("lines", texts.get("movement", "chart.sizes"), "sizes", "month", ("VIP", "Good", "Regular"),
                    "sizes"),)
    return SheetContent(key="movement", title=labels.sheet_title("movement", lang), template="movement",
                        texts=text_values, tables=tables, charts=charts, freeze=None)


# --------------------------------------------------------------------------- reactivation tests


def variant_message(variant: str, texts: Texts) -> str:
    return texts.get("reactivation", f"message.{variant}")


def reactivation_sheet(planned: pd.DataFrame, seed: int, variants: int, lang: str, texts: Texts) -> SheetContent:
    """The reactivation plan: each one-time buyer's variant, message, channel, contact
    time and planned date; the seed that makes the assignment reproducible."""
    from .reactivation import VARIANTS

    codes = list(VARIANTS[:variants])
    counts = planned["variant"].value_counts()
    variant_rows = pd.DataFrame({"variant": codes, "customers": [int(counts.get(v, 0)) for v in codes],
                                 "message": [variant_message(v, texts) for v in codes]})
    rows = pd.DataFrame({
        "customer": planned["customer"].astype(str),
        "variant": planned["variant"].astype(str),
        "planned_on": pd.to_datetime(planned["planned_on"]).astype("datetime64[ns]"),
        "manager": planned["manager"].astype(object),
        "channel": pd.Series([labels.value("channel", c, lang) for c in planned["channel"].astype(str)],
                             index=planned.index, dtype=object),
        "contact_time": planned["contact_time"].astype(object),
        "phone": planned["phone"].astype(object),
        "email": planned["email"].astype(object),
        "stratum": pd.Series([labels.stratum_label(v, lang) for v in planned["stratum"].astype(str)],
                             index=planned.index, dtype=object),
        "message": [variant_message(v, texts) for v in planned["variant"]],
    })
    dates = rows["planned_on"].dropna()
    text_values = {
        "title": texts.get("reactivation", "title"),
        "subtitle": texts.get("reactivation", "subtitle", customers=len(rows), variants=variants,
                              planned_on=_day(dates.max(), texts.lang) if len(dates) else ""),
        "seed_line": texts.get("reactivation", "seed_line", seed=seed),
    }
    return SheetContent(key="reactivation", title=labels.sheet_title("reactivation", lang), template="reactivation",
                        texts=text_values,
                        tables={"variants": _table("variant_texts", variant_rows, lang),
                                "rows": _table("reactivation", rows, lang)}, freeze_columns=1)


def reactivation_results_sheet(results: pd.DataFrame, verdict_text: str, contacts: int, issues: int,
                               settings, as_of: pd.Timestamp, lang: str, texts: Texts) -> SheetContent:
    """Per variant: contacted, converted, rate with its 95% Wilson interval, revenue
    after contact; the verdict in plain words and a bar chart of the rates."""
    rows = results[["variant", "contacted", "converted", "rate", "rate_low", "rate_high", "revenue_after"]]
    rows = rows.reset_index(drop=True)
    text_values = {
        "title": texts.get("reactivation_results", "title"),
        "subtitle": texts.get("reactivation_results", "subtitle", contacts=contacts,
                              response_days=settings.response_days, as_of=_day(as_of, texts.lang)),
        "verdict": verdict_text if contacts else texts.get("reactivation_results", "no_contacts"),
        "log_note": texts.get("reactivation_results", "log_note", issues=issues),
    }
    charts = (Chart("bar", texts.get("reactivation_results", "chart.rates"), "rows", "variant", ("rate",), "rates",
                    percent=True),)
    return SheetContent(key="reactivation_results", title=labels.sheet_title("reactivation_results", lang),
                        template="reactivation_results", texts=text_values,
                        tables={"rows": _table("reactivation_results", rows, lang)}, charts=charts, freeze=None)


CONTACT_LOG_KEYS = ("customer", "date", "variant", "channel", "note")


def contact_log_headers(lang: str) -> list[str]:
    """The header row of an empty Contact log sheet (the reader knows both languages)."""
    return [labels.header(k, lang) for k in CONTACT_LOG_KEYS]
