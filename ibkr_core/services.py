"""Everything the dashboard talks to, built once per process and shared by every session.

Public API (stable; pages build on it)::

    services = get_services()             # process-wide singleton (closed at exit)
    services.settings                     # Settings
    services.connection                   # IBKRConnection (status(), connect(), ...)
    services.quotes                       # QuoteManager: IBKR, then Yahoo, then Alpha Vantage
    services.history                      # HistoryService: IBKR bars when connected, else Yahoo
    services.portfolio                    # PortfolioService (ibkr_core/portfolio.py)
    services.orders                       # OrderService (ibkr_core/orders.py)
    services.watchlist                    # Watchlist (validated, persisted)
    services.events                       # CoreEvents: quotes / portfolio / orders /
                                          # connection changed (ibkr_core/events.py)
    services.demo                         # DemoGateway (the built-in simulated gateway)
    services.ibkr                         # IBKRQuoteProvider (the IBKR quote source)

    services.connect(host, port, client_id) -> ConnectionStatus   # never raises
    services.connect_demo(client_id=None) -> ConnectionStatus     # starts the demo first
    services.disconnect() -> ConnectionStatus
    services.validate_symbol(symbol) -> True | False | None       # the watchlist's validator
    services.close()                                              # at exit / in tests

    build_services(settings) -> Services  # a fresh, independent set (tests)
    reset_services()                      # close the singleton; the next get builds anew
    PRESETS / preset(label)               # the sidebar's connection presets

In Streamlit, obtain it only through ``pages/components.py: require_services()`` (one
``st.cache_resource``); ``get_services()`` itself guarantees one connection, one loop
thread and one quote cache per process, however many sessions and caches ask.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import threading
from dataclasses import dataclass

from ibkr_core.connection import ConnectionStatus, IBKRConnection
from ibkr_core.connection_errors import IBKRError, UnknownSymbolError
from ibkr_core.contracts import create_contract
from ibkr_core.demo import DemoGateway
from ibkr_core.events import CoreEvents
from ibkr_core.history import HistoryService, live_daily_sources
from ibkr_core.ibkr_market_data import IBKRQuoteProvider
from ibkr_core.loop_thread import LoopThread, get_loop_thread
from ibkr_core.orders import OrderService
from ibkr_core.portfolio import PortfolioService
from ibkr_core.providers.alphavantage import AlphaVantageProvider
from ibkr_core.providers.base import UNKNOWN_SYMBOL
from ibkr_core.providers.yahoo import YahooProvider
from ibkr_core.quote_manager import QuoteManager
from ibkr_core.recorder import Recorder
from ibkr_core.settings import Settings
from ibkr_core.store import HistoryStore
from ibkr_core.watchlist import Watchlist

__all__ = [
    "PRESETS",
    "ConnectionPreset",
    "Services",
    "build_services",
    "default_preset",
    "get_services",
    "on_demo",
    "preset",
    "reset_services",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionPreset:
    label: str
    host: str = "127.0.0.1"
    port: int | None = None  # None: the demo gateway picks a free port
    demo: bool = False
    live: bool = False


DEMO_PRESET = "Demo (built-in simulated gateway)"
PRESETS: tuple[ConnectionPreset, ...] = (
    ConnectionPreset(DEMO_PRESET, demo=True),
    ConnectionPreset("TWS paper 7497", port=7497),
    ConnectionPreset("TWS live 7496", port=7496, live=True),
    ConnectionPreset("IB Gateway paper 4002", port=4002),
    ConnectionPreset("IB Gateway live 4001", port=4001, live=True),
)


def preset(label: str) -> ConnectionPreset:
    for p in PRESETS:
        if p.label == label:
            return p
    raise KeyError(label)


def default_preset(settings: Settings, probe_timeout: float = 0.2) -> ConnectionPreset:
    """The preset a new session starts on: the configured port's preset when something
    listens there (a running TWS / IB Gateway), else the demo, so a machine without TWS
    shows live data after one click on Connect."""
    configured = next((p for p in PRESETS if not p.demo and p.port == settings.port), None)
    if configured and _listening(settings.host, settings.port, probe_timeout):
        return configured
    return preset(DEMO_PRESET)


def _listening(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def on_demo(demo: DemoGateway, connection: IBKRConnection) -> bool:
    """Connected to the built-in simulated gateway (its prices are made up)."""
    return demo.running and connection.status().port == demo.port


@dataclass
class Services:
    """Every part, always present: a store that cannot open is an unavailable
    ``HistoryStore`` (it says why), never a missing one."""

    settings: Settings
    loop: LoopThread
    connection: IBKRConnection
    ibkr: IBKRQuoteProvider
    quotes: QuoteManager
    history: HistoryService
    portfolio: PortfolioService
    orders: OrderService
    watchlist: Watchlist
    demo: DemoGateway
    store: HistoryStore  # the local history store (ibkr_core/store.py)
    recorder: Recorder  # snapshots and fills into the store
    events: CoreEvents  # what changed, pushed (ibkr_core/events.py)

    def on_demo(self) -> bool:
        """Connected to the built-in simulated gateway (its prices are made up)."""
        return on_demo(self.demo, self.connection)

    def connect(
        self, host: str | None = None, port: int | None = None, client_id: int | None = None
    ) -> ConnectionStatus:
        """Connect to TWS / IB Gateway (blocking, bounded). Never raises: a failure is a
        ``disconnected`` status whose ``last_error`` is a plain message."""
        return self.connection.connect(host, port, client_id)

    def connect_demo(self, client_id: int | None = None) -> ConnectionStatus:
        """Start the built-in simulated gateway (once) and connect to it."""
        try:
            host, port = self.demo.ensure_started()
        except Exception as exc:  # e.g. no free port: say so, like a failed connect
            log.exception("demo gateway failed to start")
            from dataclasses import replace

            return replace(
                self.connection.status(),
                last_error=f"The demo gateway could not start: {exc}",
            )
        return self.connection.connect(host, port, client_id)

    def disconnect(self) -> ConnectionStatus:
        return self.connection.disconnect()

    def validate_symbol(self, symbol: str) -> bool | None:
        """True known, False unknown, None could not tell (the watchlist's validator).

        Connected: IBKR contract details. Otherwise: the quote providers."""
        if self.connection.ib_ready():
            try:
                create_contract(self.connection, symbol)
                return True
            except UnknownSymbolError:
                return False
            except (IBKRError, TimeoutError):
                pass  # connection went away mid-way: ask the providers
        quote = self.quotes.get_quote(symbol)
        if quote.ok and quote.price is not None:
            return True
        if quote.error and UNKNOWN_SYMBOL in quote.error:
            return False
        return None

    def close(self) -> None:
        """Disconnect, stop the demo gateway and the quote workers (idempotent)."""
        with contextlib.suppress(Exception):
            self.recorder.stop()
        for part in (self.events, self.portfolio, self.orders):
            with contextlib.suppress(Exception):
                part.close()
        with contextlib.suppress(Exception):
            self.connection.close()
        with contextlib.suppress(Exception):
            self.demo.stop()
        with contextlib.suppress(Exception):
            self.quotes.close()
        self.store.close()


def build_services(settings: Settings | None = None) -> Services:
    """A complete, independent set of services (not the singleton); its recorder runs."""
    settings = settings or Settings.load()
    loop = get_loop_thread()
    connection = IBKRConnection(settings, loop)
    ibkr = IBKRQuoteProvider(connection)
    yahoo = YahooProvider(settings)
    quotes = QuoteManager([yahoo, AlphaVantageProvider(settings)], settings, ibkr=ibkr)
    demo = DemoGateway(profile=settings.demo_profile or None)
    watchlist = Watchlist(settings.watchlist_file)
    portfolio = PortfolioService(connection)
    store = HistoryStore.open(settings.history_store_path)
    history = HistoryService(
        yahoo,
        settings,
        ibkr_history=ibkr.ibkr_history,
        store=store,
        daily_sources=lambda: live_daily_sources(
            connection.ib_ready(),
            on_demo(demo, connection),
            ibkr.history_bars,
            settings.provider_timeout,
        ),
    )
    recorder = Recorder(
        store,
        connection,
        portfolio,
        settings,
        history=history,
        is_demo=lambda: on_demo(demo, connection),
        replay_symbols=lambda: [*watchlist.symbols(), "SPY"],
        contract_bars=ibkr.contract_daily_bars,
    )
    orders = OrderService(connection, settings)
    services = Services(
        settings=settings,
        loop=loop,
        connection=connection,
        ibkr=ibkr,
        quotes=quotes,
        history=history,
        portfolio=portfolio,
        orders=orders,
        watchlist=watchlist,
        demo=demo,
        store=store,
        recorder=recorder,
        events=CoreEvents(connection, orders.book),
    )
    watchlist.validator = services.validate_symbol
    recorder.start()
    return services


_singleton: Services | None = None
_singleton_lock = threading.Lock()
_atexit_registered = False


def get_services(settings: Settings | None = None) -> Services:
    """The process-wide services, built on first call (``settings`` only matters then)."""
    global _singleton, _atexit_registered
    with _singleton_lock:
        if _singleton is None:
            _singleton = build_services(settings)
            if not _atexit_registered:
                atexit.register(reset_services)
                _atexit_registered = True
        return _singleton


def reset_services() -> None:
    """Close the singleton (disconnect, stop the demo); the next ``get_services`` rebuilds."""
    global _singleton
    with _singleton_lock:
        services, _singleton = _singleton, None
    if services is not None:
        services.close()
