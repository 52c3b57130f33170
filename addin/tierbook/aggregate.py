"""One definition of the aggregation from transactions to segment.Aggregates, as SQL
that DuckDB and Spark SQL both run (issue 14).

The heavy part (millions of rows) stays in the engine that holds the data; only one row
per customer and month, per customer and purchase day, and per customer come back to
pandas, where segment.classify_aggregates applies every rule of DOMAIN.md. The SQL
mirrors segment.aggregate_transactions, which is the pandas definition; the tests check
that all three give the same classification.

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

#: The only expression the two dialects spell differently: days since 1970-01-01.
DAY_NUMBER = {
    "duckdb": "date_diff('day', DATE '1970-01-01', CAST(date AS DATE))",
    "spark": "datediff(CAST(date AS DATE), DATE '1970-01-01')",
}


#: The purchase rule, as segment._rows has it (keep the two the same; the tests compare).
PURCHASE = "(amount > 0 OR units > 0)"


def aggregate_sql(columns: set[str], dialect: str, as_of: str | None = None) -> dict[str, str]:
    """The queries (months, days, attributes, bounds) over `tx` for the given columns.

    AS_OF ("YYYY-MM-DD"): only transactions up to that day count (a replayed month).
    """
    units = "CAST(units AS DOUBLE)" if "units" in columns else "CAST(NULL AS DOUBLE)"
    margin = "CAST(margin AS DOUBLE)" if "margin" in columns else "CAST(NULL AS DOUBLE)"
    order = "CAST(order_id AS STRING)" if "order_id" in columns else "CAST(NULL AS STRING)"
    where = f"WHERE CAST(date AS DATE) <= DATE '{as_of}'" if as_of else ""
    base = f"""
        SELECT CAST(customer AS STRING) AS customer, {DAY_NUMBER[dialect]} AS day,
               (year(date) - 1970) * 12 + month(date) - 1 AS month,
               CAST(amount AS DOUBLE) AS amount, {units} AS units, {margin} AS margin, {order} AS order_id
        FROM tx {where}"""
    # a purchase: PURCHASE; a payment: a row with amount > 0, counted once per order_id on the order's earliest day
    months = f"""
        WITH base AS ({base}),
        counted AS (
            SELECT customer, month, amount, units, margin,
                   CASE WHEN {PURCHASE} THEN 1 ELSE 0 END AS purchase,
                   CASE WHEN amount > 0 AND order_id IS NULL THEN 1 ELSE 0 END AS payment
            FROM base
            UNION ALL
            SELECT customer, min(month) AS month, 0.0, NULL, NULL, 0, 1
            FROM base WHERE amount > 0 AND order_id IS NOT NULL GROUP BY customer, order_id
        )
        SELECT customer, month, coalesce(sum(amount), 0.0) AS amount, sum(payment) AS payment,
               coalesce(sum(units), 0.0) AS units, coalesce(sum(margin), 0.0) AS margin,
               max(purchase) AS purchase
        FROM counted GROUP BY customer, month"""
    days = f"""
        WITH base AS ({base})
        SELECT customer, day, coalesce(sum(amount), 0.0) AS amount
        FROM base GROUP BY customer, day
        HAVING max(CASE WHEN {PURCHASE} THEN 1 ELSE 0 END) = 1"""
    present = [c for c in ATTRIBUTES if c in columns]
    picks = []
    for c in present:
        ok = f"{c} IS NOT NULL" + ("" if c == "consent" else f" AND CAST({c} AS STRING) <> ''")
        picks.append(f"max_by({c}, CASE WHEN {ok} THEN stamp END) AS {c}")
    attributes = (f"""
        SELECT CAST(customer AS STRING) AS customer, {', '.join(picks)}
        FROM (SELECT *, CAST({DAY_NUMBER[dialect]} AS BIGINT) * 4398046511104 + CAST(_row AS BIGINT) AS stamp
              FROM tx {where}) t
        GROUP BY customer""" if picks else "")
    bounds = f"""
        SELECT min(CAST(date AS DATE)) AS first_date, max(CAST(date AS DATE)) AS last_date, count(*) AS n,
               {"count(units)" if "units" in columns else "0"} AS with_units,
               {"count(margin)" if "margin" in columns else "0"} AS with_margin
        FROM tx {where}"""
    return {"months": months, "days": days, "attributes": attributes, "bounds": bounds}


def aggregates_from(columns: set[str], dialect: str, run: Callable[[str], pd.DataFrame],
                    as_of: str | None = None) -> Aggregates:
    """Run the aggregation through RUN (a query -> pandas frame function of the engine)
    and code the results as segment.Aggregates."""
    queries = aggregate_sql(columns, dialect, as_of)
    bounds = run(queries["bounds"]).iloc[0]
    months = run(queries["months"])
    days = run(queries["days"])
    _, names = pd.factorize(months["customer"].astype("str"), sort=True)  # as segment._rows codes them
    names = pd.Index(names)
    months = pd.DataFrame({
        "code": names.get_indexer(months["customer"].astype(str)).astype("int64"),
        "month": months["month"].to_numpy(dtype="int64"),
        **{c: months[c].to_numpy(dtype="float64") for c in ("amount", "payment", "units", "margin")},
        "purchase": months["purchase"].to_numpy(dtype="int64") > 0,
    }).sort_values(["code", "month"], ignore_index=True)
    days = pd.DataFrame({
        "code": names.get_indexer(days["customer"].astype(str)).astype("int64"),
        "day": days["day"].to_numpy(dtype="int64"),
        "amount": days["amount"].to_numpy(dtype="float64"),
    }).sort_values(["code", "day"], ignore_index=True)
    if queries["attributes"]:
        attributes = run(queries["attributes"])
        attributes.index = names.get_indexer(attributes.pop("customer").astype(str))
        attributes = attributes.sort_index()
    else:
        attributes = pd.DataFrame(index=pd.RangeIndex(len(names)))
    return Aggregates(names=names, months=months, days=days, attributes=attributes,
                      has_units=int(bounds["with_units"]) > 0, has_margin=int(bounds["with_margin"]) > 0,
                      first_date=pd.Timestamp(bounds["first_date"]), last_date=pd.Timestamp(bounds["last_date"]),
                      rows=int(bounds["n"]))
