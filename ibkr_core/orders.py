"""Order entry and the order / fill read model.

``OrderService`` validates tickets, previews them (what-if), places them exactly once per
idempotency key, cancels them, and keeps a per-process record of every order and fill it
has seen (ours and those TWS reports at connect), updated on the loop thread from
ib_async's events. Reads are non-blocking snapshots; sending methods are bounded by the
settings' request timeout.

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

import asyncio
import collections
import concurrent.futures
import contextlib
import copy
import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ib_async import Contract, Order

from ibkr_core.connection_errors import IBKRError, NotConnectedError, UnknownSymbolError
from ibkr_core.quote import num
from ibkr_core.settings import Settings
from ibkr_core.symbols import normalize_symbol

if TYPE_CHECKING:
    from ib_async import IB, Fill, Trade

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = [
    "UNKNOWN_TO_GATEWAY",
    "FillRecord",
    "IdempotencyConflictError",
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

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT")
ORDER_TYPE_NAMES = {"MKT": "market", "LMT": "limit", "STP": "stop", "STP LMT": "stop-limit"}
ACTIONS = ("BUY", "SELL")
TIFS = ("DAY", "GTC")
NEEDS_LIMIT = ("LMT", "STP LMT")
NEEDS_STOP = ("STP", "STP LMT")

REJECTED = "Rejected"
# An order of an earlier gateway session that the gateway no longer reports (it was
# restarted, or this is another gateway): its fate is unknown, it is not "Submitted".
UNKNOWN_TO_GATEWAY = "Unknown to the gateway"
WORKING_STATUSES = frozenset(
    {"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"}
)
DONE_STATUSES = frozenset(
    {"Filled", "Cancelled", "ApiCancelled", "Inactive", REJECTED, UNKNOWN_TO_GATEWAY}
)
CANCELLED_STATUSES = frozenset({"Cancelled", "ApiCancelled"})
ORDER_REF_PREFIX = "dash:"

# Order-related TWS messages that are notices, not failures of the order.
# (399 order message, 404 shares being located, 10167 delayed data, 10311 routing note,
# 10349 TIF changed by a preset)
NOTICE_CODES = frozenset({399, 404, 10167, 10311, 10349})
CANCEL_FAILED_CODES = frozenset({161, 10147, 10148})
ORDER_CANCELLED = 202
ORDER_REJECTED = 201
MAX_EVENTS = 1000
MAX_PRICE = 1_000_000.0  # above any US stock (BRK A trades near 700,000)
RECONCILE_TIMEOUT = 3.0  # s for reqAllOpenOrders after a (re)connect

NOT_CONNECTED_REASON = "Connect to TWS / IB Gateway to trade"


# ---------------------------------------------------------------------------- models
@dataclass(frozen=True)
class OrderTicket:
    symbol: str
    action: str  # "BUY" | "SELL"
    quantity: float
    order_type: str = "MKT"  # "MKT" | "LMT" | "STP" | "STP LMT"
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "DAY"  # "DAY" | "GTC"
    account: str | None = None  # needed only when the login manages several accounts

    def normalized(self) -> OrderTicket:
        return replace(
            self,
            symbol=(self.symbol or "").strip().upper(),
            action=(self.action or "").strip().upper(),
            order_type=" ".join((self.order_type or "").upper().split()),
            tif=(self.tif or "").strip().upper(),
            account=(self.account or "").strip() or None,
        )


@dataclass(frozen=True)
class ValidationIssue:
    field: str  # the OrderTicket field the message belongs next to
    message: str


@dataclass(frozen=True)
class TradingStatus:
    allowed: bool
    reason: str
    is_paper: bool | None


@dataclass(frozen=True)
class OrderPreview:
    """What-if answer from TWS; ``None`` where TWS sent no value (its 'unset')."""

    symbol: str
    action: str
    quantity: float
    order_type: str
    estimated_price: float | None  # the limit/stop price, or the current quote for MKT
    order_value: float | None  # quantity x estimated price
    commission: float | None
    min_commission: float | None
    max_commission: float | None
    commission_currency: str
    init_margin_before: float | None
    init_margin_change: float | None
    init_margin_after: float | None
    maint_margin_before: float | None
    maint_margin_change: float | None
    maint_margin_after: float | None
    equity_with_loan_before: float | None
    equity_with_loan_change: float | None
    equity_with_loan_after: float | None
    warning: str = ""  # TWS's warning text (e.g. the margin it would reject for)
    position: float | None = None  # the account's current position in the symbol
    short_warning: str = ""  # a SELL above the position: it would open a short
    # What the preview is bound to: confirming it anywhere else is refused.
    session_id: int = 0  # the connection session it was made in
    account: str = ""
    is_paper: bool | None = None


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

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES

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


# ------------------------------------------------------------------------- errors
class TradingLockedError(IBKRError):
    """Trading is not allowed right now (``str()`` says why)."""

    def __init__(self, status: TradingStatus) -> None:
        super().__init__(status.reason)
        self.status = status


class OrderValidationError(IBKRError, ValueError):
    def __init__(self, issues: list[ValidationIssue]) -> None:
        super().__init__("; ".join(f"{i.field}: {i.message}" for i in issues))
        self.issues = issues


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


class StalePreviewError(IBKRError):
    """A confirm for a preview made in another connection session / account, or too old:
    nothing was sent (``str()`` says why)."""


class OrderNotFoundError(IBKRError, LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"No order with id {order_id} in this session")
        self.order_id = order_id


# ------------------------------------------------------------------------ helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _is_today(when: datetime) -> bool:
    local = when.astimezone() if when.tzinfo else when
    return local.date() == datetime.now().astimezone().date()


def _is_huge(raw: object) -> bool:
    """A float beyond any price (1e308, inf), as opposed to junk or NaN."""
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not math.isnan(number) and abs(number) >= 1e300


def _position(ib: IB, account: str, contract: Contract | None) -> float:
    """(Loop thread.) The account's position in ``contract`` (0 when it holds none)."""
    if contract is None:
        return 0.0
    return sum(
        float(p.position) for p in ib.positions(account or "") if p.contract.conId == contract.conId
    )


def _short_warning(ticket: OrderTicket, position: float | None) -> str:
    """A SELL for more than the account holds opens a short: say so at preview."""
    if ticket.action != "SELL" or position is None:
        return ""
    qty = float(ticket.quantity)
    held = max(position, 0.0)
    if qty <= held:
        return ""
    short = qty - held
    holding = f"hold {held:g} {ticket.symbol}" if held else f"hold no {ticket.symbol}"
    if position < 0:
        holding = f"are already short {abs(position):g} {ticket.symbol}"
    return (
        f"You {holding}: selling {qty:g} opens a short position of {short:g} shares "
        "(you would owe the shares, with no limit to the loss)."
        if position >= 0
        else f"You {holding}: selling {qty:g} more adds {qty:g} to the short position."
    )


def _ref(key: str) -> str:
    return ORDER_REF_PREFIX + key


def _matches(record: OrderRecord, t: OrderTicket) -> bool:
    """Is ``record`` the order ``t`` describes (the idempotency check)?"""

    def same(a: float | None, b: float | None) -> bool:
        return (a is None and b is None) or (
            a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9)
        )

    return (
        normalize_symbol(record.symbol) == normalize_symbol(t.symbol)
        and record.action == t.action
        and same(record.quantity, num(t.quantity))
        and record.order_type == t.order_type
        and same(record.limit_price, num(t.limit_price) if t.order_type in NEEDS_LIMIT else None)
        and same(record.stop_price, num(t.stop_price) if t.order_type in NEEDS_STOP else None)
        and (not record.tif or record.tif == t.tif)
        and (not t.account or not record.account or record.account == t.account)
    )


def _fmt_price(value: float) -> str:
    return f"{value:,.{max(2, _decimals(value))}f}"


def _decimals(value: float) -> int:
    text = f"{value:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def off_tick(price: float, tick: float) -> tuple[float, float] | None:
    """None if ``price`` is a multiple of ``tick``, else the two nearest valid prices."""
    if not tick or tick <= 0:
        return None
    steps = price / tick
    if abs(steps - round(steps)) < 1e-6:
        return None
    lo = math.floor(steps) * tick
    places = max(_decimals(tick), 2)
    return round(lo, places), round(lo + tick, places)


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
        )


@dataclass
class _Checked:
    """What validation learned, for placing / previewing."""

    ticket: OrderTicket
    issues: list[ValidationIssue]
    contract: Contract | None = None
    account: str = ""
    price: float | None = None  # for the order value: limit / stop / quote


# ------------------------------------------------------------------------ service
class OrderService:
    def __init__(self, connection: IBKRConnection, settings: Settings | None = None) -> None:
        self._conn = connection
        self.settings = settings or connection.settings
        self._lock = threading.RLock()
        self._records: list[_Rec] = []
        # Both indexes are per gateway session: a restarted or another gateway reuses
        # order ids (and may reuse perm ids), which must never land in an old record.
        self._by_perm: dict[tuple[int, int], _Rec] = {}  # (session, permId)
        self._by_oid: dict[tuple[int, int | None, int], _Rec] = {}  # (session, client, id)
        self._record_ids = itertools.count(1)
        self._by_key: dict[str, _Rec] = {}
        self._inflight: dict[str, concurrent.futures.Future[OrderRecord]] = {}
        self._fills: dict[str, FillRecord] = {}
        self._events: collections.deque[OrderEvent] = collections.deque(maxlen=MAX_EVENTS)
        self._seq = 0
        self._min_ticks: dict[int, float] = {}
        connection.loop.call(self._attach, timeout=5)

    # -------------------------------------------------------------- trading lock
    def connection_status(self) -> ConnectionStatus:
        """The connection this service trades through (what previews are bound to)."""
        return self._conn.status()

    def trading_status(self, account: str | None = None) -> TradingStatus:
        st = self._conn.status()
        if not st.connected:
            return TradingStatus(False, NOT_CONNECTED_REASON, None)
        accounts = (account,) if account else st.accounts
        live = [a for a in accounts if not a.upper().startswith(("DU", "DF"))]
        is_paper = not live if accounts else None
        if self._conn.readonly:
            return TradingStatus(
                False, "The IBKR connection is read-only: orders are disabled.", is_paper
            )
        if live and not self.settings.live_trading_enabled:
            return TradingStatus(
                False,
                f"Account {', '.join(live)} is a LIVE account (real money). Trading live "
                "accounts from the dashboard is turned off; set IBKR_LIVE_TRADING_ENABLED="
                "true (or live_trading_enabled in secrets.toml) to allow it.",
                False,
            )
        reason = "LIVE account: orders use real money" if live else "Paper trading account"
        if st.degraded:
            reason += " (IBKR connectivity is degraded: orders may wait)"
        return TradingStatus(True, reason, is_paper)

    def _require_trading(self, account: str | None = None) -> None:
        status = self.trading_status(account)
        if not status.allowed:
            raise TradingLockedError(status)

    # ---------------------------------------------------------------- validation
    def validate(self, ticket: OrderTicket) -> list[ValidationIssue]:
        """Every problem with ``ticket``, keyed by field (empty list: good to go).
        Sends nothing except lookups (contract details, a quote for MKT orders)."""
        return self._check(ticket, time.monotonic() + self._timeout()).issues

    def _timeout(self) -> float:
        return float(self.settings.request_timeout)

    def _check(self, ticket: OrderTicket, deadline: float) -> _Checked:
        t = ticket.normalized()
        issues: list[ValidationIssue] = []
        checked = _Checked(t, issues)
        if not t.symbol:
            issues.append(ValidationIssue("symbol", "Enter a symbol."))
        if t.action not in ACTIONS:
            issues.append(ValidationIssue("action", "Choose Buy or Sell."))
        if t.order_type not in ORDER_TYPES:
            issues.append(
                ValidationIssue(
                    "order_type",
                    "Choose an order type: market (MKT), limit (LMT), stop (STP) or "
                    "stop-limit (STP LMT).",
                )
            )
        if t.tif not in TIFS:
            issues.append(ValidationIssue("tif", "Time in force must be DAY or GTC."))
        qty = num(t.quantity)
        if qty is None or qty <= 0:
            issues.append(ValidationIssue("quantity", "Quantity must be greater than 0."))
        elif not float(qty).is_integer():
            issues.append(
                ValidationIssue(
                    "quantity", f"Stocks trade in whole shares: {qty:g} is not a whole number."
                )
            )
        kind = ORDER_TYPE_NAMES.get(t.order_type, "this")
        prices = {}
        for fld, needed, label in (
            ("limit_price", t.order_type in NEEDS_LIMIT, "limit price"),
            ("stop_price", t.order_type in NEEDS_STOP, "stop price"),
        ):
            if not needed:
                continue
            raw = getattr(t, fld)
            value = num(raw)
            if raw is None or raw == "":
                issues.append(ValidationIssue(fld, f"A {kind} order needs a {label}."))
            elif value is None and _is_huge(raw):
                issues.append(
                    ValidationIssue(
                        fld, f"The {label} {float(raw):g} is too large: at most {MAX_PRICE:,.0f}."
                    )
                )
            elif value is None:
                issues.append(ValidationIssue(fld, f"The {label} must be a number."))
            elif value > MAX_PRICE:
                issues.append(
                    ValidationIssue(
                        fld, f"The {label} {value:g} is too large: at most {MAX_PRICE:,.0f}."
                    )
                )
            elif value <= 0:
                issues.append(ValidationIssue(fld, f"The {label} must be greater than 0."))
            else:
                prices[fld] = value
        st = self._conn.status()
        if st.connected:
            if t.account and t.account not in st.accounts:
                issues.append(
                    ValidationIssue(
                        "account",
                        f"Account {t.account} is not part of this login "
                        f"({', '.join(st.accounts)}).",
                    )
                )
            elif not t.account and len(st.accounts) > 1:
                issues.append(
                    ValidationIssue(
                        "account",
                        f"Choose an account: this login manages {', '.join(st.accounts)}.",
                    )
                )
            checked.account = t.account or (st.accounts[0] if st.accounts else "")
        if not t.symbol:
            return checked
        if not self._conn.ib_ready():
            issues.append(
                ValidationIssue("symbol", "Connect to TWS / IB Gateway to look up the symbol.")
            )
            return checked
        if t.order_type == "MKT" and t.action in ACTIONS:
            self._conn.market_data  # noqa: B018 - create the registry outside the loop
        remaining = max(0.1, deadline - time.monotonic())
        try:
            self._conn.run(self._remote_checks(checked, qty, prices, deadline), remaining + 0.5)
        except NotConnectedError:
            issues.append(
                ValidationIssue("symbol", "Connect to TWS / IB Gateway to look up the symbol.")
            )
        except TimeoutError:
            issues.append(
                ValidationIssue("symbol", f"IBKR did not answer about {t.symbol} in time. Retry.")
            )
        return checked

    async def _remote_checks(
        self, checked: _Checked, qty: float | None, prices: dict[str, float], deadline: float
    ) -> None:
        """(Loop thread.) Symbol, min tick and order value checks."""
        t, issues = checked.ticket, checked.issues

        def left() -> float:
            return max(0.05, deadline - time.monotonic())

        try:
            contract = await self._conn.qualify_async(t.symbol, left())
        except UnknownSymbolError:
            issues.append(
                ValidationIssue("symbol", f"Unknown symbol {t.symbol}: IBKR has no such US stock.")
            )
            return
        except TimeoutError:
            issues.append(
                ValidationIssue("symbol", f"IBKR did not answer about {t.symbol} in time. Retry.")
            )
            return
        checked.contract = contract
        tick = await self._min_tick(contract, left())
        for fld, value in prices.items():
            near = off_tick(value, tick) if tick else None
            if near:
                label = "limit price" if fld == "limit_price" else "stop price"
                issues.append(
                    ValidationIssue(
                        fld,
                        f"{t.symbol} trades in steps of {tick:g}: a {label} of {value:g} is not "
                        f"allowed (use {_fmt_price(near[0])} or {_fmt_price(near[1])}).",
                    )
                )
        if t.order_type in NEEDS_LIMIT:
            price = prices.get("limit_price")
        elif t.order_type == "STP":
            price = prices.get("stop_price")
        elif t.order_type == "MKT" and t.action in ACTIONS:
            price = await self._quote_price(contract, t.action, left())
            if price is None:
                issues.append(
                    ValidationIssue(
                        "quantity",
                        f"No current price for {t.symbol}, so the order value can't be checked "
                        f"against the {self.settings.max_order_value:,.0f} limit. Try again in a "
                        "moment or use a limit order.",
                    )
                )
        else:
            price = None
        checked.price = price
        limit = float(self.settings.max_order_value)
        if price is not None and qty is not None and qty > 0:
            value = qty * price
            if value > limit:
                issues.append(
                    ValidationIssue(
                        "quantity",
                        f"Order value {value:,.2f} ({qty:g} x {price:,.2f}) is above the "
                        f"{limit:,.2f} limit per order (max_order_value).",
                    )
                )

    async def _min_tick(self, contract: Contract, timeout: float) -> float | None:
        cached = self._min_ticks.get(contract.conId)
        if cached is not None:
            return cached
        try:
            details = await asyncio.wait_for(
                self._conn.ib.reqContractDetailsAsync(contract), timeout
            )
        except (TimeoutError, ConnectionError):
            return None
        tick = num(details[0].minTick) if details else None
        if tick:
            self._min_ticks[contract.conId] = tick
        return tick

    async def _quote_price(self, contract: Contract, action: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        registry = self._conn.market_data
        try:
            quote = await registry.first_quote(contract, timeout)
        except (IBKRError, TimeoutError, ConnectionError):
            return None
        # The first tick may be the other side only (bid before ask): wait for ours.
        while True:
            side = quote.ask if action == "BUY" else quote.bid
            price = side or quote.price
            if price or time.monotonic() >= deadline:
                return price or None
            await asyncio.sleep(0.05)
            quote = registry.quotes([contract.symbol])[contract.symbol]

    # ------------------------------------------------------------------- what-if
    def preview(self, ticket: OrderTicket) -> OrderPreview:
        """Commission and margin impact from TWS (a what-if order: nothing executes).
        Raises ``OrderValidationError`` for a bad ticket, ``NotConnectedError``.

        The preview is bound to the connection session, the account and its paper/live
        kind it was made for (``session_id``, ``account``, ``is_paper``): see
        ``ibkr_core.order_flow`` for confirming it."""
        deadline = time.monotonic() + self._timeout()
        session = self._conn.status().session_id
        checked = self._check(ticket, deadline)
        if checked.issues:
            raise OrderValidationError(checked.issues)
        assert checked.contract is not None
        order = self._build_order(checked, key=None)
        remaining = max(0.1, deadline - time.monotonic())
        state = self._conn.run(self._what_if(checked.contract, order, remaining), remaining + 0.5)
        status = self._conn.status()
        if status.session_id != session or not status.connected:
            raise IBKRError("The IBKR connection changed during the preview: preview again.")
        t = checked.ticket
        value = float(t.quantity) * checked.price if checked.price is not None else None
        position = self._conn.run(
            lambda ib: _position(ib, checked.account, checked.contract), timeout=remaining + 0.5
        )
        return OrderPreview(
            symbol=t.symbol,
            action=t.action,
            quantity=float(t.quantity),
            order_type=t.order_type,
            estimated_price=checked.price,
            order_value=value,
            commission=num(state.commission),
            min_commission=num(state.minCommission),
            max_commission=num(state.maxCommission),
            commission_currency=state.commissionCurrency or "",
            init_margin_before=num(state.initMarginBefore),
            init_margin_change=num(state.initMarginChange),
            init_margin_after=num(state.initMarginAfter),
            maint_margin_before=num(state.maintMarginBefore),
            maint_margin_change=num(state.maintMarginChange),
            maint_margin_after=num(state.maintMarginAfter),
            equity_with_loan_before=num(state.equityWithLoanBefore),
            equity_with_loan_change=num(state.equityWithLoanChange),
            equity_with_loan_after=num(state.equityWithLoanAfter),
            warning=state.warningText or "",
            position=position,
            short_warning=_short_warning(t, position),
            session_id=session,
            account=checked.account,
            is_paper=self.trading_status(checked.account or None).is_paper,
        )

    async def _what_if(self, contract: Contract, order: Order, timeout: float) -> Any:
        """(Loop thread.) ib_async's whatIfOrderAsync, but a TWS error for the request
        (even one ib_async treats as a warning) ends the wait with its message."""
        ib = self._conn.ib
        what_if = copy.copy(order)
        what_if.whatIf = True
        req_id = ib.client.getReqId()
        loop = asyncio.get_running_loop()
        failed: asyncio.Future[str] = loop.create_future()

        def on_error(rid: int, code: int, message: str, _contract: Any) -> None:
            if rid == req_id and not failed.done() and code not in NOTICE_CODES:
                failed.set_result(f"{message} (IBKR {code})")

        ib.errorEvent += on_error
        try:
            answer = ib.wrapper.startReq(req_id, contract)
            ib.client.placeOrder(req_id, contract, what_if)
            done, _ = await asyncio.wait(
                {answer, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if failed in done:
                raise IBKRError(f"TWS refused the preview: {failed.result()}")
            if answer not in done:
                raise TimeoutError(f"TWS did not answer the preview within {timeout:g} s")
            state = answer.result()
            if not state or isinstance(state, list):
                raise IBKRError("TWS refused the preview (no what-if answer)")
            return state
        finally:
            ib.errorEvent -= on_error
            if not failed.done():
                failed.cancel()

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
            rec = self._by_key.get(key)
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
        if not _matches(record, ticket.normalized()):
            raise IdempotencyConflictError(key, record)
        return record

    def _place_once(
        self, ticket: OrderTicket, key: str, bound_to: OrderPreview | None
    ) -> OrderRecord:
        if bound_to is not None:
            self._check_binding(bound_to)
        self._require_trading(ticket.account)
        deadline = time.monotonic() + self._timeout()
        checked = self._check(ticket, deadline)
        if checked.issues:
            raise OrderValidationError(checked.issues)
        self._require_trading(checked.account or None)
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

    def _check_binding(self, preview: OrderPreview) -> None:
        status = self._conn.status()
        if not status.connected or status.session_id != preview.session_id:
            raise StalePreviewError(
                "The IBKR connection changed since the preview (a reconnect or another "
                "gateway / account): nothing was sent. Preview the order again."
            )
        if preview.account and preview.account not in status.accounts:
            raise StalePreviewError(
                f"Account {preview.account} of the preview is not this connection's "
                f"({', '.join(status.accounts)}): nothing was sent. Preview again."
            )
        if self.trading_status(preview.account or None).is_paper != preview.is_paper:
            raise StalePreviewError(
                "The account changed between paper and live since the preview: nothing was "
                "sent. Preview the order again."
            )

    def _build_order(self, checked: _Checked, key: str | None) -> Order:
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
            rec = self._by_key.get(key)
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
                return self._absorb(trade).snapshot()
        if not ib.isConnected():
            raise NotConnectedError()
        trade = ib.placeOrder(contract, order)
        rec = self._absorb(trade, key=key)
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
            rec = self._find(order_id)
        return self._cancel(rec, order_id, wait)

    def cancel_record(self, record_id: str, wait: float = 2.0) -> OrderRecord:
        """``cancel`` by ``OrderRecord.record_id`` (unique, unlike order ids across
        gateway sessions)."""
        with self._lock:
            rec = self._by_record_id(record_id)
        return self._cancel(rec, 0, wait)

    def _cancel(self, rec: _Rec | None, order_id: int, wait: float) -> OrderRecord:
        self._require_trading((rec.account if rec else None) or None)
        if rec is None:
            raise OrderNotFoundError(order_id)
        with self._lock:
            if rec.status in DONE_STATUSES:
                return rec.snapshot()
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
        with self._lock:
            rec = self._find(order_id)
            return rec.snapshot() if rec else None

    def order_by_record(self, record_id: str) -> OrderRecord | None:
        with self._lock:
            rec = self._by_record_id(record_id)
            return rec.snapshot() if rec else None

    def _by_record_id(self, record_id: str) -> _Rec | None:
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

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._detach, timeout=5)

    # ------------------------------------------------------- loop-thread updates
    def _attach(self) -> None:
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

    def _detach(self) -> None:
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
        where = f"{st.host}:{st.port}"
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

    def _import_all(self) -> None:
        """Take in what TWS reported at connect: open / completed orders, executions."""
        ib = self._conn.ib
        try:
            for trade in ib.trades():
                self._absorb(trade, announce=False)
            for fill in ib.fills():
                self._add_fill(fill, announce=False)
        except Exception:  # an event handler must never break ib_async's loop
            log.exception("importing orders and fills failed")

    def _on_trade(self, trade: Trade) -> None:
        try:
            if trade.order.whatIf:
                return
            synthetic = bool(trade.log) and trade.log[-1].errorCode != 0
            self._absorb(trade, announce=not synthetic)
        except Exception:
            log.exception("order update failed")

    def _on_exec(self, trade: Trade, fill: Fill) -> None:
        try:
            self._absorb(trade, announce=False)
            self._add_fill(fill, announce=True)
        except Exception:
            log.exception("execution update failed")

    def _on_commission(self, trade: Trade, fill: Fill, _report: Any) -> None:
        try:
            self._add_fill(fill, announce=False)
        except Exception:
            log.exception("commission update failed")

    def _on_error(self, req_id: int, code: int, message: str, _contract: Any) -> None:
        if req_id is None or req_id <= 0 or 2100 <= code < 2200:
            return
        try:
            with self._lock:
                rec = self._by_oid.get((self._conn.session_id, self._client_id(), req_id))
                if rec is None:
                    return
                self._apply_error(rec, code, message)
        except Exception:
            log.exception("order error handling failed")

    def _apply_error(self, rec: _Rec, code: int, message: str) -> None:
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
        if code in NOTICE_CODES or code in CANCEL_FAILED_CODES:
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

    def _client_id(self) -> int | None:
        return self._conn.status().client_id

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

    def _find(self, order_id: int) -> _Rec | None:
        """The record of ``order_id``: this session's first, else the newest one."""
        rec = self._by_oid.get((self._conn.session_id, self._client_id(), order_id))
        if rec is None:
            current = [r for r in self._records if r.session_id == self._conn.session_id]
            rec = next((r for r in reversed(current) if r.order_id == order_id), None)
        if rec is None:
            rec = next((r for r in reversed(self._records) if r.order_id == order_id), None)
        return rec

    def _absorb(self, trade: Trade, key: str | None = None, announce: bool = True) -> _Rec:
        o, c = trade.order, trade.contract
        session = self._conn.session_id
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
        what = f"{verb} {rec.quantity:g} {rec.symbol} ({rec.order_type})"
        if rec.status == REJECTED:
            self._event("rejected", rec, f"{what} rejected: {message or rec.message or ''}")
        elif rec.status == UNKNOWN_TO_GATEWAY:
            self._event("unknown", rec, f"{what}: unknown to the gateway. {rec.message or ''}")
        elif rec.status in CANCELLED_STATUSES:
            self._event("cancelled", rec, f"{what} cancelled")
        else:
            self._event("inactive", rec, f"{what} is inactive: {rec.message or ''}".strip())

    def _add_fill(self, fill: Fill, announce: bool) -> None:
        e, c, report = fill.execution, fill.contract, fill.commissionReport
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
            )
            if existing is not None and record.commission is None:
                record = replace(
                    record, commission=existing.commission, realized_pnl=existing.realized_pnl
                )
            self._fills[e.execId] = record
            if announce and existing is None:
                rec = self._lookup(self._conn.session_id, e.clientId, e.orderId, e.permId)
                verb = "Bought" if record.side == "BUY" else "Sold"
                text = f"{verb} {record.shares:g} {record.symbol} at {_fmt_price(record.price)}"
                self._event("fill", rec, text, order_id=e.orderId, symbol=record.symbol)

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
