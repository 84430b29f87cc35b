"""Yahoo provider at the yfinance boundary: ``yfinance.Ticker`` replaced by a fake that
returns frames and metadata shaped like yfinance 1.7's, or raises its own exceptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import pandas as pd
import pytest
import yfinance
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
from yfinance.exceptions import (
    YFDataException,
    YFPricesMissingError,
    YFRateLimitError,
)
from yfinance.utils import empty_df

from ibkr_core.providers.base import ProviderRateLimited, ProviderUnavailable
from ibkr_core.providers.yahoo import HISTORY_RANGES, YahooProvider
from ibkr_core.quote import QuoteSource
from ibkr_core.settings import Settings

pytestmark = pytest.mark.timeout(10)

NY = "America/New_York"
MARKET_TIME = pd.Timestamp("2025-03-07 15:42:11", tz=NY)


def daily_bars(closes: list[float]) -> pd.DataFrame:
    """``Ticker.history(interval="1d", auto_adjust=False, actions=False)`` as 1.7 returns it."""
    index = pd.DatetimeIndex(
        pd.date_range("2025-03-03", periods=len(closes), freq="B", tz=NY), name="Date"
    )
    return pd.DataFrame(
        {
            "Open": [c - 1 for c in closes],
            "High": [c + 2 for c in closes],
            "Low": [c - 2 for c in closes],
            "Close": closes,
            "Adj Close": closes,
            "Volume": [1_000_000 + i for i in range(len(closes))],
        },
        index=index,
    )


def chart_meta(symbol: str, price: float) -> dict[str, Any]:
    """``get_history_metadata()`` after yfinance formatted it (times are Timestamps)."""
    return {
        "currency": "USD",
        "symbol": symbol,
        "exchangeName": "NMS",
        "instrumentType": "EQUITY",
        "regularMarketTime": MARKET_TIME,
        "exchangeTimezoneName": NY,
        "regularMarketPrice": price,
        "regularMarketDayHigh": price + 1.5,
        "regularMarketDayLow": price - 1.5,
        "regularMarketVolume": 43_210_987,
        "chartPreviousClose": 111.0,  # close before the 5-day range: not the previous close
        "dataGranularity": "1d",
        "range": "5d",
    }


class FakeTicker:
    """Per-symbol behaviour: (bars, meta) to return, or an exception to raise."""

    behaviour: ClassVar[dict[str, Any]] = {}
    created: ClassVar[list[str]] = []
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, symbol: str) -> None:
        self.ticker = symbol
        FakeTicker.created.append(symbol)
        self._meta: dict[str, Any] = {}

    def history(self, **kwargs: Any) -> pd.DataFrame:
        FakeTicker.calls.append({"symbol": self.ticker, **kwargs})
        outcome = FakeTicker.behaviour.get(self.ticker, (empty_df(), {}))
        if isinstance(outcome, Exception):
            raise outcome
        bars, self._meta = outcome
        return bars.copy()

    def get_history_metadata(self) -> dict[str, Any]:
        return self._meta


@pytest.fixture(autouse=True)
def fake_yfinance(monkeypatch: pytest.MonkeyPatch) -> type[FakeTicker]:
    FakeTicker.behaviour, FakeTicker.created, FakeTicker.calls = {}, [], []
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("yf.download must not be called")

    monkeypatch.setattr(yfinance, "download", no_network)
    return FakeTicker


def provider() -> YahooProvider:
    return YahooProvider(Settings(provider_timeout=3.0))


def priced(symbol: str, closes: list[float] | None = None) -> tuple[pd.DataFrame, dict]:
    closes = closes or [100.0, 101.0, 102.0, 103.0, 104.0]
    return daily_bars(closes), chart_meta(symbol, closes[-1] + 0.25)


def test_several_symbols_priced_from_yahoos_own_data_and_time() -> None:
    FakeTicker.behaviour = {s: priced(s) for s in ("AAPL", "MSFT", "NVDA")}
    quotes = provider().fetch(["AAPL", "MSFT", "NVDA"])

    assert set(quotes) == {"AAPL", "MSFT", "NVDA"}
    q = quotes["AAPL"]
    assert q.ok and q.source is QuoteSource.YAHOO
    assert (q.last, q.high, q.low, q.volume) == (104.25, 105.75, 102.75, 43_210_987)
    assert q.previous_close == 103.0  # yesterday's close, not chartPreviousClose
    assert q.bid is None and q.ask is None
    assert q.provider_time == datetime(2025, 3, 7, 20, 42, 11, tzinfo=UTC)
    assert {c["interval"] for c in FakeTicker.calls} == {"1d"}
    assert all(c["timeout"] == 3.0 for c in FakeTicker.calls)


def test_every_poll_uses_a_fresh_ticker_so_prices_are_not_stale() -> None:
    FakeTicker.behaviour = {"AAPL": priced("AAPL")}
    yahoo = provider()
    yahoo.fetch(["AAPL"])
    FakeTicker.behaviour = {"AAPL": priced("AAPL", [1.0, 2.0, 3.0, 4.0, 5.0])}
    assert yahoo.fetch(["AAPL"])["AAPL"].last == 5.25
    assert FakeTicker.created == ["AAPL", "AAPL"]


def test_missing_metadata_falls_back_to_the_last_bar_and_its_timestamp() -> None:
    bars, _ = priced("AAPL")
    FakeTicker.behaviour = {"AAPL": (bars, {})}
    q = provider().fetch(["AAPL"])["AAPL"]
    assert (q.last, q.high, q.low, q.previous_close) == (104.0, 106.0, 102.0, 103.0)
    assert q.provider_time == datetime(2025, 3, 7, 5, 0, tzinfo=UTC)  # the bar, not now()


def test_nan_in_yahoo_data_is_none_not_zero() -> None:
    bars, meta = priced("AAPL")
    meta = {**meta, "regularMarketDayHigh": float("nan"), "regularMarketVolume": None}
    bars.loc[bars.index[-1], ["High", "Volume"]] = float("nan")
    FakeTicker.behaviour = {"AAPL": (bars, meta)}
    q = provider().fetch(["AAPL"])["AAPL"]
    assert q.high is None and q.volume is None and q.last == 104.25


def test_unknown_symbol_is_an_error_quote_and_does_not_break_the_others() -> None:
    FakeTicker.behaviour = {
        "AAPL": priced("AAPL"),
        "MSFT": priced("MSFT"),
        "ZZZZ": (empty_df(), {}),  # an empty answer (offline, hidden errors): no verdict
        "QQQQ": YFPricesMissingError("QQQQ", ""),  # Yahoo's answer for an unknown ticker
    }
    quotes = provider().fetch(["AAPL", "ZZZZ", "QQQQ", "MSFT"])
    assert not quotes["ZZZZ"].ok and "unknown" not in quotes["ZZZZ"].error
    assert quotes["QQQQ"].error == "unknown symbol"
    assert quotes["AAPL"].ok and quotes["MSFT"].ok


def test_rate_limit_raises_with_the_quotes_already_obtained() -> None:
    FakeTicker.behaviour = {"AAPL": priced("AAPL"), "MSFT": YFRateLimitError()}
    with pytest.raises(ProviderRateLimited) as caught:
        provider().fetch(["AAPL", "MSFT"])
    assert list(caught.value.partial) == ["AAPL"]


@pytest.mark.parametrize(
    "error",
    [YFDataException("*** YAHOO! FINANCE IS CURRENTLY DOWN! ***"), CurlConnectionError("reset")],
    ids=["yahoo-down", "network"],
)
def test_outage_is_unavailable(error: Exception) -> None:
    FakeTicker.behaviour = {"AAPL": error, "MSFT": error}
    with pytest.raises(ProviderUnavailable):
        provider().fetch(["AAPL", "MSFT"])


def test_history_columns_index_and_intervals_within_yahoo_limits() -> None:
    FakeTicker.behaviour = {"AAPL": priced("AAPL")}
    yahoo = provider()
    for range_key in ("1D", "5D", "1M", "6M", "1Y"):
        frame = yahoo.fetch_history("AAPL", range_key)
        assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
        assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.tz is not None
        assert len(frame) == 5
    one_minute = [c for c in FakeTicker.calls if c["interval"] == "1m"]
    assert [c["period"] for c in one_minute] == ["1d"]  # 1m bars: at most 8 days
    assert set(HISTORY_RANGES) == {"1D", "5D", "1M", "6M", "1Y"}


def test_history_of_unknown_symbol_is_empty_and_bad_range_is_refused() -> None:
    frame = provider().fetch_history("ZZZZ", "1M")
    assert frame.empty and list(frame.columns) == ["open", "high", "low", "close", "volume"]
    with pytest.raises(ValueError, match="range"):
        provider().fetch_history("AAPL", "3Y")


def test_history_rate_limit_is_reported() -> None:
    FakeTicker.behaviour = {"AAPL": YFRateLimitError()}
    with pytest.raises(ProviderRateLimited):
        provider().fetch_history("AAPL", "1Y")
