"""AppTest: every page on every simulated account profile (several currencies, options,
futures, bonds, several accounts), connected with the real ib_async: no page crashes, and
no figure reaches the user as "nan" / "None" / "inf" (unknown is said as unknown)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import streamlit as st
import yfinance
from streamlit.testing.v1 import AppTest

from ibkr_core.services import Services, get_services, reset_services
from ibkr_core.settings import Settings
from ibkr_core.simulator import SimConfig, start_in_background
from tests.app_support import FakeTicker
from tests.conftest import ROOT, wait_for

APP = str(ROOT / "streamlit_app.py")
PAGES = {
    "pages/portfolio.py": "Portfolio",
    "pages/market_data.py": "Market data",
    "pages/trade.py": "Trade",
    "pages/explore.py": "Explore",
}
NOT_A_NUMBER = re.compile(r"(?<![A-Za-z])(nan|NaN|None|inf)(?![A-Za-z])")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["multi-asset", "eur-base", "advisor"], scope="module")
def connected(request, tmp_path_factory) -> Iterator[Services]:
    gw = start_in_background(
        seed=3, port=0, config=SimConfig(profile=request.param, market_open=False)
    )
    patch = pytest.MonkeyPatch()
    patch.setattr(yfinance, "Ticker", FakeTicker)  # never the internet
    reset_services()
    st.cache_resource.clear()
    folder = tmp_path_factory.mktemp(request.param)
    services = get_services(
        Settings(
            watchlist_file=str(folder / "watchlist.json"),
            connect_timeout=4.0,
            request_timeout=4.0,
            provider_timeout=2.0,
            alphavantage_api_key="",
        )
    )
    try:
        status = services.connect(gw.host, gw.port)
        assert status.connected, status.last_error
        assert wait_for(
            lambda: all(
                services.portfolio.view(a).summary.net_liquidation is not None
                for a in status.accounts
            ),
            10,
        )
        yield services
    finally:
        reset_services()
        st.cache_resource.clear()
        gw.stop()
        patch.undo()


def shown_texts(at: AppTest) -> list[str]:
    texts = [m.value for m in at.metric]
    texts += [str(m.value) for m in at.markdown]
    texts += [str(c.value) for c in at.caption]
    return texts


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_every_profile(connected, page):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title][:1] == [PAGES[page]]
    accounts = connected.connection.status().accounts
    if len(accounts) > 1 and page in ("pages/portfolio.py", "pages/trade.py"):
        assert list(at.sidebar.selectbox(key="account_picker").options)[: len(accounts)] == list(
            accounts
        )
    bad = [t for t in shown_texts(at) if NOT_A_NUMBER.search(t)]
    assert not bad, bad


def test_futures_say_why_cash_and_positions_differ_from_net_liquidation(connected):
    """Net liquidation follows a future's P&L live; cash takes it in with TWS's account
    updates: where futures are held the page says so beside their exposure."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/portfolio.py")
    at.run()
    pickers = [s for s in at.sidebar.selectbox if s.key == "account_picker"]
    shown = pickers[0].value if pickers else None  # advisor: the account on screen
    rows = connected.portfolio.view(None if shown in (None, "All") else shown).rows
    captions = [str(c.value) for c in at.caption]
    futures_note = [c for c in captions if "notional exposure" in c]
    if not any(r.sec_type == "FUT" for r in rows):
        assert futures_note == []
        return
    assert len(futures_note) == 1
    assert "cash + positions can differ from net liquidation" in futures_note[0]


def test_with_several_accounts_every_positions_table_names_the_account(connected):
    """Advisor, "All": the futures table too says whose the future is (one account holds
    it, but three are on the page)."""
    accounts = connected.connection.status().accounts
    if len(accounts) < 2:
        pytest.skip("one account in this profile")
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/portfolio.py")
    at.run()
    at.sidebar.selectbox(key="account_picker").set_value("All").run()
    assert not at.exception, at.exception
    tables = [df.value for df in at.dataframe]
    tables = [getattr(t, "data", t) for t in tables]  # a Styler's frame
    with_positions = [t for t in tables if "description" in t.columns]
    assert len(with_positions) >= 2  # securities and futures
    assert all("account" in t.columns for t in with_positions)
