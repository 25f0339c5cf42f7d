"""Prices of GPUs in one currency: catalog quotes, user overrides, staleness and ranges.

Amounts are never converted between currencies: a card with no price in the requested
currency has no quote, and the caller says so.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Literal

from rigtui.core.specs import PriceSpec

Condition = Literal["new", "used"]
STALE_AFTER_MONTHS = 6


@dataclass(frozen=True)
class Quote:
    """One card's price in one condition, as a range."""

    gpu: str
    condition: Condition
    low: float
    high: float
    currency: str
    as_of: dt.date | None
    """Date the source observed the price; None for a user override."""
    source: str
    stale: bool = False
    overridden: bool = False

    @property
    def expected(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class MoneyRange:
    """An amount with its range, in one currency."""

    low: float
    expected: float
    high: float
    currency: str

    def as_dict(self) -> dict[str, float | str]:
        return {
            "low": round(self.low, 2),
            "expected": round(self.expected, 2),
            "high": round(self.high, 2),
            "currency": self.currency,
        }

    def __add__(self, other: "MoneyRange") -> "MoneyRange":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency} without an exchange rate")
        return MoneyRange(self.low + other.low, self.expected + other.expected, self.high + other.high, self.currency)

    def __sub__(self, other: "MoneyRange") -> "MoneyRange":
        """Subtract a range: the low end pays the least and receives the most."""
        if other.currency != self.currency:
            raise ValueError(f"cannot subtract {other.currency} from {self.currency} without an exchange rate")
        return MoneyRange(self.low - other.high, self.expected - other.expected, self.high - other.low, self.currency)

    @classmethod
    def zero(cls, currency: str) -> "MoneyRange":
        return cls(0.0, 0.0, 0.0, currency)


@dataclass(frozen=True)
class PriceOverride:
    """A price the user gives for a card, for one condition or both (condition None)."""

    gpu: str
    amount: float
    condition: Condition | None = None


def months_before(day: dt.date, months: int) -> dt.date:
    """Return the same day of the month ``months`` earlier, clamped to the month's last day."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_stale(as_of: dt.date | None, today: dt.date) -> bool:
    """True when a price was observed more than six months before ``today``."""
    return as_of is not None and as_of < months_before(today, STALE_AFTER_MONTHS)


class PriceBook:
    """Every price known for the cards, in one currency, with the user's overrides applied."""

    def __init__(
        self,
        prices: Iterable[PriceSpec],
        currency: str = "USD",
        overrides: Iterable[PriceOverride] = (),
        today: dt.date | None = None,
    ) -> None:
        self.currency = currency.upper()
        self.today = today or dt.date.today()
        self._quotes: dict[tuple[str, str], Quote] = {}
        self._other_currencies: dict[str, set[str]] = {}
        for price in prices:
            if price.currency.upper() != self.currency:
                self._other_currencies.setdefault(price.gpu, set()).add(price.currency.upper())
                continue
            key = (price.gpu, price.condition)
            known = self._quotes.get(key)
            # Keep the newest observation of a card in one condition.
            if known is not None and known.as_of is not None and known.as_of >= price.as_of:
                continue
            self._quotes[key] = Quote(
                gpu=price.gpu,
                condition=price.condition,
                low=price.low,
                high=price.high,
                currency=self.currency,
                as_of=price.as_of,
                source=price.source,
                stale=is_stale(price.as_of, self.today),
            )
        for override in overrides:
            conditions: tuple[Condition, ...] = (override.condition,) if override.condition else ("new", "used")
            for condition in conditions:
                self._quotes[(override.gpu, condition)] = Quote(
                    gpu=override.gpu,
                    condition=condition,
                    low=override.amount,
                    high=override.amount,
                    currency=self.currency,
                    as_of=None,
                    source="user override",
                    overridden=True,
                )

    def quote(self, gpu: str, condition: Condition) -> Quote | None:
        return self._quotes.get((gpu, condition))

    def buy_quote(self, gpu: str, buy: Literal["new", "used", "any"] = "any") -> Quote | None:
        """Return the price to buy a card: the condition asked for, or with "any" the cheaper one."""
        if buy != "any":
            return self.quote(gpu, buy)
        found = [q for q in (self.quote(gpu, "new"), self.quote(gpu, "used")) if q is not None]
        return min(found, key=lambda q: q.expected) if found else None

    def sell_quote(self, gpu: str) -> Quote | None:
        """Return what a card fetches when sold: its used price."""
        return self.quote(gpu, "used")

    def purchasable(self, buy: Literal["new", "used", "any"] = "any") -> list[str]:
        """Return the ids of cards with a purchase price in this currency."""
        ids = {gpu for gpu, _ in self._quotes}
        return sorted(g for g in ids if self.buy_quote(g, buy) is not None)

    def other_currencies(self, gpu: str) -> list[str]:
        """Return the currencies a card has prices in besides this book's."""
        return sorted(self._other_currencies.get(gpu, ()))

    def missing_message(self, gpu: str, name: str, condition: str) -> str:
        """Return the sentence that explains a missing price and how to supply it."""
        others = self.other_currencies(gpu)
        elsewhere = f" (the catalog has it in {', '.join(others)}; rigtui does not convert currencies)" if others else ""
        return (
            f"No {condition} {self.currency} price for {name}{elsewhere}: "
            f"set one with --price '{name}=AMOUNT:{condition}' or the Upgrade screen's o key."
        )

    def unpriced_resale_message(self, gpu: str, name: str) -> str:
        """Return the sentence that says a sold card's resale is left out of the net cost, and how to supply it."""
        others = self.other_currencies(gpu)
        elsewhere = f" (the catalog has it in {', '.join(others)}; rigtui does not convert currencies)" if others else ""
        return (
            f"Resale of {name} not counted: no used {self.currency} price{elsewhere}; "
            f"set one with --price '{name}=AMOUNT:used' or the Upgrade screen's o key. The net cost is an upper bound."
        )


def range_of(quotes: Iterable[Quote], currency: str) -> MoneyRange:
    """Return the summed range of several quotes."""
    total = MoneyRange.zero(currency)
    for quote in quotes:
        total = total + MoneyRange(quote.low, quote.expected, quote.high, currency)
    return total


def format_money(amount: float, currency: str) -> str:
    """Return an amount with its currency code, whole units with thousands separators."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,.0f} {currency}"
