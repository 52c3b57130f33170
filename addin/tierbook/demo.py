"""A seeded sample sales export: the data behind the bundled demo workbook.

`demo_transactions(seed)` generates the clean truth: the sales of a B2B distributor
over 24 full calendar months (2024-11 … 2026-10), one row per order line, with the
headers a real export has ("Client", "Date", "Order", "Amount", …). It holds every
kind of customer DOMAIN.md talks about:

- three very large clients (about half of revenue and profit: the concentration
  alert fires) and a "lost VIP" who bought heavily in the first months and stopped;
- many one-time buyers (about half of the customers), a dozen new customers whose
  first purchase is in the last 30 days;
- regular buyers with a monthly, fortnightly or quarterly rhythm, chaotic buyers,
  buyers who lapsed, and three yearly buyers;
- one customer with a negative total margin (unprofitable);
- refunds (negative rows, about 2% of rows, carrying the refunded order's number)
  and orders split into two lines;
- one customer named "=HYPERLINK Trading Co", to test formula escaping downstream.

`write_demo_workbook(path, seed)` writes the same rows to a sheet "Sales", dirtied the
way real exports are: amounts as text ("1 234,56", "1,234.56"), dates as Excel serial
numbers and as text ("19.11.2025"), client names with stray spaces, two blank rows, a
repeated header row, a totals row at the end, and one amount that cannot be used
("n/a"). Every dirty cell but the "n/a" one still holds the row's true value, so a
reader that handles them all gets back `demo_transactions(seed)` less one row.

The workbook bundled as `data/demo_sales.xlsx` (see `demo_path()`) is written by
`python -m tierbook.demo`; the tests check that it matches what this module writes.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

#: The headers of the export, in order.
HEADERS = ["Client", "Date", "Order", "Amount", "Units", "Margin", "Manager", "Email", "Phone", "Consent",
           "Channel", "Contact time"]

SHEET = "Sales"
FIRST_DAY = np.datetime64("2024-11-01")
LAST_DAY = np.datetime64("2026-10-31")  # 24 full calendar months
SPAN = int((LAST_DAY - FIRST_DAY).astype(int))  # 729 days after the first

#: The timestamp written into the workbook's properties, so the file is reproducible.
FIXED_TIME = dt.datetime(2026, 11, 1, 9, 0, 0)
_ZIP_TIME = (2026, 11, 1, 9, 0, 0)

MANAGERS = ["Anna Petrova", "Ivan Sidorov", "Maria Smirnova", "John Carter", "Emily Brown"]
CHANNELS = ["email", "sms", "phone"]
CONTACT_TIMES = ["09:00-12:00", "10:00-13:00", "12:00-15:00", "14:00-17:00", "15:00-18:00"]
FORMULA_NAME = "=HYPERLINK Trading Co"

# Customer profiles: how many customers, their purchase rhythm and typical order value.
#   count, cycle (days between purchases; 0 = no rhythm), lognormal sigma of the gaps,
#   median order value, lognormal sigma of the customer's order value.
_PROFILES = {
    "whale": (3, 7, 0.25, 0, 0.0),  # order values are scaled to the revenue shares below
    "lost_vip": (1, 6, 0.3, 0, 0.0),
    "unprofitable": (1, 30, 0.15, 2_000, 0.2),
    "yearly": (3, 0, 0.0, 12_000, 0.3),
    "new": (12, 0, 0.0, 1_000, 0.6),
    "monthly": (80, 30, 0.12, 1_500, 0.7),
    "fortnightly": (20, 14, 0.15, 900, 0.6),
    "quarterly": (45, 91, 0.12, 3_000, 0.7),
    "chaotic": (35, 45, 0.9, 1_200, 0.8),
    "lapsed": (15, 35, 0.3, 1_500, 0.7),
    "one_time": (175, 0, 0.0, 800, 0.8),
}
_WHALE_SHARES = (0.25, 0.14, 0.09)  # of revenue: top 3 = 48%, top 1 = 25%
_LOST_VIP_SHARE = 0.05
_SPLIT_SHARE = 0.08  # orders written as two lines
_REFUND_SHARE = 0.02  # refund rows, of all rows

_EN_FIRST = ["Acme", "Northwind", "Blue Harbor", "Summit", "Redwood", "Silver Lake", "Ironbridge", "Oakfield",
             "Brightway", "Crescent", "Evergreen", "Falcon", "Granite", "Harbor Point", "Keystone", "Lakeside",
             "Meridian", "Northstar", "Pinecrest", "Riverside", "Sterling", "Tidewater", "Union", "Westfield",
             "Apex", "Beacon", "Cobalt", "Delta", "Eastgate", "Frontier", "Golden Gate", "Highland", "Horizon",
             "Juniper", "Kingsway", "Liberty", "Maple", "Nova", "Orion", "Pioneer", "Quantum", "Ridgeway",
             "Sapphire", "Trident", "Vanguard", "Willow", "Yellowstone", "Zenith", "Atlas", "Bayview"]
_EN_TRADE = ["Trading", "Supplies", "Logistics", "Foods", "Hardware", "Retail", "Builders", "Distribution",
             "Electrics", "Packaging", "Pharma", "Motors", "Textiles", "Office Supply", "Home Goods", "Tools",
             "Print", "Farms", "Hospitality", "Engineering"]
_EN_FORM = ["Ltd", "Inc", "LLC", "Co", "Group", "Corp", "GmbH", "plc"]
_RU_WORD = ["Ромашка", "Вектор", "Альфа", "Гранит", "Меридиан", "Северсталь-Торг", "Восход", "Радуга", "Берёзка",
            "Спектр", "Прогресс", "Светлана", "Континент", "Импульс", "Заря", "Орион", "Техносфера", "Кедр",
            "Волга", "Сибирь", "Уралснаб", "Стройматериалы", "Агроторг", "Магистраль", "Дельта"]
_RU_FORM = ["ООО", "АО", "ЗАО"]
_RU_SURNAME = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Новиков", "Морозов"]
_RU_INITIALS = ["А.В.", "С.П.", "Д.И.", "Е.Н.", "М.А.", "О.Г."]
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                      "s", "t", "u", "f", "kh", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"]))


def demo_path() -> Path:
    """The sample workbook bundled with the package."""
    return Path(__file__).with_name("data") / "demo_sales.xlsx"


def demo_transactions(seed: int = 2024) -> pd.DataFrame:
    """The sample export's rows, clean, sorted by date and order (columns: HEADERS)."""
    rng = np.random.default_rng(seed)
    customers = _customers(rng)
    orders = _orders(customers, rng)
    lines = _split_lines(orders, rng)
    lines = pd.concat([lines, _refunds(lines, customers, rng)], ignore_index=True)
    lines = lines.sort_values(["day", "order", "amount"], ascending=[True, True, False], kind="stable")
    c = customers.loc[lines["customer"].to_numpy()]
    return pd.DataFrame(
        {
            "Client": c["name"].to_numpy(),
            "Date": (FIRST_DAY + lines["day"].to_numpy().astype("timedelta64[D]")).astype("datetime64[ns]"),
            "Order": lines["order"].to_numpy(),
            "Amount": lines["amount"].to_numpy(),
            "Units": lines["units"].to_numpy(),
            "Margin": lines["margin"].to_numpy(),
            "Manager": c["manager"].to_numpy(),
            "Email": c["email"].to_numpy(),
            "Phone": c["phone"].to_numpy(),
            "Consent": c["consent"].to_numpy(),
            "Channel": c["channel"].to_numpy(),
            "Contact time": c["contact_time"].to_numpy(),
        }
    )


# --- customers ----------------------------------------------------------------------


def _customers(rng: np.random.Generator) -> pd.DataFrame:
    """One row per customer: profile, rhythm, order value, margin rate and contact data."""
    profile = np.concatenate([[name] * spec[0] for name, spec in _PROFILES.items()])
    n = len(profile)
    spec = pd.DataFrame(_PROFILES, index=["count", "cycle", "gap_sigma", "value", "value_sigma"]).T
    s = spec.loc[profile]
    value = s["value"].to_numpy() * rng.lognormal(0.0, s["value_sigma"].to_numpy())
    margin_rate = rng.uniform(0.15, 0.30, n)
    margin_rate[profile == "whale"] = [0.22, 0.21, 0.20]
    margin_rate[profile == "unprofitable"] = -0.08

    names = _company_names(n, rng)
    names[np.flatnonzero(profile == "quarterly")[3]] = FORMULA_NAME
    managers = rng.choice(MANAGERS, n)
    managers[profile == "whale"] = MANAGERS[:3]  # the senior managers keep the big clients
    consent = np.where(rng.random(n) < 0.8, "yes", "no")
    email = np.array([f"{rng.choice(['info', 'sales', 'orders', 'office', 'buyer'])}@{_domain(x)}" for x in names],
                     dtype=object)
    phone = np.array([_phone(x, rng) for x in names], dtype=object)
    email[rng.random(n) < 0.04] = None
    phone[rng.random(n) < 0.04] = None
    return pd.DataFrame(
        {
            "name": names,
            "profile": profile,
            "cycle": s["cycle"].to_numpy(float),
            "gap_sigma": s["gap_sigma"].to_numpy(float),
            "value": value,
            "unit_price": rng.lognormal(np.log(40), 0.8, n),
            "margin_rate": margin_rate,
            "manager": managers,
            "email": email,
            "phone": phone,
            "consent": consent,
            "channel": rng.choice(CHANNELS, n, p=[0.5, 0.2, 0.3]),
            "contact_time": rng.choice(CONTACT_TIMES, n),
        }
    )


def _company_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct company names, about one in six Russian."""
    english = [f"{a} {b}" for a in _EN_FIRST for b in _EN_TRADE]  # a legal form is added below
    russian = [f"{f} {w}" for f in _RU_FORM for w in _RU_WORD] + [f"ИП {s} {i}" for s in _RU_SURNAME
                                                                   for i in _RU_INITIALS]
    n_ru = n // 6
    english = [f"{x} {form}" for x, form in zip(rng.choice(english, n - n_ru, replace=False),
                                                 rng.choice(_EN_FORM, n - n_ru))]
    names = np.array(list(rng.choice(russian, n_ru, replace=False)) + english, dtype=object)
    return rng.permutation(names)


def _ascii(text: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())


def _domain(name: str) -> str:
    words = [w for w in name.replace("=", "").split(" ") if w and w not in _RU_FORM and w != "ИП"]
    words = words[:-1] if not any("а" <= ch <= "я" for ch in name.lower()) else words
    slug = "-".join(_ascii(w) for w in words if "." not in w)
    slug = "".join(ch for ch in slug if ch.isalnum() or ch == "-").strip("-")
    return slug + (".ru" if any("а" <= ch <= "я" for ch in name.lower()) else ".com")


def _phone(name: str, rng: np.random.Generator) -> str:
    d = rng.integers(0, 10, 10)
    if any("а" <= ch <= "я" for ch in name.lower()):
        return f"+7 (9{d[0]}{d[1]}) {d[2]}{d[3]}{d[4]}-{d[5]}{d[6]}-{d[7]}{d[8]}"
    return f"+1 (555) 01{d[0]}-{d[1]}{d[2]}{d[3]}{d[4]}"


# --- orders -------------------------------------------------------------------------


def _orders(customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per order: customer (position), day (offset from FIRST_DAY), amount, units, margin."""
    parts = [_purchase_days(str(p), group, rng) for p, group in customers.groupby("profile", sort=False)]
    orders = pd.concat(parts, ignore_index=True)
    orders["day"] = _weekday(orders["day"].to_numpy())

    c = customers.loc[orders["customer"].to_numpy()]
    amount = c["value"].to_numpy() * rng.lognormal(0.0, 0.35, len(orders))
    amount = _scale_big_clients(amount, c["profile"].to_numpy(), orders["customer"].to_numpy(), rng)
    amount = np.round(np.maximum(amount, 20.0), 2)
    units = np.maximum(1, np.round(amount / c["unit_price"].to_numpy())).astype("int64")
    rate = c["margin_rate"].to_numpy() + rng.uniform(-0.03, 0.03, len(orders))
    rate = np.where(c["profile"].to_numpy() == "unprofitable", rate, np.clip(rate, 0.15, 0.30))
    orders = orders.assign(amount=amount, units=units, margin=np.round(amount * rate, 2))
    orders = orders.sort_values(["day", "customer"], kind="stable", ignore_index=True)
    orders["order"] = [f"SO-{100001 + i}" for i in range(len(orders))]
    return orders


def _purchase_days(profile: str, group: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The purchase days of one profile's customers, as offsets from FIRST_DAY."""
    idx = group.index.to_numpy()
    n = len(idx)
    if profile == "one_time":
        return _frame(idx, rng.integers(0, SPAN - 35, n))
    if profile == "new":
        first = rng.integers(SPAN - 26, SPAN - 2, n)  # 2026-10-05 … 2026-10-28
        again = np.arange(n) < 4  # four of them already came back
        second = np.minimum(first[again] + rng.integers(2, 10, again.sum()), SPAN - 1)
        return _frame(np.concatenate([idx, idx[again]]), np.concatenate([first, second]))
    if profile == "yearly":
        first = rng.integers(0, 9, n)
        gaps = rng.integers(345, 361, (n, 2))
        days = np.column_stack([first, first[:, None] + gaps.cumsum(axis=1)])
        return _frame(np.repeat(idx, 3), days.ravel())

    cycle = group["cycle"].to_numpy()
    sigma = group["gap_sigma"].to_numpy()
    start = np.floor(rng.random(n) * cycle).astype(int)
    end = np.full(n, SPAN)
    if profile == "monthly":
        start += rng.integers(0, 240, n) * (rng.random(n) < 0.3)  # some became customers later
    elif profile == "lost_vip":
        end[:] = 170  # heavy buying until April 2025, then silence
    elif profile == "lapsed":
        start = rng.integers(0, 120, n)
        end = rng.integers(250, 450, n)  # stopped 9–16 months before the end
    steps = 400
    # Lognormal gaps with median `cycle`: CV ≈ sigma for small sigma, > 0.5 for the chaotic ones.
    gaps = cycle[:, None] * rng.lognormal(0.0, sigma[:, None], (n, steps))
    days = start[:, None] + np.concatenate([np.zeros((n, 1)), np.maximum(1, np.round(gaps))[:, :-1]], axis=1).cumsum(1)
    keep = days <= end[:, None]
    return _frame(np.broadcast_to(idx[:, None], days.shape)[keep], days[keep].astype(int))


def _frame(customer: np.ndarray, day: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"customer": np.asarray(customer, dtype="int64"), "day": np.asarray(day, dtype="int64")})


def _weekday(day: np.ndarray) -> np.ndarray:
    """B2B sales happen on working days: move Saturday and Sunday back to Friday."""
    weekday = (FIRST_DAY + day.astype("timedelta64[D]")).astype("datetime64[D]").astype(int)
    weekday = (weekday + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    return day - np.where(weekday >= 5, weekday - 4, 0)


def _scale_big_clients(amount: np.ndarray, profile: np.ndarray, customer: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Scale the whales' and the lost VIP's orders so they hold their share of revenue."""
    amount = amount.copy()
    big = np.isin(profile, ["whale", "lost_vip"])
    total = amount[~big].sum() / (1 - sum(_WHALE_SHARES) - _LOST_VIP_SHARE)
    targets = dict(zip(pd.unique(customer[profile == "whale"]), _WHALE_SHARES))
    targets.update({c: _LOST_VIP_SHARE for c in pd.unique(customer[profile == "lost_vip"])})
    for c, share in targets.items():
        mine = customer == c
        noise = rng.lognormal(0.0, 0.3, mine.sum())
        amount[mine] = share * total * noise / noise.sum()
    return amount


def _split_lines(orders: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Write about 8% of the orders (those of 2 units or more) as two lines."""
    split = (rng.random(len(orders)) < _SPLIT_SHARE) & (orders["units"].to_numpy() >= 2)
    first = orders.copy()
    part = rng.uniform(0.3, 0.7, len(orders))
    second = orders[split].copy()
    units1 = np.clip(np.round(orders["units"] * part), 1, orders["units"] - 1).astype("int64")
    amount1 = np.round(orders["amount"] * part, 2)
    margin1 = np.round(orders["margin"] * part, 2)
    second["units"] = (orders["units"] - units1)[split]
    second["amount"] = np.round(orders["amount"] - amount1, 2)[split]
    second["margin"] = np.round(orders["margin"] - margin1, 2)[split]
    first.loc[split, "units"] = units1[split]
    first.loc[split, "amount"] = amount1[split]
    first.loc[split, "margin"] = margin1[split]
    return pd.concat([first, second], ignore_index=True)


def _refunds(lines: pd.DataFrame, customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Refunds of repeat customers' lines: negative rows a few days later, same order number."""
    profile = customers["profile"].to_numpy()[lines["customer"].to_numpy()]
    eligible = np.flatnonzero(np.isin(profile, ["whale", "monthly", "fortnightly", "quarterly", "chaotic",
                                                "unprofitable"]) & (lines["day"].to_numpy() < SPAN - 25))
    n = round(_REFUND_SHARE * len(lines) / (1 - _REFUND_SHARE))
    refunded = lines.iloc[np.sort(rng.choice(eligible, n, replace=False))]
    part = np.where(rng.random(n) < 0.4, 1.0, rng.uniform(0.1, 0.5, n))  # 40% full refunds
    return pd.DataFrame(
        {
            "customer": refunded["customer"].to_numpy(),
            "day": _weekday(refunded["day"].to_numpy() + rng.integers(3, 22, n)),
            "order": refunded["order"].to_numpy(),
            "amount": -np.round(refunded["amount"].to_numpy() * part, 2),
            "units": -np.maximum(1, np.round(refunded["units"].to_numpy() * part)).astype("int64"),
            "margin": -np.round(refunded["margin"].to_numpy() * part, 2),
        }
    )


# --- the workbook -------------------------------------------------------------------


def write_demo_workbook(path: str | Path, seed: int = 2024) -> Path:
    """Write the sample export, with the dirty cells of a real one, to `path` (sheet "Sales").

    The file is byte-for-byte reproducible for a seed (with the same openpyxl and zlib).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    tx = demo_transactions(seed)
    rows = _dirty_rows(tx, np.random.default_rng([seed, 1]))

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    formats = {"Date": "dd.mm.yyyy", "Amount": "#,##0.00", "Margin": "#,##0.00", "Units": "0"}
    for r, row in enumerate(rows, start=1):
        for c, (header, value) in enumerate(zip(HEADERS, row), start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, even when it starts with "=" (FORMULA_NAME)
            elif header in formats and not (header == "Date" and isinstance(value, int)):
                cell.number_format = formats[header]
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKL", (30, 12, 11, 13, 8, 12, 16, 30, 20, 9, 9, 13)):
        ws.column_dimensions[letter].width = width
    wb.properties.creator = "tierbook"
    wb.properties.created = FIXED_TIME

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_reproducible(wb))
    return path


def _dirty_rows(tx: pd.DataFrame, rng: np.random.Generator) -> list[list[object]]:
    """The sheet's rows, header first, with the dirty cells of a real export."""
    values = tx.astype(object).where(tx.notna(), None)
    values["Date"] = [d.date() for d in tx["Date"]]
    rows = [list(r) for r in values.itertuples(index=False)]
    col = {h: i for i, h in enumerate(HEADERS)}

    # Only ordinary customers' rows get dirty cells, each row at most one.
    ordinary = ~tx["Client"].isin([FORMULA_NAME]) & tx["Client"].duplicated(keep=False)
    big = ordinary & (tx["Amount"].abs() >= 1000)
    text_amount = rng.choice(np.flatnonzero(big), 6, replace=False)
    rest = np.setdiff1d(np.flatnonzero(ordinary), text_amount)
    other = rng.choice(rest, 11, replace=False)
    for k, i in enumerate(text_amount):
        a = tx["Amount"].iat[i]
        text = f"{a:,.2f}"  # "1,234.56"
        rows[i][col["Amount"]] = text.replace(",", " ").replace(".", ",") if k < 3 else text  # "1 234,56"
    for i in other[:3]:  # Excel serial numbers in a General cell
        rows[i][col["Date"]] = int((tx["Date"].iat[i] - pd.Timestamp("1899-12-30")).days)
    for i in other[3:6]:  # text dates
        rows[i][col["Date"]] = tx["Date"].iat[i].strftime("%d.%m.%Y")
    for i, pad in zip(other[6:10], [(" ", "  "), ("", " "), ("  ", ""), (" ", " ")]):
        rows[i][col["Client"]] = pad[0] + rows[i][col["Client"]] + pad[1]
    rows[other[10]][col["Amount"]] = "n/a"

    totals: list[object] = [None] * len(HEADERS)
    totals[col["Client"]] = "Total"
    for h in ("Amount", "Units", "Margin"):
        totals[col[h]] = round(float(tx[h].sum()), 2) if h != "Units" else int(tx[h].sum())
    blank: list[object] = [None] * len(HEADERS)
    n = len(rows)
    a, b, c = sorted(rng.choice(np.arange(n // 5, 4 * n // 5), 3, replace=False))
    body = rows[:a] + [blank] + rows[a:b] + [list(HEADERS)] + rows[b:c] + [blank] + rows[c:]
    return [list(HEADERS)] + body + [totals]


def _reproducible(wb) -> bytes:
    """The workbook's bytes with fixed timestamps (openpyxl stamps "modified" and zip times)."""
    from openpyxl.xml.functions import tostring

    raw = io.BytesIO()
    wb.save(raw)
    wb.properties.modified = FIXED_TIME
    core = tostring(wb.properties.to_tree())
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = core if info.filename == "docProps/core.xml" else src.read(info)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0  # as on Windows, whatever the platform
            entry.external_attr = info.external_attr
            dst.writestr(entry, data)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    """`python -m tierbook.demo [PATH]`: (re)write the bundled sample workbook, or PATH."""
    argv = sys.argv[1:] if argv is None else argv
    path = write_demo_workbook(argv[0] if argv else demo_path())
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
