"""The rules of DOMAIN.md §1–5 on small tables with exact answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import by_customer, transactions
from tierbook import InputError, Settings
from tierbook.segment import classify, cut_count


def test_cut_count_is_ceil_without_float_noise():
    assert cut_count(0.2, 15) == 3  # 0.2 × 15 is 3.0000000000000004 in floats
    assert cut_count(0.2, 16) == 4
    assert cut_count(0.2, 1) == 1
    assert cut_count(0.2, 0) == 0


def test_tie_at_cut_off_is_vip_and_good_is_top_share_of_the_rest():
    # 5 payers → k = ceil(0.2 × 5) = 1, but b ties with a; of c, d, e: ceil(0.2 × 3) = 1 is Good
    tx = transactions("customer date amount",
                      ("a", "2024-01-03", 100), ("b", "2024-01-04", 100), ("c", "2024-01-05", 50),
                      ("d", "2024-01-06", 10), ("e", "2024-01-07", 5))
    result = classify(tx)
    assert result.monthly_vip.to_dict("list") == {
        "month": ["2024-01", "2024-01"], "customer": ["a", "b"], "value": [100.0, 100.0], "rank": [1, 1]}
    assert by_customer(result, "tier") == {"a": "VIP", "b": "VIP", "c": "Good", "d": "Regular", "e": "Regular"}


def test_month_with_one_payer_has_that_payer_as_vip():
    tx = transactions("customer date amount", ("a", "2024-01-10", 5), ("b", "2024-02-10", 7))
    result = classify(tx)
    assert result.monthly_vip[["month", "customer", "rank"]].values.tolist() == [["2024-01", "a", 1], ["2024-02", "b", 1]]


def test_refunds_that_make_a_month_zero_or_negative_take_the_customer_out_of_that_month():
    tx = transactions("customer date amount",
                      ("a", "2024-02-01", 100), ("a", "2024-02-15", -100),  # net 0: not a payer
                      ("x", "2024-02-02", 80), ("x", "2024-02-20", -150),  # net -70: not a payer
                      ("b", "2024-02-03", 30), ("c", "2024-02-04", 20))
    result = classify(tx)
    # payers are b and c only: k = ceil(0.2 × 2) = 1
    assert result.monthly_vip["customer"].tolist() == ["b"]
    assert by_customer(result, "revenue") == {"a": 0.0, "b": 30.0, "c": 20.0, "x": -70.0}
    # a and x bought in the window, so they are active; their window value is not positive
    assert by_customer(result, "tier") == {"a": "Regular", "b": "VIP", "c": "Good", "x": "Regular"}


def test_ledger_entries_and_exits_follow_the_window():
    tx = transactions("customer date amount",
                      ("a", "2024-01-05", 100), ("b", "2024-02-05", 10), ("b", "2024-03-05", 10),
                      ("a", "2024-04-05", 100))
    result = classify(tx, Settings(window=2))
    assert result.ledger_flow.to_dict("list") == {
        "month": ["2024-01", "2024-02", "2024-03", "2024-04"],
        "entered": [1, 1, 0, 1],  # a, b, -, a again after a gap longer than the window
        "left": [0, 0, 1, 0],  # a leaves two months after January
        "size": [1, 2, 1, 2],
    }
    ledger = result.ledger.set_index("customer")
    assert ledger.loc["a", ["first_vip", "last_vip", "vip_months", "status", "left_on"]].tolist() == [
        "2024-01", "2024-04", 2, "current VIP", ""]
    assert ledger.loc["a", ["2024-01", "2024-02", "2024-03", "2024-04"]].tolist() == [1, pd.NA, pd.NA, 1]
    assert ledger.loc["b", "status"] == "current VIP"


def test_former_vip_is_good_and_inactive_customers_have_no_tier():
    tx = transactions("customer date amount",
                      ("big", "2024-01-05", 1000),  # VIP in January, then silent
                      ("big", "2024-08-05", 1),  # buys a little in the window: active, former VIP
                      ("gone", "2024-02-06", 500),  # February's VIP, no purchase in the window
                      *[(f"r{i}", "2024-08-10", 10 * i) for i in range(1, 6)])
    result = classify(tx, Settings(window=3))  # window 2024-06 .. 2024-08
    tiers = by_customer(result, "tier")
    assert tiers["big"] == "Good"
    assert tiers["gone"] == ""
    # August payers: big 1, r1..r5 → k = ceil(0.2 × 6) = 2: r5, r4 are VIP;
    # Good candidates big, r1, r2, r3 → ceil(0.2 × 4) = 1: r3 (and big as a former VIP)
    assert [tiers[f"r{i}"] for i in range(1, 6)] == ["Regular", "Regular", "Good", "VIP", "VIP"]
    assert result.ledger.set_index("customer").loc["gone", ["status", "left_on"]].tolist() == ["dropped out", "2024-05"]


def test_lost_vip_is_a_monthly_vip_silent_for_more_than_lost_after_months():
    tx = transactions("customer date amount",
                      ("whale", "2024-01-10", 5000), ("small", "2024-01-11", 10),
                      ("small", "2024-06-11", 10), ("late", "2024-04-02", 10))
    result = classify(tx)  # M = 2024-06
    assert result.lost_vip[["customer", "last_vip", "months_silent"]].values.tolist() == [["whale", "2024-01", 5]]
    # whole-period alternative: ranks window totals, so the whale is its VIP
    assert by_customer(result, "tier_whole_period")["whale"] == "VIP"
    assert by_customer(result, "tier")["whale"] == "VIP"  # still in the ledger: January is in the window


def test_each_lifecycle_class():
    rows = [
        ("new", "2024-12-20", 100, 10),
        ("once", "2024-06-01", 100, 10),
        *[("steady", d, 100, 10) for d in ("2024-09-01", "2024-10-01", "2024-11-01", "2024-12-01")],
        ("twice", "2024-03-01", 100, 10), ("twice", "2024-06-01", 100, 10),
        *[("now-and-then", d, 100, 10) for d in ("2023-01-01", "2023-02-01", "2023-03-01")],
        ("lapsed", "2021-01-01", 100, 10), ("lapsed", "2022-01-01", 100, 10),
        ("listed", "2024-05-05", 0, 0),
        *[("loss", d, 100, -30) for d in ("2024-10-01", "2024-11-01", "2024-12-01")],
    ]
    tx = transactions("customer date amount margin", *rows)
    result = classify(tx, Settings(month="2024-12"))  # as of 2024-12-31
    assert by_customer(result, "lifecycle") == {
        "new": "new", "once": "one-time", "steady": "permanent", "twice": "permanent",
        "now-and-then": "occasional", "lapsed": "potential", "listed": "potential", "loss": "unprofitable"}
    assert by_customer(result, "contacts_per_year")["loss"] == 0
    assert by_customer(result, "owner")["once"] == "acquisition"
    assert by_customer(result, "owner")["steady"] == "account management"
    plan = result.contact_plan.set_index("lifecycle")["customers"].to_dict()
    assert plan == {"new": 1, "one-time": 1, "permanent": 2, "occasional": 1, "potential": 2, "unprofitable": 1}


def test_permanent_needs_a_purchase_within_active_factor_times_the_cycle():
    days = ("2024-01-01", "2024-02-01", "2024-03-01")  # gaps 31, 29 → cycle 30, limit 45 days
    tx = transactions("customer date amount", *[("c", d, 10) for d in days], ("anchor", "2024-04-15", 1))
    assert by_customer(classify(tx), "lifecycle")["c"] == "permanent"  # 45 days after 2024-03-01
    tx = transactions("customer date amount", *[("c", d, 10) for d in days], ("anchor", "2024-04-16", 1))
    assert by_customer(classify(tx), "lifecycle")["c"] == "occasional"  # 46 days


def test_rhythm_next_purchase_and_reminder_respect_consent():
    rows = [
        *[("regular", d, 10, "yes") for d in ("2024-01-01", "2024-03-01", "2024-04-30")],  # gaps 60, 60
        *[("chaotic", d, 10, "yes") for d in ("2024-01-01", "2024-01-11", "2024-03-01", "2024-03-31")],  # 10, 50, 30
        *[("yearly", d, 10, "yes") for d in ("2022-05-01", "2023-05-01", "2024-05-01")],  # 365, 366
        *[("silent", d, 10, "no") for d in ("2024-01-01", "2024-03-01", "2024-04-30")],
        ("two", "2024-01-01", 10, "yes"), ("two", "2024-02-01", 10, "yes"),
    ]
    tx = transactions("customer date amount consent", *rows)
    tx["consent"] = tx["consent"].eq("yes").astype("boolean")
    c = classify(tx).customers.set_index("customer")
    assert c.loc["regular", ["rhythm", "cycle_days"]].tolist() == ["regular", 60.0]
    assert c.loc["regular", "next_purchase"] == pd.Timestamp("2024-06-29")
    assert c.loc["regular", "remind_on"] == pd.Timestamp("2024-06-14")  # lead 25% of 60 = 15 days
    assert c.loc["chaotic", ["rhythm", "cycle_days"]].tolist() == ["chaotic", 30.0]  # CV 0.54
    assert c.loc["yearly", ["rhythm", "cycle_days"]].tolist() == ["yearly", 365.5]
    assert c.loc["yearly", "remind_on"] == c.loc["yearly", "next_purchase"] - pd.Timedelta(days=45)  # clamped
    assert c.loc["silent", "next_purchase"] == pd.Timestamp("2024-06-29")
    assert pd.isna(c.loc["silent", "remind_on"])  # no consent: never scheduled
    assert c.loc["two", "rhythm"] == "" and pd.isna(c.loc["two", "cycle_days"])  # 2 purchase days: unknown


def test_new_customer_gets_a_follow_up_call_only_with_consent():
    tx = transactions("customer date amount consent",
                      ("yes", "2024-06-20", 10, True), ("no", "2024-06-21", 10, False), ("old", "2024-01-02", 1, True))
    c = classify(tx, Settings(follow_up_days=5)).customers.set_index("customer")
    assert c.loc["yes", "follow_up_on"] == pd.Timestamp("2024-06-25")
    assert pd.isna(c.loc["no", "follow_up_on"])
    assert pd.isna(c.loc["old", "follow_up_on"])


def test_without_a_consent_column_nobody_is_scheduled_unless_the_setting_says_so():
    days = ("2024-01-01", "2024-02-01", "2024-03-01")
    tx = transactions("customer date amount", *[("c", d, 10) for d in days])
    assert pd.isna(classify(tx).customers["remind_on"].iloc[0])
    assert pd.notna(classify(tx, Settings(consent_if_missing=True)).customers["remind_on"].iloc[0])


def test_size_tiers_of_repeat_customers_by_average_payment():
    rows = [(f"c{i}", d, 100 * i) for i in range(1, 11) for d in ("2024-01-05", "2024-02-05")]
    tx = transactions("customer date amount", *rows, ("single", "2024-02-06", 99999))
    tiers = by_customer(classify(tx), "size_tier")
    assert tiers == {"c10": "huge", "c9": "medium", "c8": "medium", "c7": "medium",
                     **{f"c{i}": "small" for i in range(1, 7)}, "single": "one-time"}


def test_quadrant_splits_payments_and_average_payment_at_the_medians():
    rows = [("many-big", "2024-01-01", 500), ("many-big", "2024-01-02", 500), ("many-big", "2024-01-03", 500),
            ("many-small", "2024-01-01", 10), ("many-small", "2024-01-02", 10), ("many-small", "2024-01-03", 10),
            ("few-big", "2024-01-01", 900), ("few-small", "2024-01-01", 5), ("mid", "2024-01-01", 50),
            ("mid", "2024-01-02", 50)]
    quadrants = by_customer(classify(transactions("customer date amount", *rows)), "quadrant")
    # payments 3, 3, 1, 1, 2 → median 2; averages 500, 10, 900, 5, 50 → median 50
    assert quadrants == {"many-big": "high volume, high value", "many-small": "high volume, low value",
                         "few-big": "low volume, high value", "few-small": "low volume, low value",
                         "mid": "low volume, low value"}


def test_concentration_metrics_and_alert():
    tx = transactions("customer date amount",
                      ("a", "2024-01-01", 60), ("b", "2024-01-01", 20), ("c", "2024-01-01", 10),
                      ("d", "2024-01-01", 5), ("e", "2024-01-01", 5), ("z", "2024-01-01", -3))
    row = classify(tx).concentration.iloc[0]
    assert row["basis"] == "revenue"
    assert row[["top1_share", "top3_share", "top5_share", "herfindahl"]].astype(float).round(6).tolist() == [
        0.6, 0.9, 1.0, 0.415]
    assert row["customers_for_80pct"] == 2
    assert row["alert"]
    assert row["alert_reason"] == ("the top 3 customers give 90% of revenue (alert at 50%); "
                                   "one customer gives 60% of revenue (alert at 20%)")
    assert row["top_customers"] == "a (60%), b (20%), c (10%)"


def test_concentration_uses_profit_when_margin_is_known_and_no_alert_below_thresholds():
    rows = [(f"c{i}", "2024-01-01", 100, 10) for i in range(20)]
    row = classify(transactions("customer date amount margin", *rows)).concentration.iloc[0]
    assert (row["basis"], bool(row["alert"]), row["customers_for_80pct"]) == ("profit", False, 16)
    assert row["top3_share"] == pytest.approx(0.15)


def test_payments_criterion_counts_an_order_split_over_lines_once():
    tx = transactions("customer date amount order_id",
                      ("a", "2024-01-01", 10, "o1"), ("a", "2024-01-01", 10, "o1"), ("a", "2024-01-02", 10, "o2"),
                      ("b", "2024-01-01", 1, None), ("b", "2024-01-02", 1, None), ("b", "2024-01-03", 1, None),
                      ("c", "2024-01-01", 100, "o3"), ("c", "2024-01-05", -100, "o4"))
    result = classify(tx, Settings(criterion="payments", share=0.3))
    assert by_customer(result, "payments") == {"a": 2, "b": 3, "c": 1}
    assert result.monthly_vip["customer"].tolist() == ["b"]  # k = ceil(0.3 × 3) = 1


def test_units_and_profit_criteria_rank_by_their_own_column():
    tx = transactions("customer date amount units margin",
                      ("a", "2024-01-01", 100, 1, 50), ("b", "2024-01-01", 10, 9, 1), ("c", "2024-01-01", 50, 2, 5))
    assert classify(tx, Settings(criterion="units")).monthly_vip["customer"].tolist() == ["b"]
    assert classify(tx, Settings(criterion="profit")).monthly_vip["customer"].tolist() == ["a"]
    with pytest.raises(InputError, match="^criterion units needs a units column, and the transactions have none$"):
        classify(tx.drop(columns="units"), Settings(criterion="units"))


def test_analysis_month_ignores_later_transactions():
    tx = transactions("customer date amount", ("a", "2024-01-05", 10), ("b", "2024-06-05", 10), ("a", "2024-12-05", 99))
    result = classify(tx, Settings(month="2024-06"))
    assert (result.analysis_month, result.as_of) == ("2024-06", pd.Timestamp("2024-06-30"))
    assert by_customer(result, "revenue") == {"a": 10.0, "b": 10.0}
    assert result.ledger_flow["month"].tolist()[-1] == "2024-06"


def test_totals_are_empty_where_the_input_has_no_such_column():
    c = classify(transactions("customer date amount", ("a", "2024-01-05", 10))).customers
    assert np.isnan(c.loc[0, "units"]) and np.isnan(c.loc[0, "profit"])


def test_settings_reject_impossible_values():
    with pytest.raises(ValueError, match="share must be in"):
        Settings(share=0)
    with pytest.raises(ValueError, match="month must look like YYYY-MM, got '2024-13'"):
        Settings(month="2024-13")


def test_the_python_api_takes_an_export_as_it_is():
    import tierbook

    export = pd.DataFrame({"Клиент": [" Acme ", "Beta", "Итого"], "Дата": ["19.11.2025", 45980, None],
                           "Сумма": ["1 234,56", "n/a", "1234,56"]})
    result = tierbook.segment(export, Settings(), sheet="Продажи")
    assert result.customers[["customer", "revenue", "first_purchase"]].values.tolist() == [
        ["Acme", 1234.56, pd.Timestamp("2025-11-19")]]
    assert result.issues[["sheet", "row", "column", "problem"]].values.tolist() == [
        ["Продажи", 3, "Сумма", "not a number"], ["Продажи", 4, "", "totals row, skipped"]]


# --------------------------------------------------------------------------- edge cases of the reference (issue 13)


def test_is_purchase_is_a_positive_amount_or_free_units_never_a_refund():
    from tierbook.segment import is_purchase

    amount = np.array([10.0, 0.0, 0.0, -5.0, -5.0, np.nan, 0.0])
    units = np.array([np.nan, 3.0, 0.0, 2.0, np.nan, 4.0, np.nan])
    assert is_purchase(amount, units).tolist() == [True, True, False, False, False, False, False]


def test_a_refund_with_positive_units_is_not_a_purchase_day():
    tx = transactions("customer date amount units",
                      # one order, fully refunded a month later (the export keeps units positive)
                      ("single", "2024-01-10", 100, 2), ("single", "2024-02-10", -100, 2),
                      # purchases every 30 days and a refund in between
                      ("steady", "2024-01-01", 50, 1), ("steady", "2024-01-11", -20, 1),
                      ("steady", "2024-01-31", 50, 1), ("steady", "2024-03-01", 50, 1),
                      ("free", "2024-03-01", 0, 5),  # goods given for free: a purchase
                      ("x", "2024-06-01", 10, 1))
    result = classify(tx)
    assert by_customer(result, "purchase_days") == {"single": 1, "steady": 3, "free": 1, "x": 1}
    assert by_customer(result, "lifecycle")["single"] == "one-time"
    assert by_customer(result, "last_purchase")["single"] == pd.Timestamp("2024-01-10")
    assert by_customer(result, "cycle_days")["steady"] == 30.0
    assert by_customer(result, "revenue")["single"] == 0.0  # the refund still nets the money


def test_blank_margins_are_not_unprofitable_only_a_known_loss_is():
    tx = transactions("customer date amount margin",
                      ("blank", "2024-01-10", 100, None), ("blank", "2024-02-10", 100, None),
                      ("loss", "2024-01-10", 100, -5), ("loss", "2024-02-10", 100, None),
                      ("zero", "2024-01-12", 100, 0), ("zero", "2024-02-12", 100, 0),
                      ("part", "2024-01-10", 100, 10), ("part", "2024-02-10", 100, None))
    result = classify(tx)
    profit = by_customer(result, "profit")
    assert np.isnan(profit["blank"]) and (profit["loss"], profit["zero"], profit["part"]) == (-5.0, 0.0, 10.0)
    assert by_customer(result, "lifecycle") == {"blank": "permanent", "loss": "unprofitable",
                                                "zero": "unprofitable", "part": "permanent"}


def test_refund_only_and_zero_only_customers_are_not_active():
    tx = transactions("customer date amount units",
                      ("refund", "2024-03-05", -40, 1),  # a refund of a purchase before the data starts
                      ("zero", "2024-03-06", 0, 0), ("zero", "2024-03-07", 0, None),
                      ("free", "2024-03-08", 0, 2),
                      *[(f"r{i}", "2024-03-10", 10 * i, 1) for i in range(1, 6)])
    result = classify(tx)
    tiers = by_customer(result, "tier")
    assert (tiers["refund"], tiers["zero"], tiers["free"]) == ("", "", "Regular")
    assert by_customer(result, "tier_whole_period")["refund"] == ""
    assert by_customer(result, "purchase_days")["refund"] == 0
    assert by_customer(result, "lifecycle")["refund"] == "potential"


# --------------------------------------------------------------------------- the next action (issue 13)


def monday_frame() -> pd.DataFrame:
    yes, no, unknown = True, False, None
    rows = [
        ("lostvip", "2024-01-10", 1000, None, yes),  # January's VIP, silent since: lost
        ("lostunk", "2024-02-10", 900, None, unknown),  # February's VIP, lost, consent never asked
        ("late", "2024-01-05", 10, None, yes), ("late", "2024-02-04", 10, None, yes),
        ("late", "2024-03-05", 10, None, yes),  # cycle 30 days, expected 04-04: long past
        ("rhythm", "2024-03-02", 40, None, yes), ("rhythm", "2024-04-01", 40, None, yes),
        ("rhythm", "2024-05-01", 40, None, yes), ("rhythm", "2024-05-31", 40, None, yes),  # expected 06-30
        ("lossbig", "2024-06-10", 5000, -100, yes),  # unprofitable, the biggest account
        ("losssmall", "2024-06-11", 10, -1, yes),  # unprofitable, small
        ("refused", "2024-06-15", 30, None, no),
        ("newbie", "2024-06-20", 30, None, yes),
        ("x", "2024-06-30", 20, None, yes),
    ]
    tx = transactions("customer date amount margin consent", *rows)
    tx["consent"] = tx["consent"].astype("boolean")
    return tx


def test_one_next_action_per_customer_with_reason_and_due_date():
    result = classify(monday_frame())  # as of 2024-06-30
    c = result.customers.set_index("customer")
    got = {name: (row.action, row.action_reason, None if pd.isna(row.action_due) else str(row.action_due.date()))
           for name, row in c.iterrows()}
    assert got == {
        "lostvip": ("lost_vip", "lost_vip", "2024-06-30"),
        "lostunk": ("ask_permission", "lost_vip", "2024-06-30"),
        "lossbig": ("margin_review", "unprofitable_big", "2024-06-30"),
        "losssmall": ("no_marketing", "unprofitable_small", None),
        "refused": ("no_consent", "refused", None),
        "newbie": ("follow_up", "new", "2024-06-27"),  # 7 days after the first purchase: overdue since 06-27
        "rhythm": ("reminder", "purchase_expected", "2024-06-22"),  # lead round(0.25 × 30) = 8 days
        # occasional (12 a year): 30.4 days apart from 03-05, the first after 06-30 is 4 × 30.42 → 122 days
        "late": ("periodic", "contact_plan", "2024-07-05"),
        "x": ("follow_up", "new", "2024-07-07"),
    }
    assert c["consent_status"].to_dict() == {n: ("unknown" if n == "lostunk" else "no" if n == "refused" else "yes")
                                             for n in c.index}
    assert not c.loc["lostunk", "consent"] and pd.isna(c.loc["lostunk", "remind_on"])


def test_action_order_is_what_to_do_first():
    from tierbook.segment import action_order

    result = classify(monday_frame())
    order = result.customers["customer"].to_numpy()[action_order(result.customers, result.as_of)]
    # everything due by the analysis date (overdue included) by action, then the future dates, then no contact
    assert order.tolist() == ["lostvip", "lossbig", "newbie", "rhythm", "lostunk", "late", "x", "refused", "losssmall"]


def test_consent_has_three_states_and_consent_if_missing_decides_the_unknown():
    tx = transactions("customer date amount consent", ("a", "2024-06-01", 10, True), ("b", "2024-06-02", 10, False),
                      ("c", "2024-06-03", 10, None), ("d", "2024-06-04", 10, None), ("d", "2024-06-05", 10, False))
    tx["consent"] = tx["consent"].astype("boolean")
    assert by_customer(classify(tx), "consent_status") == {"a": "yes", "b": "no", "c": "unknown", "d": "no"}
    assert by_customer(classify(tx), "action") == {"a": "follow_up", "b": "no_consent", "c": "ask_permission",
                                                   "d": "no_consent"}
    assert by_customer(classify(tx, Settings(consent_if_missing=True)), "consent_status")["c"] == "yes"
    no_column = tx.drop(columns="consent")
    assert set(by_customer(classify(no_column), "consent_status").values()) == {"unknown"}
    assert set(by_customer(classify(no_column, Settings(consent_if_missing=True)), "consent").values()) == {True}


# --------------------------------------------------------------------------- the why and the week of a call list


def test_average_order_is_net_revenue_per_payment():
    tx = transactions("customer date amount", ("a", "2024-01-05", 100), ("a", "2024-02-05", 50),
                      ("a", "2024-02-10", -30), ("b", "2024-02-01", 70), ("r", "2024-02-03", -20))
    got = by_customer(classify(tx), "average_order")
    assert got["a"] == 60.0 and got["b"] == 70.0 and np.isnan(got["r"])  # r: a refund only, no payment


def test_calls_per_manager_count_from_the_analysis_date():
    from tierbook.segment import manager_workload

    customers = pd.DataFrame({
        "manager": ["Ann", "Ann", "Ann", "Bob", "Bob", "", "Bob"],
        "action": ["reminder", "lost_vip", "periodic", "follow_up", "no_consent", "reminder", "no_marketing"],
        "action_due": pd.to_datetime(["2024-06-01", "2024-06-30", "2024-07-06", "2024-07-07", None, "2024-06-29",
                                      None]),
    })
    got = manager_workload(customers, pd.Timestamp("2024-06-30"))
    # the most overdue first, then the busiest week; a customer without a manager under ""
    assert got.to_dict("list") == {"manager": ["Ann", "", "Bob"], "overdue": [1, 1, 0], "due_this_week": [2, 0, 0],
                                   "later": [0, 0, 1], "calls": [3, 1, 1]}


def test_calls_per_manager_of_a_classification():
    from tierbook.segment import manager_workload

    result = classify(monday_frame())  # as of 2024-06-30; nobody has a manager
    got = manager_workload(result.customers, result.as_of)
    # overdue: newbie (06-27), rhythm (06-22); this week 06-30..07-06: lostvip, lostunk, lossbig, late (07-05);
    # later: x (07-07); refused and losssmall are no call
    assert got.to_dict("list") == {"manager": [""], "overdue": [2], "due_this_week": [4], "later": [1], "calls": [7]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_purchase_stats_are_those_of_a_pandas_groupby_of_the_purchase_days(seed):
    """segment.purchase_stats (numpy, one sort of the gaps) against pandas' groupby of the
    same purchase days: counts, first and last day, the gaps' median (even and odd counts,
    equal gaps), sum and sum of squares, NaN gaps for a single purchase day."""
    from tierbook.segment import purchase_stats

    rng = np.random.default_rng(seed)
    days = pd.DataFrame({"code": rng.integers(0, 400, 5_000) * 3, "day": rng.integers(-400, 2_000, 5_000)})
    single = pd.DataFrame({"code": [1, 4, 7], "day": [-3, 0, 9]})  # one purchase day each
    even = pd.DataFrame({"code": [2] * 5, "day": [0, 5, 10, 20, 50]})  # gaps 5, 5, 10, 30
    days = pd.concat([days, single, even]).drop_duplicates().sort_values(["code", "day"], ignore_index=True)
    gaps = days.assign(gap=days.groupby("code")["day"].diff()).dropna(subset=["gap"])
    by_gap = gaps.groupby("code")["gap"]
    expected = days.groupby("code")["day"].agg(purchase_days="size", first_day="min", last_day="max")
    expected["gap_median"] = by_gap.median()
    expected["gap_sum"] = by_gap.sum()
    expected["gap_sumsq"] = (gaps["gap"] ** 2).groupby(gaps["code"]).sum()
    got = purchase_stats(days["code"].to_numpy(), days["day"].to_numpy())
    assert got["purchase_days"].eq(1).sum() == 3 and got["gap_median"].isna().sum() == 3
    assert got.loc[2, "gap_median"] == 7.5 and got.loc[2, "gap_sumsq"] == 25 + 25 + 100 + 900
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
