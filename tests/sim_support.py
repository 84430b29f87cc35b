"""Helpers shared by the simulator tests: drive the real ib_async against a gateway
running in the background, each scenario in its own event loop with an overall bound."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, Stock, Ticker

from ibkr_core.simulator import BackgroundGateway, start_in_background
from tests.conftest import free_port


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    """Run one async scenario to its end, never longer than ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def connected(gw: BackgroundGateway, client_id: int = 1) -> IB:
    """A real ib_async session on ``gw`` (request errors reported as events, not raised)."""
    ib = IB()
    ib.RaiseRequestErrors = False
    await ib.connectAsync(gw.host, gw.port, clientId=client_id, timeout=4)
    return ib


async def wait_until(check: Callable[[], Any], timeout: float = 5.0) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes; its last answer, as a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return bool(check())


@contextmanager
def background_gateway(**kwargs: Any) -> Iterator[BackgroundGateway]:
    """``start_in_background(**kwargs)``, stopped on leaving."""
    gw = start_in_background(**kwargs)
    try:
        yield gw
    finally:
        gw.stop()


@contextmanager
def simulator_cli(*args: str) -> Iterator[tuple[int, str]]:
    """``python -m ibkr_core.simulator --port <a free port> *args``, terminated on leaving;
    its port and the first line it printed (the banner)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ibkr_core.simulator", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield port, proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(5)


async def managed_accounts(port: int, timeout: float = 4) -> list[str]:
    """The accounts a fresh ib_async session on 127.0.0.1:``port`` is told of."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=timeout)
    accounts = ib.managedAccounts()
    ib.disconnect()
    return accounts


def errors_of(ib: IB) -> list[tuple[int, int, str]]:
    """Every (reqId, code, text) ``ib`` reports from now on."""
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen


async def qualify_stock(ib: IB, symbol: str) -> Stock:
    """``symbol`` (SMART, USD), qualified."""
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    return contract


async def streaming(ib: IB, symbol: str, timeout: float = 2) -> tuple[Stock, Ticker]:
    """A qualified stock and its market data ticker, once a last price has arrived
    (or ``timeout`` has passed)."""
    contract = await qualify_stock(ib, symbol)
    ticker = ib.reqMktData(contract)
    await wait_until(lambda: not math.isnan(ticker.last), timeout)
    return contract, ticker


async def stilled(ib: IB, gw: BackgroundGateway, symbol: str) -> tuple[Stock, Ticker]:
    """``streaming``, then ``symbol``'s ticks stopped on ``gw`` and 0.3 s to settle."""
    contract, ticker = await streaming(ib, symbol)
    gw.stop_ticks(symbol)
    await asyncio.sleep(0.3)
    return contract, ticker


def official_app_class() -> type:
    """The base of a test client on IBKR's own ``ibapi`` (the test is skipped without it):
    it keeps its next order id and the error codes it is sent; subclasses keep the rest."""
    ibapi_client = pytest.importorskip("ibapi.client")
    from ibapi.wrapper import EWrapper

    class OfficialApp(EWrapper, ibapi_client.EClient):
        def __init__(self) -> None:
            EWrapper.__init__(self)
            ibapi_client.EClient.__init__(self, self)
            self.next_id: int | None = None
            self.errors: list[int] = []

        def nextValidId(self, orderId: int) -> None:
            self.next_id = orderId

        def error(self, reqId, errorCode, errorString) -> None:
            self.errors.append(errorCode)

    return OfficialApp


@contextmanager
def official_session(app: Any, gw: BackgroundGateway, client_id: int) -> Iterator[Any]:
    """``app`` (an ``official_app_class()`` client) connected to ``gw``, its reader on a
    thread; disconnected on leaving."""
    app.connect(gw.host, gw.port, clientId=client_id)
    reader = threading.Thread(target=app.run, daemon=True)
    reader.start()
    try:
        yield app
    finally:
        app.disconnect()
        reader.join(3)


def sim_orders(gw: BackgroundGateway) -> list[Any]:
    """Copies of every real (not what-if) order the simulated gateway has received."""
    engine = gw.gateway.engine
    return gw.call(
        lambda: [
            replace(o) for o in engine.open_orders() + engine.completed_orders() if not o.what_if
        ]
    )


_EASTERN = ZoneInfo("US/Eastern")


def one_day_bars(bar_seconds: int, now: float | None = None) -> int:
    """How many regular-hours bars TWS returns for a US stock's "1 D" ending now: today's
    session so far while it trades (09:30-16:00 US/Eastern on a weekday: the open, then
    every clock-aligned boundary up to now, the bar in progress included), else the last
    full session (09:30-16:00)."""
    from datetime import datetime

    moment = datetime.fromtimestamp(time.time() if now is None else now, _EASTERN)
    open_ = moment.replace(hour=9, minute=30, second=0, microsecond=0)
    close = moment.replace(hour=16, minute=0, second=0, microsecond=0)
    end = moment if moment.weekday() < 5 and open_ <= moment < close else close
    midnight = open_.replace(hour=0, minute=0).timestamp()
    count, t = 0, open_.timestamp()
    while t <= end.timestamp() and t < close.timestamp():
        count += 1
        t = midnight + (math.floor((t - midnight) / bar_seconds) + 1) * bar_seconds
    return count


def one_day_bars_during(bar_seconds: int, started: float) -> set[int]:
    """``one_day_bars`` at any moment from ``started`` to now (a bar may begin meanwhile)."""
    return {one_day_bars(bar_seconds, started), one_day_bars(bar_seconds)}
