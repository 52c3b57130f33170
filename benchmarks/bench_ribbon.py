"""The ribbon's Segment customers as Excel runs it, beside `tierbook segment` on the same
transactions (issue 11, item 3).

The ribbon run is the real one: `tierbook serve` (uvicorn on 127.0.0.1) and the ribbon's
JavaScript (static/js/ribbon.js) in node, with the strict Excel stand-in
(tests/js/excel_standin.js) holding the workbook in place of Excel
(tests/js/ribbon_harness.js): the book read, uploaded, the script run, the pages of
actions fetched and applied, the Office.js syncs counted. Reports, in this one run:

- CPU seconds of `tierbook segment` (read, classify, write the file; in this process);
- CPU seconds of the server for the whole ribbon run (from /proc: parsing the uploads,
  the script, the pages), and of the script call alone (xlwings' custom_scripts_call on
  the assembled book, in this process), and node's (what the browser would spend);
- the largest Office.js read, HTTP request, HTTP response and single action, the number
  of requests and actions;
- `syncs: first click A, second click B, largest sync C MB`: the Office.js round trips of
  each click, reads included (each a round trip across the internet on Excel for the web),
  and the largest request or response of one;
- a second click on the book the first one made (its call lists are read for what the
  manager typed), beside `tierbook segment` writing its file again (reading the same
  from the earlier file).

Targets: the server's CPU for the ribbon run within 1.5x of `tierbook segment`; nothing
over Excel on the web's 5 MB; at most 8 syncs a click on the demo, 20 with --rows. Exit
code 1 when a target is missed.

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
from test_excel_scripts import run_script  # noqa: E402

from tierbook import excel, jobs, worklist  # noqa: E402
from tierbook.demo import demo_path  # noqa: E402

LIMIT = 5_000_000
TARGET = 1.5
SYNCS, SYNCS_LARGE = 8, 20  # Office.js syncs a click may take: the demo, an export of --rows (issue 20)


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


def clicks(process: subprocess.Popen, base: str, book: Path, out: Path) -> list[dict]:
    """Segment customers clicked twice on BOOK (the client's JSON) through the server at
    BASE, ribbon.js in node with the strict Excel stand-in holding the workbook (the second
    click on the book the first one left): each click's record, with the server's and
    node's CPU seconds."""
    env = {**os.environ, "TIERBOOK_HARNESS_SERVER_PID": str(process.pid)}
    done = subprocess.run(["node", str(ROOT / "tests" / "js" / "ribbon_harness.js"), base,
                           "segment_customers,segment_customers", str(book), str(out)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"bench_ribbon: the ribbon run failed: {done.stderr.strip()}")
    return json.loads(out.read_text())["clicks"]


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
        syncs = SYNCS_LARGE if args.rows else SYNCS
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
            run, run2 = clicks(process, base, folder / "book.json", folder / "out.json")
        finally:
            process.terminate()
            process.wait(timeout=30)
        server, node, server2 = run["server_cpu"], run["client_cpu"], run2["server_cpu"]
        started = time.process_time()
        jobs.segment_file(source, folder / "tierbook.xlsx")  # onto its earlier file
        cli2 = time.process_time() - started
    lists_read = sum(v for k, v in run2["read_bytes_by_sheet"].items() if k in worklist.read_columns())
    print(f"transactions: {rows:,} rows ({source.name})")
    print(f"tierbook segment (read, classify, write):  {cli:7.2f} s CPU")
    print(f"ribbon run, server (uploads, script, pages): {server:7.2f} s CPU  ({server / cli:.2f}x; target "
          f"{TARGET}x)")
    print(f"  of which the script call alone:            {script:7.2f} s CPU  ({script / cli:.2f}x)")
    print(f"  the client (node: ribbon.js and the Excel stand-in): {node:7.2f} s CPU")
    print(f"largest: Office.js read {run['largest_read'] / 1e6:.2f} MB ({run['reads']} reads), request "
          f"{run['largest_request'] / 1e6:.2f} MB ({run['requests']} requests), response "
          f"{run['largest_response'] / 1e6:.2f} MB ({run['pages']} pages), action "
          f"{run['largest_action'] / 1e6:.2f} MB ({len(run['actions']):,} actions); limit {LIMIT / 1e6:.0f} MB each")
    print(f"second click: tierbook segment again {cli2:.2f} s CPU, ribbon server {server2:.2f} s CPU "
          f"({server2 / cli2:.2f}x); cells read {run2['read_bytes'] / 1e6:.1f} MB in {run2['reads']} reads "
          f"(of the call lists {lists_read / 1e6:.1f} MB), "
          f"largest request {run2['largest_request'] / 1e6:.2f} MB, {len(run2['actions']):,} actions")
    largest_sync = max(run["largest_sync_request"], run["largest_sync_response"], run2["largest_sync_request"],
                       run2["largest_sync_response"])
    print(f"syncs: first click {run['syncs']}, second click {run2['syncs']}, largest sync "
          f"{largest_sync / 1e6:.2f} MB (Office.js round trips, reads included, counted by the Excel stand-in; "
          f"target {syncs} / {syncs} at this size)")
    largest = max(run["largest_read"], run["largest_request"], run["largest_response"], run["largest_action"],
                  run2["largest_read"], run2["largest_request"], run2["largest_response"], run2["largest_action"])
    ok = server <= TARGET * cli and largest <= LIMIT and largest_sync <= LIMIT and max(run["syncs"], run2["syncs"]) <= syncs
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
