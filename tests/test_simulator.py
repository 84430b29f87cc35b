"""The simulated gateway, driven by the real `ib_async` client over a real socket.

Each test runs its client on a fresh event loop (asyncio.run) against a gateway on its
own thread, so nothing here shares state with the app's loop thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator

import pytest
from ib_async import IB, Forex, LimitOrder, MarketOrder, Stock, StopOrder

from ibkr_core.simulator import BackgroundGateway, SimConfig
from tests.sim_support import (
    background_gateway,
    connected,
    errors_of,
    managed_accounts,
    official_app_class,
    official_session,
    one_day_bars_during,
    qualify_stock,
    run,
    simulator_cli,
    stilled,
    streaming,
    wait_until,
)

pytestmark = pytest.mark.timeout(30)

CONFIG = SimConfig(
    not_entitled=frozenset({"TSLA", "AMD"}),
    delayed_only=frozenset({"NFLX"}),
    no_delayed=frozenset({"AMD"}),
    tick_interval=0.1,
)


@pytest.fixture
def gw() -> Iterator[BackgroundGateway]:
    with background_gateway(seed=3, port=0, config=CONFIG) as gateway:
        yield gateway


def account_value(ib: IB, tag: str) -> float:
    return next(float(v.value) for v in ib.accountValues() if v.tag == tag and v.currency == "USD")


# --- connecting -----------------------------------------------------------------------


def test_connect_completes_fast_with_accounts_and_farm_notices(gw, caplog):
    async def scenario():
        ib = IB()
        seen = errors_of(ib)
        started = time.perf_counter()
        await ib.connectAsync(gw.host, gw.port, clientId=11, timeout=4)
        elapsed = time.perf_counter() - started
        await wait_until(lambda: len(seen) >= 3, 2)
        result = (elapsed, ib.client.serverVersion(), ib.managedAccounts(), seen)
        ib.disconnect()
        return result

    elapsed, version, accounts, notices = run(scenario())
    assert version == 178
    assert accounts == [gw.account_id]
    assert {code for _, code, _ in notices} >= {2104, 2106, 2158}
    assert elapsed < 4, "connect waited for a start-up request that was never answered"
    assert "timed out" not in caplog.text


def test_duplicate_client_id_is_refused_with_326(gw):
    async def scenario():
        first = await connected(gw, client_id=5)
        second = IB()
        errors = errors_of(second)
        with pytest.raises((ConnectionError, TimeoutError, asyncio.TimeoutError)):
            await second.connectAsync(gw.host, gw.port, clientId=5, timeout=2)
        still_up = first.isConnected()
        first.disconnect()
        return errors, still_up

    errors, still_up = run(scenario())
    assert any(code == 326 for _, code, _ in errors)
    assert still_up


def test_several_clients_at_once(gw):
    async def scenario():
        clients = [await connected(gw, client_id=i) for i in (21, 22, 23)]
        count = gw.client_count()
        for ib in clients:
            ib.disconnect()
        await wait_until(lambda: gw.client_count() == 0, 2)
        return count, gw.client_count()

    assert run(scenario()) == (3, 0)


def test_cli_serves_on_the_requested_port():
    with simulator_cli("--seed", "2") as (port, line):
        assert f"127.0.0.1:{port}" in line
        assert run(managed_accounts(port, timeout=4)) == ["DU1234567"]


# --- account --------------------------------------------------------------------------


def test_account_values_and_positions_are_consistent(gw):
    async def scenario():
        ib = await connected(gw)
        values = {
            tag: account_value(ib, tag)
            for tag in ("NetLiquidation", "TotalCashValue", "GrossPositionValue")
        }
        portfolio = ib.portfolio()
        positions = ib.positions()
        ib.disconnect()
        return values, portfolio, positions

    values, portfolio, positions = run(scenario())
    held = sum(item.marketValue for item in portfolio)
    assert values["GrossPositionValue"] == pytest.approx(held, abs=1.0)
    assert values["NetLiquidation"] == pytest.approx(values["TotalCashValue"] + held, rel=1e-3)
    assert {p.contract.symbol for p in positions} == {i.contract.symbol for i in portfolio}
    assert all(p.account == gw.account_id and p.position > 0 for p in positions)


def test_account_summary_and_pnl(gw):
    async def scenario():
        ib = await connected(gw)
        summary = await ib.accountSummaryAsync()
        pnl = ib.reqPnL(gw.account_id)
        aapl = ib.portfolio()[0].contract
        single = ib.reqPnLSingle(gw.account_id, "", aapl.conId)
        await wait_until(lambda: not math.isnan(single.unrealizedPnL), 3)
        await wait_until(lambda: not math.isnan(pnl.unrealizedPnL), 3)
        result = (summary, pnl.dailyPnL, pnl.unrealizedPnL, single.position, single.value)
        ib.disconnect()
        return result

    summary, daily, unrealized, position, value = run(scenario())
    tags = {v.tag for v in summary}
    assert {"NetLiquidation", "TotalCashValue", "BuyingPower", "AvailableFunds"} <= tags
    assert not math.isnan(daily) and not math.isnan(unrealized)
    assert position > 0 and value > 0


# --- contracts and market data --------------------------------------------------------


def test_contract_details_for_a_stock_and_fx(gw):
    async def scenario():
        ib = await connected(gw)
        stock = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
        fx = await ib.reqContractDetailsAsync(Forex("EURUSD"))
        ib.disconnect()
        return stock, fx

    stock, fx = run(scenario())
    [aapl] = stock
    assert aapl.contract.conId == 265598
    assert aapl.contract.primaryExchange == "NASDAQ"
    assert aapl.minTick == 0.01
    assert "APPLE" in aapl.longName.upper()
    assert aapl.tradingHours and aapl.timeZoneId
    [eur] = fx
    assert eur.contract.secType == "CASH" and eur.contract.localSymbol == "EUR.USD"


def test_unknown_symbol_answers_200(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        details = await ib.reqContractDetailsAsync(Stock("NOSUCH", "SMART", "USD"))
        ib.disconnect()
        return details, errors

    details, errors = run(scenario())
    assert details == []
    assert [code for _, code, _ in errors] == [200]


def test_streaming_quotes_move(gw):
    async def scenario():
        ib = await connected(gw)
        _, ticker = await streaming(ib, "AAPL")
        first = (ticker.bid, ticker.ask, ticker.last)
        await wait_until(lambda: (ticker.bid, ticker.ask, ticker.last) != first, 3)
        snapshot = dict(
            bid=ticker.bid,
            ask=ticker.ask,
            last=ticker.last,
            volume=ticker.volume,
            high=ticker.high,
            low=ticker.low,
            close=ticker.close,
            type=ticker.marketDataType,
            first=first,
        )
        ib.disconnect()
        return snapshot

    q = run(scenario())
    assert (q["bid"], q["ask"], q["last"]) != q["first"], "prices never moved"
    assert 0 < q["bid"] < q["ask"]
    assert q["low"] <= q["last"] <= q["high"]
    assert q["volume"] > 0 and q["close"] > 0
    assert q["type"] == 1


def test_stop_ticks_freezes_one_symbol(gw):
    async def scenario():
        ib = await connected(gw)
        _, ticker = await stilled(ib, gw, "MSFT")
        frozen = (ticker.bid, ticker.ask, ticker.last, ticker.volume)
        await asyncio.sleep(1.0)
        after = (ticker.bid, ticker.ask, ticker.last, ticker.volume)
        gw.resume_ticks("MSFT")
        moved = await wait_until(lambda: (ticker.bid, ticker.ask, ticker.last) != frozen[:3], 4)
        ib.disconnect()
        return frozen, after, moved

    frozen, after, moved = run(scenario())
    assert frozen == after
    assert moved


def test_market_data_entitlements_and_delayed_data(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        tsla, nflx, amd = await ib.qualifyContractsAsync(
            Stock("TSLA", "SMART", "USD"),
            Stock("NFLX", "SMART", "USD"),
            Stock("AMD", "SMART", "USD"),
        )
        live_tsla = ib.reqMktData(tsla)
        nflx_ticker = ib.reqMktData(nflx)
        await wait_until(lambda: not math.isnan(nflx_ticker.last), 2)
        await asyncio.sleep(0.3)
        live_tsla_last = live_tsla.last
        ib.cancelMktData(tsla)
        ib.reqMarketDataType(3)
        delayed_tsla = ib.reqMktData(tsla)
        amd_ticker = ib.reqMktData(amd)
        await wait_until(lambda: not math.isnan(delayed_tsla.last), 2)
        await asyncio.sleep(0.3)
        result = dict(
            errors=[(code, req) for req, code, _ in errors],
            live_tsla_last=live_tsla_last,
            delayed_tsla=(delayed_tsla.marketDataType, delayed_tsla.last),
            nflx=(nflx_ticker.marketDataType, nflx_ticker.last),
            amd_last=amd_ticker.last,
        )
        ib.disconnect()
        return result

    r = run(scenario())
    codes = [code for code, _ in r["errors"]]
    assert 354 in codes, "live data for a not-entitled symbol must answer 354"
    assert math.isnan(r["live_tsla_last"])
    assert r["delayed_tsla"][0] == 3 and r["delayed_tsla"][1] > 0
    assert 10167 in codes and r["nflx"][0] == 3 and r["nflx"][1] > 0
    assert 10168 in codes and math.isnan(r["amd_last"])


def test_fx_quotes_stream(gw):
    async def scenario():
        ib = await connected(gw)
        [eur] = await ib.qualifyContractsAsync(Forex("EURUSD"))
        ticker = ib.reqMktData(eur)
        await wait_until(lambda: not math.isnan(ticker.bid), 2)
        bid, ask = ticker.bid, ticker.ask
        ib.disconnect()
        return bid, ask

    bid, ask = run(scenario())
    assert 0.5 < bid < ask < 2.0


# --- history --------------------------------------------------------------------------


def test_historical_bars_intraday_and_daily(gw):
    async def scenario():
        ib = await connected(gw)
        contract, ticker = await stilled(ib, gw, "SPY")
        last = ticker.last
        intraday = await ib.reqHistoricalDataAsync(
            contract, "", "1 D", "5 mins", "TRADES", True, formatDate=2
        )
        daily = await ib.reqHistoricalDataAsync(contract, "", "1 M", "1 day", "TRADES", True)
        ib.disconnect()
        return last, intraday, daily

    started = time.time()
    last, intraday, daily = run(scenario())
    # "1 D": 09:30-16:00 in 5-minute bars (78), or today's session so far while it trades
    assert len(intraday) in one_day_bars_during(300, started)
    assert intraday[-1].close == pytest.approx(last)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in intraday)
    assert 18 <= len(daily) <= 23
    assert daily[-1].date > daily[0].date


def test_historical_pacing_violation_answers_162(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        contract = await qualify_stock(ib, "KO")
        for duration in ("1 D", "2 D", "3 D", "4 D", "5 D", "6 D", "7 D"):
            await ib.reqHistoricalDataAsync(contract, "", duration, "1 hour", "TRADES", True)
        ib.disconnect()
        return errors

    assert any(code == 162 for _, code, _ in run(scenario()))


# --- orders ---------------------------------------------------------------------------


def test_market_order_fills_and_moves_position_and_cash(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "AAPL")
        cash_before = account_value(ib, "TotalCashValue")
        held_before = next(p.position for p in ib.positions() if p.contract.conId == contract.conId)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10))
        await wait_until(trade.isDone, 3)
        await wait_until(lambda: trade.fills and trade.fills[-1].commissionReport.commission, 2)
        await wait_until(lambda: account_value(ib, "TotalCashValue") != cash_before, 2)
        held_after = next(p.position for p in ib.positions() if p.contract.conId == contract.conId)
        result = dict(
            statuses=[entry.status for entry in trade.log],
            fill=trade.fills[-1],
            cash_delta=account_value(ib, "TotalCashValue") - cash_before,
            position_delta=held_after - held_before,
        )
        ib.disconnect()
        return result

    r = run(scenario())
    assert r["statuses"][-1] == "Filled"
    assert "Submitted" in r["statuses"] or "PreSubmitted" in r["statuses"]
    fill = r["fill"]
    assert fill.execution.side == "BOT" and fill.execution.shares == 10
    commission = fill.commissionReport.commission
    assert commission >= 1.0
    assert r["position_delta"] == 10
    assert r["cash_delta"] == pytest.approx(-(10 * fill.execution.price + commission), abs=0.01)


def test_limit_order_rests_then_fills_when_price_crosses(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "KO")
        gw.stop_ticks("KO")
        price = gw.quote("KO").bid
        limit = round(price - 1.0, 2)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 5, limit))
        await asyncio.sleep(0.5)
        resting = (trade.orderStatus.status, [t.order.orderId for t in ib.openTrades()])
        gw.set_price("KO", limit - 0.05)
        await wait_until(trade.isDone, 3)
        result = (resting, trade.orderStatus.status, trade.orderStatus.avgFillPrice, limit)
        ib.disconnect()
        return result, trade.order.orderId

    (resting, final, avg_price, limit), order_id = run(scenario())
    assert resting[0] == "Submitted" and order_id in resting[1]
    assert final == "Filled"
    assert avg_price <= limit


def test_stop_order_triggers(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "MSFT")
        gw.stop_ticks("MSFT")
        last = gw.quote("MSFT").last
        trade = ib.placeOrder(contract, StopOrder("SELL", 5, round(last - 2.0, 2)))
        await asyncio.sleep(0.4)
        before = trade.orderStatus.status
        gw.set_price("MSFT", round(last - 3.0, 2))
        await wait_until(trade.isDone, 3)
        result = (before, trade.orderStatus.status)
        ib.disconnect()
        return result

    before, after = run(scenario())
    assert before == "PreSubmitted"  # TWS holds a stop until it triggers
    assert after == "Filled"


def test_cancel_a_resting_order(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "JPM")
        trade = ib.placeOrder(contract, LimitOrder("BUY", 3, 1.00))
        await wait_until(lambda: trade.orderStatus.status == "Submitted", 2)
        ib.cancelOrder(trade.order)
        await wait_until(trade.isDone, 3)
        result = ([e.status for e in trade.log], ib.openTrades())
        ib.disconnect()
        return result

    statuses, still_open = run(scenario())
    assert statuses[-1] == "Cancelled"
    assert still_open == []


def test_what_if_returns_margin_and_changes_nothing(gw):
    async def scenario():
        ib = await connected(gw)
        contract = await qualify_stock(ib, "NVDA")
        positions_before = [(p.contract.conId, p.position) for p in ib.positions()]
        cash_before = account_value(ib, "TotalCashValue")
        state = await ib.whatIfOrderAsync(contract, MarketOrder("BUY", 100))
        await asyncio.sleep(0.3)
        result = (
            state,
            positions_before,
            [(p.contract.conId, p.position) for p in ib.positions()],
            cash_before,
            account_value(ib, "TotalCashValue"),
            ib.openTrades(),
        )
        ib.disconnect()
        return result

    state, pos_before, pos_after, cash_before, cash_after, open_trades = run(scenario())
    assert float(state.initMarginChange) > 0
    assert float(state.maintMarginChange) > 0
    assert 1.0 <= state.commission < 10
    assert pos_before == pos_after and cash_before == cash_after and open_trades == []


@pytest.mark.parametrize(
    ("order", "contract", "code"),
    [
        (LimitOrder("BUY", 0, 100.0), Stock("AAPL", "SMART", "USD"), 434),
        (MarketOrder("BUY", 10), Stock("NOSUCH", "SMART", "USD"), 200),
    ],
)
def test_bad_orders_are_rejected_and_change_nothing(gw, order, contract, code):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        cash = account_value(ib, "TotalCashValue")
        trade = ib.placeOrder(contract, order)
        await wait_until(lambda: errors, 2)
        await asyncio.sleep(0.2)
        result = (errors, trade.fills, cash, account_value(ib, "TotalCashValue"))
        ib.disconnect()
        return result

    errors, fills, cash_before, cash_after = run(scenario())
    assert code in [c for _, c, _ in errors]
    assert fills == [] and cash_before == cash_after


def test_limit_order_without_price_is_rejected(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        contract = await qualify_stock(ib, "AAPL")
        order = LimitOrder("BUY", 5, 0.0)
        order.lmtPrice = 1.7976931348623157e308  # unset, as an empty field on the wire
        ib.placeOrder(contract, order)
        await wait_until(lambda: errors, 2)
        open_trades = [t for t in ib.openTrades() if t.orderStatus.status == "Submitted"]
        ib.disconnect()
        return errors, open_trades

    errors, open_trades = run(scenario())
    assert errors and errors[0][1] not in (0, 200)
    assert open_trades == []


# --- faults ---------------------------------------------------------------------------


def test_drop_all_clients_disconnects_and_reconnect_works(gw):
    async def scenario():
        ib = await connected(gw, client_id=9)
        dropped = asyncio.Event()
        ib.disconnectedEvent += dropped.set
        gw.drop_all_clients()
        await asyncio.wait_for(dropped.wait(), 3)
        await asyncio.sleep(0.1)
        await ib.connectAsync(gw.host, gw.port, clientId=9, timeout=4)
        ok = ib.isConnected()
        ib.disconnect()
        return ok

    assert run(scenario())


def test_refuse_connections_for_a_while(gw):
    gw.refuse_connections(1.0)

    async def scenario():
        ib = IB()
        with pytest.raises(ConnectionRefusedError):
            await ib.connectAsync(gw.host, gw.port, clientId=1, timeout=2)
        await asyncio.sleep(1.3)
        ib = await connected(gw)
        ok = ib.isConnected()
        ib.disconnect()
        return ok

    assert run(scenario())


def test_connectivity_lost_and_restored(gw):
    async def scenario():
        ib = await connected(gw)
        errors = errors_of(ib)
        _, ticker = await streaming(ib, "AAPL")
        gw.emit_connectivity(1100)
        await asyncio.sleep(0.3)
        during = ticker.time
        await asyncio.sleep(0.8)
        quiet_while_lost = ticker.time == during
        gw.emit_connectivity(1102)  # data maintained: the stream resumes by itself
        resumed = await wait_until(lambda: ticker.time != during, 3)
        gw.emit_connectivity(1100)
        gw.emit_connectivity(1101)  # data lost: subscriptions are gone
        await asyncio.sleep(0.3)
        after_loss = ticker.time
        await asyncio.sleep(0.8)
        silent_after_1101 = ticker.time == after_loss
        ib.disconnect()
        return [code for _, code, _ in errors], quiet_while_lost, resumed, silent_after_1101

    codes, quiet, resumed, silent = run(scenario())
    assert codes.count(1100) == 2 and 1101 in codes and 1102 in codes
    assert quiet and resumed and silent


def test_response_delay_slows_answers(gw):
    async def scenario():
        ib = await connected(gw)
        gw.set_response_delay(0.4)
        started = time.perf_counter()
        await ib.reqCurrentTimeAsync()
        slow = time.perf_counter() - started
        gw.set_response_delay(0)
        ib.disconnect()
        return slow

    assert run(scenario()) >= 0.4


# --- a second, independent client -----------------------------------------------------


def test_official_ibapi_client_connects_and_streams(gw):
    base = official_app_class()
    from ibapi.contract import Contract

    class App(base):
        def __init__(self) -> None:
            super().__init__()
            self.prices: dict[int, float] = {}

        def tickPrice(self, reqId, tickType, price, attrib) -> None:
            self.prices[tickType] = price

    with official_session(App(), gw, client_id=31) as app:
        deadline = time.monotonic() + 5
        while app.next_id is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.serverVersion() == 157
        assert app.next_id is not None
        contract = Contract()
        contract.symbol, contract.secType = "AAPL", "STK"
        contract.exchange, contract.currency = "SMART", "USD"
        app.reqMktData(1, contract, "", False, False, [])
        while not {1, 2, 4} <= app.prices.keys() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert 0 < app.prices[1] < app.prices[2]  # bid < ask
        assert app.prices[4] > 0
        assert not [code for code in app.errors if code < 2100]


def test_frozen_data_when_the_market_is_closed():
    with background_gateway(seed=3, port=0, config=SimConfig(market_open=False)) as closed:

        async def scenario():
            ib = await connected(closed)
            contract = await qualify_stock(ib, "AAPL")
            ib.reqMarketDataType(2)
            ticker = ib.reqMktData(contract)
            await wait_until(lambda: not math.isnan(ticker.last), 2)
            first = (ticker.marketDataType, ticker.bid, ticker.last)
            await asyncio.sleep(0.8)
            later = (ticker.marketDataType, ticker.bid, ticker.last)
            ib.disconnect()
            return first, later

        first, later = run(scenario())
    assert first[0] == 2 and first[2] > 0  # frozen: the last values, reported as type 2
    assert later == first
