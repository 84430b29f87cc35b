"""Price history for charts: IBKR when it has bars, else Yahoo, cached per (symbol, range)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from ibkr_core.providers.base import IbkrHistory
from ibkr_core.providers.yahoo import HISTORY_RANGES
from ibkr_core.quote import QuoteSource
from ibkr_core.settings import Settings

log = logging.getLogger(__name__)

RANGE_KEYS = tuple(HISTORY_RANGES)


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
    ) -> None:
        self._yahoo = yahoo
        self._ttl = settings.history_cache_ttl
        self._ibkr_history = ibkr_history
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._cache: dict[tuple[str, str], _Entry] = {}

    def bars(self, symbol: str, range_key: str) -> tuple[pd.DataFrame, QuoteSource]:
        """OHLCV bars (columns open, high, low, close, volume) and where they came from.

        Provider errors (rate limit, outage) propagate and are not cached.
        """
        if range_key not in HISTORY_RANGES:
            raise ValueError(f"unknown range {range_key!r}; use one of {', '.join(RANGE_KEYS)}")
        key = (symbol.strip().upper(), range_key)
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
