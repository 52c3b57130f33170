"""How a ribbon run travels between Excel and the server in pieces small enough for
Excel on the web (issue 11, item 3).

Excel on the web refuses an Office.js request or response over 5 MB, and the browser's
ribbon code should not post or receive one either. So a run of a ribbon script goes:

1. the client (static/js/ribbon.js) reads the workbook's structure (the payload xlwings'
   client would send, without cell values) and the values of each sheet the script
   reads in blocks, and posts them to /tierbook/upload, each block one request;
2. it posts that payload, values left out, to /tierbook/run/<script>: the server puts
   the blocks back in their sheets, builds the same xw.Book xlwings Server's own
   /xlwings/custom-scripts-call route builds, and calls the script the same way, in a
   worker thread, so that a custom function call is answered while it runs;
3. the answer is the first page of the actions; the client fetches the other pages
   from /tierbook/result/<id>/<n> and commits each with one Office.js sync. No page and
   no action (a large setValues is split by rows) is larger than PAGE_BYTES.

Uploads and results are kept in memory for TTL seconds at most.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

#: The largest page of actions (and so the largest action) in one response, in bytes
#: of JSON; the ribbon client commits a page with one Office.js sync, and Excel on the
#: web's limit is 5 MB per request and response (4 MB leaves a fifth for Office.js's own
#: framing). The tests set a smaller one with $TIERBOOK_SERVER_PAGE_MB.
PAGE_BYTES = int(float(os.environ.get("TIERBOOK_SERVER_PAGE_MB") or 4) * 1_000_000)
#: Room left in a page for the answer around it ({"actions": …, "result": …, "pages": …}).
ENVELOPE = 200
#: Uploads and results not used for this many seconds are dropped.
TTL = 900.0
#: Uploads and results kept at once (a single user's server: a few runs at most).
MAX_KEPT = 16


class TransportError(ValueError):
    """A request of the chunked transport that cannot be served (HTTP 400/404)."""


def to_json(value: object) -> str:
    """VALUE as the compact JSON the server answers (NaN refused, as Starlette does)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)


def json_size(value: object) -> int:
    """Bytes of VALUE as the server's JSON."""
    return len(to_json(value).encode("utf-8"))


def split_action(action: dict, limit: int = PAGE_BYTES, size: int | None = None) -> list[dict]:
    """ACTION as actions of at most LIMIT bytes each: a setValues or setFormula of many
    rows becomes one per block of rows (the same cells, in order); any other action, or
    one row that alone is too large, stays as it is. SIZE: ACTION's, if known."""
    values = action.get("values")
    if action.get("func") not in ("setValues", "setFormula") or not isinstance(values, list) or len(values) < 2:
        return [action]
    size = json_size(action) if size is None else size
    if size <= limit:
        return [action]
    rows = max(1, int(len(values) * limit / size * 0.9))
    parts = []
    for start in range(0, len(values), rows):  # rows < len(values): each block is split again if need be
        block = values[start:start + rows]
        parts += split_action({**action, "values": block, "start_row": action["start_row"] + start,
                               "row_count": len(block)}, limit)
    return parts


def page_texts(actions: list[dict], limit: int = PAGE_BYTES) -> list[str]:
    """ACTIONS, each split by split_action, in order, as JSON arrays (the pages) of at
    most LIMIT bytes each (a page holds at least one action). Each action is made JSON
    once: the pages are answered as they are, not encoded again."""
    result: list[list[str]] = [[]]
    used = ENVELOPE
    for action in actions:
        text = to_json(action)
        size = len(text.encode("utf-8"))
        parts = [(text, size)] if size <= limit else [
            (t, len(t.encode("utf-8"))) for t in map(to_json, split_action(action, limit, size))]
        for part, size in parts:
            size += 1  # the comma
            if result[-1] and used + size > limit:
                result.append([])
                used = ENVELOPE
            result[-1].append(part)
            used += size
    return ["[" + ",".join(page) + "]" for page in result]


def pages(actions: list[dict], limit: int = PAGE_BYTES) -> list[list[dict]]:
    """The pages of page_texts as lists of actions."""
    return [json.loads(text) for text in page_texts(actions, limit)]


@dataclass
class _Upload:
    blocks: dict[int, dict[int, list]] = field(default_factory=dict)  # sheet index → first row → rows
    state: str = "receiving"  # receiving, running, done, failed
    used: float = field(default_factory=time.monotonic)


@dataclass
class _Result:
    pages: list[str]
    used: float = field(default_factory=time.monotonic)


#: The widest row an upload block may stand for (Excel's last column, XFD), and the most
#: cells a block of some columns may stand for (a real one: a few hundred thousand).
MAX_COLUMNS = 16384
MAX_BLOCK_CELLS = 4_000_000


def _widened(values: list, columns: object, width: object) -> list[list]:
    """Rows of WIDTH cells from VALUES, which hold only COLUMNS of them ("" elsewhere)."""
    if not isinstance(width, int) or not 0 < width <= MAX_COLUMNS or not isinstance(columns, list) or not columns \
            or not all(isinstance(c, int) for c in columns) or columns != sorted(set(columns)) \
            or columns[0] < 0 or columns[-1] >= width:
        raise TransportError("tierbook: an upload block's columns must be increasing column numbers within its width")
    if any(len(row) != len(columns) for row in values):
        raise TransportError("tierbook: an upload block's rows must hold one value per column sent")
    if len(values) * width > MAX_BLOCK_CELLS:
        raise TransportError(f"tierbook: an upload block may stand for at most {MAX_BLOCK_CELLS:,} cells")
    out = []
    for row in values:
        full = [""] * width
        for c, value in zip(columns, row):
            full[c] = value
        out.append(full)
    return out


class Store:
    """The uploads and results of runs in progress, by random id."""

    def __init__(self) -> None:
        self.uploads: dict[str, _Upload] = {}
        self.results: dict[str, _Result] = {}
        self.lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for kept in (self.uploads, self.results):
            for key in [k for k, v in kept.items() if now - v.used > TTL]:
                del kept[key]
            while len(kept) > MAX_KEPT:
                del kept[min(kept, key=lambda k: kept[k].used)]

    def add_block(self, upload: str | None, sheet: object, start: object, values: object,
                  columns: object = None, width: object = None) -> tuple[str, int]:
        """Keep rows VALUES of sheet number SHEET from row START (0-based, of the values
        matrix xlwings sends: from A1) for UPLOAD (a new one when None). COLUMNS (0-based,
        increasing) and WIDTH: the rows hold only these columns of rows WIDTH cells wide
        (the client read only the columns a script needs, worklist.read_columns); the
        others are kept empty (""), as Excel sends an empty cell. Returns the upload's id
        and its number of rows so far."""
        if not isinstance(sheet, int) or not isinstance(start, int) or sheet < 0 or start < 0:
            raise TransportError("tierbook: an upload block needs a sheet number and a first row (whole numbers)")
        if not isinstance(values, list) or not values or not all(isinstance(r, list) for r in values):
            raise TransportError("tierbook: an upload block needs its rows (a list of lists)")
        if columns is not None:
            values = _widened(values, columns, width)
        with self.lock:
            self._expire()
            if upload is None:
                upload = secrets.token_urlsafe(16)
                self.uploads[upload] = _Upload()
            kept = self.uploads.get(upload) if isinstance(upload, str) else None
            if kept is None or kept.state != "receiving":
                raise TransportError("tierbook: this upload is unknown or already used: run the script again")
            sheet_blocks = kept.blocks.setdefault(sheet, {})
            if start in sheet_blocks:
                raise TransportError(f"tierbook: rows from {start + 1} of sheet {sheet + 1} were sent twice")
            sheet_blocks[start] = values
            kept.used = time.monotonic()
            return upload, sum(len(rows) for blocks in kept.blocks.values() for rows in blocks.values())

    def assemble(self, upload: str, payload: dict) -> dict:
        """PAYLOAD with the values of UPLOAD's sheets put back: each uploaded sheet's
        blocks, in order, without gap or overlap. The upload is then running."""
        with self.lock:
            kept = self.uploads.get(upload) if isinstance(upload, str) else None
            if kept is None or kept.state != "receiving":
                raise TransportError("tierbook: this upload is unknown or already used: run the script again")
            kept.state, kept.used = "running", time.monotonic()
            blocks = kept.blocks
        sheets = payload.get("sheets")
        if not isinstance(sheets, list):
            raise TransportError("tierbook: the request has no sheets")
        for index, by_start in blocks.items():
            if index >= len(sheets):
                raise TransportError(f"tierbook: rows were sent for sheet {index + 1}, but the workbook has "
                                     f"{len(sheets)} sheets")
            rows: list = []
            for start in sorted(by_start):
                if start != len(rows):
                    raise TransportError(f'tierbook: rows {len(rows) + 1} to {start} of sheet '
                                         f'"{sheets[index].get("name")}" were not sent: run the script again')
                rows.extend(by_start[start])
            sheets[index] = {**sheets[index], "values": rows}
        return payload

    def state(self, upload: str) -> str | None:
        with self.lock:
            kept = self.uploads.get(upload)
            return kept.state if kept else None

    def finish(self, upload: str | None, ok: bool) -> None:
        with self.lock:
            kept = self.uploads.get(upload) if upload else None
            if kept is not None:
                kept.state, kept.blocks = ("done" if ok else "failed"), {}

    def keep_result(self, result_pages: list[str]) -> str | None:
        """Keep the pages after the first for the client to fetch; their id (None if
        there is only one page)."""
        if len(result_pages) < 2:
            return None
        with self.lock:
            self._expire()
            key = secrets.token_urlsafe(16)
            self.results[key] = _Result(result_pages)
            return key

    def page(self, key: str, number: int) -> str:
        """Page NUMBER (1-based after the first, which the run answered) of result KEY;
        the result is dropped after its last page."""
        with self.lock:
            kept = self.results.get(key)
            if kept is None or not 1 <= number < len(kept.pages):
                raise TransportError("tierbook: this result is unknown or expired: run the script again")
            kept.used = time.monotonic()
            if number == len(kept.pages) - 1:
                del self.results[key]
            return kept.pages[number]


STORE = Store()


def off_loop(script):
    """SCRIPT (an @xw.script of tierbook.excel) as a coroutine function that runs it in
    a worker thread, with its own event loop there: xlwings Server awaits it, and its
    event loop goes on answering other requests (custom function calls) meanwhile.
    Name, signature and script metadata (__xlscript__) are SCRIPT's."""
    import asyncio
    import functools

    from anyio import to_thread

    @functools.wraps(script)
    async def in_thread(*args, **kwargs):
        return await to_thread.run_sync(lambda: asyncio.run(script(*args, **kwargs)))

    return in_thread
