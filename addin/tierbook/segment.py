"""The engine: a clean transactions frame in, the customer classification out.

Pandas and numpy only, no I/O. DOMAIN.md sections 1–5 are implemented here, each
rule once, in the function named after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .schema import REQUIRED, InputError, issues_frame
from .settings import Settings

#: Columns of Segmentation.customers, in order.
CUSTOMER_COLUMNS = [
    "customer",
    "tier",  # VIP / Good / Regular; "" when not active in the window
    "lifecycle",  # new / one-time / permanent / occasional / potential / unprofitable
    "quadrant",  # volume × value quadrant, "" without purchases
    "size_tier",  # huge / medium / small / one-time, "" without purchases
    "rhythm",  # regular / chaotic / yearly, "" with fewer than rhythm_min_days purchase days
    "cycle_days",  # median gap between purchase days (float, NaN when unknown)
    "next_purchase",  # expected next purchase date (NaT when unknown)
    "remind_on",  # reminder date (NaT when unknown or without consent)
    "vip_months",  # number of monthly VIP tables the customer is in (int)
    "first_purchase",  # date
    "last_purchase",  # date
    "revenue",  # all-time totals up to the analysis month ...
    "payments",
    "units",  # NaN where the input has no units column
    "profit",  # NaN where the input has no margin column
    # --- beyond the issue's minimum ---
    "purchase_days",  # distinct days with a payment
    "window_value",  # criterion total in the window
    "tier_whole_period",  # the whole-period alternative: VIP / Good / Regular / ""
    "lost_vip",  # bool: a monthly VIP silent for more than lost_after months
    "contacts_per_year",  # contact plan of the lifecycle class
    "follow_up_on",  # new customers: the follow-up call date
    "owner",  # acquisition (until the second purchase) / account management
    "manager",  # latest non-empty value in the input, "" when none
    "consent",  # bool: consent_status is "yes"
    "channel",
    "contact_time",
    "email",
    "phone",
    # --- the next action (issue 13): added at the end, the keys above stay as they were ---
    "consent_status",  # yes / no / unknown (never asked: no consent cell filled)
    "action",  # the one next action, ACTIONS
    "action_reason",  # why: REASONS
    "action_due",  # when (NaT for no_consent, no_marketing and ""); before as_of = overdue since then
    # --- the why of a call list (issue 13): added at the end ---
    "average_order",  # revenue / payments (net of refunds; NaN without a payment)
]
#: Columns added after the first release of the Customers sheet: a workbook written
#: before them is still read (the column is then empty).
LATER_COLUMNS = ("average_order",)

TEXT_COLUMNS = ["customer", "tier", "lifecycle", "quadrant", "size_tier", "rhythm", "tier_whole_period", "owner",
                "manager", "channel", "contact_time", "email", "phone", "consent_status", "action", "action_reason"]


@dataclass(frozen=True)
class Segmentation:
    """The classification of every customer, and the tables behind it."""

    customers: pd.DataFrame  # one row per customer, CUSTOMER_COLUMNS
    monthly_vip: pd.DataFrame  # month ("YYYY-MM"), customer, value, rank
    ledger: pd.DataFrame  # customer, first_vip, last_vip, vip_months, status, then one column per month
    ledger_flow: pd.DataFrame  # month, entered, left, size: the ledger's movement per month
    lost_vip: pd.DataFrame  # customer, last_vip, last_purchase, months_silent, revenue, manager
    concentration: pd.DataFrame  # one row: basis, top1_share, top3_share, top5_share, ..., top_customers
    contact_plan: pd.DataFrame  # lifecycle, contacts_per_year, customers
    issues: pd.DataFrame  # the input report: sheet, row, column, value, problem
    settings: Settings
    analysis_month: str  # "YYYY-MM"
    as_of: pd.Timestamp  # the last day the classification looks at


# --------------------------------------------------------------------------- labels

#: Volume × value quadrants (seed 002) and their strategies.
QUADRANTS = {
    "high volume, low value": "raise the order value",
    "low volume, high value": "raise the number of purchases",
    "low volume, low value": "become their priority supplier",
    "high volume, high value": "closeness and loyalty",
}
LIFECYCLES = ("new", "one-time", "permanent", "occasional", "potential", "unprofitable")
TIERS = ("VIP", "Good", "Regular")
SIZE_TIERS = ("huge", "medium", "small", "one-time")
RHYTHMS = ("regular", "chaotic", "yearly")

#: The next actions, in the order a manager does them (on the same day): a lost VIP
#: first, then a margin review, ... "" = nothing to do (no contact plan).
ACTIONS = ("lost_vip", "margin_review", "follow_up", "reminder", "ask_permission", "periodic", "no_consent",
           "no_marketing", "")
#: Actions that are a contact to make (the others are what not to do).
CONTACT_ACTIONS = ("lost_vip", "margin_review", "follow_up", "reminder", "ask_permission", "periodic")
#: Why: the customer's situation behind the action (ask_permission keeps the reason of
#: what the manager would do with consent).
REASONS = ("lost_vip", "unprofitable_big", "unprofitable_small", "new", "purchase_expected", "contact_plan",
           "refused", "")
CONSENT_STATES = ("yes", "no", "unknown")

CURRENT_VIP = "current VIP"
DROPPED_OUT = "dropped out"


# --------------------------------------------------------------------------- the tie rule


def cut_count(share: float, payers: "np.ndarray | pd.Series | int") -> "np.ndarray | pd.Series | int":
    """k = ceil(share × n), the size of the top `share` of n (0.2 × 15 is 3, not 4)."""
    return np.ceil(np.asarray(share * payers, dtype="float64") - 1e-9).astype("int64")


def top_share(values: pd.Series, share: float, by: pd.Series | None = None) -> pd.Series:
    """True for the top `share` of `values` (within each group of `by`): the
    k = ceil(share × n) largest, where everyone tied with the k-th is in too (the same
    rule as monthly_vip).

    NaN values are never in; n counts the non-NaN values.
    """
    if by is None:
        rank = values.rank(method="min", ascending=False)
        return rank <= int(cut_count(share, int(values.notna().sum())))
    grouped = values.groupby(by)
    return grouped.rank(method="min", ascending=False) <= cut_count(share, grouped.transform("count"))


# --------------------------------------------------------------------------- the purchase rule


def returned_units(amount: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Units as they count: the units of a refund row (negative amount) are returned,
    whatever sign the export gives them, so a refund never adds units (the units
    criterion is net of refunds, as revenue is)."""
    return np.where(amount < 0, -np.abs(units), units)


def is_purchase(amount: np.ndarray, units: np.ndarray) -> np.ndarray:
    """True for a row that sold something: a positive amount, or a zero amount with
    units shipped (goods given for free). A row with a negative amount (a refund or a
    return) is never a purchase, whatever its units say; a row with no amount is none.

    The one place of this rule: purchase days, the cycle, "active in the window" and
    lifecycle classes all count only such rows (a DuckDB or Spark aggregation of the
    same transactions must use the same rule to agree).
    """
    amount = np.asarray(amount, dtype="float64")
    units = np.asarray(units, dtype="float64")
    return (amount > 0) | ((amount == 0) & (units > 0))


# --------------------------------------------------------------------------- the engine


def classify(tx: pd.DataFrame, settings: Settings | None = None, issues: pd.DataFrame | None = None) -> Segmentation:
    """Classify every customer of a clean transactions frame (see schema.py).

    Transactions after the analysis month are ignored, so a past month can be replayed.
    """
    settings = settings or Settings()
    _check(tx, settings)
    _, as_of = analysis_month(tx, settings)
    return classify_aggregates(aggregate_transactions(tx[tx["date"] <= as_of]), settings, issues)


# --- seam for issue 14: the engine classifies from Aggregates; pandas, DuckDB and Spark
# --- (aggregate.py) each produce them, and the rules below never see a transaction row.


@dataclass(frozen=True)
class Aggregates:
    """Everything the rules need from the transactions up to the analysis date, per
    customer code. pandas (aggregate_transactions) and SQL (aggregate.py, for DuckDB and
    Spark) each produce them from the same rules: is_purchase, returned_units, payments
    once per order; the tests compare the two.

    names: the customers, sorted (code i is names[i]).
    months: code, month (months since 1970-01), amount, payment, units, margin (sums;
      units and margin NaN where no cell of the month is filled: blank is unknown, not 0),
      purchase (bool: any purchase row in the month); one row per customer and month with
      any row, sorted by code and month. The SQL engines send code, month and payment
      as 32-bit integers (a third less memory on tens of millions of rows); the rules
      give the same answers on either width.
    purchases: per code with a purchase day (index: code): purchase_days, first_day,
      last_day (days since 1970-01-01), and the gaps between consecutive purchase days:
      gap_median, gap_sum, gap_sumsq (NaN with one purchase day).
    attributes: manager, consent, channel, contact_time, email, phone per code (the latest
      non-empty value by date, then by row of the export; NaN/NA where none); columns
      absent from the input are absent here.
    has_units / has_margin: whether the input has such a column.
    first_date / last_date: the first and last transaction date.
    rows: the number of transactions.
    """

    names: pd.Index
    months: pd.DataFrame
    purchases: pd.DataFrame
    attributes: pd.DataFrame
    has_units: bool
    has_margin: bool
    first_date: pd.Timestamp
    last_date: pd.Timestamp
    rows: int


def aggregate_transactions(tx: pd.DataFrame) -> Aggregates:
    """The pandas aggregation of a clean transactions frame (aggregate.py has the same
    definition as SQL for DuckDB and Spark)."""
    rows, names = _rows(tx)
    code, month = rows["code"].to_numpy(), rows["month"].to_numpy()
    starts = _runs(code, month)
    sums = {}
    for c in ("amount", "payment", "units", "margin"):
        values = rows[c].to_numpy(dtype="float64")
        total = np.add.reduceat(np.nan_to_num(values), starts)
        if c in ("units", "margin"):  # NaN where no cell of the month is filled (SQL's sum)
            total[np.add.reduceat(~np.isnan(values), starts) == 0] = np.nan
        sums[c] = total
    months = pd.DataFrame({"code": code[starts], "month": month[starts], **sums,
                           "purchase": np.maximum.reduceat(rows["purchase"].to_numpy(), starts)})
    return Aggregates(names=names, months=months, purchases=_purchase_stats(_purchase_days(rows)),
                      attributes=_latest_attributes(rows, tx),
                      has_units="units" in tx.columns, has_margin="margin" in tx.columns,
                      first_date=pd.Timestamp(tx["date"].min()), last_date=pd.Timestamp(tx["date"].max()),
                      rows=len(tx))


def _purchase_stats(days: pd.DataFrame) -> pd.DataFrame:
    """Aggregates.purchases from the purchase days (code, day; sorted)."""
    return purchase_stats(days["code"].to_numpy(), days["day"].to_numpy())


def purchase_stats(code: np.ndarray, day: np.ndarray) -> pd.DataFrame:
    """Aggregates.purchases from one entry per customer code and purchase day, in (code, day)
    order: purchase days, first and last day, and the gaps between purchase days (median,
    sum, sum of squares, for the rhythm; NaN for a customer with one purchase day), indexed
    by code. The one definition of these figures, for the pandas engine and for the day sets
    that DuckDB and Spark send (aggregate.dayset_stats)."""
    who = np.asarray(code).astype("int64", copy=False)
    day = np.asarray(day).astype("int64", copy=False)
    starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]]) if len(who) else np.zeros(0, dtype="int64")
    index = who[starts]
    out = pd.DataFrame({"purchase_days": np.diff(np.r_[starts, len(who)]).astype("int64"), "first_day": day[starts],
                        "last_day": day[np.r_[starts[1:], len(who)] - 1] if len(who) else day[:0]},
                       index=pd.Index(index, dtype="int64", name="code"))
    same = who[1:] == who[:-1]
    gap = (day[1:] - day[:-1])[same]
    gap_who = who[1:][same]
    median = np.full(len(index), np.nan)
    total = np.full(len(index), np.nan)
    squares = np.full(len(index), np.nan)
    if len(gap):
        # each customer's gaps in order: one sort of (customer, gap) as one whole number
        # (customers counted from the first one below 2**31, a gap below 2**32)
        shift = (gap_who - gap_who[0]) * (1 << 32)
        ordered = np.sort(shift + gap) - shift
        del shift
        g_starts = np.flatnonzero(np.r_[True, gap_who[1:] != gap_who[:-1]])
        m = np.diff(np.r_[g_starts, len(gap_who)])
        at = np.searchsorted(index, gap_who[g_starts])
        median[at] = (ordered[g_starts + (m - 1) // 2] + ordered[g_starts + m // 2]) / 2
        as_float = gap.astype("float64")
        total[at] = np.add.reduceat(as_float, g_starts)
        squares[at] = np.add.reduceat(as_float * as_float, g_starts)
    out["gap_median"] = median
    out["gap_sum"] = total
    out["gap_sumsq"] = squares
    return out


def classify_aggregates(agg: Aggregates, settings: Settings | None = None,
                        issues: pd.DataFrame | None = None) -> Segmentation:
    """Classify every customer from the aggregates of their transactions (DOMAIN.md §1–5)."""
    settings = settings or Settings()
    month_m, as_of = _analysis_month(agg.first_date, agg.last_date, settings)
    later = agg.months["month"].to_numpy() > month_m
    monthly = agg.months[~later] if later.any() else agg.months  # no copy of millions of rows for nothing
    names = agg.names
    first_month = int(monthly["month"].min())
    months = np.arange(first_month, month_m + 1)
    window = (month_m - settings.window + 1, month_m)

    measure = {"revenue": "amount", "payments": "payment", "units": "units", "profit": "margin"}[settings.criterion.value]
    # Money is rounded to 1e-6 so that the order of the rows never changes a tie.
    per_month = pd.DataFrame({"month": monthly["month"].to_numpy(), "code": monthly["code"].to_numpy(),
                              "value": np.round(monthly[measure].to_numpy(dtype="float64"), 6)},
                             copy=False)  # month and code as they are in monthly, not copies
    vip = monthly_vip(per_month, settings.share)

    n = len(names)
    people = _per_customer(monthly, agg.purchases, per_month, vip, n, window, settings)
    del per_month  # a row per customer and month: freed before the per-customer work
    people["tier"] = tiers(people, settings)
    people["tier_whole_period"] = whole_period_tiers(people, settings)
    people["lost_vip"] = (people["vip_months"] > 0) & (month_m - people["last_month"] > settings.lost_after)
    people = people.join(rhythm(agg.purchases, people, settings))
    people["lifecycle"] = lifecycle(people, as_of, settings)
    people["contacts_per_year"] = people["lifecycle"].map(dict(settings.contacts_per_year)).fillna(0).astype("int64")
    people["quadrant"] = quadrant(people, settings)
    people["size_tier"] = size_tier(people, settings)
    people = people.join(_attributes(agg, settings))
    people = people.join(reminders(people, as_of, settings))
    people = people.join(next_action(people, as_of, settings))
    people["average_order"] = average_order(people)
    people["customer"] = np.asarray(names, dtype=object)

    customers = people[CUSTOMER_COLUMNS].reset_index(drop=True)
    customers = customers.astype({c: "str" for c in TEXT_COLUMNS})
    # in the order of month, rank, customer: sorted on the numbers (month labels sort as the
    # month numbers, and the names are sorted, so as the codes), not on millions of texts
    order = np.lexsort((vip["code"].to_numpy(), vip["rank"].to_numpy(), vip["month"].to_numpy()))
    monthly_table = pd.DataFrame({
        "month": _month_labels(vip["month"].to_numpy()[order]),
        "customer": names.take(vip["code"].to_numpy()[order]),
        "value": vip["value"].to_numpy()[order],
        "rank": vip["rank"].to_numpy()[order],
    })

    ledger, flow = vip_ledger(vip, names, months, settings.window)
    lost = people.loc[people["lost_vip"], ["customer", "last_vip", "last_purchase", "revenue", "manager"]].copy()
    lost.insert(3, "months_silent", (month_m - people.loc[people["lost_vip"], "last_month"]).astype("int64"))
    lost["last_vip"] = _month_labels(lost["last_vip"].to_numpy())
    lost = lost.sort_values(["revenue", "customer"], ascending=[False, True], ignore_index=True)

    return Segmentation(
        customers=customers,
        monthly_vip=monthly_table,
        ledger=ledger,
        ledger_flow=flow,
        lost_vip=lost,
        concentration=concentration(people, monthly, window, agg.has_margin, settings, names),
        contact_plan=contact_plan(customers, settings),
        issues=issues if issues is not None else issues_frame(),
        settings=settings,
        analysis_month=str(_month_labels(np.array([month_m]))[0]),
        as_of=as_of,
    )


def _attributes(agg: Aggregates, settings: Settings) -> pd.DataFrame:
    """The contact attributes per code, with the defaults for columns the input lacks;
    consent also as consent_status, yes / no / unknown."""
    idx = pd.RangeIndex(len(agg.names))
    out = pd.DataFrame(index=idx)
    for col in ("manager", "consent", "channel", "contact_time", "email", "phone"):
        if col not in agg.attributes.columns:
            out[col] = pd.Series(pd.NA, index=idx, dtype="boolean") if col == "consent" else ""
        elif col == "consent":
            out[col] = agg.attributes[col].reindex(idx).astype("boolean")
        else:
            out[col] = agg.attributes[col].reindex(idx).fillna("").astype("str")
    # consent in three states: yes / no from the data; unknown where no cell of the
    # customer says (or there is no column), unless consent_if_missing says they agreed
    known = out["consent"]
    status = pd.Series(np.where(known.fillna(False).to_numpy(dtype=bool), "yes", "no"), index=idx)
    out["consent_status"] = status.where(known.notna().to_numpy(), "yes" if settings.consent_if_missing else "unknown")
    out["consent"] = (out["consent_status"] == "yes").to_numpy()
    return out


def _analysis_month(first: pd.Timestamp, last: pd.Timestamp, settings: Settings) -> tuple[int, pd.Timestamp]:
    if settings.month is None:
        return int(last.to_period("M").ordinal), pd.Timestamp(last.normalize())
    period = pd.Period(settings.month, freq="M")
    as_of = period.end_time.normalize()
    if first > as_of:
        raise InputError(f"there are no transactions up to the analysis month {settings.month}")
    return int(period.ordinal), pd.Timestamp(as_of)


# --- end of the seam


def analysis_month(tx: pd.DataFrame, settings: Settings) -> tuple[int, pd.Timestamp]:
    """The analysis month M (as a month number) and the last day looked at.

    M is the last month in the data unless the settings name one; then the day looked
    at is the end of that month, so "days since the last purchase" count from there.
    """
    last = tx["date"].max()
    if settings.month is None:
        period = last.to_period("M")
        as_of = last.normalize()
    else:
        period = pd.Period(settings.month, freq="M")
        as_of = period.end_time.normalize()
        if tx["date"].min() > as_of:
            raise InputError(f"there are no transactions up to the analysis month {settings.month}")
    return int(period.ordinal), pd.Timestamp(as_of)


def _check(tx: pd.DataFrame, settings: Settings) -> None:
    missing = [c for c in REQUIRED if c not in tx.columns]
    if missing:
        raise InputError(f"the transactions have no column {', '.join(missing)} (found: {', '.join(map(str, tx.columns))})")
    if tx.empty:
        raise InputError("there are no usable transactions")
    needs = {"units": "units", "profit": "margin"}.get(settings.criterion.value)
    if needs and needs not in tx.columns:
        raise InputError(f"criterion {settings.criterion.value} needs a {needs} column, and the transactions have none")


def _rows(tx: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Integer-coded rows sorted by customer and day: customer code, day and month
    numbers, the measures, and `pos`, the row's position in `tx`."""
    codes, names = pd.factorize(tx["customer"], sort=True)
    day = tx["date"].to_numpy().astype("datetime64[D]").astype("int64")
    amount = tx["amount"].to_numpy(dtype="float64", na_value=np.nan)
    units = tx["units"].to_numpy(dtype="float64", na_value=np.nan) if "units" in tx.columns else np.full(len(tx), np.nan)
    units = returned_units(amount, units)
    margin = tx["margin"].to_numpy(dtype="float64", na_value=np.nan) if "margin" in tx.columns else np.full(len(tx), np.nan)
    payment = _payments(tx, codes, day, amount)
    order = np.argsort(codes.astype("int64") * (day.max() - day.min() + 1) + (day - day.min()), kind="stable")
    day = day[order]
    rows = pd.DataFrame({
        "code": codes[order].astype("int64"),
        "day": day,
        "month": day.astype("datetime64[D]").astype("datetime64[M]").astype("int64"),
        "amount": amount[order],
        "units": units[order],
        "margin": margin[order],
        "purchase": is_purchase(amount, units)[order],
        "payment": payment[order],
        "pos": order,
    })
    return rows, pd.Index(names)


def _runs(*keys: np.ndarray) -> np.ndarray:
    """Start positions of the runs of equal keys in rows sorted by customer and day."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0:1] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def _payments(tx: pd.DataFrame, codes: np.ndarray, day: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """1 on the row that counts a payment: rows with amount > 0, one per order_id when
    there is one (credited to the order's earliest row, so row order does not matter)."""
    paid = amount > 0
    if "order_id" not in tx.columns:
        return paid.astype("int64")
    order, uniques = pd.factorize(tx["order_id"])
    has_order = paid & (order >= 0)
    out = (paid & (order < 0)).astype("int64")
    position = np.flatnonzero(has_order)
    key = codes[position].astype("int64") * (len(uniques) + 1) + order[position]
    day = day[position]
    stamp = (day - day.min(initial=0)) * (len(tx) + 1) + position  # earliest day, then earliest row
    first = pd.Series(stamp).groupby(key, sort=False).idxmin().to_numpy()
    out[position[first]] = 1
    return out


def _per_month(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """One row per customer and month with the criterion value (net of refunds).

    Money is rounded to 1e-6 so that the order of the rows never changes a tie.
    """
    measure = {"revenue": "amount", "payments": "payment", "units": "units", "profit": "margin"}[settings.criterion.value]
    code, month = rows["code"].to_numpy(), rows["month"].to_numpy()
    starts = _runs(code, month)
    value = np.add.reduceat(np.nan_to_num(rows[measure].to_numpy(dtype="float64")), starts) if len(rows) else []
    return pd.DataFrame({"month": month[starts], "code": code[starts], "value": np.round(value, 6)})


def monthly_vip(per_month: pd.DataFrame, share: float) -> pd.DataFrame:
    """Top `share` of each month's payers by value; ties at the cut-off are all in.

    per_month: columns month, code, value (one row per customer and month). Returns those
    rows of the VIPs (in their order in per_month) with their rank in the month (biggest
    first, ties sharing the smallest rank). Each month's cut-off value is found by a
    partition (linear), and only the VIPs are sorted for their ranks, not every payer.
    """
    value = per_month["value"].to_numpy(dtype="float64")
    payers = np.flatnonzero(value > 0)  # positions, not a copy of the payers' rows
    month = per_month["month"].to_numpy()[payers]
    small = month - month.min(initial=0)
    small = small.astype("uint16") if small.max(initial=0) < 2 ** 16 else small  # numpy's radix sort
    by_month = np.argsort(small, kind="stable")  # payers' positions in `payers`, month by month
    counts = np.bincount(small) if len(small) else np.zeros(0, dtype="int64")
    ends = np.cumsum(counts)
    picked, ranks = [], []
    for end, n in zip(ends, counts):  # one step per month, not per row
        k = int(cut_count(share, int(n)))
        if n == 0 or k <= 0:
            continue
        rows = by_month[end - n:end]
        values = value[payers[rows]]
        cut = np.partition(values, n - k)[n - k]  # the k-th biggest value of the month
        top = values >= cut
        chosen = values[top]
        ordered = np.sort(-chosen)
        picked.append(rows[top])
        ranks.append(np.searchsorted(ordered, -chosen, side="left") + 1)
    chosen_rows = np.concatenate(picked) if picked else np.zeros(0, dtype="int64")
    rank = np.concatenate(ranks).astype("int64") if ranks else np.zeros(0, dtype="int64")
    order = np.argsort(chosen_rows, kind="stable")
    return per_month.iloc[payers[chosen_rows[order]]].assign(rank=rank[order])


def _purchase_days(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and purchase day, sorted: code, day, amount (the day's net)."""
    code, day = rows["code"].to_numpy(), rows["day"].to_numpy()
    starts = _runs(code, day)
    amount = np.add.reduceat(np.nan_to_num(rows["amount"].to_numpy()), starts)
    purchase = np.maximum.reduceat(rows["purchase"].to_numpy(), starts)
    return pd.DataFrame({"code": code[starts][purchase], "day": day[starts][purchase], "amount": amount[purchase]})


def _per_customer(monthly: pd.DataFrame, purchases: pd.DataFrame, per_month: pd.DataFrame, vip: pd.DataFrame,
                  n: int, window: tuple[int, int], settings: Settings) -> pd.DataFrame:
    """Totals, purchase dates, window values and VIP history per customer code."""
    idx = pd.RangeIndex(n)
    by_code = monthly.groupby("code")
    totals = by_code.agg(revenue=("amount", "sum"), payments=("payment", "sum")).reindex(idx)
    # units and profit are NaN for a customer none of whose cells is filled (min_count=1):
    # a customer with blank margins has an unknown profit, not a profit of 0
    totals["units"] = by_code["units"].sum(min_count=1).reindex(idx)
    totals["profit"] = by_code["margin"].sum(min_count=1).reindex(idx)
    totals[["revenue", "units", "profit"]] = totals[["revenue", "units", "profit"]].round(6)
    people = totals.assign(
        payments=totals["payments"].fillna(0).astype("int64"),
        purchase_days=purchases["purchase_days"].reindex(idx, fill_value=0).astype("int64"),
        first_day=purchases["first_day"].reindex(idx).astype("float64"),
        last_day=purchases["last_day"].reindex(idx).astype("float64"),
    )
    people["first_purchase"] = _dates(people["first_day"])
    people["last_purchase"] = _dates(people["last_day"])
    months = people["last_purchase"].to_numpy().astype("datetime64[M]")
    people["last_month"] = np.where(np.isnat(months), np.nan, months.astype("int64"))

    in_window = per_month["month"].between(*window)
    people["window_value"] = per_month[in_window].groupby("code")["value"].sum().reindex(idx, fill_value=0.0).round(6)
    bought = monthly[monthly["purchase"] & monthly["month"].between(*window)]["code"].unique()
    people["active"] = False
    people.loc[bought, "active"] = True

    vip_by = vip.groupby("code")["month"]
    people["vip_months"] = vip_by.size().reindex(idx, fill_value=0).astype("int64")
    people["last_vip"] = vip_by.max().reindex(idx)
    people["current_vip"] = people["last_vip"] >= window[0]
    people["former_vip"] = (people["vip_months"] > 0) & ~people["current_vip"]
    return people


def _dates(day_numbers: pd.Series) -> pd.Series:
    values = day_numbers.to_numpy(dtype="float64")
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(values)
    out[ok] = values[ok].astype("int64").astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(out, index=day_numbers.index)


def _month_labels(month_numbers: np.ndarray) -> np.ndarray:
    """Month numbers (months since 1970-01) as "YYYY-MM" text."""
    m = np.asarray(month_numbers, dtype="int64")
    if m.size == 0:
        return np.array([], dtype=object)
    first = m.min()
    table = np.array([f"{1970 + x // 12}-{x % 12 + 1:02d}" for x in range(first, m.max() + 1)], dtype=object)
    return table[m - first]


# --------------------------------------------------------------------------- §1 tiers


def tiers(people: pd.DataFrame, settings: Settings, by: pd.Series | None = None) -> pd.Series:
    """VIP / Good / Regular at the analysis month (or at each month of `by`); "" for
    customers inactive in the window.

    VIP: in a monthly VIP table within the window. Good: the top good_share of the
    other customers with a positive window value, plus former VIPs who dropped out of
    the ledger. Regular: every other customer active in the window.
    """
    candidates = people["window_value"].where((people["window_value"] > 0) & ~people["current_vip"])
    good = top_share(candidates, settings.good_share, by) | (people["former_vip"] & people["active"])
    out = pd.Series("", index=people.index, dtype=object)
    out[people["active"]] = "Regular"
    out[good & people["active"]] = "Good"
    out[people["current_vip"]] = "VIP"
    return out


def whole_period_tiers(people: pd.DataFrame, settings: Settings) -> pd.Series:
    """The article's second approach: rank window totals instead of months.

    VIP: the top share by window total; Good: the top good_share of the rest.
    """
    value = people["window_value"].where(people["window_value"] > 0)
    vip = top_share(value, settings.share)
    good = top_share(value.where(~vip), settings.good_share)
    out = pd.Series("", index=people.index, dtype=object)
    out[people["active"]] = "Regular"
    out[good & people["active"]] = "Good"
    out[vip & people["active"]] = "VIP"
    return out


def vip_ledger(vip: pd.DataFrame, names: pd.Index, months: np.ndarray, window: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every customer ever in a monthly VIP table, with their rank per month, and the
    ledger's entries and exits per month.

    A customer stays in the ledger for `window` months after each VIP month: they enter
    when a VIP month follows a gap of more than `window` months (or none before), and
    leave `window` months after their last VIP month of a run.
    """
    month_m = int(months[-1])
    labels = _month_labels(months)
    pairs = vip[["code", "month", "rank"]].sort_values(["code", "month"], ignore_index=True)
    same = pairs["code"].eq(pairs["code"].shift())
    gap_before = pairs["month"] - pairs["month"].shift()
    entered = ~same | (gap_before > window)
    next_gap = pairs["month"].shift(-1) - pairs["month"]
    leaves = ~pairs["code"].eq(pairs["code"].shift(-1)) | (next_gap > window)
    exit_month = pairs.loc[leaves, "month"] + window
    counts = pd.DataFrame(index=pd.Index(months, name="month"))
    counts["entered"] = pairs.loc[entered, "month"].value_counts().reindex(months, fill_value=0)
    counts["left"] = exit_month[exit_month <= month_m].value_counts().reindex(months, fill_value=0)
    counts["size"] = (counts["entered"] - counts["left"]).cumsum()
    flow = counts.reset_index().assign(month=labels)
    flow = flow.astype({"entered": "int64", "left": "int64", "size": "int64"})

    by = pairs.groupby("code")["month"]
    last = by.max()
    current = last > month_m - window
    ledger = pd.DataFrame({
        "customer": names.take(last.index.to_numpy()).astype(object),
        "first_vip": _month_labels(by.min().to_numpy()),
        "last_vip": _month_labels(last.to_numpy()),
        "vip_months": by.size().to_numpy().astype("int64"),
        "status": np.where(current, CURRENT_VIP, DROPPED_OUT),
        "left_on": np.where(current, "", _month_labels((last + window).to_numpy())),
    })
    order = ledger.sort_values(["status", "vip_months", "customer"], ascending=[True, False, True]).index.to_numpy()
    ledger = ledger.take(order).reset_index(drop=True)
    # the rank per customer and month, as one column per month (blank where not VIP): made
    # in place in the ledger's order, not by a pivot, a cast and a sort of the whole grid
    position = np.empty(len(order), dtype="int64")
    position[order] = np.arange(len(order))
    row = position[np.searchsorted(last.index.to_numpy(), pairs["code"].to_numpy())]
    column = pairs["month"].to_numpy() - int(months[0])
    values = np.zeros((len(order), len(months)), dtype="int64", order="F")
    blank = np.ones((len(order), len(months)), dtype=bool, order="F")
    values[row, column] = pairs["rank"].to_numpy()
    blank[row, column] = False
    ranks = {label: pd.arrays.IntegerArray(values[:, j], blank[:, j]) for j, label in enumerate(labels)}
    return pd.concat([ledger, pd.DataFrame(ranks, copy=False)], axis=1), flow


# --------------------------------------------------------------------------- §2 lifecycle


def lifecycle(people: pd.DataFrame, as_of: pd.Timestamp, settings: Settings) -> pd.Series:
    """new / one-time / permanent / occasional / potential, with unprofitable over all
    (only where the customer's profit is known: blank margins are not a loss)."""
    today = np.datetime64(as_of.date(), "D").astype("int64")
    since_first = today - people["first_day"]
    since_last = today - people["last_day"]
    n_days = people["purchase_days"]
    active_limit = (settings.active_factor * people["cycle_days"]).fillna(settings.active_days_unknown_cycle)
    out = pd.Series("potential", index=people.index, dtype=object)
    repeat = n_days >= 2
    out[repeat & (since_last <= settings.occasional_days)] = "occasional"
    out[repeat & (since_last <= active_limit)] = "permanent"
    out[n_days == 1] = "one-time"
    out[(n_days >= 1) & (since_first < settings.new_days)] = "new"
    out[(n_days >= 1) & (people["profit"] <= 0)] = "unprofitable"
    return out


# --------------------------------------------------------------------------- §3 volume × value


def quadrant(people: pd.DataFrame, settings: Settings) -> pd.Series:
    """Volume (payments) × value (average payment), split at the median of customers who paid."""
    paid = people["payments"] > 0
    volume = people["payments"].where(paid)
    value = (people["revenue"] / people["payments"]).where(paid)
    big = volume > volume.quantile(settings.quadrant_quantile)
    high = value > value.quantile(settings.quadrant_quantile)
    label = np.select([big & high, big, high], ["high volume, high value", "high volume, low value",
                                                "low volume, high value"], default="low volume, low value")
    return pd.Series(np.where(paid, label, ""), index=people.index, dtype=object)


# --------------------------------------------------------------------------- §4 rhythm


def rhythm(purchases: pd.DataFrame, people: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Cycle (median gap between purchase days) and regularity, for customers with at
    least rhythm_min_days purchase days; the expected next purchase.

    purchases: Aggregates.purchases (per code: purchase_days, gap_median, gap_sum,
    gap_sumsq). The coefficient of variation of the gaps (population standard deviation
    over mean) is computed from the whole-number sums, so every engine gets the same.
    """
    stats = purchases.reindex(people.index)
    known = people["purchase_days"] >= settings.rhythm_min_days
    gaps = (people["purchase_days"] - 1).astype("float64")
    total, squares = stats["gap_sum"].astype("float64"), stats["gap_sumsq"].astype("float64")
    cycle = stats["gap_median"].astype("float64").where(known)
    cv = (np.sqrt(np.maximum(gaps * squares - total * total, 0.0)) / total).where(known)
    label = np.select([cycle >= settings.yearly_cycle_days, cv <= settings.regular_cv, cv > settings.regular_cv],
                      ["yearly", "regular", "chaotic"], default="")
    next_day = people["last_day"] + np.round(cycle)
    return pd.DataFrame({"cycle_days": cycle, "rhythm": label, "next_day": next_day,
                         "next_purchase": _dates(next_day)}, index=people.index)


def reminders(people: pd.DataFrame, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Reminder dates, only for customers who gave consent: the rhythm reminder
    (expected purchase − lead, lead = lead_share of the cycle clamped to its bounds) and
    the follow-up call of a new customer."""
    lead = _lead(people, settings)
    consent = people["consent"]
    remind = people["next_day"].where(consent) - lead
    follow = (people["first_day"] + settings.follow_up_days).where(consent & (people["lifecycle"] == "new"))
    owner = np.where(people["purchase_days"] >= 2, "account management", "acquisition")
    return pd.DataFrame({"remind_on": _dates(remind), "follow_up_on": _dates(follow), "owner": owner}, index=people.index)


def _lead(people: pd.DataFrame, settings: Settings) -> pd.Series:
    """Days between the reminder and the expected purchase: lead_share of the cycle, clamped."""
    return np.clip(np.round(settings.lead_share * people["cycle_days"]), settings.lead_min_days, settings.lead_max_days)


def next_action(people: pd.DataFrame, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """The one next action of every customer, its reason and due date (DOMAIN §2, §4;
    issue 13). The first rule that applies decides:

    1. consent refused → no_consent (nothing is scheduled);
    2. a lost VIP → lost_vip: call and ask why, due at the analysis date;
    3. unprofitable → margin_review for a big account (in the top margin_review_share
       of customers by revenue), due at the analysis date; no_marketing for the others;
    4. new → follow_up: the call follow_up_days after the first purchase;
    5. a purchase expected (at most one lead time ago, or ahead) → reminder, lead days
       before the expected purchase;
    6. a contact plan (contacts_per_year > 0) → periodic: the first date after the
       analysis date on the grid last purchase + k × 365 / contacts_per_year days;
    7. else "" (nothing to do).

    Consent unknown turns any contact of 2–6 into ask_permission (the manager asks
    on their own channel, due at the analysis date), keeping the reason. A due date
    before the analysis date means overdue since then; it is never moved.
    """
    today = np.datetime64(as_of.date(), "D").astype("int64")
    status = people["consent_status"]
    lead = _lead(people, settings)
    revenue = people["revenue"].where(people["revenue"] > 0)
    big = top_share(revenue, settings.margin_review_share)
    cpy = people["contacts_per_year"]
    interval = 365.0 / cpy.where(cpy > 0)
    last = people["last_day"].fillna(today)
    grid = last + np.ceil((np.floor((today - last) / interval) + 1) * interval)
    expected = people["next_day"].notna() & (people["next_day"] + lead >= today)
    unprofitable = people["lifecycle"] == "unprofitable"
    rules = [  # (condition, action, reason, due day)
        (people["lost_vip"], "lost_vip", "lost_vip", today),
        (unprofitable & big, "margin_review", "unprofitable_big", today),
        (unprofitable, "no_marketing", "unprofitable_small", np.nan),
        (people["lifecycle"] == "new", "follow_up", "new", people["first_day"] + settings.follow_up_days),
        (expected, "reminder", "purchase_expected", people["next_day"] - lead),
        (cpy > 0, "periodic", "contact_plan", grid),
    ]
    conditions = [np.asarray(c, dtype=bool) for c, *_ in rules]
    action = np.select(conditions, [a for _, a, _, _ in rules], default="")
    reason = np.select(conditions, [r for _, _, r, _ in rules], default="")
    due = np.select(conditions, [np.broadcast_to(np.asarray(d, dtype="float64"), len(people)) for *_, d in rules],
                    default=np.nan)
    contact = np.isin(action, CONTACT_ACTIONS)
    ask = contact & (status == "unknown").to_numpy()
    action = np.where(ask, "ask_permission", action)
    due = np.where(ask, today, due)
    refused = (status == "no").to_numpy()
    action = np.where(refused, "no_consent", action)
    reason = np.where(refused, "refused", reason)
    due = np.where(refused | ~np.isin(action, CONTACT_ACTIONS), np.nan, due)
    return pd.DataFrame({"action": action.astype(object), "action_reason": reason.astype(object),
                         "action_due": _dates(pd.Series(due, index=people.index))}, index=people.index)


WEEK_DAYS = 7


def manager_workload(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The calls each manager has to make, counted from the analysis date AS_OF (never
    from today: an old export is judged at its own date): overdue (a contact action due
    before AS_OF), due this week (due on AS_OF or in the WEEK_DAYS - 1 days after it),
    later, and all of them. One row per manager with at least one contact action, the
    most overdue first; a customer without a manager counts under "".

    Columns: manager, overdue, due_this_week, later, calls.
    """
    contact = customers["action"].isin(CONTACT_ACTIONS).to_numpy() & customers["action_due"].notna().to_numpy()
    part = customers.loc[contact, ["manager", "action_due"]]
    day = pd.Timestamp(as_of).normalize()
    due = pd.to_datetime(part["action_due"])
    counts = pd.DataFrame({
        "manager": part["manager"].astype(str).to_numpy(),
        "overdue": (due < day).to_numpy(),
        "due_this_week": ((due >= day) & (due < day + pd.Timedelta(days=WEEK_DAYS))).to_numpy(),
        "later": (due >= day + pd.Timedelta(days=WEEK_DAYS)).to_numpy(),
    })
    out = counts.groupby("manager", sort=True).sum().astype("int64")
    out["calls"] = out[["overdue", "due_this_week", "later"]].sum(axis=1)
    out = out.reset_index().sort_values(["overdue", "due_this_week", "manager"], ascending=[False, False, True],
                                        kind="stable", ignore_index=True)
    return out[["manager", "overdue", "due_this_week", "later", "calls"]]


def average_order(people: pd.DataFrame) -> pd.Series:
    """The average order: revenue (net of refunds) per payment, NaN for a customer
    without a payment. Shown on the call lists beside the cycle, so the manager knows
    what size of order to expect."""
    payments = people["payments"].where(people["payments"] > 0)
    return (people["revenue"] / payments).round(2).astype("float64")


def action_order(customers: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Positions of CUSTOMERS in the order to work them: by the day to act (the due
    date, or the analysis date when that is overdue), then by the action (ACTIONS
    order), then the biggest revenue first, then by name. Customers with nothing to
    do go last."""
    act_on = customers["action_due"].where(customers["action_due"] >= as_of, as_of)
    act_on = act_on.where(customers["action_due"].notna())
    day = act_on.to_numpy().astype("datetime64[D]").astype("float64")
    day[np.isnat(act_on.to_numpy())] = np.inf
    rank = pd.Series(customers["action"]).map({a: i for i, a in enumerate(ACTIONS)}).fillna(len(ACTIONS))
    revenue = customers["revenue"].fillna(-np.inf).to_numpy(dtype="float64")
    return np.lexsort((customers["customer"].to_numpy(), -revenue, rank.to_numpy(), day))


def _latest_attributes(rows: pd.DataFrame, tx: pd.DataFrame) -> pd.DataFrame:
    """Manager, consent, channel, contact time, email and phone, for the columns TX has:
    each the latest non-empty value of the customer (by date, then by row of the
    export); NaN / NA where the customer has none (_attributes fills the defaults)."""
    n = int(rows["code"].max()) + 1 if len(rows) else 0
    idx = pd.RangeIndex(n)
    pos = rows["pos"].to_numpy()
    row_number = tx.index.to_numpy() if tx.index.is_unique and pd.api.types.is_integer_dtype(tx.index) else np.arange(len(tx))
    row_number = row_number[pos] - row_number.min(initial=0)
    stamp = rows["day"].to_numpy() * (int(row_number.max(initial=0)) + 1) + row_number
    code = rows["code"].to_numpy()
    out = pd.DataFrame(index=idx)
    for col in ("manager", "consent", "channel", "contact_time", "email", "phone"):
        if col not in tx.columns:
            continue
        column = tx[col]
        present = column.notna().to_numpy(dtype=bool, copy=True)
        if col != "consent":
            present &= column.ne("").to_numpy(dtype=bool, na_value=False)
        present = present[pos]
        winner = pd.Series(stamp[present]).groupby(code[present]).idxmax()
        picked = pd.Series(column.iloc[pos[present][winner.to_numpy()]].to_numpy(), index=winner.index).reindex(idx)
        out[col] = picked.astype("boolean") if col == "consent" else picked
    return out


# --------------------------------------------------------------------------- §5 size and concentration


def size_tier(people: pd.DataFrame, settings: Settings) -> pd.Series:
    """Order-size tiers of repeat customers by average payment (huge: top 10%, medium:
    next 30%, small: the rest); single-purchase-day customers are one-time."""
    repeat = people["purchase_days"] >= 2
    average = (people["revenue"] / people["payments"].where(people["payments"] > 0)).where(repeat)
    huge = top_share(average, settings.huge_share)
    medium = top_share(average, settings.huge_share + settings.medium_share) & ~huge
    label = np.select([huge, medium, repeat, people["purchase_days"] == 1], ["huge", "medium", "small", "one-time"], default="")
    return pd.Series(label, index=people.index, dtype=object)


def concentration(people: pd.DataFrame, monthly: pd.DataFrame, window: tuple[int, int], has_margin: bool,
                  settings: Settings, names: pd.Index | None = None) -> pd.DataFrame:
    """"The disease of three clients": how much of the window's profit (else revenue)
    the biggest customers give, whether that is an alert, and who they are
    (top_customers: the top 3 by name with their shares, biggest first)."""
    basis = "profit" if has_margin else "revenue"
    in_window = monthly[monthly["month"].between(*window)]
    totals = in_window.groupby("code")["margin" if has_margin else "amount"].sum()
    ranked = totals[totals > 0].sort_values(ascending=False, kind="stable")
    positive = ranked.to_numpy()
    total = positive.sum()
    shares = positive / total if total > 0 else positive
    cumulative = np.cumsum(shares)
    top = {k: float(cumulative[min(k, len(cumulative)) - 1]) if len(cumulative) else 0.0 for k in (1, 3, 5)}
    reasons = []
    if top[3] >= settings.top3_alert:
        reasons.append(f"the top 3 customers give {top[3]:.0%} of {basis} (alert at {settings.top3_alert:.0%})")
    if top[1] >= settings.top1_alert:
        reasons.append(f"one customer gives {top[1]:.0%} of {basis} (alert at {settings.top1_alert:.0%})")
    return pd.DataFrame([{
        "basis": basis,
        "period": f"{_month_labels(np.array([window[0]]))[0]}..{_month_labels(np.array([window[1]]))[0]}",
        "customers": int(len(positive)),
        "total": round(float(total), 6),
        "top1_share": top[1],
        "top3_share": top[3],
        "top5_share": top[5],
        "customers_for_80pct": int(np.searchsorted(cumulative, settings.pareto_share - 1e-12) + 1) if len(cumulative) else 0,
        "herfindahl": float(np.sum(shares ** 2)),
        "alert": bool(reasons),
        "alert_reason": "; ".join(reasons),
        "top_customers": ", ".join(f"{names[code] if names is not None else code} ({share:.0%})"
                                   for code, share in zip(ranked.index[:3], shares[:3])),
    }])


def contact_plan(customers: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Messages per year for each lifecycle class, with how many customers are in it and
    how many of them may be contacted."""
    counts = customers.groupby("lifecycle").agg(customers=("customer", "size"), with_consent=("consent", "sum"))
    plan = pd.DataFrame({"lifecycle": list(LIFECYCLES)})
    plan["contacts_per_year"] = plan["lifecycle"].map(dict(settings.contacts_per_year)).fillna(0).astype("int64")
    plan = plan.join(counts, on="lifecycle").fillna({"customers": 0, "with_consent": 0})
    return plan.astype({"customers": "int64", "with_consent": "int64"})


# --------------------------------------------------------------------------- lifetimes-style summary


def purchase_summary(tx: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per customer: frequency (repeat purchase days), recency (days from first to last
    purchase), T (days from first purchase to as_of) and monetary value (the average
    net amount of the repeat purchase days) — the RFM summary CLV models start from."""
    as_of = pd.Timestamp(as_of) if as_of is not None else tx["date"].max()
    rows, names = _rows(tx[tx["date"] <= as_of])
    days = _purchase_days(rows)
    first = days.groupby("code")["day"].transform("min")
    by = days.groupby("code")
    today = np.datetime64(pd.Timestamp(as_of).date(), "D").astype("int64")
    out = pd.DataFrame({
        "frequency": by.size() - 1,
        "recency": by["day"].max() - by["day"].min(),
        "T": today - by["day"].min(),
        "monetary_value": days[days["day"] > first].groupby("code")["amount"].mean(),
    }).fillna({"monetary_value": 0.0}).astype("float64")
    out.index = names.take(out.index.to_numpy())
    out.index.name = "customer"
    return out
