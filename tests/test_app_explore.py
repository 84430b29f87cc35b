"""The Explore page: AppTest disconnected (Yahoo, faked at yfinance) and connected to the
simulated gateway; a damaged or locked store; downloads equal to the tables shown; and a
browser test of five instruments in headless Chromium."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

from tests.app_support import ROOT, FakeTicker, fresh_services
from tests.store_support import held_elsewhere

pytestmark = pytest.mark.timeout(120)

APP = str(ROOT / "streamlit_app.py")
POSITIONS = ["AAPL", "MSFT", "SPY", "NVDA"]  # the demo account's holdings


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """Every st.download_button's payload by key, exactly as handed to Streamlit."""
    captured: dict[str, bytes] = {}
    original = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kwargs):
        captured[kwargs.get("key")] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    return captured


@pytest.fixture(autouse=True)
def fresh_calls(monkeypatch) -> None:
    monkeypatch.setattr(FakeTicker, "calls", [])


def explore(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("pages/explore.py")
    at.run()
    assert not at.exception, at.exception
    return at


def stats(at: AppTest) -> pd.DataFrame:
    return at.main.dataframe[0].value  # the statistics table comes first


def texts(elements) -> list[str]:
    """Element texts as the user reads them (markdown escapes removed)."""
    return [e.value.replace("\\", "") for e in elements]


def test_disconnected_compares_the_watchlist_from_yahoo(tmp_path, monkeypatch, downloads):
    with fresh_services(tmp_path, monkeypatch):
        at = explore()
        table = stats(at)
        assert list(table.index) == ["AAPL", "MSFT", "NVDA", "AMZN", "SPY"]
        assert table.loc["SPY", "beta"] == pytest.approx(1.0)
        assert table[["total_return", "annual_volatility", "sharpe"]].notna().all().all()
        periods = at.main.dataframe[1].value
        assert list(periods.columns) == ["MTD", "YTD", "1Y"]
        assert not at.warning and not at.error
        assert any("(Yahoo)" in str(e.proto) for e in at.get("plotly_chart"))
        daily_calls = [c for c in FakeTicker.calls if "start" in c[1]]
        assert sorted(c[0] for c in daily_calls) == ["AAPL", "AMZN", "MSFT", "NVDA", "SPY"]
        # the downloads are exactly the tables shown
        shown = pd.read_csv(io.BytesIO(downloads["ex_stats_csv"]), index_col="symbol")
        pd.testing.assert_frame_equal(shown, table, check_exact=True)
        parquet = pd.read_parquet(io.BytesIO(downloads["ex_stats_parquet"]))
        pd.testing.assert_frame_equal(parquet, table, check_exact=True)
        periods_csv = pd.read_csv(io.BytesIO(downloads["ex_periods_csv"]), index_col="symbol")
        pd.testing.assert_frame_equal(periods_csv, periods, check_exact=True)


def test_connected_to_the_simulator_reads_the_seeded_store(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as services:  # the multi-asset Demo
        assert services.connect_demo().connected
        assert services.recorder.flush(60)  # the demo's year replayed, bars stored
        calls_before = len(FakeTicker.calls)
        at = explore()
        table = stats(at)
        assert sorted(list(table.index)[:4]) == sorted(POSITIONS)  # holdings come first
        assert len(table) == 5 and table.notna().all().all()
        assert 0.3 < table.loc["AAPL", "correlation"] < 0.95  # the market factor
        status = " ".join(str(e.proto) for e in at.main if type(e).__name__ == "Markdown")
        assert "from the store" in status and "Simulator" in status
        assert any("simulated gateway" in c for c in texts(at.caption))
        assert len(FakeTicker.calls) == calls_before  # demo prices never mixed with Yahoo's
        heatmap = at.get("plotly_chart")[1]
        assert "heatmap" in str(heatmap.proto)


def test_the_multi_asset_demo_offers_its_stocks_and_names_what_it_leaves_out(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as services:
        assert services.connect_demo().connected
        at = explore()
        options = at.multiselect(key="ex_symbols").options
        assert sorted(options[:4]) == sorted(POSITIONS)  # the held US stocks and ETF, once
        assert len(options) == len(set(options))  # no second "AAPL" for its options
        assert not {"ES", "SAP", "700", "EUR", "BTC", "91282CLW9"} & set(options)
        note = next(c for c in texts(at.caption) if "left out" in c)
        assert "9 holding(s) left out" in note  # options, ES + FOP, SAP, 700, FX, UST, BTC
        assert "Call" in note and "Put" in note  # named by their description


def test_a_failing_instrument_says_why_and_the_rest_renders(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as services:
        assert services.connect_demo().connected
        at = explore(ex_typed="ZZZZ, bad$sym, GLD")
        warnings = texts(at.warning)
        assert any(
            w.startswith("ZZZZ: nothing to show") and "Unknown symbol" in w for w in warnings
        )
        assert any("not a valid symbol" in e for e in texts(at.error))
        table = stats(at)
        assert "GLD" in table.index and "ZZZZ" not in table.index
        assert table.loc["GLD", "annual_volatility"] > 0


def test_a_corrupt_store_is_reported_and_the_app_still_runs(tmp_path, monkeypatch):
    garbage = b"definitely not duckdb" * 1000
    (tmp_path / "history.duckdb").write_bytes(garbage)
    with fresh_services(tmp_path, monkeypatch) as services:
        at = explore()
        assert any("could not be read" in w and "corrupt-" in w for w in texts(at.warning))
        assert len(stats(at)) == 5  # Explore works, on a new empty store
        aside = list(tmp_path.glob("history.duckdb.corrupt-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == garbage
        at.switch_page("pages/portfolio.py")
        at.run()
        assert not at.exception, at.exception
        assert "Account over time" in texts(at.subheader)
        assert services.store.available


def test_a_store_held_elsewhere_turns_history_off_and_the_app_still_runs(tmp_path, monkeypatch):
    import duckdb

    path = tmp_path / "history.duckdb"
    duckdb.connect(str(path)).close()
    with held_elsewhere(path, seconds=60), fresh_services(tmp_path, monkeypatch) as services:
        assert not services.store.available
        at = explore()
        assert any("in use by another process" in w for w in texts(at.warning))
        assert len(stats(at)) == 5
        at.switch_page("pages/portfolio.py")
        at.run()
        assert not at.exception, at.exception
        assert any("History is off" in i for i in texts(at.info))


def test_two_sessions_share_the_one_store(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as services:
        first, second = explore(), explore(ex_range="6M")
        assert len(stats(first)) == len(stats(second)) == 5
        daily_calls = [c for c in FakeTicker.calls if "start" in c[1]]
        assert len(daily_calls) == 5  # the second session read the first one's bars
        assert services.history.store is services.store


def test_yahoo_failing_for_everything_says_so_per_instrument(tmp_path, monkeypatch):
    from yfinance.exceptions import YFRateLimitError

    with fresh_services(tmp_path, monkeypatch):
        monkeypatch.setattr(FakeTicker, "fail_with", YFRateLimitError())
        at = explore()
        warnings = texts(at.warning)
        assert len(warnings) == 5 and all("Yahoo Finance rate limit" in w for w in warnings)
        assert texts(at.error) == ["None of the chosen instruments has daily bars in this range."]


def test_a_date_range_of_ones_own(tmp_path, monkeypatch):
    from datetime import date

    with fresh_services(tmp_path, monkeypatch) as services:
        assert services.connect_demo().connected
        today = services.history.today()
        start = date(today.year - 1, 3, 2)
        end = date(today.year - 1, 9, 30)
        at = explore(ex_range="Dates", ex_dates=(start, end))
        titles = texts(at.subheader)
        assert f"Statistics ({start} to {end}, benchmark SPY)" in titles
        chart = at.main.dataframe[2].value  # the chart data: exactly the range asked for
        assert chart.index[0].date() >= start and chart.index[-1].date() <= end
        assert (chart.index[-1].date() - chart.index[0].date()).days > 200


def test_the_account_over_time_shows_fills_page_by_page(tmp_path, monkeypatch):
    from ibkr_core.orders import OrderTicket
    from tests.conftest import wait_for

    with fresh_services(tmp_path, monkeypatch) as services:
        assert services.connect_demo().connected
        for i in range(3):
            services.orders.place(OrderTicket("MSFT", "BUY", 1 + i), f"ah-{i}")
        assert wait_for(lambda: services.store.fill_count() == 3, 10)
        services.recorder.flush(10)
        monkeypatch.setattr("pages.account_history.FILLS_PER_PAGE", 2)
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page("pages/portfolio.py")
        at.run()
        assert not at.exception, at.exception
        tables = [d.value for d in at.main.dataframe if "execution id" in d.value.columns]
        assert len(tables) == 1 and len(tables[0]) == 2  # page 1 of 2
        assert tables[0]["shares"].tolist() == [3.0, 2.0]  # newest first
        at.number_input(key="ah_fills_page").set_value(2).run()
        tables = [d.value for d in at.main.dataframe if "execution id" in d.value.columns]
        assert tables[0]["shares"].tolist() == [1.0]
        assert any("No deposits or withdrawals detected" in c for c in texts(at.caption)), texts(
            at.caption
        )


# ---------------------------------------------------------------------------- browser
@pytest.fixture
def browser_page(tmp_path) -> Iterator:
    pytest.importorskip("playwright.sync_api")
    from tests.browser_helpers import (
        CHROMIUM,
        StreamlitServer,
        chromium,
        dashboard_env,
        new_page,
        open_context,
    )

    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's /usr/bin/chromium")
    env = dashboard_env(tmp_path, password="")
    with StreamlitServer(env=env) as server, chromium() as browser:
        context = open_context(browser, accept_downloads=True)
        page = new_page(context, timeout_ms=30_000)
        page.goto(server.url)
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                context.close()


@pytest.mark.browser
def test_browser_explore_five_instruments_and_download(browser_page):
    from tests.browser_helpers import grid_cell, screenshot, wait_app_idle, wait_grid_cell

    page = browser_page
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Connect", exact=True).click()
    sidebar.get_by_text("DU1234567").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_text("Explore", exact=True).click()
    page.get_by_role("heading", name="Explore", level=1).wait_for()
    wait_grid_cell(page, "AAPL", "sharpe", "v.length > 0", timeout=60)
    wait_app_idle(page, timeout=30)
    assert page.locator(".js-plotly-plot").count() >= 2  # performance panel and heatmap
    assert page.get_by_text("Performance (rebased to 100)").count() >= 1
    symbols = ["AAPL", "MSFT", "SPY", "NVDA", "AMZN"]
    for symbol in symbols:
        assert grid_cell(page, symbol, "total_return") not in (None, "")
    path = screenshot(page, "explore-5-instruments")
    assert path.stat().st_size > 50_000
    page.get_by_text("Returns by period").scroll_into_view_if_needed()
    screenshot(page, "explore-5-instruments-tables")

    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").first.get_by_role("button").click()
    download = info.value
    assert download.suggested_filename == "ex_stats.csv"
    frame = pd.read_csv(download.path(), index_col="symbol")
    assert sorted(frame.index) == sorted(symbols)
    for symbol in symbols:  # the grid's cells hold the values behind the 84.25 % shown
        shown = float(grid_cell(page, symbol, "total_return"))
        assert shown == pytest.approx(frame.loc[symbol, "total_return"], rel=1e-12)

    # the account over time on the Portfolio page: the demo's replayed year
    page.get_by_test_id("stSidebarNav").get_by_text("Portfolio", exact=True).click()
    heading = page.get_by_role("heading", name="Account over time")
    heading.wait_for()
    page.get_by_text("snapshots since").wait_for()
    heading.scroll_into_view_if_needed()
    screenshot(page, "portfolio-account-over-time")
    assert page.get_by_text("Fills").count() >= 1
