"""The order book: every order and fill the service has seen, and the event feed.

Records are scoped to the gateway session that reported them (``OrderRecord.
session_id``): a restarted or another gateway reuses order ids, and may reuse perm ids,
so lookups only ever match the current session's records, and an order of an earlier
session is taken over only when the gateway reports the very same order (perm id,
contract, side, size, our idempotency key). ``mark_unknown`` ends the orders the gateway
no longer reports after a reconnect's reconciliation. Updates run on the loop thread
(from ib_async's events); reads are snapshots under one lock, from any thread.
"""

from __future__ import annotations

import collections
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ib_async import OrderStatus

from ibkr_core.connection_errors import IBKRError
from ibkr_core.contracts import describe_contract
from ibkr_core.order_ticket import NEEDS_LIMIT, NEEDS_STOP, OrderTicket, fmt_price
from ibkr_core.quote import num
from ibkr_core.symbols import normalize_symbol
from ibkr_core.tws_codes import (
    CANCEL_FAILED_CODES,
    ORDER_CANCELLED,
    ORDER_NOTICE_CODES,
    ORDER_REJECTED,
)

if TYPE_CHECKING:
    from ib_async import Fill, Trade

__all__ = [
    "DONE_STATUSES",
    "REJECTED",
    "UNKNOWN_TO_GATEWAY",
    "WORKING_STATUSES",
    "FillRecord",
    "OrderBook",
    "OrderEvent",
    "OrderNotFoundError",
    "OrderRecord",
    "group_brackets",
    "same_order",
]

REJECTED = "Rejected"
# An order of an earlier gateway session that the gateway no longer reports (it was
# restarted, or this is another gateway): its fate is unknown, it is not "Submitted".
UNKNOWN_TO_GATEWAY = "Unknown to the gateway"
# ib_async's status sets, plus what only we know. PendingCancel still works until TWS
# confirms the cancel; "Rejected" is our name for an order TWS refused (201).
WORKING_STATUSES = OrderStatus.ActiveStates | {OrderStatus.PendingCancel}
DONE_STATUSES = OrderStatus.DoneStates | {REJECTED, UNKNOWN_TO_GATEWAY}
CANCELLED_STATUSES = frozenset({OrderStatus.Cancelled, OrderStatus.ApiCancelled})
ORDER_REF_PREFIX = "dash:"

MAX_EVENTS = 1000


@dataclass(frozen=True)
class OrderRecord:
    order_id: int
    perm_id: int
    symbol: str
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    stop_price: float | None
    tif: str
    status: str
    filled: float
    remaining: float
    avg_fill_price: float | None
    created_at: datetime
    last_update: datetime
    idempotency_key: str | None
    message: str | None  # e.g. TWS's rejection text
    account: str = ""
    client_id: int | None = None
    record_id: str = ""  # unique for the life of the service (UI keys, cancel)
    session_id: int = 0  # the gateway session that last reported this order
    con_id: int = 0
    sec_type: str = ""
    description: str = ""  # the instrument as TWS names it: "AAPL 15 JAN 27 230 Call"
    currency: str = ""  # of prices and fills
    parent_id: int = 0  # a bracket's child points at its parent's order id
    own: bool = True  # placed by this client id (else TWS / another API client)

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES

    @property
    def origin(self) -> str:
        """Who placed it: "this dashboard", "TWS" or "API client N"."""
        if self.own:
            return "this dashboard"
        if self.order_id <= 0:
            return "TWS"
        return f"API client {self.client_id}"

    @property
    def status_text(self) -> str:
        """The status with what filled: "Cancelled (filled 3 of 10)"."""
        if self.filled and self.filled < self.quantity:
            return f"{self.status} (filled {self.filled:g} of {self.quantity:g})"
        return self.status

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES


@dataclass(frozen=True)
class FillRecord:
    exec_id: str
    time: datetime
    symbol: str
    side: str  # "BUY" | "SELL"
    shares: float
    price: float
    commission: float | None  # None until TWS's commission report arrives
    realized_pnl: float | None  # ib_async reports 0.0 for an opening trade
    order_id: int
    perm_id: int = 0
    account: str = ""
    description: str = ""  # "AAPL 15 JAN 27 230 Call"
    currency: str = ""  # of the price
    commission_currency: str = ""  # IBKR's, from the commission report
    multiplier: float = 1.0
    con_id: int = 0


@dataclass(frozen=True)
class OrderEvent:
    """One entry of the polling feed: kind is "fill", "cancelled", "rejected",
    "inactive" or "error"."""

    seq: int
    time: datetime
    kind: str
    order_id: int
    symbol: str
    message: str


class OrderNotFoundError(IBKRError, LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"No order with id {order_id} in this session")
        self.order_id = order_id


def group_brackets(records: list[OrderRecord]) -> list[tuple[OrderRecord, bool]]:
    """``records`` with each bracket's children right under their parent, as
    (record, is_child). A child names its parent by order id within the same client."""
    parents = {(r.client_id, r.order_id): r for r in records if r.order_id > 0}
    children: dict[str, list[OrderRecord]] = {}
    top = []
    for r in records:
        parent = parents.get((r.client_id, r.parent_id)) if r.parent_id else None
        if parent is not None and parent is not r:
            children.setdefault(parent.record_id, []).append(r)
        else:
            top.append(r)
    out: list[tuple[OrderRecord, bool]] = []
    for r in top:
        out.append((r, False))
        out.extend((c, True) for c in children.get(r.record_id, []))
    return out


def _now() -> datetime:
    return datetime.now(UTC)


def _is_today(when: datetime) -> bool:
    local = when.astimezone() if when.tzinfo else when
    return local.date() == datetime.now().astimezone().date()


def _ref(key: str) -> str:
    return ORDER_REF_PREFIX + key


def same_order(record: OrderRecord, t: OrderTicket) -> bool:
    """Is ``record`` the order ``t`` describes (the idempotency check)?"""

    def same(a: float | None, b: float | None) -> bool:
        return (a is None and b is None) or (
            a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9)
        )

    return (
        normalize_symbol(record.symbol) == normalize_symbol(t.symbol)
        and (not t.con_id or not record.con_id or record.con_id == t.con_id)
        and record.action == t.action
        and same(record.quantity, num(t.quantity))
        and record.order_type == t.order_type
        and same(record.limit_price, num(t.limit_price) if t.order_type in NEEDS_LIMIT else None)
        and same(record.stop_price, num(t.stop_price) if t.order_type in NEEDS_STOP else None)
        and (not record.tif or record.tif == t.tif)
        and (not t.account or not record.account or record.account == t.account)
    )


@dataclass
class _Rec:
    """The mutable record behind an ``OrderRecord`` (guarded by the service lock)."""

    order_id: int
    client_id: int | None
    session_id: int = 0
    record_id: str = ""
    perm_id: int = 0
    symbol: str = ""
    action: str = ""
    quantity: float = 0.0
    order_type: str = ""
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = ""
    status: str = "PendingSubmit"
    filled: float = 0.0
    remaining: float = 0.0
    avg_fill_price: float | None = None
    created_at: datetime = field(default_factory=_now)
    last_update: datetime = field(default_factory=_now)
    idempotency_key: str | None = None
    message: str | None = None
    account: str = ""
    rejected: bool = False
    announced_done: bool = False
    con_id: int = 0
    sec_type: str = ""
    description: str = ""
    currency: str = ""
    parent_id: int = 0
    own: bool = True

    def snapshot(self) -> OrderRecord:
        return OrderRecord(
            order_id=self.order_id,
            perm_id=self.perm_id,
            symbol=self.symbol,
            action=self.action,
            quantity=self.quantity,
            order_type=self.order_type,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            tif=self.tif,
            status=self.status,
            filled=self.filled,
            remaining=self.remaining,
            avg_fill_price=self.avg_fill_price,
            created_at=self.created_at,
            last_update=self.last_update,
            idempotency_key=self.idempotency_key,
            message=self.message,
            account=self.account,
            client_id=self.client_id,
            record_id=self.record_id,
            session_id=self.session_id,
            con_id=self.con_id,
            sec_type=self.sec_type,
            description=self.description,
            currency=self.currency,
            parent_id=self.parent_id,
            own=self.own,
        )


class OrderBook:
    def __init__(self, session: Callable[[], int], client_id: Callable[[], int | None]) -> None:
        """``session()``: the connection's current session id; ``client_id()``: ours."""
        self._session = session
        self._client = client_id
        self.lock = threading.RLock()
        self._lock = self.lock
        self._records: list[_Rec] = []
        # Both indexes are per gateway session: a restarted or another gateway reuses
        # order ids (and may reuse perm ids), which must never land in an old record.
        self._by_perm: dict[tuple[int, int], _Rec] = {}  # (session, permId)
        self._by_oid: dict[tuple[int, int | None, int], _Rec] = {}  # (session, client, id)
        self._by_key: dict[str, _Rec] = {}
        self._record_ids = itertools.count(1)
        self._fills: dict[str, FillRecord] = {}
        self._events: collections.deque[OrderEvent] = collections.deque(maxlen=MAX_EVENTS)
        self._seq = 0
        # (loop thread) told after each change the book took in: (kind, order id, symbol),
        # kind "order" or "fill" (ibkr_core/events.py turns it into OrderChanged)
        self.on_change: Callable[[str, int, str], None] | None = None

    def _changed(self, kind: str, order_id: int = 0, symbol: str = "") -> None:
        hook = self.on_change
        if hook is not None:
            hook(kind, order_id, symbol)

    def by_key(self, key: str) -> _Rec | None:
        with self._lock:
            return self._by_key.get(key)

    def on_request_error(self, req_id: int, code: int, message: str) -> None:
        """(Loop thread.) A TWS error for ``req_id``: ours if it is one of our orders."""
        with self._lock:
            rec = self._by_oid.get((self._session(), self._client(), req_id))
            if rec is not None:
                self.apply_error(rec, code, message)

    def mark_unknown(self, session: int, where: str) -> None:
        """(Loop thread, after reconciling ``session``.) Working orders of earlier
        sessions the gateway did not report: their fate is unknown, not "Submitted"."""
        with self._lock:
            for rec in self._records:
                if rec.session_id == session or rec.status not in WORKING_STATUSES:
                    continue
                rec.status = UNKNOWN_TO_GATEWAY
                rec.message = (
                    f"The gateway at {where} no longer reports this order (restarted or "
                    "another gateway): check it in TWS."
                )
                rec.last_update = _now()
                self._announce_done(rec)
        self._changed("order")

    def order(self, order_id: int) -> OrderRecord | None:
        with self._lock:
            rec = self.find(order_id)
            return rec.snapshot() if rec else None

    def order_by_record(self, record_id: str) -> OrderRecord | None:
        with self._lock:
            rec = self.by_record_id(record_id)
            return rec.snapshot() if rec else None

    def by_record_id(self, record_id: str) -> _Rec | None:
        return next((r for r in self._records if r.record_id == record_id), None)

    def open_orders(self) -> list[OrderRecord]:
        with self._lock:
            recs = [r.snapshot() for r in self._records if r.status in WORKING_STATUSES]
        return sorted(recs, key=lambda r: r.created_at, reverse=True)

    def recent_orders(self) -> list[OrderRecord]:
        """Today's orders, newest first, finished ones included (plus any still working)."""
        with self._lock:
            recs = [
                r.snapshot()
                for r in self._records
                if _is_today(r.last_update) or r.status in WORKING_STATUSES
            ]
        return sorted(recs, key=lambda r: r.created_at, reverse=True)

    def fills(self) -> list[FillRecord]:
        """Today's executions, oldest first."""
        with self._lock:
            fills = [f for f in self._fills.values() if _is_today(f.time)]
        return sorted(fills, key=lambda f: (f.time, f.exec_id))

    def events_since(self, cursor: int) -> tuple[list[OrderEvent], int]:
        """Events after ``cursor`` (0 = everything still kept) and the new cursor."""
        with self._lock:
            if cursor > self._seq:  # a cursor from another service instance: start over
                cursor = 0
            return [e for e in self._events if e.seq > cursor], self._seq

    def latest_cursor(self) -> int:
        """The cursor to start a feed from now (ignores what happened before)."""
        with self._lock:
            return self._seq

    def apply_error(self, rec: _Rec, code: int, message: str) -> None:
        text = f"{(message or '').strip()} (IBKR {code})"
        rec.last_update = _now()
        if code == ORDER_CANCELLED:
            reason = (message or "").partition("reason:")[2].strip()
            if reason:
                rec.message = reason
            if not rec.rejected and rec.status not in ("Filled", "Inactive"):
                rec.status = "Cancelled"
                self._announce_done(rec)
            return
        if code in ORDER_NOTICE_CODES or code in CANCEL_FAILED_CODES:
            rec.message = text
            if code in CANCEL_FAILED_CODES:
                self._event("error", rec, f"Cancel failed: {text}")
            return
        acknowledged = rec.perm_id and rec.status not in ("PendingSubmit", "ApiPending")
        if code == ORDER_REJECTED or not acknowledged:
            rec.rejected = True
            rec.status = REJECTED
            rec.remaining = max(0.0, rec.quantity - rec.filled)
            rec.message = text
            self._announce_done(rec, message=text)
            return
        rec.message = text
        self._event("error", rec, text)

    def _lookup(
        self, session: int, client_id: int | None, order_id: int, perm_id: int
    ) -> _Rec | None:
        rec = self._by_perm.get((session, perm_id)) if perm_id else None
        if rec is None and order_id > 0:
            rec = self._by_oid.get((session, client_id, order_id))
        return rec

    def _adoptable(self, session: int, trade: Trade) -> _Rec | None:
        """A record of an earlier session that this trade (reported by the gateway in
        ``session``) is the same order as: same perm id, contract and side."""
        o, c = trade.order, trade.contract
        if not o.permId:
            return None
        for rec in self._records:
            if (
                rec.session_id != session
                and rec.perm_id == o.permId
                and normalize_symbol(rec.symbol) == normalize_symbol(c.symbol or c.localSymbol)
                and rec.action == o.action
                and math.isclose(rec.quantity, float(o.totalQuantity or 0.0))
                and (not rec.idempotency_key or o.orderRef == _ref(rec.idempotency_key))
            ):
                return rec
        return None

    def find(self, order_id: int) -> _Rec | None:
        """The record of ``order_id``: this session's first, else the newest one."""
        rec = self._by_oid.get((self._session(), self._client(), order_id))
        if rec is None:
            current = [r for r in self._records if r.session_id == self._session()]
            rec = next((r for r in reversed(current) if r.order_id == order_id), None)
        if rec is None:
            rec = next((r for r in reversed(self._records) if r.order_id == order_id), None)
        return rec

    def absorb(self, trade: Trade, key: str | None = None, announce: bool = True) -> _Rec:
        o, c = trade.order, trade.contract
        session = self._session()
        with self._lock:
            rec = self._lookup(session, o.clientId, o.orderId, o.permId)
            if rec is None:
                rec = self._adoptable(session, trade)
                if rec is not None:
                    rec.session_id = session
            if rec is None:
                created = trade.log[0].time if trade.log else _now()
                rec = _Rec(
                    order_id=o.orderId,
                    client_id=o.clientId,
                    session_id=session,
                    record_id=f"{session}-{next(self._record_ids)}",
                    created_at=created,
                )
                self._records.append(rec)
            if o.orderId > 0:
                rec.order_id = o.orderId
                rec.client_id = o.clientId
                self._by_oid[(session, o.clientId, o.orderId)] = rec
            if o.permId:
                rec.perm_id = o.permId
                self._by_perm[(session, o.permId)] = rec
            rec.symbol = c.symbol or c.localSymbol or rec.symbol
            rec.con_id = c.conId or rec.con_id
            rec.sec_type = c.secType or rec.sec_type
            rec.description = (
                describe_contract(c) if (c.symbol or c.localSymbol) else rec.description
            )
            rec.currency = c.currency or rec.currency
            rec.parent_id = int(o.parentId or 0) or rec.parent_id
            mine = self._client()
            rec.own = o.orderId > 0 and (mine is None or o.clientId == mine)
            rec.action = o.action or rec.action
            rec.quantity = float(o.totalQuantity or rec.quantity)
            rec.order_type = o.orderType or rec.order_type
            rec.limit_price = num(o.lmtPrice) if rec.order_type in NEEDS_LIMIT else None
            rec.stop_price = num(o.auxPrice) if rec.order_type in NEEDS_STOP else None
            rec.tif = o.tif or rec.tif
            rec.account = o.account or rec.account
            ref = o.orderRef or ""
            if key:
                rec.idempotency_key = key
            elif ref.startswith(ORDER_REF_PREFIX) and not rec.idempotency_key:
                rec.idempotency_key = ref[len(ORDER_REF_PREFIX) :]
            if rec.idempotency_key:
                self._by_key.setdefault(rec.idempotency_key, rec)
            self._apply_status(rec, trade)
            if announce:
                self._announce_done(rec)
        self._changed("order", rec.order_id, rec.symbol)
        return rec

    def _apply_status(self, rec: _Rec, trade: Trade) -> None:
        st = trade.orderStatus
        status = st.status
        last = trade.log[-1] if trade.log else None
        synthetic = last is not None and last.errorCode != 0  # ib_async's, from an error
        if status == "ValidationError" or (synthetic and rec.rejected):
            pass  # the error handler owns the status
        elif rec.rejected and status in ("Submitted", "PreSubmitted", "Filled"):
            rec.rejected = False  # TWS went on with it after all
            rec.status = status
        elif not rec.rejected and status:
            rec.status = status
        rec.filled = float(st.filled or 0.0)
        remaining = float(st.remaining or 0.0)
        if rec.status in WORKING_STATUSES and not remaining and not rec.filled:
            remaining = rec.quantity  # ib_async starts PendingSubmit at remaining 0
        if rec.status == REJECTED:
            remaining = max(0.0, rec.quantity - rec.filled)
        rec.remaining = remaining
        rec.avg_fill_price = num(st.avgFillPrice) if rec.filled else None
        if last is not None:
            rec.last_update = max(rec.last_update, last.time)

    def _announce_done(self, rec: _Rec, message: str | None = None) -> None:
        if rec.announced_done or rec.status not in DONE_STATUSES or rec.status == "Filled":
            return
        rec.announced_done = True
        verb = "Buy" if rec.action == "BUY" else "Sell"
        what = f"{verb} {rec.quantity:g} {rec.description or rec.symbol} ({rec.order_type})"
        # What filled before the end stays filled: say so.
        after = f" after {rec.filled:g} of {rec.quantity:g} filled" if rec.filled else ""
        if rec.status == REJECTED:
            self._event("rejected", rec, f"{what} rejected{after}: {message or rec.message or ''}")
        elif rec.status == UNKNOWN_TO_GATEWAY:
            self._event("unknown", rec, f"{what}: unknown to the gateway. {rec.message or ''}")
        elif rec.status in CANCELLED_STATUSES:
            self._event("cancelled", rec, f"{what} cancelled{after}")
        else:
            text = f"{what} is inactive{after}: {rec.message or ''}"
            self._event("inactive", rec, text.strip().rstrip(":"))

    def add_fill(self, fill: Fill, announce: bool) -> None:
        e, c, report = fill.execution, fill.contract, fill.commissionReport
        mult = num(c.multiplier) if c.multiplier else None
        with self._lock:
            existing = self._fills.get(e.execId)
            commission = num(report.commission) if report and report.execId else None
            realized = num(report.realizedPNL) if report and report.execId else None
            record = FillRecord(
                exec_id=e.execId,
                time=e.time or fill.time,
                symbol=c.symbol or c.localSymbol,
                side="BUY" if e.side.upper() in ("BOT", "BUY") else "SELL",
                shares=float(e.shares),
                price=float(e.price),
                commission=commission if commission is not None else None,
                realized_pnl=realized,
                order_id=e.orderId,
                perm_id=e.permId,
                account=e.acctNumber,
                description=describe_contract(c),
                currency=c.currency or "",
                commission_currency=(report.currency or "") if report and report.execId else "",
                multiplier=mult or 1.0,
                con_id=c.conId or 0,
            )
            if existing is not None and record.commission is None:
                record = replace(
                    record,
                    commission=existing.commission,
                    realized_pnl=existing.realized_pnl,
                    commission_currency=existing.commission_currency,
                )
            self._fills[e.execId] = record
            if announce and existing is None:
                rec = self._lookup(self._session(), e.clientId, e.orderId, e.permId)
                verb = "Bought" if record.side == "BUY" else "Sold"
                text = (
                    f"{verb} {record.shares:g} {record.description} at "
                    f"{fmt_price(record.price)} {record.currency}".rstrip()
                )
                self._event("fill", rec, text, order_id=e.orderId, symbol=record.symbol)
        self._changed("fill", e.orderId, record.symbol)

    def _event(
        self,
        kind: str,
        rec: _Rec | None,
        message: str,
        *,
        order_id: int | None = None,
        symbol: str | None = None,
    ) -> None:
        with self._lock:
            self._seq += 1
            self._events.append(
                OrderEvent(
                    seq=self._seq,
                    time=_now(),
                    kind=kind,
                    order_id=rec.order_id if rec else (order_id or 0),
                    symbol=rec.symbol if rec else (symbol or ""),
                    message=message,
                )
            )
