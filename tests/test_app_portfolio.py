"""AppTest: the Portfolio page, disconnected and connected to a simulated gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ibkr_core.services import Services, get_services, reset_services
from ibkr_core.settings import Settings
from ibkr_core.simulator import SimConfig
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(60)

APP = str(ROOT / "streamlit_app.py")
METRICS = (
    "Net liquidation",
    "Cash",
    "Positions value",
    "Daily P&L",
    "Unrealized P&L",
    "Realized P&L",
)


@pytest.fixture
def gateway_config():
    """A closed market: prices stand still, so page and simulator agree to the cent."""
    return SimConfig(market_open=False)


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    reset_services()
    st.cache_resource.clear()
    svc = get_services(
        Settings(
            watchlist_file=str(tmp_path / "watchlist.json"),
            connect_timeout=4.0,
            request_timeout=4.0,
            provider_timeout=2.0,
        )
    )
    try:
        yield svc
    finally:
        reset_services()
        st.cache_resource.clear()


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def money(text: str) -> float:
    """'$312,382.10' / '+$1.00' / '-$3.50' -> float."""
    sign = -1.0 if text.startswith("-") else 1.0
    return sign * float(text.lstrip("+-").lstrip("$").replace(",", ""))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def sim_value(gateway, tag: str) -> float:
    gw = gateway.gateway
    return gateway.call(lambda: gw.account.value(gw.market, tag))


def test_disconnected_shows_zeros_labelled_and_a_hint(services):
    at = run_app()
    assert at.title[0].value == "Portfolio"
    shown = metrics(at)
    assert tuple(shown) == METRICS
    assert all(money(v) == 0.0 for v in shown.values()), shown
    assert all(m.help == "Not connected: showing zeros." for m in at.metric)
    assert any("not connected" in m.value for m in at.main.markdown)  # the badge
    hints = [i.value for i in at.info]
    assert len(hints) == 1 and "Demo (built-in simulated gateway)" in hints[0]
    assert "Connect" in hints[0]
    assert not at.dataframe  # no positions table without a connection


def test_connected_metrics_and_positions_match_the_simulator(services, gateway):
    status = services.connect(gateway.host, gateway.port)
    assert status.connected, status.last_error
    at = run_app()
    shown = metrics(at)
    assert money(shown["Net liquidation"]) == pytest.approx(
        sim_value(gateway, "NetLiquidation"), abs=0.01
    )
    assert money(shown["Cash"]) == pytest.approx(sim_value(gateway, "TotalCashValue"), abs=0.01)
    assert money(shown["Positions value"]) == pytest.approx(
        sim_value(gateway, "StockMarketValue"), abs=0.01
    )
    assert money(shown["Unrealized P&L"]) == pytest.approx(
        sim_value(gateway, "UnrealizedPnL"), abs=0.01
    )
    assert not any("not connected" in m.value for m in at.main.markdown)
    assert not at.info
    assert any(gateway.account_id in m.value and "live" in m.value for m in at.main.markdown)

    table = at.dataframe[0].value
    gw = gateway.gateway
    expected = gateway.call(
        lambda: {i.symbol: qty for i, qty, _avg in gw.account.positions() if qty}
    )
    assert dict(zip(table["symbol"], table["quantity"], strict=True)) == expected
    assert list(table.columns) == [
        "symbol",
        "quantity",
        "avg_cost",
        "market_price",
        "market_value",
        "unrealized_pnl",
        "unrealized_pnl_pct",
        "daily_pnl",
        "weight_pct",
    ]
    assert table["market_value"].sum() == pytest.approx(money(shown["Positions value"]), abs=0.01)
    charts = [c.key for c in at.get("plotly_chart") if not c.key.startswith("ah_")]
    assert len(charts) == 2  # allocation, P&L by position (ah_*: the account over time)


def test_disconnecting_returns_to_zeros(services, gateway):
    services.connect(gateway.host, gateway.port)
    at = run_app()
    assert money(metrics(at)["Net liquidation"]) > 0
    at.sidebar.button(key="conn_disconnect").click().run()
    assert all(money(v) == 0.0 for v in metrics(at).values())
    assert len(at.info) == 1


def test_a_failing_refresh_is_a_plain_warning_not_a_traceback(services, gateway, monkeypatch):
    services.connect(gateway.host, gateway.port)

    def slow(*_args, **_kwargs):
        raise TimeoutError("no answer within 4 s")

    monkeypatch.setattr(services.portfolio, "portfolio_summary", slow)
    at = run_app()
    assert not at.exception
    assert any("did not arrive in time" in w.value for w in at.warning)
