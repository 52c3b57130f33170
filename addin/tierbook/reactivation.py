"""Reactivation A/B tests for one-time buyers (seed 004, DOMAIN §6).

Plan: every one-time buyer who gave consent gets one of up to five message variants,
reproducibly (a stored seed) and balanced within strata of manager and order size.
Results: a conversion is a purchase within `response_days` after the contact; per
variant the rate with a 95% Wilson interval, and a verdict in plain words.

Pure functions on frames; the statistics use only the standard library and numpy.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import SettingsError
from .schema import ISSUE_COLUMNS
from .segment import top_share
from .settings import Settings

MAX_VARIANTS = 5
VARIANTS = "ABCDE"
PLAN_COLUMNS = ["customer", "variant", "stratum", "manager", "channel", "contact_time", "email", "phone",
                "planned_on"]
Z95 = 1.959963984540054  # two-sided 95%
Z80 = 0.8416212335729143  # one-sided 80% power


# --------------------------------------------------------------------------- plan


def plan(customers: pd.DataFrame, variants: int, seed: int, planned_on: pd.Timestamp,
         existing: pd.DataFrame | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Assign a variant to every one-time buyer with consent.

    Customers in `existing` keep their variant; the others are added. Within each
    stratum (manager × order size of their one purchase) customers are put in an order
    fixed by the seed and dealt variants in turn, continuing from how many the stratum
    already holds, so variants stay balanced in every stratum and overall.
    """
    if not 1 <= variants <= MAX_VARIANTS:
        raise SettingsError(f"variants must be between 1 and {MAX_VARIANTS}, got {variants}", "variants",
                            variants=variants)
    settings = settings or Settings()
    targets = customers[(customers["lifecycle"] == "one-time") & customers["consent"].astype(bool)]
    strata = _strata(targets, settings)
    existing = existing if existing is not None else pd.DataFrame(columns=PLAN_COLUMNS)
    kept = existing[PLAN_COLUMNS].copy()
    # assign before filtering: pandas 3 turns an empty frame assigned a Series into that Series' rows
    new = targets.assign(stratum=strata)
    new = new[~new["customer"].isin(kept["customer"])]
    new = new.assign(_order=_seeded_order(new["customer"], seed)).sort_values(["stratum", "_order"])
    already = kept.groupby("stratum").size()
    start = new["stratum"].map(already).fillna(0).astype("int64")
    offset = new["stratum"].map(_stratum_offset(seed, variants)).astype("int64")
    turn = start + new.groupby("stratum").cumcount() + offset
    added = new.assign(variant=[VARIANTS[i] for i in (turn % variants)], planned_on=pd.Timestamp(planned_on))
    out = pd.concat([kept, added[PLAN_COLUMNS]], ignore_index=True) if len(kept) else added[PLAN_COLUMNS]
    return out.sort_values(["variant", "customer"], ignore_index=True)


def _strata(targets: pd.DataFrame, settings: Settings) -> pd.Series:
    """Manager × order size of the one purchase (huge / medium / small, as size tiers)."""
    revenue = targets["revenue"].where(targets["revenue"] > 0)
    huge = top_share(revenue, settings.huge_share)
    medium = top_share(revenue, settings.huge_share + settings.medium_share) & ~huge
    size = np.select([huge, medium], ["huge", "medium"], default="small")
    manager = targets["manager"].astype(str).replace("", "(none)")
    return manager + " / " + pd.Series(size, index=targets.index)


def _seeded_order(names: pd.Series, seed: int) -> np.ndarray:
    """A pseudo-random order of customers that depends only on the seed and each name,
    so adding customers later never reorders the ones already there."""
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big")
                     for name in names], dtype=np.uint64)


def _stratum_offset(seed: int, variants: int):
    """Each stratum starts dealing at its own seeded variant, so small strata do not all
    favour variant A."""
    return lambda stratum: int(hashlib.sha256(f"{seed}|{stratum}".encode()).hexdigest(), 16) % variants


# --------------------------------------------------------------------------- results


def check_log(log: pd.DataFrame, assignments: pd.DataFrame, sheet: str, customer_column: str = "customer",
              variant_column: str = "variant") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contacts of the clean LOG that belong to the test, and a report of the others.

    A contact counts only for a customer of the plan (ASSIGNMENTS) and under the variant
    assigned to them: a contact of a customer who is not in the plan, or with another
    variant than the assigned one, says nothing about the variants and is reported
    (sheet, row, column, value, problem), not counted. LOG's index is the sheet's row.
    """
    assigned = assignments.drop_duplicates("customer").set_index("customer")["variant"].astype(str)
    planned = log["customer"].map(assigned)
    outside = planned.isna()
    other = ~outside & (planned != log["variant"].astype(str))
    rows = [(sheet, int(row), customer_column, str(c), "customer is not in the reactivation plan, not counted")
            for row, c in zip(log.index[outside], log.loc[outside, "customer"])]
    rows += [(sheet, int(row), variant_column, str(v), f"variant {v} is not the planned variant {p}, not counted")
             for row, v, p in zip(log.index[other], log.loc[other, "variant"], planned[other])]
    issues = pd.DataFrame(rows, columns=ISSUE_COLUMNS).astype({"row": "int64"})
    issues = issues.sort_values(["row", "column"], kind="stable", ignore_index=True)
    return log[~(outside | other)], issues


def conversions(log: pd.DataFrame, tx: pd.DataFrame, response_days: int) -> pd.DataFrame:
    """Each contact of the log with whether the customer bought within `response_days`
    after it (the contact day itself not counted) and the revenue in that time."""
    contacts = log[["customer", "date", "variant"]].drop_duplicates(["customer", "variant"], keep="first")
    buys = tx.loc[tx["amount"] > 0, ["customer", "date", "amount"]].rename(columns={"date": "paid_on"})
    joined = contacts.reset_index(names="log_row").merge(buys, on="customer", how="left")
    inside = (joined["paid_on"] > joined["date"]) & (joined["paid_on"] <= joined["date"] + pd.Timedelta(days=response_days))
    joined["revenue_after"] = joined["amount"].where(inside, 0.0)
    joined["converted"] = inside
    per_contact = joined.groupby("log_row").agg(converted=("converted", "any"), revenue_after=("revenue_after", "sum"))
    return contacts.reset_index(names="log_row").join(per_contact, on="log_row").drop(columns="log_row")


def variant_results(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per variant: contacted, converted, rate with its 95% Wilson interval, revenue after contact."""
    g = contacts.groupby("variant")
    out = pd.DataFrame({"contacted": g.size(), "converted": g["converted"].sum().astype("int64"),
                        "revenue_after": g["revenue_after"].sum()})
    out["rate"] = out["converted"] / out["contacted"]
    low, high = wilson(out["converted"].to_numpy(), out["contacted"].to_numpy())
    out["rate_low"], out["rate_high"] = low, high
    return out.reset_index()


@dataclass(frozen=True)
class Verdict:
    best: str
    significant: bool  # the variants differ, and the best beats every other one after the Holm correction
    p_value: float  # chi-square test across all variants: do they differ at all?
    p_best_vs_next: float  # two-proportion test, best against the runner-up (uncorrected)
    contacts_needed: int  # per variant, to tell the best from the runner-up (0 if decided)
    text: str
    differ: bool = False  # the overall chi-square is below alpha
    p_best_adjusted: float = float("nan")  # best against every other variant, Holm-corrected (the largest)


#: The verdict's sentences; {fields} are filled in by verdict().
VERDICT_TEXTS = {
    "en": {
        "too_few": "A test needs at least two variants with contacts.",
        "equal": "No variant converts better than another so far; the rates are equal.",
        "winner": ("Variant {best} converts best ({rate} against {runner_rate} for {runner}), and the difference is "
                   "significant: the variants differ (chi-square {p_all}) and {best} beats every other variant "
                   "after the Holm correction for {comparisons} comparisons ({p_adj}). Use {best}."),
        "no_difference": ("Variant {best} leads ({rate} against {runner_rate} for {runner}), but the variants do not "
                          "differ significantly yet (chi-square {p_all}; {best} against {runner}: {p_pair}, "
                          "{p_adj} after the Holm correction). "),
        "no_winner": ("The variants differ (chi-square {p_all}), but no single variant is best yet: {best} leads "
                      "({rate} against {runner_rate} for {runner}, {p_adj} after the Holm correction for "
                      "{comparisons} comparisons). "),
        "needed": "About {needed} contacts per variant are needed to tell, {more} more for each.",
    },
    "ru": {
        "too_few": "Для теста нужны хотя бы два варианта с контактами.",
        "equal": "Пока ни один вариант не лучше другого: конверсия одинаковая.",
        "winner": ("Лучше всех покупают после варианта {best} ({rate} против {runner_rate} у {runner}), и разница "
                   "значима: варианты различаются (хи-квадрат {p_all}), и {best} лучше каждого другого варианта "
                   "с поправкой Холма на {comparisons} сравн. ({p_adj}). Используйте {best}."),
        "no_difference": ("Вариант {best} впереди ({rate} против {runner_rate} у {runner}), но значимой разницы между "
                          "вариантами пока нет (хи-квадрат {p_all}; {best} против {runner}: {p_pair}, "
                          "{p_adj} с поправкой Холма). "),
        "no_winner": ("Варианты различаются (хи-квадрат {p_all}), но единственного лучшего пока нет: {best} "
                      "впереди ({rate} против {runner_rate} у {runner}, {p_adj} с поправкой Холма на "
                      "{comparisons} сравн.). "),
        "needed": "Чтобы различить, нужно около {needed} контактов на вариант, ещё {more} для каждого.",
    },
}


def verdict(results: pd.DataFrame, alpha: float = 0.05, lang: str = "en") -> Verdict:
    """Which variant converts best, and whether the data can tell (in LANG).

    Two questions, both at level alpha: do the variants differ at all (Pearson's
    chi-square over all variants), and does the leader beat each other variant (a
    two-proportion test against each, Holm-corrected for the k − 1 comparisons, so five
    variants do not give five chances of a false winner). A winner needs both.
    """
    words = VERDICT_TEXTS["ru" if lang == "ru" else "en"]
    if len(results) < 2:
        return Verdict("", False, float("nan"), float("nan"), 0, words["too_few"])
    ranked = results.sort_values(["rate", "converted"], ascending=False)
    best, runner, others = ranked.iloc[0], ranked.iloc[1], ranked.iloc[1:]
    table = np.column_stack([results["converted"], results["contacted"] - results["converted"]])
    _, _, p_all = chi_square(table)
    pairs = np.array([two_proportion(int(best["converted"]), int(best["contacted"]), int(o["converted"]),
                                     int(o["contacted"]))[1] for _, o in others.iterrows()])
    p_pair = float(pairs[0])
    p_adjusted = float(holm(pairs).max())
    differ = p_all < alpha
    significant = bool(differ and p_adjusted < alpha)
    values = {"best": best["variant"], "runner": runner["variant"], "rate": f"{best['rate']:.0%}",
              "runner_rate": f"{runner['rate']:.0%}", "p_all": _p(p_all, lang), "p_pair": _p(p_pair, lang),
              "p_adj": _p(p_adjusted, lang), "comparisons": len(pairs)}
    if significant:
        return Verdict(str(best["variant"]), True, p_all, p_pair, 0, words["winner"].format(**values), True,
                       p_adjusted)
    # the contacts to tell the leader from the runner-up at the Bonferroni level of k − 1 comparisons
    needed = sample_size(float(best["rate"]), float(runner["rate"]), alpha / len(pairs))
    more = max(0, needed - int(min(best["contacted"], runner["contacted"])))
    if needed == 0:  # the leader and the runner-up convert equally: no number of contacts tells them apart
        text = words["no_winner"].format(**values).strip() if differ else words["equal"]
    else:
        text = words["no_winner" if differ else "no_difference"].format(**values)
        text += words["needed"].format(needed=needed, more=more)
    return Verdict(str(best["variant"]), False, p_all, p_pair, needed, text, bool(differ), p_adjusted)


def _p(p: float, lang: str = "en") -> str:
    """A p-value in words: p = 0.034 (p = 0,034 in Russian, with the decimal comma)."""
    text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return text.replace(".", ",") if lang == "ru" else text


# --------------------------------------------------------------------------- statistics


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (in the order given): the i-th smallest p is
    multiplied by m − i + 1, then made non-decreasing and capped at 1. A comparison is
    significant at level alpha when its adjusted p is below alpha; this controls the
    chance of any false finding among the m comparisons."""
    p = np.asarray(p_values, dtype="float64")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = stepped
    return out


def wilson(converted: np.ndarray, contacted: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of a proportion (good for small counts and rates near 0)."""
    k = np.asarray(converted, dtype="float64")
    n = np.asarray(contacted, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def chi_square(table: np.ndarray) -> tuple[float, int, float]:
    """Pearson's chi-square test of independence of a k × 2 table: statistic, degrees of
    freedom, p-value (no continuity correction)."""
    observed = np.asarray(table, dtype="float64")
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        cells = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0)
    statistic = float(cells.sum())
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    return statistic, dof, chi2_sf(statistic, dof)


def two_proportion(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Two-sided z-test of two proportions with the pooled variance: z, p-value."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square variable with `dof` degrees of freedom (closed forms)."""
    if x <= 0:
        return 1.0
    half = x / 2
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return math.exp(-half) * total
    total = math.erfc(math.sqrt(half))
    term = math.sqrt(half) / math.gamma(1.5)
    for i in range(1, (dof - 1) // 2 + 1):
        total += math.exp(-half) * term
        term *= half / (i + 0.5)
    return total


def sample_size(p1: float, p2: float, alpha: float = 0.05, z_power: float = Z80) -> int:
    """Contacts per variant needed to tell rates p1 and p2 apart (two-sided alpha,
    80% power); 0 when the rates are equal."""
    if p1 == p2:
        return 0
    z_alpha = Z95 if alpha == 0.05 else _z(1 - alpha / 2)
    mean = (p1 + p2) / 2
    top = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(top * top / (p1 - p2) ** 2)


def _z(q: float) -> float:
    """The standard normal quantile (bisection on erfc; only for unusual alphas)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
