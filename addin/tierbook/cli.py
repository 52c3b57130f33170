"""The command line: one command per library function.

Progress goes to stderr as "tierbook: ..." lines (unless --quiet); unusable input or
settings end the run with one "tierbook: error: ..." line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import jobs
from .schema import InputError
from .settings import Criterion, Settings

EXIT_BAD_INPUT = 2


def _progress(message: str) -> None:
    print(f"tierbook: {message}", file=sys.stderr, flush=True)


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--criterion", choices=[c.value for c in Criterion], help="ranking measure (default revenue)")
    parser.add_argument("--share", type=float, help="share of each month's payers that is VIP (default 0.20)")
    parser.add_argument("--good-share", type=float, help="share of the other active customers that is Good (default 0.20)")
    parser.add_argument("--window", type=int, help="months a monthly VIP stays in the ledger (default 6)")
    parser.add_argument("--month", help="analysis month YYYY-MM (default: the last month in the data)")
    parser.add_argument("--lang", choices=["en", "ru"], default="en", help="language of the workbook (default en)")
    parser.add_argument("--quiet", action="store_true", help="do not show progress")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_(criterion=args.criterion, share=args.share, good_share=args.good_share,
                            window=args.window, month=args.month)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tierbook", description="Classify customers from their transaction history.")
    commands = parser.add_subparsers(dest="command", required=True)

    seg = commands.add_parser("segment", help="classify the transactions in INPUT and write the workbook OUT",
                              description="Classify the transactions in INPUT (.xlsx, .xlsm, .csv, .parquet) "
                                          "and write the workbook OUT.")
    seg.add_argument("input", type=Path, help="the sales export")
    seg.add_argument("--out", type=Path, required=True, help="the workbook to write")
    seg.add_argument("--sheet", help="sheet of INPUT to read (default: the first)")
    _settings_options(seg)

    demo = commands.add_parser("demo", help="write the bundled sample sales export and classify it",
                               description="Write the bundled sample sales export of a B2B distributor into DIR "
                                           "and classify it there.")
    demo.add_argument("--dir", type=Path, default=Path("tierbook-demo"), help="where to write (default ./tierbook-demo)")
    _settings_options(demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = jobs._quiet if args.quiet else _progress
    try:
        settings = _settings(args)
        if args.command == "segment":
            result = jobs.segment_file(args.input, args.out, settings, sheet=args.sheet, lang=args.lang,
                                       progress=progress)
            out = args.out
        else:
            _, out, result = jobs.demo(args.dir, settings, lang=args.lang, progress=progress)
    except (InputError, ValueError) as error:
        print(f"tierbook: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tiers = result.customers["tier"].value_counts()
    print(f"{out}: {len(result.customers):,} customers as of {result.analysis_month}: "
          + ", ".join(f"{tiers.get(t, 0):,} {t}" for t in ("VIP", "Good", "Regular"))
          + f"; {len(result.issues):,} input issues")
    return 0


if __name__ == "__main__":
    sys.exit(main())
