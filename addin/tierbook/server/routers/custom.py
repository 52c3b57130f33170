"""tierbook's own routes in xlwings Server: the chunked transport of a ribbon run
(tierbook.server.transport), for workbooks too large for one request of Excel on the web.

    GET  /tierbook/columns.json       → {sheet title: {"customer", "done", "read": [headers]}}: of
                                      these sheets the client reads only the columns of "read"
                                      below their header row (worklist.read_columns)
    POST /tierbook/upload             {"upload": id or null, "sheet": n, "start": row, "values": [[...]],
                                      and "columns": [n, ...], "width": n when only some were read}
                                      → {"upload": id, "rows": rows received so far}
    POST /tierbook/run/<script>       xlwings' request payload (values of uploaded sheets left out)
                                      with "upload": id → {"actions": first page, "result": id or null,
                                      "pages": n}
    GET  /tierbook/result/<id>/<n>    → {"actions": page n (1 … pages - 1)}
    GET  /tierbook/status/<upload>    → {"state": "receiving" | "running" | "done" | "failed"}
    GET  /tierbook/download/<token>   → a file a script offered (tierbook.downloads), as an
                                      attachment; each link works once, for an hour at most

The answer of /tierbook/run/<script> also carries "downloads": [{name, url, bytes, ...}]
when the script offered files (Segment workbooks), for the task pane to list.

RequestGuard (tierbook.server) stands in front of these as of every route. The download
route asks for no signed-in user: a browser follows a link without the add-in's
Authorization header; its token (secrets.token_urlsafe, 192 bits) is the permission."""

from __future__ import annotations

import json

import custom_scripts
import xlwings as xw
import xlwings.server
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from xlwings_server import dependencies as dep
from xlwings_server.config import settings
from xlwings_server.models import CurrentUser

from tierbook import downloads
from tierbook.server.transport import STORE, TransportError, page_texts

router = APIRouter(prefix=f"{settings.app_path}/tierbook")


async def _json_body(request: Request) -> dict:
    try:
        data = await run_in_threadpool(json.loads, await request.body())
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status_code=400, detail="tierbook: the request is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="tierbook: the request must be a JSON object")
    return data


@router.get("/columns.json")
async def columns(current_user: dep.User):
    from tierbook.worklist import read_columns

    return read_columns()


@router.post("/upload")
async def upload(request: Request, current_user: dep.User):
    data = await _json_body(request)
    try:
        key, rows = STORE.add_block(data.get("upload"), data.get("sheet"), data.get("start"), data.get("values"),
                                    data.get("columns"), data.get("width"))
    except TransportError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    return {"upload": key, "rows": rows}


@router.get("/status/{key}")
async def status(key: str, current_user: dep.User):
    state = STORE.state(key)
    if state is None:
        raise HTTPException(status_code=404, detail="tierbook: no such upload")
    return {"state": state}


def _book(payload: dict, key: str | None) -> xw.Book:
    if key is not None:
        payload = STORE.assemble(key, payload)
    return xw.Book(json=payload)


@router.post("/run/{script_name}")
async def run(script_name: str, request: Request, current_user: dep.User):
    if getattr(getattr(custom_scripts, script_name, None), "__xlscript__", None) is None:
        raise HTTPException(status_code=404, detail=f"tierbook: there is no script {script_name!r}")
    payload = await _json_body(request)
    key, args = payload.pop("upload", None), payload.pop("args", None) or []
    if not isinstance(args, list):
        raise HTTPException(status_code=400, detail="tierbook: 'args' must be a JSON array")
    handoff = downloads.current()
    if handoff is not None:
        handoff.listed = True  # ribbon.js lists the links in the task pane: no message about them
    ok = False
    try:
        book = await run_in_threadpool(_book, payload, key)
        try:
            # the script itself runs in a worker thread (custom_scripts.off_loop)
            book = await xlwings.server.custom_scripts_call(
                custom_scripts, script_name, current_user,
                typehint_to_value={CurrentUser: current_user, xw.Book: book}, args=args)
            result = await run_in_threadpool(page_texts, book.json()["actions"])
        finally:
            book.close()
        ok = True
    except TransportError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    finally:
        STORE.finish(key, ok)
    # the pages are JSON already: answered as they are (FastAPI's encoder would walk every cell again)
    offered = f',"downloads":{json.dumps(handoff.downloads)}' if handoff is not None and handoff.downloads else ""
    return Response(f'{{"actions":{result[0]},"result":{json.dumps(STORE.keep_result(result))},'
                    f'"pages":{len(result)}{offered}}}', media_type="application/json")


@router.get("/result/{key}/{number}")
async def result_page(key: str, number: int, current_user: dep.User):
    try:
        return Response(f'{{"actions":{STORE.page(key, number)}}}', media_type="application/json")
    except TransportError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


def _download_headers(entry: downloads.Entry) -> dict[str, str]:
    return {"Content-Disposition": downloads.content_disposition(entry.name),
            "Content-Length": str(entry.path.stat().st_size), "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"}


class _SentOnce(StreamingResponse):
    """The file of a download ENTRY (taken from SHELF) as an attachment; the shelf is told
    whether it went out whole (the link is then used up) or not (it works again)."""

    CHUNK = 1 << 20

    def __init__(self, entry: downloads.Entry, shelf: downloads.Shelf):
        self.entry, self.shelf, self.whole = entry, shelf, False
        self.size = entry.path.stat().st_size
        super().__init__(self._chunks(), media_type=entry.content_type, headers=_download_headers(entry))

    async def _chunks(self):
        size, done = self.size, 0
        with open(self.entry.path, "rb") as handle:
            while chunk := await run_in_threadpool(handle.read, self.CHUNK):
                done += len(chunk)
                if done >= size:
                    # the last chunk (the ones before it were sent: the generator is asked
                    # for more only after): the link is used up before the client can have
                    # the file whole, which it has with this chunk (Content-Length)
                    self.whole = True
                    await run_in_threadpool(self.shelf.sent, self.entry)
                yield chunk

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.whole:  # not sent whole (the client went away): the link works again
                self.shelf.release(self.entry)


@router.api_route("/download/{token}", methods=["GET", "HEAD"])
async def download(token: str, request: Request):
    shelf = downloads.shelf()
    entry = shelf.take(token)
    if entry is None:
        state = shelf.state(token)
        if state == "sent":
            raise HTTPException(status_code=410, detail="tierbook: this file was downloaded already (each link works "
                                                        "once): run Segment workbooks again for new links")
        if state == "sending":
            raise HTTPException(status_code=409, detail="tierbook: this file is being downloaded right now")
        raise HTTPException(status_code=404, detail="tierbook: there is no such download (links work for an hour): "
                                                    "run Segment workbooks again")
    if request.method == "HEAD":  # a look at the headers does not use the link up
        try:
            return Response(headers=_download_headers(entry), media_type=entry.content_type)
        finally:
            shelf.release(entry)
    return _SentOnce(entry, shelf)
