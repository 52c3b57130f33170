"""=SEGMENT() through xlwings' custom_functions_call on the demo transactions.

Reports: calls/s of single-cell SEGMENT(A2, tx) with the cache warm, the time of one
spilled SEGMENT(A2:A10001, tx) (cold: the table is classified in the call), and the
engine's own segmentation time for the same table (reader + classify). Target: the
spilled call in under 2x the engine's time.

    python benchmarks/bench_excel.py [--calls 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_excel import call, excel, sheet_matrix  # noqa: E402 - sets XLWINGS_ON_SERVER first

from tierbook.demo import demo_path  # noqa: E402
from tierbook.read import clean_transactions  # noqa: E402
from tierbook.segment import classify  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    tx = sheet_matrix(demo_path(), "Sales")
    names = sorted({row[0] for row in tx[1:] if isinstance(row[0], str)})
    cells = [[names[i % len(names)]] for i in range(args.calls)]

    started = time.perf_counter()
    frame = excel.raw_frame(tx)
    clean, issues = clean_transactions(frame, sheet="transactions")
    classify(clean, None, issues)
    engine = time.perf_counter() - started

    excel.CACHE.clear()
    started = time.perf_counter()
    spilled = call("segment", cells, tx)
    spill = time.perf_counter() - started
    assert len(spilled) == args.calls and excel.CACHE.computed == 1

    started = time.perf_counter()
    for row in cells:
        call("segment", row[0], tx)
    warm = time.perf_counter() - started
    assert excel.CACHE.computed == 1

    print(f"demo transactions: {len(tx) - 1:,} rows x {len(tx[0])} columns, {len(names):,} customers")
    print(f"engine (reader + classify):             {engine * 1000:8.1f} ms")
    print(f"spilled SEGMENT(A2:A{args.calls + 1}, tx), cold:   {spill * 1000:8.1f} ms  ({spill / engine:.2f}x the engine)")
    print(f"{args.calls:,} single-cell SEGMENT calls, warm: {warm:8.1f} s   ({args.calls / warm:,.0f} calls/s)")


if __name__ == "__main__":
    main()
