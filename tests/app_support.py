"""Helpers for the AppTest page tests: a fake yfinance at its boundary, fresh services.

Nothing here touches the internet: ``yfinance.Ticker`` is replaced by ``FakeTicker``,
which answers like yfinance 1.7 (frames with capitalised columns, chart metadata, an
YFPricesMissingError for an unknown symbol, as yfinance with hide_exceptions off).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import streamlit as st
import yfinance
from streamlit.testing.v1 import AppTest
from yfinance.exceptions import YFPricesMissingError

from ibkr_core import services as services_module
from ibkr_core.services import Services
from ibkr_core.settings import Settings

NY = "America/New_York"
ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
PRICES = {
    "AAPL": 228.5,
    "MSFT": 421.3,
    "NVDA": 131.4,
    "AMZN": 198.6,
    "SPY": 571.2,
    "TSLA": 251.1,
    "NFLX": 702.9,
    "GOOGL": 171.2,
    "META": 565.8,
}


def _bars(price: float, periods: int, freq: str, end: pd.Timestamp) -> pd.DataFrame:
    index = pd.date_range(end=end, periods=periods, freq=freq, tz=NY, name="Date")
    closes = [price * (1 + 0.002 * ((i % 7) - 3)) for i in range(periods)]
    return pd.DataFrame(
        {
            "Open": [c * 0.999 for c in closes],
            "High": [c * 1.004 for c in closes],
            "Low": [c * 0.995 for c in closes],
            "Close": closes,
            "Adj Close": closes,
            "Volume": [1_000_000 + 1000 * i for i in range(periods)],
        },
        index=index,
    )


class FakeTicker:
    """``yfinance.Ticker`` for the symbols in ``PRICES``; anything else is unknown.
    Symbols arrive in Yahoo's spelling (``BRK-B``)."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    age_seconds: ClassVar[float] = 0.0  # how old Yahoo's regularMarketTime is
    fail_with: ClassVar[Exception | None] = None  # raised by every history() call

    def __init__(self, symbol: str, *args: Any, **kwargs: Any) -> None:
        self.ticker = symbol.upper()
        self._meta: dict[str, Any] = {}

    def history(self, **kwargs: Any) -> pd.DataFrame:
        FakeTicker.calls.append((self.ticker, kwargs))
        if FakeTicker.fail_with is not None:
            raise FakeTicker.fail_with
        price = PRICES.get(self.ticker)
        if price is None:  # yfinance's answer for an unknown symbol (exceptions shown)
            raise YFPricesMissingError(self.ticker, "", yahoo_reason="No data found")
        now = pd.Timestamp.now(tz=NY).floor("min")
        interval = kwargs.get("interval", "1d")
        if interval == "1d":
            frame = _bars(price, 5 if kwargs.get("period") == "5d" else 120, "B", now)
        else:
            frame = _bars(price, 60, "5min" if interval == "5m" else "1min", now)
        self._meta = {
            "currency": "USD",
            "symbol": self.ticker,
            "regularMarketTime": pd.Timestamp(
                datetime.now(UTC) - timedelta(seconds=FakeTicker.age_seconds)
            ).tz_convert(NY),
            "regularMarketPrice": price,
            "regularMarketDayHigh": price * 1.01,
            "regularMarketDayLow": price * 0.99,
            "regularMarketVolume": 12_345_678,
        }
        return frame

    def get_history_metadata(self) -> dict[str, Any]:
        return self._meta


@contextmanager
def fresh_services(tmp_path: Path, monkeypatch: Any, **overrides: Any) -> Iterator[Services]:
    """The app's singleton services, rebuilt with test settings and a fake Yahoo."""
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    monkeypatch.setattr(FakeTicker, "age_seconds", 0.0)
    monkeypatch.setattr(FakeTicker, "fail_with", None)
    settings = Settings(
        watchlist_file=str(tmp_path / "watchlist.json"),
        alphavantage_api_key="",
        connect_timeout=4.0,
        request_timeout=4.0,
        **overrides,
    )
    services_module.reset_services()
    st.cache_resource.clear()
    services = services_module.get_services(settings)
    try:
        yield services
    finally:
        services_module.reset_services()
        st.cache_resource.clear()


def make_services(tmp_path: Path, **overrides: Any) -> Services:
    """A fresh services singleton with test settings (no env, no secrets file); Yahoo is
    left as it is (``fresh_services`` fakes it)."""
    services_module.reset_services()
    st.cache_resource.clear()
    values = {
        "watchlist_file": str(tmp_path / "watchlist.json"),
        "connect_timeout": 4.0,
        "request_timeout": 4.0,
        "provider_timeout": 2.0,
        **overrides,
    }
    return services_module.get_services(Settings(**values))


@contextmanager
def app_services(tmp_path: Path, **overrides: Any) -> Iterator[Services]:
    """``make_services``, reset again on leaving."""
    svc = make_services(tmp_path, **overrides)
    try:
        yield svc
    finally:
        services_module.reset_services()
        st.cache_resource.clear()


def run_app(page: str | None = None) -> AppTest:
    """One run of the app (switched to ``page`` first, when given), with no exception."""
    at = AppTest.from_file(APP, default_timeout=30)
    if page is not None:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(markdown: str) -> str:
    """The text a user sees for a markdown body built with ``components.plain``
    (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)
