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

RequestGuard (tierbook.server) stands in front of these as of every route."""

from __future__ import annotations

import json

import custom_scripts
import xlwings as xw
import xlwings.server
from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from xlwings_server import dependencies as dep
from xlwings_server.config import settings
from xlwings_server.models import CurrentUser

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
    return Response(f'{{"actions":{result[0]},"result":{json.dumps(STORE.keep_result(result))},'
                    f'"pages":{len(result)}}}', media_type="application/json")


@router.get("/result/{key}/{number}")
async def result_page(key: str, number: int, current_user: dep.User):
    try:
        return Response(f'{{"actions":{STORE.page(key, number)}}}', media_type="application/json")
    except TransportError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
