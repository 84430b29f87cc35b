"""IBKR as a quote provider: streaming ``reqMktData`` lines read as snapshots.

``MarketDataRegistry`` (loop thread only) keeps one streaming line per symbol, qualifies
new symbols first, falls back to delayed data where the account isn't entitled, restores
lines after a reconnect or a 1101, and drops lines nobody asked for in a while so we stay
under IBKR's 100-line limit. Each quote carries its line's state (``data_state.LineState``):
live, delayed, frozen after the close, not updating (1100 / market data farm broken), or
no data during a competing live session (10197: the line is kept, never switched to
delayed, and its old prices are not shown).

``IBKRQuoteProvider`` is the quote manager's face of it (``is_available()``,
``fetch(symbols)``, non-blocking beyond a short bound) plus ``ibkr_history``.

``market_data(connection)`` is the connection's one registry (made on first use);
``get_market_data(connection, symbol)`` the seed's blocking one-quote call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ib_async import Contract, Ticker

from ibkr_core import ib_requests
from ibkr_core.companions import Companion
from ibkr_core.connection_errors import (
    IBKRError,
    NotConnectedError,
    UnknownSymbolError,
    describe_error,
    is_pacing_violation,
)
from ibkr_core.contracts import stock_contracts
from ibkr_core.data_state import COMPETING_SESSION_TEXT, LineState
from ibkr_core.quote import Quote, QuoteSource, clean
from ibkr_core.symbols import normalize_symbol
from ibkr_core.tws_codes import (
    COMPETING_SESSION,
    CONNECTIVITY_RESTORED_DATA_LOST,
    DELAYED_NOT_ENABLED,
    DELAYED_SHOWN,
    HISTORICAL_DATA_ERROR,
    MAX_TICKERS,
    NO_SECURITY_DEFINITION,
    NOT_ENTITLED_CODES,
    PARTIAL_DATA,
    TWS_CODES,
    farm_kind,
)

if TYPE_CHECKING:
    import pandas as pd

    from ibkr_core.connection import ConnectionStatus, IBKRConnection

__all__ = [
    "HISTORY_RANGES",
    "IBKRQuoteProvider",
    "MarketDataRegistry",
    "get_market_data",
    "market_data",
    "ticker_quote",
]

log = logging.getLogger(__name__)

SOURCE_BY_TYPE = {
    1: QuoteSource.IBKR_LIVE,
    2: QuoteSource.IBKR_FROZEN,
    3: QuoteSource.IBKR_DELAYED,
    4: QuoteSource.IBKR_DELAYED,  # delayed-frozen: the price is delayed first of all
}

# range key -> (durationStr, barSizeSetting)
HISTORY_RANGES: dict[str, tuple[str, str]] = {
    "1D": ("1 D", "1 min"),
    "5D": ("5 D", "5 mins"),
    "1M": ("1 M", "1 hour"),  # same bars as the Yahoo fallback
    "6M": ("6 M", "1 day"),
    "1Y": ("1 Y", "1 day"),
}

LINE_STATE_BY_TYPE = {
    1: LineState.LIVE,
    2: LineState.FROZEN,
    3: LineState.DELAYED,
    4: LineState.DELAYED_FROZEN,
}

WAITING_FOR_TICK = "waiting for the first IBKR tick"


class LineSubscription(StrEnum):
    """Where a market-data line is in its life: qualifying its contract, streaming, or
    failed (retried after ``retry_at``); "new" also after a session drop."""

    NEW = "new"
    QUALIFYING = "qualifying"
    STREAMING = "streaming"
    FAILED = "failed"


@dataclass
class _Line:
    key: str
    symbol: str
    contract: Contract | None = None
    ticker: Ticker | None = None
    state: LineSubscription = LineSubscription.NEW
    error: str | None = None
    code: int | None = None  # TWS's code behind ``error``, when TWS said why
    note: str | None = None
    last_wanted: float = 0.0
    retry_at: float = 0.0
    delayed_tried: bool = False
    task: asyncio.Task | None = None
    first_tick_waited: bool = False  # a reader already waited once for its first tick
    blocked_since: datetime | None = None  # 10197 arrived (data stopped) at this time


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def ticker_quote(symbol: str, ticker: Ticker, time_zone: str | None = None) -> Quote:
    """Map a ticker to a Quote: NaN/-1 -> None, source and line state from its
    marketDataType, and its time from the last trade's own timestamp (tick 45, or 88 for
    delayed data) where TWS sent one: a frozen quote of the close is as old as the close,
    not as new as its arrival."""
    delayed = ticker.marketDataType in (3, 4)
    trade_time = _utc(ticker.delayedLastTimestamp if delayed else ticker.lastTimestamp)
    trade_time = trade_time or _utc(ticker.lastTimestamp or ticker.delayedLastTimestamp)
    return Quote(
        symbol=symbol,
        source=SOURCE_BY_TYPE.get(ticker.marketDataType, QuoteSource.IBKR_LIVE),
        last=clean(ticker.last),
        bid=clean(ticker.bid),
        ask=clean(ticker.ask),
        volume=clean(ticker.volume),
        high=clean(ticker.high),
        low=clean(ticker.low),
        previous_close=clean(ticker.close),
        provider_time=trade_time or _utc(ticker.time),
        line_state=str(LINE_STATE_BY_TYPE.get(ticker.marketDataType, LineState.LIVE)),
        last_trade_time=trade_time,
        time_zone=time_zone,
    )


def _has_price(q: Quote) -> bool:
    return any(v is not None for v in (q.last, q.bid, q.ask, q.previous_close))


class MarketDataRegistry:
    """Streaming market-data lines by symbol. Every method runs on the loop thread."""

    def __init__(
        self,
        connection: IBKRConnection,
        *,
        idle_after: float = 120.0,
        max_lines: int = 90,
        failed_retry_after: float = 300.0,
    ) -> None:
        self._conn = connection
        self.idle_after = idle_after
        self.max_lines = max_lines
        self.failed_retry_after = failed_retry_after
        self._lines: dict[str, _Line] = {}
        self._contracts = stock_contracts(connection)
        connection.connected_event += self._on_session_up
        connection.reconnected_event += self._on_session_up
        connection.disconnected_event += self._on_disconnected
        connection.connectivity_event += self._on_connectivity
        connection.ib.errorEvent += self._on_error
        connection.ib.pendingTickersEvent += self._on_ticks
        self.resubscribed = 0  # lines re-requested after reconnect / 1101 (for tests, UI)

    # -- queries -----------------------------------------------------------------
    @property
    def ib(self) -> Any:
        return self._conn.ib

    def symbols(self) -> list[str]:
        return sorted(self._lines)

    def active_count(self) -> int:
        return sum(1 for line in self._lines.values() if line.ticker is not None)

    def line_info(self, symbol: str) -> dict[str, Any] | None:
        line = self._lines.get(_key(symbol))
        if line is None:
            return None
        return {
            "state": line.state,
            "error": line.error,
            "note": line.note,
            "delayed_tried": line.delayed_tried,
            "market_data_type": line.ticker.marketDataType if line.ticker else None,
        }

    # -- subscribing -------------------------------------------------------------
    async def ensure(self, symbols: list[str], wait: float = 0.0) -> None:
        """Subscribe missing symbols (qualifying first); wait at most ``wait`` seconds."""
        now = time.monotonic()
        pending: list[asyncio.Task] = []
        for symbol in symbols:
            key = _key(symbol)
            if not key:
                continue
            line = self._lines.get(key)
            if line is None:
                line = self._lines[key] = _Line(key=key, symbol=symbol)
            line.last_wanted = now
            if (
                line.state in (LineSubscription.NEW, LineSubscription.FAILED)
                and now >= line.retry_at
            ):
                self._start(line)
            if line.task is not None and not line.task.done():
                pending.append(line.task)
        self._evict_idle(now)
        if pending and wait > 0:
            await asyncio.wait(pending, timeout=wait)

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        out: dict[str, Quote] = {}
        for symbol in symbols:
            line = self._lines.get(_key(symbol))
            if line is None:
                out[symbol] = Quote.failed(symbol, "not subscribed")
            elif line.ticker is None:
                message = line.error or (
                    "IBKR connection lost: resubscribing"
                    if not self._conn.ib_ready()
                    else "subscribing to IBKR market data"
                )
                out[symbol] = Quote.failed(symbol, message, code=line.code)
            else:
                out[symbol] = self._line_quote(line, line.ticker)
        frozen = any(
            ln.ticker is not None and ln.ticker.marketDataType in (2, 4)
            for ln in self._lines.values()
        )
        if frozen != self._conn.status().market_closed:
            self._conn.note_market_closed(frozen)
        return out

    def _line_quote(self, line: _Line, ticker: Ticker) -> Quote:
        """The line's quote with what the user must know: no data during a competing
        session (never its stale prices), not updating during 1100 / a broken farm."""
        quote = ticker_quote(line.symbol, ticker, self._contracts.time_zone(line.symbol))
        if line.blocked_since is not None:
            return replace(
                Quote.failed(line.symbol, _competing_text(), code=COMPETING_SESSION),
                line_state=str(LineState.COMPETING_SESSION),
            )
        if line.error:
            return quote.with_error(line.error, line.code)
        if not _has_price(quote):
            return replace(quote.with_error(WAITING_FOR_TICK), line_state=str(LineState.WAITING))
        if quote.line_state in (LineState.LIVE, LineState.DELAYED):
            why = self._stall_reason()
            if why:
                return replace(quote, line_state=str(LineState.STALLED), state_note=why)
        return quote

    def _stall_reason(self) -> str | None:
        status = self._conn.status()
        if status.degraded:
            return "TWS lost IBKR (1100)"
        for farm, code in status.broken_farms:
            if farm_kind(code) == "market data":
                return f"data farm {farm} broken ({code})"
        return None

    def _update_competing(self) -> None:
        active = any(ln.blocked_since is not None for ln in self._lines.values())
        if active != self._conn.status().competing_session:
            self._conn.note_competing_session(active)

    async def first_quote(self, contract_or_symbol: Contract | str, timeout: float) -> Quote:
        """Subscribe one symbol and wait for its first priced tick (or ``timeout``)."""
        symbol = (
            contract_or_symbol.symbol
            if isinstance(contract_or_symbol, Contract)
            else str(contract_or_symbol)
        )
        key = _key(symbol)
        deadline = time.monotonic() + timeout
        line = self._lines.get(key)
        if isinstance(contract_or_symbol, Contract) and contract_or_symbol.conId:
            if line is None:
                line = self._lines[key] = _Line(key=key, symbol=symbol)
            line.contract = line.contract or contract_or_symbol
        if line is not None and line.state == LineSubscription.FAILED:
            line.retry_at = 0.0  # an explicit request: try again now
        await self.ensure([symbol], wait=timeout)
        line = self._lines[key]
        if line.state == LineSubscription.FAILED and line.error and "Unknown symbol" in line.error:
            raise UnknownSymbolError(symbol)
        while time.monotonic() < deadline:
            quote = self.quotes([symbol])[symbol]
            if _has_price(quote) or line.state == LineSubscription.FAILED or line.blocked_since:
                return quote
            await asyncio.sleep(0.05)
        return self.quotes([symbol])[symbol]

    async def wait_first_ticks(self, symbols: list[str], timeout: float) -> None:
        """Wait (at most ``timeout``) until every cold line among ``symbols`` has its
        first priced tick or has failed. A line is waited for once: one that never
        ticks (a closed market) doesn't slow every later read."""
        deadline = time.monotonic() + timeout
        cold = [
            line
            for s in symbols
            if (line := self._lines.get(_key(s))) is not None
            and not line.first_tick_waited
            and line.state != LineSubscription.FAILED
        ]
        while cold and time.monotonic() < deadline:
            if line_task := [ln.task for ln in cold if ln.task is not None and not ln.task.done()]:
                await asyncio.wait(line_task, timeout=max(0.0, deadline - time.monotonic()))
            quotes = self.quotes([ln.symbol for ln in cold])
            cold = [
                ln
                for ln in cold
                if ln.state != LineSubscription.FAILED
                and not _has_price(quotes[ln.symbol])
                and not ln.error
            ]
            if cold:
                await asyncio.sleep(0.02)
        for s in symbols:
            line = self._lines.get(_key(s))
            if line is not None:
                line.first_tick_waited = True

    def _start(self, line: _Line) -> None:
        if line.task is not None and not line.task.done():
            return
        line.state = LineSubscription.QUALIFYING
        line.task = asyncio.get_running_loop().create_task(self._subscribe(line))

    async def _subscribe(self, line: _Line) -> None:
        try:
            if line.contract is None:
                line.contract = await self._contracts.qualify(line.symbol)
        except UnknownSymbolError as exc:
            self._fail(line, str(exc), retry_after=self.failed_retry_after * 2)
            return
        except (NotConnectedError, TimeoutError, ConnectionError) as exc:
            line.state = LineSubscription.NEW
            line.error = f"IBKR lookup of {line.symbol} failed: {exc or type(exc).__name__}"
            line.code = None
            line.retry_at = time.monotonic() + 5.0
            return
        if self._lines.get(line.key) is not line:
            return  # evicted while qualifying
        self._request(line)

    def _request(self, line: _Line) -> None:
        if line.contract is None:
            line.state = LineSubscription.NEW
            return
        if not self.ib.isConnected():
            line.state = LineSubscription.NEW  # restored by _on_session_up
            line.ticker = None
            return
        full = line.ticker is None and self.active_count() >= self.max_lines
        if full and not self._evict_lru(exclude=line):
            self._fail(line, describe_error(MAX_TICKERS), retry_after=10.0)
            return
        line.ticker = self.ib.reqMktData(line.contract)
        line.state = LineSubscription.STREAMING
        line.error = line.code = None

    def _cancel(self, line: _Line) -> None:
        if line.ticker is not None and line.contract is not None and self.ib.isConnected():
            with contextlib.suppress(Exception):
                self.ib.cancelMktData(line.contract)
        line.ticker = None

    def _fail(self, line: _Line, message: str, retry_after: float, code: int | None = None) -> None:
        self._cancel(line)
        line.state = LineSubscription.FAILED
        line.error = message
        line.code = code
        line.retry_at = time.monotonic() + retry_after

    def _drop(self, line: _Line) -> None:
        self._cancel(line)
        if line.task is not None and not line.task.done():
            line.task.cancel()
        self._lines.pop(line.key, None)

    def _evict_idle(self, now: float) -> None:
        for line in list(self._lines.values()):
            if now - line.last_wanted > self.idle_after:
                log.debug("dropping idle market data line %s", line.key)
                self._drop(line)

    def _evict_lru(self, exclude: _Line) -> bool:
        active = [ln for ln in self._lines.values() if ln.ticker is not None and ln is not exclude]
        if not active:
            return False
        oldest = min(active, key=lambda ln: ln.last_wanted)
        if oldest.last_wanted >= exclude.last_wanted:
            return False  # everything open was wanted as recently: don't thrash
        self._drop(oldest)
        return True

    # -- events ------------------------------------------------------------------
    def _line_for(self, req_id: int, contract: Any) -> _Line | None:
        ticker = ib_requests.ticker_of(self.ib, req_id)
        for line in self._lines.values():
            if ticker is not None and line.ticker is ticker:
                return line
        con_id = getattr(contract, "conId", 0)
        if con_id:
            for line in self._lines.values():
                if line.contract is not None and line.contract.conId == con_id:
                    return line
        return None

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if req_id < 0:
            return
        line = self._line_for(req_id, contract)
        if line is None or line.state != LineSubscription.STREAMING:
            return
        if code == COMPETING_SESSION:
            # Entitled, but another live session of this user holds the data: keep the
            # line (ticks resume when it ends); never switch to delayed behind its back.
            # This TCP batch's arrival time: ticks of a later batch mean data is back.
            line.blocked_since = _utc(ib_requests.message_time(self.ib)) or datetime.now(UTC)
            line.note = TWS_CODES[COMPETING_SESSION].message
            line.error, line.code = _competing_text(), COMPETING_SESSION
            self._conn.note_competing_session(True)
            log.info("%s: no market data during a competing live session", line.key)
            return
        if code in NOT_ENTITLED_CODES:
            if code == PARTIAL_DATA:
                line.note = describe_error(code, message)  # partial data: keep the stream
                return
            if not line.delayed_tried:
                # Type 3 = live where entitled, delayed elsewhere; session-wide.
                line.delayed_tried = True
                line.note = "not entitled to live data: switched to delayed"
                if self._conn.market_data_type in (1, 2):
                    self._conn.apply_market_data_type(3 if self._conn.market_data_type == 1 else 4)
                self._cancel(line)
                self._request(line)
                log.info("%s not entitled (%s): resubscribed with delayed data", line.key, code)
            else:
                self._fail(line, describe_error(code, message), self.failed_retry_after, code)
        elif code == DELAYED_NOT_ENABLED:
            self._fail(
                line,
                f"No IBKR market data for {line.symbol}: not subscribed and delayed data "
                f"is not enabled (IBKR {code})",
                self.failed_retry_after,
                code,
            )
        elif code == DELAYED_SHOWN:
            line.note = "delayed data (not subscribed to live)"  # delayed ticks follow
        elif code == MAX_TICKERS:
            self.max_lines = max(1, min(self.max_lines, self.active_count() - 1))
            self._fail(line, describe_error(code, message), 10.0, code)
        elif code == NO_SECURITY_DEFINITION:
            unknown = str(UnknownSymbolError(line.symbol))
            self._fail(line, unknown, self.failed_retry_after * 2, code)

    def _on_ticks(self, tickers: set[Ticker]) -> None:
        """Ticks on a line TWS had blocked (10197): the other session ended."""
        blocked = [ln for ln in self._lines.values() if ln.blocked_since is not None]
        if not blocked:
            return
        for line in blocked:
            ticker = line.ticker
            if ticker in tickers and ticker.time and _utc(ticker.time) > line.blocked_since:
                line.blocked_since = line.error = line.code = None
        self._update_competing()

    def _on_session_up(self, _status: ConnectionStatus) -> None:
        """A new session: every ticker is gone (ib_async reset its state)."""
        for line in self._lines.values():
            line.ticker = None
            if line.blocked_since is not None:  # TWS says again if still competing
                line.blocked_since = line.error = line.code = None
            if line.contract is not None and line.state in (
                LineSubscription.STREAMING,
                LineSubscription.NEW,
            ):
                self._request(line)
                self.resubscribed += 1

    def _on_disconnected(self, _status: ConnectionStatus, deliberate: bool) -> None:
        if deliberate:
            for line in list(self._lines.values()):
                self._drop(line)
            return
        for line in self._lines.values():
            line.ticker = None  # stale: ib_async dropped every ticker

    def _on_connectivity(self, code: int, _message: str) -> None:
        if code != CONNECTIVITY_RESTORED_DATA_LOST:
            return
        for line in self._lines.values():
            if line.state == LineSubscription.STREAMING and line.contract is not None:
                self._cancel(line)
                self._request(line)
                self.resubscribed += 1


market_data: Companion[MarketDataRegistry] = Companion(MarketDataRegistry)


def get_market_data(
    connection: IBKRConnection, contract_or_symbol: Contract | str, timeout: float | None = None
) -> dict[str, float | None]:
    """``{"last", "bid", "ask", "volume", "high", "low"}``, None where no tick yet.

    Subscribes a streaming line (kept in ``market_data(connection)``) and waits up to
    ``timeout`` for a first tick. Raises ``UnknownSymbolError`` for an unknown symbol."""
    timeout = connection.settings.request_timeout if timeout is None else timeout
    first = market_data(connection).first_quote(contract_or_symbol, timeout)
    return connection.run(first, timeout + 1).as_market_data()


def _key(symbol: str) -> str:
    return normalize_symbol(symbol)


def _competing_text() -> str:
    return f"{COMPETING_SESSION_TEXT}: close the other session"


class IBKRQuoteProvider:
    """Quote provider over IBKR streaming data (see the quote manager's protocol)."""

    name = "ibkr"

    def __init__(
        self,
        connection: IBKRConnection,
        *,
        subscribe_wait: float = 0.3,
        history_timeout: float | None = None,
    ) -> None:
        self._conn = connection
        self.subscribe_wait = subscribe_wait
        self.history_timeout = history_timeout
        self._history_cache: dict[tuple[str, str], tuple[float, pd.DataFrame]] = {}
        self._pacing_until = 0.0
        self._pacing_backoff = 0.0

    def is_available(self) -> bool:
        return self._conn.ib_ready()

    def fetch(self, symbols: list[str], first_tick_wait: float = 0.0) -> dict[str, Quote]:
        """Snapshots of the streaming lines; new symbols are subscribed on the way.

        With ``first_tick_wait`` (a caller that asked for one quote and will wait), a new
        symbol's first read waits for its first tick (at most that long, once per line),
        so a connected session answers a cold quote itself instead of "no data yet";
        without it the read returns within ``subscribe_wait``. A symbol still without
        data (or not entitled, unknown, ...) comes back as a Quote with ``error`` set, so
        the manager can fall back."""
        symbols = list(dict.fromkeys(symbols))
        if not self.is_available():
            return {s: Quote.failed(s, "not connected to IBKR", expected=True) for s in symbols}
        registry = market_data(self._conn)

        async def _fetch() -> dict[str, Quote]:
            started = time.monotonic()
            await registry.ensure(symbols, wait=self.subscribe_wait)
            left = first_tick_wait - (time.monotonic() - started)
            if left > 0:
                await registry.wait_first_ticks(symbols, left)
            return registry.quotes(symbols)

        budget = max(self.subscribe_wait, first_tick_wait) + 1.0
        try:
            return self._conn.run(_fetch(), timeout=budget)
        except (TimeoutError, IBKRError) as exc:
            message = str(exc) or "IBKR did not answer in time"
            return {s: Quote.failed(s, message) for s in symbols}

    def ibkr_history(self, symbol: str, range_key: str) -> pd.DataFrame | None:
        """Bars for a chart range ("1D", "5D", "1M", "6M", "1Y"): a DataFrame indexed by
        UTC time with open, high, low, close, volume; None when unavailable (not
        connected, unknown symbol, pacing back-off, timeout)."""
        if range_key not in HISTORY_RANGES:
            raise ValueError(f"unknown range {range_key!r}; use one of {list(HISTORY_RANGES)}")
        if not self.is_available():
            return None
        key = (_key(symbol), range_key)
        now = time.monotonic()
        cached = self._history_cache.get(key)
        if cached and now - cached[0] < 15.0:  # identical request within 15 s = pacing
            return cached[1].copy()
        if now < self._pacing_until:
            return None
        timeout = self.history_timeout or self._conn.settings.request_timeout * 2
        duration, bar_size = HISTORY_RANGES[range_key]
        try:
            bars, pacing = self._conn.run(
                self._history_async(symbol, duration, bar_size, timeout), timeout + 2.0
            )
        except (TimeoutError, IBKRError):
            return None
        if pacing:
            self._pacing_backoff = min(max(15.0, self._pacing_backoff * 2), 600.0)
            self._pacing_until = time.monotonic() + self._pacing_backoff
            log.warning("IBKR pacing violation: history paused %.0f s", self._pacing_backoff)
            return None
        self._pacing_backoff = 0.0
        if not bars:
            return None
        frame = _bars_frame(bars)
        self._history_cache[key] = (time.monotonic(), frame)
        return frame.copy()

    def history_bars(self, symbol: str, duration: str, bar_size: str) -> pd.DataFrame | None:
        """Bars of any IBKR duration ("30 D", "2 Y") and bar size ending now (the history
        store asks for its missing tail with this). None when not connected; raises
        ``IBKRError`` / ``TimeoutError`` with a plain reason otherwise (unknown symbol,
        pacing back-off shared with ``ibkr_history``, no answer)."""
        if not self.is_available():
            return None
        if time.monotonic() < self._pacing_until:
            raise IBKRError("IBKR historical data pacing: requests paused for a while")
        timeout = self.history_timeout or self._conn.settings.request_timeout * 2
        bars, pacing = self._conn.run(
            self._history_async(symbol, duration, bar_size, timeout), timeout + 2.0
        )
        if pacing:
            self._pacing_backoff = min(max(15.0, self._pacing_backoff * 2), 600.0)
            self._pacing_until = time.monotonic() + self._pacing_backoff
            raise IBKRError("IBKR refused: historical data pacing violation (162)")
        return _bars_frame(bars) if bars else None

    def contract_daily_bars(
        self, con_id: int, sec_type: str, exchange: str, duration: str
    ) -> pd.DataFrame | None:
        """Daily bars of one contract by its conId (an option's own, not its underlying's;
        FX by midpoint as IBKR requires). None when not connected or IBKR has none; raises
        ``IBKRError`` / ``TimeoutError`` like ``history_bars``."""
        if not self.is_available():
            return None
        if time.monotonic() < self._pacing_until:
            raise IBKRError("IBKR historical data pacing: requests paused for a while")
        timeout = self.history_timeout or self._conn.settings.request_timeout * 2

        contract = Contract(conId=con_id, secType=sec_type, exchange=exchange or "SMART")
        bars, pacing = self._conn.run(
            self._history_async("", duration, "1 day", timeout, contract=contract), timeout + 2.0
        )
        if pacing:
            self._pacing_backoff = min(max(15.0, self._pacing_backoff * 2), 600.0)
            self._pacing_until = time.monotonic() + self._pacing_backoff
            raise IBKRError("IBKR refused: historical data pacing violation (162)")
        return _bars_frame(bars) if bars else None

    async def _history_async(
        self,
        symbol: str,
        duration: str,
        bar_size: str,
        timeout: float,
        contract: Contract | None = None,
    ) -> tuple[list[Any], bool]:
        contract = contract or await stock_contracts(self._conn).qualify(symbol)
        try:
            bars = await ib_requests.historical_bars(
                self._conn.ib,
                contract,
                duration=duration,
                bar_size=bar_size,
                what_to_show="MIDPOINT" if contract.secType == "CASH" else "TRADES",
                timeout=timeout,
            )
        except ib_requests.RequestFailedError as exc:
            # TWS refused (162, 321, ...): no bars, as ib_async answers; a pacing
            # violation (162) also pauses the history requests for a while.
            return [], exc.code == HISTORICAL_DATA_ERROR and is_pacing_violation(exc.text)
        except ib_requests.RequestTimeoutError:
            return [], False  # cancelled at IBKR; no bars, as ib_async answers a timeout
        return bars, False


def _bars_frame(bars: list[Any]) -> pd.DataFrame:
    import pandas as pd

    def as_time(d: Any) -> datetime:
        if isinstance(d, datetime):
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)

    frame = pd.DataFrame(
        {
            "open": [clean(b.open) for b in bars],
            "high": [clean(b.high) for b in bars],
            "low": [clean(b.low) for b in bars],
            "close": [clean(b.close) for b in bars],
            "volume": [clean(b.volume) for b in bars],
        },
        index=pd.DatetimeIndex([as_time(b.date) for b in bars], name="date"),
        dtype="float64",
    )
    return frame
