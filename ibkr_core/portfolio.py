"""Portfolio read model: account summary and positions with live value and P&L.

Sources (all streamed into ib_async's state by subscriptions; reads never request):

- positions (quantity, average cost): ``reqPositions`` (ib_async subscribes at connect,
  updated at once after fills);
- live value and P&L per position: ``reqPnLSingle`` per held conId (about once a
  second), kept in sync with the positions and re-established after a reconnect;
- account P&L: ``reqPnL`` per account (subscribed once, restored by the connection);
- cash and NetLiquidation: the account window (``reqAccountUpdates`` /
  ``reqAccountSummary``), which TWS refreshes only every ~3 minutes and after fills.
  NetLiquidation is moved with live prices: the account window's own quantities times
  the change between its price and the live price.

Every public method is safe from any thread and returns within the settings' request
timeout. Missing data is ``None`` ("no data yet"), never 0, while connected; when not
connected the summary is zeros with ``source="not connected"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ibkr_core.connection_errors import NotConnectedError
from ibkr_core.quote import num

if TYPE_CHECKING:
    from ib_async import IB, PnLSingle

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = ["PortfolioService", "PortfolioSummary", "PositionRow"]

log = logging.getLogger(__name__)

SOURCE_IBKR = "ibkr"
SOURCE_NOT_CONNECTED = "not connected"


def _sum(values: list[float | None]) -> float | None:
    """Sum, or None if any part is unknown (a partial sum would be silently wrong)."""
    if any(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))


@dataclass(frozen=True)
class PositionRow:
    account: str
    symbol: str
    sec_type: str
    con_id: int
    quantity: float
    avg_cost: float | None
    market_price: float | None
    market_value: float | None
    unrealized_pnl: float | None
    unrealized_pnl_pct: float | None  # of the cost basis (|quantity| x avg cost)
    realized_pnl: float | None  # today
    weight_pct: float | None  # market value / the account's net liquidation
    currency: str
    daily_pnl: float | None = None  # today's P&L of the position (reqPnLSingle)


@dataclass(frozen=True)
class PortfolioSummary:
    net_liquidation: float | None
    total_cash: float | None
    positions_count: int
    positions_value: float | None
    daily_pnl: float | None
    unrealized_pnl: float | None
    realized_pnl: float | None
    currency: str
    source: str  # "ibkr" | "not connected"
    connected: bool
    accounts: tuple[str, ...]
    as_of: datetime
    per_account: dict[str, PortfolioSummary] = field(default_factory=dict)

    @classmethod
    def not_connected(cls) -> PortfolioSummary:
        return cls(
            net_liquidation=0.0,
            total_cash=0.0,
            positions_count=0,
            positions_value=0.0,
            daily_pnl=0.0,
            unrealized_pnl=0.0,
            realized_pnl=0.0,
            currency="USD",
            source=SOURCE_NOT_CONNECTED,
            connected=False,
            accounts=(),
            as_of=datetime.now(UTC),
        )


class PortfolioService:
    """Summary and positions of the connected account(s).

    Subscriptions (reqPnL per account, reqPnLSingle per held position) start when the
    session comes up (or at construction if already connected), follow position changes,
    and are re-established after every reconnect.
    """

    def __init__(self, connection: IBKRConnection, *, first_data_wait: float = 1.0) -> None:
        self._conn = connection
        self.first_data_wait = first_data_wait
        # (account, conId) -> our reqPnLSingle subscription (loop thread only)
        self._singles: dict[tuple[str, int], PnLSingle] = {}
        # when each subscription started (for the bounded first-data wait)
        self._started: dict[tuple[str, int] | str, float] = {}
        connection.loop.call(self._attach, timeout=5)

    # ------------------------------------------------------------------ public API
    def portfolio_summary(self, account: str | None = None) -> PortfolioSummary:
        """The account's (or all accounts' combined) summary; zeros when not connected."""
        if not self._conn.ib_ready():
            return PortfolioSummary.not_connected()
        try:
            return self._conn.run(self._summary_async(account), self._timeout())
        except NotConnectedError:
            return PortfolioSummary.not_connected()

    def positions(self, account: str | None = None) -> list[PositionRow]:
        """Open positions (one row per account and contract); [] when not connected."""
        if not self._conn.ib_ready():
            return []
        try:
            return self._conn.run(self._positions_async(account), self._timeout())
        except NotConnectedError:
            return []

    def close(self) -> None:
        """Stop following the connection and cancel our reqPnLSingle subscriptions."""
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._detach, timeout=5)

    # ------------------------------------------------------------ loop-thread parts
    def _timeout(self) -> float:
        return float(self._conn.settings.request_timeout)

    def _wait_budget(self) -> float:
        return max(0.0, min(self.first_data_wait, self._timeout() * 0.5))

    @property
    def _ib(self) -> IB:
        return self._conn.ib

    def _attach(self) -> None:
        self._conn.connected_event += self._on_session_up
        self._conn.reconnected_event += self._on_session_up
        self._conn.disconnected_event += self._on_session_down
        self._ib.positionEvent += self._on_position
        if self._ib.isConnected():
            self._sync()

    def _detach(self) -> None:
        self._conn.connected_event -= self._on_session_up
        self._conn.reconnected_event -= self._on_session_up
        self._conn.disconnected_event -= self._on_session_down
        self._ib.positionEvent -= self._on_position
        if self._ib.isConnected():
            for account, con_id in list(self._singles):
                with contextlib.suppress(Exception):
                    self._ib.cancelPnLSingle(account, "", con_id)
        self._singles.clear()

    def _on_session_up(self, _status: ConnectionStatus) -> None:
        # ib_async reset its state with the old socket: our old subscriptions are gone.
        self._singles.clear()
        self._started.clear()
        self._sync()

    def _on_session_down(self, _status: ConnectionStatus, _deliberate: bool) -> None:
        self._singles.clear()

    def _on_position(self, _position: Any) -> None:
        self._sync()

    def _sync(self) -> None:
        """Subscribe reqPnL per account and reqPnLSingle per held position; cancel the
        reqPnLSingle of positions that are gone. Returns quickly (no waiting).

        Only while the session is up: during a (re)connect ib_async already streams
        positions, but the connection re-requests reqPnL itself once the session is up
        (a second reqPnL for the same account would trip ib_async's assertion)."""
        ib = self._ib
        if not self._conn.ib_ready():
            return
        try:
            self._ensure_account_pnl(ib)
            live = {(p.account, p.conId) for p in ib.pnlSingle()}
            for key in list(self._singles):
                if key not in live:  # ib_async lost it (reset): subscribe again below
                    del self._singles[key]
            wanted = {
                (p.account, p.contract.conId)
                for p in ib.positions()
                if p.position and p.contract.conId
            }
            for key in list(self._singles):
                if key not in wanted:
                    ib.cancelPnLSingle(key[0], "", key[1])
                    del self._singles[key]
            for account, con_id in sorted(wanted):
                if (account, con_id) in self._singles:
                    continue
                existing = ib.pnlSingle(account, "", con_id)
                if existing:  # someone else subscribed it: share it, don't own it
                    continue
                self._singles[(account, con_id)] = ib.reqPnLSingle(account, "", con_id)
                self._started[(account, con_id)] = time.monotonic()
        except (NotConnectedError, ConnectionError, OSError) as exc:
            log.info("PnL subscriptions not synced (connection): %s", exc)

    def _ensure_account_pnl(self, ib: IB) -> None:
        have = {p.account for p in ib.pnl()}
        for account in ib.managedAccounts():
            if account in have:
                continue
            self._started[account] = time.monotonic()
            self._conn.subscribe_pnl(account)  # the connection restores it on reconnect

    def _pnl_single(self, account: str, con_id: int) -> PnLSingle | None:
        found = self._ib.pnlSingle(account, "", con_id)
        return found[0] if found else None

    async def _wait_first_data(self, need_account_pnl: bool) -> None:
        """Wait (bounded) for the first values of subscriptions started less than the
        wait budget ago; older ones that never answered are not waited for again."""
        budget = self._wait_budget()
        while True:
            ib = self._ib
            waiting: list[float] = []
            for s in ib.pnlSingle():
                started = self._started.get((s.account, s.conId))
                if started is not None and num(s.value) is None:
                    waiting.append(started)
            if need_account_pnl:
                for p in ib.pnl():
                    started = self._started.get(p.account)
                    if started is not None and num(p.dailyPnL) is None:
                        waiting.append(started)
            now = time.monotonic()
            if not waiting or now >= max(waiting) + budget:
                return
            await asyncio.sleep(0.02)

    async def _positions_async(self, account: str | None) -> list[PositionRow]:
        self._sync()
        await self._wait_first_data(need_account_pnl=False)
        values = self._account_values()
        rows = self._rows(account, values)
        return rows

    async def _summary_async(self, account: str | None) -> PortfolioSummary:
        self._sync()
        await self._wait_first_data(need_account_pnl=True)
        ib = self._ib
        accounts = tuple(ib.managedAccounts())
        if account is not None and account not in accounts:
            raise ValueError(f"Account {account!r} is not managed by this login: {accounts}")
        values = self._account_values()
        rows = self._rows(None, values)
        now = datetime.now(UTC)
        per = {a: self._account_summary(a, rows, values, now) for a in accounts}
        if account is not None:
            return per[account]
        if len(accounts) == 1:
            only = per[accounts[0]]
            return PortfolioSummary(**{**only.__dict__, "per_account": per})
        return self._combined(accounts, per, now)

    # ------------------------------------------------------------------ building
    def _account_values(self) -> dict[str, dict[str, Any]]:
        from ibkr_core.connection import summarize_account_values

        ib = self._ib
        # account window (reqAccountUpdates) wins over reqAccountSummary: same tags,
        # both refreshed after fills.
        merged = summarize_account_values(list(ib.wrapper.acctSummary.values()))
        for acct, tags in summarize_account_values(ib.accountValues()).items():
            merged.setdefault(acct, {}).update(tags)
        return merged

    def _rows(self, account: str | None, values: dict[str, dict[str, Any]]) -> list[PositionRow]:
        ib = self._ib
        window = {(i.account, i.contract.conId): i for i in ib.portfolio()}
        raw: list[dict[str, Any]] = []
        for pos in ib.positions(account or ""):
            if not pos.position:
                continue
            c = pos.contract
            qty = float(pos.position)
            mult = num(c.multiplier) or 1.0
            avg = num(pos.avgCost)
            price = value = unrealized = realized = daily = None
            single = self._pnl_single(pos.account, c.conId)
            item = window.get((pos.account, c.conId))
            s_value = num(single.value) if single else None
            s_pos = num(single.position) if single else None
            if single is not None and s_value is not None and s_pos:
                price = round(s_value / s_pos / mult, 8)
                realized = num(single.realizedPnL)
                daily = num(single.dailyPnL)
                if s_pos == qty:  # fresh: take IBKR's numbers as they are
                    value, unrealized = s_value, num(single.unrealizedPnL)
            elif item is not None:
                price = num(item.marketPrice)
                realized = num(item.realizedPNL)
            if price is not None and value is None:
                value = qty * price * mult
            if value is not None and unrealized is None and avg is not None:
                unrealized = value - qty * avg
            raw.append(
                {
                    "account": pos.account,
                    "symbol": c.localSymbol if c.secType in ("CASH", "OPT", "FUT") else c.symbol,
                    "sec_type": c.secType,
                    "con_id": c.conId,
                    "quantity": qty,
                    "avg_cost": avg,
                    "market_price": price,
                    "market_value": value,
                    "unrealized_pnl": unrealized,
                    "realized_pnl": realized,
                    "daily_pnl": daily,
                    "currency": c.currency,
                }
            )
        live_nlv = {a: self._live_net_liquidation(a, values, raw) for a in values}
        rows: list[PositionRow] = []
        for r in raw:
            basis = abs(r["quantity"]) * r["avg_cost"] if r["avg_cost"] else None
            pct = (
                r["unrealized_pnl"] / basis * 100.0
                if basis and r["unrealized_pnl"] is not None
                else None
            )
            nlv = live_nlv.get(r["account"])
            value = r["market_value"]
            weight = value / nlv * 100.0 if nlv and value is not None else None
            rows.append(PositionRow(**r, unrealized_pnl_pct=pct, weight_pct=weight))
        rows.sort(key=lambda row: (row.account, row.symbol))
        return rows

    def _live_net_liquidation(
        self, account: str, values: dict[str, dict[str, Any]], raw: list[dict[str, Any]]
    ) -> float | None:
        """The account window's NetLiquidation moved by the live price change of the
        quantities it was computed with (between its 3-minute refreshes)."""
        nlv = num(values.get(account, {}).get("NetLiquidation"))
        if nlv is None:
            return None
        live_price = {r["con_id"]: r["market_price"] for r in raw if r["account"] == account}
        drift = 0.0
        for item in self._ib.portfolio(account):
            c = item.contract
            live = live_price.get(c.conId)
            old = num(item.marketPrice)
            if live is None or old is None or not item.position:
                continue
            drift += float(item.position) * (live - old) * (num(c.multiplier) or 1.0)
        return nlv + drift

    def _account_summary(
        self,
        account: str,
        rows: list[PositionRow],
        values: dict[str, dict[str, Any]],
        now: datetime,
    ) -> PortfolioSummary:
        raw = [r.__dict__ for r in rows if r.account == account]
        tags = values.get(account, {})
        mine = [r for r in rows if r.account == account]
        pnl = next((p for p in self._ib.pnl(account) if not p.modelCode), None)
        daily = num(pnl.dailyPnL) if pnl else None
        unrealized = num(pnl.unrealizedPnL) if pnl else None
        realized = num(pnl.realizedPnL) if pnl else None
        if unrealized is None:  # reqPnL not in yet: the positions' own numbers
            unrealized = _sum([r.unrealized_pnl for r in mine]) if mine else None
        if realized is None:
            realized = num(tags.get("RealizedPnL"))
        return PortfolioSummary(
            net_liquidation=self._live_net_liquidation(account, values, raw),
            total_cash=num(tags.get("TotalCashValue")),
            positions_count=len(mine),
            positions_value=_sum([r.market_value for r in mine]),
            daily_pnl=daily,
            unrealized_pnl=unrealized,
            realized_pnl=realized,
            currency=str(tags.get("currency") or tags.get("Currency") or "USD"),
            source=SOURCE_IBKR,
            connected=True,
            accounts=(account,),
            as_of=now,
        )

    @staticmethod
    def _combined(
        accounts: tuple[str, ...], per: dict[str, PortfolioSummary], now: datetime
    ) -> PortfolioSummary:
        parts = list(per.values())
        currencies = {p.currency for p in parts}
        return PortfolioSummary(
            net_liquidation=_sum([p.net_liquidation for p in parts]),
            total_cash=_sum([p.total_cash for p in parts]),
            positions_count=sum(p.positions_count for p in parts),
            positions_value=_sum([p.positions_value for p in parts]),
            daily_pnl=_sum([p.daily_pnl for p in parts]),
            unrealized_pnl=_sum([p.unrealized_pnl for p in parts]),
            realized_pnl=_sum([p.realized_pnl for p in parts]),
            # Sums across base currencies are not converted: the UI should say so.
            currency=currencies.pop() if len(currencies) == 1 else "MIXED",
            source=SOURCE_IBKR,
            connected=True,
            accounts=accounts,
            as_of=now,
            per_account=per,
        )
