"""Keeping the ``OrderBook`` in step with ib_async: its order, execution, commission and
error events go into the book, and after every (re)connect the book is reconciled with
the gateway (``reqAllOpenOrders``, executions); orders of earlier sessions it no longer
reports become "Unknown to the gateway".

Everything but ``refresh`` runs on the loop thread, as ib_async's event handlers: a
handler logs what goes wrong instead of raising (an exception would break ib_async's
loop). TWS rejections reach the book here too (``on_request_error``: the order's record
says "Rejected", with TWS's text), never as exceptions in a caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from ibkr_core.connection_errors import NotConnectedError
from ibkr_core.order_book import OrderBook
from ibkr_core.tws_codes import WARNING_CODES

if TYPE_CHECKING:
    from ib_async import Fill, Trade

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = ["RECONCILE_TIMEOUT", "OrderSync"]

log = logging.getLogger(__name__)

RECONCILE_TIMEOUT = 3.0  # s for reqAllOpenOrders after a (re)connect


class OrderSync:
    """Feeds ``book`` from ``connection``'s ib_async events (``attach`` / ``detach`` on
    the loop thread)."""

    def __init__(self, connection: IBKRConnection, book: OrderBook) -> None:
        self._conn = connection
        self._book = book

    def refresh(self) -> None:
        """Ask TWS for every open order of the login (TWS's, other API clients',
        ours: ``reqAllOpenOrders``) and today's executions; the book takes them in."""
        if not self._conn.ib_ready():
            raise NotConnectedError()
        self._conn.run(self._refresh_all(), timeout=2 * RECONCILE_TIMEOUT + 1)

    async def _refresh_all(self) -> None:
        ib = self._conn.ib
        for request in (ib.reqAllOpenOrdersAsync, ib.reqExecutionsAsync):
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(request(), RECONCILE_TIMEOUT)
        self._import_all()

    def attach(self) -> None:
        ib = self._conn.ib
        ib.newOrderEvent += self._on_trade
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_trade
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error
        self._conn.connected_event += self._on_session_up
        self._conn.reconnected_event += self._on_session_up
        if ib.isConnected():
            self._import_all()

    def detach(self) -> None:
        ib = self._conn.ib
        ib.newOrderEvent -= self._on_trade
        ib.openOrderEvent -= self._on_trade
        ib.orderStatusEvent -= self._on_trade
        ib.execDetailsEvent -= self._on_exec
        ib.commissionReportEvent -= self._on_commission
        ib.errorEvent -= self._on_error
        self._conn.connected_event -= self._on_session_up
        self._conn.reconnected_event -= self._on_session_up

    def _on_session_up(self, _status: ConnectionStatus) -> None:
        self._import_all()
        session = self._conn.session_id
        asyncio.get_running_loop().create_task(self._reconcile(session))

    async def _reconcile(self, session: int) -> None:
        """(Loop thread.) After a (re)connect: ask the gateway for every open order and
        the executions; orders of earlier sessions it does not report are marked
        "Unknown to the gateway" (never left "Submitted")."""
        ib = self._conn.ib
        for name, request in (
            ("open orders", ib.reqAllOpenOrdersAsync),
            ("executions", ib.reqExecutionsAsync),
        ):
            try:
                await asyncio.wait_for(request(), RECONCILE_TIMEOUT)
            except (TimeoutError, ConnectionError) as exc:
                log.warning("reconciling orders: %s request failed (%r)", name, exc)
        if session != self._conn.session_id:
            return  # another reconnect already: its own reconcile runs
        self._import_all()
        st = self._conn.status()
        self._book.mark_unknown(session, f"{st.host}:{st.port}")

    def _import_all(self) -> None:
        """Take in what TWS reported at connect: open / completed orders, executions."""
        ib = self._conn.ib
        try:
            for trade in ib.trades():
                self._book.absorb(trade, announce=False)
            for fill in ib.fills():
                self._book.add_fill(fill, announce=False)
        except Exception:  # an event handler must never break ib_async's loop
            log.exception("importing orders and fills failed")

    def _on_trade(self, trade: Trade) -> None:
        try:
            if trade.order.whatIf:
                return
            synthetic = bool(trade.log) and trade.log[-1].errorCode != 0
            self._book.absorb(trade, announce=not synthetic)
        except Exception:
            log.exception("order update failed")

    def _on_exec(self, trade: Trade, fill: Fill) -> None:
        try:
            self._book.absorb(trade, announce=False)
            self._book.add_fill(fill, announce=True)
        except Exception:
            log.exception("execution update failed")

    def _on_commission(self, trade: Trade, fill: Fill, _report: Any) -> None:
        try:
            self._book.add_fill(fill, announce=False)
        except Exception:
            log.exception("commission update failed")

    def _on_error(self, req_id: int, code: int, message: str, _contract: Any) -> None:
        if req_id is None or req_id <= 0 or code in WARNING_CODES:
            return
        try:
            self._book.on_request_error(req_id, code, message)
        except Exception:
            log.exception("order error handling failed")
