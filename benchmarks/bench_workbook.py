"""Writing the templated workbook vs plain DataFrame.to_excel of the same frames.

    python benchmarks/bench_workbook.py [--customers 50000] [--limit 3.0]

Classifies a synthetic history of N customers (not timed), then times, in the same run:
  1. tierbook.workbook.write_workbook(result, out)  (every sheet, styled, from the templates);
  2. DataFrame.to_excel(engine="openpyxl") of every table frame that workbook holds,
     one sheet per frame (the same values, no styling).
Prints both times and the ratio, then PASS when ratio <= limit (the issue: 3×), else
FAIL with exit code 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import tierbook  # noqa: F401 - installed (pip install -e .)
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "addin"))

from tierbook.segment import classify  # noqa: E402
from tierbook.settings import Settings  # noqa: E402
from tierbook.sheets import workbook_content  # noqa: E402
from tierbook.workbook import write_workbook  # noqa: E402


def synthetic_transactions(customers: int, seed: int = 7) -> pd.DataFrame:
    """About 6 payments per customer over 24 months, with managers and contact data."""
    rng = np.random.default_rng(seed)
    per_customer = rng.geometric(0.18, customers)
    who = np.repeat(np.arange(customers), per_customer)
    n = len(who)
    start = np.datetime64("2024-11-01")
    first = rng.integers(0, 700, customers)
    day = np.minimum(first[who] + rng.integers(0, 400, n), 729)
    scale = rng.lognormal(7, 1.0, customers)
    amount = np.round(scale[who] * rng.lognormal(0, 0.3, n), 2)
    names = np.array([f"Customer {i:06d}" for i in range(customers)], dtype=object)
    managers = np.array(["Anna Petrova", "Ivan Sidorov", "Maria Smirnova", "John Carter", "Emily Brown"], dtype=object)
    frame = pd.DataFrame({
        "customer": names[who],
        "date": (start + day.astype("timedelta64[D]")).astype("datetime64[ns]"),
        "amount": amount,
        "units": rng.integers(1, 50, n).astype("float64"),
        "margin": np.round(amount * rng.uniform(0.05, 0.35, n), 2),
        "order_id": [f"SO-{i}" for i in range(n)],
        "manager": managers[who % 5],
        "email": [f"c{i}@example.com" for i in who],
        "phone": [f"+1 555 {i:07d}" for i in who],
        "consent": pd.array(rng.random(customers)[who] < 0.8, dtype="boolean"),
        "channel": np.array(["email", "sms", "phone"], dtype=object)[who % 3],
        "contact_time": np.array(["09:00-12:00", "14:00-17:00"], dtype=object)[who % 2],
    })
    frame.index = pd.RangeIndex(2, 2 + n)
    return frame


def plain_to_excel(frames: list[tuple[str, pd.DataFrame]], out: Path) -> None:
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for title, frame in frames:
            frame.to_excel(writer, sheet_name=title[:31], index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--limit", type=float, default=3.0)
    args = parser.parse_args(argv)

    tx = synthetic_transactions(args.customers)
    result = classify(tx, Settings())
    frames = []
    for sheet in workbook_content(result, "en"):
        for key, table in sheet.tables.items():
            frames.append((f"{sheet.title} {key}" if len(sheet.tables) > 1 else sheet.title, table.frame))
    cells = sum(f.size for _, f in frames)
    print(f"{len(result.customers):,} customers, {len(tx):,} transactions; the workbook holds {len(frames)} tables, "
          f"{cells:,} cells")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        write_workbook(result, Path(folder) / "tierbook.xlsx")
        ours = time.perf_counter() - started
        started = time.perf_counter()
        plain_to_excel(frames, Path(folder) / "plain.xlsx")
        plain = time.perf_counter() - started
    ratio = ours / plain
    print(f"write_workbook:            {ours:6.1f} s")
    print(f"DataFrame.to_excel (same): {plain:6.1f} s")
    print(f"ratio {ratio:.2f} (limit {args.limit:.1f}): {'PASS' if ratio <= args.limit else 'FAIL'}")
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
