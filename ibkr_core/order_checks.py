"""What a ticket needs from IBKR before anything is sent: the trading lock, the checks
against IBKR (instrument, min tick, order value in the account's base currency) and the
preview model TWS's what-if answer is turned into.

A ticket's symbol is looked up with ``contracts.Resolver`` (every IBKR match: any type,
exchange, currency); more than one match needs the ticket's ``con_id``
(``AmbiguousSymbolError`` as a ``con_id`` issue), and a held position gives its own conId
(``positions()``). The order value (quantity x price x multiplier, in the instrument's
currency) is converted to the account's base currency with the account's own IBKR
ExchangeRate (``order_value``) before it is held against ``max_order_value``; no rate ->
refused, never guessed. The checks that need no IBKR are ``order_ticket``'s.

Nothing here sends an order: ``OrderChecker`` only looks things up (contract details, a
quote for MKT orders, account values, positions). The what-if order itself leaves from
``orders.OrderService.preview``, like every other order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ibkr_core.connection_errors import (
    IBKRError,
    NotConnectedError,
    UnknownSymbolError,
    account_is_paper,
    live_accounts,
)
from ibkr_core.contracts import SEC_TYPE_NAMES, Instrument, Resolver, instrument_of
from ibkr_core.holdings import value_factor
from ibkr_core.instruments import PRICED_IN_PERCENT_OF_PAR
from ibkr_core.order_ticket import (
    ACTIONS,
    NEEDS_LIMIT,
    OrderTicket,
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

if TYPE_CHECKING:
    from ib_async import IB, Contract

    from ibkr_core.connection import IBKRConnection

__all__ = [
    "NOT_CONNECTED_REASON",
    "AmbiguousSymbolError",
    "CheckedTicket",
    "HeldPosition",
    "OrderChecker",
    "OrderPreview",
    "StalePreviewError",
    "TradingLockedError",
    "TradingStatus",
]

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


# ---------------------------------------------------------------- what was found
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
class CheckedTicket:
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


# ------------------------------------------------------------------------ checker
class OrderChecker:
    """The checks against IBKR that ``OrderService`` runs before previewing or placing,
    and the lookups a ticket starts from (instruments, held positions, base currency)."""

    def __init__(self, connection: IBKRConnection, settings: Settings, contracts: Resolver) -> None:
        self._conn = connection
        self.settings = settings
        self._contracts = contracts

    def _timeout(self) -> float:
        return float(self.settings.request_timeout)

    # -------------------------------------------------------------- trading lock
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

    def require_trading(self, account: str | None = None) -> None:
        status = self.trading_status(account)
        if not status.allowed:
            raise TradingLockedError(status)

    def check_binding(self, preview: OrderPreview) -> None:
        """Raises ``StalePreviewError`` unless ``preview`` was made in this connection
        session, for one of its accounts, and that account is still paper / live as it was."""
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

    # ---------------------------------------------------------------- validation
    def check(self, ticket: OrderTicket, deadline: float) -> CheckedTicket:
        """Every problem with ``ticket`` and what the lookups found (instrument, account,
        price, order value). Sends nothing except lookups (contract details, a quote for
        MKT orders)."""
        t = ticket.normalized()
        issues, prices = ticket_issues(t)
        checked = CheckedTicket(t, issues)
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
        self, checked: CheckedTicket, qty: float | None, prices: dict[str, float], deadline: float
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

    # ------------------------------------------------------------------- lookups
    def instruments(self, symbol: str) -> list[Instrument]:
        """Every instrument IBKR lists for ``symbol`` (the trader's choices).
        Raises ``UnknownSymbolError``, ``NotConnectedError``, ``TimeoutError``."""
        timeout = self._timeout()
        return self._conn.run(self._contracts.matches(symbol, timeout), timeout + 0.5)

    def instrument(self, con_id: int) -> Instrument:
        """The instrument with IBKR's ``con_id`` (e.g. a held position's)."""
        timeout = self._timeout()
        return self._conn.run(self._contracts.by_con_id(con_id, timeout), timeout + 0.5)

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

    # ------------------------------------------------------------------- preview
    def preview_of(
        self, checked: CheckedTicket, state: Any, session: int, timeout: float
    ) -> OrderPreview:
        """The ``OrderPreview`` of ``checked`` from TWS's what-if ``state`` (its
        ``OrderState``), bound to ``session`` and the account's paper / live kind."""
        t = checked.ticket
        position = self._conn.run(
            lambda ib: _position(ib, checked.account, checked.contract), timeout=timeout
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
