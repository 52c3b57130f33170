"""The ribbon's Segment customers through xlwings Server's script call, beside `tierbook
segment` on the same transactions (issue 11, item 3).

Reports CPU seconds of both (the ribbon: the script call that reads the request, classifies
and makes the actions; the command line: read, classify, write the file), the size of the
request (the workbook as the client sends it) and of the response (the actions), the
largest single action, and the number of actions. Targets: the ribbon within 1.5x of
`tierbook segment`; no request, response or action over Excel on the web's 5 MB.

    python benchmarks/bench_ribbon.py [--rows 20000]   (default: the demo export)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_excel import book_payload  # noqa: E402 - sets XLWINGS_ON_SERVER first
from test_excel_scripts import run_script  # noqa: E402

from tierbook import excel, jobs  # noqa: E402
from tierbook.demo import demo_path  # noqa: E402

LIMIT = 5_000_000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, help="a synthetic export of this many rows (default: the demo)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierbook-bench-") as folder:
        if args.rows:
            from bench import synthetic, write_xlsx

            source = Path(folder) / "sales.xlsx"
            write_xlsx(synthetic(args.rows), source)
        else:
            source = demo_path()
        payload = book_payload(source)
        request = len(json.dumps(payload, default=str))

        started = time.process_time()
        jobs.segment_file(source, Path(folder) / "tierbook.xlsx")
        cli = time.process_time() - started

        excel.CURRENT.clear()
        started = time.process_time()
        actions = run_script("segment_customers", payload)
        ribbon = time.process_time() - started

    response = len(json.dumps({"actions": actions}, default=str))
    largest = max(len(json.dumps(a, default=str)) for a in actions)
    rows = len(payload["sheets"][0]["values"]) - 1
    print(f"transactions: {rows:,} rows ({source.name})")
    print(f"tierbook segment (read, classify, write):  {cli:7.2f} s CPU")
    print(f"ribbon Segment customers (script call):    {ribbon:7.2f} s CPU  ({ribbon / cli:.2f}x; target 1.5x)")
    print(f"request {request / 1e6:.2f} MB, response {response / 1e6:.2f} MB, largest action "
          f"{largest / 1e6:.2f} MB, {len(actions):,} actions (limit {LIMIT / 1e6:.0f} MB each)")
    ok = ribbon <= 1.5 * cli and max(request, response, largest) <= LIMIT
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
