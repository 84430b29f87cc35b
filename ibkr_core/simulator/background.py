"""Run the simulated gateway on a thread of its own, for tests and the dashboard's demo.

Every fault control is forwarded to the gateway's loop, so callers on any thread can
use the handle safely.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from .config import SimConfig
from .gateway import SimulatedGateway

T = TypeVar("T")


class BackgroundGateway:
    """A handle on a `SimulatedGateway` running in a daemon thread."""

    def __init__(
        self, gateway: SimulatedGateway, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.gateway = gateway
        self._loop = loop
        self._thread = thread

    @property
    def host(self) -> str:
        return self.gateway.host

    @property
    def port(self) -> int:
        return self.gateway.port

    @property
    def account_id(self) -> str:
        return self.gateway.account.account_id

    @property
    def account_ids(self) -> list[str]:
        """Every account the login manages (one, or several for `advisor`)."""
        return self.gateway.account_ids()

    @property
    def profile(self) -> str:
        return self.gateway.profile.name

    def account_value(self, tag: str, currency: str = "", account: str = "") -> float:
        """A numeric account value as the simulator computes it (see Account.value)."""
        gw = self.gateway
        return self.call(lambda: gw.account_for(account).value(gw.market, tag, currency))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 5.0) -> T:
        """Run `fn(*args)` on the gateway's loop and return its result."""

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.gateway.stop(), self._loop)
        try:
            future.result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    # Fault controls (see SimulatedGateway for what each does).
    def drop_all_clients(self) -> None:
        self.call(self.gateway.drop_all_clients)

    def refuse_connections(self, seconds: float) -> None:
        self.call(self.gateway.refuse_connections, seconds)

    def emit_connectivity(self, code: int) -> None:
        self.call(self.gateway.emit_connectivity, code)

    def set_response_delay(self, seconds: float) -> None:
        self.call(self.gateway.set_response_delay, seconds)

    def stop_ticks(self, symbol: str) -> None:
        self.call(self.gateway.stop_ticks, symbol)

    def resume_ticks(self, symbol: str) -> None:
        self.call(self.gateway.resume_ticks, symbol)

    def set_price(self, symbol: str, price: float) -> None:
        self.call(self.gateway.set_price, symbol, price)

    def data_farm_broken(self, farm: str = "market") -> None:
        """2103 (market data farm; ticks stop) or, with farm="hmds", 2105 (history: 162)."""
        self.call(self.gateway.set_farm, farm, True)

    def data_farm_restored(self, farm: str = "market") -> None:
        """2104 / 2106: the farm is back and ticks catch up."""
        self.call(self.gateway.set_farm, farm, False)

    def competing_session(self, active: bool = True) -> None:
        """A competing live session takes the data (10197 per line) or gives it back."""
        self.call(self.gateway.set_competing_session, active)

    def close_market(self) -> None:
        """Prices freeze with their real trade times; frozen-data clients get type 2/4."""
        self.call(self.gateway.set_market_open, False)

    def open_market(self) -> None:
        self.call(self.gateway.set_market_open, True)

    def nightly_restart(self, seconds: float = 2.0) -> None:
        """1100, then every socket reset and the port closed for `seconds`, then back."""
        self.call(self.gateway.nightly_restart, seconds)

    def quote(self, symbol: str) -> Any:
        """A copy of the simulator's current quote state for `symbol`."""
        from dataclasses import replace

        return self.call(lambda: replace(self.gateway.market.quote(symbol)))

    def client_count(self) -> int:
        return self.call(lambda: len(self.gateway.sessions))


def start_in_background(
    seed: int = 0,
    port: int = 0,
    host: str = "127.0.0.1",
    config: SimConfig | None = None,
    timeout: float = 5.0,
    profile: str | None = None,
) -> BackgroundGateway:
    """Start a gateway on its own thread and event loop; returns once it listens.
    `profile` ("stocks", "multi-asset", "eur-base", "advisor") overrides the config's."""
    if profile is not None:
        config = replace(config or SimConfig(), profile=profile)
    loop = asyncio.new_event_loop()
    gateway_box: list[SimulatedGateway] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            gateway = SimulatedGateway(host=host, port=port, seed=seed, config=config)
            gateway_box.append(gateway)
            await gateway.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="simulated-gateway", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise TimeoutError("simulated gateway did not start in time")
    if failure:
        raise failure[0]
    return BackgroundGateway(gateway_box[0], loop, thread)
