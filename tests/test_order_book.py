"""Everyone's orders (issue 10): what TWS reports about orders entered in TWS (order id
0), partial fills and brackets, fed through ib_async's own wrapper (``openOrder`` /
``orderStatus``, as its decoder calls them for TWS's messages) on a real connection to
the simulator; the order book and service must read them as TWS means them.

(tests/test_order_sim_wire.py does the same through the simulator's own order desk.)"""

from __future__ import annotations

import pytest
from ib_async import Contract, Order, OrderState

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(30)

ACCOUNT = "DU1234567"


def tws_reports(
    connection,
    *,
    order_id,
    perm_id,
    client_id,
    status,
    filled=0.0,
    qty=10.0,
    parent_id=0,
    symbol="MSFT",
    action="BUY",
    lmt=100.0,
) -> None:
    """TWS's openOrder + orderStatus for one order, into ib_async's wrapper."""

    def feed(ib) -> None:
        contract = Contract(
            conId=272093,
            symbol=symbol,
            secType="STK",
            exchange="SMART",
            primaryExchange="NASDAQ",
            currency="USD",
        )
        order = Order(
            orderId=order_id,
            clientId=client_id,
            permId=perm_id,
            action=action,
            totalQuantity=qty,
            orderType="LMT",
            lmtPrice=lmt,
            tif="DAY",
            account=ACCOUNT,
            parentId=parent_id,
        )
        ib.wrapper.openOrder(order_id, contract, order, OrderState(status=status))
        ib.wrapper.orderStatus(
            order_id,
            status,
            filled,
            qty - filled,
            100.0 if filled else 0.0,
            perm_id,
            parent_id,
            100.0 if filled else 0.0,
            client_id,
            "",
        )

    connection.run(feed, timeout=5)


def test_two_orders_entered_in_tws_are_two_records_and_cancel_says_where(orders, connection):
    from ibkr_core.orders import CannotCancelError

    tws_reports(connection, order_id=0, perm_id=900001, client_id=0, status="Submitted")
    tws_reports(connection, order_id=0, perm_id=900002, client_id=0, status="Submitted", qty=5)
    working = wait_for(lambda: len(orders.open_orders()) == 2, 5) and orders.open_orders()
    assert {r.perm_id for r in working} == {900001, 900002}
    assert len({r.record_id for r in working}) == 2  # unique keys: no duplicate UI keys
    assert {r.origin for r in working} == {"TWS"} and not any(r.own for r in working)
    with pytest.raises(CannotCancelError, match="entered in TWS: cancel it there, or use Global"):
        orders.cancel_record(working[0].record_id)
    with pytest.raises(CannotCancelError):
        orders.cancel(0)  # order id 0: refused plainly, never "Cancel requested"


def test_a_partial_fill_then_cancel_shows_what_filled(orders, connection):
    mine = connection.status().client_id
    tws_reports(
        connection, order_id=70, perm_id=900070, client_id=mine, status="Submitted", filled=3
    )
    rec = wait_for(lambda: orders.open_orders(), 5)[0]
    assert (rec.filled, rec.remaining, rec.status) == (3, 7, "Submitted")
    cursor = orders.latest_cursor()
    tws_reports(
        connection, order_id=70, perm_id=900070, client_id=mine, status="Cancelled", filled=3
    )
    done = wait_for(lambda: (r := orders.order(70)) and r.is_done and r, 5)
    assert done.status == "Cancelled" and done.filled == 3
    assert done.status_text == "Cancelled (filled 3 of 10)"
    events, _ = orders.events_since(cursor)
    assert [e.message for e in events if e.kind == "cancelled"] == [
        "Buy 10 MSFT · NASDAQ · USD (LMT) cancelled after 3 of 10 filled"
    ]


def test_a_bracket_reads_as_one_group(orders, connection):
    from ibkr_core.order_book import group_brackets

    mine = connection.status().client_id
    tws_reports(connection, order_id=80, perm_id=900080, client_id=mine, status="Submitted")
    tws_reports(
        connection,
        order_id=81,
        perm_id=900081,
        client_id=mine,
        status="PreSubmitted",
        parent_id=80,
        action="SELL",
        lmt=120.0,
    )
    tws_reports(
        connection,
        order_id=82,
        perm_id=900082,
        client_id=mine,
        status="PreSubmitted",
        parent_id=80,
        action="SELL",
        lmt=90.0,
    )
    tws_reports(connection, order_id=90, perm_id=900090, client_id=mine, status="Submitted")
    wait_for(lambda: len(orders.open_orders()) == 4, 5)
    grouped = [(r.order_id, child) for r, child in group_brackets(orders.open_orders())]
    parent = grouped.index((80, False))
    assert sorted(grouped[parent + 1 : parent + 3]) == [(81, True), (82, True)]
    assert (90, False) in grouped
