"""The simulated IB Gateway: an asyncio TCP server on 127.0.0.1, the shared market,
account and order state, the tick clock, and fault controls for tests and demos."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from .account import Account
from .config import SimConfig
from .market import Market
from .matching import Event, MatchingEngine
from .notices import FARM_BROKEN, FARM_NOTICES, TEXT_CONNECTIVITY
from .order_desk import OrderDesk
from .pacing import HistoricalPacing
from .session import ClientSession
from .universe import EASTERN, UNIVERSE, Instrument

log = logging.getLogger(__name__)


class SimulatedGateway:
    """A TWS-protocol server. Use `await start()` / `await stop()` on one event loop, or
    `background.start_in_background()` to run it on a thread of its own."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        config: SimConfig | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port = port
        self.seed = seed
        self.config = config or SimConfig()
        now = self.now()
        self.market = Market(seed, now)
        self.account = Account(account_id=self.config.account_id)
        self.engine = MatchingEngine(self.account, self.market)
        self.desk = OrderDesk(self)
        self.pacing = HistoricalPacing()
        self.sessions: list[ClientSession] = []
        self.response_delay = 0.0
        self.connectivity_lost = False
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task] = []
        self._reopen: asyncio.TimerHandle | None = None
        self._next_order_id = self.config.first_order_id
        self.ticks_sent = 0

    # --- lifecycle ----------------------------------------------------------------------

    @staticmethod
    def now() -> float:
        return time.time()

    async def start(self) -> None:
        await self._listen()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(self.config.tick_interval, self._on_tick)),
            loop.create_task(self._every(self.config.pnl_interval, self._on_pnl)),
            loop.create_task(self._every(self.config.account_update_interval, self._on_account)),
        ]
        log.info("simulated gateway listening on %s:%s", self.host, self.port)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._reopen:
            self._reopen.cancel()
        if self._server:
            self._server.close()
        for session in list(self.sessions):
            session.abort()
        if self._server:
            await self._server.wait_closed()
            self._server = None

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer)
        await session.serve()

    async def _every(self, interval: float, action) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                action()
            except Exception:
                log.exception("simulated gateway: %s failed", action.__name__)

    # --- sessions -----------------------------------------------------------------------

    def client_id_in_use(self, client_id: int) -> bool:
        return any(s.client_id == client_id for s in self.sessions)

    def session_started(self, session: ClientSession) -> None:
        self.sessions.append(session)

    def session_closed(self, session: ClientSession) -> None:
        if session in self.sessions:
            self.sessions.remove(session)

    def next_order_id(self) -> int:
        return self._next_order_id

    # --- the clock ----------------------------------------------------------------------

    def _on_tick(self) -> None:
        if not self.config.market_open or self.connectivity_lost:
            return
        now = self.now()
        changed = set(self.market.step(now))
        self._dispatch_events(self.engine.on_market(now))
        for session in self.sessions:
            session.on_market_step(changed)

    def _on_pnl(self) -> None:
        if self.connectivity_lost:
            return
        for session in self.sessions:
            session.send_pnl()

    def _on_account(self) -> None:
        for session in self.sessions:
            if session.account_updates:
                session.send_account_updates()
            for req_id in session.summary_requests:
                session.send_account_summary(req_id)
            for req_id in session.account_multi_requests:
                session.send_account_updates_multi(req_id)

    # --- orders (routing in order_desk.py) ----------------------------------------------

    def _dispatch_events(self, events: list[Event]) -> None:
        self.desk.dispatch(events)

    def note_order_id(self, order_id: int) -> None:
        self._next_order_id = max(self._next_order_id, order_id + 1)

    def refresh_account_windows(self) -> None:
        self._on_account()

    def enter_order_in_tws(self, symbol: str, action: str, quantity: float, **kw) -> int:
        """Fault control: an order typed into TWS by hand (order id 0); its permId."""
        return self.desk.enter_in_tws(symbol, action, quantity, **kw)

    # --- lookups ------------------------------------------------------------------------

    def search_symbols(self, pattern: str) -> list[Instrument]:
        pattern = pattern.upper()
        starts = [i for i in UNIVERSE if i.symbol.startswith(pattern)]
        named = [i for i in UNIVERSE if pattern in i.long_name.upper() and i not in starts]
        return (starts + named)[:16]

    @staticmethod
    def parse_end_time(text: str) -> float | None:
        """reqHistoricalData's endDateTime: '' (now), 'yyyymmdd hh:mm:ss [tz]' or
        'yyyymmdd-hh:mm:ss' (UTC)."""
        text = text.strip()
        if not text:
            return None
        try:
            if "-" in text:
                stamp = datetime.strptime(text, "%Y%m%d-%H:%M:%S")
                return stamp.replace(tzinfo=datetime.now().astimezone().tzinfo).timestamp()
            parts = text.split(" ")
            stamp = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
            from zoneinfo import ZoneInfo

            tz = ZoneInfo(parts[2]) if len(parts) > 2 else EASTERN
            return stamp.replace(tzinfo=tz).timestamp()
        except (ValueError, KeyError):
            return None

    # --- faults -------------------------------------------------------------------------

    def drop_all_clients(self) -> None:
        for session in list(self.sessions):
            session.abort()

    def refuse_connections(self, seconds: float) -> None:
        """Gateway down: drop every client and refuse new connections for `seconds`."""
        self.drop_all_clients()
        if self._server:
            self._server.close()
            self._server = None
        loop = asyncio.get_running_loop()
        if self._reopen:
            self._reopen.cancel()
        self._reopen = loop.call_later(seconds, lambda: loop.create_task(self._listen_again()))

    async def _listen_again(self) -> None:
        self._reopen = None
        try:
            await self._listen()
        except OSError:
            log.exception("simulated gateway could not listen again on port %s", self.port)

    def emit_connectivity(self, code: int) -> None:
        """1100 (lost: data stops), 1101 (restored, data lost: subscriptions dropped),
        1102 (restored, data maintained)."""
        if code not in TEXT_CONNECTIVITY:
            raise ValueError(f"not a connectivity code: {code}")
        self.connectivity_lost = code == 1100
        for session in self.sessions:
            session.error(-1, code, TEXT_CONNECTIVITY[code])
            if code == 1100:
                session.error(-1, *FARM_BROKEN)
            else:
                session.error(-1, *FARM_NOTICES[0])
            if code == 1101:
                session.drop_market_data()

    def set_response_delay(self, seconds: float) -> None:
        self.response_delay = max(0.0, seconds)

    def stop_ticks(self, symbol: str) -> None:
        self.market.freeze(symbol)

    def resume_ticks(self, symbol: str) -> None:
        self.market.unfreeze(symbol)

    def set_price(self, symbol: str, price: float) -> None:
        """Move a price now and push it at once (benchmarks time from this instant)."""
        now = self.now()
        key = self.market.instrument(symbol).key
        self.market.set_price(key, price, now)
        self._dispatch_events(self.engine.on_market(now))
        for session in self.sessions:
            session.on_market_step({key})
