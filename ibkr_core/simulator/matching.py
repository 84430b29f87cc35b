"""Order matching for the simulated gateway: validation, fills, commissions, what-if.

Plain data in, plain events out; the session layer encodes them (openOrder, orderStatus,
execDetails, commissionReport, error). Orders fill against the simulated touch: market
orders and marketable limits immediately (buy at the ask, sell at the bid), resting limits
at their limit price once the market crosses it, stops once the last price reaches them.

Error codes and texts (sources):
- 200 "No security definition has been found for the request" - TWS API message codes
  (interactivebrokers.github.io/tws-api/message_codes.html; IB API users guide table).
- 103 "Duplicate order id" - same table ("Duplicate order ID.").
- 110 "The price does not conform to the minimum price variation for this contract." -
  same table; also joelx.com "TWS API - Solving Incorrect MinTick".
- 434 "The order size cannot be zero." - same table (code list in several API ports).
- 403 "Invalid stop price." - same table; used for a stop without an aux price.
- 321 "Error validating request.-'bF' : cause - Invalid order type was entered" - live
  paper-Gateway captures in ThomasMarcelis/ibkr-go replay tests (order type "FEELINGS").
- 387 "Unsupported order type for this exchange and security type." - same captures.
- 321 missing limit price: TWS answers with its "Error validating request.-'xx' : cause -"
  format (ib_insync #88 shows "You must specify one value: limit price or limit price
  offset value."); the exact wording for a plain LMT without price was not found, so the
  cause text below is ours.
- 201 "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED
  POSITION YOUR EQUITY WITH LOAN VALUE [x USD] MUST EXCEED THE INITIAL MARGIN [y USD]" -
  quoted verbatim in several client code bases (e.g. nautilus_trader's IB adapter).
- 10147 "OrderId {id} that needs to be cancelled is not found." and 10148 "OrderId {id}
  that needs to be cancelled cannot be cancelled, state: Filled." - error strings handled
  in many TWS client test suites (find_string over public code).
- 202 "Order Canceled - reason:" - the notice TWS sends after a cancel (ibkr-go captures).
Order lifecycle from the same live captures: stops rest at PreSubmitted with whyHeld
"trigger"; the commission report of an opening trade carries 1.7976931348623157e308
(unset) as realized P&L. Every event carries a snapshot of the order as it was when the
event happened, so what is sent later never shows a later state. A marketable order takes
at most the size shown at the touch per slice (PARTIAL_FILL_INTERVAL apart); a failed
margin check is accepted first (PreSubmitted), then error 201 and Inactive; orders placed
with transmit=False wait for the order of their bracket that transmits; a bracket's
children wait for the parent's fill and cancel each other (OCA) on a fill.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from . import fees
from .account import Account
from .market import Market, on_tick, round_to_tick
from .universe import EASTERN, Instrument

UNSET_DOUBLE = sys.float_info.max  # ib_async's / TWS's "no value" (1.7976931348623157e308)

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT")
# Real TWS order types this simulator does not execute: TWS-style 387 rather than 321.
KNOWN_UNSUPPORTED = {
    "MOC",
    "LOC",
    "MIT",
    "LIT",
    "TRAIL",
    "TRAIL LIMIT",
    "REL",
    "MTL",
    "MIDPRICE",
    "PEG MKT",
    "PEG MID",
    "PEG BENCH",
    "PEG PRIM",
    "VWAP",
    "BOX TOP",
    "SNAP MKT",
    "SNAP MID",
    "SNAP PRIM",
}
WORKING = ("PendingSubmit", "PreSubmitted", "Submitted")
DONE = ("Filled", "Cancelled", "ApiCancelled", "Inactive")

TEXT_NO_SECURITY = "No security definition has been found for the request"
TEXT_DUPLICATE_ID = "Duplicate order id"
TEXT_TICK = "The price does not conform to the minimum price variation for this contract."
TEXT_SIZE_ZERO = "The order size cannot be zero."
TEXT_INVALID_STOP = "Invalid stop price."
TEXT_INVALID_ORDER_TYPE = "Error validating request.-'bF' : cause - Invalid order type was entered"
TEXT_UNSUPPORTED_ORDER_TYPE = "Unsupported order type for this exchange and security type."
TEXT_MISSING_LIMIT = (
    "Error validating request.-'bO' : cause - You must specify a limit price for this order type."
)
TEXT_INVALID_ACTION = "Error validating request.-'bA' : cause - Invalid action"
TEXT_VALIDATE = "Error validating request.-'bB' : cause - {cause}"
TEXT_ORDER_CANCELED = "Order Canceled - reason:"  # error 202 after a cancel
TEXT_REJECTED = "Order rejected - reason:"  # error 201 prefix
TEXT_MARGIN = (  # what-if warningText; error 201 sends TEXT_REJECTED + this
    "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH "
    "LOAN VALUE [{ewl:.2f} USD] MUST EXCEED THE INITIAL MARGIN [{init:.2f} USD]"
)

# IBKR Pro fixed pricing: US stocks USD 0.005/share, min USD 1.00, max 1% of trade value;
# IDEALPRO FX 0.2 bps of trade value, min USD 2.00.
STK_PER_SHARE, STK_MIN, STK_MAX_PCT = 0.005, 1.00, 0.01
FX_RATE, FX_MIN = 0.00002, 2.00

_EXEC_EXCHANGE = {"NASDAQ": "ISLAND", "NYSE": "NYSE", "ARCA": "ARCA"}


def is_unset(value: float | None) -> bool:
    return value is None or value != value or value >= UNSET_DOUBLE


def commission_for(instrument: Instrument, qty: float, price: float) -> float:
    """IBKR Pro fixed commission for one execution, in the contract's currency."""
    if instrument.sec_type not in ("STK", "CASH") or instrument.currency != "USD":
        return fees.commission(instrument, qty, price)
    value = abs(qty) * price
    if instrument.is_fx:
        return round(max(FX_MIN, value * FX_RATE), 6)
    return round(min(max(STK_PER_SHARE * abs(qty), STK_MIN), STK_MAX_PCT * value), 6)


@dataclass
class SimOrder:
    order_id: int  # the client's id; 0 for an order entered in TWS (until bound)
    client_id: int = 0
    perm_id: int = 0  # assigned by the engine when 0
    instrument: Instrument | None = None  # None: the contract did not resolve
    action: str = "BUY"
    total_qty: float = 0.0
    order_type: str = "MKT"
    lmt_price: float = UNSET_DOUBLE
    aux_price: float = UNSET_DOUBLE  # stop trigger price
    tif: str = "DAY"
    account: str = ""
    what_if: bool = False
    order_ref: str = ""
    parent_id: int = 0  # the parent's order id (same client), 0 for none
    oca_group: str = ""
    oca_type: int = 0
    transmit: bool = True
    outside_rth: bool = False
    entered_in_tws: bool = False  # placed by hand in TWS, not through the API
    status: str = "PendingSubmit"
    filled: float = 0.0
    remaining: float = -1.0  # -1: not set yet, becomes total_qty
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    created: float = 0.0
    triggered: bool = False  # stop reached
    held_by_parent: bool = False  # a bracket child whose parent has not filled yet
    why_held: str = ""
    next_fill_at: float = 0.0  # a partly filled order takes its next slice from then
    completed_time: float = 0.0
    completed_status: str = ""
    expires: float = 0.0  # DAY orders: the session close they expire at

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.total_qty

    @property
    def is_buy(self) -> bool:
        return self.action.upper() == "BUY"

    @property
    def is_working(self) -> bool:
        """Transmitted and not done (an order placed with transmit=False is held)."""
        return self.transmit and self.status in WORKING

    def snapshot(self) -> SimOrder:
        """A frozen copy: what the order looked like when an event was queued."""
        return replace(self)


@dataclass
class Rejection:
    order_id: int
    code: int
    message: str
    advanced_reject_json: str = ""


@dataclass
class Execution:
    exec_id: str
    time: float  # epoch seconds
    account: str
    instrument: Instrument
    exchange: str
    side: str  # "BOT" / "SLD"
    shares: float
    price: float
    perm_id: int
    client_id: int
    order_id: int
    cum_qty: float
    avg_price: float
    order_ref: str = ""
    last_liquidity: int = 2  # 1 added, 2 removed liquidity


@dataclass
class Commission:
    exec_id: str
    commission: float
    currency: str
    realized_pnl: float  # UNSET_DOUBLE (or 0.0, see MatchingEngine) for opening trades
    yield_: float = UNSET_DOUBLE
    yield_redemption_date: int = 0


@dataclass(frozen=True)
class OrderStatusEvent:
    """The order changed: orderStatus (after openOrder when `open_order`), reporting
    `state`, the order as it was when this event was queued."""

    order: SimOrder  # the live order (who owns it, where it is now)
    state: SimOrder  # the snapshot to report
    open_order: bool = True

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def filled(self) -> float:
        return self.state.filled

    @property
    def remaining(self) -> float:
        return self.state.remaining

    @property
    def why_held(self) -> str:
        return self.state.why_held


@dataclass(frozen=True)
class ExecutionEvent:
    order: SimOrder
    execution: Execution
    commission: Commission


@dataclass(frozen=True)
class OrderErrorEvent:
    """An error message about the order: 202 after a cancel, 201 before Inactive."""

    order: SimOrder
    code: int
    message: str


@dataclass
class WhatIfResult:
    commission: float
    min_commission: float
    max_commission: float
    commission_currency: str
    init_margin_before: float
    init_margin_change: float
    init_margin_after: float
    maint_margin_before: float
    maint_margin_change: float
    maint_margin_after: float
    equity_with_loan_before: float
    equity_with_loan_change: float
    equity_with_loan_after: float
    warning_text: str = ""
    status: str = "PreSubmitted"


@dataclass(frozen=True)
class WhatIfEvent:
    """Answer to an order placed with whatIf=True: nothing was stored or executed."""

    order: SimOrder
    result: WhatIfResult


Event = OrderStatusEvent | ExecutionEvent | OrderErrorEvent | WhatIfEvent

# A marketable order larger than the size shown at the touch takes it slice by slice,
# one slice (at most the displayed size) per this many seconds.
PARTIAL_FILL_INTERVAL = 1.0


@dataclass
class MatchingEngine:
    account: Account
    market: Market
    # Realized P&L reported in the commission report of an opening trade. TWS sends the
    # "unset" double (1.7976931348623157e308); set 0.0 to report a plain zero instead.
    opening_realized_pnl: float = UNSET_DOUBLE
    check_margin: bool = True
    perm_id_start: int = 1_500_000_001
    fill_interval: float = PARTIAL_FILL_INTERVAL
    _orders: dict[int, SimOrder] = field(default_factory=dict, init=False)  # by permId
    _executions: list[ExecutionEvent] = field(default_factory=list, init=False)
    _next_perm: int = field(default=0, init=False)
    _exec_seq: int = field(default=0, init=False)
    _exec_base: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._next_perm = self.perm_id_start
        digest = sum(ord(c) * 31**i for i, c in enumerate(self.account.account_id))
        self._exec_prefix = f"{digest & 0xFFFFFFFF:08x}"

    # --- queries ------------------------------------------------------------------------

    def order(self, order_id: int, client_id: int | None = None) -> SimOrder | None:
        """The API order `order_id` of `client_id` (any client when None)."""
        for o in self._orders.values():
            mine = client_id is None or o.client_id == client_id
            if o.order_id == order_id and not o.entered_in_tws and mine:
                return o
        return None

    def open_orders(self) -> list[SimOrder]:
        """Working orders that have been transmitted."""
        return [o for o in self._orders.values() if o.is_working]

    def completed_orders(self) -> list[SimOrder]:
        return [o for o in self._orders.values() if o.status in DONE]

    def executions(self) -> list[ExecutionEvent]:
        """Today's executions, oldest first, each with its order and commission report."""
        return list(self._executions)

    # --- validation ---------------------------------------------------------------------

    def validate(self, order: SimOrder) -> Rejection | None:
        """The error TWS would answer `order` with before accepting it, or None. Changes
        nothing. (A failed margin check is not here: TWS accepts the order, then
        rejects it, see `submit`.)"""
        oid = order.order_id
        existing = None if order.entered_in_tws else self.order(oid, order.client_id)
        if existing is not None and not existing.is_working and existing.transmit:
            return Rejection(oid, 103, TEXT_DUPLICATE_ID)
        inst = order.instrument
        if inst is None:
            return Rejection(oid, 200, TEXT_NO_SECURITY)
        otype = order.order_type.upper()
        if otype not in ORDER_TYPES:
            if otype in KNOWN_UNSUPPORTED:
                return Rejection(oid, 387, TEXT_UNSUPPORTED_ORDER_TYPE)
            return Rejection(oid, 321, TEXT_INVALID_ORDER_TYPE)
        if order.action.upper() not in ("BUY", "SELL"):
            return Rejection(oid, 321, TEXT_INVALID_ACTION)
        if not order.total_qty > 0:
            return Rejection(oid, 434, TEXT_SIZE_ZERO)
        if otype in ("LMT", "STP LMT"):
            if is_unset(order.lmt_price) or order.lmt_price <= 0:
                return Rejection(oid, 321, TEXT_MISSING_LIMIT)
            if not on_tick(order.lmt_price, inst.min_tick):
                return Rejection(oid, 110, TEXT_TICK)
        if otype in ("STP", "STP LMT"):
            if is_unset(order.aux_price) or order.aux_price <= 0:
                return Rejection(oid, 403, TEXT_INVALID_STOP)
            if not on_tick(order.aux_price, inst.min_tick):
                return Rejection(oid, 110, TEXT_TICK)
        if order.parent_id and self.order(order.parent_id, order.client_id) is None:
            return Rejection(oid, 321, TEXT_VALIDATE.format(cause="Invalid parent order id"))
        return None

    def margin_rejection(self, order: SimOrder, existing: SimOrder | None) -> str | None:
        """The 201 text when `order` fails the initial-margin check, else None."""
        if not self.check_margin or order.what_if:
            return None
        if order.parent_id and order.is_buy != self._parent_is_buy(order):
            return None  # a closing bracket child adds no margin
        w = self._what_if(order, existing)
        if w.init_margin_after > w.equity_with_loan_after and w.init_margin_change > 0:
            return TEXT_REJECTED + w.warning_text
        return None

    def _parent_is_buy(self, order: SimOrder) -> bool:
        parent = self.order(order.parent_id, order.client_id)
        return parent.is_buy if parent else order.is_buy

    # --- order entry --------------------------------------------------------------------

    def submit(self, order: SimOrder, now: float) -> list[Event] | Rejection:
        """Place (or, for a working order id, modify) `order`.

        Returns the events to send, or the Rejection (nothing changed). An order placed with
        `what_if` returns a single WhatIfEvent and is neither stored nor executed. An order
        with transmit=False is stored and held (no events) until an order of its bracket
        is placed with transmit=True; then the whole bracket goes out, parent first.
        """
        rejection = self.validate(order)
        if rejection is not None:
            return rejection
        if order.what_if:
            return [WhatIfEvent(order, self.what_if(order))]
        existing = None if order.entered_in_tws else self.order(order.order_id, order.client_id)
        if existing is not None and existing.is_working:
            text = self.margin_rejection(order, existing)
            if text:
                return Rejection(order.order_id, 201, text)
            return self._modify(existing, order, now)
        if existing is not None:  # held (transmit=False) and placed again
            del self._orders[existing.perm_id]
            order.perm_id = existing.perm_id
        order.order_type = order.order_type.upper()
        order.action = order.action.upper()
        if not order.perm_id:
            order.perm_id = self._next_perm
            self._next_perm += 1
        order.created = now
        order.filled, order.remaining = 0.0, order.total_qty
        order.expires = self._expiry(order, now)
        self._orders[order.perm_id] = order
        if not order.transmit:
            return []
        events: list[Event] = []
        for member in self._bracket_of(order):
            events += self._activate(member, now)
        return events

    def _bracket_of(self, order: SimOrder) -> list[SimOrder]:
        """`order` and the held (untransmitted) orders it transmits: its parent and the
        parent's other children; parent first, then in the order they were placed."""
        root_id = order.parent_id or order.order_id
        held = [
            o
            for o in self._orders.values()
            if o is not order
            and not o.transmit
            and o.client_id == order.client_id
            and not o.entered_in_tws
            and (o.order_id == root_id or o.parent_id == root_id)
        ]
        for o in held:
            o.transmit = True
        return sorted([*held, order], key=lambda o: (o.parent_id != 0, o.perm_id))

    def _activate(self, order: SimOrder, now: float) -> list[Event]:
        """Order goes out: PreSubmitted, then working (or held as a child / stop), or
        Inactive when TWS's margin check refuses it."""
        order.status = "PreSubmitted"
        is_stop = order.order_type in ("STP", "STP LMT")
        parent = self.order(order.parent_id, order.client_id) if order.parent_id else None
        order.held_by_parent = parent is not None and parent.status != "Filled"
        order.why_held = "trigger" if is_stop and not order.held_by_parent else ""
        events: list[Event] = [self._update(order)]
        text = self.margin_rejection(order, None)
        if text:
            # Accepted, then refused: error 201, then Inactive (as TWS reports a failed
            # margin check).
            events.append(OrderErrorEvent(order, 201, text))
            order.status, order.why_held = "Inactive", ""
            order.completed_time, order.completed_status = now, "Inactive"
            events.append(self._update(order))
            return events
        if order.held_by_parent:
            return events
        return events + self._go_live(order, now)

    def _go_live(self, order: SimOrder, now: float) -> list[Event]:
        if order.order_type in ("STP", "STP LMT"):
            order.why_held = "trigger"
            return self._check_stop(order, now)
        order.status = "Submitted"
        return [self._update(order), *self._try_fill(order, now, resting=False)]

    def _modify(self, existing: SimOrder, new: SimOrder, now: float) -> list[Event]:
        existing.total_qty = new.total_qty
        existing.remaining = max(0.0, new.total_qty - existing.filled)
        existing.order_type = new.order_type.upper()
        existing.lmt_price = new.lmt_price
        existing.aux_price = new.aux_price
        existing.tif = new.tif
        existing.order_ref = new.order_ref
        existing.triggered = False
        if existing.held_by_parent:
            return [self._update(existing)]
        if existing.order_type in ("STP", "STP LMT"):
            # A stop that was Submitted stays Submitted (status never goes back).
            existing.why_held = "trigger" if existing.status == "PreSubmitted" else ""
            return [self._update(existing), *self._check_stop(existing, now)]
        existing.status, existing.why_held = "Submitted", ""
        return [self._update(existing), *self._try_fill(existing, now, resting=False)]

    def cancel(self, order: SimOrder | int, now: float) -> list[Event] | Rejection:
        """Cancel a working order: PendingCancel, Cancelled, then error 202
        TEXT_ORDER_CANCELED (and the same for its bracket children). Unknown ids answer
        10147, finished orders 10148."""
        if isinstance(order, int):
            found = self.order(order)
            if found is None:
                return Rejection(
                    order, 10147, f"OrderId {order} that needs to be cancelled is not found."
                )
            order = found
        if not order.is_working:
            return Rejection(
                order.order_id,
                10148,
                f"OrderId {order.order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}.",
            )
        order.status = "PendingCancel"
        events: list[Event] = [self._update(order)]
        events += self._finish(order, "Cancelled", now)
        return events

    # --- market reaction ----------------------------------------------------------------

    def on_market(self, now: float) -> list[Event]:
        """React to the current quotes: trigger stops, fill crossed limits, take the next
        slice of partly filled orders, expire DAY orders past their session close. Call
        after every Market.step / set_price."""
        events: list[Event] = []
        for order in list(self._orders.values()):
            if not order.is_working or order.held_by_parent:
                continue
            if order.expires and now >= order.expires:
                events += self._finish(order, "Cancelled", now)
                continue
            if now < order.next_fill_at:
                continue
            if order.order_type in ("STP", "STP LMT") and not order.triggered:
                events += self._check_stop(order, now)
            else:
                events += self._try_fill(order, now, resting=order.filled == 0)
        return events

    def _check_stop(self, order: SimOrder, now: float) -> list[Event]:
        inst = order.instrument
        assert inst is not None
        q = self.market.quote(inst.key)
        ref = q.mid if inst.is_fx else q.last
        hit = ref >= order.aux_price if order.is_buy else ref <= order.aux_price
        if not hit:
            return []
        order.triggered = True
        order.why_held = ""
        order.status = "Submitted"
        events: list[Event] = [self._update(order)]
        # A triggered stop is a market order; a stop-limit becomes a (marketable?) limit.
        events += self._try_fill(order, now, resting=False)
        return events

    def _try_fill(self, order: SimOrder, now: float, resting: bool) -> list[Event]:
        inst = order.instrument
        assert inst is not None
        q = self.market.quote(inst.key)
        touch = q.ask if order.is_buy else q.bid
        shown = q.ask_size if order.is_buy else q.bid_size
        if order.order_type in ("MKT", "STP"):
            return self._fill(order, touch, shown, now)
        limit = order.lmt_price
        if (order.is_buy and touch <= limit) or (not order.is_buy and touch >= limit):
            # Marketable on arrival: fills at the touch (price improvement); a resting
            # limit fills at its limit price once the market crosses it.
            return self._fill(order, limit if resting else touch, shown, now)
        return []

    def _fill(self, order: SimOrder, price: float, shown: float, now: float) -> list[Event]:
        """One execution of at most the size shown at the touch; the rest waits for the
        next slice (status Submitted, filled/remaining moving)."""
        inst = order.instrument
        assert inst is not None
        qty = order.remaining if shown <= 0 else min(order.remaining, shown)
        if qty <= 0:
            return []
        price = round_to_tick(price, inst.min_tick)
        commission = commission_for(inst, qty, price)
        pos = self.account.position(inst.con_id)
        before = pos.qty if pos else 0.0
        closes = before != 0 and (before > 0) != order.is_buy
        realized = self.account.apply_fill(inst, order.action, qty, price, commission)
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * qty) / (
            order.filled + qty
        )
        order.filled += qty
        order.remaining = max(0.0, order.total_qty - order.filled)
        order.last_fill_price = price
        order.next_fill_at = now + self.fill_interval
        self._exec_seq += 1
        if not self._exec_base:
            self._exec_base = int(now)
        exec_id = f"{self._exec_prefix}.{(self._exec_base + self._exec_seq) & 0xFFFFFFFF:08x}.01.01"
        execution = Execution(
            exec_id=exec_id,
            time=now,
            account=order.account or self.account.account_id,
            instrument=inst,
            exchange="IDEALPRO"
            if inst.is_fx
            else _EXEC_EXCHANGE.get(inst.primary_exchange, fees.exec_exchange(inst)),
            side="BOT" if order.is_buy else "SLD",
            shares=qty,
            price=price,
            perm_id=order.perm_id,
            client_id=order.client_id,
            order_id=order.order_id,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.order_ref,
        )
        report = Commission(
            exec_id=exec_id,
            commission=commission,
            currency=self.account.commission_currency(inst),
            realized_pnl=realized if closes else self.opening_realized_pnl,
        )
        event = ExecutionEvent(order, execution, report)
        self._executions.append(event)
        events: list[Event] = [event]
        events += self._cancel_oca_peers(order, now)
        if order.remaining > 0:
            return [*events, self._update(order, open_order=False)]
        events += self._finish(order, "Filled", now)
        for child in self._children(order):
            if child.held_by_parent and child.is_working:
                child.held_by_parent = False
                events += self._go_live(child, now)
        return events

    def _children(self, parent: SimOrder) -> list[SimOrder]:
        return [
            o
            for o in self._orders.values()
            if o.parent_id
            and o.parent_id == parent.order_id
            and o.client_id == parent.client_id
            and not parent.entered_in_tws
        ]

    def _oca_peers(self, order: SimOrder) -> list[SimOrder]:
        """Orders cancelled when `order` fills: its OCA group, and the other children of
        its bracket parent (TWS makes a bracket's children one OCA group)."""
        peers = []
        for o in self._orders.values():
            if o is order or not o.is_working or o.client_id != order.client_id:
                continue
            same_group = bool(order.oca_group) and o.oca_group == order.oca_group
            siblings = bool(order.parent_id) and o.parent_id == order.parent_id
            if same_group or siblings:
                peers.append(o)
        return peers

    def _cancel_oca_peers(self, order: SimOrder, now: float) -> list[Event]:
        events: list[Event] = []
        for peer in self._oca_peers(order):
            events += self._finish(peer, "Cancelled", now)
        return events

    def _finish(self, order: SimOrder, status: str, now: float) -> list[Event]:
        order.status = status
        order.why_held = ""
        order.completed_time = now
        order.completed_status = status
        events: list[Event] = [self._update(order)]
        if status == "Cancelled":
            events.append(OrderErrorEvent(order, 202, TEXT_ORDER_CANCELED))
            for child in self._children(order):
                if child.is_working:
                    events += self._finish(child, "Cancelled", now)
        return events

    def _update(self, order: SimOrder, open_order: bool = True) -> OrderStatusEvent:
        return OrderStatusEvent(order, order.snapshot(), open_order)

    def _expiry(self, order: SimOrder, now: float) -> float:
        """DAY orders expire at the next session close (16:00 ET stocks, 17:00 ET FX)."""
        if order.tif.upper() != "DAY":
            return 0.0
        inst = order.instrument
        assert inst is not None
        close_hour = 17 if inst.is_fx else 16
        d = datetime.fromtimestamp(now, EASTERN)
        for i in range(8):
            day = (d + timedelta(days=i)).date()
            if day.weekday() >= 5:
                continue
            close = datetime(day.year, day.month, day.day, close_hour, tzinfo=EASTERN)
            if close.timestamp() > now:
                return close.timestamp()
        return 0.0

    # --- what-if ------------------------------------------------------------------------

    def what_if(self, order: SimOrder) -> WhatIfResult:
        """Commission and margin impact of `order` as TWS reports them for whatIf orders;
        executes nothing and changes nothing."""
        return self._what_if(order, None)

    def _what_if(self, order: SimOrder, existing: SimOrder | None) -> WhatIfResult:
        inst = order.instrument
        if inst is None:
            raise ValueError("what-if needs a resolved instrument")
        q = self.market.quote(inst.key)
        otype = order.order_type.upper()
        buy = order.action.upper() == "BUY"
        if otype in ("LMT", "STP LMT") and not is_unset(order.lmt_price):
            price = order.lmt_price
        elif otype == "STP" and not is_unset(order.aux_price):
            price = order.aux_price
        else:
            price = q.ask if buy else q.bid
        qty = order.total_qty - (existing.filled if existing else 0.0)
        commission = commission_for(inst, qty, price)
        signed = qty if buy else -qty
        before = self.account.margin(self.market)
        after = self.account.margin(
            self.market,
            extra={inst.con_id: (inst, signed)},
            cash_delta=self.account.trade_cash(inst, signed, price, commission, self.market),
        )
        # The position is then valued at the mark, not at the hypothetical fill price.
        after_ewl = after.equity_with_loan
        warning = ""
        if after.init > after_ewl and after.init > before.init:
            warning = TEXT_MARGIN.format(ewl=after_ewl, init=after.init)
        return WhatIfResult(
            commission=commission,
            min_commission=commission,
            max_commission=commission,
            commission_currency=self.account.commission_currency(inst),
            init_margin_before=before.init,
            init_margin_change=after.init - before.init,
            init_margin_after=after.init,
            maint_margin_before=before.maint,
            maint_margin_change=after.maint - before.maint,
            maint_margin_after=after.maint,
            equity_with_loan_before=before.equity_with_loan,
            equity_with_loan_change=after_ewl - before.equity_with_loan,
            equity_with_loan_after=after_ewl,
            warning_text=warning,
        )
