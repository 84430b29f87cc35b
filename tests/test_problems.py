"""A quote's problem stays structured (TWS code, message, advice) from the gateway to
what the API returns and the market data page shows."""

from __future__ import annotations

import pytest
from yfinance.exceptions import YFRateLimitError

from ibkr_core.simulator import SimConfig
from ibkr_core.tws_codes import DELAYED_NOT_ENABLED, TWS_CODES
from tests.app_support import FakeTicker, fresh_services, wait_until
from tests.test_api import api_settings, client, connected, services  # noqa: F401
from tests.test_app_market_data import open_page, table

pytestmark = pytest.mark.timeout(90)

REFUSED = TWS_CODES[DELAYED_NOT_ENABLED]  # no live subscription, no delayed data either


@pytest.fixture
def gateway_config():
    return SimConfig(
        not_entitled=frozenset({"TSLA"}), no_delayed=frozenset({"TSLA"}), tick_interval=0.1
    )


def test_the_api_returns_twss_code_message_and_advice(connected):  # noqa: F811
    def refused():
        r = connected.get("/api/market-data/quote/TSLA")
        codes = [p["code"] for p in r.json().get("problems", [])]
        return r if DELAYED_NOT_ENABLED in codes else None

    r = wait_until(refused, timeout=15, step=0.2)
    assert r.status_code in (404, 503)  # the fake fallback does not know TSLA either
    ibkr = next(p for p in r.json()["problems"] if p["code"] == DELAYED_NOT_ENABLED)
    assert ibkr["advice"] == REFUSED.advice
    assert "not subscribed and delayed data is not enabled" in ibkr["message"]
    assert r.json()["detail"].startswith("Unknown symbol 'TSLA': no quote: ")
    assert connected.get("/api/market-data/quote/AAPL").json()["problems"] == []


def test_the_page_shows_the_message_and_the_advice(gateway, tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as svc:
        FakeTicker.fail_with = YFRateLimitError()  # no fallback: IBKR's reason shows
        assert svc.connect(gateway.host, gateway.port, 22).connected
        at = open_page()

        def refused():
            at.run()
            status = str(table(at).loc["TSLA", "status"])
            return status if REFUSED.advice in status else None

        status = wait_until(refused, timeout=20, step=0.3)
        assert status.startswith("✖ No data — ")
        assert "not subscribed and delayed data is not enabled (IBKR 10168)" in status
        assert "Yahoo Finance: " in status
