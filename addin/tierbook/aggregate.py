"""One definition of the aggregation from transactions to segment.Aggregates, as SQL
that DuckDB and Spark SQL both run (issue 14).

The heavy part (millions of rows) stays in the engine that holds the data; only one row
per customer and month (with the month's purchase days as bits, from which numpy makes
the purchase stats per customer) and one row of attributes per customer come back to
pandas, where segment.classify_aggregates applies every rule of DOMAIN.md. The SQL follows
segment.aggregate_transactions, the pandas definition, rule for rule (the expressions
below are those of segment.is_purchase and segment.returned_units; the tests evaluate
both on the same adversarial rows and compare whole classifications).

The input is a relation named `tx` with the clean columns of schema.py (customer, date,
amount and any optional ones) and `_row`, the row's position in the export below 2**42
(a later row wins a tie on the date, as in the pandas engine).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd

from .segment import Aggregates, purchase_stats

#: The columns of Aggregates.months, in order.
MONTH_COLUMNS = ("code", "month", "amount", "payment", "units", "margin", "purchase")
ATTRIBUTES = ("manager", "consent", "channel", "contact_time", "email", "phone")

#: The only expressions the two dialects spell differently.
DIALECTS = {
    "duckdb": {"day": "date_diff('day', DATE '1970-01-01', CAST({} AS DATE))",
               "keep": "CREATE OR REPLACE TEMP TABLE {} AS {}"},
    # Spark recomputes a view per query (the same codes each time: customers in order)
    "spark": {"day": "datediff(CAST({} AS DATE), DATE '1970-01-01')",
              "keep": "CREATE OR REPLACE TEMP VIEW {} AS {}"},
}

#: segment.returned_units: a refund row's units are returned units, whatever their sign.
RETURNED_UNITS = "CASE WHEN amount < 0 THEN -abs(units) ELSE units END"
#: segment.is_purchase: a positive amount, or a zero amount with units shipped (on the
#: returned units; NULL units are no units).
PURCHASE = "(amount > 0 OR (amount = 0 AND units > 0))"
#: segment._payments: a row with a positive amount is a payment (once per order_id).
PAYMENT = "amount > 0"


def base_sql(columns: set[str], dialect: str, as_of: str | None = None, coded: bool = False) -> str:
    """The transactions as the rules see them: customer (text), day and month numbers,
    day of the month (1-31), amount, returned units, margin, order_id, purchase (0/1), up to AS_OF.

    CODED: the customer column holds the customer's whole-number code of the table
    `codes` instead of the text, so that the groups and windows after it sort and hash
    integers, not strings (the join is made once, on the rows, before any grouping)."""
    day = DIALECTS[dialect]["day"].format("date")
    units = f"CAST({RETURNED_UNITS} AS DOUBLE)" if "units" in columns else "CAST(NULL AS DOUBLE)"
    margin = "CAST(margin AS DOUBLE)" if "margin" in columns else "CAST(NULL AS DOUBLE)"
    order = "CAST(order_id AS STRING)" if "order_id" in columns else "CAST(NULL AS STRING)"
    where = f"WHERE CAST(date AS DATE) <= DATE '{as_of}'" if as_of else ""
    text = f"""
        SELECT customer, day, month, mday, amount, units, margin, order_id,
               CASE WHEN {PURCHASE} THEN 1 ELSE 0 END AS purchase
        FROM (SELECT CAST(customer AS STRING) AS customer, {day} AS day,
                     (year(date) - 1970) * 12 + month(date) - 1 AS month, dayofmonth(CAST(date AS DATE)) AS mday,
                     CAST(amount AS DOUBLE) AS amount, {units} AS units, {margin} AS margin, {order} AS order_id
              FROM tx {where}) t"""
    if not coded:
        return text
    return f"""
        SELECT codes.code AS customer, t.day, t.month, t.mday, t.amount, t.units, t.margin, t.order_id, t.purchase
        FROM ({text}) t JOIN codes ON t.customer = codes.customer"""


def aggregate_sql(columns: set[str], dialect: str, as_of: str | None = None) -> dict[str, str]:
    """The statements (codes) and queries (bounds, names, months, attributes) over `tx`.

    AS_OF ("YYYY-MM-DD"): only transactions up to that day count (a replayed month).
    codes makes the table `codes` (customer, code: the customers in order, numbered once),
    so that the other queries send back whole-number codes instead of names; names lists
    the customers in the order of the codes. months has one more column than
    Aggregates.months, dayset (the month's purchase days as bits), from which
    aggregates_from makes Aggregates.purchases.
    """
    base = base_sql(columns, dialect, as_of)
    coded = base_sql(columns, dialect, as_of, coded=True)  # customer: the code
    where = f"WHERE CAST(date AS DATE) <= DATE '{as_of}'" if as_of else ""
    # the month's purchase days as a set of bits (bit d-1: a purchase row on day d), so
    # that the purchase stats come from the months' rows (dayset_stats), with no second
    # grouping of the rows by customer and day
    dayset = "CASE WHEN purchase = 1 THEN CAST(power(2, mday - 1) AS INT) ELSE 0 END"
    if "order_id" in columns:
        # a payment is counted once per order_id, in the month of the order's earliest day
        counted = f"""
            SELECT customer, month, amount, units, margin, purchase, {dayset} AS dayset,
                   CASE WHEN {PAYMENT} AND order_id IS NULL THEN 1 ELSE 0 END AS payment
            FROM base
            UNION ALL
            SELECT customer, min(month) AS month, 0.0, NULL, NULL, 0, 0, 1
            FROM base WHERE {PAYMENT} AND order_id IS NOT NULL GROUP BY customer, order_id"""
    else:
        counted = (f"SELECT customer, month, amount, units, margin, purchase, {dayset} AS dayset, "
                   f"CASE WHEN {PAYMENT} THEN 1 ELSE 0 END AS payment FROM base")
    codes = DIALECTS[dialect]["keep"].format("codes", f"""
        WITH base AS ({base})
        SELECT customer, CAST(row_number() OVER (ORDER BY customer) - 1 AS INT) AS code
        FROM (SELECT DISTINCT customer FROM base) c""")
    names = "SELECT customer FROM codes ORDER BY code"
    # compact types: the months are the one result with a row per customer and month; in
    # the order of Aggregates.months, sorted by the engine (out of core, within its memory
    # budget), not by pandas after the fetch (a second copy of tens of millions of rows)
    months = f"""
        WITH base AS ({coded}),
        counted AS ({counted}),
        grouped AS (
            SELECT customer, month, sum(amount) AS amount, CAST(sum(payment) AS INT) AS payment, sum(units) AS units,
                   sum(margin) AS margin, CAST(max(purchase) AS BOOLEAN) AS purchase,
                   CAST(bit_or(dayset) AS INT) AS dayset
            FROM counted GROUP BY customer, month)
        SELECT customer AS code, CAST(month AS INT) AS month, amount, payment, units, margin, purchase, dayset
        FROM grouped
        ORDER BY code, month"""
    picks = []
    for c in (c for c in ATTRIBUTES if c in columns):
        ok = f"{c} IS NOT NULL" + ("" if c == "consent" else f" AND CAST({c} AS STRING) <> ''")
        picks.append(f"max_by({c}, CASE WHEN {ok} THEN stamp END) AS {c}")
    day = DIALECTS[dialect]["day"].format("date")
    attributes = (f"""
        WITH picked AS (
            SELECT CAST(customer AS STRING) AS customer, {', '.join(picks)}
            FROM (SELECT *, CAST({day} AS BIGINT) * 4398046511104 + CAST(_row AS BIGINT) AS stamp
                  FROM tx {where}) t
            GROUP BY CAST(customer AS STRING))
        SELECT code, {', '.join(c for c in ATTRIBUTES if c in columns)}
        FROM picked JOIN codes ON picked.customer = codes.customer""" if picks else "")
    bounds = f"SELECT min(CAST(date AS DATE)) AS first_date, max(CAST(date AS DATE)) AS last_date, count(*) AS n FROM tx {where}"
    return {"codes": codes, "bounds": bounds, "names": names, "months": months, "attributes": attributes}


def aggregates_from(columns: set[str], dialect: str, run: Callable[[str], pd.DataFrame],
                    as_of: str | None = None, define: Callable[[str], object] | None = None,
                    chunks: Callable[[str], Iterable[pd.DataFrame]] | None = None) -> Aggregates:
    """Run the aggregation through RUN (a query -> pandas frame function of the engine)
    and DEFINE (a statement; default RUN) and code the results as segment.Aggregates
    (customers sorted as pandas sorts them).

    CHUNKS (a query -> frames of its rows in order; default: RUN's one frame) fetches the
    months, the one result with a row per customer and month, part by part, so that the
    engine's frame of all of them never sits beside the arrays made of it."""
    queries = aggregate_sql(columns, dialect, as_of)
    (define or run)(queries["codes"])
    bounds = run(queries["bounds"]).iloc[0]
    listed = run(queries["names"])["customer"].to_numpy(dtype=object)
    # the engine's text order may differ from Python's: recode to pandas' sorted order
    order = np.argsort(listed, kind="stable")
    names = pd.Index(pd.array(listed[order], dtype="str"))
    del listed
    recode = np.empty(len(order), dtype="int64")
    recode[order] = np.arange(len(order))

    def codes_of(frame: pd.DataFrame) -> np.ndarray:
        return recode[frame.pop("code").to_numpy(dtype="int64")]

    code_type = "int32" if len(names) < 2 ** 31 else "int64"
    parts: dict[str, list[np.ndarray]] = {c: [] for c in (*MONTH_COLUMNS, "dayset")}
    for raw in (chunks or (lambda q: [run(q)]))(queries["months"]):
        # compact types (the codes, months and payment counts in 32 bits): 12 bytes less
        # per customer-month than 64-bit numbers, the same values
        parts["code"].append(codes_of(raw).astype(code_type))
        parts["month"].append(raw.pop("month").to_numpy(dtype="int32"))
        parts["payment"].append(raw.pop("payment").to_numpy(dtype="int32"))
        for c in ("amount", "units", "margin"):  # column by column: one copy at a time
            parts[c].append(raw.pop(c).to_numpy(dtype="float64", na_value=np.nan))
        parts["purchase"].append(raw.pop("purchase").to_numpy(dtype=bool))
        parts["dayset"].append(raw.pop("dayset").to_numpy(dtype="int64").astype("uint32"))
        del raw
    months = {}
    for c in (*MONTH_COLUMNS, "dayset"):  # one column's parts and its whole at a time
        months[c] = parts[c][0] if len(parts[c]) == 1 else np.concatenate(parts[c])
        del parts[c]
    months = pd.DataFrame(months, copy=False)  # the arrays as they are, not one more copy
    if not _sorted(months["code"].to_numpy(), months["month"].to_numpy()):
        months = months.sort_values(["code", "month"], ignore_index=True, kind="stable")

    purchases = dayset_stats(months["code"].to_numpy(), months["month"].to_numpy(), months.pop("dayset").to_numpy())

    if queries["attributes"]:
        attributes = run(queries["attributes"])
        attributes.index = codes_of(attributes)
        attributes = attributes.sort_index()
        if "consent" in attributes.columns:
            attributes["consent"] = attributes["consent"].astype("boolean")
    else:
        attributes = pd.DataFrame(index=pd.RangeIndex(len(names)))
    return Aggregates(names=names, months=months, purchases=purchases, attributes=attributes,
                      has_units="units" in columns, has_margin="margin" in columns,
                      first_date=pd.Timestamp(bounds["first_date"]), last_date=pd.Timestamp(bounds["last_date"]),
                      rows=int(bounds["n"]))


def _sorted(code: np.ndarray, month: np.ndarray) -> bool:
    """Whether the rows are in (code, month) order already (then no sort is needed)."""
    if len(code) < 2:
        return True
    step = np.diff(code)
    return bool((step >= 0).all() and (np.diff(month)[step == 0] > 0).all())


#: Rows of the months turned into purchase days at a time by dayset_stats (a slice's days,
#: gaps and their sort stay small beside the months).
DAYSET_ROWS = 1 << 21


def dayset_stats(code: np.ndarray, month: np.ndarray, dayset: np.ndarray) -> pd.DataFrame:
    """Aggregates.purchases from the months in (code, month) order and their purchase days
    as bits (bit d-1 of DAYSET: a purchase on day d of the month): the same figures as
    segment._purchase_stats makes from one row per customer and purchase day, slice by
    slice of whole customers."""
    n = len(code)
    frames = []
    start = 0
    while start < n:
        stop = min(start + DAYSET_ROWS, n)
        if stop < n:  # end the slice where a customer ends
            stop = int(np.searchsorted(code, code[stop - 1], side="left"))
            if stop <= start:  # one customer longer than a slice: all of their months
                stop = int(np.searchsorted(code, code[start], side="right"))
        frames.append(_dayset_slice(code[start:stop], month[start:stop], dayset[start:stop]))
        start = stop
    if not frames:
        return _dayset_slice(code, month, dayset)
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def _dayset_slice(code: np.ndarray, month: np.ndarray, dayset: np.ndarray) -> pd.DataFrame:
    """segment.purchase_stats of the purchase days that the months' bits stand for."""
    bits = np.unpackbits(np.ascontiguousarray(dayset, dtype="<u4").view(np.uint8).reshape(-1, 4),
                         axis=1, bitorder="little")
    row, bit = np.nonzero(bits)  # row by row, and the days in order within a row
    del bits
    first = month.astype("int64").astype("datetime64[M]").astype("datetime64[D]").astype("int64")
    return purchase_stats(code[row], first[row] + bit)
