"""Knobs of the simulated gateway."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimConfig:
    """How the simulated gateway behaves.

    Entitlements model a paper account's market-data subscriptions:
    - ``not_entitled``: live data answers 354; delayed data (type 3/4) works;
    - ``delayed_only``: live requests answer 10167 and stream delayed ticks;
    - ``no_delayed``: delayed data is refused too (10168).
    """

    account_id: str = "DU1234567"
    # The accounts and instruments (profiles.py): "stocks", "multi-asset", "eur-base",
    # "advisor". An advisor login's further accounts follow `account_id`.
    profile: str = "stocks"
    not_entitled: frozenset[str] = field(default_factory=frozenset)
    delayed_only: frozenset[str] = field(default_factory=frozenset)
    no_delayed: frozenset[str] = field(default_factory=frozenset)
    tick_interval: float = 0.25  # IBKR's stock snapshot interval
    pnl_interval: float = 1.0  # reqPnL / reqPnLSingle updates
    # TWS refreshes the account window (reqAccountUpdates, reqAccountSummary) every
    # 3 minutes, and at once after a fill.
    account_update_interval: float = 180.0
    max_market_data_lines: int = 100
    market_open: bool = True
    first_order_id: int = 1
