"""In headless Chromium against a real `streamlit run`: on the simulator's multi-asset
account, connect, start an order from the Tencent (SEHK, HKD) holding with "Reduce",
preview and confirm it, and read the fill in HKD in Today's fills. The screenshot goes
to tests/artifacts/order-reduce-hkd.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ibkr_core.simulator import SimConfig, start_in_background
from tests.browser_helpers import (
    StreamlitServer,
    browser_marks,
    chromium,
    dashboard_env,
    new_page,
    open_context,
    screenshot,
    wait_app_idle,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = browser_marks(timeout=150)

PASSWORD = "order-e2e-password"

# JS: the text of the first data grid row mentioning ``text`` ("" when none).
_ROW_JS = """
(text) => {
  for (const tr of document.querySelectorAll('[data-testid="stDataFrame"] tbody tr')) {
    if (tr.textContent.includes(text)) {
      return [...tr.querySelectorAll('td')].map(td => td.textContent.trim()).join(' | ');
    }
  }
  return '';
}
"""


@pytest.fixture
def gateway() -> Iterator:
    gw = start_in_background(
        seed=5, port=0, config=SimConfig(tick_interval=0.5), profile="multi-asset"
    )
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def server(tmp_path) -> Iterator[StreamlitServer]:
    with StreamlitServer(env=dashboard_env(tmp_path, password=PASSWORD)) as srv:
        yield srv


def test_reduce_a_hkd_holding_and_see_the_fill_in_hkd(gateway, server):
    with chromium() as browser:
        # fills read from the fragment's grid; pushed: test_push_portfolio_browser.py
        ctx = open_context(browser, 1440, 1100, block_live=True)
        journey(new_page(ctx), server, gateway)


def journey(page, server, gateway) -> None:
    page.goto(server.url)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("stMetric").first.wait_for()
    side = page.get_by_test_id("stSidebar")
    side.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="TWS paper 7497").click()
    wait_app_idle(page)
    port = side.get_by_label("Port", exact=True)
    port.fill(str(gateway.port))
    port.press("Enter")
    wait_app_idle(page)
    side.get_by_role("button", name="Connect", exact=True).click()
    side.get_by_text("DU1234567").wait_for()

    page.get_by_test_id("stSidebarNav").get_by_text("Trade", exact=True).click()
    page.get_by_role("heading", name="Trade", level=1).wait_for()
    page.get_by_role("combobox", name="Start from a position").click()
    page.get_by_role("option", name="700 · SEHK · HKD", exact=False).click()
    wait_app_idle(page)
    page.get_by_role("button", name="Reduce", exact=True).click()
    wait_app_idle(page)
    sync_api.expect(page.get_by_label("Symbol", exact=True)).to_have_value("700")
    sync_api.expect(page.get_by_label("Quantity", exact=True)).to_have_value("200")
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("SELL 200 700 · SEHK · HKD Market").wait_for()
    page.get_by_text("conId 89621428").wait_for()
    screenshot(page, "order-reduce-hkd-preview")
    page.get_by_role("button", name="Confirm and send").click()
    page.get_by_text("sent: SELL 200 700 · SEHK · HKD").wait_for()
    row = page.wait_for_function(
        f"() => {{ const r = ({_ROW_JS})('700 · SEHK · HKD'); "
        "const hkd = r.match(/HK\\$[\\d,.]+|[\\d,.]+ HKD/g) || []; "
        "return hkd.length >= 2 ? r : false; }",  # price and commission, in HKD
        timeout=20_000,
    ).json_value()
    assert "SELL" in row and "200" in row
    screenshot(page, "order-reduce-hkd")
    sold = gateway.call(lambda: gateway.gateway.account.position(89621428).qty)
    assert sold == 200
