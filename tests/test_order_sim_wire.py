"""Everyone's orders against the simulator's own order desk (orders typed into TWS,
partial fills in slices, 202 after cancel, other clients' orders), with the real
ib_async over a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ibkr_core.simulator import SimConfig
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(40)


@pytest.fixture
def gateway_config():
    return SimConfig(tick_interval=0.1)


@pytest.fixture
def orders(connection) -> Iterator:
    from dataclasses import replace

    from ibkr_core.orders import OrderService

    # Orders bigger than the shown size (to fill in slices) are above the default cap.
    svc = OrderService(connection, replace(connection.settings, max_order_value=1_000_000.0))
    try:
        yield svc
    finally:
        svc.close()


def sim_working(gw) -> list:
    return gw.call(lambda: [o for o in gw.gateway.engine.open_orders() if not o.what_if])


def test_orders_typed_into_tws_show_refuse_cancel_and_go_with_global_cancel(orders, gateway):
    from ibkr_core.orders import CannotCancelError

    perms = [
        gateway.call(lambda q=q: gateway.gateway.enter_order_in_tws("KO", "BUY", q, lmt_price=1.0))
        for q in (5, 7)
    ]
    orders.refresh()
    wait_for(lambda: len(orders.open_orders()) == 2, 5)
    tws = orders.open_orders()
    assert sorted(r.perm_id for r in tws) == sorted(perms)
    assert {(r.order_id, r.origin) for r in tws} == {(0, "TWS")}
    assert len({r.record_id for r in tws}) == 2
    with pytest.raises(CannotCancelError, match="entered in TWS"):
        orders.cancel_record(tws[0].record_id)
    assert len(sim_working(gateway)) == 2  # nothing was cancelled
    orders.global_cancel()
    wait_for(lambda: sim_working(gateway) == [], 5)


def test_a_partial_fill_then_cancel_keeps_what_filled(orders, gateway):
    from ibkr_core.orders import OrderTicket

    gateway.stop_ticks("KO")
    q = gateway.quote("KO")
    shown = q.ask_size
    limit = round(q.ask + 0.5, 2)
    qty = shown * 2 + 100
    # Marketable limit above the touch: the shown size fills, the rest waits in slices.
    record = orders.place(OrderTicket("KO", "BUY", qty, "LMT", limit_price=limit), "partial-1")
    wait_for(lambda: (r := orders.order(record.order_id)) and r.filled > 0, 5)
    cursor = orders.latest_cursor()
    done = orders.cancel(record.order_id, wait=3)
    done = wait_for(lambda: (r := orders.order(record.order_id)) and r.is_done and r, 5)
    assert done.status == "Cancelled" and 0 < done.filled < qty
    assert done.status_text == f"Cancelled (filled {done.filled:g} of {qty:g})"
    events, _ = orders.events_since(cursor)
    assert any(
        e.kind == "cancelled" and f"after {done.filled:g} of {qty:g} filled" in e.message
        for e in events
    )


def test_another_clients_order_with_our_order_id_never_gets_mixed_with_ours(
    orders, gateway, loop_thread
):
    """TWS keys orders by (client id, order id): client 11's order 6 is not our order 6.
    Cancel by our order id cancels ours; theirs is refused with the reason."""
    from ib_async import IB, LimitOrder, Stock

    from ibkr_core.orders import CannotCancelError, OrderTicket

    ours = orders.place(OrderTicket("KO", "BUY", 1, "LMT", limit_price=1.0), "shared-id")

    async def place_theirs() -> IB:
        ib = IB()
        await ib.connectAsync(gateway.host, gateway.port, clientId=11, timeout=5)
        [contract] = await ib.qualifyContractsAsync(Stock("JPM", "SMART", "USD"))
        ib.placeOrder(contract, LimitOrder("BUY", 2, 1.0, orderId=ours.order_id))
        return ib

    other = loop_thread.run(place_theirs(), timeout=10)
    try:
        wait_for(lambda: len(sim_working(gateway)) == 2, 5)
        orders.refresh()
        wait_for(lambda: len(orders.open_orders()) == 2, 5)
        by_symbol = {r.symbol: r for r in orders.open_orders()}
        assert by_symbol["KO"].order_id == by_symbol["JPM"].order_id == ours.order_id
        assert by_symbol["KO"].quantity == 1 and by_symbol["JPM"].quantity == 2  # not merged
        assert by_symbol["JPM"].origin == "API client 11"
        with pytest.raises(CannotCancelError, match="API client 11"):
            orders.cancel_record(by_symbol["JPM"].record_id)
        done = orders.cancel(ours.order_id, wait=3)
        assert done.symbol == "KO"
        wait_for(lambda: [o.client_id for o in sim_working(gateway)] == [11], 5)
    finally:
        loop_thread.call(other.disconnect, timeout=5)


def test_as_client_0_a_tws_order_is_bound_and_cancelled(gateway, loop_thread):
    """Client 0 receives TWS's orders bound to it (negative order ids) and TWS lets it
    cancel them: the dashboard does, instead of refusing."""
    from ibkr_core.connection import IBKRConnection
    from ibkr_core.orders import OrderService
    from ibkr_core.settings import Settings

    settings = Settings(
        host=gateway.host, port=gateway.port, client_id=0, connect_timeout=4.0, request_timeout=4.0
    )
    conn = IBKRConnection(settings, loop_thread, reconnect_initial_delay=0.1)
    assert conn.connect().connected
    svc = OrderService(conn, settings)
    try:
        gateway.call(lambda: gateway.gateway.enter_order_in_tws("JPM", "BUY", 4, lmt_price=1.0))
        wait_for(lambda: svc.open_orders(), 5)
        [rec] = svc.open_orders()
        assert rec.order_id < 0 and rec.origin == "TWS"
        done = svc.cancel_record(rec.record_id, wait=3)
        done = wait_for(lambda: (r := svc.order_by_record(rec.record_id)) and r.is_done and r, 5)
        assert done.status == "Cancelled"
        assert sim_working(gateway) == []
    finally:
        svc.close()
        conn.close()


def test_a_bracket_from_another_client_reads_as_one_group(orders, gateway, loop_thread):
    from ib_async import IB, Stock

    from ibkr_core.order_book import group_brackets

    async def place_bracket() -> tuple[IB, list[int]]:
        ib = IB()
        await ib.connectAsync(gateway.host, gateway.port, clientId=12, timeout=5)
        [contract] = await ib.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        parent, take, stop = ib.bracketOrder("BUY", 10, 1.0, 2.0, 0.5)  # rests: far below
        for o in (parent, take, stop):
            ib.placeOrder(contract, o)
        return ib, [parent.orderId, take.orderId, stop.orderId]

    other, ids = loop_thread.run(place_bracket(), timeout=10)
    try:
        wait_for(lambda: len(sim_working(gateway)) == 3, 5)
        orders.refresh()
        wait_for(lambda: len(orders.open_orders()) == 3, 5)
        grouped = [(r.order_id, child) for r, child in group_brackets(orders.open_orders())]
        assert grouped[0] == (ids[0], False)
        assert sorted(grouped[1:]) == [(ids[1], True), (ids[2], True)]
    finally:
        loop_thread.call(other.disconnect, timeout=5)
