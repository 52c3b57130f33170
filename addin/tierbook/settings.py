"""Every setting of the classification, in one typed, frozen object.

The defaults are the ones of DOMAIN.md; each is a documented choice a user can change
(on the command line, in the workbook's settings sheet, or in Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import Enum
from types import MappingProxyType
from typing import Any, Mapping

from .errors import SettingsError


class Criterion(str, Enum):
    """The ranking measure (seed 001): it follows the company's strategy."""

    revenue = "revenue"  # sum of amount, net of refunds
    payments = "payments"  # number of payments: distinct order_id, else rows with amount > 0
    units = "units"  # sum of units shipped: market expansion
    profit = "profit"  # sum of margin: dividends


#: Messages per year for each lifecycle class (seed 000: 6–18 a year).
DEFAULT_CONTACTS_PER_YEAR: Mapping[str, int] = MappingProxyType(
    {
        "new": 12,
        "permanent": 12,
        "occasional": 12,
        "one-time": 6,
        "potential": 6,
        "unprofitable": 0,
    }
)


@dataclass(frozen=True)
class Settings:
    """What to rank by, how big the tiers are, and the thresholds of every rule."""

    # Tiers (DOMAIN §1)
    criterion: Criterion = Criterion.revenue
    share: float = 0.20  # share of each month's payers that is VIP (ceil, ties all in)
    good_share: float = 0.20  # share of the non-VIP active customers that is Good
    window: int = 6  # months a monthly VIP stays in the ledger
    month: str | None = None  # analysis month "YYYY-MM"; None = last month in the data
    lost_after: int = 2  # a monthly VIP silent for more than this many months is a lost VIP

    # Lifecycle (DOMAIN §2)
    new_days: int = 30  # first purchase within this many days → new
    follow_up_days: int = 7  # call a new customer this many days after the first purchase
    active_factor: float = 1.5  # permanent: last purchase within factor × usual cycle
    active_days_unknown_cycle: int = 365  # ... or within this many days when the cycle is unknown
    occasional_days: int = 730  # occasional: last purchase within 2 years; beyond → potential
    contacts_per_year: Mapping[str, int] = field(default_factory=lambda: DEFAULT_CONTACTS_PER_YEAR)

    # Volume × value (DOMAIN §3)
    quadrant_quantile: float = 0.5  # split volume and value at this quantile (median)

    # Rhythm and reminders (DOMAIN §4)
    rhythm_min_days: int = 3  # purchase days needed to know a customer's cycle
    regular_cv: float = 0.5  # coefficient of variation of the gaps up to which a rhythm is regular
    yearly_cycle_days: int = 300  # a cycle this long or longer is yearly
    lead_share: float = 0.25  # remind this share of the cycle before the expected purchase
    lead_min_days: int = 7
    lead_max_days: int = 45
    #: a customer whose consent no cell records (blank cells, or no consent column): True =
    #: they agreed ("yes"); False = "unknown": no messages, the manager asks for permission
    consent_if_missing: bool = False

    # Order-size tiers (DOMAIN §5)
    huge_share: float = 0.10  # top 10% of repeat customers by average payment
    medium_share: float = 0.30  # the next 30%
    #: unprofitable customers in this top share of all customers by revenue get a margin
    #: review (a big account squeezing prices); the others get no marketing spend
    margin_review_share: float = 0.20

    # Concentration (DOMAIN §5)
    top3_alert: float = 0.50  # alert when the top 3 customers give at least this share
    top1_alert: float = 0.20  # ... or one customer gives at least this share
    pareto_share: float = 0.80  # "the smallest number of customers giving 80%"

    # Reactivation A/B tests (DOMAIN §6)
    response_days: int = 60  # a purchase within this many days after the contact is a conversion
    contact_in_days: int = 7  # planned contact date: this many days after planning

    def __post_init__(self) -> None:
        object.__setattr__(self, "criterion", Criterion(self.criterion))
        object.__setattr__(self, "contacts_per_year", MappingProxyType(dict(self.contacts_per_year)))
        problems = []
        for name in ("share", "good_share", "huge_share", "medium_share", "quadrant_quantile", "lead_share",
                     "top3_alert", "top1_alert", "pareto_share", "margin_review_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                problems.append(f"{name} must be in (0, 1], got {value!r}")
        if self.huge_share + self.medium_share > 1:
            problems.append("huge_share + medium_share must be at most 1")
        for name in ("window", "new_days", "rhythm_min_days", "lead_min_days", "active_days_unknown_cycle",
                     "occasional_days", "response_days"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.lost_after < 0 or self.follow_up_days < 0:
            problems.append("lost_after and follow_up_days must not be negative")
        if self.lead_min_days > self.lead_max_days:
            problems.append("lead_min_days must not exceed lead_max_days")
        if self.rhythm_min_days < 3:
            problems.append("rhythm_min_days must be at least 3: a cycle needs two gaps")
        if self.month is not None:
            import re

            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(self.month)):
                problems.append(f"month must look like YYYY-MM, got {self.month!r}")
        if problems:
            raise SettingsError("; ".join(problems), "settings", problems=problems)

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some settings changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for writing the settings into a workbook."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out
