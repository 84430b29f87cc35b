"""Who sees and may touch which order: routing the matching engine's events to sessions.

TWS's rules, as IBKR's API documentation states them ("Open Orders", "Executions"):
- a client sees the orders it placed; `reqAllOpenOrders` lists every open order, of any
  client and those entered in TWS by hand;
- orders entered in TWS carry order id 0 until they are bound to client 0: binding happens
  on `reqAutoOpenOrders(True)` (then new TWS orders are pushed to it as they change) or on
  `reqOpenOrders` from client 0, and gives each order a negative id;
- only the client that placed an order (client 0 for bound TWS orders) may cancel it by
  id: any other client gets 10147 ("not found"); `reqGlobalCancel` cancels every open
  order, whoever placed it;
- executions (pushed and `reqExecutions`) go to the client that placed the order, client
  0 for bound TWS orders, and the master client id when one is set.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import messages as msg
from .matching import (
    Event,
    ExecutionEvent,
    OrderErrorEvent,
    OrderStatusEvent,
    Rejection,
    SimOrder,
    WhatIfEvent,
    WhatIfResult,
)
from .notices import TEXT_NO_ALLOCATION
from .requests import ContractSpec, OrderRequest
from .universe import Instrument

if TYPE_CHECKING:
    from .gateway import SimulatedGateway
    from .session import ClientSession

log = logging.getLogger(__name__)


class OrderDesk:
    """Places, cancels and lists orders for sessions, and sends each order event to the
    sessions allowed to see it. Runs on the gateway's loop."""

    def __init__(self, gateway: SimulatedGateway) -> None:
        self.gw = gateway
        self.master_client_id: int | None = None  # TWS setting "Master API client ID"
        self._next_bound_id = -1

    # --- who sees what ------------------------------------------------------------------

    def _owners(self, order: SimOrder) -> list[ClientSession]:
        if order.entered_in_tws:
            return [s for s in self.gw.sessions if s.client_id == 0 and order.order_id < 0]
        return [s for s in self.gw.sessions if s.client_id == order.client_id]

    def _execution_receivers(self, order: SimOrder) -> list[ClientSession]:
        sessions = self._owners(order)
        master = self.master_client_id
        if master is not None:
            sessions += [s for s in self.gw.sessions if s.client_id == master and s not in sessions]
        return sessions

    def sees_execution(self, session: ClientSession, order: SimOrder) -> bool:
        return session in self._execution_receivers(order)

    def _bind_tws_orders(self) -> None:
        for order in self.gw.engine.open_orders():
            if order.entered_in_tws and order.order_id == 0:
                order.order_id = self._next_bound_id
                self._next_bound_id -= 1

    def _find_for(self, session: ClientSession, order_id: int) -> SimOrder | None:
        order = self.gw.engine.order(order_id, session.client_id)
        if order is None and session.client_id == 0 and order_id < 0:
            order = next((o for o in self.gw.engine.open_orders() if o.order_id == order_id), None)
        return order

    # --- requests -----------------------------------------------------------------------

    def place(self, session: ClientSession, request: OrderRequest) -> None:
        inst = self.gw.resolve_one(request.contract)
        accounts = self.gw.accounts
        if not request.account and len(accounts) > 1:  # what-if too
            session.error(request.order_id, 436, TEXT_NO_ALLOCATION)
            return
        account_id = request.account or self.gw.account.account_id
        if request.account and request.account not in accounts:
            session.error(
                request.order_id,
                321,
                "Error validating request:-'bN' : cause - "
                f"The account code {request.account} is not valid",
            )
            return
        order = SimOrder(
            order_id=request.order_id,
            client_id=session.client_id or 0,
            instrument=inst,
            action=request.action.upper(),
            total_qty=request.total_quantity,
            order_type=request.order_type.upper(),
            lmt_price=request.lmt_price,
            aux_price=request.aux_price,
            tif=(request.tif or "DAY").upper(),
            account=account_id,
            what_if=request.what_if,
            order_ref=request.order_ref,
            parent_id=request.parent_id,
            oca_group=request.oca_group,
            oca_type=request.oca_type,
            transmit=request.transmit,
            outside_rth=request.outside_rth,
        )
        result = self.gw.engine.submit(order, self.gw.now())
        if isinstance(result, Rejection):
            session.error(result.order_id, result.code, result.message, result.advanced_reject_json)
            return
        self.gw.note_order_id(request.order_id)
        self.dispatch(result)

    def cancel(self, session: ClientSession, order_id: int) -> None:
        order = self._find_for(session, order_id)
        if order is None:
            # Unknown, or another client's: TWS does not find it for this client.
            session.error(
                order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."
            )
            return
        result = self.gw.engine.cancel(order, self.gw.now())
        if isinstance(result, Rejection):
            session.error(order_id, result.code, result.message)
            return
        self.dispatch(result)

    def cancel_all(self) -> None:
        """reqGlobalCancel: every open order, of every client and entered in TWS."""
        for order in list(self.gw.engine.open_orders()):
            result = self.gw.engine.cancel(order, self.gw.now())
            if not isinstance(result, Rejection):
                self.dispatch(result)

    def send_open_orders(self, session: ClientSession, scope: str) -> None:
        """reqOpenOrders ("mine"), reqAllOpenOrders ("all"); then openOrderEnd."""
        if scope == "mine" and session.client_id == 0:
            self._bind_tws_orders()
        for order in self.gw.engine.open_orders():
            if scope == "all" or session in self._owners(order):
                session.send_order_update(order.snapshot())
        session.send(msg.open_order_end())

    def auto_open_orders(self, session: ClientSession, auto_bind: bool) -> None:
        """reqAutoOpenOrders: only client 0 can bind TWS orders."""
        if session.client_id != 0:
            log.info("client %s: reqAutoOpenOrders is for client 0 only", session.client_id)
            return
        session.auto_open_orders = auto_bind
        if auto_bind:
            self._bind_tws_orders()

    # --- orders entered in TWS (a fault control) ------------------------------------

    def enter_in_tws(
        self,
        symbol: str,
        action: str,
        quantity: float,
        order_type: str = "LMT",
        lmt_price: float | None = None,
        aux_price: float | None = None,
        tif: str = "DAY",
    ) -> int:
        """An order typed into TWS by hand: order id 0 (negative once bound to client 0),
        client id 0. Returns its permId. Raises ValueError with TWS's text if refused."""
        inst = self.gw.resolve_one(ContractSpec(symbol=symbol)) or self.gw.resolve_one(
            ContractSpec(local_symbol=symbol)
        )
        order = SimOrder(
            order_id=0,
            client_id=0,
            instrument=inst,
            action=action.upper(),
            total_qty=quantity,
            order_type=order_type.upper(),
            lmt_price=msg.UNSET_DOUBLE if lmt_price is None else lmt_price,
            aux_price=msg.UNSET_DOUBLE if aux_price is None else aux_price,
            tif=tif.upper(),
            account=self.gw.account.account_id,
            entered_in_tws=True,
        )
        if any(s.client_id == 0 and s.auto_open_orders for s in self.gw.sessions):
            order.order_id = self._next_bound_id
            self._next_bound_id -= 1
        result = self.gw.engine.submit(order, self.gw.now())
        if isinstance(result, Rejection):
            raise ValueError(f"{result.code}: {result.message}")
        self.dispatch(result)
        return order.perm_id

    # --- events -------------------------------------------------------------------------

    def dispatch(self, events: list[Event]) -> None:
        """Send each event to the sessions that may see it; fills also refresh positions
        and the account window."""
        filled: list[tuple[Instrument, str]] = []
        for event in events:
            if isinstance(event, WhatIfEvent):
                for owner in self._owners(event.order):
                    owner.send(
                        msg.open_order(owner.server_version, self.view(event.order, event.result))
                    )
            elif isinstance(event, OrderStatusEvent):
                for owner in self._owners(event.order):
                    owner.send_order_update(event.state, event.open_order)
            elif isinstance(event, ExecutionEvent):
                for session in self._execution_receivers(event.order):
                    session.send_execution(-1, event.order, event.execution)
                    session.send_commission(event.commission)
                filled.append((event.execution.instrument, event.order.account))
            elif isinstance(event, OrderErrorEvent):
                for owner in self._owners(event.order):
                    owner.error(event.order.order_id, event.code, event.message)
        for inst, account in filled:
            for session in self.gw.sessions:
                if session.positions_subscribed:
                    session.send_position(inst, account)
        if filled:
            self.gw.refresh_account_windows()

    def view(self, order: SimOrder, what_if: WhatIfResult | None = None) -> msg.OpenOrderView:
        """OPEN_ORDER's view of `order` (a snapshot), with what-if margins if given."""
        margin: tuple[str, ...] = ("",) * 9
        commission = min_c = max_c = None
        currency = warning = ""
        status = order.status
        if what_if is not None:
            margin = tuple(
                f"{v:.2f}"
                for v in (
                    what_if.init_margin_before,
                    what_if.maint_margin_before,
                    what_if.equity_with_loan_before,
                    what_if.init_margin_change,
                    what_if.maint_margin_change,
                    what_if.equity_with_loan_change,
                    what_if.init_margin_after,
                    what_if.maint_margin_after,
                    what_if.equity_with_loan_after,
                )
            )
            commission, min_c, max_c = (
                what_if.commission,
                what_if.min_commission,
                what_if.max_commission,
            )
            currency = what_if.commission_currency
            warning = what_if.warning_text
            status = what_if.status
        assert order.instrument is not None
        bracket = bool(order.parent_id)
        return msg.OpenOrderView(
            order_id=order.order_id,
            instrument=order.instrument,
            action=order.action,
            total_qty=order.total_qty,
            order_type=order.order_type,
            lmt_price=order.lmt_price,
            aux_price=order.aux_price,
            tif=order.tif,
            account=order.account,
            order_ref=order.order_ref,
            client_id=order.client_id,
            perm_id=order.perm_id,
            status=status,
            what_if=order.what_if,
            parent_id=order.parent_id,
            oca_group=order.oca_group,
            # TWS makes a bracket's children one group, "cancel with block" (type 1).
            oca_type=order.oca_type or (1 if bracket else 3),
            outside_rth=order.outside_rth,
            margin_fields=margin,
            commission=commission,
            min_commission=min_c,
            max_commission=max_c,
            commission_currency=currency,
            warning_text=warning,
        )
