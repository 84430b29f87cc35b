"""An order's value in the account's base currency, at the account's own rates.

IBKR reports, per account, ``ExchangeRate`` values (units of base currency per unit of
each currency it holds or trades) and the base currency itself (the currency code of
``NetLiquidation``). ``max_order_value`` is a limit in that base currency, so an order
in HKD or EUR is converted with exactly those rates; a currency without a rate is
"unknown", never guessed (the order is refused with a plain message instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ibkr_core.quote import num

__all__ = ["AccountRates", "account_rates"]


@dataclass(frozen=True)
class AccountRates:
    account: str
    base: str  # "" when IBKR has not said yet
    rates: dict[str, float]  # currency -> base units per unit

    def to_base(self, value: float, currency: str) -> float | None:
        """``value`` in ``currency`` converted to the base currency (None: no rate)."""
        if currency and currency == self.base:
            return value
        rate = self.rates.get(currency)
        return value * rate if rate else None


def account_rates(values: list[Any], account: str) -> AccountRates:
    """From ib_async's ``accountValues()``: the account's base currency and rates."""
    base = ""
    rates: dict[str, float] = {}
    for v in values:
        if account and v.account != account:
            continue
        if v.tag == "NetLiquidation" and v.currency and v.currency != "BASE":
            base = v.currency
        elif v.tag == "ExchangeRate" and v.currency and v.currency != "BASE":
            rate = num(v.value)
            if rate and rate > 0:
                rates[v.currency] = rate
    return AccountRates(account, base, rates)
