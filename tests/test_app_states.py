"""The states a trader must be told, as the pages show them (AppTest, simulator faults,
real ib_async): the sidebar badge, the one-line banner under each page title, and the
quote rows on Market data. "live" only when it is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.simulator import SimConfig, start_in_background
from tests.app_support import ROOT, FakeTicker, fresh_services, shown, wait_until

pytestmark = pytest.mark.timeout(120)

APP = str(ROOT / "streamlit_app.py")
PAGES = ["pages/market_data.py", "pages/portfolio.py", "pages/trade.py"]


@pytest.fixture
def gateway():
    gw = start_in_background(seed=1, port=0, config=SimConfig(tick_interval=0.1))
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def services(gateway, tmp_path, monkeypatch):
    # gateway first: the services disconnect before the gateway stops
    with fresh_services(tmp_path, monkeypatch) as svc:
        assert svc.connect(gateway.host, gateway.port, 31).connected
        yield svc


def open_page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def badge(at: AppTest) -> str:
    return " ".join(shown(m.value) for m in at.sidebar.markdown)


def banner(at: AppTest) -> str:
    return " ".join(shown(e.value) for e in [*at.main.error, *at.main.warning, *at.main.info])


def rows(at: AppTest):
    return at.main.dataframe[0].value.set_index("symbol")


def settle(at: AppTest, predicate, timeout: float = 15.0):
    def check():
        at.run()
        assert not at.exception, at.exception
        return predicate(at)

    return wait_until(check, timeout=timeout, step=0.3)


def test_live_session_says_connected_and_no_banner(services):
    at = open_page("pages/market_data.py")
    settle(at, lambda a: (rows(a)["source"] == "IBKR (live)").all())
    assert "Connected" in badge(at)
    assert banner(at) == ""
    assert rows(at)["status"].str.startswith("✓").all()


@pytest.mark.parametrize("path", PAGES)
def test_competing_session_badge_banner_and_advice_on_every_page(gateway, services, path):
    at = open_page(path)
    services.quotes.get_quotes(["AAPL"])  # one IBKR line, so TWS can say 10197
    gateway.competing_session(True)
    wait_until(lambda: services.connection.status().competing_session, 10)
    settle(at, lambda a: "competing session" in banner(a))
    assert "No data: competing session" in badge(at)
    assert "Close the other session" in banner(at)


def test_competing_session_rows_say_why_and_what_to_do(gateway, services, monkeypatch):
    monkeypatch.setattr(FakeTicker, "fail_with", RuntimeError("Yahoo is down"))  # IBKR only
    at = open_page("pages/market_data.py")
    settle(at, lambda a: (rows(a)["source"] == "IBKR (live)").all())
    gateway.competing_session(True)
    (table,) = settle(
        at, lambda a: (rows(a)["source"] == "IBKR (competing session)").all() and (rows(a),)
    )
    assert (table["status"] == "✖ No data: close the other session").all()
    assert table["last"].isna().all()  # never the stale prices from before
    assert not table["source"].str.contains("live|delayed").any()  # never silently delayed
    gateway.competing_session(False)
    settle(at, lambda a: (rows(a)["source"] == "IBKR (live)").all() and banner(a) == "")
    assert "Connected" in badge(at)


def test_competing_session_with_a_fallback_price_still_says_why(gateway, services):
    at = open_page("pages/market_data.py")
    settle(at, lambda a: (rows(a)["source"] == "IBKR (live)").all())
    gateway.competing_session(True)
    (table,) = settle(at, lambda a: (rows(a)["source"] == "Yahoo Finance").all() and (rows(a),))
    assert (table["status"] == "⚠ IBKR no data: close the other session").all()


def test_market_close_rows_are_frozen_with_the_last_trade_time(gateway, services):
    at = open_page("pages/market_data.py")
    settle(at, lambda a: (rows(a)["source"] == "IBKR (live)").all())
    gateway.close_market()
    (table,) = settle(
        at, lambda a: rows(a)["source"].str.startswith("IBKR (frozen").all() and (rows(a),)
    )
    local = gateway.quote("AAPL")
    close = datetime.fromtimestamp(int(local.last_time), ZoneInfo("US/Eastern"))
    assert table.loc["AAPL", "source"] == f"IBKR (frozen, last {close:%H:%M %Z})"
    assert table["status"].str.startswith("◐ Market closed").all()
    assert not table["status"].str.contains("OK").any()
    settle(at, lambda a: "market closed" in badge(a) and "last values (frozen)" in banner(a))


def test_data_farm_broken_badge_banner_and_rows_not_updating(gateway, services):
    at = open_page("pages/market_data.py")
    settle(at, lambda a: (rows(a)["source"] == "IBKR (live)").all())
    gateway.data_farm_broken()
    settle(at, lambda a: "Data farm broken" in badge(a))
    assert "usfarm" in banner(at) and "not updating" in banner(at)
    table = rows(at)
    assert (table["source"] == "IBKR (not updating)").all()
    assert table["status"].str.startswith("⚠ Not updating: data farm usfarm broken").all()
    gateway.data_farm_restored()
    settle(at, lambda a: "Connected" in badge(a) and banner(a) == "")


@pytest.mark.parametrize("path", PAGES)
def test_1100_degraded_badge_and_banner_orders_may_wait(gateway, services, path):
    at = open_page(path)
    gateway.emit_connectivity(1100)
    settle(at, lambda a: "Degraded" in badge(a))
    assert "orders may wait" in banner(at)
    gateway.emit_connectivity(1102)
    settle(at, lambda a: "Connected" in badge(a) and "orders may wait" not in banner(a))
