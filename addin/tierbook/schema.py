"""The clean transactions table every part of tierbook agrees on, and input errors.

A clean transactions frame has one row per payment (or order line), its index is the
row number in the user's sheet (so a problem can be reported where the user can find
it), and these columns:

    customer      str              required, stripped of stray spaces
    date          datetime64[ns]   required, the day of the payment (no time of day)
    amount        float64          required, negative for refunds
    units         float64          optional, quantity shipped
    margin        float64          optional, profit of the row
    order_id      str              optional
    manager       str              optional
    email         str              optional
    phone         str              optional
    consent       boolean          optional, may we contact this customer (nullable)
    channel       str              optional, preferred channel: email / sms / phone
    contact_time  str              optional, preferred time of day

Optional columns are absent when the input has no such column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputError  # noqa: F401 - the input errors are reported with the schema's issues

if TYPE_CHECKING:  # pandas is imported where a frame is made, so `tierbook --help` stays fast
    import pandas as pd

REQUIRED = ("customer", "date", "amount")
NUMERIC = ("amount", "units", "margin")
TEXT = ("customer", "order_id", "manager", "email", "phone", "channel", "contact_time")
OPTIONAL = ("units", "margin", "order_id", "manager", "email", "phone", "consent", "channel", "contact_time")
COLUMNS = REQUIRED + OPTIONAL

ISSUE_COLUMNS = ["sheet", "row", "column", "value", "problem"]


@dataclass(frozen=True)
class InputIssue:
    """One cell or row of the input that could not be used as it is."""

    sheet: str
    row: int
    column: str
    value: object
    problem: str

    def __str__(self) -> str:
        return f'Sheet "{self.sheet}", row {self.row}, column "{self.column}": {self.problem} (got {self.value!r})'


def issues_frame(issues: list[InputIssue] | None = None) -> pd.DataFrame:
    """The input report as a frame with the columns of ISSUE_COLUMNS."""
    import pandas as pd

    rows = [(i.sheet, i.row, i.column, "" if i.value is None else str(i.value), i.problem) for i in issues or []]
    frame = pd.DataFrame(rows, columns=ISSUE_COLUMNS)
    return frame.astype({"row": "int64"})
