"""Issue 14: tierbook on a Parquet dataset far beyond Excel's row limit, against one plain
DuckDB GROUP BY customer, month over the same files, measured in the same run.

    python benchmarks/bench_scale.py [--rows 100000000] [--customers 1000000] [--repeat 1]

Generates ROWS synthetic transactions (customer, date, amount, units, margin; 5% refunds)
with DuckDB into benchmarks/data/scale-ROWS/ (Parquet, reused by later runs), then runs in
a fresh child process each:

- tierbook: sources.classify_source on the folder (DuckDB aggregation + the pandas rules);
- anchor: SELECT customer, month, sum(amount), sum(units), sum(margin) ... GROUP BY
  customer, month over the same files, fetched into pandas.

It prints CPU seconds (user + system of the child) and peak RSS of each. Targets: peak
memory of tierbook under 4 GB and CPU time within 3× the anchor; the exit code is 1 when
one fails.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, sys, time
kind, folder = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if kind == "tierbook":
    from tierbook.sources import classify_source
    result = classify_source(folder)
    out = {"customers": len(result.customers)}
else:
    import duckdb
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    frame = con.execute(f"SELECT customer, (year(date) - 1970) * 12 + month(date) - 1 AS month, sum(amount), "
                        f"sum(units), sum(margin) FROM read_parquet('{folder}/*.parquet') GROUP BY ALL").fetchdf()
    out = {"groups": len(frame)}
usage = resource.getrusage(resource.RUSAGE_SELF)
out.update(cpu=usage.ru_utime + usage.ru_stime, wall=time.perf_counter() - start, peak_mb=usage.ru_maxrss / 1024)
print(json.dumps(out))
"""


def make_data(rows: int, customers: int) -> Path:
    """ROWS transactions as Parquet files (made once, by DuckDB, out of core)."""
    import duckdb

    folder = HERE / "data" / f"scale-{rows}"
    if folder.exists() and any(folder.glob("*.parquet")):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT 'C' || lpad(CAST(hash(i) % {customers} AS VARCHAR), 7, '0') AS customer,
               DATE '2022-01-01' + CAST(hash(i * 7 + 1) % 1096 AS INTEGER) AS date,
               round((CAST(hash(i * 7 + 2) % 100000 AS DOUBLE) / 100 + 1)
                     * CASE WHEN hash(i * 7 + 3) % 20 = 0 THEN -1 ELSE 1 END, 2) AS amount,
               CAST(hash(i * 7 + 4) % 12 AS DOUBLE) AS units,
               round(CAST(hash(i * 7 + 5) % 30000 AS DOUBLE) / 100 - 50, 2) AS margin
        FROM range({rows}) t(i)) TO '{folder}' (FORMAT parquet, PER_THREAD_OUTPUT true, OVERWRITE_OR_IGNORE true)""")
    return folder


def measure(kind: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(folder)], capture_output=True, text=True)
    if done.returncode != 0:  # say why (an engine's error, out of memory), not only that it failed
        raise SystemExit(f"{kind} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    line = next(line for line in reversed(done.stdout.splitlines()) if "{" in line)
    return json.loads(line[line.index("{"):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    folder = make_data(args.rows, args.customers)
    best = {}
    for kind in ("anchor", "tierbook"):
        runs = [measure(kind, folder) for _ in range(args.repeat)]
        best[kind] = min(runs, key=lambda r: r["cpu"])
        print(f"{kind:9s} {best[kind]}")
    ratio = best["tierbook"]["cpu"] / best["anchor"]["cpu"]
    peak = best["tierbook"]["peak_mb"]
    print(f"rows {args.rows:,}: tierbook / GROUP BY = {ratio:.2f}× CPU (target ≤ 3), peak {peak:,.0f} MB (target < 4096)")
    return 0 if ratio <= 3 and peak < 4096 else 1


if __name__ == "__main__":
    sys.exit(main())
