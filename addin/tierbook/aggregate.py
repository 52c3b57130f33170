"""One definition of the aggregation from transactions to segment.Aggregates, as SQL
that DuckDB and Spark SQL both run (issue 14).

The heavy part (millions of rows) stays in the engine that holds the data; only one row
per customer and month, and one row per customer, come back to pandas, where
segment.classify_aggregates applies every rule of DOMAIN.md. The SQL follows
segment.aggregate_transactions, the pandas definition, rule for rule (the expressions
below are those of segment.is_purchase and segment.returned_units; the tests evaluate
both on the same adversarial rows and compare whole classifications).

The input is a relation named `tx` with the clean columns of schema.py (customer, date,
amount and any optional ones) and `_row`, the row's position in the export below 2**42
(a later row wins a tie on the date, as in the pandas engine).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .segment import Aggregates

ATTRIBUTES = ("manager", "consent", "channel", "contact_time", "email", "phone")

#: The only expressions the two dialects spell differently.
DIALECTS = {
    "duckdb": {"day": "date_diff('day', DATE '1970-01-01', CAST({} AS DATE))", "median": "quantile_cont({}, 0.5)"},
    "spark": {"day": "datediff(CAST({} AS DATE), DATE '1970-01-01')", "median": "percentile({}, 0.5)"},
}

#: segment.returned_units: a refund row's units are returned units, whatever their sign.
RETURNED_UNITS = "CASE WHEN amount < 0 THEN -abs(units) ELSE units END"
#: segment.is_purchase: a positive amount, or a zero amount with units shipped (on the
#: returned units; NULL units are no units).
PURCHASE = "(amount > 0 OR (amount = 0 AND units > 0))"
#: segment._payments: a row with a positive amount is a payment (once per order_id).
PAYMENT = "amount > 0"


def base_sql(columns: set[str], dialect: str, as_of: str | None = None) -> str:
    """The transactions as the rules see them: customer (text), day and month numbers,
    amount, returned units, margin, order_id, purchase (0/1), up to AS_OF."""
    day = DIALECTS[dialect]["day"].format("date")
    units = f"CAST({RETURNED_UNITS} AS DOUBLE)" if "units" in columns else "CAST(NULL AS DOUBLE)"
    margin = "CAST(margin AS DOUBLE)" if "margin" in columns else "CAST(NULL AS DOUBLE)"
    order = "CAST(order_id AS STRING)" if "order_id" in columns else "CAST(NULL AS STRING)"
    where = f"WHERE CAST(date AS DATE) <= DATE '{as_of}'" if as_of else ""
    return f"""
        SELECT customer, day, month, amount, units, margin, order_id,
               CASE WHEN {PURCHASE} THEN 1 ELSE 0 END AS purchase
        FROM (SELECT CAST(customer AS STRING) AS customer, {day} AS day,
                     (year(date) - 1970) * 12 + month(date) - 1 AS month,
                     CAST(amount AS DOUBLE) AS amount, {units} AS units, {margin} AS margin, {order} AS order_id
              FROM tx {where}) t"""


def aggregate_sql(columns: set[str], dialect: str, as_of: str | None = None) -> dict[str, str]:
    """The queries (bounds, names, months, purchases, attributes) over `tx`.

    AS_OF ("YYYY-MM-DD"): only transactions up to that day count (a replayed month).
    names lists the customers in the order of the codes months uses.
    """
    base = base_sql(columns, dialect, as_of)
    median = DIALECTS[dialect]["median"]
    where = f"WHERE CAST(date AS DATE) <= DATE '{as_of}'" if as_of else ""
    if "order_id" in columns:
        # a payment is counted once per order_id, in the month of the order's earliest day
        counted = f"""
            SELECT customer, month, amount, units, margin, purchase,
                   CASE WHEN {PAYMENT} AND order_id IS NULL THEN 1 ELSE 0 END AS payment
            FROM base
            UNION ALL
            SELECT customer, min(month) AS month, 0.0, NULL, NULL, 0, 1
            FROM base WHERE {PAYMENT} AND order_id IS NOT NULL GROUP BY customer, order_id"""
    else:
        counted = f"SELECT customer, month, amount, units, margin, purchase, CASE WHEN {PAYMENT} THEN 1 ELSE 0 END AS payment FROM base"
    names = f"WITH base AS ({base}) SELECT DISTINCT customer FROM base ORDER BY customer"
    months = f"""
        WITH base AS ({base}),
        codes AS (SELECT customer, row_number() OVER (ORDER BY customer) - 1 AS code
                  FROM (SELECT DISTINCT customer FROM base) c),
        counted AS ({counted}),
        grouped AS (
            SELECT customer, month, sum(amount) AS amount, sum(payment) AS payment, sum(units) AS units,
                   sum(margin) AS margin, max(purchase) AS purchase
            FROM counted GROUP BY customer, month)
        SELECT code, month, amount, payment, units, margin, purchase
        FROM grouped JOIN codes ON grouped.customer = codes.customer"""
    purchases = f"""
        WITH base AS ({base}),
        days AS (SELECT customer, day FROM base WHERE purchase = 1 GROUP BY customer, day),
        gaps AS (SELECT customer, day,
                        CAST(day - lag(day) OVER (PARTITION BY customer ORDER BY day) AS DOUBLE) AS gap
                 FROM days)
        SELECT customer, count(*) AS purchase_days, min(day) AS first_day, max(day) AS last_day,
               {median.format('gap')} AS gap_median, sum(gap) AS gap_sum, sum(gap * gap) AS gap_sumsq
        FROM gaps GROUP BY customer"""
    picks = []
    for c in (c for c in ATTRIBUTES if c in columns):
        ok = f"{c} IS NOT NULL" + ("" if c == "consent" else f" AND CAST({c} AS STRING) <> ''")
        picks.append(f"max_by({c}, CASE WHEN {ok} THEN stamp END) AS {c}")
    day = DIALECTS[dialect]["day"].format("date")
    attributes = (f"""
        SELECT CAST(customer AS STRING) AS customer, {', '.join(picks)}
        FROM (SELECT *, CAST({day} AS BIGINT) * 4398046511104 + CAST(_row AS BIGINT) AS stamp
              FROM tx {where}) t
        GROUP BY CAST(customer AS STRING)""" if picks else "")
    bounds = f"SELECT min(CAST(date AS DATE)) AS first_date, max(CAST(date AS DATE)) AS last_date, count(*) AS n FROM tx {where}"
    return {"bounds": bounds, "names": names, "months": months, "purchases": purchases, "attributes": attributes}


def aggregates_from(columns: set[str], dialect: str, run: Callable[[str], pd.DataFrame],
                    as_of: str | None = None) -> Aggregates:
    """Run the aggregation through RUN (a query -> pandas frame function of the engine)
    and code the results as segment.Aggregates (customers sorted as pandas sorts them)."""
    queries = aggregate_sql(columns, dialect, as_of)
    bounds = run(queries["bounds"]).iloc[0]
    listed = run(queries["names"])["customer"].to_numpy(dtype=object)
    # the engine's text order may differ from Python's: recode to pandas' sorted order
    order = np.argsort(listed, kind="stable")
    names = pd.Index(pd.array(listed[order], dtype="str"))
    recode = np.empty(len(order), dtype="int64")
    recode[order] = np.arange(len(order))

    raw = run(queries["months"])
    months = pd.DataFrame({
        "code": recode[raw["code"].to_numpy(dtype="int64")],
        "month": raw["month"].to_numpy(dtype="int64"),
        **{c: raw[c].to_numpy(dtype="float64", na_value=np.nan) for c in ("amount", "payment", "units", "margin")},
        "purchase": raw["purchase"].to_numpy(dtype="int64") > 0,
    })
    del raw
    months = months.sort_values(["code", "month"], ignore_index=True)

    raw = run(queries["purchases"])
    purchases = pd.DataFrame({
        "purchase_days": raw["purchase_days"].to_numpy(dtype="int64"),
        "first_day": raw["first_day"].to_numpy(dtype="int64"),
        "last_day": raw["last_day"].to_numpy(dtype="int64"),
        **{c: raw[c].to_numpy(dtype="float64", na_value=np.nan) for c in ("gap_median", "gap_sum", "gap_sumsq")},
    }, index=names.get_indexer(raw["customer"].astype(str))).sort_index()

    if queries["attributes"]:
        attributes = run(queries["attributes"])
        attributes.index = names.get_indexer(attributes.pop("customer").astype(str))
        attributes = attributes.sort_index()
        if "consent" in attributes.columns:
            attributes["consent"] = attributes["consent"].astype("boolean")
    else:
        attributes = pd.DataFrame(index=pd.RangeIndex(len(names)))
    return Aggregates(names=names, months=months, purchases=purchases, attributes=attributes,
                      has_units="units" in columns, has_margin="margin" in columns,
                      first_date=pd.Timestamp(bounds["first_date"]), last_date=pd.Timestamp(bounds["last_date"]),
                      rows=int(bounds["n"]))
