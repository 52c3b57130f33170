"""Writing the workbook file: tierbook end to end and the demo's write, against the Rust
xlsxwriter binding writing the customer table and the sales copy (issue 11, item 4).

    python benchmarks/bench_write.py [--rows 100000] [--big 1000000]

In one run, each measurement in its own child process (CPU seconds of that process, so
the shared machine's load counts less, and its peak memory):

  anchor   rustpy-xlsxwriter writing two sheets: the Customers frame and the export's rows
           with a Segment column (what tierbook must at least write), data prepared untimed;
  tierbook `tierbook segment export.xlsx --out out.xlsx` in-process (jobs.segment_file:
           read, classify, write every sheet from the templates), and of it the write
           (workbook.write_workbook);
  demo     the demo's write: write_workbook of `tierbook demo`'s data (cold: the first
           write of the process, templates read; warm: a second write).

Targets: ROWS end to end within 5x the anchor; BIG (0 to skip) within 10x, peak memory
under 2 GB; the demo's write under 1 s. Prints PASS/FAIL per target, exit code 1 when one
fails. The export files are benchmarks/data/ (made by bench.py's generator, reused).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "addin"))  # the working tree, not an installed copy
sys.path.insert(0, str(HERE))

TARGET_ROWS, TARGET_BIG, TARGET_DEMO, TARGET_MEMORY_GB = 5.0, 10.0, 1.0, 2.0


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _timed_writes():
    """Wrap workbook.write_workbook to add up the CPU seconds of its calls (measurement
    only; the job calls the module's function at call time)."""
    import tierbook.workbook as workbook

    spent: list[float] = []
    real = workbook.write_workbook

    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.process_time() - started)

    workbook.write_workbook = timed
    return spent


def child_anchor(rows: int) -> dict:
    import fastexcel
    import rustpy_xlsxwriter

    from bench import ensure_files
    from tierbook.read import read_transactions
    from tierbook.segment import classify
    from tierbook.settings import Settings
    from tierbook.sheets import customers_sheet, row_segments

    paths, _ = ensure_files(rows)
    tx, _issues = read_transactions(paths["xlsx"])
    result = classify(tx, Settings())
    customers = customers_sheet(result.customers, "en", result.as_of).tables["rows"].frame
    sales = fastexcel.read_excel(str(paths["xlsx"])).load_sheet(0).to_pandas()
    segments = row_segments(result, tx, "en")
    sales["Segment"] = segments.reindex(range(2, 2 + len(sales))).fillna("").to_numpy()
    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        rustpy_xlsxwriter.write_worksheets([("Customers", customers), ("Sales", sales)], str(Path(folder) / "a.xlsx"))
        cpu = time.process_time() - started
    return {"cpu": cpu, "peak_gb": _peak_gb(), "cells": int(customers.size + sales.size)}


def child_tierbook(rows: int) -> dict:
    from bench import ensure_files

    paths, _ = ensure_files(rows)
    writes = _timed_writes()
    from tierbook.jobs import segment_file

    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        segment_file(paths["xlsx"], Path(folder) / "out.xlsx")
        cpu = time.process_time() - started
    return {"cpu": cpu, "write": sum(writes), "peak_gb": _peak_gb()}


def child_demo() -> dict:
    import shutil

    from tierbook.demo import demo_path

    writes = _timed_writes()
    from tierbook.jobs import segment_file

    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(demo_path(), Path(folder) / "demo_sales.xlsx")
        segment_file(Path(folder) / "demo_sales.xlsx", Path(folder) / "tierbook.xlsx")
        segment_file(Path(folder) / "demo_sales.xlsx", Path(folder) / "second.xlsx")
    return {"cold": writes[0], "warm": writes[1], "peak_gb": _peak_gb()}


def run(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=0, help="also measure this many rows (e.g. 1000000)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        made = {"anchor": lambda: child_anchor(int(rest[0])), "tierbook": lambda: child_tierbook(int(rest[0])),
                "demo": child_demo}[kind]()
        print(json.dumps(made))
        return 0

    ok = True
    for rows, limit in ((args.rows, TARGET_ROWS), (args.big, TARGET_BIG)):
        if not rows:
            continue
        anchor = run("anchor", str(rows))
        ours = run("tierbook", str(rows))
        ratio = ours["cpu"] / anchor["cpu"]
        passed = ratio <= limit and (limit != TARGET_BIG or ours["peak_gb"] < TARGET_MEMORY_GB)
        ok &= passed
        print(f"{rows:,} rows: anchor (Rust xlsxwriter, Customers + sales copy, {anchor['cells']:,} cells) "
              f"{anchor['cpu']:.2f} s CPU")
        print(f"  tierbook segment end to end {ours['cpu']:.2f} s CPU (write {ours['write']:.2f} s), "
              f"peak {ours['peak_gb']:.2f} GB")
        print(f"  ratio {ratio:.1f}x (limit {limit:.0f}x"
              f"{', peak < 2 GB' if limit == TARGET_BIG else ''}): {'PASS' if passed else 'FAIL'}")
    demo = run("demo")
    passed = demo["cold"] < TARGET_DEMO
    ok &= passed
    print(f"demo write: {demo['cold']:.2f} s CPU cold (first write of the process), {demo['warm']:.2f} s warm "
          f"(limit {TARGET_DEMO:.0f} s): {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
