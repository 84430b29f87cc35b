"""The IBKR quote provider and history, over real ib_async against the simulated gateway."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest
from ib_async import Stock, Ticker

from ibkr_core.ibkr_market_data import (
    HISTORY_RANGES,
    WAITING_FOR_TICK,
    IBKRQuoteProvider,
    market_data,
    ticker_quote,
)
from ibkr_core.quote import QuoteSource
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(30)


def sim_config(**kw):
    from ibkr_core.simulator import SimConfig

    kw.setdefault("tick_interval", 0.1)
    return SimConfig(**kw)


# ------------------------------------------------------------------ pure mapping
def test_ticker_quote_maps_nan_to_none_and_type_to_source():
    t = Ticker(contract=Stock("AAPL", "SMART", "USD"))
    q = ticker_quote("AAPL", t)
    assert q.last is None and q.bid is None and q.volume is None and q.provider_time is None
    assert q.source == QuoteSource.IBKR_LIVE
    t.last, t.bid, t.ask, t.volume, t.close = 10.5, 10.4, -1.0, 1200.0, math.nan
    t.marketDataType = 3
    t.time = datetime(2026, 1, 2, 15, 30, tzinfo=UTC)
    q = ticker_quote("AAPL", t)
    assert (q.last, q.bid, q.ask, q.volume, q.previous_close) == (10.5, 10.4, None, 1200.0, None)
    assert q.source == QuoteSource.IBKR_DELAYED
    assert q.provider_time == t.time
    t.marketDataType = 2
    assert ticker_quote("AAPL", t).source == QuoteSource.IBKR_FROZEN


def test_history_ranges_cover_the_chart_keys():
    assert set(HISTORY_RANGES) == {"1D", "5D", "1M", "6M", "1Y"}


# ------------------------------------------------------------------ provider
@pytest.fixture
def provider(connection):
    return IBKRQuoteProvider(connection)


def test_not_available_when_disconnected(loop_thread):
    from ibkr_core.connection import IBKRConnection
    from ibkr_core.settings import Settings

    conn = IBKRConnection(Settings(), loop_thread)
    p = IBKRQuoteProvider(conn)
    assert p.is_available() is False
    out = p.fetch(["AAPL"])
    assert out["AAPL"].error and not out["AAPL"].ok
    assert p.ibkr_history("AAPL", "1D") is None


def test_live_quotes_stream(provider):
    assert provider.is_available()
    first = provider.fetch(["AAPL", "MSFT"])
    assert set(first) == {"AAPL", "MSFT"}
    assert wait_for(lambda: all(q.ok for q in provider.fetch(["AAPL", "MSFT"]).values()), 5)
    q = provider.fetch(["AAPL"])["AAPL"]
    assert q.source == QuoteSource.IBKR_LIVE
    assert q.last and q.bid and q.ask and q.high and q.low and q.volume
    assert q.provider_time is not None and abs(q.age_seconds()) < 5
    t1 = q.provider_time
    assert wait_for(lambda: provider.fetch(["AAPL"])["AAPL"].provider_time > t1, 2)


def test_fetch_never_blocks_long_on_a_slow_gateway(gateway, provider):
    gateway.set_response_delay(2.0)
    started = time.monotonic()
    out = provider.fetch(["AMZN"])
    assert time.monotonic() - started < 1.0
    assert out["AMZN"].error in (WAITING_FOR_TICK, "subscribing to IBKR market data")
    gateway.set_response_delay(0)
    assert wait_for(lambda: provider.fetch(["AMZN"])["AMZN"].ok, 5)


def test_not_entitled_symbol_falls_back_to_delayed(provider, connection):
    assert wait_for(lambda: provider.fetch(["TSLA"])["TSLA"].ok, 5)
    q = provider.fetch(["TSLA"])["TSLA"]
    assert q.source == QuoteSource.IBKR_DELAYED and q.last is not None
    assert connection.status().market_data_type == 4  # delayed, frozen after the close
    assert market_data(connection).line_info("TSLA")["delayed_tried"] is True
    # entitled symbols stay live under market data type 3
    assert wait_for(lambda: provider.fetch(["AAPL"])["AAPL"].ok, 5)
    assert provider.fetch(["AAPL"])["AAPL"].source == QuoteSource.IBKR_LIVE


def test_10167_keeps_the_stream_with_delayed_ticks(provider, connection):
    assert wait_for(lambda: provider.fetch(["NFLX"])["NFLX"].ok, 5)
    assert provider.fetch(["NFLX"])["NFLX"].source == QuoteSource.IBKR_DELAYED
    info = market_data(connection).line_info("NFLX")
    assert info["state"] == "streaming" and info["delayed_tried"] is False
    assert connection.status().market_data_type == 2  # no switch needed


@pytest.mark.parametrize(
    "gateway_config",
    [sim_config(not_entitled=frozenset({"TSLA"}), no_delayed=frozenset({"TSLA"}))],
)
def test_delayed_refused_too_gives_an_error_quote(provider, connection):
    assert wait_for(lambda: "delayed data" in (provider.fetch(["TSLA"])["TSLA"].error or ""), 5)
    q = provider.fetch(["TSLA", "AAPL"])
    assert not q["TSLA"].ok and "10168" in q["TSLA"].error
    assert market_data(connection).line_info("TSLA")["state"] == "failed"
    assert wait_for(lambda: provider.fetch(["AAPL"])["AAPL"].ok, 5)


def test_unknown_symbol_is_an_error_quote(provider):
    assert wait_for(lambda: "Unknown symbol" in (provider.fetch(["ZZZZ"])["ZZZZ"].error or ""), 3)
    out = provider.fetch(["ZZZZ", "AAPL"])
    assert out["ZZZZ"].last is None
    assert wait_for(lambda: provider.fetch(["AAPL"])["AAPL"].ok, 5)


def test_idle_lines_are_unsubscribed(provider, connection):
    registry = market_data(connection)
    registry.idle_after = 0.3
    assert wait_for(lambda: provider.fetch(["AAPL", "MSFT"])["MSFT"].ok, 5)
    assert registry.active_count() == 2
    time.sleep(0.5)
    provider.fetch(["AAPL"])  # MSFT not asked for in a while: dropped
    assert registry.symbols() == ["AAPL"]
    assert registry.active_count() == 1


@pytest.mark.parametrize("gateway_config", [sim_config(max_market_data_lines=3)])
def test_line_limit_error_101_is_handled(provider, connection):
    symbols = ["AAPL", "MSFT", "SPY", "NVDA", "AMZN"]
    provider.fetch(symbols)

    def settled():
        out = provider.fetch(symbols)
        refused = [s for s, q in out.items() if q.error and "Too many market data lines" in q.error]
        return out if sum(q.ok for q in out.values()) == 3 and len(refused) == 2 else None

    # Three lines stream; the other two say why (each 101 arrives on its own).
    assert wait_for(settled, 5)
    assert market_data(connection).max_lines == 3
    assert provider.is_available()


# ------------------------------------------------------------------ history
def test_history_frames(provider):
    frame = provider.ibkr_history("AAPL", "1D")
    assert frame is not None and not frame.empty
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(frame.index.tz) == "UTC"
    assert (frame["high"] >= frame["low"]).all()
    daily = provider.ibkr_history("AAPL", "6M")
    assert daily is not None and len(daily) > 100
    assert provider.ibkr_history("ZZZZ", "1D") is None
    with pytest.raises(ValueError):
        provider.ibkr_history("AAPL", "10Y")


def test_history_pacing_backs_off(provider):
    assert provider.ibkr_history("MSFT", "1D") is not None
    assert provider.ibkr_history("MSFT", "1D") is not None  # served from the 15 s cache
    provider._history_cache.clear()  # force an identical request within 15 s: 162
    assert provider.ibkr_history("MSFT", "1D") is None
    assert provider._pacing_until > time.monotonic()
    started = time.monotonic()
    assert provider.ibkr_history("MSFT", "5D") is None  # backing off: no request at all
    assert time.monotonic() - started < 0.05
