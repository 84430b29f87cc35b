"""HistoryService: IBKR bars when it has them, else Yahoo; cached per symbol and range."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from ibkr_core.history import HistoryService
from ibkr_core.providers.base import ProviderRateLimited
from ibkr_core.quote import QuoteSource
from ibkr_core.settings import Settings

pytestmark = pytest.mark.timeout(10)

SETTINGS = Settings(history_cache_ttl=300.0)


def bars(close: float, rows: int = 3) -> pd.DataFrame:
    index = pd.date_range("2025-03-03 09:30", periods=rows, freq="5min", tz="America/New_York")
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 100.0},
        index=index,
    )


class FakeYahoo:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.delay = delay
        self.raises: list[Exception] = []
        self._lock = threading.Lock()

    def fetch_history(self, symbol: str, range_key: str) -> pd.DataFrame:
        with self._lock:
            self.calls.append((symbol, range_key))
            error = self.raises.pop(0) if self.raises else None
        time.sleep(self.delay)
        if error:
            raise error
        return bars(50.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ibkr_bars_win_when_ibkr_has_them() -> None:
    yahoo = FakeYahoo()
    service = HistoryService(yahoo, SETTINGS, ibkr_history=lambda s, r: bars(70.0))
    frame, source = service.bars("AAPL", "5D")
    assert source is QuoteSource.IBKR_LIVE and frame["close"].iloc[-1] == 70.0
    assert yahoo.calls == []


def test_cached_yahoo_bars_give_way_once_ibkr_connects() -> None:
    yahoo = FakeYahoo()
    ibkr_bars: list[pd.DataFrame | None] = [None]  # not connected yet
    service = HistoryService(yahoo, SETTINGS, ibkr_history=lambda s, r: ibkr_bars[0])
    assert service.bars("AAPL", "5D")[1] is QuoteSource.YAHOO
    ibkr_bars[0] = bars(70.0)  # the user connects: the chart switches within the TTL
    frame, source = service.bars("AAPL", "5D")
    assert source is QuoteSource.IBKR_LIVE and frame["close"].iloc[-1] == 70.0
    assert yahoo.calls == [("AAPL", "5D")]


@pytest.mark.parametrize(
    "ibkr_history",
    [None, lambda s, r: None, lambda s, r: pd.DataFrame(), lambda s, r: 1 / 0],
    ids=["no-ibkr", "returns-none", "returns-empty", "raises"],
)
def test_yahoo_is_used_when_ibkr_has_nothing(ibkr_history) -> None:
    yahoo = FakeYahoo()
    frame, source = HistoryService(yahoo, SETTINGS, ibkr_history).bars("aapl", "1M")
    assert source is QuoteSource.YAHOO
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert yahoo.calls == [("AAPL", "1M")]


def test_cached_for_the_ttl_per_symbol_and_range() -> None:
    yahoo, clock = FakeYahoo(), FakeClock()
    service = HistoryService(yahoo, SETTINGS, clock=clock)
    service.bars("AAPL", "1Y")
    frame, _ = service.bars("AAPL", "1Y")
    frame.loc[:, "close"] = 0.0  # a caller mutating its copy does not poison the cache
    service.bars("AAPL", "1D")
    assert service.bars("AAPL", "1Y")[0]["close"].iloc[0] == 50.0
    assert yahoo.calls == [("AAPL", "1Y"), ("AAPL", "1D")]

    clock.now += 301
    service.bars("AAPL", "1Y")
    assert yahoo.calls[-1] == ("AAPL", "1Y") and len(yahoo.calls) == 3


def test_concurrent_callers_share_one_fetch() -> None:
    yahoo = FakeYahoo(delay=0.2)
    service = HistoryService(yahoo, SETTINGS)
    threads = [threading.Thread(target=service.bars, args=("AAPL", "6M")) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert yahoo.calls == [("AAPL", "6M")]


def test_provider_errors_reach_the_caller_and_are_not_cached() -> None:
    yahoo = FakeYahoo()
    yahoo.raises = [ProviderRateLimited("Yahoo Finance rate limit (HTTP 429)")]
    service = HistoryService(yahoo, SETTINGS)
    with pytest.raises(ProviderRateLimited):
        service.bars("AAPL", "1Y")
    assert service.bars("AAPL", "1Y")[1] is QuoteSource.YAHOO
    assert len(yahoo.calls) == 2


def test_unknown_range_is_refused() -> None:
    with pytest.raises(ValueError, match="range"):
        HistoryService(FakeYahoo(), SETTINGS).bars("AAPL", "10Y")
