"""Order entry: the IBKR-side ticket checks, what-if preview, placement once per
idempotency key, cancel, and the wiring of ib_async's order events into the book.

Orders reach the instrument the trader means: a ticket's symbol is looked up with
``contracts.Resolver`` (every IBKR match: any type, exchange, currency); more than one
match needs the ticket's ``con_id`` (``AmbiguousSymbolError`` as a ``con_id`` issue),
and a held position gives its own conId (``positions()``). The order value (quantity x
price x multiplier, in the instrument's currency) is converted to the account's base
currency with the account's own IBKR ExchangeRate (``order_value``) before it is held
against ``max_order_value``; no rate -> refused, never guessed.

The pieces live next door: ``order_ticket`` (the ticket and the checks that need no
IBKR), ``order_book`` (records per gateway session, fills, the event feed),
``order_flow`` (preview -> confirm exactly once, bound to session and account).
``OrderService`` re-exports their public names. Reads are non-blocking snapshots;
sending methods are bounded by the settings' request timeout. After every (re)connect
the service reconciles with the gateway (``reqAllOpenOrders``, executions); orders it no
longer reports become "Unknown to the gateway".

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
import concurrent.futures
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ib_async import Contract, Order

from ibkr_core import ib_requests
from ibkr_core.connection_errors import (
    IBKRError,
    NotConnectedError,
    UnknownSymbolError,
    account_is_paper,
    live_accounts,
)
from ibkr_core.contracts import SEC_TYPE_NAMES, Instrument, Resolver, instrument_of
from ibkr_core.holdings import PRICED_IN_PERCENT_OF_PAR, value_factor
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
from ibkr_core.order_ticket import (
    ACTIONS,
    NEEDS_LIMIT,
    NEEDS_STOP,
    OrderTicket,
    OrderValidationError,
    ValidationIssue,
    fmt_price,
    off_tick,
    short_warning,
    ticket_issues,
)
from ibkr_core.order_value import AccountRates, account_rates
from ibkr_core.quote import num
from ibkr_core.settings import Settings
from ibkr_core.symbols import normalize_symbol
from ibkr_core.tws_codes import ORDER_NOTICE_CODES, WARNING_CODES

if TYPE_CHECKING:
    from ib_async import IB, Fill, Trade

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = [
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

RECONCILE_TIMEOUT = 3.0  # s for reqAllOpenOrders after a (re)connect

NOT_CONNECTED_REASON = "Connect to TWS / IB Gateway to trade"


# ---------------------------------------------------------------------------- models
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
    order_value: float | None  # quantity x estimated price x multiplier, in ``currency``
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
    instrument: Instrument | None = None  # what the order is for (conId, type, exchange...)
    currency: str = ""  # the instrument's: order value and prices are in it
    order_value_base: float | None = None  # order value in the account's base currency
    base_currency: str = ""
    max_order_value: float | None = None  # the per-order limit, in ``base_currency``
    # money per unit of price per unit of quantity: the multiplier; a bond's face / 100
    value_factor: float = 1.0


# ------------------------------------------------------------------------- errors
class TradingLockedError(IBKRError):
    """Trading is not allowed right now (``str()`` says why)."""

    def __init__(self, status: TradingStatus) -> None:
        super().__init__(status.reason)
        self.status = status


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


class AmbiguousSymbolError(IBKRError):
    """The symbol matches several instruments: the trader picks one (``choices``)."""

    def __init__(self, symbol: str, choices: list[Instrument]) -> None:
        names = "; ".join(i.label for i in choices[:6])
        more = f" and {len(choices) - 6} more" if len(choices) > 6 else ""
        super().__init__(
            f"{symbol} matches {len(choices)} instruments ({names}{more}): choose which one."
        )
        self.symbol = symbol
        self.choices = choices


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


class StalePreviewError(IBKRError):
    """A confirm for a preview made in another connection session / account, or too old:
    nothing was sent (``str()`` says why)."""


# ------------------------------------------------------------------------ helpers
def _value_in_base(rates: AccountRates, value: float, currency: str) -> float | None:
    return rates.to_base(value, currency) if rates.base else None


def _position(ib: IB, account: str, contract: Contract | None) -> float:
    """(Loop thread.) The account's position in ``contract`` (0 when it holds none)."""
    if contract is None:
        return 0.0
    return sum(
        float(p.position) for p in ib.positions(account or "") if p.contract.conId == contract.conId
    )


@dataclass(frozen=True)
class HeldPosition:
    """A position an order can start from ("Close" / "Reduce"), with its own contract."""

    account: str
    con_id: int
    symbol: str
    sec_type: str
    description: str
    currency: str
    exchange: str
    multiplier: float
    quantity: float  # signed: negative is short

    @property
    def label(self) -> str:
        side = "short " if self.quantity < 0 else ""
        parts = [self.description, SEC_TYPE_NAMES.get(self.sec_type, self.sec_type)]
        if self.currency not in self.description.split(" · "):
            parts.append(self.currency)
        return f"{' · '.join(parts)} — {side}{abs(self.quantity):g} ({self.account})"

    @property
    def key(self) -> str:
        """Unique per login: the same contract can be held in several accounts."""
        return f"{self.account}:{self.con_id}"

    @property
    def closing_action(self) -> str:
        return "SELL" if self.quantity > 0 else "BUY"


@dataclass
class _Checked:
    """What validation learned, for placing / previewing."""

    ticket: OrderTicket
    issues: list[ValidationIssue]
    contract: Contract | None = None
    instrument: Instrument | None = None
    account: str = ""
    price: float | None = None  # for the order value: limit / stop / quote
    value: float | None = None  # in the instrument's currency
    value_base: float | None = None
    base_currency: str = ""
    value_factor: float = 1.0  # see OrderPreview.value_factor


# ------------------------------------------------------------------------ service
class OrderService:
    def __init__(self, connection: IBKRConnection, settings: Settings | None = None) -> None:
        self._conn = connection
        self.settings = settings or connection.settings
        self._book = OrderBook(lambda: connection.session_id, self._client_id)
        self._lock = self._book.lock
        self._inflight: dict[str, concurrent.futures.Future[OrderRecord]] = {}
        self._contracts = Resolver(connection)
        connection.loop.call(self._attach, timeout=5)

    # -------------------------------------------------------------- trading lock
    def connection_status(self) -> ConnectionStatus:
        """The connection this service trades through (what previews are bound to)."""
        return self._conn.status()

    def _client_id(self) -> int | None:
        return self._conn.status().client_id

    def trading_status(self, account: str | None = None) -> TradingStatus:
        st = self._conn.status()
        if not st.connected:
            return TradingStatus(False, NOT_CONNECTED_REASON, None)
        accounts = (account,) if account else st.accounts
        live = live_accounts(accounts)
        is_paper = account_is_paper(accounts)
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
        issues, prices = ticket_issues(t)
        checked = _Checked(t, issues)
        qty = num(t.quantity)
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
        """(Loop thread.) Instrument, min tick and order value checks."""
        t, issues = checked.ticket, checked.issues

        def left() -> float:
            return max(0.05, deadline - time.monotonic())

        try:
            inst = await self._instrument(t, left())
        except AmbiguousSymbolError as exc:
            issues.append(ValidationIssue("con_id", str(exc)))
            return
        except UnknownSymbolError:
            what = f"contract {t.con_id}" if t.con_id else f"symbol {t.symbol}"
            issues.append(
                ValidationIssue("symbol", f"Unknown {what}: IBKR has no such instrument.")
            )
            return
        except TimeoutError:
            issues.append(
                ValidationIssue("symbol", f"IBKR did not answer about {t.symbol} in time. Retry.")
            )
            return
        if normalize_symbol(t.symbol) not in (
            normalize_symbol(inst.symbol),
            normalize_symbol(inst.local_symbol),
        ):
            issues.append(
                ValidationIssue(
                    "con_id",
                    f"Contract {inst.con_id} is {inst.label}, not {t.symbol}: nothing was sent.",
                )
            )
            return
        checked.instrument, checked.contract = inst, inst.contract
        tick = inst.min_tick
        for fld, value in prices.items():
            near = off_tick(value, tick) if tick else None
            if near:
                label = "limit price" if fld == "limit_price" else "stop price"
                issues.append(
                    ValidationIssue(
                        fld,
                        f"{inst.description} trades in steps of {tick:g}: a {label} of "
                        f"{value:g} is not allowed (use {fmt_price(near[0])} or "
                        f"{fmt_price(near[1])}).",
                    )
                )
        if any(i.field == "account" for i in issues):
            return  # the order value is checked in the account's currency, once it is known
        rates = account_rates(self._conn.ib.accountValues(), checked.account)
        checked.base_currency = rates.base
        limit = float(self.settings.max_order_value)
        limit_text = f"{limit:,.2f} {rates.base}".strip()
        if t.order_type in NEEDS_LIMIT:
            price = prices.get("limit_price")
        elif t.order_type == "STP":
            price = prices.get("stop_price")
        elif t.order_type == "MKT" and t.action in ACTIONS:
            price = await self._quote_price(inst, t.action, left())
            if price is None:
                issues.append(
                    ValidationIssue(
                        "quantity",
                        f"No current price for {inst.description}, so the order value can't "
                        f"be checked against the {limit_text} limit. Try again in a moment or "
                        "use a limit order.",
                    )
                )
        else:
            price = None
        checked.price = price
        if price is None or qty is None or qty <= 0:
            return
        factor = self._value_factor(inst)
        if factor is None:
            issues.append(
                ValidationIssue(
                    "quantity",
                    f"{inst.description} is priced in % of par and IBKR does not send its "
                    "face value per unit, so this order's value can't be checked against the "
                    f"{limit_text} limit: nothing was sent. (It is known once the account "
                    "holds the bond; enter this order in TWS.)",
                )
            )
            return
        checked.value_factor = factor
        checked.value = value = qty * price * factor
        checked.value_base = _value_in_base(rates, value, inst.currency)
        if checked.value_base is None:
            issues.append(
                ValidationIssue(
                    "quantity",
                    f"IBKR has sent no {inst.currency}→{rates.base or 'base currency'} exchange "
                    f"rate for account {checked.account or '(unknown)'}, so this "
                    f"{inst.currency} order can't be checked against the {limit_text} limit: "
                    "nothing was sent. (IBKR sends rates for the currencies an account holds; "
                    "right after connecting they may still be on their way.)",
                )
            )
        elif checked.value_base > limit:
            times = f"{qty:g} x {fmt_price(price)}"
            if factor != 1:
                times += f" x {factor:g}"
            converted = (
                "" if inst.currency == rates.base else f" = {checked.value_base:,.2f} {rates.base}"
            )
            issues.append(
                ValidationIssue(
                    "quantity",
                    f"Order value {value:,.2f} {inst.currency} ({times}){converted} is above "
                    f"the {limit_text} limit per order (max_order_value).",
                )
            )

    def _value_factor(self, inst: Instrument) -> float | None:
        """(Loop thread.) Money per unit of price for one unit of quantity: the multiplier,
        except for what IBKR prices in % of par (bonds, bills): IBKR sends no face value
        per unit, only a holding shows it (marketValue / (position x marketPrice)) -- a
        property of the instrument, so any account's holding in the window will do."""
        if inst.sec_type not in PRICED_IN_PERCENT_OF_PAR:
            return inst.multiplier
        for item in self._conn.ib.portfolio():
            if item.contract.conId == inst.con_id and item.position:
                return value_factor(item.contract, item)
        return None

    async def _instrument(self, t: OrderTicket, timeout: float) -> Instrument:
        """(Loop thread.) The ticket's instrument: its conId, or the symbol's only match."""
        if t.con_id:
            return await self._contracts.by_con_id(t.con_id, timeout)
        found = await self._contracts.matches(t.symbol, timeout)
        if len(found) > 1:
            raise AmbiguousSymbolError(t.symbol, found)
        return found[0]

    def instruments(self, symbol: str) -> list[Instrument]:
        """Every instrument IBKR lists for ``symbol`` (the trader's choices).
        Raises ``UnknownSymbolError``, ``NotConnectedError``, ``TimeoutError``."""
        timeout = self._timeout()
        return self._conn.run(self._contracts.matches(symbol, timeout), timeout + 0.5)

    def instrument(self, con_id: int) -> Instrument:
        """The instrument with IBKR's ``con_id`` (e.g. a held position's)."""
        timeout = self._timeout()
        return self._conn.run(self._contracts.by_con_id(con_id, timeout), timeout + 0.5)

    async def _quote_price(self, inst: Instrument, action: str, timeout: float) -> float | None:
        """(Loop thread.) The side the order would trade against, from a market data
        line for exactly this contract (conId), not for whatever shares its symbol."""
        ib = self._conn.ib
        deadline = time.monotonic() + timeout
        try:
            ticker = ib.reqMktData(inst.contract, "", False, False)
        except ConnectionError:
            return None
        try:
            while True:
                side = num(ticker.ask if action == "BUY" else ticker.bid)
                price = (side if side and side > 0 else None) or num(ticker.last)
                if price and price > 0:
                    return price
                if time.monotonic() >= deadline:
                    close = num(ticker.close)
                    return close if close and close > 0 else None
                await asyncio.sleep(0.05)
        finally:
            with contextlib.suppress(Exception):
                ib.cancelMktData(inst.contract)

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
        position = self._conn.run(
            lambda ib: _position(ib, checked.account, checked.contract), timeout=remaining + 0.5
        )
        return OrderPreview(
            symbol=t.symbol,
            action=t.action,
            quantity=float(t.quantity),
            order_type=t.order_type,
            estimated_price=checked.price,
            order_value=checked.value,
            value_factor=checked.value_factor,
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
            short_warning=short_warning(t, position),
            session_id=session,
            account=checked.account,
            is_paper=self.trading_status(checked.account or None).is_paper,
            instrument=checked.instrument,
            currency=checked.instrument.currency if checked.instrument else "",
            order_value_base=checked.value_base,
            base_currency=checked.base_currency,
            max_order_value=float(self.settings.max_order_value),
        )

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
        self._require_trading((rec.account if rec else None) or None)
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

    def base_currency(self, account: str | None = None) -> str:
        """The account's base currency as IBKR reports it ("" while unknown; with
        several accounts and none given, "" unless they all share one)."""
        if not self._conn.ib_ready():
            return ""
        accounts = [account] if account else list(self._conn.status().accounts)

        def read(ib: IB) -> set[str]:
            values = ib.accountValues()
            return {account_rates(values, a).base for a in accounts}

        bases = self._conn.run(read, timeout=self._timeout())
        return bases.pop() if len(bases) == 1 else ""

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

    def global_cancel(self) -> None:
        """TWS's Global Cancel (``reqGlobalCancel``): every open order of the login,
        whoever placed it (TWS, other API clients, this dashboard)."""
        self._require_trading()
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
    def positions(self, account: str | None = None) -> list[HeldPosition]:
        """The login's positions (one account's with ``account``), to start orders from,
        each with its own contract as IBKR details it (conId, listing, multiplier)."""
        if not self._conn.ib_ready():
            return []
        timeout = self._timeout()
        return self._conn.run(self._positions(account or "", timeout), timeout + 0.5)

    async def _positions(self, account: str, timeout: float) -> list[HeldPosition]:
        held = [p for p in self._conn.ib.positions(account) if p.contract.conId and p.position]

        async def instrument(c: Contract) -> Instrument:
            try:
                return await self._contracts.by_con_id(c.conId, timeout)
            except (IBKRError, TimeoutError):
                return instrument_of(c)  # as the position reported it

        found = await asyncio.gather(*(instrument(p.contract) for p in held))
        return [
            HeldPosition(
                account=p.account,
                con_id=inst.con_id,
                symbol=inst.symbol or inst.local_symbol,
                sec_type=inst.sec_type,
                description=inst.description,
                currency=inst.currency,
                exchange=inst.listing,
                multiplier=inst.multiplier,
                quantity=float(p.position),
            )
            for p, inst in zip(held, found, strict=True)
        ]

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
