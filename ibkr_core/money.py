"""An account's money as IBKR reports it: base currency, exchange rates, cash per currency.

TWS sends the account window (``reqAccountUpdates``) and the account summary's ledger
(``reqAccountSummary`` with ``$LEDGER:ALL``) as ``AccountValue`` rows, one per tag and
currency:

- ``ExchangeRate`` per currency: units of the base currency per unit of that currency
  (``BASE`` and the base currency itself are ``1.00``);
- ``CashBalance`` / ``TotalCashBalance`` per currency, and their ``BASE`` row (the sum
  in the base currency);
- totals such as ``NetLiquidation`` and ``TotalCashValue`` tagged with the base
  currency's code (that is how the base currency is known).

Every conversion uses those rates and nothing else: an amount in a currency the account
has no rate for converts to ``None`` (unknown), never to a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ibkr_core.quote import num

__all__ = ["AccountBook", "CashLine", "account_books", "combine_rates"]

BASE = "BASE"
# Totals TWS reports in the base currency, tagged with the base currency's code.
_BASE_TAGS = ("NetLiquidation", "TotalCashValue", "EquityWithLoanValue", "BuyingPower")


@dataclass(frozen=True)
class CashLine:
    """Cash in one currency: the balance in that currency and its value in base."""

    currency: str
    balance: float | None
    rate: float | None  # base per unit, IBKR's ExchangeRate
    base_value: float | None


@dataclass(frozen=True)
class AccountBook:
    """One account's values, keyed ``(tag, currency)`` as TWS sent them."""

    account: str
    base_currency: str | None
    rates: dict[str, float] = field(default_factory=dict)
    values: dict[tuple[str, str], str] = field(default_factory=dict)

    def rate(self, currency: str | None) -> float | None:
        """Units of base per unit of ``currency`` (IBKR's ExchangeRate), or None."""
        if not currency:
            return None
        if currency == self.base_currency:
            return 1.0
        return self.rates.get(currency)

    def convert(self, amount: float | None, currency: str | None) -> float | None:
        """``amount`` in ``currency`` expressed in the base currency; None if unknown."""
        if amount is None:
            return None
        rate = self.rate(currency)
        return None if rate is None else amount * rate

    def raw(self, tag: str, currency: str) -> str | None:
        return self.values.get((tag, currency))

    def number(self, tag: str, currency: str) -> float | None:
        return num(self.values.get((tag, currency)))

    def total(self, tag: str) -> float | None:
        """A whole-account figure in the base currency: the ``BASE`` row, else the row
        tagged with the base currency's code (NetLiquidation, TotalCashValue, ...)."""
        found = self.number(tag, BASE)
        if found is None and self.base_currency:
            found = self.number(tag, self.base_currency)
        if found is None:
            found = self.number(tag, "")
        return found

    def currency_rows(self, tag: str) -> dict[str, float]:
        """Per-currency rows of ``tag`` (``BASE`` and untagged rows left out)."""
        out: dict[str, float] = {}
        for (t, cur), raw in self.values.items():
            if t == tag and cur not in ("", BASE):
                value = num(raw)
                if value is not None:
                    out[cur] = value
        return out

    def cash(self) -> list[CashLine]:
        """Cash per currency (TotalCashBalance: cash at trade time plus futures P&L;
        CashBalance where TWS sent only that), base currency first, then by code."""
        balances = self.currency_rows("CashBalance")
        balances.update(self.currency_rows("TotalCashBalance"))
        lines = [
            CashLine(cur, amount, self.rate(cur), self.convert(amount, cur))
            for cur, amount in balances.items()
        ]
        lines.sort(key=lambda line: (line.currency != self.base_currency, line.currency))
        return lines

    def total_cash(self) -> float | None:
        """All cash in base: IBKR's TotalCashValue, else its TotalCashBalance BASE row."""
        found = self.total("TotalCashValue")
        if found is None:
            found = self.number("TotalCashBalance", BASE)
        return found


def _base_currency(rows: dict[tuple[str, str], str]) -> str | None:
    for tag in _BASE_TAGS:
        for t, cur in rows:
            if t == tag and cur not in ("", BASE):
                return cur
    return None


def account_books(*sources: Iterable[Any]) -> dict[str, AccountBook]:
    """``AccountValue`` rows -> one book per account.

    ``sources`` are lists of rows, most trusted first (e.g. the account window, then
    the account summary): for a ``(tag, currency)`` both sent, the first wins. Rows of a
    model portfolio (``modelCode``) are left out: they are not the account's own."""
    merged: dict[str, dict[tuple[str, str], str]] = {}
    for source in sources:
        for v in source:
            if getattr(v, "modelCode", ""):
                continue
            merged.setdefault(v.account, {}).setdefault((v.tag, v.currency or ""), v.value)
    books: dict[str, AccountBook] = {}
    for account, rows in merged.items():
        base = _base_currency(rows)
        rates: dict[str, float] = {}
        for (tag, cur), raw in rows.items():
            rate = num(raw)
            if tag == "ExchangeRate" and cur not in ("", BASE) and rate and rate > 0:
                rates[cur] = rate
        if base:
            rates[base] = 1.0
        books[account] = AccountBook(account, base, rates, rows)
    return books


def combine_rates(books: Iterable[AccountBook], base: str) -> dict[str, float]:
    """Rates into ``base`` for an all-accounts view in one currency, from the login's
    own IBKR rates only: those of accounts in ``base`` first; an account in another
    base ``B`` then converts through its own rate for ``base`` (1 / rate: B per unit of
    ``base`` inverted), and its other currencies through ``B``."""
    books = list(books)
    rates: dict[str, float] = {base: 1.0}
    for book in books:
        if book.base_currency == base:
            for cur, rate in book.rates.items():
                rates.setdefault(cur, rate)
    for book in books:
        other = book.base_currency
        if not other or other == base:
            continue
        if other not in rates and book.rates.get(base):
            rates[other] = 1.0 / book.rates[base]
        if other in rates:
            for cur, rate in book.rates.items():
                rates.setdefault(cur, rate * rates[other])
    return rates
