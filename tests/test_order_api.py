"""The HTTP API reaches the instrument the user means (issue 10), on the simulator's
multi-asset profile: the instruments route lists every match, an ambiguous symbol is
refused (422, field con_id) until a con_id is given, the preview names the instrument
and the value in its currency and in base."""

from __future__ import annotations

import pytest

from ibkr_core.simulator import SimConfig
from tests import test_api

# The API test's fixtures: settings without a gateway, the app's services, its client,
# connected through the connect route (to this module's multi-asset gateway).
api_settings, services, client, connected = (
    test_api.api_settings,
    test_api.services,
    test_api.client,
    test_api.connected,
)

pytestmark = pytest.mark.timeout(40)

SAP_IBIS = 14204


@pytest.fixture
def gateway_config():
    return SimConfig(tick_interval=3600.0, profile="multi-asset")


def test_sap_through_the_api_lists_both_and_needs_a_con_id(connected, gateway):
    r = connected.get("/api/trading/orders/instruments", params={"symbol": "SAP"})
    assert r.status_code == 200, r.text
    listed = {(i["con_id"], i["listing"], i["currency"]) for i in r.json()["instruments"]}
    assert listed == {(SAP_IBIS, "IBIS", "EUR"), (8957, "NYSE", "USD")}
    ticket = {"symbol": "SAP", "action": "SELL", "quantity": 10, "order_type": "LMT"}
    ticket["limit_price"] = 250.0
    refused = connected.post("/api/trading/orders/preview", json=ticket)
    assert refused.status_code == 422
    assert [i["field"] for i in refused.json()["issues"]] == ["con_id"]
    preview = connected.post("/api/trading/orders/preview", json={**ticket, "con_id": SAP_IBIS})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["instrument"]["description"] == "SAP · IBIS · EUR"
    assert body["instrument"]["con_id"] == SAP_IBIS and body["currency"] == "EUR"
    assert body["order_value"] == pytest.approx(2500.0)
    assert body["base_currency"] == "USD" and body["order_value_base"] > 2500.0
    unknown = connected.get("/api/trading/orders/instruments", params={"symbol": "NOPEZZ"})
    assert unknown.status_code == 404


def test_trading_status_gives_the_limit_with_its_currency(connected):
    status = connected.get("/api/trading/orders/status").json()
    assert status["max_order_value"] == 100_000.0
    assert status["max_order_value_currency"] == "USD"
