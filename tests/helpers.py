"""Small builders shared by the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

import pandas as pd


def transactions(columns: str, *rows: tuple) -> pd.DataFrame:
    """A clean transactions frame from inline rows; index = spreadsheet rows 2, 3, …"""
    frame = pd.DataFrame(list(rows), columns=columns.split())
    frame["date"] = pd.to_datetime(frame["date"])
    for col in ("amount", "units", "margin"):
        if col in frame:
            frame[col] = frame[col].astype("float64")
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    return frame


def by_customer(result, column: str) -> dict:
    return dict(zip(result.customers["customer"], result.customers[column]))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(env: dict[str, str] | None = None, command: Sequence[str] | None = None, ready: str = "/",
                   attempts: int = 300, **popen) -> Iterator[str]:
    """tierbook's xlwings Server started on 127.0.0.1 (COMMAND, default `python -m
    tierbook.server`, with --port added; ENV added to this process's environment), waited
    for until READY answers 200; yields its base URL and stops it afterwards."""
    import httpx

    port = free_port()
    command = list(command or [sys.executable, "-m", "tierbook.server"]) + ["--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})}, **popen)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(attempts):
            try:
                if httpx.get(base + ready, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if process.poll() is not None:
                raise AssertionError(process.stdout.read())
        else:
            raise AssertionError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
