"""Alpha Vantage against a real HTTP server on 127.0.0.1 serving the real response shapes."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from ibkr_core.providers.alphavantage import AlphaVantageProvider
from ibkr_core.providers.base import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from ibkr_core.quote import QuoteSource
from ibkr_core.settings import Settings

pytestmark = pytest.mark.timeout(10)

API_KEY = "SECRETKEY123"


def global_quote(symbol: str, price: str = "225.9700") -> dict[str, Any]:
    return {
        "01. symbol": symbol,
        "02. open": "225.5400",
        "03. high": "226.1900",
        "04. low": "223.8900",
        "05. price": price,
        "06. volume": "9226278",
        "07. latest trading day": "2019-10-04",
        "08. previous close": "220.8200",
        "09. change": "5.1500",
        "10. change percent": "2.3322%",
    }


UNKNOWN = {"Global Quote": {}}
DAILY_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests "
    "per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
}
BURST_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API "
    "requests more sparingly (1 request per second). You may subscribe to any of the premium "
    "plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests "
    "per day) and instantly unlock all premium endpoints"
}
NOTE_LIMIT = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per "
    "minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you "
    "would like to target a higher API call frequency."
}
BAD_KEY = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key "
    "on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}
BAD_KEY_INFO = {"Information": BAD_KEY["Error Message"]}
PREMIUM = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
    "unlock all premium endpoints"
}
KEY_ECHO = {
    "Information": f"We have detected your API key as {API_KEY} and our standard API rate limit "
    "is 25 requests per day."
}

Response = dict[str, Any] | Callable[[str], Any]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


class FakeAlphaVantage:
    """A local GLOBAL_QUOTE endpoint: per-symbol canned bodies, request counting."""

    def __init__(self) -> None:
        self.responses: dict[str, Response] = {}
        self.default: Response = lambda symbol: {"Global Quote": global_quote(symbol)}
        self.requests: list[dict[str, str]] = []
        self.delay = 0.0
        self.status = 200
        self._lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/query"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                with fake._lock:
                    fake.requests.append(params)
                time.sleep(fake.delay)
                symbol = params.get("symbol", "")
                body = fake.responses.get(symbol, fake.default)
                body = body(symbol) if callable(body) else body
                data = json.dumps(body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line carries the key

        return Handler

    def __enter__(self) -> FakeAlphaVantage:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[FakeAlphaVantage]:
    with FakeAlphaVantage() as fake:
        yield fake


def make_provider(url: str, key: str = API_KEY, timeout: float = 2.0) -> AlphaVantageProvider:
    settings = Settings(alphavantage_api_key=key, alphavantage_url=url, provider_timeout=timeout)
    return AlphaVantageProvider(settings, min_interval=0.0)


def test_quote_fields_and_one_request_per_symbol(server: FakeAlphaVantage) -> None:
    quotes = make_provider(server.url).fetch(["AAPL", "MSFT", "IBM"])

    aapl = quotes["AAPL"]
    assert aapl.ok and aapl.source is QuoteSource.ALPHA_VANTAGE
    assert (aapl.last, aapl.high, aapl.low) == (225.97, 226.19, 223.89)
    assert aapl.volume == 9226278 and aapl.previous_close == 220.82
    assert aapl.bid is None and aapl.ask is None
    # Only the trading day is known: its start in New York, never "now".
    assert aapl.provider_time == datetime(2019, 10, 4, 4, 0, tzinfo=UTC)
    assert [r["symbol"] for r in server.requests] == ["AAPL", "MSFT", "IBM"]
    assert all(r["function"] == "GLOBAL_QUOTE" and r["apikey"] == API_KEY for r in server.requests)


def test_unknown_symbol_is_an_error_quote_and_others_still_priced(
    server: FakeAlphaVantage,
) -> None:
    server.responses["NOPE"] = UNKNOWN
    quotes = make_provider(server.url).fetch(["AAPL", "NOPE", "MSFT"])

    assert quotes["NOPE"].error == "unknown symbol" and quotes["NOPE"].last is None
    assert quotes["AAPL"].ok and quotes["MSFT"].ok


def test_delayed_entitlement_shape_is_parsed(server: FakeAlphaVantage) -> None:
    server.responses["AAPL"] = {"Global Quote - DATA DELAYED BY 15 MINUTES": global_quote("AAPL")}
    quote = make_provider(server.url).fetch(["AAPL"])["AAPL"]
    assert quote.ok and quote.last == 225.97


@pytest.mark.parametrize(
    ("body", "low", "high"),
    [
        (DAILY_LIMIT, 60.0, 86_400.0),
        (BURST_LIMIT, 0.5, 5.0),
        (NOTE_LIMIT, 30.0, 120.0),
    ],
    ids=["daily", "burst", "note"],
)
def test_rate_limits_say_when_to_retry_and_keep_earlier_quotes(
    server: FakeAlphaVantage, body: dict[str, str], low: float, high: float
) -> None:
    server.responses["MSFT"] = body
    with pytest.raises(ProviderRateLimited) as caught:
        make_provider(server.url).fetch(["AAPL", "MSFT", "IBM"])

    assert low <= caught.value.retry_after <= high
    assert list(caught.value.partial) == ["AAPL"]
    assert len(server.requests) == 2  # stops at the limit instead of burning more calls


@pytest.mark.parametrize("body", [BAD_KEY, BAD_KEY_INFO], ids=["error-message", "information"])
def test_bad_key_is_an_auth_error(server: FakeAlphaVantage, body: dict[str, str]) -> None:
    server.default = body
    with pytest.raises(ProviderAuthError, match="API key"):
        make_provider(server.url).fetch(["AAPL"])


def test_premium_endpoint_is_an_auth_error(server: FakeAlphaVantage) -> None:
    server.default = PREMIUM
    with pytest.raises(ProviderAuthError, match="premium"):
        make_provider(server.url).fetch(["AAPL"])


def test_missing_key_means_not_configured_and_no_request(server: FakeAlphaVantage) -> None:
    provider = make_provider(server.url, key="")
    assert not provider.configured
    with pytest.raises(ProviderAuthError, match="not configured"):
        provider.fetch(["AAPL"])
    assert server.requests == []


def test_http_error_and_slow_server_are_unavailable(server: FakeAlphaVantage) -> None:
    server.status = 500
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        make_provider(server.url).fetch(["AAPL"])

    server.status, server.delay = 200, 1.0
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        make_provider(server.url, timeout=0.2).fetch(["AAPL"])
    assert time.monotonic() - started < 0.9


def test_unreachable_server_is_unavailable() -> None:
    with FakeAlphaVantage() as fake:
        url = fake.url
    with pytest.raises(ProviderUnavailable):
        make_provider(url).fetch(["AAPL"])


def test_malformed_url_setting_does_not_leak_the_key() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        make_provider("not-a-url").fetch(["AAPL"])
    assert API_KEY not in str(caught.value) and caught.value.__cause__ is None


def test_api_key_never_in_logs_exceptions_or_reprs(
    server: FakeAlphaVantage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_provider(server.url)
    messages = [repr(provider)]
    for body in (KEY_ECHO, BAD_KEY, BURST_LIMIT, PREMIUM, {"unexpected": 1}):
        server.default = body
        with pytest.raises(Exception) as caught:
            provider.fetch(["AAPL"])
        messages += [str(caught.value), repr(caught.value)]
    server.status = 500
    with pytest.raises(ProviderUnavailable) as caught:
        provider.fetch(["AAPL"])
    messages += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]

    assert server.requests and all(r["apikey"] == API_KEY for r in server.requests)
    assert all(API_KEY not in m for m in messages), messages
    assert API_KEY not in caplog.text
    assert "daily limit" in messages[1]  # the key-echoing notice is still understood


def test_through_the_manager_the_key_stays_out_of_logs_quotes_and_status(
    server: FakeAlphaVantage, caplog: pytest.LogCaptureFixture
) -> None:
    from ibkr_core.quote_manager import QuoteManager

    caplog.set_level(logging.DEBUG)
    settings = Settings(alphavantage_api_key=API_KEY, alphavantage_url=server.url)
    now = [0.0]
    provider = AlphaVantageProvider(settings, min_interval=0.0)
    manager = QuoteManager([provider], settings, clock=lambda: now[0])
    try:
        server.default = KEY_ECHO
        limited = manager.get_quote("AAPL")
        server.default = BAD_KEY
        now[0] += 86_400  # past the daily back-off: the next call sees the bad key
        rejected = manager.get_quote("MSFT")
        statuses = manager.provider_status()
    finally:
        manager.close()

    assert "daily limit" in limited.error and "rejected the API key" in rejected.error
    assert not statuses[0].available
    texts = [limited.error, rejected.error, repr(statuses), repr(manager), caplog.text]
    assert all(API_KEY not in t for t in texts)
