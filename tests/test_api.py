"""The HTTP API (ibkr_core.api) against the simulated gateway, through Starlette's
TestClient (ASGI in-process; nothing listens on a socket but the simulator).

The fallback quote provider is a fake (no internet): it knows FAKE_PRICES and calls
anything else an unknown symbol, like Yahoo does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from ibkr_core.api import create_app, routes_ibkr
from ibkr_core.providers.base import UNKNOWN_SYMBOL
from ibkr_core.quote import Quote, QuoteSource
from ibkr_core.quote_manager import QuoteManager
from ibkr_core.services import Services, build_services
from ibkr_core.settings import Settings
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)

FAKE_PRICES = {"AAPL": 228.5, "MSFT": 421.3, "SPY": 571.2}


class FakeYahoo:
    """A fallback provider at its boundary: known symbols priced, others unknown."""

    name = QuoteSource.YAHOO
    configured = True

    def fetch(self, symbols: list[str]) -> dict[str, Quote]:
        now = datetime.now(UTC)
        return {
            s: Quote(s, QuoteSource.YAHOO, last=FAKE_PRICES[s], provider_time=now)
            if s in FAKE_PRICES
            else Quote.failed(s, f"{UNKNOWN_SYMBOL} {s}", QuoteSource.YAHOO)
            for s in symbols
        }


def offline_services(settings: Settings) -> Services:
    """build_services with the fake fallback instead of Yahoo / Alpha Vantage."""
    services = build_services(settings)
    services.quotes.close()
    services.quotes = QuoteManager([FakeYahoo()], settings, ibkr=services.ibkr)
    return services


@pytest.fixture
def api_settings(tmp_path) -> Settings:
    """Settings pointing at no gateway (port of nothing listening), fast timeouts."""
    from conftest import free_port

    return Settings(
        port=free_port(),
        client_id=7,
        connect_timeout=2.0,
        request_timeout=4.0,
        provider_timeout=2.0,
        watchlist_file=str(tmp_path / "watchlist.json"),
    )


@pytest.fixture
def services(api_settings) -> Iterator[Services]:
    services = offline_services(api_settings)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    with TestClient(create_app(services), base_url="http://localhost") as c:
        yield c


@pytest.fixture
def connected(gateway, client) -> TestClient:
    """The client, connected to the simulated gateway through the connect route."""
    r = client.post("/api/trading/ibkr/connect", json={"host": gateway.host, "port": gateway.port})
    assert r.status_code == 200, r.text
    assert r.json()["connected"], r.json()["last_error"]
    return client


# ------------------------------------------------------------------ not connected
def test_status_when_not_connected(client):
    r = client.get("/api/trading/ibkr/status")
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "disconnected" and body["connected"] is False


@pytest.mark.parametrize("path", ["/api/trading/ibkr/account", "/api/trading/ibkr/positions"])
def test_ibkr_routes_answer_503_when_not_connected(client, path):
    r = client.get(path)
    assert r.status_code == 503
    assert "Not connected" in r.json()["detail"]


def test_portfolio_summary_is_zeros_marked_not_connected(client):
    body = client.get("/api/trading/portfolio/summary").json()
    assert body["source"] == "not connected" and body["connected"] is False
    assert body["net_liquidation"] == 0 and body["positions_count"] == 0
    assert body["daily_pnl"] == 0 and body["total_cash"] == 0


def test_quote_falls_back_to_the_next_provider_with_source_and_times(client):
    r = client.get("/api/market-data/quote/aapl")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "AAPL" and body["source"] == "yahoo"
    assert body["price"] == FAKE_PRICES["AAPL"]
    assert body["provider_time"] and body["fetched_at"]
    assert body["stale"] is False


def test_unknown_symbol_is_404_with_a_message(client):
    r = client.get("/api/market-data/quote/ZZZZQ")
    assert r.status_code == 404
    assert "ZZZZQ" in r.json()["detail"] and "nknown symbol" in r.json()["detail"]


@pytest.mark.parametrize("symbol", ["$$$", "A" * 30, "-AAPL", "AA%20PL%3B"])
def test_malformed_symbol_is_422(client, symbol):
    r = client.get(f"/api/market-data/quote/{symbol}")
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"port": 0},
        {"port": 70000},
        {"port": "seven"},
        {"client_id": -1},
        {"host": "evil host/with spaces"},
        {"timeout": 0},
        {"unexpected": 1},
    ],
)
def test_connect_rejects_bad_input_with_422(client, body):
    r = client.post("/api/trading/ibkr/connect", json=body)
    assert r.status_code == 422, r.text


def test_connect_to_a_closed_port_is_a_disconnected_status_not_an_error(client, api_settings):
    r = client.post("/api/trading/ibkr/connect", json={"timeout": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["connected"] is False
    assert str(api_settings.port) in body["last_error"]


def test_orders_are_locked_and_refused_when_not_connected(client):
    status = client.get("/api/trading/orders/status").json()
    assert status["allowed"] is False and "Connect" in status["reason"]
    r = client.post(
        "/api/trading/orders",
        json={"symbol": "AAPL", "action": "BUY", "quantity": 1},
        headers={"Idempotency-Key": "test-key-0001"},
    )
    assert r.status_code == 503
    assert (
        client.post(
            "/api/trading/orders/preview", json={"symbol": "AAPL", "action": "BUY", "quantity": 1}
        ).status_code
        == 503
    )
    assert client.delete("/api/trading/orders/1").status_code == 503
    listed = client.get("/api/trading/orders").json()
    assert listed["orders"] == [] and listed["trading"]["allowed"] is False


@pytest.mark.parametrize(
    "ticket",
    [
        {"symbol": "AAPL", "action": "HOLD", "quantity": 1},
        {"symbol": "AAPL", "action": "BUY", "quantity": -5},
        {"symbol": "AAPL", "action": "BUY", "quantity": 0},
        {"symbol": "AAPL", "action": "BUY"},
        {"symbol": "", "action": "BUY", "quantity": 1},
        {"symbol": "AAPL", "action": "BUY", "quantity": 1, "order_type": "FOO"},
        {"symbol": "AAPL", "action": "BUY", "quantity": 1, "limit_price": -1},
        {"symbol": "AAPL", "action": "BUY", "quantity": 1, "leverage": 100},
        ["not", "an", "object"],
    ],
)
def test_malformed_orders_are_422(client, ticket):
    headers = {"Idempotency-Key": "test-key-0002"}
    assert client.post("/api/trading/orders", json=ticket, headers=headers).status_code == 422
    assert client.post("/api/trading/orders/preview", json=ticket).status_code == 422


@pytest.mark.parametrize(
    "headers", [{}, {"Idempotency-Key": "short"}, {"Idempotency-Key": "a b c d e f g h"}]
)
def test_place_needs_a_well_formed_idempotency_key(client, headers):
    ticket = {"symbol": "AAPL", "action": "BUY", "quantity": 1}
    r = client.post("/api/trading/orders", json=ticket, headers=headers)
    assert r.status_code == 422
    assert "Idempotency-Key" in r.text


def test_openapi_document_lists_every_route(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in [
        "/api/trading/ibkr/connect",
        "/api/trading/ibkr/disconnect",
        "/api/trading/ibkr/status",
        "/api/trading/ibkr/account",
        "/api/trading/ibkr/positions",
        "/api/trading/portfolio/summary",
        "/api/market-data/quote/{symbol}",
        "/api/trading/orders",
        "/api/trading/orders/preview",
        "/api/trading/orders/{order_id}",
    ]:
        assert path in paths, path
    assert "QuoteResponse" in doc["components"]["schemas"]


# ------------------------------------------------------------------ connected
def test_connect_uses_the_api_servers_own_client_id(connected, api_settings):
    body = connected.get("/api/trading/ibkr/status").json()
    assert body["connected"] is True
    assert body["requested_client_id"] == api_settings.client_id + 100
    assert body["accounts"] == ["DU1234567"] and body["is_paper"] is True


def test_account_summary(connected):
    r = connected.get("/api/trading/ibkr/account")
    assert r.status_code == 200, r.text
    account = r.json()["accounts"]["DU1234567"]
    assert account["NetLiquidation"] > 0
    assert "TotalCashValue" in account


def test_positions_and_portfolio_summary(connected):
    r = connected.get("/api/trading/ibkr/positions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["positions"])
    summary = connected.get("/api/trading/portfolio/summary").json()
    assert summary["source"] == "ibkr" and summary["connected"] is True
    assert summary["accounts"] == ["DU1234567"]
    assert summary["positions_count"] == body["count"]
    assert summary["net_liquidation"] > 0


def test_quote_comes_from_ibkr_when_connected(connected):
    def ibkr_quote():
        body = connected.get("/api/market-data/quote/MSFT").json()
        return body if body.get("source", "").startswith("ibkr") else None

    body = wait_for(ibkr_quote)
    assert body, "no IBKR quote within 5 s"
    assert body["source"] == "ibkr-live"
    assert body["bid"] is not None and body["ask"] is not None
    assert body["provider_time"] is not None


def test_unknown_symbol_is_404_when_connected_too(connected):
    r = connected.get("/api/market-data/quote/QQQQZ")
    assert r.status_code == 404
    assert "QQQQZ" in r.json()["detail"]


def test_disconnect(connected):
    r = connected.post("/api/trading/ibkr/disconnect", json={})
    assert r.status_code == 200 and r.json()["state"] == "disconnected"
    assert connected.get("/api/trading/ibkr/account").status_code == 503
    summary = connected.get("/api/trading/portfolio/summary").json()
    assert summary["source"] == "not connected"


def test_order_preview_place_idempotent_list_cancel(connected):
    ticket = {"symbol": "AAPL", "action": "BUY", "quantity": 1, "order_type": "LMT"}
    quote = wait_for(
        lambda: (b := connected.get("/api/market-data/quote/AAPL").json()).get("bid") and b
    )
    ticket["limit_price"] = round(quote["bid"] * 0.8, 2)  # rests: far below the market

    status = connected.get("/api/trading/orders/status").json()
    assert status["allowed"] is True and status["is_paper"] is True

    preview = connected.post("/api/trading/orders/preview", json=ticket)
    assert preview.status_code == 200, preview.text
    assert preview.json()["commission"] is not None
    assert preview.json()["trading"]["allowed"] is True

    headers = {"Idempotency-Key": "api-test-order-1"}
    first = connected.post("/api/trading/orders", json=ticket, headers=headers)
    assert first.status_code == 201, first.text
    again = connected.post("/api/trading/orders", json=ticket, headers=headers)
    assert again.status_code == 201
    order_id = first.json()["order_id"]
    assert again.json()["order_id"] == order_id
    assert first.json()["idempotency_key"] == "api-test-order-1"

    listed = connected.get("/api/trading/orders").json()
    assert [o["order_id"] for o in listed["orders"]] == [order_id]
    assert connected.get(f"/api/trading/orders/{order_id}").json()["symbol"] == "AAPL"

    cancelled = connected.delete(f"/api/trading/orders/{order_id}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] in ("Cancelled", "ApiCancelled", "PendingCancel")
    assert wait_for(lambda: connected.get("/api/trading/orders").json()["orders"] == [])
    assert connected.get("/api/trading/orders?scope=today").json()["orders"]


def test_order_refused_by_the_service_is_422_with_issues(connected):
    # well-formed, but a LMT without a limit price: OrderService says which field
    ticket = {"symbol": "AAPL", "action": "BUY", "quantity": 1, "order_type": "LMT"}
    r = connected.post(
        "/api/trading/orders", json=ticket, headers={"Idempotency-Key": "api-test-bad-1"}
    )
    assert r.status_code == 422, r.text
    assert any(i["field"] == "limit_price" for i in r.json()["issues"])


def test_unknown_order_is_404(connected):
    assert connected.delete("/api/trading/orders/987654").status_code == 404
    assert connected.get("/api/trading/orders/987654").status_code == 404


def test_live_account_is_locked_like_the_dashboard(api_settings):
    from ibkr_core.simulator import SimConfig, start_in_background

    gw = start_in_background(seed=1, port=0, config=SimConfig(account_id="U7654321"))
    services = offline_services(replace(api_settings, port=gw.port))
    try:
        with TestClient(create_app(services), base_url="http://localhost") as client:
            assert client.post("/api/trading/ibkr/connect", json={}).json()["connected"]
            status = client.get("/api/trading/orders/status").json()
            assert status["allowed"] is False and "LIVE" in status["reason"]
            r = client.post(
                "/api/trading/orders",
                json={"symbol": "AAPL", "action": "BUY", "quantity": 1},
                headers={"Idempotency-Key": "api-live-lock-1"},
            )
            assert r.status_code == 403
            assert "LIVE" in r.json()["detail"]
            assert client.get("/api/trading/orders").json()["orders"] == []
    finally:
        services.close()
        gw.stop()


# ------------------------------------------------------------------ auth
@pytest.fixture
def token_client(api_settings) -> Iterator[TestClient]:
    services = offline_services(replace(api_settings, api_token="s3cret-token"))
    try:
        with TestClient(create_app(services), base_url="http://localhost") as c:
            yield c
    finally:
        services.close()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "s3cret-token"},
        {"Authorization": "Basic s3cret-token"},
    ],
)
def test_token_protects_every_route(token_client, headers):
    for method, path in [
        ("GET", "/api/trading/ibkr/status"),
        ("POST", "/api/trading/ibkr/connect"),
        ("GET", "/api/market-data/quote/AAPL"),
        ("GET", "/api/trading/portfolio/summary"),
        ("GET", "/api/trading/orders"),
        ("GET", "/openapi.json"),
        ("GET", "/api/health"),
    ]:
        body = {} if method == "POST" else None
        r = token_client.request(method, path, headers=headers, json=body)
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_right_token_is_let_through(token_client):
    headers = {"Authorization": "Bearer s3cret-token"}
    assert token_client.get("/api/trading/ibkr/status", headers=headers).status_code == 200
    doc = token_client.get("/openapi.json", headers=headers).json()
    assert doc["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"


def test_token_protects_the_websocket(token_client):
    """Header or first message; never the URL (a token there would reach access logs)."""
    from starlette.websockets import WebSocketDisconnect

    url = "ws://localhost/api/market-data/stream"

    with (
        pytest.raises(WebSocketDisconnect) as info,
        token_client.websocket_connect(url) as ws,
    ):
        ws.receive_json()
    assert info.value.code == 1008
    with (
        pytest.raises(WebSocketDisconnect) as info,
        token_client.websocket_connect(url) as ws,
    ):
        ws.send_json({"action": "auth", "token": "wrong"})
        ws.receive_json()
    assert info.value.code == 1008
    with (
        pytest.raises(WebSocketDisconnect),
        token_client.websocket_connect(url + "?token=s3cret-token") as ws,
    ):
        ws.receive_json()  # refused before the app: the URL's token is not accepted
    with token_client.websocket_connect(url) as ws:
        ws.send_json({"action": "auth", "token": "s3cret-token"})
        assert ws.receive_json()["type"] == "welcome"
    headers = {"Authorization": "Bearer s3cret-token"}
    with token_client.websocket_connect(url, headers=headers) as ws:
        assert ws.receive_json()["type"] == "welcome"


# ------------------------------------------------------------------ never block the loop
def test_slow_ibkr_call_times_out_as_504_and_never_blocks_other_requests(services, monkeypatch):
    """A stuck blocking call runs in a worker thread: other requests are served meanwhile,
    and the stuck one ends as 504 at the outer deadline."""
    release = threading.Event()

    def stuck(*_args, **_kwargs):
        release.wait(10)
        return {}

    services.settings = replace(services.settings, request_timeout=0.5)  # outer bound 2.5 s
    monkeypatch.setattr(services.connection, "ib_ready", lambda: True)
    monkeypatch.setattr(routes_ibkr, "get_account_summary", stuck)
    app = create_app(services)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            slow = asyncio.create_task(http.get("/api/trading/ibkr/account"))
            await asyncio.sleep(0.1)
            started = time.monotonic()
            fast = await http.get("/api/health")
            fast_elapsed = time.monotonic() - started
            slow_response = await slow
            return fast, fast_elapsed, slow_response

    try:
        fast, fast_elapsed, slow = asyncio.run(scenario())
    finally:
        release.set()
    assert fast.status_code == 200 and fast_elapsed < 1.0
    assert slow.status_code == 504
    assert "Timed out" in slow.json()["detail"]
