"""Throughput of tierbook's reader and engine, against the floors they are built on.

    python benchmarks/bench.py [--sizes 10000,100000,1000000] [--repeat 5]

For each size it generates a synthetic, clean transactions table (seeded numpy; 50k
customers over 24 months, fewer when there are not enough rows: min(50k, rows // 2)),
writes it once to benchmarks/data/ as xlsx, csv and parquet (reused by later runs),
then measures, best of N wall times in this one run:

- reading: tierbook.read.read_transactions on the xlsx, csv and parquet files, and
  fastexcel alone on the xlsx (the sheet as a pandas frame: what the reader starts from);
- segmentation: tierbook.segment.classify on the clean frame with the default Settings,
  and one plain groupby(["customer", "month"]).sum() of the numeric columns of the same
  frame (month added beforehand, not timed).

Targets, checked at 1M rows: xlsx read tierbook / fastexcel ≤ 1.25, and
classify / groupby ≤ 10. The exit code is 1 when a measured target fails.
Writing the 1M-row xlsx the first time takes a minute or two (xlsxwriter when it is
installed, else openpyxl's write_only mode).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "addin"))  # benchmark the working tree, not an installed copy

DATA = Path(__file__).resolve().parent / "data"
FORMAT_VERSION = 1  # bump when the synthetic data changes, so cached files are rewritten
FIRST_DAY = np.datetime64("2024-11-01")
SPAN = 730  # days: 24 calendar months, 2024-11-01 … 2026-10-31
MAX_CUSTOMERS = 50_000
XLSX_READ_TARGET = 1.25
SEGMENT_TARGET = 10.0
TARGET_ROWS = 1_000_000
NUMERIC = ["amount", "units", "margin"]


# --- data -----------------------------------------------------------------------------


def customers_for(rows: int) -> int:
    return min(MAX_CUSTOMERS, rows // 2)


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    """A clean transactions table: every customer buys at least once, a few buy a lot."""
    rng = np.random.default_rng([seed, rows])
    n = customers_for(rows)
    weight = rng.pareto(1.1, n) + 0.02  # heavy tail: many one-time buyers, a few big ones
    counts = 1 + rng.multinomial(rows - n, weight / weight.sum())
    customer = np.repeat(np.arange(n), counts)
    start = rng.integers(0, SPAN, n)  # each customer is active between two days
    stop = start + np.floor(rng.random(n) * (SPAN - start)).astype(int)
    day = start[customer] + np.floor(rng.random(rows) * (stop - start + 1)[customer]).astype(int)
    amount = np.round(rng.lognormal(np.log(800), 0.8, n)[customer] * rng.lognormal(0, 0.35, rows), 2)
    amount[rng.random(rows) < 0.02] *= -1  # refunds
    units = np.maximum(1, np.round(np.abs(amount) / rng.lognormal(np.log(40), 0.8, n)[customer])) * np.sign(amount)
    order = np.argsort(day, kind="stable")
    managers = np.array(["Anna Petrova", "Ivan Sidorov", "Maria Smirnova", "John Carter", "Emily Brown"], dtype=object)
    return pd.DataFrame(
        {
            "customer": pd.Series(np.char.add("C", np.char.zfill(customer[order].astype(str), 6)).astype(object)),
            "date": (FIRST_DAY + day[order].astype("timedelta64[D]")).astype("datetime64[ns]"),
            "order_id": pd.Series(np.char.add("SO-", (np.arange(rows) + 1_000_001).astype(str)).astype(object)),
            "amount": amount[order],
            "units": units[order],
            "margin": np.round(amount[order] * rng.uniform(0.15, 0.30, rows), 2),
            "manager": managers[rng.integers(0, len(managers), n)][customer[order]],
        }
    )


def files_for(rows: int) -> dict[str, Path]:
    stem = DATA / f"tx_{rows}_v{FORMAT_VERSION}"
    return {ext: stem.with_suffix(f".{ext}") for ext in ("xlsx", "csv", "parquet")}


def ensure_files(rows: int) -> tuple[dict[str, Path], float]:
    """Write the three files for `rows` unless they are cached; the seconds it took."""
    paths = files_for(rows)
    missing = [ext for ext, p in paths.items() if not p.exists()]
    if not missing:
        return paths, 0.0
    t0 = time.perf_counter()
    DATA.mkdir(parents=True, exist_ok=True)
    df = synthetic(rows)
    writers = {"xlsx": write_xlsx, "csv": lambda d, p: d.to_csv(p, index=False, date_format="%Y-%m-%d"),
               "parquet": lambda d, p: d.to_parquet(p, index=False)}
    for ext in missing:
        tmp = paths[ext].with_suffix(f".{ext}.part")
        writers[ext](df, tmp)
        tmp.replace(paths[ext])  # an interrupted write leaves no half file in the cache
    return paths, time.perf_counter() - t0


def write_xlsx(df: pd.DataFrame, path: Path) -> None:
    """One sheet "Sales": header row, dates as date cells, amounts as numbers."""
    serial = ((df["date"].to_numpy() - np.datetime64("1899-12-30")) // np.timedelta64(1, "D")).tolist()
    columns = [df[c].tolist() for c in df.columns]
    date_col = list(df.columns).index("date")
    columns[date_col] = serial
    try:
        import xlsxwriter
    except ImportError:
        xlsxwriter = None
    if xlsxwriter is not None:
        book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = book.add_worksheet("Sales")
        date_format = book.add_format({"num_format": "yyyy-mm-dd"})
        sheet.write_row(0, 0, list(df.columns))
        writers = [sheet.write_string if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
                   else sheet.write_number for c in df.columns]
        for r, row in enumerate(zip(*columns), start=1):
            for c, (write, value) in enumerate(zip(writers, row)):
                if c == date_col:
                    sheet.write_number(r, c, value, date_format)
                else:
                    write(r, c, value)
        book.close()
        return
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sales")
    sheet.append(list(df.columns))
    for row in zip(*columns):
        cells = list(row)
        cell = WriteOnlyCell(sheet, value=cells[date_col])
        cell.number_format = "yyyy-mm-dd"
        cells[date_col] = cell
        sheet.append(cells)
    book.save(path)


# --- timing ---------------------------------------------------------------------------


def best_of(n: int, *fns: Callable[[], object], warm_up: bool = True) -> list[float]:
    """Best wall time of each function over n rounds, the functions interleaved per round."""
    best = [float("inf")] * len(fns)
    if warm_up:  # first calls pay for lazy imports and caches
        for fn in fns:
            fn()
    for _ in range(n):
        for i, fn in enumerate(fns):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def measure(rows: int, repeat: int, repeat_large_xlsx: int) -> dict[str, object]:
    import fastexcel

    from tierbook.read import read_transactions
    from tierbook.segment import classify
    from tierbook.settings import Settings

    paths, wrote = ensure_files(rows)
    out: dict[str, object] = {"rows": rows, "customers": customers_for(rows), "wrote_s": wrote}

    def fastexcel_frame() -> pd.DataFrame:
        return fastexcel.read_excel(paths["xlsx"]).load_sheet(0).to_pandas()

    n_xlsx = repeat_large_xlsx if rows >= TARGET_ROWS else repeat
    small = rows < TARGET_ROWS  # warm up where it is cheap; at 1M the first call's overhead is noise
    out["xlsx"], out["fastexcel"] = best_of(n_xlsx, lambda: read_transactions(paths["xlsx"]), fastexcel_frame,
                                            warm_up=small)
    out["csv"], out["parquet"] = best_of(repeat, lambda: read_transactions(paths["csv"]),
                                         lambda: read_transactions(paths["parquet"]), warm_up=small)

    tx, issues = read_transactions(paths["parquet"])
    out["read_rows"], out["issues"] = len(tx), len(issues)
    settings = Settings()
    frame = tx.assign(month=tx["date"].to_numpy().astype("datetime64[M]"))  # not timed
    numeric = [c for c in NUMERIC if c in frame.columns]
    out["segment"], out["groupby"] = best_of(
        repeat, lambda: classify(tx, settings), lambda: frame.groupby(["customer", "month"])[numeric].sum(),
        warm_up=small)
    return out


# --- report ---------------------------------------------------------------------------


def rate(rows: int, seconds: float) -> str:
    r = rows / seconds
    return f"{r / 1e6:.2f}M" if r >= 1e6 else f"{r / 1e3:.0f}k"


def report(results: list[dict[str, object]]) -> bool:
    """Print the table and the targets; True when no measured target failed."""
    head = ["rows", "customers", "xlsx", "fastexcel", "ratio", "csv", "parquet", "segment", "groupby s",
            "seg/gb"]
    lines = []
    for r in results:
        n = int(r["rows"])
        lines.append([f"{n:,}", f"{int(r['customers']):,}", rate(n, r["xlsx"]), rate(n, r["fastexcel"]),
                      f"{r['xlsx'] / r['fastexcel']:.2f}", rate(n, r["csv"]), rate(n, r["parquet"]),
                      rate(n, r["segment"]), f"{r['groupby']:.3f}", f"{r['segment'] / r['groupby']:.1f}"])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    print()
    print("rows/s, best wall time of the repeats (xlsx, csv, parquet: tierbook.read.read_transactions;")
    print("fastexcel: fastexcel.read_excel(p).load_sheet(0).to_pandas(); segment: tierbook.segment.classify;")
    print('groupby: frame.groupby(["customer", "month"])[["amount", "units", "margin"]].sum())')
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for line in lines:
        print("  ".join(v.rjust(w) for v, w in zip(line, widths)))
    for r in results:
        if r["read_rows"] != r["rows"] or r["issues"]:
            print(f"warning: {r['rows']:,} rows written, {r['read_rows']:,} read, {r['issues']} input issues")
    print("customers = min(50,000, rows // 2)")
    print()

    ok = True
    at = [r for r in results if r["rows"] == TARGET_ROWS]
    targets = [("xlsx read, tierbook / fastexcel", "xlsx", "fastexcel", XLSX_READ_TARGET),
               ("segmentation / groupby", "segment", "groupby", SEGMENT_TARGET)]
    for name, a, b, limit in targets:
        if not at:
            print(f"{name} <= {limit:g} at 1,000,000 rows: not measured (add 1000000 to --sizes)")
            continue
        ratio = at[0][a] / at[0][b]
        passed = ratio <= limit
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}  {name} <= {limit:g} at 1,000,000 rows: {ratio:.2f}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated row counts")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs (default 5)")
    parser.add_argument("--repeat-large-xlsx", type=int, default=3,
                        help="best of this many xlsx reads at 1M rows and more (default 3)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    import tierbook

    print(f"tierbook from {Path(tierbook.__file__).parent}, pandas {pd.__version__}, numpy {np.__version__}")
    t0 = time.perf_counter()
    results = []
    for rows in sizes:
        t = time.perf_counter()
        results.append(measure(rows, args.repeat, args.repeat_large_xlsx))
        wrote = results[-1]["wrote_s"]
        note = f" (of which {wrote:.1f} s writing the cached files)" if wrote else " (cached files)"
        print(f"{rows:>9,} rows: {time.perf_counter() - t:6.1f} s{note}", flush=True)
    ok = report(results)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
