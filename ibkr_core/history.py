"""Price history: chart bars (IBKR when it has bars, else Yahoo, cached per symbol and
range) and daily series for Explore, read from the local store first so only the missing
tail is asked of the provider (IBKR's pacing makes re-asking a real failure)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import pandas as pd

from ibkr_core.providers.base import IbkrHistory
from ibkr_core.providers.yahoo import HISTORY_RANGES
from ibkr_core.quote import QuoteSource
from ibkr_core.settings import Settings
from ibkr_core.store import Coverage, HistoryStore
from ibkr_core.symbols import normalize_symbol

log = logging.getLogger(__name__)

RANGE_KEYS = tuple(HISTORY_RANGES)
DAILY = "1 day"
# Explore always loads a year and a week (returns by period need the close a year ago,
# whatever weekday it fell on); the demo warm-up loads the same, so they share requests.
YEAR_AND_A_WEEK = 372
MARKET_TZ = ZoneInfo("America/New_York")
DAILY_CHART_DAYS = {"6M": 183, "1Y": 366}  # the chart's daily ranges, read via the store
# Explore's ranges: calendar days back from today (YTD: from January 1st).
LOOKBACK_DAYS: dict[str, int | None] = {
    "1M": 31,
    "3M": 92,
    "6M": 183,
    "YTD": None,
    "1Y": 366,
    "2Y": 731,
    "5Y": 1827,
}


def range_start(key: str, today: date) -> date:
    """First day of an Explore range ("1M" ... "5Y", "YTD") ending `today`."""
    if key not in LOOKBACK_DAYS:
        raise ValueError(f"unknown range {key!r}; use one of {', '.join(LOOKBACK_DAYS)}")
    days = LOOKBACK_DAYS[key]
    return date(today.year, 1, 1) if days is None else today - timedelta(days=days)


DailyFetch = Callable[[str, date, date], "pd.DataFrame | None"]
"""``fetch(symbol, start, today)``: daily bars from `start` to today; None when the
source is not available now (not connected); raises with a plain reason otherwise."""


@dataclass(frozen=True)
class DailySource:
    name: str  # as stored and shown: "IBKR", "Simulator", "Yahoo"
    fetch: DailyFetch


@dataclass(frozen=True)
class DailySeries:
    """Daily bars of one symbol over a range, and how they were obtained."""

    symbol: str
    frame: pd.DataFrame  # open..volume, indexed by the bar's date (UTC midnight)
    source: str | None  # None: no source had bars
    from_store: int = 0  # bars read from the store without asking anyone
    fetched: int = 0  # bars the provider sent
    requests: int = 0  # provider requests issued
    problems: list[str] = field(default_factory=list)  # why something is missing

    @property
    def ok(self) -> bool:
        return not self.frame.empty


def ibkr_duration(start: date, today: date) -> str:
    """The IBKR durationStr covering `start`..`today` ("N D" up to a year, then "N Y")."""
    days = max(1, (today - start).days + 1)
    return f"{days} D" if days <= 365 else f"{-(-days // 365)} Y"


def daily_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Daily bars re-indexed by their trading date at UTC midnight, whatever time zone the
    provider stamped them in (Yahoo: New York midnight; IBKR: a date)."""
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # the wall-clock date where the bar was stamped
    out = frame.copy()
    out.index = index.normalize().tz_localize(UTC).rename("date")
    return out[~out.index.duplicated(keep="last")].sort_index()


class HistoryProvider(Protocol):
    def fetch_history(self, symbol: str, range_key: str) -> pd.DataFrame: ...


@dataclass(frozen=True)
class _Entry:
    frame: pd.DataFrame
    source: QuoteSource
    expires: float


class HistoryService:
    def __init__(
        self,
        yahoo: HistoryProvider,
        settings: Settings,
        ibkr_history: IbkrHistory | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        store: HistoryStore | None = None,
        daily_sources: Callable[[], list[DailySource]] | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._yahoo = yahoo
        self._ttl = settings.history_cache_ttl
        self._ibkr_history = ibkr_history
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._cache: dict[tuple[str, str], _Entry] = {}
        self.store = store if store is not None else HistoryStore.absent()
        self.daily_sources = daily_sources or (lambda: [])
        self._today = today or (lambda: datetime.now(MARKET_TZ).date())
        self._memory: dict[tuple[str, str, date], tuple[float, pd.DataFrame]] = {}

    def bars(self, symbol: str, range_key: str) -> tuple[pd.DataFrame, QuoteSource]:
        """OHLCV bars (columns open, high, low, close, volume) and where they came from.

        Provider errors (rate limit, outage) propagate and are not cached.
        """
        if range_key not in HISTORY_RANGES:
            raise ValueError(f"unknown range {range_key!r}; use one of {', '.join(RANGE_KEYS)}")
        if range_key in DAILY_CHART_DAYS and self.store.available:
            # daily chart ranges come from the store like Explore's (only the tail fetched)
            series = self.daily(symbol, self.today() - timedelta(days=DAILY_CHART_DAYS[range_key]))
            if series.ok:
                source = QuoteSource.YAHOO if series.source == "Yahoo" else QuoteSource.IBKR_LIVE
                return series.frame.copy(), source
        key = (normalize_symbol(symbol), range_key)
        with self._key_lock(key):  # concurrent callers of one key share one fetch
            entry = self._fresh(key)
            if entry is None or entry.source == QuoteSource.YAHOO:
                # Cached Yahoo bars give way as soon as IBKR (connected since) has bars.
                loaded = self._load(*key, yahoo_fallback=entry is None)
                if loaded is not None:
                    entry = _Entry(*loaded, self._clock() + self._ttl)
                    with self._lock:
                        self._cache[key] = entry
        assert entry is not None
        return entry.frame.copy(), entry.source

    def _key_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _fresh(self, key: tuple[str, str]) -> _Entry | None:
        with self._lock:
            entry = self._cache.get(key)
        return entry if entry is not None and entry.expires > self._clock() else None

    def _load(
        self, symbol: str, range_key: str, yahoo_fallback: bool
    ) -> tuple[pd.DataFrame, QuoteSource] | None:
        frame = self._from_ibkr(symbol, range_key)
        if frame is not None:
            return frame, QuoteSource.IBKR_LIVE
        if not yahoo_fallback:
            return None
        return self._yahoo.fetch_history(symbol, range_key), QuoteSource.YAHOO

    def _from_ibkr(self, symbol: str, range_key: str) -> pd.DataFrame | None:
        if self._ibkr_history is None:
            return None
        try:
            frame = self._ibkr_history(symbol, range_key)
        except Exception:
            log.exception("IBKR history failed for %s %s; using Yahoo", symbol, range_key)
            return None
        return frame if isinstance(frame, pd.DataFrame) and not frame.empty else None

    # -- daily series (Explore, the equity curve's replay) --------------------------------

    def today(self) -> date:
        """The market's date today (New York), as the daily series see it."""
        return self._today()

    def daily(self, symbol: str, start: date, end: date | None = None) -> DailySeries:
        """Daily bars of `symbol` from `start` to `end` (default today): from the store,
        asking the first source that has the instrument only for what the store lacks
        (the missing tail, or everything when the range starts earlier than stored).
        Never raises: a failure is a ``problems`` entry, with stored bars still shown."""
        symbol = normalize_symbol(symbol)
        today = self._today()
        end = min(end or today, today)
        problems: list[str] = []
        sources = self.daily_sources()
        if not sources:
            problems.append("no source: not connected to IBKR and no fallback configured")
        for source in sources:
            with self._key_lock((symbol, f"daily:{source.name}")):
                series = self._daily_from(source, symbol, start, end, today, problems)
            if series is not None:
                return series
        empty = pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        empty.index = pd.DatetimeIndex([], tz=UTC, name="date")
        return DailySeries(symbol, empty, None, problems=problems)

    def _daily_from(
        self,
        source: DailySource,
        symbol: str,
        start: date,
        end: date,
        today: date,
        problems: list[str],
    ) -> DailySeries | None:
        store = self.store
        if not store.available:
            return self._daily_in_memory(source, symbol, start, end, today, problems)
        cov = store.coverage(symbol, DAILY, source.name)
        fetch_from = self._missing_from(cov, start, end, today)
        fetched = requests = 0
        if fetch_from is not None:
            requests = 1
            try:
                frame = source.fetch(symbol, fetch_from, today)
            except Exception as exc:
                log.info("%s daily bars for %s failed: %s", source.name, symbol, exc)
                problems.append(f"{source.name}: {exc}")
                frame = None
                if cov is None:
                    return None
            else:
                if frame is None:  # source not available now (e.g. disconnected)
                    if cov is None:
                        return None
                    problems.append(f"{source.name}: not available; showing stored bars")
                elif frame.empty and cov is None:
                    problems.append(f"{source.name}: no daily bars for {symbol}")
                    return None
            if frame is not None:
                frame = daily_index(frame) if not frame.empty else frame
                fetched = store.write_bars(symbol, DAILY, source.name, frame)
                covered_from = min(fetch_from, cov.covered_from) if cov else fetch_from
                if not frame.empty:  # "2 Y" answers more than asked: all of it is stored
                    covered_from = min(covered_from, frame.index[0].date())
                store.set_coverage(
                    symbol,
                    DAILY,
                    source.name,
                    Coverage(covered_from, today, datetime.now(UTC).replace(tzinfo=None)),
                )
        frame = store.read_bars(symbol, DAILY, source.name, start, end)
        if frame.empty:
            problems.append(f"{source.name}: no daily bars for {symbol} in this range")
            return None
        from_store = max(0, len(frame) - fetched)
        return DailySeries(symbol, frame, source.name, from_store, fetched, requests, problems)

    def _missing_from(
        self, cov: Coverage | None, start: date, end: date, today: date
    ) -> date | None:
        """The first day to ask the provider for, or None when the store covers it all.

        Today's bar is still forming: it is asked again once the TTL has passed."""
        if cov is None or start < cov.covered_from:
            return start
        if cov.covered_to >= end and (
            cov.covered_to < today
            or datetime.now(UTC).replace(tzinfo=None) - cov.fetched_at
            < timedelta(seconds=self._ttl)
        ):
            return None
        return cov.covered_to  # the last stored day again: it may have been partial

    def _daily_in_memory(
        self,
        source: DailySource,
        symbol: str,
        start: date,
        end: date,
        today: date,
        problems: list[str],
    ) -> DailySeries | None:
        """Without a store: the whole range each time, kept in memory for the TTL."""
        key = (symbol, source.name, start)
        with self._lock:
            cached = self._memory.get(key)
        if cached and cached[0] > self._clock():
            frame = cached[1]
            requests = 0
        else:
            requests = 1
            try:
                frame = source.fetch(symbol, start, today)
            except Exception as exc:
                problems.append(f"{source.name}: {exc}")
                return None
            if frame is None:
                return None
            frame = daily_index(frame) if not frame.empty else frame
            with self._lock:
                self._memory[key] = (self._clock() + self._ttl, frame)
        window = frame[
            (frame.index >= pd.Timestamp(start, tz=UTC))
            & (frame.index < pd.Timestamp(end + timedelta(days=1), tz=UTC))
        ]
        if window.empty:
            problems.append(f"{source.name}: no daily bars for {symbol}")
            return None
        fetched = len(window) if requests else 0
        return DailySeries(symbol, window, source.name, 0, fetched, requests, problems)


def ibkr_daily_source(name: str, history_bars: Callable[..., pd.DataFrame | None]) -> DailySource:
    """IBKR (or the simulated gateway, named "Simulator") as a daily source."""

    def fetch(symbol: str, start: date, today: date) -> pd.DataFrame | None:
        return history_bars(symbol, ibkr_duration(start, today), DAILY)

    return DailySource(name, fetch)


def yahoo_daily_source(timeout: float) -> DailySource:
    """Yahoo Finance daily bars by date range (yfinance's ``start``/``end``)."""

    def fetch(symbol: str, start: date, today: date) -> pd.DataFrame:
        import yfinance as yf

        from ibkr_core.providers.yahoo import _normalise_bars, _yahoo_errors

        with _yahoo_errors():
            frame = yf.Ticker(symbol).history(
                start=start.isoformat(),
                end=(today + timedelta(days=1)).isoformat(),
                interval="1d",
                actions=False,
                timeout=timeout,
            )
        bars = _normalise_bars(frame)
        if bars.empty:
            raise LookupError(f"Yahoo Finance has no daily bars for {symbol} (unknown symbol?)")
        return bars

    return DailySource("Yahoo", fetch)


def live_daily_sources(
    connected: bool,
    simulated: bool,
    history_bars: Callable[..., pd.DataFrame | None],
    timeout: float,
) -> list[DailySource]:
    """Daily sources in order: IBKR when connected (named "Simulator" on the demo
    gateway, whose prices are made up and never mixed with real ones), then Yahoo."""
    if connected and simulated:
        return [ibkr_daily_source("Simulator", history_bars)]
    sources = [ibkr_daily_source("IBKR", history_bars)] if connected else []
    return [*sources, yahoo_daily_source(timeout)]
