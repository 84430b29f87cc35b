"""Orders on the simulated gateway as TWS runs them, seen through the real `ib_async`
over a real socket: status order, partial fills, 202 after cancels, orders placed in TWS
or by another client, a failed margin check, brackets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from ib_async import LimitOrder, MarketOrder

from ibkr_core.simulator import BackgroundGateway, SimConfig
from tests.sim_support import (
    background_gateway,
    connected,
    errors_of,
    qualify_stock,
    run,
    wait_until,
)

pytestmark = pytest.mark.timeout(40)

ORDER = {"PendingSubmit": 0, "PreSubmitted": 1, "Submitted": 2, "PendingCancel": 3}


@pytest.fixture
def gw() -> Iterator[BackgroundGateway]:
    with background_gateway(seed=3, port=0, config=SimConfig(tick_interval=0.1)) as gateway:
        yield gateway


def enter_in_tws(gw: BackgroundGateway, symbol: str, action: str, qty: float, **kw: Any) -> int:
    """The gateway's fault control: an order typed into TWS by hand; its permId."""
    return gw.call(lambda: gw.gateway.enter_order_in_tws(symbol, action, qty, **kw))


def never_backwards(statuses: list[str]) -> bool:
    working = [ORDER[s] for s in statuses if s in ORDER]
    return working == sorted(working)


def test_market_order_reports_each_state_once_in_tws_order(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "AAPL")
        seen: list[tuple[str, int]] = []
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10))
        trade.filledEvent += lambda t: seen.append((t.orderStatus.status, len(t.fills)))
        await wait_until(trade.isDone, 3)
        await wait_until(lambda: trade.fills and trade.fills[-1].commissionReport.execId, 2)
        await asyncio.sleep(0.3)
        result = ([e.status for e in trade.log], seen, trade.fills)
        ib.disconnect()
        return result

    statuses, filled_events, fills = run(scenario())
    # ib_async logs its fill under the status of the moment ("Submitted") too
    changes = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert changes == ["PendingSubmit", "PreSubmitted", "Submitted", "Filled"], statuses
    assert statuses.count("Filled") == 1
    assert filled_events == [("Filled", 1)]  # once, and with its fill already there
    (fill,) = fills
    # ib_async turns TWS's unset realizedPNL into 0.0 (wrapper.commissionReport); the raw
    # 1.7976931348623157E308 is checked with IBKR's own clients in test_sim_versions.py.
    assert fill.commissionReport.realizedPNL == 0.0


def test_an_order_larger_than_the_touch_fills_in_slices(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "KO")
        gw.stop_ticks("KO")
        shown = gw.quote("KO").ask_size
        trade = ib.placeOrder(contract, MarketOrder("BUY", shown + 100))
        progress: list[tuple[str, float, float]] = []
        trade.statusEvent += lambda t: progress.append(
            (t.orderStatus.status, t.orderStatus.filled, t.orderStatus.remaining)
        )
        await wait_until(trade.isDone, 6)
        await wait_until(lambda: all(f.commissionReport.execId for f in trade.fills), 2)
        result = (shown, progress, trade.fills, trade.orderStatus.status)
        ib.disconnect()
        return result

    shown, progress, fills, final = run(scenario())
    assert final == "Filled"
    assert [f.execution.shares for f in fills] == [shown, 100]
    assert all(f.commissionReport.commission > 0 for f in fills)
    assert len({f.execution.execId for f in fills}) == 2
    assert ("Submitted", shown, 100) in progress  # working, part filled
    assert [p[0] for p in progress].count("Filled") == 1
    # a moment apart, by the gateway's execution times (whole seconds)
    assert (fills[1].execution.time - fills[0].execution.time).total_seconds() >= 1


def test_cancel_after_a_partial_fill_keeps_the_fill_and_says_202(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        contract = await qualify_stock(ib, "KO")
        gw.stop_ticks("KO")
        shown = gw.quote("KO").ask_size
        trade = ib.placeOrder(contract, MarketOrder("BUY", shown * 2 + 100))
        await wait_until(lambda: trade.fills, 3)
        ib.cancelOrder(trade.order)
        await wait_until(trade.isDone, 3)
        await wait_until(lambda: any(code == 202 for _, code, _ in errors), 2)
        result = (shown, trade.orderStatus, [e.status for e in trade.log], errors)
        ib.disconnect()
        return result, trade.order.orderId

    (shown, status, statuses, errors), order_id = run(scenario())
    assert status.status == "Cancelled"
    assert status.filled == shown and status.remaining == shown + 100
    assert statuses[-2:] == ["PendingCancel", "Cancelled"] and never_backwards(statuses[:-1])
    assert (order_id, 202, "Order Canceled - reason:") in errors


def test_orders_from_tws_and_other_clients_are_seen_and_cancelled_as_tws_allows(gw):
    async def scenario():
        ib1 = await connected(gw, 1)
        ib2 = await connected(gw, 2)
        errors1, errors2 = errors_of(ib1), errors_of(ib2)
        perms = [
            enter_in_tws(gw, "KO", "BUY", 5, lmt_price=1.0),
            enter_in_tws(gw, "KO", "BUY", 7, lmt_price=1.5),
        ]
        other = ib2.placeOrder(await qualify_stock(ib2, "JPM"), LimitOrder("BUY", 3, 1.0))
        await wait_until(lambda: other.orderStatus.status == "Submitted", 2)
        listed = await ib1.reqAllOpenOrdersAsync()
        foreign = next(t for t in listed if t.order.clientId == 2)
        ib1.cancelOrder(foreign.order)  # not ib1's order: TWS does not find it
        await wait_until(lambda: any(code == 10147 for _, code, _ in errors1), 2)
        still_working = other.orderStatus.status
        ib1.reqGlobalCancel()
        await wait_until(other.isDone, 3)
        await wait_until(lambda: any(code == 202 for _, code, _ in errors2), 2)
        after = await ib1.reqAllOpenOrdersAsync()
        result = (perms, listed, still_working, other.orderStatus.status, errors2, after)
        ib1.disconnect()
        ib2.disconnect()
        return result

    perms, listed, still_working, final, errors2, after = run(scenario())
    tws = [t for t in listed if t.order.permId in perms]
    assert [t.order.orderId for t in tws] == [0, 0]  # entered in TWS: order id 0
    assert {t.order.totalQuantity for t in tws} == {5, 7}
    assert any(t.order.clientId == 2 for t in listed)
    assert still_working == "Submitted"
    assert final == "Cancelled" and any(code == 202 for _, code, _ in errors2)
    assert after == []


def test_client_0_binds_tws_orders_gets_their_fills_and_may_cancel_them(gw):
    async def scenario():
        ib1 = await connected(gw, 1)
        ib0 = await connected(gw, 0)  # ib_async asks reqAutoOpenOrders(True) for client 0
        errors0 = errors_of(ib0)
        enter_in_tws(gw, "JPM", "BUY", 4, lmt_price=1.0)
        await wait_until(lambda: ib0.openTrades(), 2)
        [resting] = ib0.openTrades()
        ib0.cancelOrder(resting.order)
        await wait_until(resting.isDone, 2)
        await wait_until(lambda: any(code == 202 for _, code, _ in errors0), 2)
        enter_in_tws(gw, "KO", "BUY", 6, order_type="MKT")
        await wait_until(lambda: ib0.fills(), 3)
        fills0 = await ib0.reqExecutionsAsync()
        fills1 = await ib1.reqExecutionsAsync()
        result = (resting.order.orderId, resting.orderStatus.status, fills0, fills1, ib0.fills())
        ib0.disconnect()
        ib1.disconnect()
        return result

    bound_id, status, fills0, fills1, pushed = run(scenario())
    assert bound_id < 0  # bound to client 0: a negative order id
    assert status == "Cancelled"
    assert [f.execution.shares for f in pushed] == [6]
    assert [f.execution.shares for f in fills0] == [6]
    assert fills1 == []  # not client 1's order


def test_a_failed_margin_check_leaves_the_order_inactive_with_201(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        trade = ib.placeOrder(await qualify_stock(ib, "AAPL"), MarketOrder("BUY", 5000))
        await wait_until(lambda: trade.orderStatus.status == "Inactive", 3)
        result = (trade.orderStatus.status, [e.status for e in trade.log], errors, trade.fills)
        ib.disconnect()
        return result, trade.order.orderId

    (status, statuses, errors, fills), order_id = run(scenario())
    assert status == "Inactive"
    assert "PreSubmitted" in statuses  # accepted first, then refused
    [(req_id, _, text)] = [e for e in errors if e[1] == 201]
    assert req_id == order_id and "MUST EXCEED THE INITIAL MARGIN" in text
    assert fills == []


def test_bracket_waits_for_its_last_order_then_children_follow_the_parent(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        contract = await qualify_stock(ib, "KO")
        gw.stop_ticks("KO")
        q = gw.quote("KO")
        parent, take, stop = ib.bracketOrder(
            "BUY", 10, round(q.ask + 0.5, 2), round(q.ask + 3, 2), round(q.bid - 3, 2)
        )
        trades = [ib.placeOrder(contract, parent), ib.placeOrder(contract, take)]
        await asyncio.sleep(0.4)
        held = [t.orderStatus.status for t in trades]  # transmit=False: nothing sent yet
        trades.append(ib.placeOrder(contract, stop))
        await wait_until(lambda: trades[0].orderStatus.status == "Filled", 3)
        await wait_until(lambda: trades[1].orderStatus.status == "Submitted", 2)
        live = [t.orderStatus.status for t in trades]
        parent_ids = [t.order.parentId for t in trades]
        gw.set_price("KO", round(q.ask + 3.5, 2))
        await wait_until(lambda: trades[2].isDone(), 3)
        await wait_until(lambda: any(c == 202 for _, c, _ in errors), 2)
        done = [t.orderStatus.status for t in trades]
        result = (held, live, parent_ids, done, errors, trades[2].order.orderId)
        ib.disconnect()
        return result, parent.orderId

    (held, live, parent_ids, done, errors, stop_id), parent_id = run(scenario())
    assert held == ["PendingSubmit", "PendingSubmit"]
    assert live == ["Filled", "Submitted", "PreSubmitted"]  # the stop waits for its trigger
    assert parent_ids == [0, parent_id, parent_id]
    assert done == ["Filled", "Filled", "Cancelled"]  # one child filled: OCA cancels the other
    assert (stop_id, 202, "Order Canceled - reason:") in errors
