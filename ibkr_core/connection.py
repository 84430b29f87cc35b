"""The IBKR connection manager: one `ib_async.IB` hosted on the loop thread.

Every call into `IB` happens on the loop thread (`loop_thread.LoopThread`). The public
methods here are blocking with timeouts and safe from any thread; events are
`eventkit.Event`s (as in ib_async) emitted on the loop thread, so listeners must be quick
and must not block (hand work to your own thread if needed).

State machine::

    disconnected --connect()--> connecting --ok--> connected
    connected --socket dropped--> reconnecting --ok--> connected (lines restored)
    any --disconnect()--> disconnected (stays down)

This module only connects, reconnects and reports status. What builds on the session
lives next door, each with its per-connection state as a ``companions.Companion``:
contracts (``contracts.py``), account summary / positions / P&L (``account.py``),
streaming quotes and history (``ibkr_market_data.py``); every request with a reqId goes
through ``ib_requests.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from eventkit import Event
from ib_async import IB

from ibkr_core import ib_requests
from ibkr_core.connection_errors import (
    ClientIdInUseError,
    ConnectFailedError,
    IBKRError,
    NotConnectedError,
    UnknownSymbolError,
    account_is_paper,
    connect_failure_message,
    describe_error,
    paper_mismatch_warning,
    parse_farm_notice,
    port_kind,
    reset_port,
)
from ibkr_core.data_state import ConnectionView, connection_view
from ibkr_core.ib_compat import apply_ib_async_fixes
from ibkr_core.loop_thread import LoopThread, get_loop_thread
from ibkr_core.settings import Settings
from ibkr_core.symbols import normalize_symbol
from ibkr_core.tws_codes import (
    CLIENT_ID_IN_USE,
    CONNECTIVITY_DEGRADED_CODES,
    CONNECTIVITY_RESTORED_CODES,
    FARM_BROKEN_CODES,
    FARM_CODES,
    SOCKET_PORT_RESET,
)

__all__ = [
    "ConnectionState",
    "ConnectionStatus",
    "Connectivity",
    "IBKRConnection",
    "IBKRError",
    "NotConnectedError",
    "UnknownSymbolError",
    "normalize_symbol",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

MARKET_DATA_TYPE_NAMES = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed-frozen"}


class Connectivity(StrEnum):
    """TWS's own link to IBKR's servers: ok, degraded (1100 / 2110 until restored), or
    unknown (no session)."""

    OK = "ok"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class ConnectionStatus:
    """An immutable snapshot of the connection, safe to read from any thread."""

    state: ConnectionState = ConnectionState.DISCONNECTED
    host: str = ""
    port: int = 0
    client_id: int | None = None  # the id actually in use (may differ after 326)
    requested_client_id: int | None = None
    accounts: tuple[str, ...] = ()
    is_paper: bool | None = None  # from the account id (DU/DF = paper), not the port
    port_kind: str | None = None  # "TWS paper", "IB Gateway live", ... (a hint)
    server_version: int | None = None
    connected_since: datetime | None = None
    last_error: str | None = None  # plain message of the last failure
    warnings: tuple[str, ...] = ()  # e.g. paper port with a live account
    connectivity: Connectivity = Connectivity.UNKNOWN
    connectivity_message: str | None = None
    data_farms: tuple[tuple[str, str], ...] = ()  # (farm, state) e.g. ("usfarm", "OK")
    broken_farms: tuple[tuple[str, int], ...] = ()  # (farm, TWS code) e.g. ("usfarm", 2103)
    competing_session: bool = False  # 10197: another live session holds the market data
    market_closed: bool = False  # lines are frozen (type 2/4): the market's last values
    # 2 = live while the market is open, its last values (frozen) after the close; the
    # not-entitled fallback moves it to 4 (delayed where not subscribed, frozen too).
    market_data_type: int = 2  # 1 live, 2 frozen, 3 delayed, 4 delayed-frozen
    reconnect_attempts: int = 0
    next_retry_at: datetime | None = None
    session_id: int = 0  # new on every (re)connect: what a preview / an order belongs to

    @property
    def connected(self) -> bool:
        return self.state == ConnectionState.CONNECTED

    @property
    def degraded(self) -> bool:
        return self.connectivity == Connectivity.DEGRADED

    @property
    def farms(self) -> dict[str, str]:
        return dict(self.data_farms)

    @property
    def market_data_type_name(self) -> str:
        return MARKET_DATA_TYPE_NAMES.get(self.market_data_type, str(self.market_data_type))

    @property
    def view(self) -> ConnectionView:
        """What to tell the user: state, badge text, live or not, notices with advice."""
        return connection_view(self)


# What a status knows only while a session is up (cleared when it ends or restarts).
_NO_SESSION: dict[str, Any] = {
    "connected_since": None,
    "connectivity": Connectivity.UNKNOWN,
    "connectivity_message": None,
    "data_farms": (),
    "broken_farms": (),
    "competing_session": False,
    "market_closed": False,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _ReconnectPolicy:
    initial_delay: float = 0.25
    max_delay: float = 2.0  # a gateway back after an outage is found within ~2 s
    factor: float = 2.0
    timestamps: list[float] = field(default_factory=list)


class IBKRConnection:
    """Connect, watch and restore one TWS / IB Gateway API session.

    Events (``eventkit.Event``, emitted on the loop thread):

    - ``status_changed(status)``: any change of ``status()``.
    - ``connected_event(status)``: a ``connect()`` succeeded.
    - ``disconnected_event(status, deliberate: bool)``: the session ended (deliberate is
      False for an unexpected drop; a reconnect follows).
    - ``reconnecting_event(status)``: automatic reconnect started.
    - ``reconnected_event(status)``: reconnected, market data type re-applied. P&L
      subscriptions (``account``) and market-data lines (``ibkr_market_data``) are
      restored by their listeners of this event.
    - ``connectivity_event(code, message)``: 1100 / 1101 / 1102.
    """

    MAX_CLIENT_ID_TRIES = 4

    def __init__(
        self,
        settings: Settings | None = None,
        loop: LoopThread | None = None,
        *,
        readonly: bool = False,
        auto_reconnect: bool = True,
        reconnect_initial_delay: float = 0.25,
        reconnect_max_delay: float = 2.0,
    ) -> None:
        self.settings = settings or Settings()
        self.loop = loop or get_loop_thread()
        self.readonly = readonly
        self.auto_reconnect = auto_reconnect
        self._policy = _ReconnectPolicy(reconnect_initial_delay, reconnect_max_delay)

        self.status_changed = Event("status_changed")
        self.connected_event = Event("connected_event")
        self.disconnected_event = Event("disconnected_event")
        self.reconnecting_event = Event("reconnecting_event")
        self.reconnected_event = Event("reconnected_event")
        self.connectivity_event = Event("connectivity_event")

        self._status = ConnectionStatus(
            host=self.settings.host,
            port=self.settings.port,
            requested_client_id=self.settings.client_id,
            port_kind=port_kind(self.settings.port),
        )
        self._session_up = False  # a session we opened is live (drop => reconnect)
        self._user_disconnect = False
        self._reconnect_task: asyncio.Task | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._handshake_done = False
        self._session_id = 0
        self._new_port: int | None = None
        self._market_data_type = 2
        # What builds on this connection keeps its state here (``companions.Companion``):
        # the market-data lines, the contract cache, the account subscriptions.
        self.companions: dict[object, Any] = {}
        self.ib: IB = self.loop.call(self._create_ib, timeout=10)

    # ------------------------------------------------------------------ public API
    def status(self) -> ConnectionStatus:
        return self._status

    def is_connected(self) -> bool:
        return self._status.connected

    def connect(
        self,
        host: str | None = None,
        port: int | None = None,
        client_id: int | None = None,
        timeout: float | None = None,
    ) -> ConnectionStatus:
        """Connect (blocking, bounded). Never raises for a failed connect: the returned
        status is ``disconnected`` with a plain ``last_error``."""
        host = host or self.settings.host
        port = int(port if port is not None else self.settings.port)
        client_id = int(client_id if client_id is not None else self.settings.client_id)
        timeout = float(timeout if timeout is not None else self.settings.connect_timeout)
        budget = timeout * (self.MAX_CLIENT_ID_TRIES + 1) + 2.0
        try:
            return self.loop.run(self._connect_async(host, port, client_id, timeout), budget)
        except TimeoutError:
            self.loop.call_soon(self._abandon_connect, timeout)
            return replace(self._status, state=ConnectionState.DISCONNECTED)

    def disconnect(self, timeout: float = 5.0) -> ConnectionStatus:
        """Deliberately disconnect; no automatic reconnect follows."""
        self.loop.call(self._disconnect_now, timeout=timeout)
        return self._status

    def close(self) -> None:
        """Disconnect and stop using this manager (the loop thread keeps running)."""
        with contextlib.suppress(Exception):
            self.disconnect()

    def run(
        self,
        fn: Callable[[IB], T | Awaitable[T]] | Awaitable[T],
        timeout: float | None = None,
        *,
        require_connected: bool = True,
    ) -> T:
        """Run ``fn(ib)`` (plain or async) or an awaitable on the loop thread and return
        its result; ``TimeoutError`` after ``timeout`` (default: settings.request_timeout).

        This is the door for portfolio / order services: ``conn.run(lambda ib:
        ib.openTrades())`` or ``conn.run(lambda ib: ib.whatIfOrderAsync(c, o), 5)``.
        """
        timeout = self.settings.request_timeout if timeout is None else timeout
        if require_connected and not self.ib_ready():
            if not callable(fn) and asyncio.iscoroutine(fn):
                fn.close()
            raise NotConnectedError()
        if callable(fn):
            return self.loop.call(fn, self.ib, timeout=timeout)
        return self.loop.run(fn, timeout)

    @property
    def session_id(self) -> int:
        """The API session being opened or open: a new id on every (re)connect attempt, set
        before ib_async's startup fetch, so what that fetch reports belongs to it."""
        return self._session_id

    def ib_ready(self) -> bool:
        return self._status.connected and self.ib.isConnected()

    def set_market_data_type(self, market_data_type: int) -> None:
        """Set the session's market data type (re-applied after every reconnect)."""
        self.loop.call(self.apply_market_data_type, int(market_data_type), timeout=5)

    # ------------------------------------------------------------ loop-thread API
    @property
    def market_data_type(self) -> int:
        return self._market_data_type

    def apply_market_data_type(self, market_data_type: int) -> None:
        """(Loop thread.) Record and send ``reqMarketDataType``."""
        self._market_data_type = market_data_type
        if self.ib.isConnected():
            self.ib.reqMarketDataType(market_data_type)
        self._update(market_data_type=market_data_type)

    def note_competing_session(self, active: bool) -> None:
        """(Loop thread.) A line got 10197, or data flows again after one."""
        self._update(competing_session=active)

    def note_market_closed(self, closed: bool) -> None:
        """(Loop thread.) TWS turned the lines frozen (market closed) or live again."""
        self._update(market_closed=closed)

    # ------------------------------------------------------------------ internals
    def _create_ib(self) -> IB:
        apply_ib_async_fixes()  # e.g. bonds' fractional coupons (ib_compat.py)
        ib = IB()
        ib.errorEvent += self._on_ib_error
        ib.disconnectedEvent += self._on_ib_disconnected
        self._connect_lock = asyncio.Lock()
        return ib

    def _update(self, **changes: Any) -> None:
        new = replace(self._status, **changes)
        if new != self._status:
            self._status = new
            self.status_changed.emit(new)

    async def _connect_async(
        self, host: str, port: int, client_id: int, timeout: float
    ) -> ConnectionStatus:
        assert self._connect_lock is not None
        async with self._connect_lock:
            self._user_disconnect = False
            self._cancel_reconnect()
            st = self._status
            if self._session_up and self.ib.isConnected():
                if (st.host, st.port, st.requested_client_id) == (host, port, client_id):
                    return st
                self._disconnect_now()
                self._user_disconnect = False
            self._new_port = None
            self._update(
                state=ConnectionState.CONNECTING,
                host=host,
                port=port,
                port_kind=port_kind(port),
                requested_client_id=client_id,
                client_id=None,
                accounts=(),
                is_paper=None,
                server_version=None,
                last_error=None,
                warnings=(),
                reconnect_attempts=0,
                next_retry_at=None,
                **_NO_SESSION,
            )
            started = time.monotonic()
            try:
                used = await self._open(host, port, client_id, timeout)
            except ConnectFailedError as exc:
                self._update(state=ConnectionState.DISCONNECTED, last_error=str(exc))
                return self._status
            self._session_started(used)
            log.info(
                "connected to %s:%s as client %s in %.3f s",
                host,
                port,
                used,
                time.monotonic() - started,
            )
            self.connected_event.emit(self._status)
            return self._status

    async def _open(self, host: str, port: int, client_id: int, timeout: float) -> int:
        """Connect, moving to the next client id on 326. Returns the id used."""
        for offset in range(self.MAX_CLIENT_ID_TRIES):
            cid = client_id + offset
            try:
                await self._attempt(host, port, cid, timeout)
                return cid
            except ClientIdInUseError:
                log.info("client id %s in use at %s:%s, trying %s", cid, host, port, cid + 1)
                continue
            except ConnectFailedError:
                raise
            except (OSError, TimeoutError, ConnectionError) as exc:
                message = connect_failure_message(
                    exc, host, port, cid, timeout, handshake_done=self._handshake_done
                )
                raise ConnectFailedError(message) from exc
        last = client_id + self.MAX_CLIENT_ID_TRIES - 1
        raise ConnectFailedError(
            f"Client ids {client_id}..{last} are all in use at {host}:{port} (IBKR 326): "
            "close other API sessions or choose another client id."
        )

    async def _attempt(self, host: str, port: int, client_id: int, timeout: float) -> None:
        def client_id_taken(error: ib_requests.TwsError) -> BaseException | None:
            return ClientIdInUseError(client_id) if error.code == CLIENT_ID_IN_USE else None

        def peer_closed(message: str) -> BaseException | None:
            if "Peer closed connection" in message:
                return ConnectionError("the gateway closed the connection during the handshake")
            return None

        self._handshake_done = False
        self._session_id += 1
        with ib_requests.watch_errors(self.ib, client_id_taken, api_error=peer_closed) as failed:
            task = asyncio.ensure_future(
                self.ib.connectAsync(host, port, client_id, timeout=timeout, readonly=self.readonly)
            )
            try:
                done, _ = await asyncio.wait(
                    {task, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if task in done:
                    task.result()  # raises the connect error, if any
                    return
                self._handshake_done = self.ib.client.isReady()
                task.cancel()
                await asyncio.wait({task})
                if self.ib.client.isConnected():
                    self.ib.disconnect()
                if failed.done():
                    failed.result()
                raise TimeoutError(f"connect timed out after {timeout:g} s")
            except BaseException:
                if not task.done():
                    task.cancel()
                raise

    def _session_started(self, client_id: int) -> None:
        accounts = tuple(self.ib.managedAccounts())
        warnings: list[str] = []
        requested = self._status.requested_client_id
        if requested is not None and client_id != requested:
            warnings.append(
                f"Client id {requested} was in use (IBKR 326): connected with client id "
                f"{client_id}."
            )
        mismatch = paper_mismatch_warning(self._status.port, accounts)
        if mismatch:
            warnings.append(mismatch)
        self._session_up = True
        self._update(
            state=ConnectionState.CONNECTED,
            competing_session=False,
            market_closed=False,
            client_id=client_id,
            accounts=accounts,
            is_paper=account_is_paper(accounts),
            server_version=self.ib.client.serverVersion(),
            connected_since=_now(),
            session_id=self._session_id,
            last_error=None,
            warnings=tuple(warnings),
            connectivity=Connectivity.OK,
            connectivity_message=None,
            reconnect_attempts=0,
            next_retry_at=None,
        )
        # TWS resets the session's market data type to live on every new session.
        if self._market_data_type != 1:
            self.ib.reqMarketDataType(self._market_data_type)

    def _disconnect_now(self) -> None:
        self._user_disconnect = True
        self._cancel_reconnect()
        was_up = self._session_up or self._status.state == ConnectionState.RECONNECTING
        self._session_up = False
        if self.ib.client.isConnected() or self.ib.isConnected():
            self.ib.disconnect()
        self._update(
            state=ConnectionState.DISCONNECTED,
            reconnect_attempts=0,
            next_retry_at=None,
            last_error=None,
            **_NO_SESSION,
        )
        if was_up:
            self.disconnected_event.emit(self._status, True)

    def _abandon_connect(self, timeout: float) -> None:
        """The blocking connect() gave up: make sure nothing keeps trying."""
        if not self._session_up:
            self._update(
                state=ConnectionState.DISCONNECTED,
                last_error=f"Connecting took longer than {timeout:g} s and was abandoned.",
            )

    def _cancel_reconnect(self) -> None:
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and not task.done():
            task.cancel()

    def _on_ib_disconnected(self) -> None:
        if not self._session_up:
            return  # our own disconnect, or a failed connect attempt
        self._session_up = False
        if self._user_disconnect:
            return
        st = self._status
        message = f"Connection to {st.host}:{st.port} lost"
        if self._new_port:
            message += f" (TWS moved the API to port {self._new_port})"
        state = (
            ConnectionState.RECONNECTING if self.auto_reconnect else ConnectionState.DISCONNECTED
        )
        self._update(
            state=state,
            last_error=message,
            **_NO_SESSION,
        )
        log.warning("%s; reconnecting=%s", message, self.auto_reconnect)
        self.disconnected_event.emit(self._status, False)
        if self.auto_reconnect:
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())
            self.reconnecting_event.emit(self._status)

    async def _reconnect_loop(self) -> None:
        st = self._status
        host = st.host
        port = self._new_port or st.port
        client_id = st.requested_client_id if st.requested_client_id is not None else 1
        delay = self._policy.initial_delay
        attempt = 0
        dropped_at = time.monotonic()
        while not self._user_disconnect:
            self._update(next_retry_at=_now() + timedelta(seconds=delay))
            await asyncio.sleep(delay)
            delay = min(delay * self._policy.factor, self._policy.max_delay)
            attempt += 1
            self._update(
                state=ConnectionState.RECONNECTING,
                reconnect_attempts=attempt,
                next_retry_at=None,
                port=port,
                port_kind=port_kind(port),
            )
            try:
                used = await self._open(host, port, client_id, self.settings.connect_timeout)
            except ConnectFailedError as exc:
                self._update(last_error=f"Reconnect attempt {attempt} failed: {exc}")
                continue
            except Exception as exc:  # never let the reconnect task die silently
                log.exception("reconnect attempt %d failed", attempt)
                self._update(last_error=f"Reconnect attempt {attempt} failed: {exc!r}")
                continue
            self._reconnect_task = None
            self._session_started(used)
            log.info(
                "reconnected to %s:%s after %.2f s (%d attempts)",
                host,
                port,
                time.monotonic() - dropped_at,
                attempt,
            )
            self.reconnected_event.emit(self._status)
            return

    def _on_ib_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code in CONNECTIVITY_DEGRADED_CODES:
            self._update(
                connectivity=Connectivity.DEGRADED, connectivity_message=describe_error(code)
            )
            self.connectivity_event.emit(code, message)
        elif code in CONNECTIVITY_RESTORED_CODES:
            self._update(connectivity=Connectivity.OK, connectivity_message=describe_error(code))
            self.connectivity_event.emit(code, message)
        elif code == SOCKET_PORT_RESET:
            self._new_port = reset_port(message)
            self._update(connectivity_message=describe_error(code, message))
        elif code in FARM_CODES:
            parsed = parse_farm_notice(code, message)
            if parsed:
                farm = parsed[0]
                farms = dict(self._status.data_farms)
                farms[farm] = parsed[1]
                broken = {f: c for f, c in self._status.broken_farms if f != farm}
                if code in FARM_BROKEN_CODES:
                    broken[farm] = code
                self._update(
                    data_farms=tuple(sorted(farms.items())),
                    broken_farms=tuple(sorted(broken.items())),
                )


# Re-exported for convenience: callers catch these from here.
IBKRError = IBKRError
