"""tierbook: classify customers from their transaction history the way sales managers do.

The names below are imported on first use (PEP 562), so that `import tierbook` (and
with it `tierbook --help`) does not load pandas.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from .segment import Segmentation, classify, purchase_summary
    from .settings import Criterion, Settings

from .schema import InputError, InputIssue

__all__ = ["segment", "classify", "purchase_summary", "Segmentation", "Settings", "Criterion", "InputError",
           "InputIssue"]

_LAZY = {"classify": ".segment", "purchase_summary": ".segment", "Segmentation": ".segment",
         "Settings": ".settings", "Criterion": ".settings"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def segment(transactions: "pd.DataFrame", settings: "Settings | None" = None, sheet: str = "data") -> "Segmentation":
    """Classify the customers of a transactions table as exported (any header aliases,
    dirty values); rows that cannot be used are in the result's `issues`."""
    from .read import clean_transactions
    from .segment import classify

    tx, issues = clean_transactions(transactions, sheet=sheet)
    return classify(tx, settings, issues)


class _Package(types.ModuleType):
    """The tierbook package, whose `segment` stays the function above.

    Importing the submodule tierbook.segment (the engine) makes the import system set
    the package's attribute `segment` to that submodule; before the imports became lazy
    the function was defined after that import, so it won. The submodule stays reachable
    as sys.modules["tierbook.segment"] (`from tierbook.segment import classify` works)."""

    @property
    def segment(self):  # noqa: D401 - a property standing for the function
        return _segment_function

    @segment.setter
    def segment(self, value: object) -> None:
        pass


_segment_function = segment
sys.modules[__name__].__class__ = _Package
