"""Order entry: ``OrderService``, the one object the pages, the API and the tests trade
through, and the sending itself: the what-if preview order, placement once per
idempotency key, cancel.

The other jobs live next door, and the service owns them:

=================  ==========================================================
``order_ticket``   the ticket and the checks that need no IBKR
``order_checks``   the trading lock, the checks against IBKR (instrument, min tick,
                   order value), the preview model, instruments and positions
``order_book``     records per gateway session, fills, the event feed
``order_sync``     the book kept in step with ib_async's events; reconcile after
                   every (re)connect
``order_flow``     preview -> confirm exactly once, bound to session and account
=================  ==========================================================

``orders`` re-exports their public names. Reads are non-blocking snapshots; sending
methods are bounded by the settings' request timeout.

Safety:
- ``trading_status()`` is checked first by every sending method (``place``, ``cancel``):
  not connected, a read-only connection, or a LIVE account (not DU/DF) while
  ``settings.live_trading_enabled`` is False -> ``TradingLockedError``.
- the idempotency key -> order map lives in the service (one per process), and the key
  travels with the order as its ``orderRef`` ("dash:<key>"), so neither a Streamlit
  rerun, a page reload, a reconnect nor a second thread can send the same ticket twice.
- TWS rejections arrive as error events on the loop thread; they end up in the order's
  record (status "Rejected", ``message``) and in ``events_since``, never as exceptions in
  the caller's thread.

Statuses are TWS's (PendingSubmit, PreSubmitted, Submitted, PendingCancel, Filled,
Cancelled, ApiCancelled, Inactive) plus "Rejected" for an order TWS refused.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from ib_async import Contract, Order

from ibkr_core import ib_requests
from ibkr_core.connection_errors import IBKRError, NotConnectedError
from ibkr_core.contracts import Instrument, Resolver
from ibkr_core.order_book import (
    DONE_STATUSES,
    ORDER_REF_PREFIX,
    UNKNOWN_TO_GATEWAY,
    FillRecord,
    OrderBook,
    OrderEvent,
    OrderNotFoundError,
    OrderRecord,
    _Rec,
    same_order,
)
from ibkr_core.order_checks import (
    NOT_CONNECTED_REASON,
    AmbiguousSymbolError,
    CheckedTicket,
    HeldPosition,
    OrderChecker,
    OrderPreview,
    StalePreviewError,
    TradingLockedError,
    TradingStatus,
)
from ibkr_core.order_sync import OrderSync
from ibkr_core.order_ticket import (
    NEEDS_LIMIT,
    NEEDS_STOP,
    OrderTicket,
    OrderValidationError,
    ValidationIssue,
)
from ibkr_core.settings import Settings
from ibkr_core.tws_codes import ORDER_NOTICE_CODES

if TYPE_CHECKING:
    from ib_async import IB

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = [
    "NOT_CONNECTED_REASON",
    "UNKNOWN_TO_GATEWAY",
    "AmbiguousSymbolError",
    "CannotCancelError",
    "FillRecord",
    "HeldPosition",
    "IdempotencyConflictError",
    "Instrument",
    "OrderEvent",
    "OrderNotFoundError",
    "OrderPreview",
    "OrderRecord",
    "OrderService",
    "OrderTicket",
    "OrderValidationError",
    "StalePreviewError",
    "TradingLockedError",
    "TradingStatus",
    "ValidationIssue",
]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------- errors
class IdempotencyConflictError(IBKRError):
    """The idempotency key was already used for a different ticket: nothing was sent."""

    def __init__(self, key: str, first: OrderRecord) -> None:
        super().__init__(
            f"Idempotency key {key!r} was already used for order {first.order_id} "
            f"({first.action} {first.quantity:g} {first.symbol} {first.order_type}): "
            "use a new key for a different order."
        )
        self.key = key
        self.first = first


class CannotCancelError(IBKRError):
    """An order this client can't cancel (entered in TWS or by another API client):
    TWS only lets the client that placed an order cancel it."""

    def __init__(self, record: OrderRecord) -> None:
        where = (
            "it was entered in TWS: cancel it there"
            if record.origin == "TWS"
            else f"it was placed by {record.origin}: cancel it from that client"
        )
        super().__init__(
            f"Order {record.description or record.symbol} (perm id {record.perm_id}) can't be "
            f"cancelled from here: {where}, or use Global cancel (cancels every open order)."
        )
        self.record = record


# ------------------------------------------------------------------------ service
class OrderService:
    def __init__(self, connection: IBKRConnection, settings: Settings | None = None) -> None:
        self._conn = connection
        self.settings = settings or connection.settings
        self._book = OrderBook(lambda: connection.session_id, self._client_id)
        self._lock = self._book.lock
        self._inflight: dict[str, concurrent.futures.Future[OrderRecord]] = {}
        self._checker = OrderChecker(connection, self.settings, Resolver(connection))
        self._sync = OrderSync(connection, self._book)
        connection.loop.call(self._sync.attach, timeout=5)

    # -------------------------------------------------------------- trading lock
    def connection_status(self) -> ConnectionStatus:
        """The connection this service trades through (what previews are bound to)."""
        return self._conn.status()

    def _client_id(self) -> int | None:
        return self._conn.status().client_id

    def trading_status(self, account: str | None = None) -> TradingStatus:
        return self._checker.trading_status(account)

    # ---------------------------------------------------------------- validation
    def validate(self, ticket: OrderTicket) -> list[ValidationIssue]:
        """Every problem with ``ticket``, keyed by field (empty list: good to go).
        Sends nothing except lookups (contract details, a quote for MKT orders)."""
        return self._checker.check(ticket, time.monotonic() + self._timeout()).issues

    def _timeout(self) -> float:
        return float(self.settings.request_timeout)

    # ------------------------------------------------------------------- lookups
    def instruments(self, symbol: str) -> list[Instrument]:
        """Every instrument IBKR lists for ``symbol`` (the trader's choices).
        Raises ``UnknownSymbolError``, ``NotConnectedError``, ``TimeoutError``."""
        return self._checker.instruments(symbol)

    def instrument(self, con_id: int) -> Instrument:
        """The instrument with IBKR's ``con_id`` (e.g. a held position's)."""
        return self._checker.instrument(con_id)

    def positions(self, account: str | None = None) -> list[HeldPosition]:
        """The login's positions (one account's with ``account``), to start orders from,
        each with its own contract as IBKR details it (conId, listing, multiplier)."""
        return self._checker.positions(account)

    def base_currency(self, account: str | None = None) -> str:
        """The account's base currency as IBKR reports it ("" while unknown; with
        several accounts and none given, "" unless they all share one)."""
        return self._checker.base_currency(account)

    # ------------------------------------------------------------------- what-if
    def preview(self, ticket: OrderTicket) -> OrderPreview:
        """Commission and margin impact from TWS (a what-if order: nothing executes).
        Raises ``OrderValidationError`` for a bad ticket, ``NotConnectedError``.

        The preview is bound to the connection session, the account and its paper/live
        kind it was made for (``session_id``, ``account``, ``is_paper``): see
        ``ibkr_core.order_flow`` for confirming it."""
        deadline = time.monotonic() + self._timeout()
        session = self._conn.status().session_id
        checked = self._checker.check(ticket, deadline)
        if checked.issues:
            raise OrderValidationError(checked.issues)
        assert checked.contract is not None
        order = self._build_order(checked, key=None)
        remaining = max(0.1, deadline - time.monotonic())
        state = self._conn.run(self._what_if(checked.contract, order, remaining), remaining + 0.5)
        status = self._conn.status()
        if status.session_id != session or not status.connected:
            raise IBKRError("The IBKR connection changed during the preview: preview again.")
        return self._checker.preview_of(checked, state, session, timeout=remaining + 0.5)

    async def _what_if(self, contract: Contract, order: Order, timeout: float) -> Any:
        """(Loop thread.) A what-if order, but a TWS error for the request (even one
        ib_async treats as a warning) ends the wait with its message."""
        try:
            state = await ib_requests.what_if(
                self._conn.ib, contract, order, timeout, ignore=ORDER_NOTICE_CODES
            )
        except ib_requests.RequestFailedError as exc:
            raise IBKRError(f"TWS refused the preview: {exc.text} (IBKR {exc.code})") from exc
        if not state or isinstance(state, list):
            raise IBKRError("TWS refused the preview (no what-if answer)")
        return state

    # --------------------------------------------------------------------- place
    def place(
        self, ticket: OrderTicket, idempotency_key: str, *, bound_to: OrderPreview | None = None
    ) -> OrderRecord:
        """Validate, check the trading lock and send ``ticket`` once per key.

        The same key again (also concurrently, from any thread) returns the record of
        the order sent the first time; the same key with a different ticket raises
        ``IdempotencyConflictError``. With ``bound_to`` (the preview the trader saw) the
        order leaves only in that preview's connection session and account (checked on
        the loop thread as it leaves, so a reconnect or gateway switch can't slip in
        between). Raises ``TradingLockedError``, ``OrderValidationError`` (nothing sent;
        the key stays unused), ``StalePreviewError``, ``NotConnectedError`` or
        ``TimeoutError``. TWS's own rejections show up in the record instead."""
        key = str(idempotency_key or "").strip()
        if not key:
            raise ValueError("an idempotency key is required")
        with self._lock:
            rec = self._book.by_key(key)
            if rec is not None:
                return self._same_key(key, rec.snapshot(), ticket)
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = self._inflight[key] = concurrent.futures.Future()
        assert future is not None
        if not owner:
            record = future.result(timeout=self._timeout() + 2.0)
            return self._same_key(key, self.order_by_record(record.record_id) or record, ticket)
        try:
            record = self._place_once(ticket, key, bound_to)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(record)
            return record
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    @staticmethod
    def _same_key(key: str, record: OrderRecord, ticket: OrderTicket) -> OrderRecord:
        if not same_order(record, ticket.normalized()):
            raise IdempotencyConflictError(key, record)
        return record

    def _place_once(
        self, ticket: OrderTicket, key: str, bound_to: OrderPreview | None
    ) -> OrderRecord:
        if bound_to is not None:
            self._checker.check_binding(bound_to)
        self._checker.require_trading(ticket.account)
        deadline = time.monotonic() + self._timeout()
        checked = self._checker.check(ticket, deadline)
        if checked.issues:
            raise OrderValidationError(checked.issues)
        self._checker.require_trading(checked.account or None)
        if bound_to is not None and checked.account != bound_to.account:
            raise StalePreviewError(
                f"The preview was for account {bound_to.account}, the order would go to "
                f"{checked.account}: preview it again."
            )
        assert checked.contract is not None
        order = self._build_order(checked, key)
        remaining = max(0.5, deadline - time.monotonic())
        session = bound_to.session_id if bound_to is not None else None
        return self._conn.run(
            lambda ib: self._send(ib, checked.contract, order, key, session), timeout=remaining
        )

    def _build_order(self, checked: CheckedTicket, key: str | None) -> Order:
        t = checked.ticket
        order = Order(
            action=t.action,
            totalQuantity=float(t.quantity),
            orderType=t.order_type,
            tif=t.tif,
            account=checked.account,
            transmit=True,
        )
        if t.order_type in NEEDS_LIMIT:
            order.lmtPrice = float(t.limit_price)  # type: ignore[arg-type]
        if t.order_type in NEEDS_STOP:
            order.auxPrice = float(t.stop_price)  # type: ignore[arg-type]
        if key is not None:
            order.orderRef = ORDER_REF_PREFIX + key
        return order

    def _send(
        self, ib: IB, contract: Contract, order: Order, key: str, session: int | None = None
    ) -> OrderRecord:
        """(Loop thread.) The one place an order leaves: at most once per key, and only in
        ``session`` when given (the loop thread is where reconnects happen too)."""
        with self._lock:
            rec = self._book.by_key(key)
            if rec is not None:
                return rec.snapshot()
        if session is not None and (session != self._conn.session_id or not ib.isConnected()):
            raise StalePreviewError(
                "The IBKR connection changed since the preview: nothing was sent. Preview "
                "the order again."
            )
        if not order.orderRef:
            order.orderRef = ORDER_REF_PREFIX + key
        for trade in ib.trades():  # sent by an earlier process / session with this key
            if trade.order.orderRef == order.orderRef and not trade.order.whatIf:
                return self._book.absorb(trade).snapshot()
        if not ib.isConnected():
            raise NotConnectedError()
        trade = ib.placeOrder(contract, order)
        rec = self._book.absorb(trade, key=key)
        log.info(
            "placed order %s: %s %g %s %s (key %s)",
            rec.order_id,
            order.action,
            order.totalQuantity,
            contract.symbol,
            order.orderType,
            key,
        )
        return rec.snapshot()

    # -------------------------------------------------------------------- cancel
    def cancel(self, order_id: int, wait: float = 2.0) -> OrderRecord:
        """Cancel a working order; waits up to ``wait`` s (capped by the request timeout)
        for TWS to confirm. A finished order is returned unchanged."""
        with self._lock:
            rec = self._book.find(order_id)
        return self._cancel(rec, order_id, wait)

    def cancel_record(self, record_id: str, wait: float = 2.0) -> OrderRecord:
        """``cancel`` by ``OrderRecord.record_id`` (unique, unlike order ids across
        gateway sessions)."""
        with self._lock:
            rec = self._book.by_record_id(record_id)
        return self._cancel(rec, 0, wait)

    def _cancel(self, rec: _Rec | None, order_id: int, wait: float) -> OrderRecord:
        self._checker.require_trading((rec.account if rec else None) or None)
        if rec is None:
            raise OrderNotFoundError(order_id)
        with self._lock:
            if rec.status in DONE_STATUSES:
                return rec.snapshot()
            # TWS lets a client cancel its own orders; client 0 also the TWS orders it
            # has bound (negative order ids).
            bound = self._client_id() == 0 and rec.order_id < 0
            if not rec.own and not bound:
                raise CannotCancelError(rec.snapshot())
            if rec.session_id != self._conn.session_id:
                raise IBKRError(
                    f"Order {rec.order_id} belongs to an earlier gateway session and is being "
                    "checked with the gateway: nothing was cancelled. Try again in a moment."
                )
        deadline = time.monotonic() + min(max(wait, 0.0), self._timeout())
        self._conn.run(lambda ib: self._cancel_on_loop(ib, rec), timeout=self._timeout())
        while time.monotonic() < deadline:
            with self._lock:
                if rec.status in DONE_STATUSES:
                    break
            time.sleep(0.02)
        with self._lock:
            return rec.snapshot()

    def global_cancel(self) -> None:
        """TWS's Global Cancel (``reqGlobalCancel``): every open order of the login,
        whoever placed it (TWS, other API clients, this dashboard)."""
        self._checker.require_trading()
        self._conn.run(lambda ib: ib.reqGlobalCancel(), timeout=self._timeout())
        log.info("global cancel requested")

    def _cancel_on_loop(self, ib: IB, rec: _Rec) -> None:
        for trade in ib.trades():
            o = trade.order
            if (rec.perm_id and o.permId == rec.perm_id) or (
                o.orderId == rec.order_id and o.clientId == rec.client_id
            ):
                ib.cancelOrder(o)
                return
        # Not in ib_async's state (placed in another session): TWS decides.
        ib.cancelOrder(Order(orderId=rec.order_id, clientId=rec.client_id or 0))

    # --------------------------------------------------------------------- reads
    def order(self, order_id: int) -> OrderRecord | None:
        return self._book.order(order_id)

    def order_by_record(self, record_id: str) -> OrderRecord | None:
        return self._book.order_by_record(record_id)

    def open_orders(self) -> list[OrderRecord]:
        return self._book.open_orders()

    def recent_orders(self) -> list[OrderRecord]:
        """Today's orders, newest first, finished ones included (plus any still working)."""
        return self._book.recent_orders()

    def fills(self) -> list[FillRecord]:
        """Today's executions, oldest first."""
        return self._book.fills()

    def events_since(self, cursor: int) -> tuple[list[OrderEvent], int]:
        """Events after ``cursor`` (0 = everything still kept) and the new cursor."""
        return self._book.events_since(cursor)

    def latest_cursor(self) -> int:
        """The cursor to start a feed from now (ignores what happened before)."""
        return self._book.latest_cursor()

    @property
    def book(self) -> OrderBook:
        """The order book (its ``on_change`` hook feeds ``ibkr_core/events.py``)."""
        return self._book

    def refresh(self) -> None:
        """Ask TWS for every open order of the login (TWS's, other API clients',
        ours: ``reqAllOpenOrders``) and today's executions; the book takes them in."""
        self._sync.refresh()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._sync.detach, timeout=5)
