"""QuoteManager: fallback order, shared TTL cache, single flight, back-off, time bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_core.providers.base import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from ibkr_core.quote import Quote, QuoteSource
from ibkr_core.quote_manager import QuoteManager
from ibkr_core.settings import Settings

pytestmark = pytest.mark.timeout(10)

SETTINGS = Settings(quote_cache_ttl=15.0, provider_timeout=1.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeProvider:
    """Prices every symbol at ``price`` unless told otherwise; counts upstream calls."""

    def __init__(
        self,
        name: QuoteSource,
        price: float = 100.0,
        unknown: frozenset[str] = frozenset(),
        delay: float = 0.0,
        configured: bool = True,
    ) -> None:
        self.name = name
        self.price = price
        self.unknown = unknown
        self.delay = delay
        self.configured = configured
        self.raises: list[Exception] = []  # raised by the next calls, in order
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def fetch(self, symbols: list[str]) -> dict[str, Quote]:
        with self._lock:
            self.calls.append(list(symbols))
            error = self.raises.pop(0) if self.raises else None
        time.sleep(self.delay)
        if error is not None:
            raise error
        return {s: self._quote(s) for s in symbols}

    def _quote(self, symbol: str) -> Quote:
        if symbol in self.unknown:
            return Quote.failed(symbol, "unknown symbol", self.name)
        return Quote(symbol=symbol, source=self.name, last=self.price, previous_close=99.0)

    @property
    def symbols_fetched(self) -> list[str]:
        return [s for call in self.calls for s in call]


class FakeIbkr:
    def __init__(self, quotes: dict[str, Quote], available: bool = True) -> None:
        self.quotes = quotes
        self.available = available
        self.calls = 0
        self.first_tick_waits: list[float] = []

    def is_available(self) -> bool:
        return self.available

    def fetch(self, symbols: list[str], first_tick_wait: float = 0.0) -> dict[str, Quote]:
        self.calls += 1
        self.first_tick_waits.append(first_tick_wait)
        return {s: self.quotes[s] for s in symbols if s in self.quotes}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def yahoo() -> FakeProvider:
    return FakeProvider(QuoteSource.YAHOO, price=101.0)


@pytest.fixture
def alpha() -> FakeProvider:
    return FakeProvider(QuoteSource.ALPHA_VANTAGE, price=102.0)


@pytest.fixture
def make(
    clock: FakeClock, yahoo: FakeProvider, alpha: FakeProvider
) -> Iterator[Callable[..., QuoteManager]]:
    managers: list[QuoteManager] = []

    def factory(ibkr: Any = None, settings: Settings = SETTINGS, **kw: Any) -> QuoteManager:
        providers = kw.pop("providers", [yahoo, alpha])
        manager = QuoteManager(providers, settings, ibkr, clock=clock, **kw)
        managers.append(manager)
        return manager

    yield factory
    for manager in managers:
        manager.close()


def status_of(manager: QuoteManager, name: QuoteSource):
    return next(s for s in manager.provider_status() if s.name == name)


def test_each_symbol_takes_the_first_source_that_prices_it(
    make, yahoo: FakeProvider, alpha: FakeProvider
) -> None:
    ibkr = FakeIbkr(
        {
            "AAPL": Quote("AAPL", QuoteSource.IBKR_LIVE, last=200.0),
            "MSFT": Quote.failed("MSFT", "no market data permissions", QuoteSource.IBKR_LIVE),
        }
    )
    yahoo.unknown = frozenset({"BRK.B"})
    quotes = make(ibkr).get_quotes(["AAPL", "MSFT", "BRK.B"])

    assert quotes["AAPL"].source is QuoteSource.IBKR_LIVE and quotes["AAPL"].last == 200.0
    assert quotes["MSFT"].source is QuoteSource.YAHOO and quotes["MSFT"].last == 101.0
    assert quotes["BRK.B"].source is QuoteSource.ALPHA_VANTAGE and quotes["BRK.B"].last == 102.0
    assert yahoo.calls == [["MSFT", "BRK.B"]]  # one batched call for the misses
    assert alpha.calls == [["BRK.B"]]


def test_ibkr_waiting_for_first_tick_is_returned_as_is_with_nan_as_none(
    make, yahoo: FakeProvider
) -> None:
    nan = float("nan")
    ibkr = FakeIbkr({"AAPL": Quote("AAPL", QuoteSource.IBKR_LIVE, last=nan, bid=-1.0, ask=nan)})
    quote = make(ibkr).get_quote("AAPL")

    assert quote.ok and quote.source is QuoteSource.IBKR_LIVE
    assert quote.last is None and quote.bid is None and quote.ask is None and quote.price is None
    assert yahoo.calls == []


def test_disconnected_ibkr_falls_back_and_keys_match_the_request(make, yahoo) -> None:
    ibkr = FakeIbkr({"AAPL": Quote("AAPL", QuoteSource.IBKR_LIVE, last=200.0)}, available=False)
    quotes = make(ibkr).get_quotes(["aapl", " msft", "aapl"])

    assert set(quotes) == {"aapl", " msft"}
    assert quotes["aapl"].source is QuoteSource.YAHOO and quotes["aapl"].symbol == "AAPL"
    assert ibkr.calls == 0 and yahoo.calls == [["AAPL", "MSFT"]]


def test_many_concurrent_callers_share_one_upstream_call_per_ttl(
    make, yahoo: FakeProvider, clock: FakeClock
) -> None:
    yahoo.delay = 0.2
    manager = make()
    symbols = [f"S{i:02d}" for i in range(50)]
    barrier = threading.Barrier(20)
    results: list[dict[str, Quote]] = []

    def worker() -> None:
        barrier.wait()
        results.append(manager.get_quotes(symbols))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(yahoo.calls) == 1 and sorted(yahoo.calls[0]) == symbols
    assert len(results) == 20
    assert all(q.ok and q.source is QuoteSource.YAHOO for r in results for q in r.values())

    clock.advance(10)
    manager.get_quotes(symbols)
    assert len(yahoo.calls) == 1  # still within the TTL
    clock.advance(6)
    manager.get_quotes(symbols)
    assert len(yahoo.calls) == 2


def test_unknown_symbol_does_not_break_the_others(make, yahoo: FakeProvider) -> None:
    yahoo.unknown = frozenset({"ZZZZ"})
    quotes = make(providers=[yahoo]).get_quotes(["AAPL", "ZZZZ", "MSFT"])

    assert quotes["AAPL"].ok and quotes["MSFT"].ok
    assert quotes["ZZZZ"].error == "no quote: yahoo: unknown symbol"
    assert quotes["ZZZZ"].last is None


def test_when_every_source_fails_the_quote_says_why(make, yahoo: FakeProvider) -> None:
    yahoo.unknown = frozenset({"ZZZZ"})
    alpha_without_key = FakeProvider(QuoteSource.ALPHA_VANTAGE, configured=False)
    ibkr = FakeIbkr({}, available=False)
    quote = make(ibkr, providers=[yahoo, alpha_without_key]).get_quote("ZZZZ")

    assert not quote.ok and quote.source is QuoteSource.NONE
    assert "ibkr-live: not connected" in quote.error
    assert "yahoo: unknown symbol" in quote.error
    assert "alphavantage: disabled: alphavantage not configured" in quote.error
    assert alpha_without_key.calls == []


def test_rate_limit_backs_off_shows_in_status_and_recovers(
    make, yahoo: FakeProvider, alpha: FakeProvider, clock: FakeClock
) -> None:
    manager = make()
    yahoo.raises = [ProviderRateLimited("Yahoo Finance rate limit (HTTP 429)", retry_after=30)]

    first = manager.get_quote("AAPL")
    assert first.source is QuoteSource.ALPHA_VANTAGE  # same call falls through
    status = status_of(manager, QuoteSource.YAHOO)
    assert not status.available and "rate limit" in status.last_error
    assert status.backing_off_until is not None

    clock.advance(20)  # still backing off: Yahoo is not asked
    assert manager.get_quote("MSFT").source is QuoteSource.ALPHA_VANTAGE
    assert len(yahoo.calls) == 1

    clock.advance(11)
    assert manager.get_quote("NVDA").source is QuoteSource.YAHOO
    status = status_of(manager, QuoteSource.YAHOO)
    assert status.available and status.backing_off_until is None and status.last_error is None


def test_repeated_failures_back_off_exponentially(
    make, yahoo: FakeProvider, clock: FakeClock
) -> None:
    manager = make(providers=[yahoo], backoff_base=5.0)
    yahoo.raises = [ProviderUnavailable("down"), ProviderUnavailable("down")]

    manager.get_quote("A")
    clock.advance(5.1)
    manager.get_quote("B")  # second failure: 10 s this time
    clock.advance(9)
    assert "backing off" in manager.get_quote("C").error
    clock.advance(1.2)
    assert manager.get_quote("D").ok
    assert len(yahoo.calls) == 3


def test_partial_answers_before_a_rate_limit_are_kept(
    make, yahoo: FakeProvider, alpha: FakeProvider
) -> None:
    partial = {"AAPL": Quote("AAPL", QuoteSource.YAHOO, last=101.0)}
    yahoo.raises = [ProviderRateLimited("limit", retry_after=60, partial=partial)]
    quotes = make().get_quotes(["AAPL", "MSFT"])
    assert quotes["AAPL"].source is QuoteSource.YAHOO
    assert quotes["MSFT"].source is QuoteSource.ALPHA_VANTAGE


def test_auth_error_disables_the_provider_with_its_message(
    make, yahoo: FakeProvider, alpha: FakeProvider, clock: FakeClock
) -> None:
    yahoo.unknown = frozenset({"AAPL", "MSFT"})
    alpha.raises = [ProviderAuthError("Alpha Vantage rejected the API key (invalid or missing)")]
    manager = make()

    assert "rejected the API key" in manager.get_quote("AAPL").error
    clock.advance(86_400)
    assert "disabled" in manager.get_quote("MSFT").error
    assert len(alpha.calls) == 1
    status = status_of(manager, QuoteSource.ALPHA_VANTAGE)
    assert not status.available and "rejected the API key" in status.last_error


def test_slow_provider_never_stalls_the_caller_beyond_the_timeout(
    make, yahoo: FakeProvider
) -> None:
    yahoo.delay = 1.0
    manager = make(settings=Settings(provider_timeout=0.3), providers=[yahoo])

    started = time.monotonic()
    quote = manager.get_quote("AAPL")
    elapsed = time.monotonic() - started
    assert elapsed < 0.6
    assert not quote.ok and "no answer within 0.3s" in quote.error
    assert "no answer" in status_of(manager, QuoteSource.YAHOO).last_error

    time.sleep(1.0)  # the late answer lands in the cache: no second request
    assert manager.get_quote("AAPL").ok
    assert len(yahoo.calls) == 1


def test_a_short_wait_returns_at_once_and_then_the_last_known_quote(
    make, yahoo: FakeProvider, clock: FakeClock
) -> None:
    """A page refreshing every second must not freeze for the whole provider timeout."""
    yahoo.delay = 0.6
    manager = make(settings=Settings(provider_timeout=5.0, quote_cache_ttl=15.0), providers=[yahoo])
    started = time.monotonic()
    first = manager.get_quotes(["AAPL"], max_wait=0.2)["AAPL"]
    assert time.monotonic() - started < 0.5
    assert not first.ok and "still fetching" in first.error
    time.sleep(0.7)  # the fetch lands in the cache
    assert manager.get_quotes(["AAPL"], max_wait=0.2)["AAPL"].ok

    clock.advance(20)  # expired: a new fetch starts, slow again
    started = time.monotonic()
    again = manager.get_quotes(["AAPL"], max_wait=0.2)["AAPL"]
    assert time.monotonic() - started < 0.5
    assert again.ok and again.last == yahoo.price  # the last known quote meanwhile
    assert len(yahoo.calls) == 2


def test_unexpected_provider_crash_becomes_an_error_quote(make, yahoo: FakeProvider) -> None:
    yahoo.raises = [KeyError("chart")]
    quote = make(providers=[yahoo]).get_quote("AAPL")
    assert not quote.ok and "KeyError" in quote.error


def test_status_lists_ibkr_then_fallbacks(make) -> None:
    statuses = make(FakeIbkr({}, available=False)).provider_status()
    assert [s.name for s in statuses] == [
        QuoteSource.IBKR_LIVE,
        QuoteSource.YAHOO,
        QuoteSource.ALPHA_VANTAGE,
    ]
    assert [s.available for s in statuses] == [False, True, True]


def test_status_tells_standby_from_priced_from_answering_without_prices(make, yahoo) -> None:
    manager = make(FakeIbkr({"AAPL": Quote("AAPL", QuoteSource.IBKR_LIVE, last=1.0)}))
    manager.get_quotes(["AAPL"])  # IBKR covers it: Yahoo is never asked
    idle = status_of(manager, QuoteSource.YAHOO)
    assert idle.available and not idle.used and idle.last_priced is None

    yahoo.unknown = frozenset({"MSFT"})  # offline yfinance answers "unknown" for everything
    manager.get_quotes(["MSFT"])
    silent = status_of(manager, QuoteSource.YAHOO)
    assert silent.used and silent.last_priced is None

    manager.get_quotes(["NVDA"])
    assert status_of(manager, QuoteSource.YAHOO).last_priced is not None
