"""One classification, many cells: 4,000 =SEGMENT() cells over a 50k-row table.

Three ways a sheet can hold 4,000 segment cells, each through xlwings'
custom_functions_call with the JSON bodies Excel's Office.js client sends (bytes counted
as the client would send them):

- anchor: one spilled SEGMENT(A2:A4001, Sales!A1:G50001) (one call, the table sent once);
- handles: one CLASSIFY(Sales!A1:G50001) and 4,000 SEGMENT(An, $N$1) cells, each sending
  the customer and the handle's key (the recalculation of a sheet full of such cells);
- per-cell ranges: 4,000 SEGMENT(An, Sales!A1:G50001) cells, each re-sending the table
  (estimated from 20 calls: it is the case the handles replace).

Target: the handles' recalculation within 2x the spilled call's time.

    python benchmarks/bench_handles.py [--rows 50000] [--cells 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_excel import CALLER, call, excel, serial  # noqa: E402 - sets XLWINGS_ON_SERVER first
import asyncio  # noqa: E402

import xlwings as xw  # noqa: E402
import xlwings.server  # noqa: E402
from xlwings.server import Caller, caller_from_address  # noqa: E402
from xlwings.pro.object_handles import CONVERTER_KEYS, ObjectCacheConverter  # noqa: E402

from bench import synthetic  # noqa: E402


def body_bytes(*args: object) -> int:
    """The size of the request Excel sends for one call with these arguments."""
    return len(json.dumps({"func_name": "segment", "args": list(args), "caller_address": "[b.xlsx]S!N2",
                           "culture_info_name": "en-US", "date_format": "yyyy-mm-dd", "runtime": "1.4",
                           "version": "0.37.8", "client": "Office.js"}, default=str).encode())


def cells_in_one_loop(calls: list[tuple]) -> list:
    """Many function calls in one event loop, as xlwings Server serves them."""
    hint = {Caller: caller_from_address(CALLER)}

    async def run() -> list:
        out = []
        for func, *args in calls:
            data = {"func_name": func, "args": list(args), "caller_address": CALLER, "culture_info_name": "en-US",
                    "date_format": "yyyy-mm-dd", "runtime": "1.4", "version": xw.__version__, "client": "Office.js"}
            out.append(await xlwings.server.custom_functions_call(data, excel, typehint_to_value=hint))
        return out

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--cells", type=int, default=4_000)
    args = parser.parse_args()
    ObjectCacheConverter.register(*CONVERTER_KEYS)

    frame = synthetic(args.rows)
    table = [list(frame.columns)] + [[serial(v.to_pydatetime()) if hasattr(v, "to_pydatetime") else v
                                      for v in row] for row in frame.itertuples(index=False)]
    names = frame["customer"].drop_duplicates().tolist()
    cells = [[names[i % len(names)]] for i in range(args.cells)]

    excel.CACHE.clear()
    started = time.process_time()
    spilled = call("segment", cells, table)
    anchor = time.process_time() - started
    anchor_bytes = body_bytes(cells, table)

    excel.CACHE.clear()
    started = time.process_time()
    key = call("classify_handle", table)[0][0]["properties"]["object_handle_cache_key"]["basicValue"]
    classify_time = time.process_time() - started
    started = time.process_time()
    answers = [r[0] for r in cells_in_one_loop([("segment", [cell], [[key]]) for cell in cells])]
    recalc = time.process_time() - started
    handle_bytes = body_bytes(table) + sum(body_bytes([cell], [[key]]) for cell in cells)
    assert answers == spilled, "the handle's answers differ from the spilled call's"

    sample = 20
    started = time.process_time()
    cells_in_one_loop([("segment", [cell], table) for cell in cells[:sample]])
    per_cell = (time.process_time() - started) / sample * args.cells
    per_cell_bytes = body_bytes([cells[0]], table) * args.cells

    print(f"{args.rows:,} rows, {len(names):,} customers, {args.cells:,} cells (CPU seconds)")
    print(f"anchor: one spilled SEGMENT:            {anchor:7.2f} s  {anchor_bytes / 1e6:8.1f} MB sent")
    print(f"handles: CLASSIFY once:                 {classify_time:7.2f} s")
    print(f"handles: {args.cells:,} SEGMENT(An, $N$1) cells:  {recalc:7.2f} s  {handle_bytes / 1e6:8.1f} MB sent "
          f"(CLASSIFY included)  -> recalculation {recalc / anchor:.2f}x the anchor, "
          f"{(classify_time + recalc) / anchor:.2f}x with CLASSIFY (target <= 2x)")
    print(f"per-cell ranges (estimated from {sample}): {per_cell:7.1f} s  {per_cell_bytes / 1e6:8.0f} MB sent")


if __name__ == "__main__":
    main()
