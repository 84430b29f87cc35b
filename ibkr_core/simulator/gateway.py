"""The simulated IB Gateway: an asyncio TCP server on 127.0.0.1, the shared market,
account and order state, the tick clock, and fault controls for tests and demos."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from . import faults
from . import messages as msg
from .account import Account
from .config import SimConfig
from .engines import EngineGroup
from .market import Market
from .matching import Event, MatchingEngine
from .notices import FARM_BROKEN, FARM_NOTICES, TEXT_CONNECTIVITY
from .order_desk import OrderDesk
from .pacing import HistoricalPacing
from .profiles import build_profile
from .protocol import MarketDataType as MDT
from .requests import ContractSpec
from .session import ClientSession
from .universe import EASTERN, Instrument

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
        self.profile = build_profile(self.config.profile, self.config.account_id)
        self.universe = self.profile.universe
        self.market = Market(seed, now, self.universe)
        self.accounts: dict[str, Account] = {a.account_id: a for a in self.profile.accounts}
        self.account = self.profile.accounts[0]
        self.engine: MatchingEngine | EngineGroup = (
            MatchingEngine(self.account, self.market)
            if len(self.accounts) == 1
            else EngineGroup(self.profile.accounts, self.market)
        )
        self.desk = OrderDesk(self)
        self.pacing = HistoricalPacing()
        self.sessions: list[ClientSession] = []
        self.response_delay = 0.0
        self.connectivity_lost = False
        self.market_open = self.config.market_open
        self.farms_broken: dict[str, bool] = {"market": False, "hmds": False}
        self.competing_session = False
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task] = []
        self._reopen: asyncio.TimerHandle | None = None
        self._client_tasks: set[asyncio.Task] = set()
        self._next_order_id = self.config.first_order_id
        self._missed: set[str] = set()
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
        writers = [s.writer_task for s in self.sessions if s.writer_task is not None]
        for session in list(self.sessions):
            session.abort()
        # each client's serve task and its writer end with its socket: let them finish
        # here, so nothing is left pending when the loop stops
        pending = [t for t in (*self._client_tasks, *writers) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        if self._server:
            await self._server.wait_closed()
            self._server = None

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._client_tasks.add(task)
            task.add_done_callback(self._client_tasks.discard)
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

    # --- accounts and contracts ------------------------------------------------------------

    def account_ids(self) -> list[str]:
        """managedAccounts: every account this login manages."""
        return list(self.accounts)

    def account_for(self, account_id: str | None) -> Account:
        """The named account, or the first one for "" / unknown codes."""
        return self.accounts.get(account_id or "", self.account)

    def resolve(self, spec: ContractSpec) -> list[Instrument]:
        """Every instrument of this gateway's universe the contract request matches."""
        return self.universe.find_all(
            symbol=spec.symbol,
            sec_type=spec.sec_type,
            currency=spec.currency,
            exchange=spec.exchange,
            con_id=spec.con_id,
            local_symbol=spec.local_symbol,
            last_trade_date=spec.last_trade_date,
            strike=spec.strike,
            right=spec.right,
            multiplier=spec.multiplier,
            trading_class=spec.trading_class,
        )

    def resolve_one(self, spec: ContractSpec) -> Instrument | None:
        """The one instrument a request names (None when none or several match; TWS
        answers 200 for both)."""
        found = self.resolve(spec)
        return found[0] if len(found) == 1 else None

    # --- the clock ----------------------------------------------------------------------

    @property
    def data_flowing(self) -> bool:
        """Whether ticks reach clients (the market may still move while they do not)."""
        return not (self.connectivity_lost or self.farms_broken["market"] or self.competing_session)

    def _on_tick(self) -> None:
        if not self.market_open or self.connectivity_lost:
            return
        now = self.now()
        changed = set(self.market.step(now))
        self._dispatch_events(self.engine.on_market(now))
        if not self.data_flowing:
            self._missed |= changed
            return
        for session in self.sessions:
            session.on_market_step(changed)

    def _catch_up(self) -> None:
        """Data flows again: every line gets what changed meanwhile (all of it if the line
        never got its first snapshot)."""
        if not self.data_flowing:
            return
        missed, self._missed = self._missed, set()
        for session in self.sessions:
            for line in session.lines.values():
                if not line.sent:
                    session.send_ticks(line, full=True)
                elif line.streaming and line.instrument.key in missed:
                    session.send_ticks(line)

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
        return self.universe.search(pattern)

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
        if code != 1100:
            self._catch_up()
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
        if not self.data_flowing:
            self._missed.add(key)
            return
        for session in self.sessions:
            session.on_market_step({key})

    # --- a real day's faults ----------------------------------------------------------------

    def set_farm(self, farm: str, broken: bool) -> None:
        """The market data farm ("market": 2103 broken / 2104 OK; ticks stop meanwhile)
        or the historical data farm ("hmds": 2105 / 2106; history requests answer 162)."""
        if farm not in self.farms_broken:
            raise ValueError(f"farm must be 'market' or 'hmds', not {farm!r}")
        self.farms_broken[farm] = broken
        code, text = (faults.FARM_BROKEN if broken else faults.FARM_OK)[farm]
        for session in self.sessions:
            session.error(-1, code, text)
        self._catch_up()

    def set_competing_session(self, active: bool) -> None:
        """Another live session of the same user takes the data: every subscription gets
        10197 and no ticks; when it logs out, data flows again."""
        self.competing_session = active
        if active:
            for session in self.sessions:
                for req_id in session.lines:
                    session.error(req_id, *faults.COMPETING_SESSION)
        self._catch_up()

    def set_market_open(self, is_open: bool) -> None:
        """The market closes: prices stop, last prices keep their real trade times, and
        clients that asked for frozen data (type 2 / 4) are told their lines are now
        frozen; reopening turns them live (1 / 3) again and prices move."""
        self.market_open = is_open  # on reopening, the first step moves by the gap
        for session in self.sessions:
            for line in session.lines.values():
                if is_open:
                    new = MDT.DELAYED if line.delayed else MDT.LIVE
                elif session.market_data_type in (MDT.FROZEN, MDT.DELAYED_FROZEN):
                    new = MDT.DELAYED_FROZEN if line.delayed else MDT.FROZEN
                else:
                    continue
                if new != line.data_type:
                    line.data_type = new
                    session.send(msg.market_data_type(line.req_id, new))

    def nightly_restart(self, seconds: float = 2.0, warning: float = 0.2) -> None:
        """IB Gateway's nightly restart: 1100 (and the farm going), then every socket is
        reset and the port refuses connections for `seconds`, then it listens again."""
        self.emit_connectivity(1100)
        loop = asyncio.get_running_loop()

        def reset() -> None:
            self.connectivity_lost = False
            self.refuse_connections(seconds)

        loop.call_later(warning, reset)
