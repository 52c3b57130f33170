"""Issue 14: the DuckDB and Spark aggregations feed the same rules as pandas and give
exactly the same classification; a source over Excel's limit gives a valid workbook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierbook.read import read_transactions
from tierbook.segment import classify, classify_aggregates
from tierbook.settings import Settings
from tierbook.sources import classify_source, frame_aggregates, segment_source

DEMO = Path(__file__).resolve().parents[1] / "addin" / "tierbook" / "data" / "demo_sales.xlsx"


def synthetic(n: int, customers: int = 3000, seed: int = 7) -> pd.DataFrame:
    """An export with refunds, free shipments, orders spanning days and managers."""
    rng = np.random.default_rng(seed)
    who = rng.zipf(1.6, n) % customers
    day = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    amount = np.round(rng.lognormal(4, 1.2, n), 2)
    amount[rng.random(n) < 0.05] *= -1
    amount[rng.random(n) < 0.02] = 0.0
    units = rng.integers(0, 20, n).astype("float64")
    order = np.where(rng.random(n) < 0.5, (rng.integers(0, n // 3, n)).astype(str), None)
    manager = np.where(rng.random(n) < 0.3, np.array(["Ann", "Bob", ""], dtype=object)[rng.integers(0, 3, n)], None)
    return pd.DataFrame({"customer": [f"C{c:05d}" for c in who], "date": day, "amount": amount, "units": units,
                         "margin": np.round(amount * 0.3, 2), "order_id": pd.array(order, dtype="str"),
                         "manager": pd.array(manager, dtype="str"),
                         "consent": pd.array(rng.random(n) < 0.7, dtype="boolean")},
                        index=pd.RangeIndex(2, n + 2))


def adversarial(seed: int, n: int = 600) -> pd.DataFrame:
    """Small exports made of the cases the rules single out: refunds with positive and
    negative units, zero amounts with and without units, blank margins (for whole
    customers and for some rows), blank units, order ids repeated across days, customers
    and refunds, empty and missing managers, consent yes / no / blank, same-day rows, and
    names whose order differs between byte and case-folded collations."""
    rng = np.random.default_rng(seed)
    names = np.array(["c0", "c1", "C2", "Émile", "emile", "Zoë", "zoe", "b-3", "B 3", "ü", "a", "Ab"], dtype=object)
    who = names[rng.integers(0, len(names), n)]
    amount = rng.choice([-30.0, -5.5, 0.0, 0.0, 7.25, 19.99, 100.0, 250.0], n)
    units = rng.choice([np.nan, -3.0, 0.0, 2.0, 5.0, 1.0], n)
    margin = rng.choice([np.nan, -4.0, 0.0, 3.5, 40.0], n)
    margin[np.isin(who, ["c0", "Zoë"])] = np.nan  # these customers' profit is unknown
    order = rng.choice(np.array([None, None, "A", "B", "7", "C"], dtype=object), n)
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 460, n) // 3 * 3, unit="D")
    manager = rng.choice(np.array([None, "", "Ann", "Bob"], dtype=object), n)
    consent = pd.array(rng.choice(np.array([True, False, None], dtype=object), n), dtype="boolean")
    consent[np.isin(who, ["a", "Ab"])] = pd.NA  # never asked
    return pd.DataFrame({"customer": pd.array(who, dtype="str"), "date": day, "amount": amount, "units": units,
                         "margin": margin, "order_id": pd.array(order, dtype="str"),
                         "manager": pd.array(manager, dtype="str"), "consent": consent},
                        index=pd.RangeIndex(2, n + 2))


ADVERSARIAL_SETTINGS = [Settings(), Settings(criterion="payments"), Settings(criterion="units"),
                        Settings(criterion="profit"), Settings(month="2023-09"), Settings(consent_if_missing=True)]


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.ledger, b.ledger)
    pd.testing.assert_frame_equal(a.ledger_flow, b.ledger_flow)
    pd.testing.assert_frame_equal(a.monthly_vip, b.monthly_vip)
    pd.testing.assert_frame_equal(a.lost_vip, b.lost_vip)
    pd.testing.assert_frame_equal(a.concentration, b.concentration)
    assert a.analysis_month == b.analysis_month and a.as_of == b.as_of


@pytest.mark.parametrize("criterion", ["revenue", "payments", "profit"])
def test_duckdb_gives_the_pandas_classification_of_a_synthetic_export(criterion):
    tx = synthetic(200_000)
    settings = Settings(criterion=criterion)
    expected = classify(tx, settings)
    agg, _ = frame_aggregates(tx, settings)
    assert_same(classify_aggregates(agg, settings), expected)
    assert (expected.customers["tier"] == "VIP").sum() > 10  # the comparison covers every tier


def test_the_sql_rules_are_the_engine_rules_on_every_kind_of_row():
    import duckdb

    from tierbook.aggregate import PAYMENT, PURCHASE, RETURNED_UNITS
    from tierbook.segment import is_purchase, returned_units

    values = [-7.0, -0.5, 0.0, 0.5, 3.0, None]
    grid = pd.DataFrame([(a, u) for a in values for u in values], columns=["amount", "units"], dtype="float64")
    con = duckdb.connect()
    con.register("grid", grid)
    got = con.execute(f"""SELECT units, CASE WHEN {PURCHASE} THEN 1 ELSE 0 END AS purchase,
                                 CASE WHEN {PAYMENT} THEN 1 ELSE 0 END AS payment
                          FROM (SELECT amount, {RETURNED_UNITS} AS units FROM grid) g""").fetchdf()
    amount, units = grid["amount"].to_numpy(), grid["units"].to_numpy()
    units = returned_units(amount, units)
    np.testing.assert_array_equal(got["units"].to_numpy(dtype="float64", na_value=np.nan), units)
    np.testing.assert_array_equal(got["purchase"].to_numpy() == 1, is_purchase(amount, units))
    np.testing.assert_array_equal(got["payment"].to_numpy() == 1, amount > 0)


@pytest.mark.parametrize("seed", range(4))
def test_duckdb_gives_the_pandas_classification_of_adversarial_rows(seed):
    tx = adversarial(seed)
    for settings in ADVERSARIAL_SETTINGS:
        expected = classify(tx, settings)
        agg, _ = frame_aggregates(tx, settings)
        assert_same(classify_aggregates(agg, settings), expected)
    # the frames do hold the cases: unknown profit, a refund with units, unknown consent
    assert expected.customers["profit"].isna().any() and expected.customers["profit"].notna().any()
    assert ((tx["amount"] < 0) & (tx["units"] > 0)).any()
    assert (expected.customers["consent_status"] == "unknown").any() or settings.consent_if_missing


def test_duckdb_gives_the_pandas_classification_of_cdnow():
    from test_cdnow import CDNOW

    raw = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    tx = pd.DataFrame({"customer": raw["customer_id"], "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                       "amount": raw["dollar_value"].astype("float64"),
                       "units": raw["number_of_cds"].astype("float64")})
    for settings in (Settings(), Settings(criterion="units")):
        agg, _ = frame_aggregates(tx, settings)
        assert_same(classify_aggregates(agg, settings), classify(tx, settings))


def test_duckdb_gives_the_pandas_classification_of_the_demo_and_of_a_replayed_month():
    tx, _ = read_transactions(DEMO)
    for settings in (Settings(), Settings(month=str(tx["date"].max().to_period("M") - 5))):
        agg, _ = frame_aggregates(tx, settings)
        assert_same(classify_aggregates(agg, settings), classify(tx, settings))


def test_a_parquet_folder_over_the_excel_limit_gives_a_valid_workbook_without_the_sales_copy(tmp_path):
    from openpyxl import load_workbook

    tx = synthetic(30_000)
    folder = tmp_path / "sales"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(tx)), 3)):
        tx.iloc[part].reset_index(drop=True).to_parquet(folder / f"part-{i}.parquet")
    out = tmp_path / "out.xlsx"
    result = segment_source(folder, out, excel_rows=20_000)
    assert_same(result, classify(tx.reset_index(drop=True)))
    book = load_workbook(out)
    texts = [str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("30,000 rows exceed Excel's limit" in t for t in texts)
    assert len(book.sheetnames) > 4
    # under the limit the sentence is absent; a glob reads the same files
    small = classify_source(str(folder / "part-*.parquet"))
    assert not small.issues["problem"].str.contains("Excel").any()
    assert_same(small, result)


def test_a_second_run_from_a_large_source_keeps_the_users_contact_log(tmp_path):
    """The Contact log is never counted as a sheet a re-run would lose, so the large-source
    path must carry it over like every other job does."""
    from openpyxl import load_workbook

    tx = synthetic(3_000, customers=300)
    source = tmp_path / "sales.parquet"
    tx.to_parquet(source)
    out = tmp_path / "out.xlsx"
    segment_source(source, out)
    book = load_workbook(out)
    log = book.create_sheet("Contact log")
    log.append(["customer", "variant", "contact date"])
    log.append(["c1", "A", "2024-01-05"])
    book.save(out)
    segment_source(source, out)
    again = load_workbook(out)
    assert "Contact log" in again.sheetnames
    assert [list(r) for r in again["Contact log"].iter_rows(values_only=True)] == [
        ["customer", "variant", "contact date"], ["c1", "A", "2024-01-05"]]


def test_the_cli_segments_a_query_against_a_duckdb_file(tmp_path):
    import duckdb

    tx = synthetic(20_000).reset_index(drop=True)
    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.register("frame", tx)
    con.execute("CREATE TABLE sales AS SELECT * FROM frame")
    con.close()
    out = tmp_path / "out.xlsx"
    tierbook = str(Path(sys.executable).with_name("tierbook"))
    run = subprocess.run([tierbook, "segment", str(db), "--sql", "select * from sales",
                          "--out", str(out), "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert out.exists()
    assert_same(classify_source(db, sql="select * from sales"), classify(tx))
    bad = subprocess.run([tierbook, "segment", str(db), "--sql", "select customer from sales", "--out",
                          str(tmp_path / "bad.xlsx")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("tierbook: error: the source has no column")


@pytest.mark.slow
def test_spark_local_mode_gives_the_pandas_classification():
    from tierbook.sources import spark_session

    tx = synthetic(50_000)
    spark = spark_session("local[2]")
    try:
        for settings in (Settings(), Settings(criterion="payments")):
            agg, _ = frame_aggregates(tx, settings, engine="spark", spark=spark)
            assert_same(classify_aggregates(agg, settings), classify(tx, settings))
        small = adversarial(1)
        for settings in ADVERSARIAL_SETTINGS:
            agg, _ = frame_aggregates(small, settings, engine="spark", spark=spark)
            assert_same(classify_aggregates(agg, settings), classify(small, settings))
    finally:
        spark.stop()


def test_more_customers_than_a_sheet_holds_give_a_valid_workbook_that_says_what_is_left_out(tmp_path, monkeypatch):
    """Excel's limit lowered (overflow.SHEET_ROWS, the one place of it): Customers holds
    the customers with the highest revenue and says how many are left out, the call lists
    hold their first rows and say so, Summary gives figures of every customer (not
    formulas over a part), all customers are in a CSV beside the workbook, and openpyxl,
    the structure checks and LibreOffice take the workbook."""
    from openpyxl import load_workbook

    from libreoffice import convert, structure_problems
    from tierbook import labels, overflow
    from tierbook.sheets import SEGMENTS, segment_members, share_figures

    monkeypatch.setattr(overflow, "SHEET_ROWS", 200)  # plain sheets hold 199 rows, templated ones 100
    tx = synthetic(6_000, customers=1_500)
    source = tmp_path / "sales.parquet"
    tx.reset_index(drop=True).to_parquet(source)
    out = tmp_path / "tiers.xlsx"
    result = segment_source(source, out)
    customers = result.customers
    assert len(customers) > 199

    book = load_workbook(out)
    ws = book["Customers"]
    rows = list(ws.iter_rows(values_only=True))
    head, data = rows[0], rows[1:]
    assert len(data) == 199
    note = head[-1]
    assert (f"199 of {len(customers):,} rows, the highest revenue first" in note
            and f"{len(customers) - 199:,} are left out" in note and "customers.csv" in note)
    column = head.index("customer")
    top = customers.sort_values(["revenue", "customer"], ascending=[False, True]).head(199)
    assert [r[column] for r in data] == top["customer"].tolist()
    assert ws.tables["tbCustomers"].ref.endswith("200")  # the table covers the rows shown, not the note

    full = pd.read_csv(overflow.full_list_path(out), dtype={"customer": str})
    assert full["customer"].tolist() == customers["customer"].tolist()
    np.testing.assert_allclose(full["revenue"].to_numpy(), customers["revenue"].to_numpy())

    issues = [r for r in book["Input issues"].iter_rows(values_only=True)]
    texts = " ".join(str(c) for r in issues for c in r if c)
    assert "6,000 rows exceed Excel's limit of 199 rows per sheet" in texts  # the sales copy
    assert f"{len(customers):,} customers exceed Excel's 200 rows per sheet" in texts and "tiers - customers.csv" in texts

    summary = [r for r in book["Summary"].iter_rows(values_only=True)]
    everyone = next(r for r in summary if r and "All customers" in r)
    assert len(customers) in everyone and not any(isinstance(c, str) and c.startswith("=") for r in summary for c in r)
    figures = share_figures(customers, "tier", ["VIP"])
    assert any(r and "VIP" in r and int(figures.loc[0, "customers"]) in r for r in summary)

    cut = [s for s in SEGMENTS if segment_members(customers, s).sum() > 100]
    assert cut  # a call list over its sheet's limit
    for segment in cut:
        title = labels.sheet_title(f"segment:{segment}", "en")
        text = " ".join(str(c) for r in book[title].iter_rows(max_row=9, values_only=True) for c in r if c)
        assert "are left out" in text, title
        table = next(iter(book[title].tables.values()))
        lo, hi = table.ref.split(":")
        assert int("".join(ch for ch in hi if ch.isdigit())) - int("".join(ch for ch in lo if ch.isdigit())) == 100

    assert structure_problems(out) == []
    (again,) = convert([out], "xlsx", tmp_path / "lo", tmp_path / "profile")
    assert load_workbook(again)["Customers"].max_row == 200


def rhythm_by_hand(tx: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The rhythm of DOMAIN.md §4 from each customer's purchase days themselves: the gaps
    between consecutive distinct purchase days, their median and population CV."""
    from tierbook.segment import is_purchase, returned_units

    units = returned_units(tx["amount"].to_numpy(), tx["units"].to_numpy(dtype="float64"))
    bought = tx[is_purchase(tx["amount"].to_numpy(), units)]
    out = {}
    for customer in sorted(tx["customer"].unique()):
        days = np.unique(bought.loc[bought["customer"] == customer, "date"].to_numpy().astype("datetime64[D]"))
        gaps = np.diff(days).astype("int64").astype("float64")
        if len(days) < settings.rhythm_min_days:
            out[customer] = (np.nan, "")
            continue
        cycle, cv = float(np.median(gaps)), float(np.std(gaps) / np.mean(gaps))
        label = "yearly" if cycle >= settings.yearly_cycle_days else "regular" if cv <= settings.regular_cv else "chaotic"
        out[customer] = (cycle, label)
    return pd.DataFrame.from_dict(out, orient="index", columns=["cycle_days", "rhythm"])


def test_the_rhythm_from_whole_number_sums_is_the_rhythm_of_the_purchase_days():
    """One purchase day, two rows on the same day, refunds and free shipments between the
    purchases, even and odd numbers of gaps, regular, chaotic and yearly customers: the
    rhythm the engine gets from the sums (pandas and DuckDB) is the one of the days."""
    day = pd.Timestamp("2023-01-02")
    rows = []

    def buy(customer, offset, amount=50.0, units=1.0):
        rows.append((customer, day + pd.Timedelta(days=offset), amount, units))

    buy("one", 0), buy("one", 0, 20.0)  # one purchase day of two rows
    buy("same", 5), buy("same", 5), buy("same", 9, -50.0)  # a refund is no purchase day
    for k in range(6):
        buy("regular", 30 * k)
        buy("regular", 30 * k + 3, -10.0, 1.0)  # refunds in between change nothing
    for offset in (0, 1, 61, 66, 156):
        buy("chaotic", offset)
    buy("chaotic", 100, 0.0, 2.0)  # a free shipment with units is a purchase day
    buy("chaotic", 120, 0.0, 0.0)  # ... without units it is not
    for offset in (0, 365, 731, 1095):
        buy("yearly", offset)
    for offset in (0, 10, 10, 20, 35):  # gaps 10, 10, 15: the median of an odd number
        buy("even", offset)
    tx = pd.DataFrame(rows, columns=["customer", "date", "amount", "units"])
    settings = Settings()
    expected = rhythm_by_hand(tx, settings)
    assert set(expected["rhythm"]) == {"", "regular", "chaotic", "yearly"}
    agg, _ = frame_aggregates(tx, settings)
    for result in (classify(tx, settings), classify_aggregates(agg, settings)):
        got = result.customers.set_index("customer")[["cycle_days", "rhythm"]].loc[expected.index]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False)
    days = agg.purchases.set_index(agg.names.take(agg.purchases.index.to_numpy()))["purchase_days"]
    assert days.to_dict() == {"chaotic": 6, "even": 4, "one": 1, "regular": 6, "same": 1, "yearly": 4}


@pytest.mark.parametrize("share", [0.2, 0.5, 0.01])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 5_000])
def test_the_monthly_vips_by_partition_are_pandas_ranks_cut_at_the_share(n, share):
    """segment.monthly_vip (a partition per month, only the VIPs sorted) gives the payers
    of each month whose pandas rank(method="min", ascending=False) is within
    cut_count(share, payers of the month): ties at the cut-off all in, zero and refunds out."""
    from tierbook.segment import cut_count, monthly_vip

    rng = np.random.default_rng(n)
    frame = pd.DataFrame({"month": rng.integers(640, 652, n), "code": np.arange(n),
                          "value": np.round(rng.random(n) * 4) / 2 - 0.5})
    payers = frame[frame["value"] > 0]
    by = payers.groupby("month")["value"]
    rank = by.rank(method="min", ascending=False).astype("int64")
    keep = rank <= cut_count(share, by.transform("size").to_numpy())
    expected = payers[keep].assign(rank=rank[keep])
    got = monthly_vip(frame, share)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("slice_rows", [1, 5, 1 << 21])
def test_the_purchase_stats_from_the_months_day_sets_are_those_of_the_purchase_days(slice_rows, monkeypatch):
    """The months' purchase days as bits (aggregate.dayset_stats), slice by slice of whole
    customers, give exactly pandas' Aggregates.purchases (days 1 and 31, orders, refunds)."""
    from tierbook import aggregate
    from tierbook.segment import aggregate_transactions

    monkeypatch.setattr(aggregate, "DAYSET_ROWS", slice_rows)
    tx = synthetic(20_000, customers=300)
    edges = pd.DataFrame({"customer": ["edge"] * 4, "date": pd.to_datetime(["2021-01-01", "2021-01-31", "2021-03-31", "2021-04-01"]),
                          "amount": [10.0, 20.0, 30.0, 40.0]})
    tx = pd.concat([tx, edges.assign(units=1.0, margin=1.0)], ignore_index=True).astype(tx.dtypes.to_dict())
    expected = aggregate_transactions(tx)
    agg, _ = frame_aggregates(tx, Settings())
    np.testing.assert_array_equal(agg.names, expected.names)
    pd.testing.assert_frame_equal(agg.purchases, expected.purchases, check_index_type=False, check_names=False)
    edge = agg.purchases.loc[int(np.flatnonzero(agg.names == "edge")[0])]
    assert edge["purchase_days"] == 4 and edge["gap_sum"] == 90 and edge["gap_median"] == 30
