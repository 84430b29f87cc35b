"""Orders across gateway restarts / switches, previews bound to their session, and the
ticket checks a hostile tester broke (issue 14). Simulator + real ib_async."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.test_orders import connect_to, sim_orders

pytestmark = pytest.mark.timeout(40)


@pytest.fixture
def gateway_config():
    from ibkr_core.simulator import SimConfig

    return SimConfig(tick_interval=3600.0)


def restart(gw, config):
    """Kill the gateway and start a fresh one (empty order book) on the same port."""
    from ibkr_core.simulator import start_in_background

    port = gw.port
    gw.stop()
    return start_in_background(seed=1, port=port, config=config)


# ------------------------------------------------------------ gateway restart / switch
def test_gateway_restart_marks_old_orders_unknown_and_the_next_order_is_its_own(
    gateway, gateway_config, connection, orders
):
    from ibkr_core.orders import UNKNOWN_TO_GATEWAY, OrderTicket

    old = orders.place(OrderTicket("SPY", "BUY", 2, "LMT", 1.00), "before-restart")
    assert wait_for(lambda: orders.order(old.order_id).status == "Submitted", 3)
    cursor = orders.latest_cursor()
    first_session = connection.status().session_id
    fresh = restart(gateway, gateway_config)
    try:
        assert wait_for(
            lambda: (
                connection.status().connected and connection.status().session_id != first_session
            ),
            10,
        )
        gone = wait_for(
            lambda: (r := orders.order_by_record(old.record_id)).status == UNKNOWN_TO_GATEWAY and r,
            6,
        )
        assert gone, orders.order_by_record(old.record_id)
        assert "no longer reports this order" in gone.message
        assert orders.open_orders() == []  # never "Submitted" forever
        events, _ = orders.events_since(cursor)
        assert [e.kind for e in events] == ["unknown"]
        assert "unknown to the gateway" in events[0].message

        new = orders.place(OrderTicket("AAPL", "BUY", 1, "LMT", 1.00), "after-restart")
        assert wait_for(lambda: orders.order_by_record(new.record_id).status == "Submitted", 3)
        assert new.record_id != old.record_id
        again = orders.order_by_record(new.record_id)
        assert (again.symbol, again.quantity) == ("AAPL", 1)
        assert orders.order_by_record(old.record_id).symbol == "SPY"
        working = orders.open_orders()
        assert [r.record_id for r in working] == [new.record_id]  # no PendingSubmit twin
        assert len({r.record_id for r in orders.recent_orders()}) == 2
        assert wait_for(lambda: len(sim_orders(fresh)) == 1, 3)
        # the old record can't cancel the new gateway's order with the same id
        assert orders.cancel_record(old.record_id).status == UNKNOWN_TO_GATEWAY
        assert orders.order_by_record(new.record_id).status == "Submitted"
        assert orders.cancel_record(new.record_id).status == "Cancelled"
    finally:
        fresh.stop()


def test_switching_to_another_gateway_reconciles_too(gateway, connection, orders, loop_thread):
    from ibkr_core.orders import UNKNOWN_TO_GATEWAY, OrderTicket
    from ibkr_core.simulator import SimConfig, start_in_background

    old = orders.place(OrderTicket("MSFT", "SELL", 3, "LMT", 9000.00), "on-first")
    assert wait_for(lambda: orders.order(old.order_id).status == "Submitted", 3)
    other = start_in_background(seed=2, port=0, config=SimConfig(tick_interval=3600.0))
    try:
        assert connection.connect(other.host, other.port).connected
        assert wait_for(
            lambda: orders.order_by_record(old.record_id).status == UNKNOWN_TO_GATEWAY, 6
        )
        assert orders.open_orders() == []
    finally:
        other.stop()


def test_a_plain_reconnect_keeps_the_order_working(gateway, connection, orders):
    from ibkr_core.connection import ConnectionState
    from ibkr_core.orders import OrderTicket

    record = orders.place(OrderTicket("SPY", "SELL", 2, "LMT", 900.00), "kept")
    assert wait_for(lambda: orders.order(record.order_id).status == "Submitted", 3)
    gateway.drop_all_clients()
    assert wait_for(lambda: connection.status().state == ConnectionState.RECONNECTING, 5)
    assert wait_for(lambda: connection.status().connected, 10)
    import time

    time.sleep(0.5)  # the reconcile has run
    kept = orders.order_by_record(record.record_id)
    assert kept.status == "Submitted" and kept.session_id == connection.status().session_id
    assert [r.record_id for r in orders.open_orders()] == [record.record_id]


# ------------------------------------------------------------- a preview is bound
def test_preview_after_a_reconnect_sends_nothing(gateway, connection, orders):
    from ibkr_core import order_flow
    from ibkr_core.orders import OrderTicket, StalePreviewError

    ticket = OrderTicket("AAPL", "BUY", 1, "LMT", 1.00)
    pending = order_flow.start(orders, ticket)
    assert order_flow.stale_reason(orders, pending, ticket) is None
    gateway.drop_all_clients()
    old = pending.preview.session_id
    assert wait_for(lambda: connection.status().connected and connection.status().session_id > old)
    assert "connection changed" in order_flow.stale_reason(orders, pending, ticket)
    with pytest.raises(StalePreviewError, match="Nothing was sent"):
        order_flow.confirm(orders, pending, ticket)
    # even straight through the service, the binding is checked
    with pytest.raises(StalePreviewError):
        orders.place(ticket, pending.key, bound_to=pending.preview)
    assert sim_orders(gateway) == []
    fresh = order_flow.start(orders, ticket)
    record = order_flow.confirm(orders, fresh, ticket)
    assert order_flow.confirm(orders, fresh, ticket).record_id == record.record_id
    assert wait_for(lambda: len(sim_orders(gateway)) == 1, 3)


def test_a_paper_preview_never_reaches_a_live_account(gateway, loop_thread):
    """Preview on paper, then the shared connection moves to a LIVE account with live
    trading enabled: the old preview's confirm is refused, nothing reaches either."""
    from ibkr_core import order_flow
    from ibkr_core.orders import OrderService, OrderTicket, StalePreviewError
    from ibkr_core.simulator import SimConfig, start_in_background

    live = start_in_background(
        seed=1, port=0, config=SimConfig(account_id="U7654321", tick_interval=3600.0)
    )
    conn = connect_to(gateway, loop_thread, live_trading_enabled=True)
    service = OrderService(conn, conn.settings)
    try:
        ticket = OrderTicket("AAPL", "BUY", 1, "LMT", 1.00)
        pending = order_flow.start(service, ticket)
        assert pending.preview.is_paper is True and pending.preview.account.startswith("DU")
        assert conn.connect(live.host, live.port).connected
        assert service.trading_status().allowed and service.trading_status().is_paper is False
        assert order_flow.stale_reason(service, pending, ticket)
        with pytest.raises(StalePreviewError):
            order_flow.confirm(service, pending, ticket)
        assert sim_orders(live) == [] and sim_orders(gateway) == []
    finally:
        service.close()
        conn.close()
        live.stop()


def test_an_old_preview_expires(orders, gateway):
    from ibkr_core import order_flow
    from ibkr_core.orders import OrderTicket, StalePreviewError

    ticket = OrderTicket("AAPL", "BUY", 1, "LMT", 1.00)
    pending = order_flow.start(orders, ticket, valid_for=0.0)
    assert "older than" in order_flow.stale_reason(orders, pending, ticket)
    with pytest.raises(StalePreviewError):
        order_flow.confirm(orders, pending, ticket)
    assert sim_orders(gateway) == []


# ------------------------------------------------------------------ ticket checks
def test_same_key_with_another_ticket_is_a_conflict(gateway, orders):
    from ibkr_core.orders import IdempotencyConflictError, OrderTicket

    first = orders.place(OrderTicket("AAPL", "BUY", 1, "LMT", 1.00), "one-key")
    same = orders.place(OrderTicket("aapl", "BUY", 1, "LMT", 1.0), "one-key")
    assert same.record_id == first.record_id
    with pytest.raises(IdempotencyConflictError, match="already used for order"):
        orders.place(OrderTicket("MSFT", "BUY", 100, "LMT", 1.00), "one-key")
    assert wait_for(lambda: len(sim_orders(gateway)) == 1, 3)
    assert len(sim_orders(gateway)) == 1


@pytest.mark.parametrize(
    ("price", "words"),
    [
        (1e308, "too large: at most 1,000,000"),
        (float("inf"), "too large"),
        (2_000_000.0, "too large"),
        (float("nan"), "must be a number"),
    ],
)
def test_an_absurd_limit_price_says_so(orders, price, words):
    from ibkr_core.orders import OrderTicket

    issues = orders.validate(OrderTicket("AAPL", "BUY", 1, "LMT", price))
    assert [(i.field, words in i.message) for i in issues] == [("limit_price", True)], issues
    assert "needs a limit price" not in issues[0].message


def test_selling_more_than_the_position_warns_at_preview(gateway, orders):
    from ibkr_core.orders import OrderTicket

    # the demo account holds 100 AAPL, no TSLA
    preview = orders.preview(OrderTicket("AAPL", "SELL", 300))
    assert preview.position == 100
    assert preview.short_warning.startswith("You hold 100 AAPL: selling 300 opens a short")
    assert "200 shares" in preview.short_warning
    assert orders.preview(OrderTicket("AAPL", "SELL", 100)).short_warning == ""
    assert "hold no TSLA" in orders.preview(OrderTicket("TSLA", "SELL", 1)).short_warning
    assert orders.preview(OrderTicket("TSLA", "BUY", 1)).short_warning == ""


def test_the_nightly_restart_keeps_working_orders_as_they_are(gateway, connection, orders):
    """Sockets reset, the gateway (and its book) stays: the order is the same record."""
    from ibkr_core.orders import OrderTicket

    record = orders.place(OrderTicket("NVDA", "BUY", 4, "LMT", 1.00), "overnight")
    assert wait_for(lambda: orders.order(record.order_id).status == "Submitted", 3)
    session = connection.status().session_id
    gateway.nightly_restart(0.5)
    assert wait_for(
        lambda: connection.status().connected and connection.status().session_id > session, 15
    )
    assert wait_for(
        lambda: (
            orders.order_by_record(record.record_id).session_id == connection.status().session_id
        ),
        5,
    )
    kept = orders.order_by_record(record.record_id)
    assert kept.status == "Submitted" and kept.symbol == "NVDA"
    assert [r.record_id for r in orders.open_orders()] == [record.record_id]
    assert orders.cancel_record(record.record_id).status == "Cancelled"
