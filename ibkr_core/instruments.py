"""Instruments as traders read them: asset class, description, exchange, multiplier.

Built from the contract fields TWS sends with positions and portfolio updates
(symbol, secType, lastTradeDateOrContractMonth, strike, right, multiplier,
primaryExchange / exchange, currency, localSymbol, tradingClass). Examples::

    AAPL option        -> "AAPL 17 JAN 25 200 Call"
    ES future          -> "ES DEC 25"
    SAP on IBIS in EUR -> "SAP · IBIS · EUR"
    US Treasury        -> "UST 4.25% 2034"   (from "T 4 1/4 11/15/34")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ibkr_core.quote import num

__all__ = ["ASSET_CLASSES", "Instrument", "asset_class", "describe", "instrument"]

ASSET_CLASSES = {
    "STK": "Stocks",
    "OPT": "Options",
    "FUT": "Futures",
    "FOP": "Futures options",
    "BOND": "Bonds",
    "BILL": "Bonds",
    "CASH": "FX",
    "CRYPTO": "Crypto",
    "FUND": "Funds",
    "WAR": "Warrants",
    "CFD": "CFDs",
    "CMDTY": "Commodities",
    "IND": "Indices",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# "T 4 1/4 11/15/34", "US-T 4.25 11/15/2034", "IBM 7 10/30/25"
PRICED_IN_PERCENT_OF_PAR = frozenset({"BOND", "BILL"})  # price x quantity is not the value
_BOND = re.compile(
    r"^(?P<issuer>\S+)\s+(?P<coupon>\d+(?:\.\d+)?(?:\s+\d+/\d+)?|\d+/\d+)\s+"
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{2}|\d{4})$"
)
_TREASURY_ISSUERS = {"T", "US-T", "UST", "TSY"}


@dataclass(frozen=True)
class Instrument:
    con_id: int
    symbol: str
    local_symbol: str
    sec_type: str
    asset_class: str
    description: str
    exchange: str
    currency: str
    multiplier: float | None  # contract multiplier as IBKR sends it (None: not set)


def asset_class(sec_type: str) -> str:
    return ASSET_CLASSES.get(sec_type, sec_type or "Other")


def _strike(value: Any) -> str:
    strike = num(value)
    if strike is None:
        return "?"
    return f"{strike:.4f}".rstrip("0").rstrip(".")


def _expiry_day(text: str) -> str:
    """'20250117' -> '17 JAN 25'; '202501' -> 'JAN 25'."""
    if len(text) >= 6 and text[:6].isdigit():
        month = int(text[4:6])
        if 1 <= month <= 12:
            head = f"{text[6:8]} " if len(text) >= 8 and text[6:8].isdigit() else ""
            return f"{head}{_MONTHS[month - 1]} {text[2:4]}"
    return text


def _contract_month(text: str) -> str:
    """'20251219' or '202512' -> 'DEC 25'."""
    if len(text) >= 6 and text[:6].isdigit() and 1 <= int(text[4:6]) <= 12:
        return f"{_MONTHS[int(text[4:6]) - 1]} {text[2:4]}"
    return text


def _coupon(text: str) -> float | None:
    total = 0.0
    for part in text.split():
        if "/" in part:
            top, _, bottom = part.partition("/")
            if not bottom or float(bottom) == 0:
                return None
            total += float(top) / float(bottom)
        else:
            total += float(part)
    return total


def _bond(contract: Any, details: Any | None) -> str:
    symbol = contract.symbol or ""
    issuer, coupon, year = symbol, None, None
    long_name = (getattr(details, "longName", "") or "") if details is not None else ""
    if details is not None:
        coupon = num(getattr(details, "coupon", None))
        maturity = getattr(details, "maturity", "") or ""
        year = maturity[:4] if maturity[:4].isdigit() else None
    for text in (
        getattr(details, "descAppend", "") if details is not None else "",
        contract.localSymbol or "",
        symbol,
    ):
        match = _BOND.match((text or "").strip())
        if match:
            issuer = match["issuer"]
            coupon = coupon if coupon is not None else _coupon(match["coupon"])
            y = match["year"]
            year = year or (y if len(y) == 4 else f"20{y}")
            break
    if year is None:
        expiry = contract.lastTradeDateOrContractMonth or ""
        year = expiry[:4] if expiry[:4].isdigit() else None
    if issuer.upper() in _TREASURY_ISSUERS or "TREASURY" in long_name.upper():
        issuer = "UST"
    parts = [issuer]
    if coupon is not None:
        parts.append(f"{coupon:.3f}".rstrip("0").rstrip(".") + "%")
    if year:
        parts.append(year)
    name = " ".join(parts)
    local = (contract.localSymbol or "").strip()
    if coupon is None and local and not _BOND.match(local) and local != symbol:
        name = f"{name} · {local}"  # no coupon known: the CUSIP tells the bond apart
    return name


def describe(contract: Any, details: Any | None = None) -> str:
    """The name a trader reads (TWS's description column), from the contract alone
    (``details``, IBKR's ContractDetails, refines bonds: coupon, maturity)."""
    sec = contract.secType or ""
    symbol = contract.symbol or contract.localSymbol or str(contract.conId)
    if sec in ("OPT", "FOP", "WAR"):
        right = {"C": "Call", "CALL": "Call", "P": "Put", "PUT": "Put"}.get(
            (contract.right or "").upper(), contract.right or ""
        )
        expiry = _expiry_day(contract.lastTradeDateOrContractMonth or "")
        return f"{symbol} {expiry} {_strike(contract.strike)} {right}".strip()
    if sec == "FUT":
        return f"{symbol} {_contract_month(contract.lastTradeDateOrContractMonth or '')}".strip()
    if sec in PRICED_IN_PERCENT_OF_PAR:
        return _bond(contract, details)
    if sec == "CASH":
        return contract.localSymbol or f"{symbol}.{contract.currency}"
    exchange = _exchange(contract, details)
    return " · ".join(p for p in (symbol, exchange, contract.currency) if p)


def _exchange(contract: Any, details: Any | None) -> str:
    """The listing exchange (SAP: IBIS), not the routing one (SMART), where known:
    portfolio updates carry primaryExchange, positions only the routing exchange,
    contract details both."""
    listed = getattr(getattr(details, "contract", None), "primaryExchange", "") or ""
    return contract.primaryExchange or listed or contract.exchange or ""


def instrument(contract: Any, details: Any | None = None) -> Instrument:
    sec = contract.secType or ""
    return Instrument(
        con_id=int(contract.conId or 0),
        symbol=contract.symbol or "",
        local_symbol=contract.localSymbol or contract.symbol or "",
        sec_type=sec,
        asset_class=asset_class(sec),
        description=describe(contract, details),
        exchange=_exchange(contract, details),
        currency=contract.currency or "",
        multiplier=num(contract.multiplier),
    )
