"""The sample export: deterministic, bundled up to date, and as messy as promised."""

from __future__ import annotations

import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tierbook.demo import FORMULA_NAME, HEADERS, SHEET, demo_path, demo_transactions, write_demo_workbook


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return demo_transactions()


@pytest.fixture(scope="module")
def sheet_rows() -> list[tuple]:
    wb = openpyxl.load_workbook(demo_path())
    return [tuple(row) for row in wb[SHEET].iter_rows(values_only=True)]


# --- deterministic and up to date ----------------------------------------------------


def test_same_seed_gives_the_same_rows(tx):
    pd.testing.assert_frame_equal(demo_transactions(2024), tx)


def test_another_seed_gives_other_rows(tx):
    assert not demo_transactions(7).equals(tx)


def test_writing_twice_gives_the_same_bytes(tmp_path):
    a = write_demo_workbook(tmp_path / "a.xlsx")
    b = write_demo_workbook(tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()


def test_bundled_workbook_is_what_the_generator_writes_now(tmp_path, sheet_rows):
    fresh = write_demo_workbook(tmp_path / "demo_sales.xlsx")
    if fresh.read_bytes() == demo_path().read_bytes():
        return
    # Another openpyxl or zlib may write other bytes for the same cells: compare the cells.
    wb = openpyxl.load_workbook(fresh)
    assert [tuple(row) for row in wb[SHEET].iter_rows(values_only=True)] == sheet_rows, (
        "data/demo_sales.xlsx is stale: run `python -m tierbook.demo`")


def test_bundled_workbook_is_small():
    assert demo_path().stat().st_size < 500_000


# --- the data has the promised properties ---------------------------------------------


def test_headers_are_those_of_an_export(tx):
    assert list(tx.columns) == HEADERS


def test_24_full_calendar_months_ending_2026_10(tx):
    months = tx["Date"].dt.to_period("M")
    assert sorted(months.astype(str).unique()) == [str(p) for p in pd.period_range("2024-11", "2026-10", freq="M")]


def test_size(tx):
    assert 4_000 <= len(tx) <= 8_000
    assert 300 <= tx["Client"].nunique() <= 400


def test_many_one_time_buyers(tx):
    purchase_days = tx[tx["Amount"] > 0].groupby("Client")["Date"].nunique()
    assert (purchase_days == 1).mean() > 0.40


def _shares(tx: pd.DataFrame, column: str) -> pd.Series:
    total = tx.groupby("Client")[column].sum().sort_values(ascending=False)
    return total / total.sum()


def test_three_clients_hold_over_40_percent_of_revenue(tx):
    assert _shares(tx, "Amount").head(3).sum() >= 0.40


@pytest.mark.parametrize("column", ["Amount", "Margin"])
def test_concentration_alert_fires_on_revenue_and_profit(tx, column):
    share = _shares(tx, column)
    assert share.head(3).sum() >= 0.50 or share.iloc[0] >= 0.20


def test_a_lost_vip_bought_heavily_early_and_stopped(tx):
    share = _shares(tx, "Amount")
    last = tx.groupby("Client")["Date"].max()
    lost = [c for c in share.index[share >= 0.03] if last[c] < pd.Timestamp("2025-06-01")]
    assert len(lost) == 1


def test_one_unprofitable_customer(tx):
    margin = tx.groupby("Client")["Margin"].sum()
    assert (margin <= 0).sum() == 1


def test_new_customers_in_the_last_30_days(tx):
    first = tx.groupby("Client")["Date"].min()
    assert (first > tx["Date"].max() - pd.Timedelta(days=30)).sum() >= 5


def test_refunds_are_about_2_percent_of_rows_and_keep_their_order_number(tx):
    refunds = tx[tx["Amount"] < 0]
    assert 0.01 <= len(refunds) / len(tx) <= 0.03
    assert (refunds["Margin"] <= 0).all() or (refunds["Units"] < 0).all()
    sales = tx[tx["Amount"] > 0]
    assert refunds["Order"].isin(sales["Order"]).all()


def test_margin_is_15_to_30_percent_except_for_the_unprofitable_customer(tx):
    rate = (tx["Margin"] / tx["Amount"])[tx.groupby("Client")["Margin"].transform("sum") > 0]
    assert rate.between(0.149, 0.301).all()


def test_some_orders_are_split_into_two_lines(tx):
    lines = tx[tx["Amount"] > 0].groupby("Order").size()
    assert (lines == 2).sum() > 50 and lines.max() == 2


def test_contact_columns(tx):
    per_customer = tx.drop_duplicates("Client")
    assert 4 <= tx["Manager"].nunique() <= 5
    assert 0.7 <= (per_customer["Consent"] == "yes").mean() <= 0.9
    assert set(tx["Consent"]) == {"yes", "no"}
    assert set(tx["Channel"]) == {"email", "sms", "phone"}
    assert tx["Contact time"].str.fullmatch(r"\d\d:\d\d-\d\d:\d\d").all()
    assert tx.groupby("Client")[["Manager", "Email", "Phone", "Consent"]].nunique(dropna=False).max().max() == 1


def test_names_include_russian_companies_and_a_formula(tx):
    assert tx["Client"].str.startswith("ООО ").any()
    assert FORMULA_NAME in set(tx["Client"])


# --- the workbook is dirty the way real exports are ------------------------------------


def test_workbook_rows_are_the_transactions_plus_header_blanks_repeat_and_total(tx, sheet_rows):
    header = tuple(HEADERS)
    assert sheet_rows[0] == header
    body = sheet_rows[1:-1]
    assert sum(row == header for row in body) == 1
    assert sum(all(v is None for v in row) for row in body) == 2
    assert len(body) == len(tx) + 3
    total = sheet_rows[-1]
    assert total[0] == "Total" and total[3] == pytest.approx(tx["Amount"].sum(), abs=0.01)


def test_workbook_has_the_dirty_cells_of_a_real_export(sheet_rows):
    rows = [r for r in sheet_rows[1:-1] if r != tuple(HEADERS) and any(v is not None for v in r)]
    client = [r[0] for r in rows]
    date = [r[1] for r in rows]
    amount = [r[3] for r in rows]
    assert sum(isinstance(a, str) and re.fullmatch(r"\d{1,3}( \d{3})+,\d\d", a) is not None for a in amount) == 3
    assert sum(isinstance(a, str) and re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", a) is not None for a in amount) == 3
    assert amount.count("n/a") == 1
    assert sum(isinstance(d, int) for d in date) == 3  # Excel serial numbers
    assert sum(isinstance(d, str) and re.fullmatch(r"\d\d\.\d\d\.\d{4}", d) is not None for d in date) == 3
    assert sum(c != c.strip() for c in client) == 4
    assert FORMULA_NAME in client  # written as text, not as a formula


def test_dirty_cells_keep_the_true_values(tx, sheet_rows):
    rows = [r for r in sheet_rows[1:-1] if r != tuple(HEADERS) and any(v is not None for v in r)]
    def number(a):
        if a == "n/a":
            return np.nan
        if isinstance(a, str):  # "1 234,56" or "1,234.56"
            return float(a.replace(" ", "").replace(",", ".")) if " " in a else float(a.replace(",", ""))
        return a

    amounts = [number(r[3]) for r in rows]
    got = pd.Series(amounts, dtype=float)
    want = tx["Amount"].reset_index(drop=True)
    assert got.isna().sum() == 1
    assert np.allclose(got[got.notna()], want[got.notna()])
    assert [c.strip() for c in (r[0] for r in rows)] == list(tx["Client"])



def test_the_reader_gets_back_every_row_but_the_unusable_one(tx, sheet_rows):
    from tierbook.read import read_transactions

    got, issues = read_transactions(demo_path())
    assert list(issues.loc[issues["column"] == "Amount", "value"]) == ["n/a"]
    rows = [r for r in sheet_rows[1:-1] if r != tuple(HEADERS) and any(v is not None for v in r)]
    want = tx.drop(index=[i for i, r in enumerate(rows) if r[3] == "n/a"]).reset_index(drop=True)
    got = got.reset_index(drop=True)
    assert list(got["customer"]) == list(want["Client"])
    assert list(got["date"]) == list(want["Date"])
    assert np.allclose(got["amount"], want["Amount"]) and np.allclose(got["margin"], want["Margin"])
