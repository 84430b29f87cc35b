"""A real day's faults in the simulated gateway, as the real ib_async sees them over a
socket: data farm outages (2103/2104, 2105/2106), a competing live session (10197), the
market closing and reopening (frozen data, type 2), and the nightly restart (1100)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from ib_async import IB, Stock

from ibkr_core.simulator import BackgroundGateway, SimConfig, start_in_background
from tests.sim_support import run, wait_until

pytestmark = pytest.mark.timeout(40)


@pytest.fixture
def gw() -> Iterator[BackgroundGateway]:
    gateway = start_in_background(seed=2, port=0, config=SimConfig(tick_interval=0.05))
    try:
        yield gateway
    finally:
        gateway.stop()


async def connected(gw: BackgroundGateway, client_id: int = 1) -> tuple[IB, list]:
    ib = IB()
    ib.RaiseRequestErrors = False
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code))
    await ib.connectAsync(gw.host, gw.port, clientId=client_id, timeout=4)
    return ib, errors


async def updates_during(ib: IB, ticker, seconds: float) -> int:
    count = 0

    def on_update(_t) -> None:
        nonlocal count
        count += 1

    ticker.updateEvent += on_update
    await asyncio.sleep(seconds)
    ticker.updateEvent -= on_update
    return count


async def streaming(ib: IB, symbol: str = "AAPL"):
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    ticker = ib.reqMktData(contract)
    await wait_until(lambda: ticker.last == ticker.last and ticker.bid > 0, 3)
    return contract, ticker


def test_market_data_farm_broken_stops_ticks_until_restored(gw):
    async def scenario():
        ib, errors = await connected(gw)
        _, ticker = await streaming(ib)
        gw.data_farm_broken()
        await wait_until(lambda: (-1, 2103) in errors, 2)
        await asyncio.sleep(0.1)
        silent = await updates_during(ib, ticker, 0.6)
        gw.data_farm_restored()
        await wait_until(lambda: (-1, 2104) in errors, 2)
        flowing = await updates_during(ib, ticker, 0.6)
        await asyncio.sleep(0.2)
        ib.disconnect()
        return errors, silent, flowing

    errors, silent, flowing = run(scenario())
    assert (-1, 2103) in errors and (-1, 2104) in errors
    assert silent == 0 and flowing > 0


def test_hmds_farm_broken_refuses_history_until_restored(gw):
    async def scenario():
        ib, errors = await connected(gw)
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        gw.data_farm_broken("hmds")
        await wait_until(lambda: (-1, 2105) in errors, 2)
        refused = await ib.reqHistoricalDataAsync(spy, "", "1800 S", "1 min", "TRADES", True)
        gw.data_farm_restored("hmds")
        await wait_until(lambda: (-1, 2106) in errors, 2)
        bars = await ib.reqHistoricalDataAsync(spy, "", "1800 S", "1 min", "TRADES", True)
        ib.disconnect()
        return errors, refused, bars

    errors, refused, bars = run(scenario())
    assert not refused and any(code == 162 for _, code in errors)
    assert len(bars) > 0


def test_competing_live_session_stops_data_with_10197(gw):
    async def scenario():
        ib, errors = await connected(gw)
        _, ticker = await streaming(ib)
        gw.competing_session(True)
        await wait_until(lambda: any(code == 10197 for _, code in errors), 2)
        await asyncio.sleep(0.1)
        silent = await updates_during(ib, ticker, 0.6)
        [msft] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        late = ib.reqMktData(msft)
        await asyncio.sleep(0.3)
        late_codes = [code for req_id, code in errors if code == 10197]
        gw.competing_session(False)
        flowing = await updates_during(ib, ticker, 0.6)
        await wait_until(lambda: late.bid > 0, 2)
        ib.disconnect()
        return silent, flowing, late_codes, late

    silent, flowing, late_codes, late = run(scenario())
    assert silent == 0 and len(late_codes) == 2  # the open line, then the new one
    assert flowing > 0 and late.bid > 0


def test_market_close_freezes_prices_with_their_trade_times_and_reopens(gw):
    async def scenario():
        ib, _ = await connected(gw)
        ib.reqMarketDataType(2)  # frozen after the close, as TWS users ask
        _, ticker = await streaming(ib)
        gw.close_market()
        await wait_until(lambda: ticker.marketDataType == 2, 2)
        await asyncio.sleep(0.1)
        closed_type, last = ticker.marketDataType, ticker.last
        silent = await updates_during(ib, ticker, 0.6)
        sim = gw.quote("AAPL")
        stamp = ticker.lastTimestamp
        gw.open_market()
        await wait_until(lambda: ticker.marketDataType == 1, 2)
        flowing = await updates_during(ib, ticker, 0.6)
        ib.disconnect()
        return closed_type, last, silent, sim, stamp, ticker.marketDataType, flowing

    closed_type, last, silent, sim, stamp, reopened_type, flowing = run(scenario())
    assert closed_type == 2 and silent == 0
    assert last == sim.last  # the frozen last price is the simulator's last trade
    assert stamp is not None and int(stamp.timestamp()) == int(sim.last_time)
    assert reopened_type == 1 and flowing > 0


def test_nightly_restart_warns_resets_the_socket_and_comes_back(gw):
    async def scenario():
        ib, errors = await connected(gw)
        lost = asyncio.Event()
        ib.disconnectedEvent += lost.set
        gw.nightly_restart(seconds=1.5)
        await wait_until(lambda: (-1, 1100) in errors, 2)
        await asyncio.wait_for(lost.wait(), 3)
        second = IB()
        with pytest.raises((ConnectionError, OSError, TimeoutError)):
            await second.connectAsync(gw.host, gw.port, clientId=2, timeout=1)
        second.disconnect()
        back = IB()
        deadline = time.monotonic() + 6
        while True:
            try:
                await back.connectAsync(gw.host, gw.port, clientId=3, timeout=2)
                break
            except (ConnectionError, OSError, TimeoutError):
                back.disconnect()
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        accounts = back.managedAccounts()
        back.disconnect()
        return errors, accounts

    errors, accounts = run(scenario())
    assert (-1, 1100) in errors and (-1, 2103) in errors
    assert accounts == [gw.account_id]
