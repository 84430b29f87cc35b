"""Several accounts and everyone's orders (issue 10), with the real ib_async against the
simulator: an advisor login's order goes to the chosen account; orders of other API
clients sharing our order id never get mixed with ours, and cancelling them says why
it can't, with TWS's global cancel as the way out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ib_async import IB, LimitOrder, Stock

from ibkr_core.simulator import SimConfig
from tests.conftest import wait_for
from tests.sim_support import sim_orders

pytestmark = pytest.mark.timeout(40)

ACCOUNTS = ("DU1234567", "DU1234568", "DU1234569")
SAP_IBIS = 14204


@pytest.fixture
def gateway_config():
    return SimConfig(tick_interval=3600.0, profile="advisor")


def test_advisor_order_needs_an_account_and_goes_to_the_chosen_one(orders, gateway):
    from ibkr_core.orders import OrderTicket

    assert orders.connection_status().accounts == ACCOUNTS
    issues = orders.validate(OrderTicket("SAP", "SELL", 5, con_id=SAP_IBIS))
    assert [i.field for i in issues] == ["account"] and "Choose an account" in issues[0].message
    held = [p for p in orders.positions() if p.con_id == SAP_IBIS]
    assert [(p.account, p.quantity) for p in held] == [("DU1234568", 80)]
    ticket = OrderTicket("SAP", "SELL", 5, con_id=SAP_IBIS, account="DU1234568")
    preview = orders.preview(ticket)
    assert preview.account == "DU1234568" and preview.position == 80
    assert preview.base_currency == "EUR" and preview.currency == "EUR"
    record = orders.place(ticket, "advisor-sap")
    assert record.account == "DU1234568"
    sent = wait_for(lambda: sim_orders(gateway), 5)
    assert [(o.account, o.instrument.con_id) for o in sent] == [("DU1234568", SAP_IBIS)]


def test_an_order_for_an_account_without_the_holding_warns_of_a_short(orders, gateway):
    from ibkr_core.orders import OrderTicket

    spy = next(p for p in orders.positions() if p.symbol == "SPY")
    assert spy.account == "DU1234568"
    ticket = OrderTicket("SPY", "SELL", 5, con_id=spy.con_id, account="DU1234567")
    preview = orders.preview(ticket)
    assert preview.account == "DU1234567" and preview.position == 0
    assert "opens a short" in preview.short_warning
    assert sim_orders(gateway) == []


def test_a_currency_the_account_has_no_rate_for_is_refused_not_guessed(orders, gateway):
    """DU1234567 (USD, US stocks only) has no EUR rate from IBKR: a SAP order can't be
    checked against the cap in USD, so it is refused with the reason."""
    from ibkr_core.orders import OrderTicket

    issues = orders.validate(OrderTicket("SAP", "BUY", 5, con_id=SAP_IBIS, account="DU1234567"))
    assert [i.field for i in issues] == ["quantity"]
    assert any("no EUR→USD exchange rate" in i.message for i in issues)
    assert sim_orders(gateway) == []


@pytest.fixture
def other(gateway, loop_thread) -> Iterator[IB]:
    """Another API client (client id 11) of the same login."""

    async def connect() -> IB:
        ib = IB()
        await ib.connectAsync(gateway.host, gateway.port, clientId=11, timeout=5)
        return ib

    ib = loop_thread.run(connect(), timeout=10)
    try:
        yield ib
    finally:
        loop_thread.call(ib.disconnect, timeout=5)


def sim_status(gw, client_id: int, order_id: int) -> str:
    return next(
        (o.status for o in sim_orders(gw) if (o.client_id, o.order_id) == (client_id, order_id)),
        "",
    )


def test_orders_of_another_client_are_shown_and_cancel_says_why_with_global_cancel(
    orders, gateway, other, loop_thread
):
    from ibkr_core.orders import CannotCancelError, OrderTicket

    account = ACCOUNTS[0]
    ours = orders.place(
        OrderTicket("JPM", "BUY", 1, "LMT", limit_price=100.0, account=account), "ours"
    )
    # The same order id as ours: TWS keys orders by (client id, order id).
    theirs = LimitOrder("BUY", 2, 100.0, orderId=ours.order_id, account=account)
    msft = Stock("MSFT", "SMART", "USD")

    async def place_theirs():
        await other.qualifyContractsAsync(msft)
        other.placeOrder(msft, theirs)

    loop_thread.run(place_theirs(), timeout=5)
    wait_for(lambda: sim_status(gateway, 11, theirs.orderId) == "Submitted", 5)
    orders.refresh()
    wait_for(lambda: len(orders.open_orders()) == 2, 5)
    working = orders.open_orders()
    by_symbol = {r.symbol: r for r in working}
    assert by_symbol["JPM"].own and by_symbol["JPM"].origin == "this dashboard"
    other_rec = by_symbol["MSFT"]
    assert not other_rec.own and other_rec.origin == "API client 11"
    assert other_rec.order_id == ours.order_id and other_rec.perm_id != ours.perm_id
    assert other_rec.quantity == 2 and by_symbol["JPM"].quantity == 1  # never merged
    with pytest.raises(CannotCancelError, match=r"placed by API client 11.*Global cancel"):
        orders.cancel_record(other_rec.record_id)
    assert sim_status(gateway, 11, theirs.orderId) == "Submitted"
    done = orders.cancel(ours.order_id)  # by order id: ours, never theirs
    assert done.status == "Cancelled" and done.symbol == "JPM"
    assert sim_status(gateway, 7, ours.order_id) == "Cancelled"
    assert sim_status(gateway, 11, theirs.orderId) == "Submitted"
    orders.global_cancel()
    wait_for(lambda: sim_status(gateway, 11, theirs.orderId) == "Cancelled", 5)
