"""Helpers shared by the simulator tests: drive the real ib_async against a gateway
running in the background, each scenario in its own event loop with an overall bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ib_async import IB

from ibkr_core.simulator import BackgroundGateway


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


def sim_orders(gw: BackgroundGateway) -> list[Any]:
    """Copies of every real (not what-if) order the simulated gateway has received."""
    engine = gw.gateway.engine
    return gw.call(
        lambda: [
            replace(o) for o in engine.open_orders() + engine.completed_orders() if not o.what_if
        ]
    )
