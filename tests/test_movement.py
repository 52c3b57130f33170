"""Movement between tiers over time (DOMAIN §6)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from helpers import transactions
from tierbook import Settings
from tierbook.demo import demo_path
from tierbook.movement import STATES, entries_and_exits, tier_changes, tier_history, tier_sizes, transition_matrix
from tierbook.read import read_transactions
from tierbook.segment import classify


def test_previous_tier_and_change_month_on_a_small_log():
    tx = transactions("customer date amount",
                      ("a", "2024-01-05", 100), ("b", "2024-01-06", 10), ("c", "2024-01-07", 5),
                      ("b", "2024-02-06", 10), ("c", "2024-02-07", 500), ("b", "2024-03-06", 10))
    history = tier_history(tx, Settings(window=1, good_share=0.5))
    assert history.pivot(index="customer", columns="month", values="tier").astype(str).values.tolist() == [
        ["VIP", "inactive", "inactive"],  # a: January's VIP, then silent (window of 1 month)
        ["Good", "Good", "VIP"],  # b: the only Good candidate in February, sole payer in March
        ["Regular", "VIP", "inactive"],
    ]
    changes = tier_changes(history).set_index("customer")
    assert changes.loc["a"].tolist() == ["inactive", "VIP", "2024-02"]
    assert changes.loc["b"].tolist() == ["VIP", "Good", "2024-03"]
    assert changes.loc["c"].tolist() == ["inactive", "VIP", "2024-03"]
    matrix = transition_matrix(history, "2024-03")
    assert matrix.loc["Good", "VIP"] == 1 and matrix.loc["VIP", "inactive"] == 1
    assert matrix.loc["inactive", "inactive"] == 1


@pytest.fixture(scope="module")
def demo():
    tx, _ = read_transactions(demo_path())
    return tx, tier_history(tx)


def test_the_last_month_of_the_history_is_the_classification(demo):
    tx, history = demo
    result = classify(tx)
    last = history[history["month"] == result.analysis_month].set_index("customer")["tier"].astype(str)
    expected = result.customers.set_index("customer")["tier"].replace("", "inactive")
    pd.testing.assert_series_equal(last.loc[expected.index], expected, check_names=False)


def test_the_matrix_sums_to_the_customer_counts_of_both_months(demo):
    _, history = demo
    sizes = tier_sizes(history).set_index("month")
    months = sizes.index.tolist()
    for before, now in zip(months, months[1:]):
        matrix = transition_matrix(history, now)
        assert matrix.sum(axis=1).tolist() == sizes.loc[before, STATES].tolist()
        assert matrix.sum(axis=0).tolist() == sizes.loc[now, STATES].tolist()
        assert int(matrix.to_numpy().sum()) == history["customer"].nunique()


def test_vip_entries_and_exits_on_cdnow_equal_the_differences_of_successive_ledgers():
    path = Path(importlib.util.find_spec("lifetimes").submodule_search_locations[0]) / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    tx = pd.DataFrame({"customer": raw["customer_id"], "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                       "amount": raw["dollar_value"].astype("float64")})
    settings = Settings(window=3)
    history = tier_history(tx, settings)
    vip = classify(tx, settings).monthly_vip
    months = sorted(history["month"].unique())
    vip_month = pd.PeriodIndex(vip["month"], freq="M")

    def ledger(month: str) -> set:  # customers with a VIP month in the window ending at `month`
        end = pd.Period(month, "M")
        return set(vip.loc[(vip_month > end - settings.window) & (vip_month <= end), "customer"])

    moves = entries_and_exits(history)
    moves = moves[moves["tier"] == "VIP"].set_index("month")
    for before, now in zip(months, months[1:]):
        assert moves.loc[now, "entered"] == len(ledger(now) - ledger(before)), now
        assert moves.loc[now, "left"] == len(ledger(before) - ledger(now)), now
