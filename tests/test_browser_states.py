"""Market data in a real browser during a market close and a competing session, on a
gateway this test controls; screenshots in tests/artifacts/ (looked at by a person)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.browser_helpers import (
    StreamlitServer,
    browser_marks,
    chromium,
    dashboard_env,
    grid_cell,
    new_page,
    open_context,
    screenshot,
    wait_grid_cell,
)
from tests.test_browser_e2e import PASSWORD, choose_preset, go_to, sidebar, sign_in

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = browser_marks(timeout=150)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[StreamlitServer]:
    tmp = tmp_path_factory.mktemp("states")
    env = dashboard_env(tmp, password=PASSWORD, IBKR_ALPHAVANTAGE_API_KEY="")
    with StreamlitServer(env=env) as srv:
        yield srv


@pytest.fixture
def page(server, request) -> Iterator:
    with chromium() as browser:
        # The table view (the fallback when the live stream is blocked); the pushed
        # board shows the same texts (tests/test_push_browser.py).
        context = open_context(browser, block_live=True)
        try:
            yield new_page(context)
        finally:
            with contextlib.suppress(Exception):
                context.close()


def test_market_data_during_close_and_competing_session(server, page):
    from ibkr_core.simulator import SimConfig, start_in_background

    gw = start_in_background(seed=5, port=0, config=SimConfig(tick_interval=0.2))
    try:
        sign_in(page, server.url)
        choose_preset(page, "TWS paper 7497")
        sidebar(page).get_by_label("Port", exact=True).fill(str(gw.port))
        sidebar(page).get_by_role("button", name="Connect", exact=True).click()
        sidebar(page).get_by_text(f"127.0.0.1:{gw.port}").wait_for()
        go_to(page, "Market data")
        wait_grid_cell(page, "AAPL", "Source", "v === 'IBKR (live)'", timeout=20)

        gw.close_market()
        wait_grid_cell(page, "AAPL", "Source", "v.startsWith('IBKR (frozen, last ')", 20)
        wait_grid_cell(page, "MSFT", "Status", "v.startsWith('◐ Market closed')", 20)
        sidebar(page).get_by_text("Connected · market closed").wait_for(timeout=15_000)
        page.get_by_text("the market's last values (frozen)").first.wait_for(timeout=15_000)
        page.wait_for_timeout(1500)
        screenshot(page, "states-01-market-closed")
        assert "live" not in (grid_cell(page, "AAPL", "Source") or "")
        gw.open_market()
        wait_grid_cell(page, "AAPL", "Source", "v === 'IBKR (live)'", timeout=20)

        gw.competing_session(True)
        sidebar(page).get_by_text("No data: competing session").wait_for(timeout=15_000)
        page.get_by_text("Close the other session").first.wait_for(timeout=15_000)
        wait_grid_cell(page, "AAPL", "Source", "v === 'IBKR (competing session)'", 20)
        wait_grid_cell(page, "AAPL", "Status", "v.endsWith('close the other session')", 20)
        page.wait_for_timeout(1500)
        screenshot(page, "states-02-competing-session")
        gw.competing_session(False)
        wait_grid_cell(page, "AAPL", "Source", "v === 'IBKR (live)'", timeout=20)
        sidebar(page).get_by_role("button", name="Disconnect").click()
        sidebar(page).get_by_text("Disconnected").wait_for()
    finally:
        gw.stop()
