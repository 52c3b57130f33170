"""Reactivation A/B tests: planning, conversions, and the statistics against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import transactions
from tierbook.reactivation import (check_log, chi2_sf, chi_square, conversions, holm, plan, sample_size, two_proportion,
                                   variant_results, verdict, wilson)


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
    assert (v.best, v.significant, v.differ, v.contacts_needed) == ("A", True, True, 0)
    assert v.text.startswith("Variant A converts best (30% against 11% for C), and the difference is significant")
    assert "after the Holm correction for 2 comparisons" in v.text and v.text.endswith("Use A.")


def test_verdict_says_how_many_more_contacts_are_needed():
    results = pd.DataFrame({"variant": list("AB"), "contacted": [40, 40], "converted": [8, 5], "revenue_after": [0.0, 0.0]})
    results["rate"] = results["converted"] / results["contacted"]
    v = verdict(results)
    needed = sample_size(0.2, 0.125)
    assert (v.best, v.significant, v.differ, v.contacts_needed) == ("A", False, False, needed)
    assert needed > 40
    assert "the variants do not differ significantly yet" in v.text
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


def rates(contacted, converted) -> pd.DataFrame:
    out = pd.DataFrame({"variant": list("ABCDE"[:len(contacted)]), "contacted": contacted, "converted": converted,
                        "revenue_after": 0.0})
    return out.assign(rate=out["converted"] / out["contacted"])


def holm_reference(p: list[float], alpha: float) -> list[bool]:
    """Holm's procedure by its definition: reject the i-th smallest while p_(i) <= alpha / (m - i + 1)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    reject = [False] * len(p)
    for step, i in enumerate(order):
        if p[i] > alpha / (len(p) - step):
            break
        reject[i] = True
    return reject


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03], [0.001, 0.2, 0.012, 0.049], [0.5], [0.02, 0.02, 0.9, 0.0001]])
def test_holm_adjusted_p_values_reject_exactly_what_the_step_down_procedure_rejects(p):
    adjusted = holm(np.array(p))
    for alpha in (0.01, 0.02, 0.03, 0.05, 0.1):
        assert (adjusted <= alpha).tolist() == holm_reference(p, alpha)
    assert (adjusted >= np.array(p)).all() and (adjusted <= 1).all()


def test_verdict_corrects_the_winner_for_several_comparisons_against_scipy():
    # the variants differ (D and E are poor), and A against B alone would pass (p = 0.047),
    # but A against B and C, with four comparisons, does not after the Holm correction
    results = rates([200] * 5, [36, 22, 22, 10, 10])
    v = verdict(results)
    pairs = [stats.chi2_contingency(np.array([[36, 164], [k, 200 - k]]), correction=False).pvalue for k in (22, 22, 10, 10)]
    assert v.p_best_vs_next == pytest.approx(pairs[0], rel=1e-9) and pairs[0] < 0.05
    expected_holm = max(min(1.0, p * m) for p, m in zip(sorted(pairs), (4, 3, 2, 1)))
    assert v.p_best_adjusted == pytest.approx(expected_holm, rel=1e-9)
    overall = stats.chi2_contingency(np.column_stack([results["converted"], 200 - results["converted"]]),
                                     correction=False).pvalue
    assert v.p_value == pytest.approx(overall, rel=1e-9)
    assert overall < 0.001 and expected_holm > 0.05
    assert (v.best, v.significant, v.differ) == ("A", False, True)
    assert v.contacts_needed == sample_size(0.18, 0.11, 0.05 / 4) > sample_size(0.18, 0.11)
    assert v.text.startswith("The variants differ (chi-square p < 0.001), but no single variant is best yet")


def test_verdict_when_the_variants_differ_but_the_leaders_tie():
    v = verdict(rates([100, 100, 100], [30, 30, 5]))
    assert (v.best, v.differ, v.significant, v.contacts_needed) == ("A", True, False, 0)
    assert v.text.startswith("The variants differ (chi-square p < 0.001), but no single variant is best yet")


def test_verdict_in_russian():
    v = verdict(rates([200, 200, 200], [60, 20, 22]), lang="ru")
    assert v.text.startswith("Лучше всех покупают после варианта A (30% против 11% у C)")
    assert v.text.endswith("Используйте A.")
    assert "needed" not in verdict(rates([40, 40], [8, 5]), lang="ru").text


def test_contacts_outside_the_plan_or_with_another_variant_are_reported_not_counted():
    assignments = pd.DataFrame({"customer": ["a", "b", "c"], "variant": ["A", "B", "A"]})
    log = pd.DataFrame({"customer": ["a", "b", "stranger", "c", "a"],
                        "date": pd.to_datetime(["2026-01-10"] * 5), "variant": ["A", "A", "B", "A", "A"]},
                       index=pd.Index([2, 3, 4, 5, 6]))
    kept, issues = check_log(log, assignments, "Contact log", "Customer", "Variant")
    assert kept.index.tolist() == [2, 5, 6]
    assert issues.values.tolist() == [
        ["Contact log", 3, "Variant", "A", "variant A is not the planned variant B, not counted"],
        ["Contact log", 4, "Customer", "stranger", "customer is not in the reactivation plan, not counted"],
    ]
    tx = transactions("customer date amount", ("b", "2026-01-20", 500), ("stranger", "2026-01-20", 900),
                      ("a", "2026-01-15", 10))
    results = variant_results(conversions(kept, tx, 60)).set_index("variant")
    assert results[["contacted", "converted"]].to_dict("index") == {"A": {"contacted": 2, "converted": 1}}
