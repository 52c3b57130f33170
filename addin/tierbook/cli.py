"""The command line: one command per library function.

Progress goes to stderr as "tierbook: ..." lines (unless --quiet); unusable input or
settings end the run with one "tierbook: error: ..." line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Callable

from .errors import TierbookError
from .schema import InputError
from .settings import Criterion, Settings

EXIT_BAD_INPUT = 2  # the input, a setting or a file: the user can fix it
EXIT_BUG = 1  # anything else: a bug


class _OnFirstUse(ModuleType):
    """A module imported when a command first uses it: `--help`, a bad argument and the
    start of `tierbook serve` never load pandas, pyarrow or openpyxl (jobs imports them)."""

    def __init__(self, name: str):
        super().__init__(name)

    def __getattr__(self, attr: str) -> object:
        return getattr(import_module(self.__name__), attr)


jobs = _OnFirstUse("tierbook.jobs")

#: The optional dependencies and the extra that installs each.
EXTRAS = {"xlwings": "excel", "xlwings_server": "excel", "uvicorn": "excel", "duckdb": "scale", "pyspark": "scale",
          "xlsxwriter": "bench"}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The one line for a missing optional dependency, or None if it is not one of ours."""
    top = (error.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return (f"this command needs the {extra} extra ({top} is not installed): "
            f"pip install 'tierbook[{extra}]' (or, from a source tree, pip install -e '.[{extra}]')")


def _progress(message: str) -> None:
    print(f"tierbook: {message}", file=sys.stderr, flush=True)


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--criterion", choices=[c.value for c in Criterion], help="ranking measure (default revenue)")
    parser.add_argument("--share", type=float, help="share of each month's payers that is VIP (default 0.20)")
    parser.add_argument("--good-share", type=float, help="share of the other active customers that is Good (default 0.20)")
    parser.add_argument("--window", type=int, help="months a monthly VIP stays in the ledger (default 6)")
    parser.add_argument("--month", help="analysis month YYYY-MM (default: the last month in the data)")
    parser.add_argument("--lang", choices=["en", "ru"], default="en", help="language of the workbook (default en)")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_(criterion=args.criterion, share=args.share, good_share=args.good_share,
                            window=args.window, month=args.month)


def _summary_line(out: Path, result) -> str:
    tiers = result.customers["tier"].value_counts()
    why = ("the month you chose" if result.settings.month else
           "the last month with payments in the data; --month YYYY-MM to choose another")
    return (f"{out}: {len(result.customers):,} customers as of {result.analysis_month} ({why}): "
            + ", ".join(f"{tiers.get(t, 0):,} {t}" for t in ("VIP", "Good", "Regular"))
            + f"; {len(result.issues):,} input issues")


# --------------------------------------------------------------------------- commands


def _segment(args: argparse.Namespace, progress) -> int:
    from .files import refuse_overwrite

    refuse_overwrite(args.out, args.input, what="--out")
    from . import sources  # issue 14: Parquet folders and globs, --sql, --engine (DuckDB / Spark)

    if sources.is_large_source(args.input, args.sql, args.engine):
        result = sources.segment_source(args.input, args.out, _settings(args), sql=args.sql, engine=args.engine,
                                        master=args.master, lang=args.lang, progress=progress, force=args.force)
        print(_summary_line(args.out, result))
        return 0
    result = jobs.segment_file(args.input, args.out, _settings(args), sheet=args.sheet, lang=args.lang,
                               progress=progress, force=args.force)
    print(_summary_line(args.out, result))
    return 0


def _demo(args: argparse.Namespace, progress) -> int:
    _, out, result = jobs.demo(args.dir, _settings(args), lang=args.lang, progress=progress)
    print(_summary_line(out, result))
    return 0


def _split(args: argparse.Namespace, progress) -> int:
    written = jobs.split_file(args.workbook, args.by, args.dir, lang=args.lang, progress=progress)
    print("\n".join(str(path) for path in written))
    return 0


def _send(args: argparse.Namespace, progress) -> int:
    from . import mail

    if args.init_mailing:
        title = mail.init_mailing(args.workbook, lang=args.lang)
        print(f'{args.workbook}: added the sheet "{title}": fill in the To (and Cc) addresses, then send')
        return 0
    report = mail.send_workbooks(args.workbook, args.by, outbox=args.outbox,
                                 smtp=mail.smtp_settings() if args.smtp else None, dry_run=args.dry_run,
                                 resend=args.resend, lang=args.lang, max_bytes=int(args.max_mb * 2**20),
                                 log_path=args.log, mailing=args.mailing, progress=progress)
    print(report)
    return 0 if report.ok else 1


def _reactivation_plan(args: argparse.Namespace, progress) -> int:
    run = jobs.reactivation_plan(args.workbook, args.variants, args.seed, progress=progress, force=args.force)
    print(run.summary())
    return 0


def _reactivation_results(args: argparse.Namespace, progress) -> int:
    run = jobs.reactivation_results(args.workbook, progress=progress, force=args.force)
    for issue in run.issues.itertuples(index=False):
        progress(f'Sheet "{issue.sheet}", row {issue.row}, column "{issue.column}": {issue.problem} '
                 f"(got {issue.value!r})")
    print(run.summary())
    return 0


def _serve(args: argparse.Namespace, progress) -> int:
    from .server import ServeError, serve

    try:
        serve(args.port)
    except ServeError as error:
        raise InputError(str(error)) from None
    return 0


def _addin_install(args: argparse.Namespace, progress) -> int:
    from .install import AddinInstallError, install

    try:
        done = install(args.dir)
    except AddinInstallError as error:
        raise InputError(str(error)) from None
    if done.config is not None:
        progress(f"wrote {done.config}")
    print(done.addin)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tierbook", description="Classify customers from their transaction history.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help: str, description: str, group=commands) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help, description=description)
        sub.set_defaults(handler=handler)
        sub.add_argument("--quiet", action="store_true", help="do not show progress")
        return sub

    seg = command("segment", _segment, "classify the transactions in INPUT and write the workbook OUT",
                  "Classify the transactions in INPUT (.xlsx, .xlsm, .csv, .parquet) and write the workbook OUT.")
    seg.add_argument("input", type=Path, help="the sales export")
    seg.add_argument("--out", type=Path, required=True, help="the workbook to write")
    seg.add_argument("--sheet", help="sheet of INPUT to read (default: the first)")
    seg.add_argument("--force", action="store_true", help="replace OUT even if it holds sheets tierbook did not write (they are lost)")
    seg.add_argument("--sql", help="a query against the DuckDB file INPUT, e.g. \"select * from sales\"")
    seg.add_argument("--engine", choices=["duckdb", "spark"], help="aggregate INPUT (Parquet folder or glob, CSV) "
                     "in DuckDB or Spark instead of pandas (default for folders, globs and --sql: duckdb)")
    seg.add_argument("--master", help="Spark master for --engine spark (default local[2]; or spark://host:7077)")
    _settings_options(seg)

    demo = command("demo", _demo, "write the bundled sample sales export and classify it",
                   "Write the bundled sample sales export of a B2B distributor into DIR and classify it there.")
    demo.add_argument("--dir", type=Path, default=Path("tierbook-demo"), help="where to write (default ./tierbook-demo)")
    _settings_options(demo)

    split = command("split", _split, "one workbook per segment or per manager, from a tierbook workbook",
                    "Write one workbook per segment or per manager into DIR, each with only that segment's or "
                    "manager's customers (the files to email), from the Customers sheet of WORKBOOK (written by "
                    "tierbook segment or demo).")
    split.add_argument("workbook", type=Path, help="a workbook written by tierbook segment or demo")
    split.add_argument("--by", choices=["segment", "manager"], required=True, help="one file per segment or manager")
    split.add_argument("--dir", type=Path, required=True, help="where to write the files")
    split.add_argument("--lang", choices=["en", "ru"], help="language of the files (default: that of WORKBOOK)")

    send = command("send", _send, "email each manager the workbook of their segment or customers",
                   "Split WORKBOOK as `tierbook split` does and make one message per row of its Mailing sheet: "
                   ".eml drafts in an outbox folder (the default), or sent over SMTP (settings: TIERBOOK_SMTP_* or "
                   "the [smtp] section of the user's config file).")
    send.add_argument("workbook", type=Path, help="a workbook written by tierbook segment or demo")
    send.add_argument("--by", choices=["segment", "manager"], help="only these rows of the Mailing sheet (default: all)")
    send.add_argument("--init-mailing", action="store_true", help="add a Mailing sheet listing every segment and manager")
    send.add_argument("--mailing", type=Path, help="take the Mailing sheet from this workbook (or .csv) instead")
    send.add_argument("--outbox", type=Path, default=Path("outbox"), help="folder of the .eml drafts (default ./outbox)")
    send.add_argument("--smtp", action="store_true", help="send over SMTP instead of writing drafts")
    send.add_argument("--dry-run", action="store_true", help="list what would be sent; send and log nothing")
    send.add_argument("--resend", action="store_true", help="send again what the send log says was already sent")
    send.add_argument("--max-mb", type=float, default=10.0, help="refuse larger messages (default 10 MB)")
    send.add_argument("--log", type=Path, help="the send log (default tierbook-sent.jsonl beside WORKBOOK)")
    send.add_argument("--lang", choices=["en", "ru"], help="language of workbooks and messages (default: WORKBOOK's)")

    react = commands.add_parser("reactivation", help="A/B test of messages to one-time buyers: plan, then results",
                                description="A reactivation test of one-time buyers (up to five message variants) "
                                            "in a workbook written by tierbook segment or demo.")
    react_commands = react.add_subparsers(dest="reactivation_command", required=True)
    plan = command(
        "plan", _reactivation_plan, "assign each one-time buyer with consent a message variant",
        "Write the sheet Reactivation into WORKBOOK: every one-time buyer with consent gets a variant, "
                    "reproducibly (a stored seed) and balanced by manager and order size, with the message, channel "
                    "and planned contact date. Planning again keeps the assignments and adds only new customers. "
                    "Adds an empty Contact log sheet to record the contacts in.", react_commands)
    plan.add_argument("workbook", type=Path, help="a workbook written by tierbook segment or demo")
    plan.add_argument("--variants", type=int, help="number of message variants, 1 to 5 (default 5)")
    plan.add_argument("--seed", type=int, help="seed of the assignment (default: drawn at random and stored)")
    plan.add_argument("--force", action="store_true", help="replace WORKBOOK even if it holds sheets tierbook did not write (they are lost)")
    results = command(
        "results", _reactivation_results, "conversion per variant from the Contact log, and a verdict",
        "Read the Contact log sheet of WORKBOOK and write the sheet Reactivation results: per variant "
                    "contacted, converted (a purchase within response_days after the contact), the rate with a 95% "
                    "Wilson interval, the revenue after contact, and a verdict in plain words.", react_commands)
    results.add_argument("workbook", type=Path, help="a workbook with a reactivation plan")
    results.add_argument("--force", action="store_true", help="replace WORKBOOK even if it holds sheets tierbook did not write (they are lost)")

    serve = command("serve", _serve, "run the Excel add-in (xlwings Server) on 127.0.0.1",
                    "Serve tierbook's Excel add-in (manifest, =TIERBOOK.SEGMENT functions, ribbon scripts) with "
                    "xlwings Server on 127.0.0.1. Needs the excel extra: pip install 'tierbook[excel]'.")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    addin = commands.add_parser("addin", help="install the desktop Excel add-in (tierbook.xlam)",
                                description="The desktop Excel add-in tierbook.xlam (Windows, macOS; needs this "
                                            "Python with tierbook and xlwings).")
    addin_commands = addin.add_subparsers(dest="addin_command", required=True)
    install = command(
        "install", _addin_install, "copy tierbook.xlam where Excel opens it at start",
        "Copy tierbook.xlam into Excel's startup folder (XLSTART), as xlwings addin install does, and write the "
        "add-in's user config naming this Python if there is none yet.", addin_commands)
    install.add_argument("--dir", type=Path, help="copy into DIR instead (required where there is no desktop Excel)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = (lambda message: None) if args.quiet else _progress
    return run(lambda: args.handler(args, progress))


def run(command: Callable[[], int]) -> int:
    """COMMAND's exit code, its errors as the command line shows them: a problem the user
    can fix (errors.TierbookError, a file the system refuses, a missing extra) as one line
    and exit code 2; anything else is a bug: one line naming it and the log that holds
    the traceback, exit code 1."""
    try:
        return command()
    except (TierbookError, OSError) as error:  # what the user can fix: a file, a setting, the input, mail
        print(f"tierbook: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # noqa: BLE001 - a bug: one line and the traceback in a log, never exit 2
        line = missing_extra(error) if isinstance(error, ModuleNotFoundError) else None
        if line is not None:
            print(f"tierbook: error: {line}", file=sys.stderr)
            return EXIT_BAD_INPUT
        log = _bug_log(error)
        print(f"tierbook: internal error ({type(error).__name__}: {error}); this is a bug in tierbook, not in "
              f"your data. The details are in {log}", file=sys.stderr)
        return EXIT_BUG


def _bug_log(error: BaseException) -> Path:
    """The traceback of ERROR written to a log file (in the temporary folder); its path."""
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="tierbook-error-", suffix=".log", delete=False,
                                     encoding="utf-8") as log:
        log.write("".join(traceback.format_exception(error)))
    return Path(log.name)


if __name__ == "__main__":
    sys.exit(main())
