"""Chooses where each quote comes from: IBKR first, then the fallback providers in order.

The manager alone decides order, fallback, caching and back-off. One instance is meant
to be shared by the whole process (every Streamlit session), so its cache and its
single-flight bookkeeping are what keep upstream traffic at one request per symbol per
TTL, however many callers ask at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ibkr_core.providers.base import (
    IbkrQuoteSource,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    QuoteProvider,
)
from ibkr_core.quote import Quote, QuoteSource, clean
from ibkr_core.settings import Settings

log = logging.getLogger(__name__)

NUMERIC_FIELDS = ("last", "bid", "ask", "volume", "high", "low", "previous_close")


@dataclass(frozen=True)
class ProviderStatus:
    name: QuoteSource
    available: bool
    backing_off_until: datetime | None = None
    last_error: str | None = None
    used: bool = False  # asked at least once (a fallback may sit idle while IBKR covers all)
    last_priced: datetime | None = None  # when it last returned a price (None: never)


@dataclass
class _ProviderState:
    provider: QuoteProvider
    disabled: str | None = None
    backoff_until: float = 0.0
    failures: int = 0
    last_error: str | None = None
    used: bool = False
    last_priced: datetime | None = None

    @property
    def name(self) -> QuoteSource:
        return self.provider.name


@dataclass
class _Flight:
    """One in-flight provider call; every caller wanting one of its symbols waits on it."""

    symbols: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    quotes: dict[str, Quote] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Entry:
    quote: Quote
    expires: float


class QuoteManager:
    def __init__(
        self,
        providers: list[QuoteProvider],
        settings: Settings,
        ibkr: IbkrQuoteSource | None = None,
        *,
        max_workers: int = 4,
        backoff_base: float = 5.0,
        backoff_max: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` drives cache expiry and back-off only (tests pass a fake one)."""
        self._settings = settings
        self._ibkr = ibkr
        self._states = [_ProviderState(p) for p in providers]
        for state in self._states:
            if not state.provider.configured:
                state.disabled = state.last_error = f"{state.name} not configured"
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[QuoteSource, str], _Entry] = {}
        self._in_flight: dict[tuple[QuoteSource, str], _Flight] = {}
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="quote-provider")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def get_quote(self, symbol: str) -> Quote:
        return self.get_quotes([symbol])[symbol]

    def get_quotes(self, symbols: Iterable[str], max_wait: float | None = None) -> dict[str, Quote]:
        """One Quote per requested symbol (keys as given), never raising.

        Returns within ``settings.provider_timeout`` (or ``max_wait``, if shorter: a view
        that refreshes every second passes about a second). Without ``max_wait`` (one
        caller asking once, e.g. the API), a connected IBKR session waits for a cold
        symbol's first tick (bounded by that budget) rather than answering "no data
        yet". A fetch still running then keeps going and fills the cache for the next
        call; meanwhile the symbol gets its last known quote, whose age says how old it
        is. A symbol no source could price carries every source's reason in ``error``.
        """
        wanted = {s: s.strip().upper() for s in symbols}
        pending = [s for s in dict.fromkeys(wanted.values()) if s]
        budget = self._settings.provider_timeout
        if max_wait is not None:
            budget = min(budget, max(0.0, max_wait))
        deadline = time.monotonic() + budget
        found: dict[str, Quote] = {}
        reasons: dict[str, list[Quote]] = {s: [] for s in pending}
        first_tick_wait = budget if max_wait is None else 0.0
        pending = self._settle(self._from_ibkr(pending, first_tick_wait), pending, found, reasons)
        for state in self._states:
            if not pending:
                break
            answers = self._from_provider(state, pending, deadline)
            pending = self._settle(answers, pending, found, reasons)
        for symbol in pending:
            found[symbol] = Quote.merged_failure(symbol, reasons[symbol])
        return {
            original: found.get(symbol) or Quote.failed(original, "empty symbol")
            for original, symbol in wanted.items()
        }

    def provider_status(self) -> list[ProviderStatus]:
        statuses = []
        if self._ibkr is not None:
            statuses.append(ProviderStatus(QuoteSource.IBKR_LIVE, self._ibkr_available()))
        with self._lock:
            now, wall = self._clock(), datetime.now(UTC)
            for state in self._states:
                backing_off = state.disabled is None and state.backoff_until > now
                until = wall + timedelta(seconds=state.backoff_until - now) if backing_off else None
                available = state.disabled is None and not backing_off
                statuses.append(
                    ProviderStatus(
                        state.name,
                        available,
                        until,
                        state.last_error,
                        state.used,
                        state.last_priced,
                    )
                )
        return statuses

    # -- IBKR -------------------------------------------------------------------------

    def _ibkr_available(self) -> bool:
        try:
            return bool(self._ibkr and self._ibkr.is_available())
        except Exception:
            log.exception("IBKR availability check failed")
            return False

    def _from_ibkr(self, symbols: list[str], first_tick_wait: float = 0.0) -> dict[str, Quote]:
        label = QuoteSource.IBKR_LIVE
        if self._ibkr is None:
            return {}
        if not self._ibkr_available():
            return {s: Quote.failed(s, "not connected", label, expected=True) for s in symbols}
        try:
            quotes = self._ibkr.fetch(symbols, first_tick_wait=first_tick_wait)
        except Exception as exc:
            log.exception("IBKR snapshot read failed")
            return {
                s: Quote.failed(s, f"snapshot failed ({type(exc).__name__})", label)
                for s in symbols
            }
        return {
            s: _cleaned(quotes[s]) if s in quotes else Quote.failed(s, "no market data", label)
            for s in symbols
        }

    # -- fallback providers ---------------------------------------------------------------

    def _from_provider(
        self, state: _ProviderState, symbols: list[str], deadline: float
    ) -> dict[str, Quote]:
        answers: dict[str, Quote] = {}
        waits: list[tuple[str, _Flight]] = []
        flight: _Flight | None = None
        with self._lock:
            now = self._clock()
            skip = self._skip_reason(state, now)
            if skip:
                off = state.disabled is not None and not state.provider.configured
                return {s: Quote.failed(s, skip, state.name, expected=off) for s in symbols}
            misses = []
            for symbol in symbols:
                entry = self._cache.get((state.name, symbol))
                running = self._in_flight.get((state.name, symbol))
                if entry is not None and entry.expires > now:
                    answers[symbol] = entry.quote
                elif running is not None:
                    waits.append((symbol, running))
                else:
                    misses.append(symbol)
            if misses:
                flight = _Flight(misses)
                for symbol in misses:
                    self._in_flight[(state.name, symbol)] = flight
                waits.extend((symbol, flight) for symbol in misses)
        if flight is not None:
            self._submit(state, flight)
        for symbol, running in waits:
            answers[symbol] = self._await(state, running, symbol, deadline)
        return answers

    def _skip_reason(self, state: _ProviderState, now: float) -> str | None:
        if state.disabled:
            return f"disabled: {state.disabled}"
        if state.backoff_until > now:
            return f"backing off {state.backoff_until - now:.0f}s after: {state.last_error}"
        return None

    def _await(self, state: _ProviderState, flight: _Flight, symbol: str, deadline: float) -> Quote:
        if flight.done.wait(max(0.0, deadline - time.monotonic())):
            return flight.quotes.get(symbol) or Quote.failed(symbol, "no data", state.name)
        with self._lock:
            last_known = self._cache.get((state.name, symbol))
        if last_known is not None and last_known.quote.ok:
            return last_known.quote  # expired, but real: better than a blank row
        if flight.started + self._settings.provider_timeout > time.monotonic():
            return Quote.failed(symbol, "still fetching", state.name)
        message = f"no answer within {self._settings.provider_timeout:g}s"
        with self._lock:
            state.last_error = message
        return Quote.failed(symbol, message, state.name)

    def _submit(self, state: _ProviderState, flight: _Flight) -> None:
        try:
            self._pool.submit(self._run_flight, state, flight)
        except RuntimeError:  # pool shut down by close()
            self._land(state, flight, {}, ProviderUnavailable("quote manager closed"))

    def _run_flight(self, state: _ProviderState, flight: _Flight) -> None:
        quotes: dict[str, Quote] = {}
        failure: ProviderError | None = None
        try:
            quotes = state.provider.fetch(list(flight.symbols))
        except ProviderRateLimited as exc:
            quotes, failure = exc.partial, exc
        except ProviderError as exc:
            failure = exc
        except Exception as exc:
            log.exception("%s fetch crashed", state.name)
            failure = ProviderUnavailable(f"{state.name} failed ({type(exc).__name__})")
        finally:
            self._land(state, flight, quotes, failure)

    def _land(
        self,
        state: _ProviderState,
        flight: _Flight,
        quotes: dict[str, Quote],
        failure: ProviderError | None,
    ) -> None:
        """Record the outcome, cache the provider's own answers, release the waiters."""
        with self._lock:
            now = self._clock()
            self._record_outcome(state, failure, now)
            state.used = True
            if any(q.ok and q.price is not None for q in quotes.values()):
                state.last_priced = datetime.now(UTC)
            expires = now + self._settings.quote_cache_ttl
            for symbol in flight.symbols:
                quote = quotes.get(symbol)
                if quote is not None:
                    self._cache[(state.name, symbol)] = _Entry(quote, expires)
                else:
                    quote = Quote.failed(symbol, str(failure or "no data returned"), state.name)
                flight.quotes[symbol] = quote
                self._in_flight.pop((state.name, symbol), None)
        flight.done.set()

    def _record_outcome(
        self, state: _ProviderState, failure: ProviderError | None, now: float
    ) -> None:
        if failure is None:
            state.failures, state.backoff_until, state.last_error = 0, 0.0, None
            return
        state.last_error = str(failure)
        if isinstance(failure, ProviderAuthError):
            state.disabled = str(failure)
            log.warning("%s disabled: %s", state.name, failure)
            return
        state.failures += 1
        delay = min(self._backoff_max, self._backoff_base * 2 ** (state.failures - 1))
        retry_after = getattr(failure, "retry_after", None)
        if retry_after:
            delay = max(delay, retry_after)
        state.backoff_until = now + delay
        log.warning("%s backing off %.0fs: %s", state.name, delay, failure)

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _settle(
        answers: dict[str, Quote],
        pending: list[str],
        found: dict[str, Quote],
        reasons: dict[str, list[Quote]],
    ) -> list[str]:
        """Keep the good answers; return the symbols still needing a source."""
        still_pending = []
        for symbol in pending:
            quote = answers.get(symbol)
            if quote is not None and quote.ok:
                found[symbol] = quote
                continue
            if quote is not None:
                reasons[symbol].append(quote)
            still_pending.append(symbol)
        return still_pending


def _cleaned(quote: Quote) -> Quote:
    """IBKR sends NaN / -1 until the first tick: those are 'no value', never numbers."""
    return replace(quote, **{name: clean(getattr(quote, name)) for name in NUMERIC_FIELDS})
