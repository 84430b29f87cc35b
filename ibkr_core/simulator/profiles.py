"""Account profiles of the simulated gateway (`--profile NAME`): which instruments the
gateway knows and which accounts the login manages, with their cash and holdings.

- `stocks` (default): one USD paper account, USD 250,000 and four US stocks.
- `multi-asset`: USD base; US stocks, a long AAPL call and a short AAPL put, an ES future
  and an ES call (FOP), SAP on IBIS (EUR) and Tencent on SEHK (HKD), EUR/JPY cash, a
  small HKD loan, an EUR.USD FX position, a US Treasury note and BTC on PAXOS.
- `eur-base`: the same kinds of holdings in an account whose base currency is EUR.
- `advisor`: a login managing three accounts (USD stocks; EUR-base European; USD
  derivatives), each with its own cash, holdings and base currency.

Seeded positions are {market key: (quantity, IBKR averageCost)}; averageCost is per
contract including the multiplier (options x100, ES x50), per bond in money (percent of
par x 10 for a 1,000 face bond), per share otherwise, commissions included.
"""

from __future__ import annotations

from dataclasses import dataclass

from .account import Account
from .assets import MULTI_ASSET
from .universe import STOCKS_UNIVERSE, Universe

PROFILES = ("stocks", "multi-asset", "eur-base", "advisor")
MULTI_UNIVERSE = Universe(MULTI_ASSET)

CALL = "AAPL  270115C00230000"
PUT = "AAPL  270115P00200000"
ES = "ESZ6"
ES_CALL = "ESZ6 C7000"
UST = "91282CLW9"


@dataclass(frozen=True)
class Profile:
    name: str
    universe: Universe
    accounts: tuple[Account, ...]


def _multi_asset(account_id: str) -> Account:
    return Account(
        account_id=account_id,
        base_currency="USD",
        balances={"USD": 120_000.0, "EUR": 25_000.0, "JPY": 1_500_000.0, "HKD": -8_000.0},
        positions={
            "AAPL": (100, 175.20),
            "MSFT": (40, 402.15),
            "SPY": (25, 510.30),
            "NVDA": (60, 118.40),
            CALL: (5, 1520.65),
            PUT: (-3, 714.35),
            ES: (1, 339_500.85),
            ES_CALL: (2, 2250.85),
            "SAP@IBIS": (50, 210.46),
            "700@SEHK": (400, 410.35),
            "EUR.USD": (15_000, 1.0722),
            UST: (10, 972.50),
            "BTC.USD": (0.5, 68_061.20),
        },
        universe=MULTI_UNIVERSE,
    )


def _eur_base(account_id: str) -> Account:
    return Account(
        account_id=account_id,
        base_currency="EUR",
        balances={"EUR": 180_000.0, "USD": 22_000.0, "HKD": 15_000.0},
        positions={
            "SAP@IBIS": (120, 198.10),
            "AAPL": (50, 180.26),
            CALL: (2, 1610.65),
            ES: (1, 341_000.85),
            "700@SEHK": (200, 395.20),
            "EUR.USD": (-20_000, 1.0850),
            UST: (5, 968.00),
            "BTC.USD": (0.2, 71_000.00),
        },
        universe=MULTI_UNIVERSE,
    )


def _advisor(account_id: str) -> tuple[Account, ...]:
    prefix = account_id[:-1] if account_id[-1:].isdigit() else account_id
    last = int(account_id[-1]) if account_id[-1:].isdigit() else 0
    ids = [account_id] + [f"{prefix}{(last + i) % 10}" for i in (1, 2)]
    return (
        Account(
            account_id=ids[0],
            base_currency="USD",
            cash=85_000.0,
            positions={"AAPL": (200, 168.40), "MSFT": (60, 395.00), "JPM": (80, 190.15)},
            universe=MULTI_UNIVERSE,
        ),
        Account(
            account_id=ids[1],
            base_currency="EUR",
            balances={"EUR": 48_000.0, "USD": 5_000.0},
            positions={"SAP@IBIS": (80, 205.30), "SPY": (10, 540.10)},
            universe=MULTI_UNIVERSE,
        ),
        Account(
            account_id=ids[2],
            base_currency="USD",
            cash=160_000.0,
            positions={ES: (2, 678_801.70), CALL: (10, 1480.65), UST: (20, 975.00)},
            universe=MULTI_UNIVERSE,
        ),
    )


def build_profile(name: str, account_id: str = "DU1234567") -> Profile:
    """A fresh profile (accounts are mutable state: one per gateway)."""
    if name == "stocks":
        return Profile(name, STOCKS_UNIVERSE, (Account(account_id=account_id),))
    if name == "multi-asset":
        return Profile(name, MULTI_UNIVERSE, (_multi_asset(account_id),))
    if name == "eur-base":
        return Profile(name, MULTI_UNIVERSE, (_eur_base(account_id),))
    if name == "advisor":
        return Profile(name, MULTI_UNIVERSE, _advisor(account_id))
    raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
