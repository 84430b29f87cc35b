"""The core's events: what changed, for whoever wants to follow it without polling.

Four topics, each a ``Topic`` on ``CoreEvents`` (``services.events``)::

    events.quotes       QuoteChanged(symbols)          new ticks for these symbols
    events.portfolio    PortfolioChanged(accounts, what) positions, P&L or account values
    events.orders       OrderChanged(kind, order_id, symbol) an order's state or a fill
    events.connection   the connection's own ``IBKRConnection.status_changed``
                        (payload: ``ConnectionStatus``; exposed here, not duplicated)

What feeds them (ib_async's events and the order book's hook, never a timer):

- quotes: ``ib.pendingTickersEvent`` (once per batch of ticks ib_async read);
- portfolio: ``ib.positionEvent``, ``updatePortfolioEvent``, ``accountValueEvent``,
  ``pnlEvent``, ``pnlSingleEvent``: the data ``PortfolioService.view`` reads;
- orders: ``OrderBook.on_change`` (``ibkr_core/order_book.py``), called after the book
  took in an order update or a fill, so a subscriber that reads ``services.orders``
  on the event sees the change;
- connection: ``IBKRConnection.status_changed``.

Threads and loops: every event fires on the IBKR loop thread (``services.loop``).

- ``topic.subscribe(callback)``: ``callback(event)`` runs on that thread. It must be
  quick and never block (no ``services.*`` call that waits on the loop: it would wait
  on itself). Suits a callback that only notes the change and wakes its own loop.
- ``topic.subscribe(callback, loop=other_loop)``: ``callback(event)`` runs on
  ``other_loop`` (e.g. the web server's), handed over with ``call_soon_threadsafe``;
  there it may do anything that loop may do. Nothing is delivered once the loop closed.

``subscribe`` returns a ``Subscription``; ``subscription.close()`` (from any thread)
stops delivery: nothing is called after it returns, except a hand-over already queued
on ``other_loop`` (which is then dropped, as the subscription is closed).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ibkr_core.symbols import normalize_symbol

if TYPE_CHECKING:
    import asyncio

    from ibkr_core.connection import ConnectionStatus, IBKRConnection
    from ibkr_core.order_book import OrderBook

__all__ = [
    "CoreEvents",
    "OrderChanged",
    "PortfolioChanged",
    "QuoteChanged",
    "Subscription",
    "Topic",
]

log = logging.getLogger(__name__)
E = TypeVar("E")


@dataclass(frozen=True)
class QuoteChanged:
    """New ticks arrived for ``symbols`` (normalised: ``normalize_symbol``)."""

    symbols: frozenset[str]


@dataclass(frozen=True)
class PortfolioChanged:
    """Something a portfolio view is made of changed for ``accounts`` (empty: unknown
    which). ``what``: "positions", "values" (a position's price / value / P&L),
    "account" (cash, net liquidation, rates) or "pnl" (the account's daily P&L)."""

    accounts: frozenset[str]
    what: str


@dataclass(frozen=True)
class OrderChanged:
    """An order's state changed (``kind`` "order") or a fill / commission arrived
    (``kind`` "fill"); ``order_id`` 0 when the change spans orders (a reconcile)."""

    kind: str
    order_id: int = 0
    symbol: str = ""


@dataclass(eq=False)
class Subscription:
    topic: Topic[Any]
    callback: Callable[[Any], None]
    loop: asyncio.AbstractEventLoop | None = None
    open: bool = True

    def deliver(self, event: Any) -> None:
        if not self.open:
            return
        if self.loop is None:
            self._call(event)
            return
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody to tell
            self.loop.call_soon_threadsafe(self._call, event)

    def _call(self, event: Any) -> None:
        if not self.open:
            return
        try:
            self.callback(event)
        except Exception:  # a subscriber must never break the core's loop
            log.exception("event subscriber %r failed", self.callback)

    def close(self) -> None:
        self.open = False
        self.topic.discard(self)


@dataclass(eq=False)
class Topic(Generic[E]):
    """One kind of event; ``emit`` from the IBKR loop thread, subscribe from anywhere."""

    name: str
    _subs: list[Subscription] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(
        self, callback: Callable[[E], None], loop: asyncio.AbstractEventLoop | None = None
    ) -> Subscription:
        sub = Subscription(self, callback, loop)
        with self._lock:
            self._subs.append(sub)
        return sub

    def discard(self, sub: Subscription) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subs.remove(sub)

    def emit(self, event: E) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.deliver(event)

    def __len__(self) -> int:
        with self._lock:
            return len(self._subs)


class CoreEvents:
    """The core's topics, fed by ib_async's events of ``connection.ib`` and ``book``."""

    def __init__(self, connection: IBKRConnection, book: OrderBook | None = None) -> None:
        self._conn = connection
        self.quotes: Topic[QuoteChanged] = Topic("quotes")
        self.portfolio: Topic[PortfolioChanged] = Topic("portfolio")
        self.orders: Topic[OrderChanged] = Topic("orders")
        self.connection: Topic[ConnectionStatus] = Topic("connection")  # status_changed
        self._book = book
        if book is not None:
            book.on_change = self._on_book_change
        connection.loop.call(self._attach, timeout=5)

    def close(self) -> None:
        if self._book is not None:
            self._book.on_change = None
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._detach, timeout=5)

    # -- loop thread --------------------------------------------------------------------
    def _hooks(self) -> list[tuple[Any, Callable[..., None]]]:
        ib = self._conn.ib
        return [
            (ib.pendingTickersEvent, self._on_tickers),
            (ib.positionEvent, self._on_position),
            (ib.updatePortfolioEvent, self._on_portfolio_item),
            (ib.accountValueEvent, self._on_account_value),
            (ib.pnlEvent, self._on_pnl),
            (ib.pnlSingleEvent, self._on_pnl_single),
            (self._conn.status_changed, self.connection.emit),
        ]

    def _attach(self) -> None:
        for event, handler in self._hooks():
            event += handler

    def _detach(self) -> None:
        for event, handler in self._hooks():
            event -= handler

    def _on_tickers(self, tickers: Any) -> None:
        symbols = set()
        for ticker in tickers or ():
            symbol = getattr(getattr(ticker, "contract", None), "symbol", None)
            if symbol:
                symbols.add(normalize_symbol(symbol))
        if symbols:
            self.quotes.emit(QuoteChanged(frozenset(symbols)))

    def _portfolio(self, account: str | None, what: str) -> None:
        self.portfolio.emit(PortfolioChanged(frozenset([account] if account else []), what))

    def _on_position(self, position: Any) -> None:
        self._portfolio(getattr(position, "account", None), "positions")

    def _on_portfolio_item(self, item: Any) -> None:
        self._portfolio(getattr(item, "account", None), "values")

    def _on_pnl_single(self, value: Any) -> None:
        self._portfolio(getattr(value, "account", None), "values")

    def _on_account_value(self, value: Any) -> None:
        self._portfolio(getattr(value, "account", None), "account")

    def _on_pnl(self, value: Any) -> None:
        self._portfolio(getattr(value, "account", None), "pnl")

    def _on_book_change(self, kind: str, order_id: int, symbol: str) -> None:
        self.orders.emit(OrderChanged(kind, order_id, symbol))
