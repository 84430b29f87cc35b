"""Yahoo Finance through yfinance.

Why ``Ticker.history`` per symbol rather than ``yf.download``: in yfinance 1.7,
``download`` also sends one chart request per ticker (in threads), but it swallows
every per-ticker exception, ``YFRateLimitError`` included, and it drops the chart
metadata that carries Yahoo's own ``regularMarketTime``. ``history`` propagates the
rate limit and fills ``get_history_metadata()``. A fresh ``Ticker`` per fetch avoids
its stale ``fast_info`` cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import yfinance as yf
from yfinance.exceptions import (
    YFDataException,
    YFRateLimitError,
    YFTickerMissingError,
)

from ibkr_core.providers.base import (
    UNKNOWN_SYMBOL,
    ProviderRateLimited,
    ProviderUnavailable,
)
from ibkr_core.quote import Quote, QuoteSource, clean
from ibkr_core.settings import Settings
from ibkr_core.symbols import normalize_symbol

log = logging.getLogger(__name__)

# yfinance hides its exceptions by default: an unknown ticker and a network outage then
# look the same (an empty frame). With them raised, only Yahoo's own answer for a ticker
# (YFTickerMissingError) means "unknown symbol"; an empty frame means "no data".
yf.config.debug.hide_exceptions = False
NO_DATA = "no data from Yahoo (not an answer about the symbol)"

# Quote field -> (chart-metadata key, daily-bar column). Metadata wins; the last daily
# bar is the fallback when Yahoo leaves a metadata key out.
QUOTE_FIELDS: dict[str, tuple[str, str]] = {
    "last": ("regularMarketPrice", "Close"),
    "high": ("regularMarketDayHigh", "High"),
    "low": ("regularMarketDayLow", "Low"),
    "volume": ("regularMarketVolume", "Volume"),
}
PROVIDER_TIME_KEY = "regularMarketTime"
PREVIOUS_CLOSE_KEY = "previousClose"  # only present for some ranges; else bar before last

# range key -> (period, interval); 1-minute bars only go 8 days back.
HISTORY_RANGES: dict[str, tuple[str, str]] = {
    "1D": ("1d", "1m"),
    "5D": ("5d", "5m"),
    "1M": ("1mo", "1h"),
    "6M": ("6mo", "1d"),
    "1Y": ("1y", "1d"),
}
HISTORY_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
}

MAX_PARALLEL_REQUESTS = 8


class YahooProvider:
    name = QuoteSource.YAHOO
    configured = True

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.provider_timeout

    def __repr__(self) -> str:
        return "YahooProvider()"

    def fetch(self, symbols: list[str]) -> dict[str, Quote]:
        if not symbols:
            return {}
        workers = min(MAX_PARALLEL_REQUESTS, len(symbols))
        with ThreadPoolExecutor(workers, thread_name_prefix="yahoo") as pool:
            outcomes = dict(zip(symbols, pool.map(self._fetch_one_safely, symbols), strict=True))
        return _merge_outcomes(outcomes)

    def fetch_history(self, symbol: str, range_key: str) -> pd.DataFrame:
        """OHLCV bars (lower-case columns, tz-aware index); empty for an unknown symbol."""
        try:
            period, interval = HISTORY_RANGES[range_key]
        except KeyError:
            choices = ", ".join(HISTORY_RANGES)
            raise ValueError(f"unknown range {range_key!r}; use one of {choices}") from None
        try:
            with _yahoo_errors():
                frame = yf.Ticker(_yahoo_symbol(symbol)).history(
                    period=period, interval=interval, actions=False, timeout=self._timeout
                )
        except YFTickerMissingError:
            frame = None
        return _normalise_bars(frame)

    def _fetch_one_safely(self, symbol: str) -> Quote | Exception:
        try:
            return self._fetch_one(symbol)
        except (ProviderRateLimited, ProviderUnavailable) as exc:
            return exc

    def _fetch_one(self, symbol: str) -> Quote:
        ticker = yf.Ticker(_yahoo_symbol(symbol))
        try:
            with _yahoo_errors():
                bars = ticker.history(
                    period="5d",
                    interval="1d",
                    auto_adjust=False,
                    actions=False,
                    timeout=self._timeout,
                )
        except YFTickerMissingError:  # Yahoo answered: it has no such ticker
            return Quote.failed(symbol, UNKNOWN_SYMBOL, QuoteSource.YAHOO, unknown_symbol=True)
        bars = _valid_bars(bars)
        if bars.empty:
            return Quote.failed(symbol, NO_DATA, QuoteSource.YAHOO)
        return to_quote(symbol, bars, ticker.get_history_metadata() or {})


def _yahoo_symbol(symbol: str) -> str:
    """Yahoo spells share classes with a dash: IBKR's "BRK B" (and "BRK.B") -> "BRK-B"."""
    key = normalize_symbol(symbol)
    head, space, tail = key.partition(" ")
    return f"{head}-{tail}" if space and len(tail) == 1 else key


@contextmanager
def _yahoo_errors() -> Iterator[None]:
    """Map yfinance's and the network's exceptions onto provider errors."""
    try:
        yield
    except YFRateLimitError:
        raise ProviderRateLimited("Yahoo Finance rate limit (HTTP 429)") from None
    except (YFDataException, OSError) as exc:
        raise ProviderUnavailable(f"Yahoo Finance unavailable: {exc}") from None


def _merge_outcomes(outcomes: dict[str, Quote | Exception]) -> dict[str, Quote]:
    quotes = {s: o for s, o in outcomes.items() if isinstance(o, Quote)}
    errors = [o for o in outcomes.values() if isinstance(o, Exception)]
    for error in errors:
        if isinstance(error, ProviderRateLimited):
            raise ProviderRateLimited(str(error), error.retry_after, partial=quotes)
    if errors and not quotes:
        raise errors[0]
    for symbol, outcome in outcomes.items():
        if isinstance(outcome, Exception):
            quotes[symbol] = Quote.failed(symbol, str(outcome), QuoteSource.YAHOO)
    return quotes


def _valid_bars(bars: pd.DataFrame | None) -> pd.DataFrame:
    if bars is None or bars.empty or "Close" not in bars.columns:
        return pd.DataFrame()
    return bars[bars["Close"].notna()]


def to_quote(symbol: str, bars: pd.DataFrame, meta: Mapping[str, Any]) -> Quote:
    """Map one symbol's daily bars plus chart metadata into a Quote."""
    last_bar = bars.iloc[-1]
    values = {
        field: _first_number(meta.get(meta_key), last_bar.get(column))
        for field, (meta_key, column) in QUOTE_FIELDS.items()
    }
    previous = bars["Close"].iloc[-2] if len(bars) > 1 else None
    return Quote(
        symbol=symbol,
        source=QuoteSource.YAHOO,
        previous_close=_first_number(meta.get(PREVIOUS_CLOSE_KEY), previous),
        provider_time=_provider_time(meta.get(PROVIDER_TIME_KEY), bars.index[-1]),
        **values,
    )


def _first_number(*candidates: Any) -> float | None:
    for value in candidates:
        try:
            number = clean(value)
        except (TypeError, ValueError):
            continue
        if number is not None:
            return number
    return None


def _provider_time(market_time: Any, last_bar_time: Any) -> datetime | None:
    """Yahoo's regularMarketTime (epoch or Timestamp), else the last bar's own time."""
    for value in (market_time, last_bar_time):
        if value is None:
            continue
        is_epoch = isinstance(value, int | float)
        stamp = pd.Timestamp(value, unit="s") if is_epoch else pd.Timestamp(value)
        if pd.isna(stamp):
            continue
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        return stamp.to_pydatetime()
    return None


def _normalise_bars(frame: pd.DataFrame | None) -> pd.DataFrame:
    columns = list(HISTORY_COLUMNS.values())
    if frame is None or frame.empty or not set(HISTORY_COLUMNS) <= set(frame.columns):
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], tz=UTC))
    bars = frame[list(HISTORY_COLUMNS)].rename(columns=HISTORY_COLUMNS)
    bars = bars[bars["close"].notna()]
    index = pd.DatetimeIndex(bars.index)
    bars.index = index.tz_localize(UTC) if index.tz is None else index
    return bars
