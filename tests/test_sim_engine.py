"""The simulated gateway's state engine: market walk, bars, account, matching, pacing."""

from __future__ import annotations

import ast
from datetime import date, datetime

import pytest

from ibkr_core.simulator.account import Account
from ibkr_core.simulator.market import HistoricalDataError, Market
from ibkr_core.simulator.matching import (
    UNSET_DOUBLE,
    ExecutionEvent,
    MatchingEngine,
    OrderErrorEvent,
    OrderStatusEvent,
    SimOrder,
    WhatIfEvent,
    commission_for,
)
from ibkr_core.simulator.pacing import PACING_VIOLATION, HistoricalPacing
from ibkr_core.simulator.universe import EASTERN, UNIVERSE, find_instrument
from tests.import_graph import REPO, cycles, import_graph

# Wednesday 2026-11-18 11:00 US/Eastern: a regular session is open.
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=EASTERN).timestamp()
AAPL = find_instrument("AAPL", "STK")
SPY = find_instrument("SPY", "STK")
EURUSD = find_instrument("EUR", "CASH", "USD")


def statuses(events) -> list[str]:
    return [e.status for e in events if isinstance(e, OrderStatusEvent)]


def fills(events) -> list[ExecutionEvent]:
    return [e for e in events if isinstance(e, ExecutionEvent)]


@pytest.fixture
def sim():
    market = Market(seed=11, now=NOW)
    account = Account()
    return market, account, MatchingEngine(account, market)


def net_liq_identity(account: Account, market: Market) -> float:
    value = sum(item.market_value for item in account.portfolio(market))
    return account.cash + value


# --- universe ---------------------------------------------------------------------------


def test_universe_resolves_contracts_like_tws():
    assert len([i for i in UNIVERSE if i.sec_type == "STK"]) >= 22
    assert find_instrument(con_id=265598).symbol == "AAPL"
    assert find_instrument("MSFT", "STK", "USD", "SMART").con_id == 272093
    assert find_instrument("AAPL", "STK", exchange="NASDAQ") is AAPL
    assert find_instrument("AAPL", "STK", exchange="ISLAND") is AAPL
    assert find_instrument("EUR.USD", "CASH").con_id == 12087792
    assert EURUSD.exchange == "IDEALPRO" and EURUSD.min_tick == 0.00005
    assert find_instrument("AAPL", "STK", currency="EUR") is None
    assert find_instrument("AAPL", "CASH") is None
    assert find_instrument("NOPE", "STK") is None
    assert find_instrument(con_id=1) is None
    assert "0930" in AAPL.liquid_hours and "CLOSED" in AAPL.trading_hours


# --- market -----------------------------------------------------------------------------


def test_walk_is_seeded_reproducible_and_moves():
    a, b, c = Market(3, NOW), Market(3, NOW), Market(4, NOW)
    for i in range(1, 200):
        a.step(NOW + i * 0.25)
        b.step(NOW + i * 0.25)
    assert a.quote("AAPL") == b.quote("AAPL")
    assert c.quote("AAPL").last != a.quote("AAPL").last
    start = Market(3, NOW).quote("NVDA").last
    assert a.quote("NVDA").last != start


def test_quotes_stay_consistent_over_many_steps():
    m = Market(5, NOW)
    volume = {k: q.volume for k, q in m.quotes().items()}
    changed_any = False
    for i in range(1, 400):
        changed = m.step(NOW + i * 0.25)
        changed_any = changed_any or bool(changed)
        for key, q in m.quotes().items():
            inst = m.instrument(key)
            assert q.bid < q.ask, key
            assert 1 <= round((q.ask - q.bid) / inst.min_tick) <= 3, key
            assert q.low <= q.last <= q.high, key
            assert q.volume >= volume[key], key
            volume[key] = q.volume
    assert changed_any


def test_set_price_and_freeze():
    m = Market(1, NOW)
    q = m.set_price("AAPL", 200.004, NOW + 1)
    assert (q.last, q.bid, q.ask, q.last_time) == (200.0, 199.99, 200.01, NOW + 1)
    m.freeze("AAPL")
    frozen = m.quote("AAPL")
    before = (frozen.bid, frozen.ask, frozen.last, frozen.volume)
    for i in range(2, 50):
        assert "AAPL" not in m.step(NOW + i * 0.25)
    assert (frozen.bid, frozen.ask, frozen.last, frozen.volume) == before
    assert frozen.frozen
    m.unfreeze("AAPL")
    assert any("AAPL" in m.step(NOW + 20 + i * 0.25) for i in range(20))


def test_bars_end_at_current_price_in_regular_hours():
    m = Market(2, NOW)
    bars = m.bars("AAPL", NOW, "1 D", "5 mins", "TRADES", True)
    assert len(bars) == 18  # 09:30 .. 10:55 (the 10:55 bar is the one in progress)
    assert bars[-1].close == m.quote("AAPL").last
    for bar in bars:
        t = datetime.fromtimestamp(bar.time, EASTERN)
        assert (9, 30) <= (t.hour, t.minute) < (16, 0) and t.weekday() < 5
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume > 0 and bar.count > 0
    # deterministic for the same request, and a longer duration extends backwards
    assert m.bars("AAPL", NOW, "1 D", "5 mins", "TRADES", True) == bars
    two_days = m.bars("AAPL", NOW, "2 D", "5 mins", "TRADES", True)
    assert len(two_days) == 18 + 78 and two_days[-18:] == bars
    outside = m.bars("AAPL", NOW, "1 D", "1 hour", "TRADES", False)
    assert datetime.fromtimestamp(outside[0].time, EASTERN).hour == 4


def test_daily_bars_and_midpoint_bars():
    m = Market(2, NOW)
    daily = m.bars("SPY", NOW, "1 M", "1 day", "TRADES", True)
    assert all(isinstance(b.time, date) and b.time.weekday() < 5 for b in daily)
    assert daily[-1].time == date(2026, 11, 18) and len(daily) in (21, 22)
    assert daily[-1].close == m.quote("SPY").last
    fx = m.bars("EUR.USD", NOW, "1800 S", "1 min", "MIDPOINT", True)
    assert len(fx) == 30 and fx[-1].close == m.quote("EUR.USD").mid
    assert fx[-1].volume == -1


def test_invalid_bar_requests_carry_tws_texts():
    m = Market(2, NOW)
    with pytest.raises(ValueError, match="bar size setting is invalid") as bad_size:
        m.bars("AAPL", NOW, "1 D", "7 mins", "TRADES", True)
    assert bad_size.value.code == 321
    with pytest.raises(HistoricalDataError) as bad_duration:
        m.bars("AAPL", NOW, "1 Q", "1 min", "TRADES", True)
    assert bad_duration.value.code == 321
    with pytest.raises(HistoricalDataError, match="Time length exceed max") as too_long:
        m.bars("AAPL", NOW, "1 Y", "1 secs", "TRADES", True)
    assert too_long.value.code == 162


# --- account ----------------------------------------------------------------------------


def test_account_values_are_consistent(sim):
    market, account, _ = sim
    values = {(v.tag, v.currency): v.value for v in account.account_values(market)}
    net_liq = float(values["NetLiquidation", "USD"])
    assert net_liq == pytest.approx(net_liq_identity(account, market), abs=0.01)
    assert float(values["TotalCashValue", "USD"]) == 250_000.0
    assert values["CashBalance", "BASE"] == values["CashBalance", "USD"]
    gross = float(values["GrossPositionValue", "USD"])
    assert float(values["InitMarginReq", "USD"]) == pytest.approx(gross * 0.5, abs=0.01)
    assert float(values["MaintMarginReq", "USD"]) == pytest.approx(gross * 0.25, abs=0.01)
    assert float(values["ExcessLiquidity", "USD"]) == pytest.approx(net_liq - gross * 0.25, 0.01)
    assert values["AccountCode", ""] == "DU1234567"
    summary = account.summary(market, "NetLiquidation,BuyingPower")
    assert [v.tag for v in summary] == ["NetLiquidation", "BuyingPower"]
    assert len(account.summary(market, "All")) > 20


def test_fills_move_position_cash_and_net_liq(sim):
    market, account, engine = sim
    net_before = net_liq_identity(account, market)
    ask = market.quote("AAPL").ask
    events = engine.submit(SimOrder(1, instrument=AAPL, action="BUY", total_qty=50), NOW)
    assert statuses(events) == ["PreSubmitted", "Submitted", "Filled"]
    (fill,) = fills(events)
    assert fill.execution.price == ask and fill.execution.side == "BOT"
    assert fill.execution.exchange == "ISLAND"
    assert fill.commission.commission == 1.0  # 50 x 0.005 < 1.00 minimum
    assert fill.commission.realized_pnl == UNSET_DOUBLE  # opening trade
    assert account.cash == pytest.approx(250_000 - 50 * ask - 1.0)
    qty, avg = next((q, c) for i, q, c in account.positions() if i is AAPL)
    assert qty == 150
    assert avg == pytest.approx((100 * 175.20 + 50 * ask + 1.0) / 150)
    net_after = account.value(market, "NetLiquidation")
    assert net_after == pytest.approx(net_liq_identity(account, market))
    # buying at the ask costs the half spread and the commission, nothing else
    mark = market.quote("AAPL").last
    assert net_after == pytest.approx(net_before - 1.0 - 50 * (ask - mark))


def test_closing_a_position_realizes_pnl(sim):
    market, account, engine = sim
    bid = market.quote("MSFT").bid
    msft = find_instrument("MSFT", "STK")
    events = engine.submit(SimOrder(1, instrument=msft, action="SELL", total_qty=40), NOW)
    (fill,) = fills(events)
    expected = (bid - 402.15) * 40 - 1.0
    assert fill.commission.realized_pnl == pytest.approx(expected)
    assert account.realized_pnl == pytest.approx(expected)
    assert account.pnl_single(msft.con_id, market)[0] == 0
    daily, _unrealized, realized = account.daily_pnl(market)
    assert realized == pytest.approx(expected)
    prev_net = account.value(market, "PreviousDayEquityWithLoanValue")
    assert daily == pytest.approx(account.value(market, "NetLiquidation") - prev_net)


def test_flip_through_zero_opens_the_rest(sim):
    market, account, engine = sim
    engine.submit(SimOrder(1, instrument=SPY, action="SELL", total_qty=35), NOW)
    pos = account.position(SPY.con_id)
    assert pos.qty == -10
    assert pos.avg_cost == pytest.approx(market.quote("SPY").bid - 1.0 * 10 / 35 / 10, abs=1e-6)


def test_limit_rests_then_fills_when_price_crosses(sim):
    market, _, engine = sim
    q = market.quote("AAPL")
    limit = round(q.bid - 1.00, 2)
    events = engine.submit(
        SimOrder(7, instrument=AAPL, action="BUY", total_qty=10, order_type="LMT", lmt_price=limit),
        NOW,
    )
    assert statuses(events) == ["PreSubmitted", "Submitted"]
    assert [o.order_id for o in engine.open_orders()] == [7]
    assert engine.on_market(NOW + 1) == []
    market.set_price("AAPL", limit - 0.50, NOW + 2)
    events = engine.on_market(NOW + 2)
    (fill,) = fills(events)
    assert fill.execution.price == limit
    assert statuses(events) == ["Filled"]
    assert engine.open_orders() == [] and engine.completed_orders()[0].order_id == 7
    assert len(engine.executions()) == 1


def test_marketable_limit_fills_at_the_touch(sim):
    market, _, engine = sim
    ask = market.quote("AAPL").ask
    order = SimOrder(
        3, instrument=AAPL, action="BUY", total_qty=10, order_type="LMT", lmt_price=ask + 1
    )
    (fill,) = fills(engine.submit(order, NOW))
    assert fill.execution.price == ask


def test_stop_waits_presubmitted_then_triggers(sim):
    market, account, engine = sim
    last = market.quote("AAPL").last
    stop = round(last - 2.00, 2)
    order = SimOrder(
        5, instrument=AAPL, action="SELL", total_qty=100, order_type="STP", aux_price=stop
    )
    events = engine.submit(order, NOW)
    assert statuses(events) == ["PreSubmitted"]
    assert events[-1].why_held == "trigger"
    market.set_price("AAPL", stop - 0.10, NOW + 5)
    events = engine.on_market(NOW + 5)
    assert statuses(events) == ["Submitted", "Filled"]
    assert fills(events)[0].execution.price == market.quote("AAPL").bid
    assert account.position(AAPL.con_id).qty == 0


def test_stop_limit_becomes_a_resting_limit(sim):
    market, _, engine = sim
    last = market.quote("AAPL").last
    order = SimOrder(
        6,
        instrument=AAPL,
        action="BUY",
        total_qty=10,
        order_type="STP LMT",
        aux_price=round(last + 1, 2),
        lmt_price=round(last + 1.5, 2),
    )
    engine.submit(order, NOW)
    market.set_price("AAPL", last + 3, NOW + 1)  # gaps through the limit: triggers, rests
    events = engine.on_market(NOW + 1)
    assert statuses(events) == ["Submitted"] and order.triggered
    market.set_price("AAPL", last + 1.2, NOW + 2)
    (fill,) = fills(engine.on_market(NOW + 2))
    assert fill.execution.price == round(last + 1.5, 2)


def test_rejections_change_nothing_and_carry_real_codes(sim):
    market, account, engine = sim
    cash, positions = account.cash, account.positions()

    def reject(**kw):
        base = dict(order_id=20, instrument=AAPL, action="BUY", total_qty=10)
        result = engine.submit(SimOrder(**(base | kw)), NOW)
        assert not isinstance(result, list), kw
        return result.code, result.message

    assert reject(instrument=None) == (200, "No security definition has been found for the request")
    assert reject(total_qty=0) == (434, "The order size cannot be zero.")
    assert reject(order_type="LMT")[0] == 321
    assert reject(order_type="LMT", lmt_price=UNSET_DOUBLE)[0] == 321
    assert reject(order_type="LMT", lmt_price=100.001)[0] == 110
    assert reject(order_type="STP")[0] == 403
    assert reject(order_type="FEELINGS")[1].endswith("Invalid order type was entered")
    assert reject(order_type="TRAIL")[0] == 387
    engine.submit(SimOrder(21, instrument=AAPL, action="BUY", total_qty=1), NOW)
    assert reject(order_id=21) == (103, "Duplicate order id")
    assert account.cash == pytest.approx(cash - 1 * market.quote("AAPL").ask - 1.0)
    assert engine.order(20) is None and len(engine.executions()) == 1
    assert len(positions) == len(account.positions())


def test_what_if_changes_nothing(sim):
    market, account, engine = sim
    cash, qty = account.cash, account.position(AAPL.con_id).qty
    order = SimOrder(30, instrument=AAPL, action="BUY", total_qty=200, what_if=True)
    (event,) = engine.submit(order, NOW)
    assert isinstance(event, WhatIfEvent)
    r = event.result
    assert r.commission == 1.0 and r.min_commission == r.max_commission == 1.0
    price = market.quote("AAPL").ask
    assert r.init_margin_change == pytest.approx(200 * market.quote("AAPL").last * 0.5)
    assert r.init_margin_after == pytest.approx(r.init_margin_before + r.init_margin_change)
    assert r.equity_with_loan_change == pytest.approx(
        200 * (market.quote("AAPL").last - price) - 1.0
    )
    assert r.warning_text == ""
    assert account.cash == cash and account.position(AAPL.con_id).qty == qty
    assert engine.order(30) is None and engine.executions() == []


def test_cancel(sim):
    market, _, engine = sim
    limit = round(market.quote("AAPL").bid - 5, 2)
    engine.submit(
        SimOrder(40, instrument=AAPL, action="BUY", total_qty=1, order_type="LMT", lmt_price=limit),
        NOW,
    )
    assert statuses(engine.cancel(40, NOW + 1)) == ["PendingCancel", "Cancelled"]
    assert engine.open_orders() == []
    again = engine.cancel(40, NOW + 2)
    assert again.code == 10148 and "state: Cancelled" in again.message
    unknown = engine.cancel(999, NOW)
    assert (unknown.code, unknown.message) == (
        10147,
        "OrderId 999 that needs to be cancelled is not found.",
    )


def test_day_orders_expire_at_the_close(sim):
    market, _, engine = sim
    limit = round(market.quote("AAPL").bid - 5, 2)
    engine.submit(
        SimOrder(41, instrument=AAPL, action="BUY", total_qty=1, order_type="LMT", lmt_price=limit),
        NOW,
    )
    close = datetime(2026, 11, 18, 16, 0, tzinfo=EASTERN).timestamp()
    assert statuses(engine.on_market(close - 1)) == []
    assert statuses(engine.on_market(close)) == ["Cancelled"]


def test_commission_schedule():
    assert commission_for(AAPL, 100, 200.0) == 1.0  # minimum
    assert commission_for(AAPL, 1000, 200.0) == 5.0  # 0.005 / share
    assert commission_for(AAPL, 1, 50.0) == 0.5  # capped at 1% of trade value
    assert commission_for(EURUSD, 20_000, 1.1) == 2.0  # FX minimum
    assert commission_for(EURUSD, 2_000_000, 1.1) == pytest.approx(44.0)  # 0.2 bps


# --- pacing -----------------------------------------------------------------------------


def test_pacing_burst_identical_and_ten_minute_limits():
    p = HistoricalPacing()
    # 6 or more requests for the same contract within 2 s: the 6th is refused
    results = [p.check(100.0 + i * 0.1, "AAPL/SMART/TRADES", f"req{i}") for i in range(7)]
    assert results[:5] == [None] * 5
    assert results[5] == results[6] == PACING_VIOLATION
    assert p.check(103.0, "AAPL/SMART/TRADES", "req-later") is None  # window passed
    # identical request within 15 s
    assert p.check(200.0, "MSFT", "same") is None
    assert p.check(210.0, "MSFT", "same") == PACING_VIOLATION
    assert p.check(215.5, "MSFT", "same") is None
    # more than 60 in ten minutes
    q = HistoricalPacing()
    assert all(q.check(1000.0 + i * 3, f"c{i}", f"r{i}") is None for i in range(60))
    assert q.check(1200.0, "c-new", "r-new") == PACING_VIOLATION
    assert q.check(1600.0, "c-new", "r-new") is None


def test_margin_failure_is_accepted_then_inactive_with_201(sim):
    _, account, engine = sim
    cash = account.cash
    events = engine.submit(SimOrder(22, instrument=AAPL, action="BUY", total_qty=1_000_000), NOW)
    assert statuses(events) == ["PreSubmitted", "Inactive"]
    (error,) = [e for e in events if isinstance(e, OrderErrorEvent)]
    assert error.code == 201 and "MUST EXCEED THE INITIAL MARGIN" in error.message
    assert events.index(error) == 1  # the error comes before Inactive
    assert account.cash == cash and engine.open_orders() == [] and fills(events) == []


def test_events_carry_the_state_at_the_event(sim):
    _, _, engine = sim
    events = engine.submit(SimOrder(23, instrument=AAPL, action="BUY", total_qty=10), NOW)
    updates = [e for e in events if isinstance(e, OrderStatusEvent)]
    assert [(u.status, u.filled) for u in updates] == [
        ("PreSubmitted", 0),
        ("Submitted", 0),
        ("Filled", 10),
    ]
    assert updates[0].state.status == "PreSubmitted" and updates[0].order.status == "Filled"
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ExecutionEvent") < kinds.index("OrderStatusEvent", 2)


def test_marketable_order_larger_than_the_touch_fills_in_slices(sim):
    market, _, engine = sim
    engine.check_margin = False  # not the subject here
    q = market.quote("AAPL")
    shown = q.ask_size
    qty = shown * 2 + 50
    events = engine.submit(SimOrder(24, instrument=AAPL, action="BUY", total_qty=qty), NOW)
    assert [f.execution.shares for f in fills(events)] == [shown]
    assert statuses(events)[-1] == "Submitted" and events[-1].filled == shown
    assert engine.on_market(NOW + 0.5) == []  # the next slice comes a moment later
    done: list = []
    t = NOW
    while not any(e.status == "Filled" for e in done if isinstance(e, OrderStatusEvent)):
        t += 1.0
        done += engine.on_market(t)
        assert t < NOW + 30
    total = shown + sum(f.execution.shares for f in fills(done))
    assert total == qty and statuses(done).count("Filled") == 1
    assert all(s in ("Submitted", "Filled") for s in statuses(done))
    assert [f.execution.cum_qty for f in fills(events + done)] == sorted(
        f.execution.cum_qty for f in fills(events + done)
    )


def test_cancel_after_a_partial_fill_keeps_the_filled_part(sim):
    market, _, engine = sim
    engine.check_margin = False  # not the subject here
    shown = market.quote("AAPL").ask_size
    order = SimOrder(25, instrument=AAPL, action="BUY", total_qty=shown * 3)
    engine.submit(order, NOW)
    events = engine.cancel(25, NOW + 0.2)
    assert statuses(events) == ["PendingCancel", "Cancelled"]
    assert events[-1].code == 202 and events[-1].message == "Order Canceled - reason:"
    assert order.status == "Cancelled" and order.filled == shown
    assert order.remaining == shown * 2


def test_bracket_waits_for_transmit_then_children_follow_the_parent(sim):
    market, account, engine = sim
    q = market.quote("AAPL")
    parent = SimOrder(30, instrument=AAPL, action="BUY", total_qty=10, transmit=False)
    take = SimOrder(
        31,
        instrument=AAPL,
        action="SELL",
        total_qty=10,
        order_type="LMT",
        lmt_price=round(q.ask + 5, 2),
        parent_id=30,
        transmit=False,
    )
    stop = SimOrder(
        32,
        instrument=AAPL,
        action="SELL",
        total_qty=10,
        order_type="STP",
        aux_price=round(q.bid - 5, 2),
        parent_id=30,
    )
    assert engine.submit(parent, NOW) == [] and engine.submit(take, NOW) == []
    assert engine.open_orders() == []
    events = engine.submit(stop, NOW)
    order_of = [(e.state.order_id, e.status) for e in events if isinstance(e, OrderStatusEvent)]
    assert order_of[0] == (30, "PreSubmitted")
    assert (30, "Filled") in order_of
    assert order_of.index((30, "Filled")) < order_of.index((31, "Submitted"))
    assert stop.status == "PreSubmitted" and stop.why_held == "trigger"
    market.set_price("AAPL", round(q.ask + 6, 2), NOW + 2)
    later = engine.on_market(NOW + 2)
    assert take.status == "Filled" and stop.status == "Cancelled"
    assert any(isinstance(e, OrderErrorEvent) and e.order is stop for e in later)
    assert account.position(AAPL.con_id).qty == 100


# --- structure --------------------------------------------------------------------------


def test_simulator_modules_import_each_other_without_cycles():
    folder = REPO / "ibkr_core" / "simulator"
    graph = import_graph(folder)
    sim = "ibkr_core.simulator"
    assert f"{sim}.session" in graph[f"{sim}.gateway"]
    assert f"{sim}.gateway" not in graph[f"{sim}.session"]
    assert cycles(graph) == []
    # codes and texts live in notices.py: the gateway takes only the session class
    gateway = ast.parse((folder / "gateway.py").read_text())
    from_session = {
        alias.name
        for node in ast.walk(gateway)
        if isinstance(node, ast.ImportFrom) and node.module == "session"
        for alias in node.names
    }
    assert from_session == {"ClientSession"}
