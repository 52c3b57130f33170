"""Small builders shared by the tests."""

from __future__ import annotations

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
