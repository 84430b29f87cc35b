"""Portfolio service: keeps the subscriptions the portfolio needs and reads ib_async's
state into views (the arithmetic itself is ibkr_core/holdings.py, money.py).

Sources (all streamed into ib_async's state by subscriptions; reads never request):

- positions (quantity, average cost): ``reqPositions`` (ib_async subscribes at connect,
  updated at once after fills), every account of the login;
- live value and P&L per position: ``reqPnLSingle`` per held (account, conId), in the
  account's base currency, about once a second, kept in sync with the positions and
  re-established after a reconnect;
- account P&L: ``reqPnL`` per account (subscribed once, restored by the connection);
- cash per currency, exchange rates and NetLiquidation: the account window
  (``reqAccountUpdates``, one account, refreshed by TWS every ~3 minutes and after
  fills), and for the other accounts of an advisor login the account summary's ledger
  (``reqAccountSummary`` with ``$LEDGER:ALL``), asked once per session;
- contract details once per held contract (a bond's coupon, a listing exchange).

Every public method is safe from any thread and returns within the settings' request
timeout. Missing data is ``None`` ("no data yet"), never 0, while connected; when not
connected the summary is zeros with ``source="not connected"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ibkr_core import ib_requests
from ibkr_core.account import account_summary_async, subscribe_pnl
from ibkr_core.connection_errors import NotConnectedError
from ibkr_core.holdings import (
    ALL_ACCOUNTS,
    SOURCE_IBKR,
    SOURCE_NOT_CONNECTED,
    PortfolioSummary,
    PositionRow,
    build_rows,
    build_summary,
    combine,
)
from ibkr_core.money import AccountBook, account_books
from ibkr_core.quote import num

if TYPE_CHECKING:
    from ib_async import IB, PnLSingle

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = [
    "ALL_ACCOUNTS",
    "SOURCE_IBKR",
    "SOURCE_NOT_CONNECTED",
    "PortfolioService",
    "PortfolioSummary",
    "PortfolioView",
    "PositionRow",
    "portfolio_view",
]

log = logging.getLogger(__name__)
UNDETAILED = ("CASH",)  # sec types whose description needs no ContractDetails


@dataclass(frozen=True)
class PortfolioView:
    """What the Portfolio page shows for one choice of account, read at one moment."""

    summary: PortfolioSummary
    rows: list[PositionRow]
    accounts: tuple[str, ...]  # every account this login manages
    all_convertible: bool  # an "All" view exists (every account converts to one currency)

    @property
    def choices(self) -> tuple[str, ...]:
        """The Account picker's options: each account, then "All" where it converts."""
        if len(self.accounts) < 2:
            return self.accounts
        return (*self.accounts, ALL_ACCOUNTS) if self.all_convertible else self.accounts


def portfolio_view(
    account: str | None,
    accounts: tuple[str, ...],
    books: dict[str, AccountBook],
    positions: list[Any],
    items: dict[tuple[str, int], Any],
    singles: dict[tuple[str, int], Any],
    pnl: dict[str, Any],
    now: datetime,
    details: dict[int, Any] | None = None,
) -> PortfolioView:
    """The view of ``account`` (None: the only account, or all) from ib_async's state:
    ``positions`` (reqPositions), the account window's items and reqPnLSingle values
    keyed ``(account, conId)``, reqPnL per account and each account's book."""
    if account not in (None, ALL_ACCOUNTS) and account not in accounts:
        raise ValueError(f"Account {account!r} is not managed by this login: {accounts}")
    for acct in accounts:
        books.setdefault(acct, AccountBook(acct, None))
    rows = build_rows(positions, items, singles, books, details)
    per: dict[str, PortfolioSummary] = {}
    weighted: dict[str, list[PositionRow]] = {}
    for acct in accounts:
        per[acct], weighted[acct] = build_summary(
            books[acct], rows, items, singles, pnl.get(acct), now
        )
    all_summary, all_rows = combine(per, books, rows, now)
    if account is None and len(accounts) == 1:
        account = accounts[0]
    if account in per:
        summary = replace(per[account], per_account=per)
        return PortfolioView(summary, weighted[account], accounts, all_summary.convertible)
    return PortfolioView(all_summary, all_rows, accounts, all_summary.convertible)


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
        # conId -> ContractDetails (None: asked, not available), for what positions do
        # not carry (a bond's coupon)
        self._details: dict[int, Any] = {}
        self._details_pending: dict[int, asyncio.Task[None]] = {}
        connection.loop.call(self._attach, timeout=5)

    # ------------------------------------------------------------------ public API
    def portfolio_summary(self, account: str | None = None) -> PortfolioSummary:
        """The account's summary in its base currency; ``None`` / "All": the only
        account, or all accounts in one currency ("MIXED", unknown totals, where they
        do not convert). Zeros when not connected."""
        return self.view(account).summary

    def positions(self, account: str | None = None) -> list[PositionRow]:
        """Open positions of the account (all accounts for ``None`` / "All"); [] when
        not connected or for an account this login does not manage."""
        if account not in (None, ALL_ACCOUNTS) and account not in self.accounts():
            return []
        return self.view(account).rows

    def view(self, account: str | None = None) -> PortfolioView:
        """Summary and rows together (one consistent read) plus the account choices."""
        if not self._conn.ib_ready():
            return PortfolioView(PortfolioSummary.not_connected(), [], (), False)
        try:
            return self._conn.run(self._view_async(account), self._timeout())
        except NotConnectedError:
            return PortfolioView(PortfolioSummary.not_connected(), [], (), False)

    def accounts(self) -> tuple[str, ...]:
        """The accounts this login manages (() when not connected)."""
        if not self._conn.ib_ready():
            return ()
        return tuple(self._ib.managedAccounts())

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
            self._fetch_details([p.contract for p in ib.positions() if p.position])
        except (NotConnectedError, ConnectionError, OSError) as exc:
            log.info("PnL subscriptions not synced (connection): %s", exc)

    def _fetch_details(self, contracts: list[Any]) -> None:
        """Ask once per held contract for its details (a bond's coupon and maturity, a
        stock's listing exchange for accounts outside the account window): positions do
        not carry them. In the background; rows read the cache."""
        for c in contracts:
            if c.secType in UNDETAILED or c.conId in self._details:
                continue
            if c.conId in self._details_pending:
                continue
            self._details_pending[c.conId] = asyncio.ensure_future(self._load_details(c.conId))

    async def _load_details(self, con_id: int) -> None:
        from ib_async import Contract

        try:
            found = await asyncio.wait_for(
                self._ib.reqContractDetailsAsync(Contract(conId=con_id)), self._timeout()
            )
            self._details[con_id] = found[0] if found else None
        except Exception as exc:  # the description falls back to the contract's fields
            # (asked once; e.g. details ib_async could not decode: see ib_compat.py)
            log.info("contract details of %s not loaded: %r", con_id, exc)
            self._details[con_id] = None
        finally:
            self._details_pending.pop(con_id, None)

    def _ensure_account_pnl(self, ib: IB) -> None:
        have = {p.account for p in ib.pnl()}
        for account in ib.managedAccounts():
            if account in have:
                continue
            self._started[account] = time.monotonic()
            subscribe_pnl(self._conn, account)  # restored on reconnect (account.py)

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

    async def _ensure_ledger(self, ib: IB, accounts: tuple[str, ...]) -> None:
        """The account window (reqAccountUpdates) covers one account; the others' cash
        and exchange rates come from the account summary's ledger ($LEDGER:ALL), asked
        once per session through the connection (TWS allows two summary requests)."""
        windowed = {v.account for v in ib.accountValues()}
        if all(a in windowed for a in accounts) or ib_requests.account_summary_values(ib):
            return
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError, NotConnectedError):
            await account_summary_async(self._conn, self._wait_budget() or 0.5)

    async def _view_async(self, account: str | None) -> PortfolioView:
        self._sync()
        await self._wait_first_data(need_account_pnl=True)
        ib = self._ib
        accounts = tuple(ib.managedAccounts())
        await self._ensure_ledger(ib, accounts)
        now = datetime.now(UTC)
        books = self._books()
        items = {(i.account, i.contract.conId): i for i in ib.portfolio()}
        singles = {(s.account, s.conId): s for s in ib.pnlSingle() if not s.modelCode}
        pnl = {p.account: p for p in ib.pnl() if not p.modelCode}
        return portfolio_view(
            account, accounts, books, ib.positions(), items, singles, pnl, now, self._details
        )

    def _books(self) -> dict[str, AccountBook]:
        ib = self._ib
        # the account window first (reqAccountUpdates), then the summary's ledger
        return account_books(ib.accountValues(), ib_requests.account_summary_values(ib))
