"""What the command line and the ribbon do: a file in, a workbook out."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pandas as pd

from .movement import tier_history
from .read import read_transactions
from .schema import InputError
from .segment import Segmentation, classify
from .settings import Settings
from .workbook import write_workbook

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def segment_file(src: str | Path, out: str | Path, settings: Settings | None = None, sheet: str | None = None,
                 lang: str = "en", progress: Progress = _quiet, force: bool = False) -> Segmentation:
    """Read the transactions in SRC, classify the customers and write the workbook OUT.
    An existing OUT with sheets tierbook did not write is refused unless FORCE."""
    started = time.perf_counter()
    check_replaceable(out, force)
    progress(f"reading {src}")
    tx, issues = read_transactions(src, sheet=sheet)
    progress(f"read {len(tx):,} usable rows, {len(issues):,} input issues ({time.perf_counter() - started:.1f} s)")
    if tx.empty and len(issues):
        _write_issues_only(issues, out, lang)
        raise InputError(f"no usable transactions in {Path(src).name}: all its rows have problems; {len(issues):,} "
                         f'are listed in the sheet "{_issues_title(lang)}" of {out}')
    result = classify(tx, settings or Settings(), issues)
    progress(f"classified {len(result.customers):,} customers as of {result.analysis_month} "
             f"({time.perf_counter() - started:.1f} s)")
    history = tier_history(tx, result.settings)
    extra, kept = _carried_over(out, lang)
    write_workbook(result, out, lang=lang, tx=tx, source=(src, sheet), history=history, extra=extra, kept=kept)
    progress(f"wrote {out} ({time.perf_counter() - started:.1f} s)")
    return result


def _issues_title(lang: str) -> str:
    from . import labels

    return labels.sheet_title("issues", lang)


def _write_issues_only(issues: pd.DataFrame, out: str | Path, lang: str) -> None:
    """OUT with just the Input issues sheet: when no row can be used, the user still
    gets the list of what is wrong with each (the run then ends with an error)."""
    from .sheets import issues_sheet, load_texts
    from .workbook import write_sheets

    content = issues_sheet(issues, lang)
    write_sheets([content], out, load_texts(lang), properties={"lang": lang, "sheets": json.dumps([content.title])})


def foreign_sheets(out: str | Path) -> list[str] | None:
    """The sheets of the existing workbook OUT that tierbook did not write and a rewrite
    would lose (the Mailing and Contact log sheets are carried over, so they are not
    among them); None when OUT is not a workbook at all; [] when OUT does not exist."""
    from openpyxl import load_workbook

    from . import labels
    from .mail import mailing_sheet_title
    from .workbook import workbook_properties

    out = Path(out)
    if not out.exists():
        return []
    try:
        meta = workbook_properties(out)
        book = load_workbook(out, read_only=True)
        names = list(book.sheetnames)
        book.close()
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


def _carried_over(out: str | Path, lang: str) -> tuple[list, list]:
    """The sheets of an earlier tierbook workbook OUT that hold the user's work (the
    Mailing and Contact log sheets, the reactivation plan), so that classifying again
    into the same file never loses them."""
    from .sheets import load_texts, reactivation_sheet
    from .workbook import workbook_properties

    out = Path(out)
    try:
        meta = workbook_properties(out) if out.is_file() else None
    except Exception:  # noqa: BLE001 - not a workbook of ours: it is simply replaced
        meta = None
    if not meta or meta.get("lang", "en") != lang:
        return [], []
    _, plan, kept = user_sheets(out, lang, meta)
    extra = [reactivation_sheet(plan.assignments, plan.seed, plan.variants, lang, load_texts(lang))] if plan else []
    return extra, kept


def demo(directory: str | Path, settings: Settings | None = None, lang: str = "en",
         progress: Progress = _quiet) -> tuple[Path, Path, Segmentation]:
    """Copy the bundled sample sales export into DIRECTORY and classify it there."""
    from .demo import demo_path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sales = directory / "demo_sales.xlsx"
    shutil.copyfile(demo_path(), sales)
    progress(f"sample sales export: {sales}")
    out = directory / "tierbook.xlsx"
    result = segment_file(sales, out, settings, lang=lang, progress=progress)
    return sales, out, result


def split_file(src: str | Path, by: str, directory: str | Path, lang: str | None = None,
               progress: Progress = _quiet) -> list[Path]:
    """One workbook per segment (by="segment") or per manager (by="manager") of the
    tierbook workbook SRC, written into DIRECTORY; returns the files."""
    from .workbook import split_workbook

    started = time.perf_counter()
    progress(f"splitting {src} by {by}")
    written = split_workbook(src, by, directory, lang=lang)
    progress(f"wrote {len(written)} workbooks into {directory} ({time.perf_counter() - started:.1f} s)")
    return written


# --------------------------------------------------------------------------- reactivation tests


def reactivation_plan(out: str | Path, variants: int | None = None, seed: int | None = None,
                      progress: Progress = _quiet, force: bool = False) -> "ReactivationRun":
    """Plan (or extend) the reactivation test of the tierbook workbook OUT: every
    one-time buyer with consent gets a variant; the assignments and the seed of an
    earlier plan are kept and only new customers are added. OUT is written again from
    its own data (charts and the user's Mailing and Contact log sheets kept)."""
    from . import reactivation

    book = _Regenerated.load(out)
    check_replaceable(out, force)
    previous = book.plan
    if previous is not None:
        if variants is not None and variants != previous.variants:
            raise ValueError(f"{Path(out).name} already has a plan with {previous.variants} variants; keep "
                             f"{previous.variants} (or delete the sheet \"{book.titles['reactivation']}\" to start "
                             f"a new test)")
        if seed is not None and seed != previous.seed:
            raise ValueError(f"{Path(out).name} already has a plan with seed {previous.seed}; the seed of a test "
                             f"cannot change")
        variants, seed = previous.variants, previous.seed
    plan = new_plan(book.result, previous, variants, seed)
    planned = plan.assignments
    added = len(planned) - (len(previous.assignments) if previous is not None else 0)
    progress(f"planned {len(planned):,} one-time buyers ({added:,} new) into {plan.variants} variants, "
             f"seed {plan.seed}")
    book.write(out, plan=plan)
    return ReactivationRun(Path(out), plan, added)


def new_plan(result: Segmentation, previous: "Plan | None", variants: int | None = None,
             seed: int | None = None) -> "Plan":
    """The plan of RESULT's one-time buyers, extending PREVIOUS (whose seed and number of
    variants are kept); a new plan draws its seed at random unless SEED is given."""
    from . import reactivation

    if previous is not None:
        variants, seed = previous.variants, previous.seed
    variants = reactivation.MAX_VARIANTS if variants is None else int(variants)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    planned_on = pd.Timestamp(result.as_of) + pd.Timedelta(days=result.settings.contact_in_days)
    planned = reactivation.plan(result.customers, variants, seed, planned_on,
                                existing=previous.assignments if previous is not None else None,
                                settings=result.settings)
    return Plan(planned, seed, variants)


def measure(log: pd.DataFrame, tx: pd.DataFrame, settings: Settings, plan: "Plan", lang: str = "en"):
    """Per-variant results (every variant of PLAN, zeros where nobody was contacted), the
    verdict and the number of contacts, for the clean contact LOG."""
    from . import reactivation

    variants = reactivation.VARIANTS[:plan.variants]
    contacts = reactivation.conversions(log, tx, settings.response_days)
    results = reactivation.variant_results(contacts)
    results = pd.DataFrame({"variant": list(variants)}).merge(results, on="variant", how="left")
    results[["contacted", "converted"]] = results[["contacted", "converted"]].fillna(0).astype("int64")
    results["revenue_after"] = results["revenue_after"].fillna(0.0)
    decided = reactivation.verdict(results[results["contacted"] > 0].reset_index(drop=True), lang=lang)
    return results, decided, len(contacts)


def reactivation_results(out: str | Path, progress: Progress = _quiet, force: bool = False) -> "ReactivationRun":
    """Measure the reactivation test of the tierbook workbook OUT from its Contact log
    sheet: per variant contacted, converted, rate with a 95% Wilson interval and the
    revenue after contact, and a verdict; written into OUT as the sheet Reactivation
    results (OUT is written again from its own data, as by reactivation_plan). Rows of
    the log with problems go to Input issues and are returned."""
    from . import labels, reactivation

    book = _Regenerated.load(out)
    check_replaceable(out, force)
    if book.plan is None:
        raise InputError(f"{Path(out).name} has no reactivation plan yet: run tierbook reactivation plan first")
    variants = reactivation.VARIANTS[:book.plan.variants]
    log, log_issues = book.contact_log(variants)
    log, not_counted = reactivation.check_log(log, book.plan.assignments, book.titles["contact_log"],
                                              *(labels.header(k, book.lang) for k in ("customer", "variant")))
    log_issues = pd.concat([log_issues, not_counted], ignore_index=True) if len(not_counted) else log_issues
    results, decided, contacts = measure(log, book.tx, book.settings, book.plan, book.lang)
    progress(f"{contacts:,} contacts, {len(log_issues):,} problems in the contact log")
    book.write(out, plan=book.plan, results=results, verdict=decided, contacts=contacts, log_issues=log_issues)
    return ReactivationRun(Path(out), book.plan, 0, results, decided, log_issues)


@dataclass(frozen=True)
class Plan:
    assignments: pd.DataFrame  # reactivation.PLAN_COLUMNS
    seed: int
    variants: int


@dataclass(frozen=True)
class ReactivationRun:
    out: Path
    plan: Plan
    added: int = 0
    results: pd.DataFrame | None = None
    verdict: object = None
    issues: pd.DataFrame | None = None

    def summary(self) -> str:
        if self.results is None:
            counts = self.plan.assignments["variant"].value_counts()
            from .reactivation import VARIANTS

            per = ", ".join(f"{v}: {int(counts.get(v, 0)):,}" for v in VARIANTS[:self.plan.variants])
            return (f"{self.out}: {len(self.plan.assignments):,} one-time buyers in {self.plan.variants} variants "
                    f"({per}; {self.added:,} new), seed {self.plan.seed}")
        return f"{self.out}: {self.verdict.text}"


@dataclass
class _Regenerated:
    """A tierbook workbook read back far enough to write it again: its transactions
    (from the copy of the user's sheet), settings, classification, and the sheets the
    user filled in."""

    path: Path
    tx: pd.DataFrame
    issues: pd.DataFrame
    settings: Settings
    result: Segmentation
    lang: str
    source_sheet: str
    sheetnames: list[str]
    plan: Plan | None
    kept: list[tuple[str, list[list]]]

    @property
    def titles(self) -> dict[str, str]:
        from . import labels

        return {k: labels.sheet_title(k, self.lang) for k in ("reactivation", "reactivation_results",
                                                              "contact_log", "issues")}

    @classmethod
    def load(cls, path: str | Path) -> "_Regenerated":
        from . import labels
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
        settings = Settings(**json.loads(meta["settings"]))
        lang = labels.check_lang(meta.get("lang", "en"))
        source_sheet = meta["source_sheet"]
        tx, issues = read_transactions(path, sheet=source_sheet)
        issues = issues[~issues["column"].astype(str).isin(
            [labels.header("segment", l) for l in labels.LANGS])].reset_index(drop=True) if len(issues) else issues
        result = classify(tx, settings, issues)
        names, plan, kept = user_sheets(path, lang, meta)
        return cls(path, tx, issues, settings, result, lang, source_sheet, names, plan, kept)

    def contact_log(self, variants: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        from .read import clean_contact_log, load_sheet

        title = self.titles["contact_log"]
        if title not in self.sheetnames:
            raise InputError(f'{self.path.name} has no sheet "{title}": plan the test first, then record the '
                             f"contacts there")
        raw, sheet, first_row, _ = load_sheet(self.path, title)
        return clean_contact_log(raw, sheet, first_row, variants=variants)

    def write(self, out: str | Path, plan: Plan | None = None, results: pd.DataFrame | None = None, verdict=None,
              contacts: int = 0, log_issues: pd.DataFrame | None = None) -> Path:
        from .sheets import contact_log_headers, load_texts, reactivation_results_sheet, reactivation_sheet
        from .workbook import write_workbook

        texts = load_texts(self.lang)
        extra = []
        if plan is not None:
            extra.append(reactivation_sheet(plan.assignments, plan.seed, plan.variants, self.lang, texts))
        if results is not None:
            extra.append(reactivation_results_sheet(results, verdict.text, contacts, 0 if log_issues is None
                                                    else len(log_issues), self.settings, self.result.as_of,
                                                    self.lang, texts))
        kept = list(self.kept)
        log_title = self.titles["contact_log"]
        if plan is not None and all(t != log_title for t, _ in kept):
            kept.append((log_title, [contact_log_headers(self.lang)]))
        result = self.result
        if log_issues is not None and len(log_issues):
            result = replace(result, issues=pd.concat([result.issues, log_issues], ignore_index=True))
        history = tier_history(self.tx, self.settings)
        return write_workbook(result, out, lang=self.lang, tx=self.tx, source=(self.path, self.source_sheet),
                              history=history, extra=extra, kept=kept, source_has_segment=True)


def user_sheets(path: Path, lang: str, meta: dict[str, str]) -> tuple[list[str], "Plan | None", list]:
    """What the user keeps in a tierbook workbook and a rewrite must carry over: its
    sheet names, the reactivation plan, and the Mailing and Contact log sheets as rows."""
    from openpyxl import load_workbook

    from . import labels
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


SEED_LINE = re.compile(r"seed:\s*(\d+)")


def _read_plan(rows: list[tuple], lang: str, meta: dict[str, str]) -> Plan | None:
    """The assignments and seed of the Reactivation sheet (its rows of values)."""
    from . import labels
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
        frame[column] = frame[column].map(lambda v: "" if v is None else str(v)).astype(object)
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
