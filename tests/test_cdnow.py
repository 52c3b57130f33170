"""Anchor check on a real transaction log: CDNOW, as shipped in the lifetimes wheel.

tierbook's per-customer frequency, recency, T and monetary value must equal what
lifetimes computes from the same file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierbook import Settings
from tierbook.segment import classify, purchase_summary

CDNOW = Path(importlib.util.find_spec("lifetimes").submodule_search_locations[0]) / "datasets" / "CDNOW_master.txt"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    raw = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame({
        "customer": raw["customer_id"],
        "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["dollar_value"].astype("float64"),
        "units": raw["number_of_cds"].astype("float64"),
    })


def test_frequency_recency_t_and_monetary_value_equal_lifetimes(cdnow):
    from lifetimes.utils import summary_data_from_transaction_data

    expected = summary_data_from_transaction_data(cdnow, "customer", "date", monetary_value_col="amount")
    ours = purchase_summary(cdnow)
    assert len(ours) == len(expected) == 23570
    expected = expected.sort_index()
    ours = ours.loc[expected.index]
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), expected[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(ours["monetary_value"].to_numpy(), expected["monetary_value"].to_numpy(), rtol=1e-9)


def test_the_customers_table_agrees_with_the_summary(cdnow):
    result = classify(cdnow, Settings())
    summary = purchase_summary(cdnow)
    c = result.customers.set_index("customer").loc[summary.index]
    np.testing.assert_array_equal((c["purchase_days"] - 1).to_numpy(), summary["frequency"].to_numpy())
    np.testing.assert_array_equal((c["last_purchase"] - c["first_purchase"]).dt.days.to_numpy(),
                                  summary["recency"].to_numpy())
    assert result.analysis_month == "1998-06"
    assert set(result.customers["tier"]) == {"VIP", "Good", "Regular", ""}
