"""The WebSocket quote stream over a real uvicorn server (own thread, 127.0.0.1, port 0)
and the `websockets` client, so every receive has a timeout and nothing can hang.

The simulated gateway runs a still market here (no random walk): prices move only when
a test calls ``gw.set_price``, so "one message per change" is exact.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ibkr_core.api import create_app
from ibkr_core.providers.base import UNKNOWN_SYMBOL
from ibkr_core.quote_manager import QuoteManager
from ibkr_core.services import Services, build_services
from ibkr_core.settings import Settings
from tests.test_api import FAKE_PRICES, FakeYahoo

pytestmark = pytest.mark.timeout(60)

HEARTBEAT = 0.3


@pytest.fixture
def gateway_config():
    from ibkr_core.simulator import SimConfig

    return SimConfig(tick_interval=3600.0)  # still market: only set_price moves prices


@dataclass
class RunningApi:
    services: Services
    app: Any
    url: str


def serve(services: Services, **app_kwargs: Any) -> Iterator[RunningApi]:
    """uvicorn on a pre-bound 127.0.0.1 socket in a thread; stopped on exit."""
    app = create_app(services, heartbeat_interval=HEARTBEAT, **app_kwargs)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield RunningApi(services, app, f"ws://127.0.0.1:{port}/api/market-data/stream")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def make_services(settings: Settings) -> Services:
    services = build_services(settings)
    services.quotes.close()
    services.quotes = QuoteManager([FakeYahoo()], settings, ibkr=services.ibkr)
    return services


@pytest.fixture
def offline_api(tmp_path) -> Iterator[RunningApi]:
    from conftest import free_port

    settings = Settings(
        port=free_port(), provider_timeout=2.0, watchlist_file=str(tmp_path / "w.json")
    )
    services = make_services(settings)
    try:
        yield from serve(services, stream_interval=0.2)
    finally:
        services.close()


@pytest.fixture
def live_api(connection_settings, tmp_path) -> Iterator[RunningApi]:
    settings = replace(connection_settings, watchlist_file=str(tmp_path / "w.json"))
    services = make_services(settings)
    try:
        status = services.connect(settings.host, settings.port, settings.client_id + 100)
        assert status.connected, status.last_error
        yield from serve(services)
    finally:
        services.close()


def open_ws(url: str) -> ClientConnection:
    """A client that never stalls the close handshake behind unread messages."""
    return connect(url, open_timeout=5, close_timeout=2, max_queue=None, legacy=True)


def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws: ClientConnection, predicate, timeout: float = 5.0) -> dict[str, Any]:
    """The first message matching ``predicate`` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching message within the timeout")
        message = recv(ws, left)
        if predicate(message):
            return message


def drain(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every message received during ``seconds``."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            out.append(recv(ws, left))
        except TimeoutError:
            break
    return out


def subscribe(ws: ClientConnection, *symbols: str, action: str = "subscribe") -> dict[str, Any]:
    ws.send(json.dumps({"action": action, "symbols": list(symbols)}))
    return recv_until(ws, lambda m: m["type"] in ("subscribed", "unsubscribed"))


def is_quote(symbol: str, priced: bool = True, **match: Any):
    """A quote message for `symbol` matching `match`; with `priced`, one that carries a
    last price (a new line's first push may hold only the bid that arrived first)."""

    def check(m: dict[str, Any]) -> bool:
        return (
            m["type"] == "quote"
            and m["symbol"] == symbol
            and (not priced or m.get("last") is not None)
            and all(m.get(k) == v for k, v in match.items())
        )

    return check


# ------------------------------------------------------------------ IBKR ticks
def test_stream_pushes_each_ibkr_change_and_stops_after_unsubscribe(gateway, live_api):
    n_updates = 12
    with open_ws(live_api.url) as ws:
        assert recv(ws)["type"] == "welcome"
        assert subscribe(ws, "aapl")["subscriptions"] == ["AAPL"]
        first = recv_until(ws, is_quote("AAPL", source="ibkr-live"))
        assert first["provider_time"] and first["fetched_at"] and first["sent_at"]
        base = first["last"]

        # a still market: nothing changes, nothing is sent (heartbeats only)
        quiet = drain(ws, 1.0)
        assert not [m for m in quiet if m["type"] == "quote"]
        assert any(m["type"] == "heartbeat" for m in quiet)

        received = []
        for i in range(1, n_updates + 1):
            price = round(base + 0.5 * i, 2)
            gateway.set_price("AAPL", price)
            message = recv_until(ws, is_quote("AAPL", last=price))
            assert message["source"] == "ibkr-live"
            received.append(message)
        assert len(received) == n_updates
        # no duplicates of values already sent
        lasts = [m["last"] for m in received]
        assert len(set(lasts)) == len(lasts)

        answer = subscribe(ws, "AAPL", action="unsubscribe")
        assert answer["symbols"] == ["AAPL"] and answer["subscriptions"] == []
        for i in range(5):
            gateway.set_price("AAPL", round(base - 0.25 * (i + 1), 2))
        after = drain(ws, 1.0)
        assert not [m for m in after if m["type"] == "quote"], after
        assert any(m["type"] == "heartbeat" for m in after)


def test_several_symbols_and_clients_each_get_their_own(gateway, live_api):
    with (
        open_ws(live_api.url) as a,
        open_ws(live_api.url) as b,
    ):
        recv(a), recv(b)
        subscribe(a, "AAPL", "MSFT")
        subscribe(b, "MSFT")
        recv_until(a, is_quote("MSFT", source="ibkr-live"))
        msft = recv_until(b, is_quote("MSFT", source="ibkr-live"))
        gateway.set_price("MSFT", round(msft["last"] + 1.0, 2))
        new = round(msft["last"] + 1.0, 2)
        recv_until(a, is_quote("MSFT", last=new))
        recv_until(b, is_quote("MSFT", last=new))
        gateway.set_price("AAPL", 150.0)
        recv_until(a, is_quote("AAPL", last=150.0))
        assert not [m for m in drain(b, 0.5) if m.get("symbol") == "AAPL"]


# ------------------------------------------------------------------ without IBKR
def test_stream_uses_the_fallback_provider_when_not_connected(offline_api):
    with open_ws(offline_api.url) as ws:
        welcome = recv(ws)
        assert welcome["ibkr_connected"] is False
        assert welcome["heartbeat_interval"] == HEARTBEAT
        subscribe(ws, "MSFT", "NOPEZ")
        quote = recv_until(ws, is_quote("MSFT"))
        assert quote["source"] == "yahoo" and quote["last"] == FAKE_PRICES["MSFT"]
        unknown = recv_until(ws, is_quote("NOPEZ", priced=False))
        assert UNKNOWN_SYMBOL in unknown["error"] and unknown["price"] is None
        # polled again and again, but unchanged: not sent again
        assert not [m for m in drain(ws, 0.8) if m["type"] == "quote"]


def test_heartbeat_and_ping(offline_api):
    with open_ws(offline_api.url) as ws:
        recv(ws)
        beat = recv_until(ws, lambda m: m["type"] == "heartbeat", timeout=HEARTBEAT * 5)
        assert beat["ibkr_connected"] is False and "time" in beat
        ws.send(json.dumps({"action": "ping"}))
        assert recv_until(ws, lambda m: m["type"] == "pong")


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"action": "dance"}', "unknown action"),
        ('{"action": "subscribe"}', "non-empty list"),
        ('{"action": "subscribe", "symbols": []}', "non-empty list"),
        ('{"action": "subscribe", "symbols": [1, "$$$"]}', "invalid symbols"),
    ],
)
def test_bad_messages_get_an_error_and_the_stream_goes_on(offline_api, message, fragment):
    with open_ws(offline_api.url) as ws:
        recv(ws)
        ws.send(message)
        error = recv_until(ws, lambda m: m["type"] == "error")
        assert fragment in error["message"]
        assert subscribe(ws, "AAPL")["subscriptions"] == ["AAPL"]
        recv_until(ws, is_quote("AAPL"))


def test_at_most_max_symbols_per_connection(offline_api):
    with open_ws(offline_api.url) as ws:
        welcome = recv(ws)
        limit = welcome["max_symbols"]
        ws.send(json.dumps({"action": "subscribe", "symbols": [f"S{i}" for i in range(limit + 5)]}))
        error = recv_until(ws, lambda m: m["type"] == "error")
        assert "too many symbols" in error["message"] and "5 not subscribed" in error["message"]
        answer = recv_until(ws, lambda m: m["type"] == "subscribed")
        assert len(answer["subscriptions"]) == limit


def test_client_close_is_clean_and_frees_the_subscriptions(offline_api):
    hub = offline_api.app.state.api.hub
    ws = open_ws(offline_api.url)
    recv(ws)
    subscribe(ws, "AAPL")
    recv_until(ws, is_quote("AAPL"))
    assert len(hub._subscribers) == 1
    ws.close()
    deadline = time.monotonic() + 3
    while (hub._subscribers or not hub._task.done()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not hub._subscribers
    assert hub._task.done() and hub._task.exception() is None

    # a "close" action: the server closes with 1000
    with open_ws(offline_api.url) as ws:
        recv(ws)
        ws.send(json.dumps({"action": "close"}))
        with pytest.raises(ConnectionClosed) as info:
            drain(ws, 2.0)
            ws.recv(timeout=2)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
