"""tierbook: classify customers from their transaction history the way sales managers do."""

from __future__ import annotations

import pandas as pd

from .schema import InputError, InputIssue
from .segment import Segmentation, classify, purchase_summary
from .settings import Criterion, Settings

__all__ = ["segment", "classify", "purchase_summary", "Segmentation", "Settings", "Criterion", "InputError",
           "InputIssue"]


def segment(transactions: pd.DataFrame, settings: Settings | None = None, sheet: str = "data") -> Segmentation:
    """Classify the customers of a transactions table as exported (any header aliases,
    dirty values); rows that cannot be used are in the result's `issues`."""
    from .read import clean_transactions

    tx, issues = clean_transactions(transactions, sheet=sheet)
    return classify(tx, settings, issues)
