"""The HTTP API carries the same state as the pages: the status route says degraded /
data farm broken / competing session with advice; quote responses say live / frozen
(with the last trade's time) / no data in a competing session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ibkr_core.api import create_app
from ibkr_core.services import Services
from ibkr_core.settings import Settings
from tests.conftest import free_port, wait_for
from tests.test_api import offline_services

pytestmark = pytest.mark.timeout(60)

STATUS = "/api/trading/ibkr/status"


@pytest.fixture
def client(gateway, tmp_path) -> Iterator[TestClient]:
    settings = Settings(
        port=free_port(),
        connect_timeout=2.0,
        request_timeout=4.0,
        provider_timeout=2.0,
        watchlist_file=str(tmp_path / "watchlist.json"),
    )
    services: Services = offline_services(settings)
    try:
        with TestClient(create_app(services), base_url="http://localhost") as c:
            body = {"host": gateway.host, "port": gateway.port}
            assert c.post("/api/trading/ibkr/connect", json=body).json()["connected"]
            yield c
    finally:
        services.close()


def quote(client: TestClient, symbol: str = "AAPL") -> dict:
    return client.get(f"/api/market-data/quote/{symbol}").json()


def test_live_status_and_quote(client):
    status = client.get(STATUS).json()
    assert status["link_state"] == "connected" and status["live"] is True
    assert status["notices"] == [] and status["state_label"] == "Connected"
    body = wait_for(lambda: (q := quote(client))["source"] == "ibkr-live" and q)
    assert body["line_state"] == "live" and body["live"] is True
    assert body["source_text"] == "IBKR (live)" and body["last_trade_time"]


def test_competing_session_status_and_quote_say_what_to_do(gateway, client):
    wait_for(lambda: quote(client)["source"] == "ibkr-live")
    gateway.competing_session(True)
    assert wait_for(lambda: client.get(STATUS).json()["competing_session"])
    status = client.get(STATUS).json()
    assert status["live"] is False and status["state_label"] == "No data: competing session"
    notice = next(n for n in status["notices"] if n["code"] == 10197)
    assert "Close the other session" in notice["advice"]
    # NVDA is not in the fake fallback's list: IBKR's reason is what the caller reads
    r = client.get("/api/market-data/quote/NVDA")
    assert r.status_code != 200, {k: v for k, v in r.json().items() if v is not None}
    assert "no data: competing session" in r.json()["detail"]
    assert "close the other session" in r.json()["detail"]


def test_market_close_quote_is_frozen_with_the_last_trade_time(gateway, client):
    wait_for(lambda: quote(client)["source"] == "ibkr-live")
    gateway.close_market()
    body = wait_for(lambda: (q := quote(client))["line_state"] == "frozen" and q)
    sim = gateway.quote("AAPL")
    assert body["live"] is False and body["source"] == "ibkr-frozen"
    assert body["source_text"].startswith("IBKR (frozen, last ")
    assert body["provider_time"] == body["last_trade_time"]
    from datetime import datetime

    stamp = datetime.fromisoformat(body["last_trade_time"].replace("Z", "+00:00"))
    assert int(stamp.timestamp()) == int(sim.last_time)


def test_data_farm_broken_and_1100_in_the_status_route(gateway, client):
    gateway.data_farm_broken()
    assert wait_for(lambda: client.get(STATUS).json()["broken_farms"])
    status = client.get(STATUS).json()
    assert status["broken_farms"] == ["usfarm (market data)"] and status["live"] is False
    gateway.data_farm_restored()
    gateway.emit_connectivity(1100)
    assert wait_for(lambda: client.get(STATUS).json()["link_state"] == "degraded")
    status = client.get(STATUS).json()
    assert any("orders may wait" in n["message"] for n in status["notices"])
