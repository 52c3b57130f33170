"""How customers move between tiers over time (DOMAIN §6).

The tier of every customer at the end of every month of the history, computed with
the same rules as the classification at the analysis month (segment.tiers), and what
follows from it: transition matrices, entries and exits, and each customer's previous
tier and the month their tier last changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from .segment import _month_labels, _per_month, _rows, analysis_month, monthly_vip, tiers
from .settings import Settings

INACTIVE = "inactive"
STATES = ["VIP", "Good", "Regular", INACTIVE]


def tier_history(tx: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Each customer's tier at every month from the first month of the data to the
    analysis month: columns month ("YYYY-MM"), customer, tier (VIP / Good / Regular /
    inactive). A customer who has not bought yet is inactive.
    """
    settings = settings or Settings()
    month_m, as_of = analysis_month(tx, settings)
    rows, names = _rows(tx[tx["date"] <= as_of])
    first = int(rows["month"].min())
    months = np.arange(first, month_m + 1)
    n, t = len(names), len(months)

    per_month = _per_month(rows, settings)
    vip = monthly_vip(per_month, settings.share)
    value = np.zeros((n, t))
    value[per_month["code"], per_month["month"] - first] = per_month["value"]
    bought = np.zeros((n, t), dtype=bool)
    purchases = rows[rows["purchase"]]
    bought[purchases["code"], purchases["month"] - first] = True
    is_vip = np.zeros((n, t), dtype=bool)
    is_vip[vip["code"], vip["month"] - first] = True

    current_vip = _in_window(is_vip, settings.window) > 0
    grid = pd.DataFrame({
        "month": np.tile(months, n),
        "code": np.repeat(np.arange(n), t),
        "window_value": np.round(_in_window(value, settings.window), 6).ravel(),
        "active": (_in_window(bought, settings.window) > 0).ravel(),
        "current_vip": current_vip.ravel(),
        "former_vip": ((np.cumsum(is_vip, axis=1) > 0) & ~current_vip).ravel(),
    })
    tier = tiers(grid, settings, by=grid["month"]).replace("", INACTIVE)
    return pd.DataFrame({
        "month": _month_labels(grid["month"].to_numpy()),
        "customer": names.take(grid["code"].to_numpy()),
        "tier": pd.Categorical(tier, categories=STATES),
    })


def _in_window(grid: np.ndarray, window: int) -> np.ndarray:
    """Per customer and month, the sum over that month and the window − 1 before it.
    Counts (a bool or integer grid) by differences of running sums: exact, and without
    the window's view; amounts by the view's sums, as ever (float sums in the same order)."""
    if grid.dtype == bool or np.issubdtype(grid.dtype, np.integer):
        running = np.cumsum(grid, axis=1, dtype=np.int64)
        counts = running.copy()
        counts[:, window:] -= running[:, :-window]
        return counts.astype("float64")
    padded = np.concatenate([np.zeros((grid.shape[0], window - 1), dtype=grid.dtype), grid], axis=1)
    return sliding_window_view(padded.astype("float64"), window, axis=1).sum(axis=-1)


def _sequences(history: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """HISTORY as codes in (customer, month) order: customer codes and their (sorted)
    names, month codes and their (sorted) labels, tier codes (into STATES; -1 missing),
    and each row's tier the month before (-1 at a customer's first month). Integer codes
    instead of group-bys over text: one sort of the whole history."""
    customer, customers = pd.factorize(history["customer"], sort=True)
    month, months = pd.factorize(history["month"], sort=True)
    tier = pd.Categorical(history["tier"], categories=STATES).codes.astype(np.int64)
    order = np.lexsort((month, customer))
    customer, month, tier = customer[order], month[order], tier[order]
    same = np.zeros(len(customer), dtype=bool)
    same[1:] = customer[1:] == customer[:-1]
    before = np.full(len(tier), -1, dtype=np.int64)
    before[1:] = tier[:-1]
    before[~same] = -1
    return customer, customers, month, months, tier, before


def transitions(history: pd.DataFrame) -> pd.DataFrame:
    """For each month after the first: how many customers went from each tier the month
    before to each tier now (columns month, from, to, customers; every pair listed)."""
    _customer, _names, month, months, tier, before = _sequences(history)
    moved = (before >= 0) & (tier >= 0)
    k = len(STATES)
    seen = np.unique(month[moved])
    at = np.searchsorted(seen, month[moved])
    counts = np.bincount((at * k + before[moved]) * k + tier[moved], minlength=len(seen) * k * k)
    return pd.DataFrame({
        "month": np.repeat(np.asarray(months, dtype=object)[seen], k * k),
        "from": np.tile(np.repeat(np.array(STATES, dtype=object), k), len(seen)),
        "to": np.tile(np.array(STATES, dtype=object), k * len(seen)),
        "customers": counts.astype("int64"),
    })


def transition_matrix(history: pd.DataFrame, month: str, moves: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tier in the month before `month` (rows) × tier in `month` (columns). MOVES:
    transitions(HISTORY), when the caller has it."""
    moves = transitions(history) if moves is None else moves
    matrix = moves[moves["month"] == month].pivot(index="from", columns="to", values="customers")
    return matrix.reindex(index=STATES, columns=STATES).fillna(0).astype("int64").rename_axis(
        index="from", columns="to")


def tier_sizes(history: pd.DataFrame) -> pd.DataFrame:
    """Customers per tier and month (one column per tier), for the chart of tier sizes."""
    sizes = history.groupby(["month", "tier"], observed=False).size().unstack("tier")
    return sizes.reindex(columns=STATES).fillna(0).astype("int64").reset_index().rename_axis(columns=None)


def entries_and_exits(history: pd.DataFrame, moves: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per month and tier: customers who entered it and who left it since the month before.
    MOVES: transitions(HISTORY), when the caller has it."""
    moves = transitions(history) if moves is None else moves
    moved = moves[moves["from"] != moves["to"]]
    entered = moved.groupby(["month", "to"])["customers"].sum().rename_axis(["month", "tier"])
    left = moved.groupby(["month", "from"])["customers"].sum().rename_axis(["month", "tier"])
    out = pd.concat({"entered": entered, "left": left}, axis=1).fillna(0).astype("int64")
    months = sorted(moves["month"].unique())
    index = pd.MultiIndex.from_product([months, STATES], names=["month", "tier"])
    return out.reindex(index, fill_value=0).reset_index()


def tier_changes(history: pd.DataFrame) -> pd.DataFrame:
    """Per customer at the last month: tier, previous tier, and the month the tier
    last changed ("" when it never changed since the customer's first purchase)."""
    customer, customers, month, months, tier, before = _sequences(history)
    states = np.array([*STATES, ""], dtype=object)  # code -1: ""
    labels = np.asarray(months, dtype=object)
    last = np.flatnonzero(np.r_[customer[1:] != customer[:-1], True]) if len(customer) else np.array([], int)
    inactive = STATES.index(INACTIVE)
    previous = np.where(before < 0, inactive, before)
    changed = np.flatnonzero(tier != previous)
    latest = changed[np.r_[customer[changed][1:] != customer[changed][:-1], True]] if len(changed) else changed
    previous_tier = np.full(len(customers), "", dtype=object)
    changed_on = np.full(len(customers), "", dtype=object)
    previous_tier[customer[latest]] = states[previous[latest]]
    changed_on[customer[latest]] = labels[month[latest]]
    out = pd.DataFrame({"tier": states[tier[last]]}, index=pd.Index(customers, name="customer"))
    out["previous_tier"] = pd.Series(previous_tier, index=out.index, dtype=object)
    out["changed_on"] = pd.Series(changed_on, index=out.index, dtype=history["month"].dtype)
    return out.reset_index()
