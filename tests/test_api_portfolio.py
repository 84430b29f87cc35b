"""The portfolio routes give the Portfolio page's numbers: per-currency rows, base totals,
the account choice. On an advisor login as TWS sends it, then on the simulator."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ibkr_core.api import create_app
from tests import tws_accounts as tws
from tests.test_api import api_settings, connected, offline_services  # noqa: F401

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def services(api_settings):  # noqa: F811
    services = offline_services(api_settings)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def client(services):
    with TestClient(create_app(services), base_url="http://localhost") as c:
        yield c


@pytest.fixture
def advisor(services, monkeypatch):
    monkeypatch.setattr(services, "portfolio", tws.FixturePortfolio())
    monkeypatch.setattr(services.connection, "ib_ready", lambda: True)
    return services


def test_accounts_and_choices(client, advisor):
    body = client.get("/api/trading/portfolio/accounts").json()
    assert body == {
        "accounts": [tws.USD_ACCOUNT, tws.EUR_ACCOUNT],
        "choices": [tws.USD_ACCOUNT, tws.EUR_ACCOUNT, "All"],
    }


def test_summary_in_each_accounts_base_currency(client, advisor):
    usd = client.get(f"/api/trading/portfolio/summary?account={tws.USD_ACCOUNT}").json()
    assert usd["currency"] == "USD" and usd["account"] == tws.USD_ACCOUNT
    assert usd["net_liquidation"] == pytest.approx(tws.USD_NLV)
    assert usd["positions_value"] == pytest.approx(tws.USD_SECURITIES_BASE)
    assert usd["futures_exposure"] == 252500.0
    cash = {c["currency"]: c for c in usd["cash"]}
    assert cash["JPY"]["balance"] == -1500000.0 and cash["JPY"]["rate"] == 0.0067
    assert cash["JPY"]["base_value"] == pytest.approx(-10050.0)
    eur = client.get(f"/api/trading/portfolio/summary?account={tws.EUR_ACCOUNT}").json()
    assert eur["currency"] == "EUR" and eur["net_liquidation"] == pytest.approx(54608.5)
    both = client.get("/api/trading/portfolio/summary").json()
    assert both["account"] == "All" and both["currency"] == "USD"
    assert both["net_liquidation"] == pytest.approx(tws.USD_NLV + 54608.5 * 1.085)
    assert set(both["per_account"]) == {tws.USD_ACCOUNT, tws.EUR_ACCOUNT}
    assert both["per_account"][tws.EUR_ACCOUNT]["currency"] == "EUR"


def test_positions_carry_currency_instrument_and_base_value(client, advisor):
    body = client.get(f"/api/trading/portfolio/positions?account={tws.USD_ACCOUNT}").json()
    assert body["base_currency"] == "USD" and body["count"] == len(tws.USD_HOLDINGS)
    rows = {p["description"]: p for p in body["positions"]}
    hk = rows["700 · SEHK · HKD"]
    assert hk["currency"] == "HKD" and hk["market_value"] == 400000.0
    assert hk["market_value_base"] == pytest.approx(51400.0) and hk["fx_rate"] == 0.1285
    es = rows["ES DEC 25"]
    assert es["market_value"] is None and es["notional"] == 252500.0
    assert es["weight_pct"] is None and es["asset_class"] == "Futures"
    call = rows["AAPL 17 JAN 25 200 Call"]
    assert call["avg_price"] == pytest.approx(5.205) and call["multiplier"] == 100.0
    assert rows["EUR.USD"]["in_cash"] is True


def test_unknown_account_is_a_plain_400(client, advisor):
    r = client.get("/api/trading/portfolio/summary?account=DU999")
    assert r.status_code == 400 and "DU999" in r.json()["detail"]
    r = client.get("/api/trading/portfolio/positions?account=%3Cb%3E")
    assert r.status_code == 422


def test_not_connected_is_zeros_and_no_positions(client):
    assert client.get("/api/trading/portfolio/summary").json()["source"] == "not connected"
    body = client.get("/api/trading/portfolio/positions").json()
    assert body["positions"] == [] and body["count"] == 0


def test_simulated_account_matches_the_page_model(connected):  # noqa: F811
    summary = connected.get("/api/trading/portfolio/summary").json()
    positions = connected.get("/api/trading/portfolio/positions").json()
    assert summary["currency"] == "USD" and summary["connected"]
    assert positions["count"] == summary["positions_count"] > 0
    value = sum(p["market_value_base"] for p in positions["positions"])
    assert summary["positions_value"] == pytest.approx(value, abs=0.01)
    assert sum(c["base_value"] for c in summary["cash"]) == pytest.approx(
        summary["total_cash"], abs=0.01
    )


def test_advisor_profile_each_account_in_its_base_over_http(client):
    pytest.importorskip("ibkr_core.simulator.profiles")
    from ibkr_core.simulator import SimConfig, start_in_background
    from tests.conftest import wait_for

    gw = start_in_background(seed=5, port=0, config=SimConfig(profile="advisor"))
    try:
        r = client.post("/api/trading/ibkr/connect", json={"host": gw.host, "port": gw.port})
        assert r.json()["connected"], r.json()["last_error"]
        accounts = client.get("/api/trading/portfolio/accounts").json()["accounts"]
        assert len(accounts) == 3

        def summaries():
            out = {
                a: client.get(f"/api/trading/portfolio/summary?account={a}").json()
                for a in accounts
            }
            return out if all(s["net_liquidation"] for s in out.values()) else None

        found = wait_for(summaries, 10)
        assert found
        for account, s in found.items():
            sim = gw.gateway.accounts[account]
            assert s["currency"] == sim.base_currency
            positions = client.get(f"/api/trading/portfolio/positions?account={account}")
            body = positions.json()
            assert body["base_currency"] == sim.base_currency
            assert {p["account"] for p in body["positions"]} == {account}
            assert {c["currency"] for c in s["cash"]} >= {sim.base_currency}
    finally:
        client.post("/api/trading/ibkr/disconnect")
        gw.stop()
