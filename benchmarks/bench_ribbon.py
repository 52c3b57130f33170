"""The ribbon's Segment customers as Excel runs it, beside `tierbook segment` on the same
transactions (issue 11, item 3).

The ribbon run is the real one: `tierbook serve` (uvicorn on 127.0.0.1) and the ribbon's
JavaScript (static/js/ribbon.js) in node, with the workbook as xlwings' Office.js client
would read it in place of Excel (tests/js/ribbon_harness.js): blocks read, uploaded, the
script run, the pages of actions fetched. Reports, in this one run:

- CPU seconds of `tierbook segment` (read, classify, write the file; in this process);
- CPU seconds of the server for the whole ribbon run (from /proc: parsing the uploads,
  the script, the pages), and of the script call alone (xlwings' custom_scripts_call on
  the assembled book, in this process), and node's (what the browser would spend);
- the largest Office.js read, HTTP request, HTTP response and single action (each one
  Office.js sync when applied), the number of requests and actions;
- a second click on the book the first one made (its call lists are read for what the
  manager typed), beside `tierbook segment` writing its file again (reading the same
  from the earlier file).

Targets: the server's CPU for the ribbon run within 1.5x of `tierbook segment`; nothing
over Excel on the web's 5 MB. Exit code 1 when a target is missed.

    python benchmarks/bench_ribbon.py [--rows 50000]   (default: the demo export)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from test_excel import book_payload  # noqa: E402 - sets XLWINGS_ON_SERVER first
from test_excel_scripts import apply_actions, run_script  # noqa: E402

from tierbook import excel, jobs, worklist  # noqa: E402
from tierbook.demo import demo_path  # noqa: E402

LIMIT = 5_000_000
TARGET = 1.5


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of process PID so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TIERBOOK_OUTPUT_ROOT": str(folder)}
    process = subprocess.Popen([sys.executable, "-m", "tierbook.server", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("bench_ribbon: the server did not start")


def click(process: subprocess.Popen, base: str, book: Path, out: Path) -> tuple[float, float, dict]:
    """One ribbon run of Segment customers on BOOK (the client's JSON) through the
    server at BASE: (the server's CPU seconds, node's, the run's record)."""
    before, node_before = cpu_of(process.pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["node", str(ROOT / "tests" / "js" / "ribbon_harness.js"), base, "segment_customers",
                           str(book), str(out)], capture_output=True, text=True)
    server = cpu_of(process.pid) - before
    node_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"bench_ribbon: the ribbon run failed: {done.stderr.strip()}")
    node = (node_after.ru_utime + node_after.ru_stime) - (node_before.ru_utime + node_before.ru_stime)
    return server, node, json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, help="a synthetic export of this many rows (default: the demo)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierbook-bench-") as name:
        folder = Path(name)
        if args.rows:
            from bench import synthetic, write_xlsx

            source = folder / "sales.xlsx"
            write_xlsx(synthetic(args.rows), source)
        else:
            source = demo_path()
        payload = book_payload(source)
        rows = len(payload["sheets"][0]["values"]) - 1
        (folder / "book.json").write_text(json.dumps(payload, default=str))

        started = time.process_time()
        jobs.segment_file(source, folder / "tierbook.xlsx")
        cli = time.process_time() - started

        exclude = tuple(excel.EXCLUDE["segment_customers"])
        alone = copy.deepcopy(payload)
        for sheet in alone["sheets"]:
            if sheet["name"] in exclude:
                sheet["values"] = [[]]
        started = time.process_time()
        run_script("segment_customers", alone)
        script = time.process_time() - started

        process, base = start_server(folder / "root")
        try:
            server, node, run = click(process, base, folder / "book.json", folder / "out.json")
            # the second click: the book as the first click left it, the same name and settings
            import openpyxl

            model = openpyxl.load_workbook(source)
            apply_actions(model, run["actions"])
            model.save(folder / "after.xlsx")
            again = book_payload(folder / "after.xlsx", name=payload["book"]["name"], exclude=exclude)
            (folder / "book2.json").write_text(json.dumps(again, default=str))
            server2, _, run2 = click(process, base, folder / "book2.json", folder / "out2.json")
        finally:
            process.terminate()
            process.wait(timeout=30)
        started = time.process_time()
        jobs.segment_file(source, folder / "tierbook.xlsx")  # onto its earlier file
        cli2 = time.process_time() - started
        # what reading every cell of the sheets the second click reads would cost, counted as the
        # harness counts a read (the values and the number formats Office sends with them)
        def every_cell(sheets: list[dict]) -> int:
            return sum(len(json.dumps({"values": sh["values"], "numberFormat": [
                ["yyyy-mm-dd" if isinstance(v, str) and v[:4].isdigit() and v[4:5] == "-" and "T" in v else "General"
                 for v in row] for row in sh["values"]]}, default=str, separators=(",", ":"))) for sh in sheets)

        read2 = [sh for sh in again["sheets"] if sh["name"] not in exclude]
        every_cell2 = every_cell(read2)
        lists2 = [sh for sh in read2 if sh["name"] in worklist.read_columns()]
        lists_read2 = sum(run2["read_bytes_by_sheet"].get(sh["name"], 0) for sh in lists2)
        lists_every2 = every_cell(lists2)

    print(f"transactions: {rows:,} rows ({source.name})")
    print(f"tierbook segment (read, classify, write):  {cli:7.2f} s CPU")
    print(f"ribbon run, server (uploads, script, pages): {server:7.2f} s CPU  ({server / cli:.2f}x; target "
          f"{TARGET}x)")
    print(f"  of which the script call alone:            {script:7.2f} s CPU  ({script / cli:.2f}x)")
    print(f"  the client (node, as the browser):         {node:7.2f} s CPU")
    print(f"largest: Office.js read {run['largest_read'] / 1e6:.2f} MB ({run['reads']} reads), request "
          f"{run['largest_request'] / 1e6:.2f} MB ({run['requests']} requests), response "
          f"{run['largest_response'] / 1e6:.2f} MB ({run['pages']} pages), action "
          f"{run['largest_action'] / 1e6:.2f} MB ({len(run['actions']):,} actions); limit {LIMIT / 1e6:.0f} MB each")
    print(f"second click: tierbook segment again {cli2:.2f} s CPU, ribbon server {server2:.2f} s CPU "
          f"({server2 / cli2:.2f}x); cells read {run2['read_bytes'] / 1e6:.1f} MB in {run2['reads']} reads (every "
          f"cell of the sheets: {every_cell2 / 1e6:.1f} MB; of the call lists {lists_read2 / 1e6:.1f} MB of "
          f"{lists_every2 / 1e6:.1f} MB), largest request "
          f"{run2['largest_request'] / 1e6:.2f} MB, {len(run2['actions']):,} actions")
    largest = max(run["largest_read"], run["largest_request"], run["largest_response"], run["largest_action"],
                  run2["largest_read"], run2["largest_request"], run2["largest_response"], run2["largest_action"])
    ok = server <= TARGET * cli and largest <= LIMIT
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
