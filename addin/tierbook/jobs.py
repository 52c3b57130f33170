"""What the command line and the ribbon do, each job once: segment, split, and the
reactivation test's plan and results.

A job takes a source of transactions and a target (tierbook.targets): a sales export
or a tierbook workbook read back, and a file (`tierbook ...`), or the workbook open in
Excel for both (the ribbon). The job holds the order of the work and the rules of what
is kept; the engine (segment, reactivation) holds the domain rules, sheets.py and the
templates the layout, the targets how a workbook is written where."""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .errors import SettingsError
from . import labels
from .overflow import write_full_list
from .segment import Segmentation, classify
from .settings import Settings
from .targets import ExportFile, FileTarget, Layout, Plan, TierbookFile, _read_plan, plan_sheet  # noqa: F401

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


# --------------------------------------------------------------------------- the jobs


def segment(source, target, progress: Progress = _quiet) -> Segmentation:
    """Classify the customers of SOURCE's transactions and write the workbook into
    TARGET: the generated sheets, the reactivation plan TARGET already holds (so that
    classifying again never loses the test), the user's sheets kept as TARGET keeps them."""
    started = time.perf_counter()
    target.check()
    data = source.read(progress)
    progress(f"read {len(data.tx):,} usable rows, {len(data.issues):,} input issues "
             f"({time.perf_counter() - started:.1f} s)")
    if data.tx.empty and len(data.issues):
        refused = target.unusable(data.issues, source.name, data.lang)
        if refused is not None:
            raise refused
    result = classify(data.tx, data.settings, data.issues)
    progress(f"classified {len(result.customers):,} customers as of {result.analysis_month} "
             f"({time.perf_counter() - started:.1f} s)")
    if isinstance(target, FileTarget):  # more customers than a sheet holds: all of them beside the file
        result = write_full_list(result, target.out)
    plan = target.earlier_plan(data.lang)
    target.write(Layout(result, data, extra=[plan_sheet(plan, data.lang)] if plan else []))
    progress(f"wrote {target.where} ({time.perf_counter() - started:.1f} s)")
    return result


def plan_reactivation(source, target, variants: int | None = None, seed: int | None = None,
                      progress: Progress = _quiet) -> "ReactivationRun":
    """Plan (or extend) the reactivation test: every one-time buyer with consent gets a
    variant; the assignments and the seed of the plan TARGET already holds are kept and
    only new customers are added. TARGET gets the workbook with the Reactivation sheet
    and a Contact log sheet (empty if it had none)."""
    target.check()
    lang = source.lang
    previous = target.earlier_plan(lang)
    if previous is not None:
        if variants is not None and variants != previous.variants:
            raise SettingsError(f"{target.name} already has a plan with {previous.variants} variants; keep "
                             f"{previous.variants} (or delete the sheet \"{labels.sheet_title('reactivation', lang)}\""
                             f" to start a new test)")
        if seed is not None and seed != previous.seed:
            raise SettingsError(f"{target.name} already has a plan with seed {previous.seed}; the seed of a test "
                             f"cannot change")
    data = source.read(progress)
    result = classify(data.tx, data.settings, data.issues)
    plan = new_plan(result, previous, variants, seed)
    added = len(plan.assignments) - (len(previous.assignments) if previous is not None else 0)
    progress(f"planned {len(plan.assignments):,} one-time buyers ({added:,} new) into {plan.variants} variants, "
             f"seed {plan.seed}")
    target.write(Layout(result, data, extra=[plan_sheet(plan, lang)], contact_log=True, show="reactivation"))
    return ReactivationRun(target.where, plan, added)


def measure_reactivation(source, target, progress: Progress = _quiet) -> "ReactivationRun":
    """Measure the reactivation test TARGET holds from its Contact log sheet: per variant
    contacted, converted, rate with a 95% Wilson interval and the revenue after contact,
    and a verdict, written into TARGET as the sheet Reactivation results. Rows of the
    log with problems go to Input issues and are returned."""
    from .reactivation import VARIANTS, check_log
    from .sheets import load_texts, reactivation_results_sheet

    target.check()
    lang = source.lang
    plan = target.earlier_plan(lang)
    if plan is None:
        raise target.no_plan()
    log, log_issues, log_sheet = target.contact_log(lang, VARIANTS[:plan.variants])
    log, not_counted = check_log(log, plan.assignments, log_sheet,
                                 *(labels.header(k, lang) for k in ("customer", "variant")))
    log_issues = pd.concat([log_issues, not_counted], ignore_index=True) if len(not_counted) else log_issues
    data = source.read(progress)
    result = classify(data.tx, data.settings, data.issues)
    results, decided, contacts = measure(log, data.tx, result.settings, plan, lang)
    progress(f"{contacts:,} contacts, {len(log_issues):,} problems in the contact log")
    sheet = reactivation_results_sheet(results, decided.text, contacts, len(log_issues), result.settings,
                                       result.as_of, lang, load_texts(lang))
    target.write(Layout(result, data, extra=[plan_sheet(plan, lang), sheet], log_issues=log_issues,
                        contact_log=True, show="reactivation_results"))
    return ReactivationRun(target.where, plan, 0, results, decided, log_issues)


def split(customers: pd.DataFrame, meta: dict[str, str], by: str, directory: str | Path, lang: str | None = None,
          protect: tuple = (), name: str = "the workbook", progress: Progress = _quiet) -> list[Path]:
    """One workbook per segment (by="segment") or per manager (by="manager") of the
    CUSTOMERS (the engine's frame) into DIRECTORY; META: the properties of their
    classification (lang, as_of, month, criterion). Returns the files."""
    from .workbook import split_customers

    started = time.perf_counter()
    written = split_customers(customers, meta, by, directory, lang=lang, protect=protect, name=name)
    progress(f"wrote {len(written)} workbooks into {directory} ({time.perf_counter() - started:.1f} s)")
    return written


def split_source(source, directory: str | Path, by: tuple[str, ...] = ("segment", "manager"),
                 progress: Progress = _quiet) -> list[Path]:
    """Classify SOURCE's transactions and split them by each of BY, into DIRECTORY/<by>/
    (the ribbon's Segment workbooks: no workbook is written first)."""
    data = source.read(progress)
    result = classify(data.tx, data.settings, data.issues)
    written: list[Path] = []
    for one in by:
        written += split(result.customers, classified_meta(result, data.lang), one, Path(directory) / one,
                         lang=data.lang, name=source.name, progress=progress)
    return written


def classified_meta(result: Segmentation, lang: str) -> dict[str, str]:
    """The properties of RESULT a split workbook keeps, as a tierbook workbook has them."""
    return {"lang": lang, "as_of": pd.Timestamp(result.as_of).strftime("%Y-%m-%d"),
            "month": result.analysis_month, "criterion": result.settings.criterion.value}


# --------------------------------------------------------------------------- the commands' files


def segment_file(src: str | Path, out: str | Path, settings: Settings | None = None, sheet: str | None = None,
                 lang: str = "en", progress: Progress = _quiet, force: bool = False) -> Segmentation:
    """Read the transactions in SRC, classify the customers and write the workbook OUT.
    An existing OUT with sheets tierbook did not write is refused unless FORCE."""
    return segment(ExportFile(src, sheet, settings, lang), FileTarget(out, force), progress)


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
    from .workbook import check_split_by, read_customers

    progress(f"splitting {src} by {by}")
    check_split_by(by)
    customers, meta = read_customers(src)
    return split(customers, meta, by, directory, lang=lang, protect=(src,), name=Path(src).name, progress=progress)


def reactivation_plan(out: str | Path, variants: int | None = None, seed: int | None = None,
                      progress: Progress = _quiet, force: bool = False) -> "ReactivationRun":
    """`tierbook reactivation plan`: plan_reactivation on the tierbook workbook OUT,
    written again from its own data (charts and the user's Mailing and Contact log
    sheets kept)."""
    return plan_reactivation(TierbookFile(out), FileTarget(out, force), variants, seed, progress)


def reactivation_results(out: str | Path, progress: Progress = _quiet, force: bool = False) -> "ReactivationRun":
    """`tierbook reactivation results`: measure_reactivation on the tierbook workbook OUT
    (written again from its own data, as by reactivation_plan)."""
    return measure_reactivation(TierbookFile(out), FileTarget(out, force), progress)


# --------------------------------------------------------------------------- reactivation tests


def new_plan(result: Segmentation, previous: Plan | None, variants: int | None = None,
             seed: int | None = None) -> Plan:
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


def measure(log: pd.DataFrame, tx: pd.DataFrame, settings: Settings, plan: Plan, lang: str = "en"):
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


@dataclass(frozen=True)
class ReactivationRun:
    out: Path | str  # the file, or the open workbook's name
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
