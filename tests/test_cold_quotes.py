"""Cold quotes while IBKR is connected, and "unknown" only when a source says so
(issue 14, case 10). Simulator + real ib_async; the fallback is an offline stand-in."""

from __future__ import annotations

import threading
import time

import pytest

from ibkr_core.providers.base import ProviderUnavailable
from ibkr_core.quote import QuoteSource

pytestmark = pytest.mark.timeout(40)


class OfflineYahoo:
    """Yahoo with no network: every fetch fails as the real provider does offline."""

    name = QuoteSource.YAHOO
    configured = True

    def fetch(self, symbols):
        raise ProviderUnavailable("Yahoo Finance unavailable: could not resolve host")


@pytest.fixture
def manager(connection):
    from ibkr_core.ibkr_market_data import IBKRQuoteProvider
    from ibkr_core.quote_manager import QuoteManager
    from ibkr_core.settings import Settings

    settings = Settings(provider_timeout=4.0)
    qm = QuoteManager([OfflineYahoo()], settings, ibkr=IBKRQuoteProvider(connection))
    try:
        yield qm
    finally:
        qm.close()


def test_a_connected_session_answers_the_first_quote_of_a_cold_symbol(gateway, manager):
    gateway.set_response_delay(0.5)  # the lookup alone outlasts the 0.3 s subscribe wait
    try:
        started = time.monotonic()
        quote = manager.get_quote("KO")
        took = time.monotonic() - started
    finally:
        gateway.set_response_delay(0)
    assert quote.ok, quote.error
    assert quote.source == QuoteSource.IBKR_LIVE and quote.price is not None
    assert took < 4.0


def test_a_cold_burst_gets_no_503_and_no_false_unknown(gateway, manager):
    results: list = []
    lock = threading.Lock()

    def ask(symbol):
        q = manager.get_quote(symbol)
        with lock:
            results.append(q)

    threads = [threading.Thread(target=ask, args=(s,)) for s in ["SPY", "KO", "MSFT"] * 20]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert len(results) == 60
    assert [q.error for q in results if not q.ok] == []


def test_unknown_only_when_ibkr_says_so_never_from_an_offline_fallback(gateway, manager):
    from ibkr_core.api.routes_market_data import is_unknown_symbol

    unknown = manager.get_quote("ZZZZQ")  # IBKR: no security definition (200)
    assert not unknown.ok and is_unknown_symbol(unknown.error)
    gateway.stop_ticks("KO")  # known but silent: no tick, Yahoo offline
    silent = manager.get_quotes(["KO"], max_wait=0.5)["KO"]
    assert not is_unknown_symbol(silent.error)


def test_a_refreshing_view_still_never_waits_for_the_first_tick(gateway, manager):
    gateway.set_response_delay(1.5)
    try:
        started = time.monotonic()
        manager.get_quotes(["NVDA"], max_wait=1.0)
        assert time.monotonic() - started < 1.5 + 0.5
    finally:
        gateway.set_response_delay(0)
