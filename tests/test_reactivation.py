"""Reactivation A/B tests: planning, conversions, and the statistics against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import transactions
from tierbook.reactivation import (chi2_sf, chi_square, conversions, plan, sample_size, two_proportion, variant_results,
                                   verdict, wilson)


def one_time_buyers(n: int, managers=("Anna", "Ivan"), consent=True) -> pd.DataFrame:
    return pd.DataFrame({
        "customer": [f"c{i:03d}" for i in range(n)],
        "lifecycle": "one-time",
        "consent": consent,
        "manager": [managers[i % len(managers)] for i in range(n)],
        "revenue": [float(10 + (i * 37) % 500) for i in range(n)],
        "channel": "email", "contact_time": "", "email": "", "phone": "",
    })


def test_plan_takes_only_one_time_buyers_with_consent():
    customers = pd.concat([one_time_buyers(4), one_time_buyers(2, consent=False).assign(customer=["x1", "x2"]),
                           one_time_buyers(2).assign(customer=["p1", "p2"], lifecycle="permanent")])
    planned = plan(customers, variants=2, seed=7, planned_on=pd.Timestamp("2026-11-01"))
    assert sorted(planned["customer"]) == ["c000", "c001", "c002", "c003"]
    assert set(planned["planned_on"]) == {pd.Timestamp("2026-11-01")}


def test_plan_is_reproducible_and_balanced_in_every_stratum():
    customers = one_time_buyers(120)
    a = plan(customers, variants=3, seed=42, planned_on=pd.Timestamp("2026-11-01"))
    b = plan(customers.sample(frac=1, random_state=1), variants=3, seed=42, planned_on=pd.Timestamp("2026-11-01"))
    pd.testing.assert_frame_equal(a, b)
    per_stratum = a.groupby(["stratum", "variant"]).size().unstack(fill_value=0)
    assert (per_stratum.max(axis=1) - per_stratum.min(axis=1)).max() <= 1
    assert set(a["variant"]) == {"A", "B", "C"}
    assert a["variant"].value_counts().max() - a["variant"].value_counts().min() <= len(per_stratum)
    other_seed = plan(customers, variants=3, seed=43, planned_on=pd.Timestamp("2026-11-01"))
    assert not other_seed.set_index("customer")["variant"].equals(a.set_index("customer")["variant"])


def test_replanning_keeps_assignments_and_only_adds_new_customers():
    first = plan(one_time_buyers(30), variants=2, seed=5, planned_on=pd.Timestamp("2026-11-01"))
    again = plan(one_time_buyers(40), variants=2, seed=5, planned_on=pd.Timestamp("2026-12-01"), existing=first)
    kept = again.set_index("customer").loc[first["customer"]]
    assert (kept["variant"] == first.set_index("customer")["variant"]).all()
    assert (kept["planned_on"] == pd.Timestamp("2026-11-01")).all()
    added = again[~again["customer"].isin(first["customer"])]
    assert sorted(added["customer"]) == [f"c{i:03d}" for i in range(30, 40)]
    assert (added["planned_on"] == pd.Timestamp("2026-12-01")).all()
    per_stratum = again.groupby(["stratum", "variant"]).size().unstack(fill_value=0)
    assert (per_stratum.max(axis=1) - per_stratum.min(axis=1)).max() <= 1


def test_plan_refuses_more_than_five_variants():
    with pytest.raises(ValueError, match="^variants must be between 1 and 5, got 6$"):
        plan(one_time_buyers(3), variants=6, seed=1, planned_on=pd.Timestamp("2026-11-01"))


def test_conversion_is_a_purchase_within_response_days_after_the_contact():
    log = pd.DataFrame({"customer": ["in", "edge", "late", "same-day", "before", "none"],
                        "date": pd.to_datetime(["2026-01-10"] * 6), "variant": list("AABBAB")})
    tx = transactions("customer date amount",
                      ("in", "2026-02-01", 100), ("in", "2026-02-02", 50),
                      ("edge", "2026-03-11", 70),  # day 60: inside
                      ("late", "2026-03-12", 80),  # day 61: outside
                      ("same-day", "2026-01-10", 90),  # the contact day itself is not "after"
                      ("before", "2026-01-05", 60), ("in", "2026-01-09", 1000))
    got = conversions(log, tx, response_days=60).set_index("customer")
    assert got["converted"].to_dict() == {"in": True, "edge": True, "late": False, "same-day": False,
                                          "before": False, "none": False}
    assert got.loc["in", "revenue_after"] == 150.0
    results = variant_results(conversions(log, tx, 60)).set_index("variant")
    assert results[["contacted", "converted"]].to_dict("index") == {"A": {"contacted": 3, "converted": 2},
                                                                    "B": {"contacted": 3, "converted": 0}}
    assert results.loc["A", "revenue_after"] == 220.0


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (17, 250), (1, 1)])
def test_wilson_interval_equals_scipy(k, n):
    low, high = wilson(np.array([k]), np.array([n]))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low[0] == pytest.approx(ci.low, abs=1e-9) and high[0] == pytest.approx(ci.high, abs=1e-9)


@pytest.mark.parametrize("table", [
    [[12, 88], [25, 75]],
    [[12, 88], [25, 75], [18, 82]],
    [[5, 45], [9, 41], [14, 36], [3, 47]],
    [[30, 70], [31, 69], [29, 71], [35, 65], [20, 80]],
])
def test_chi_square_equals_scipy(table):
    statistic, dof, p = chi_square(np.array(table))
    expected = stats.chi2_contingency(np.array(table), correction=False)
    assert (statistic, dof) == (pytest.approx(expected.statistic, rel=1e-12), expected.dof)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("x, dof", [(0.5, 1), (3.84, 1), (7.2, 2), (11.3, 3), (9.49, 4), (2.0, 5), (40.0, 7)])
def test_chi2_survival_function_equals_scipy(x, dof):
    assert chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-10)


def test_two_proportion_test_equals_the_2x2_chi_square_of_scipy():
    z, p = two_proportion(25, 100, 12, 100)
    expected = stats.chi2_contingency(np.array([[25, 75], [12, 88]]), correction=False)
    assert z * z == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_verdict_names_a_significant_winner():
    results = pd.DataFrame({"variant": list("ABC"), "contacted": [200, 200, 200], "converted": [60, 20, 22],
                            "revenue_after": [0.0, 0.0, 0.0]})
    results["rate"] = results["converted"] / results["contacted"]
    v = verdict(results)
    assert (v.best, v.significant, v.contacts_needed) == ("A", True, 0)
    assert v.text.startswith("Variant A converts best (30% against 11% for C), and the difference is significant")


def test_verdict_says_how_many_more_contacts_are_needed():
    results = pd.DataFrame({"variant": list("AB"), "contacted": [40, 40], "converted": [8, 5], "revenue_after": [0.0, 0.0]})
    results["rate"] = results["converted"] / results["contacted"]
    v = verdict(results)
    needed = sample_size(0.2, 0.125)
    assert (v.best, v.significant, v.contacts_needed) == ("A", False, needed)
    assert needed > 40
    assert v.text.endswith(f"About {needed} contacts per variant are needed to tell, {needed - 40} more for each.")


def test_contact_log_is_validated_like_any_input():
    from tierbook.read import clean_contact_log

    raw = pd.DataFrame({
        "Клиент": [" c001 ", "c002", None, "c004", "c005", None],
        "Дата контакта": ["19.11.2026", "2026-11-20", "2026-11-21", "yesterday", "2026-11-22", None],
        "Вариант": ["a", "B", "A", "A", "F", None],
        "Канал": ["e-mail", "звонок", "sms", "", "fax", None],
        "Результат": ["will think", "", "", "", "", None],
    })
    log, issues = clean_contact_log(raw, sheet="Contact log", variants="AB")
    assert log.index.tolist() == [2, 3]
    assert log.drop(columns="note").to_dict("list") == {"customer": ["c001", "c002"],
                                   "date": [pd.Timestamp("2026-11-19"), pd.Timestamp("2026-11-20")],
                                   "variant": ["A", "B"], "channel": ["email", "phone"]}
    assert log["note"].iloc[0] == "will think" and pd.isna(log["note"].iloc[1])
    assert issues[["row", "column", "problem"]].values.tolist() == [
        [4, "Клиент", "customer is empty"],
        [5, "Дата контакта", "not a date"],
        [6, "Вариант", "not a variant (A, B)"],
        [6, "Канал", "not email, sms or phone, left empty"],
        [7, "", "blank row, skipped"],
    ]
