"""=TIERBOOK.SEGMENT(A2, tbCustomers[#All]) through xlwings' custom_functions_call: the
add-in's function given the workbook's Customers table (issue 12.1), on the demo.

Reports, in CPU seconds: bytes sent with each cell (the table) against the transactions
range, one cell with the table, one cell with the transactions range (classification
cached), and one spilled call over every customer with the table. (In Excel 365 the
workbook's LAMBDA names answer =SEGMENT(A2) with no server call at all.)

    python benchmarks/bench_lookups.py [--calls 500]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_excel import call, excel, sheet_matrix  # noqa: E402 - sets XLWINGS_ON_SERVER first

from tierbook import jobs  # noqa: E402
from tierbook.demo import demo_path  # noqa: E402


def per_call(args: tuple, calls: int) -> float:
    """CPU seconds of one call of SEGMENT(*ARGS), warm."""
    call("segment", *args)
    started = time.process_time()
    for _ in range(calls):
        call("segment", *args)
    return (time.process_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "tierbook.xlsx"
        jobs.segment_file(demo_path(), out)
        table = sheet_matrix(out, "Customers")
    tx = sheet_matrix(demo_path(), "Sales")
    customers = [[row[0]] for row in table[1:]]
    one = customers[len(customers) // 2][0]

    with_table = per_call((one, table), args.calls)
    with_tx = per_call((one, tx), args.calls)
    spilled = per_call((customers, table), max(1, args.calls // 20))
    print(f"Customers table: {len(table) - 1:,} customers x {len(table[0])} columns, "
          f"{len(json.dumps(table, default=str)) / 1e3:,.0f} kB a call; transactions "
          f"{len(json.dumps(tx, default=str)) / 1e3:,.0f} kB a call")
    print(f"SEGMENT(A2, tbCustomers[#All]):        {with_table * 1000:7.2f} ms CPU a cell (nothing classified)")
    print(f"SEGMENT(A2, Sales!A1:L{len(tx)}), cached: {with_tx * 1000:7.2f} ms CPU a cell")
    print(f"SEGMENT(A2:A{len(customers) + 1}, tbCustomers[#All]) spilled: {spilled * 1000:7.2f} ms CPU "
          f"({spilled / with_table:.1f}x one cell)")


if __name__ == "__main__":
    main()
