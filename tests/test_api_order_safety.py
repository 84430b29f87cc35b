"""The order routes against issue 14's hostile tickets (reuses test_api's fixtures)."""

from __future__ import annotations

import json

import pytest

from tests import test_api

pytestmark = pytest.mark.timeout(60)

api_settings = test_api.api_settings
services = test_api.services
client = test_api.client
connected = test_api.connected

TICKET = {"symbol": "AAPL", "action": "BUY", "quantity": 1, "order_type": "LMT"}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["quantity", "limit_price", "stop_price"])
@pytest.mark.parametrize("route", ["/api/trading/orders", "/api/trading/orders/preview"])
def test_non_finite_numbers_in_a_ticket_are_422_not_500(client, number, field, route):
    body = {**TICKET, "limit_price": 10.0, field: "__N__"}
    raw = json.dumps(body).replace('"__N__"', number)  # what a JS client may send
    r = client.post(
        route,
        content=raw,
        headers={"Content-Type": "application/json", "Idempotency-Key": "nan-key-0001"},
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]  # valid JSON (the NaN echoed as text)
    assert any(field in e["loc"] for e in detail)


def test_same_key_with_another_ticket_is_409_and_sends_nothing_more(connected, gateway):
    headers = {"Idempotency-Key": "api-conflict-0001"}
    first = connected.post(
        "/api/trading/orders", json={**TICKET, "limit_price": 1.0}, headers=headers
    )
    assert first.status_code == 201, first.text
    again = connected.post(
        "/api/trading/orders", json={**TICKET, "limit_price": 1.0}, headers=headers
    )
    assert again.status_code == 201 and again.json()["order_id"] == first.json()["order_id"]
    other = connected.post(
        "/api/trading/orders",
        json={**TICKET, "symbol": "MSFT", "quantity": 50, "limit_price": 1.0},
        headers=headers,
    )
    assert other.status_code == 409, other.text
    assert "already used for order" in other.json()["detail"]
    listed = connected.get("/api/trading/orders").json()["orders"]
    assert [o["symbol"] for o in listed] == ["AAPL"]


def test_a_huge_limit_price_is_refused_with_a_clear_message(connected):
    r = connected.post("/api/trading/orders/preview", json={**TICKET, "limit_price": 5e6})
    assert r.status_code == 422
    assert "too large" in r.text


def test_a_preview_selling_more_than_held_carries_the_short_warning(connected):
    r = connected.post(
        "/api/trading/orders/preview",
        json={
            "symbol": "AAPL",
            "action": "SELL",
            "quantity": 300,
            "order_type": "LMT",
            "limit_price": 300.0,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["position"] == 100  # the demo account's AAPL
    assert "opens a short position of 200 shares" in body["short_warning"]


def test_a_cold_quote_while_connected_is_answered_on_the_first_ask(connected, gateway):
    gateway.set_response_delay(0.5)  # the lookup outlasts a plain snapshot read
    try:
        r = connected.get("/api/market-data/quote/KO")
    finally:
        gateway.set_response_delay(0)
    assert r.status_code == 200, r.text
    assert r.json()["source"].startswith("ibkr") and r.json()["price"] is not None
