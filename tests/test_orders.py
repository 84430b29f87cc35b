"""OrderService against the simulated gateway (real ib_async over a real socket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ibkr_core.contracts import create_contract
from tests.conftest import wait_for
from tests.sim_support import sim_orders

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def gateway_config():
    from ibkr_core.simulator import SimConfig

    return SimConfig(tick_interval=3600.0)  # still market: exact comparisons


def sim_cash(gw) -> float:
    return gw.call(lambda: gw.gateway.account.value(gw.gateway.market, "TotalCashValue"))


def connect_to(gw, loop_thread, **settings_overrides):
    from ibkr_core.connection import IBKRConnection
    from ibkr_core.settings import Settings

    settings = Settings(
        host=gw.host,
        port=gw.port,
        client_id=9,
        connect_timeout=4.0,
        request_timeout=4.0,
        **settings_overrides,
    )
    conn = IBKRConnection(settings, loop_thread, reconnect_initial_delay=0.1)
    assert conn.connect().connected
    return conn


# ------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("ticket", "field", "words"),
    [
        ({"symbol": "", "action": "BUY", "quantity": 1}, "symbol", "Enter a symbol"),
        ({"symbol": "NOPEZZ", "action": "BUY", "quantity": 1}, "symbol", "Unknown symbol NOPEZZ"),
        ({"symbol": "AAPL", "action": "HOLD", "quantity": 1}, "action", "Buy or Sell"),
        ({"symbol": "AAPL", "action": "BUY", "quantity": 0}, "quantity", "greater than 0"),
        ({"symbol": "AAPL", "action": "BUY", "quantity": -5}, "quantity", "greater than 0"),
        ({"symbol": "AAPL", "action": "BUY", "quantity": 2.5}, "quantity", "whole shares"),
        (
            {"symbol": "AAPL", "action": "BUY", "quantity": 1, "order_type": "TRAIL"},
            "order_type",
            "order type",
        ),
        ({"symbol": "AAPL", "action": "BUY", "quantity": 1, "tif": "IOC"}, "tif", "DAY or GTC"),
        (
            {"symbol": "AAPL", "action": "BUY", "quantity": 1, "order_type": "LMT"},
            "limit_price",
            "limit order needs a limit price",
        ),
        (
            {
                "symbol": "AAPL",
                "action": "BUY",
                "quantity": 1,
                "order_type": "LMT",
                "limit_price": -3,
            },
            "limit_price",
            "greater than 0",
        ),
        (
            {"symbol": "AAPL", "action": "SELL", "quantity": 1, "order_type": "STP"},
            "stop_price",
            "stop order needs a stop price",
        ),
        (
            {
                "symbol": "AAPL",
                "action": "SELL",
                "quantity": 1,
                "order_type": "STP LMT",
                "stop_price": 150,
            },
            "limit_price",
            "stop-limit order needs a limit price",
        ),
        (
            {
                "symbol": "AAPL",
                "action": "BUY",
                "quantity": 1,
                "order_type": "LMT",
                "limit_price": 100.003,
            },
            "limit_price",
            "steps of 0.01",
        ),
        (
            {
                "symbol": "AAPL",
                "action": "SELL",
                "quantity": 1,
                "order_type": "STP",
                "stop_price": 150.555,
            },
            "stop_price",
            "150.55 or 150.56",
        ),
        ({"symbol": "AAPL", "action": "BUY", "quantity": 1000}, "quantity", "above the"),
        (
            {
                "symbol": "AAPL",
                "action": "BUY",
                "quantity": 600,
                "order_type": "LMT",
                "limit_price": 200,
            },
            "quantity",
            "120,000.00 USD (600 x 200.00) is above the 100,000.00 USD limit",
        ),
        (
            {"symbol": "AAPL", "action": "BUY", "quantity": 1, "account": "DU999"},
            "account",
            "DU999",
        ),
    ],
)
def test_each_bad_ticket_gets_a_message_next_to_its_field_and_sends_nothing(
    gateway, orders, ticket, field, words
):
    from ibkr_core.orders import OrderTicket, OrderValidationError

    t = OrderTicket(**ticket)
    issues = orders.validate(t)
    assert [i.field for i in issues] == [field], issues
    assert words in issues[0].message
    with pytest.raises(OrderValidationError) as err:
        orders.place(t, f"bad-{field}")
    assert err.value.issues == issues
    assert sim_orders(gateway) == []
    assert orders.recent_orders() == []


def test_a_good_ticket_has_no_issues(orders):
    from ibkr_core.orders import OrderTicket

    assert orders.validate(OrderTicket("aapl", "buy", 10)) == []
    assert orders.validate(OrderTicket("MSFT", "SELL", 5, "STP LMT", 400.5, 401.0, "GTC")) == []


# ---------------------------------------------------------------------- trading lock
def test_not_connected_locks_trading(loop_thread):
    from ibkr_core.connection import IBKRConnection
    from ibkr_core.orders import OrderService, OrderTicket, TradingLockedError
    from ibkr_core.settings import Settings

    conn = IBKRConnection(Settings(port=1), loop_thread, auto_reconnect=False)
    service = OrderService(conn, conn.settings)
    status = service.trading_status()
    assert not status.allowed and status.is_paper is None
    assert status.reason == "Connect to TWS / IB Gateway to trade"
    with pytest.raises(TradingLockedError, match="Connect to TWS"):
        service.place(OrderTicket("AAPL", "BUY", 1), "k")
    with pytest.raises(TradingLockedError):
        service.cancel(1)
    issues = service.validate(OrderTicket("AAPL", "BUY", 1))
    assert [i.field for i in issues] == ["symbol"] and "Connect" in issues[0].message
    assert service.open_orders() == [] and service.fills() == []
    service.close()


@pytest.fixture
def live_gateway() -> Iterator:
    from ibkr_core.simulator import SimConfig, start_in_background

    gw = start_in_background(
        seed=1, port=0, config=SimConfig(account_id="U7654321", tick_interval=3600.0)
    )
    try:
        yield gw
    finally:
        gw.stop()


@pytest.mark.parametrize("enabled", [False, True])
def test_live_account_is_locked_unless_enabled(live_gateway, loop_thread, enabled):
    from ibkr_core.orders import OrderService, OrderTicket, TradingLockedError

    conn = connect_to(live_gateway, loop_thread, live_trading_enabled=enabled)
    service = OrderService(conn, conn.settings)
    try:
        status = service.trading_status()
        assert status.is_paper is False
        ticket = OrderTicket("AAPL", "BUY", 1, "LMT", 1.00)
        if not enabled:
            assert not status.allowed
            assert "U7654321 is a LIVE account" in status.reason
            assert "IBKR_LIVE_TRADING_ENABLED" in status.reason
            with pytest.raises(TradingLockedError, match="LIVE account"):
                service.place(ticket, "live-1")
            assert sim_orders(live_gateway) == []
        else:
            assert status.allowed and "real money" in status.reason
            record = service.place(ticket, "live-1")
            assert wait_for(lambda: service.order(record.order_id).status == "Submitted", 3)
            assert len(sim_orders(live_gateway)) == 1
    finally:
        service.close()
        conn.close()


# --------------------------------------------------------------------------- preview
def test_preview_returns_commission_and_margin_and_changes_nothing(gateway, orders):
    from ibkr_core.orders import OrderTicket

    cash = sim_cash(gateway)
    quote = gateway.quote("AAPL")
    preview = orders.preview(OrderTicket("AAPL", "BUY", 10))
    assert preview.commission == pytest.approx(1.0)  # 10 x 0.005, minimum 1.00
    assert preview.min_commission is not None and preview.max_commission is not None
    assert preview.commission_currency == "USD"
    assert preview.estimated_price == pytest.approx(quote.ask)
    assert preview.order_value == pytest.approx(10 * quote.ask)
    assert preview.init_margin_change == pytest.approx(10 * quote.last * 0.5, abs=0.01)
    assert preview.maint_margin_change == pytest.approx(10 * quote.last * 0.25, abs=0.01)
    assert preview.init_margin_after == pytest.approx(
        preview.init_margin_before + preview.init_margin_change, abs=0.01
    )
    assert preview.equity_with_loan_after is not None
    assert preview.equity_with_loan_after < preview.equity_with_loan_before  # commission
    limit_preview = orders.preview(OrderTicket("AAPL", "SELL", 20, "LMT", 250.0))
    assert limit_preview.estimated_price == 250.0 and limit_preview.order_value == 5000.0
    time.sleep(0.2)
    assert sim_orders(gateway) == []
    assert sim_cash(gateway) == cash
    assert orders.open_orders() == [] and orders.recent_orders() == [] and orders.fills() == []
    assert orders.events_since(0) == ([], 0)


def test_preview_of_a_bad_ticket_raises_validation(orders):
    from ibkr_core.orders import OrderTicket, OrderValidationError

    with pytest.raises(OrderValidationError) as err:
        orders.preview(OrderTicket("AAPL", "BUY", 0))
    assert err.value.issues[0].field == "quantity"


# ------------------------------------------------------------------------ placement
def test_market_order_fills_and_reports_fill_commission_and_events(gateway, orders):
    from ibkr_core.orders import OrderTicket

    cash = sim_cash(gateway)
    cursor = orders.latest_cursor()
    started = time.monotonic()
    record = orders.place(OrderTicket("AAPL", "BUY", 10), "mkt-1")
    placed = time.monotonic() - started
    assert record.idempotency_key == "mkt-1" and record.order_id > 0
    assert record.symbol == "AAPL" and record.action == "BUY" and record.quantity == 10
    filled = wait_for(lambda: (r := orders.order(record.order_id)).status == "Filled" and r, 5)
    round_trip = time.monotonic() - started
    assert filled, orders.order(record.order_id)
    assert filled.filled == 10 and filled.remaining == 0 and filled.perm_id > 0
    assert filled.avg_fill_price == pytest.approx(gateway.quote("AAPL").ask)
    fill = wait_for(lambda: [f for f in orders.fills() if f.commission is not None], 3)
    assert len(fill) == 1
    f = fill[0]
    assert (f.symbol, f.side, f.shares, f.order_id) == ("AAPL", "BUY", 10, record.order_id)
    assert f.price == filled.avg_fill_price and f.commission == pytest.approx(1.0)
    assert (f.currency, f.commission_currency) == ("USD", "USD")
    assert sim_cash(gateway) == pytest.approx(cash - 10 * f.price - f.commission, abs=0.01)
    events, cursor = orders.events_since(cursor)
    assert [e.kind for e in events] == ["fill"]
    assert events[0].message == f"Bought 10 AAPL · NASDAQ · USD at {f.price:,.2f} USD"
    assert orders.events_since(cursor) == ([], cursor)
    assert orders.open_orders() == []
    assert [r.order_id for r in orders.recent_orders()] == [record.order_id]
    print(f"place() {placed * 1000:.1f} ms; place -> Filled {round_trip * 1000:.1f} ms")


def test_same_key_from_ten_threads_sends_one_order(gateway, orders):
    from ibkr_core.orders import OrderTicket

    ticket = OrderTicket("MSFT", "BUY", 3, "LMT", 300.00)
    barrier = threading.Barrier(10)
    results: list = []
    errors: list = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(orders.place(ticket, "same-key"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(results) == 10
    assert len({r.order_id for r in results}) == 1
    time.sleep(0.2)
    assert len(sim_orders(gateway)) == 1
    again = orders.place(ticket, "same-key")  # a rerun / page reload
    assert again.order_id == results[0].order_id
    assert len(sim_orders(gateway)) == 1
    assert len(orders.open_orders()) == 1


def test_limit_order_rests_shows_in_open_orders_and_cancels(gateway, orders):
    from ibkr_core.orders import OrderTicket

    cursor = orders.latest_cursor()
    record = orders.place(OrderTicket("AAPL", "BUY", 5, "LMT", 150.00, tif="GTC"), "rest-1")
    working = wait_for(lambda: (r := orders.order(record.order_id)).status == "Submitted" and r, 3)
    assert working, orders.order(record.order_id)
    assert working.limit_price == 150.0 and working.stop_price is None and working.tif == "GTC"
    assert working.remaining == 5 and working.filled == 0 and working.avg_fill_price is None
    assert [r.order_id for r in orders.open_orders()] == [record.order_id]
    assert orders.open_orders()[0].is_working

    cancelled = orders.cancel(record.order_id)
    assert cancelled.status == "Cancelled"
    assert cancelled.is_done and cancelled.remaining == 5
    assert orders.open_orders() == []
    assert gateway.call(lambda: gateway.gateway.engine.order(record.order_id).status) == "Cancelled"
    events, _ = orders.events_since(cursor)
    assert [(e.kind, e.order_id) for e in events] == [("cancelled", record.order_id)]
    assert orders.cancel(record.order_id).status == "Cancelled"  # already done: unchanged
    assert [r.status for r in orders.recent_orders()] == ["Cancelled"]


def test_rejected_order_carries_tws_message_without_raising(gateway, connection):
    from ibkr_core.orders import OrderService, OrderTicket
    from ibkr_core.settings import Settings

    settings = Settings(**{**connection.settings.__dict__, "max_order_value": 1e9})
    orders = OrderService(connection, settings)
    try:
        cursor = orders.latest_cursor()
        record = orders.place(OrderTicket("AAPL", "BUY", 5000), "too-big")  # > Reg-T margin
        rejected = wait_for(
            lambda: (r := orders.order(record.order_id)).status == "Rejected" and r, 3
        )
        assert rejected, orders.order(record.order_id)
        assert "YOUR ORDER IS NOT ACCEPTED" in rejected.message
        assert "(IBKR 201)" in rejected.message
        assert rejected.is_done and rejected.filled == 0 and rejected.remaining == 5000
        events, _ = orders.events_since(cursor)
        assert [e.kind for e in events] == ["rejected"]
        assert "YOUR ORDER IS NOT ACCEPTED" in events[0].message
        assert orders.open_orders() == []
        assert orders.place(OrderTicket("AAPL", "BUY", 5000), "too-big").status == "Rejected"
    finally:
        orders.close()


def test_records_and_keys_survive_a_reconnect_and_a_new_service(gateway, connection, orders):
    from ibkr_core.connection import ConnectionState
    from ibkr_core.orders import OrderService, OrderTicket

    ticket = OrderTicket("SPY", "SELL", 2, "LMT", 900.00)
    record = orders.place(ticket, "survive-1")
    assert wait_for(lambda: orders.order(record.order_id).status == "Submitted", 3)
    gateway.drop_all_clients()
    assert wait_for(lambda: connection.status().state == ConnectionState.RECONNECTING, 5)
    assert orders.order(record.order_id).status == "Submitted"  # kept while down
    assert wait_for(lambda: connection.status().connected, 10)
    assert orders.place(ticket, "survive-1").order_id == record.order_id
    # a new process (empty key map) finds the key in the order's orderRef at TWS
    fresh = OrderService(connection, connection.settings)
    try:
        again = fresh.place(ticket, "survive-1")
        assert again.order_id == record.order_id and again.idempotency_key == "survive-1"
        assert len(sim_orders(gateway)) == 1
        assert fresh.cancel(record.order_id).status == "Cancelled"
    finally:
        fresh.close()


def test_stop_order_waits_for_its_trigger_then_fills(gateway, orders):
    from ibkr_core.orders import OrderTicket

    gateway.stop_ticks("NVDA")  # only set_price moves it: the stop cannot trigger early
    last = gateway.quote("NVDA").last
    stop = round(last - 5, 2)
    record = orders.place(OrderTicket("NVDA", "SELL", 10, "STP", stop_price=stop), "stop-1")
    held = wait_for(lambda: (r := orders.order(record.order_id)).status == "PreSubmitted" and r, 3)
    assert held and held.stop_price == stop and held.limit_price is None
    assert [r.order_id for r in orders.open_orders()] == [record.order_id]
    cursor = orders.latest_cursor()
    gateway.set_price("NVDA", round(stop - 0.5, 2))
    filled = wait_for(lambda: (r := orders.order(record.order_id)).status == "Filled" and r, 3)
    assert filled and filled.filled == 10
    events = wait_for(lambda: orders.events_since(cursor)[0], 3)
    assert [e.kind for e in events] == ["fill"] and events[0].message.startswith("Sold 10 NVDA")


def test_tws_validation_errors_ib_async_calls_warnings_still_reject(gateway, connection, orders):
    """ib_async treats 434/321/110 as warnings ("ValidationError", trade kept alive); for a
    new order TWS never accepted, the record says Rejected with TWS's text."""
    from ib_async import LimitOrder, MarketOrder

    contract = create_contract(connection, "AAPL")
    zero = connection.run(lambda ib: orders._send(ib, contract, MarketOrder("BUY", 0), "zero"))
    off_tick = connection.run(
        lambda ib: orders._send(ib, contract, LimitOrder("BUY", 1, 100.003), "tick")
    )
    for record, text, code in (
        (zero, "The order size cannot be zero.", 434),
        (off_tick, "minimum price variation", 110),
    ):
        rejected = wait_for(
            lambda r=record: (x := orders.order(r.order_id)).status == "Rejected" and x, 3
        )
        assert rejected, orders.order(record.order_id)
        assert text in rejected.message and f"(IBKR {code})" in rejected.message
    assert sim_orders(gateway) == []
    assert orders.open_orders() == []


def test_preview_refused_by_tws_raises_quickly_instead_of_hanging(connection, orders):
    from ib_async import MarketOrder

    from ibkr_core.connection_errors import IBKRError

    contract = create_contract(connection, "AAPL")
    started = time.monotonic()
    with pytest.raises(IBKRError, match="cannot be zero"):
        connection.run(orders._what_if(contract, MarketOrder("BUY", 0), 3.0), 4.0)
    assert time.monotonic() - started < 1.0
