"""Account data over a connection: the account summary, positions and live P&L.

These are the seed's account calls (``get_account_summary``, ``get_positions``,
``get_pnl``, ``subscribe_pnl``) as functions of an ``IBKRConnection``: blocking with
timeouts, safe from any thread but the loop's. What has to outlive one session lives in
the connection's ``Account`` companion: the accounts with a P&L subscription (sent again
after every (re)connect) and whether this session already asked for the account summary
(TWS allows two summary subscriptions at a time, so it is asked once per session).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ib_async import IB

from ibkr_core import ib_requests
from ibkr_core.companions import Companion
from ibkr_core.connection_errors import NotConnectedError
from ibkr_core.quote import clean

if TYPE_CHECKING:
    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = [
    "Account",
    "account_summary_async",
    "get_account_summary",
    "get_pnl",
    "get_positions",
    "position_rows",
    "subscribe_pnl",
    "summarize_account_values",
]


class Account:
    """(Loop thread.) A connection's account subscriptions that outlive one session."""

    def __init__(self, connection: IBKRConnection) -> None:
        self._conn = connection
        self.pnl_accounts: set[str] = set()
        self._summary_session: int | None = None  # the session that asked for the summary
        connection.connected_event += self._on_session_up
        connection.reconnected_event += self._on_session_up

    def _on_session_up(self, _status: ConnectionStatus) -> None:
        for account in sorted(self.pnl_accounts):
            self._conn.ib.reqPnL(account)

    def take_summary_request(self) -> bool:
        """True the first time in a session (the caller then asks), False after."""
        first = self._summary_session != self._conn.session_id
        self._summary_session = self._conn.session_id
        return first


account_of: Companion[Account] = Companion(Account)


def subscribe_pnl(
    connection: IBKRConnection, account: str | None = None, timeout: float | None = None
) -> None:
    """Start a ``reqPnL`` subscription (restored after a reconnect)."""
    subscriptions = account_of(connection)

    def _sub(ib: IB) -> None:
        accounts = connection.status().accounts
        acct = account or (accounts[0] if accounts else "")
        if not acct:
            raise NotConnectedError("No account to subscribe PnL for")
        subscriptions.pnl_accounts.add(acct)
        if not any(p.account == acct for p in ib.pnl()):
            ib.reqPnL(acct)

    connection.run(_sub, timeout)


def get_pnl(
    connection: IBKRConnection, timeout: float | None = None
) -> dict[str, dict[str, float | None]]:
    """Live PnL per subscribed account (None until IBKR sends a value)."""

    def _read(ib: IB) -> dict[str, dict[str, float | None]]:
        return {
            p.account: {
                "daily_pnl": clean(p.dailyPnL),
                "unrealized_pnl": clean(p.unrealizedPnL),
                "realized_pnl": clean(p.realizedPnL),
            }
            for p in ib.pnl()
        }

    return connection.run(_read, timeout)


def get_account_summary(
    connection: IBKRConnection, timeout: float | None = None
) -> dict[str, dict[str, Any]]:
    """``{account: {"NetLiquidation": 1.0e5, "TotalCashValue": ..., "BuyingPower":
    ..., "currency": "USD", ...}}`` (numbers as floats, other tags as strings)."""
    timeout = connection.settings.request_timeout if timeout is None else timeout
    return connection.run(account_summary_async(connection, timeout), timeout + 1.0)


def get_positions(connection: IBKRConnection, timeout: float | None = None) -> list[dict[str, Any]]:
    """One dict per position: account, symbol, sec_type, con_id, currency, quantity,
    avg_cost, market_price, market_value, unrealized_pnl, realized_pnl (None if
    unknown)."""
    return connection.run(position_rows, timeout)


async def account_summary_async(
    connection: IBKRConnection, timeout: float
) -> dict[str, dict[str, Any]]:
    """(Loop thread.) The summary rows, asked for once per session, else the account
    window's values (reqAccountUpdates, same tag names)."""
    ib = connection.ib
    values = ib_requests.account_summary_values(ib)
    if not values and account_of(connection).take_summary_request():
        with contextlib.suppress(asyncio.TimeoutError):
            values = await asyncio.wait_for(ib.accountSummaryAsync(), timeout)
    if not values:
        values = ib.accountValues()
    return summarize_account_values(values)


def _row(account: str, c: Any, quantity: float, avg_cost: Any) -> dict[str, Any]:
    return {
        "account": account,
        "symbol": c.symbol,
        "local_symbol": c.localSymbol or c.symbol,
        "sec_type": c.secType,
        "con_id": c.conId,
        "currency": c.currency,
        "quantity": float(quantity),
        "avg_cost": clean(avg_cost),
        "market_price": None,
        "market_value": None,
        "unrealized_pnl": None,
        "realized_pnl": None,
    }


def position_rows(ib: IB) -> list[dict[str, Any]]:
    """(Loop thread.) The priced portfolio items, then positions not priced yet."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for item in ib.portfolio():
        seen.add((item.account, item.contract.conId))
        row = _row(item.account, item.contract, item.position, item.averageCost)
        row["market_price"] = clean(item.marketPrice)
        row["market_value"] = clean(item.marketValue)
        row["unrealized_pnl"] = clean(item.unrealizedPNL)
        row["realized_pnl"] = clean(item.realizedPNL)
        rows.append(row)
    for pos in ib.positions():  # positions the account window hasn't priced yet
        if (pos.account, pos.contract.conId) in seen or not pos.position:
            continue
        rows.append(_row(pos.account, pos.contract, pos.position, pos.avgCost))
    rows.sort(key=lambda r: (r["account"], r["symbol"]))
    return rows


def summarize_account_values(values: list[Any]) -> dict[str, dict[str, Any]]:
    """AccountValue rows -> ``{account: {tag: float|str, "currency": base}}``.

    Per tag, the base-currency row wins over per-currency ledger rows."""
    out: dict[str, dict[str, Any]] = {}
    ranks: dict[tuple[str, str], int] = {}
    for v in values:
        if v.modelCode:
            continue
        account = out.setdefault(v.account, {})
        if v.tag == "NetLiquidation" and v.currency not in ("", "BASE"):
            account.setdefault("currency", v.currency)
        rank = 2 if v.currency in ("", "BASE") else 1
        key = (v.account, v.tag)
        if ranks.get(key, 0) > rank:
            continue
        ranks[key] = rank
        try:
            account[v.tag] = float(v.value)
        except (TypeError, ValueError):
            account[v.tag] = v.value
    return out
