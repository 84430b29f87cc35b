"""The market data page through Streamlit's AppTest: disconnected (Yahoo, faked at the
yfinance boundary) and connected to the simulated gateway.

``run_every`` never fires in AppTest: each ``at.run()`` is one refresh of the table.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest
from yfinance.exceptions import YFRateLimitError

from ibkr_core.quote import QuoteSource
from ibkr_core.simulator import SimConfig, start_in_background
from ibkr_core.watchlist import DEFAULT_SYMBOLS, Watchlist
from pages.components import source_label
from tests.app_support import ROOT, FakeTicker, fresh_services, wait_until

pytestmark = pytest.mark.timeout(90)

APP = str(ROOT / "streamlit_app.py")


def open_page() -> AppTest:
    """The app through its entry point (sidebar and all), on the market data page."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/market_data.py")
    return at


def page() -> AppTest:
    at = open_page()
    at.run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest):
    return at.main.dataframe[0].value.set_index("symbol")  # the quotes table comes first


def add(at: AppTest, symbol: str) -> None:
    at.text_input(key="md_new_symbol").input(symbol)
    at.button(key="md_add").click()
    at.run()
    assert not at.exception, at.exception


@pytest.fixture
def services(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as svc:
        yield svc


def test_disconnected_rows_come_from_yahoo(services):
    at = page()
    rows = table(at)
    assert list(rows.index) == list(DEFAULT_SYMBOLS)
    assert set(rows["source"]) == {source_label(QuoteSource.YAHOO)}
    assert rows.loc["AAPL", "last"] == pytest.approx(228.5)
    assert rows["bid"].isna().all()  # Yahoo has no bid: missing, never 0
    assert (rows["status"] == "✓ OK").all()
    assert "not connected" in at.main.caption[0].value  # provider status line
    assert "source: Yahoo" in at.get("plotly_chart")[0].proto.spec  # chart says its source


def test_unknown_symbol_is_refused_and_changes_nothing(services):
    at = page()
    add(at, "zzzzq")
    assert any("Unknown symbol ZZZZQ" in e.value for e in at.main.error)
    assert services.watchlist.symbols() == list(DEFAULT_SYMBOLS)
    assert "ZZZZQ" not in table(at).index

    add(at, "googl")
    assert any("Added GOOGL" in s.value for s in at.main.success)
    assert "GOOGL" in table(at).index
    assert at.text_input(key="md_new_symbol").value == ""  # cleared for the next one


def test_remove_persists(services, tmp_path):
    at = page()
    at.selectbox(key="md_remove_symbol").select("NFLX")
    at.button(key="md_remove").click()
    at.run()
    assert "NFLX" not in table(at).index
    saved = json.loads((tmp_path / "watchlist.json").read_text())["symbols"]
    assert "NFLX" not in saved
    assert "NFLX" not in Watchlist(tmp_path / "watchlist.json").symbols()


def test_a_bad_row_does_not_break_the_others(services, tmp_path):
    (tmp_path / "watchlist.json").write_text(json.dumps({"symbols": ["AAPL", "ZZZZQ", "MSFT"]}))
    at = page()
    rows = table(at)
    assert rows.loc["ZZZZQ", "status"] == "✖ Unknown symbol"
    assert rows[["last", "bid", "ask", "volume"]].loc["ZZZZQ"].isna().all()  # "—", not 0
    assert rows.loc["AAPL", "status"] == rows.loc["MSFT", "status"] == "✓ OK"


def test_stale_rows_are_marked(services):
    FakeTicker.age_seconds = services.settings.stale_after + 120  # e.g. market closed
    rows = table(page())
    assert rows["status"].str.startswith("⚠ Stale").all()
    assert rows.loc["AAPL", "age"] == "3 min ago"  # from Yahoo's own time, not ours
    assert rows.loc["AAPL", "last"] == pytest.approx(228.5)  # still shown


def test_provider_down_shows_in_rows_and_status(services):
    FakeTicker.fail_with = YFRateLimitError()
    at = page()
    rows = table(at)
    assert rows["status"].str.contains("rate limit").all()
    assert rows["last"].isna().all()
    assert "Yahoo Finance: backing off" in at.main.caption[0].value


@pytest.fixture
def gateway():
    gw = start_in_background(
        seed=1, port=0, config=SimConfig(not_entitled=frozenset({"TSLA"}), tick_interval=0.1)
    )
    try:
        yield gw
    finally:
        gw.stop()


def test_connected_rows_are_ibkr_and_follow_the_simulator(gateway, services):
    # gateway first: the services disconnect before the gateway stops
    assert services.connect(gateway.host, gateway.port, 21).connected
    at = open_page()
    live, delayed = source_label(QuoteSource.IBKR_LIVE), source_label(QuoteSource.IBKR_DELAYED)

    def settled():
        at.run()  # one refresh of the quotes fragment
        rows = table(at)
        ready = rows.loc["AAPL", "source"] == live and rows.loc["TSLA", "source"] == delayed
        return (rows,) if ready else None

    (rows,) = wait_until(settled, timeout=20, step=0.3)
    assert rows.loc["MSFT", "source"] == live
    assert "IBKR: connected" in at.main.caption[0].value

    gateway.set_price("AAPL", 300.0)

    def repriced():
        at.run()
        last = table(at).loc["AAPL", "last"]
        return abs(last - 300.0) < 3.0

    wait_until(repriced, timeout=10, step=0.3)
