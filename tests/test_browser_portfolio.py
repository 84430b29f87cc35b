"""The Portfolio page on the multi-asset demo in headless Chromium, read as a trader reads
it: foreign holdings in their own currency, their value converted with the account's own
IBKR rate (from the page's cash table), the future outside the positions value, and the
positions value below the net liquidation. Screenshot: tests/artifacts/10-portfolio-multi.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser_helpers import (
    StreamlitServer,
    browser_marks,
    chromium,
    grid_cell,
    metric_value,
    money,
    new_page,
    open_context,
    screenshot,
    wait_grid_cell,
    wait_metric,
)

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("ibkr_core.simulator.profiles")

pytestmark = browser_marks(timeout=120)

TENCENT = "700 · SEHK · HKD"
CASH_GRID_JS = """
() => {
  const grids = [...document.querySelectorAll('[data-testid="stDataFrame"] table[role=grid]')];
  const i = grids.findIndex(g => [...g.querySelectorAll('thead th')]
    .some(th => th.textContent.trim() === 'IBKR rate'));
  return i >= 0 ? String(i) : false;  // (index 0 would read as "not yet")
}
"""
SAP = "SAP · IBIS · EUR"


@pytest.fixture
def page(tmp_path) -> Iterator:
    env = {"IBKR_WATCHLIST_FILE": str(tmp_path / "watchlist.json"), "IBKR_PORT": "1"}
    with StreamlitServer(env=env) as server, chromium() as browser:
        # the fragment-drawn page (its grids' accessible tables carry the numbers);
        # the pushed view: tests/test_push_portfolio_browser.py
        pg = new_page(open_context(browser, 1600, 1400, block_live=True))
        pg.goto(server.url)
        pg.get_by_test_id("stMetric").first.wait_for()
        yield pg


def test_multi_asset_demo_reads_in_each_currency_with_totals_in_base(page):
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Connect", exact=True).click()
    nlv = money(wait_metric(page, "Net liquidation", "v !== '$0.00'", timeout=30))
    # the grid's accessible table carries the numbers (the canvas shows them with their
    # currency sign: see the screenshot); the currency is the row's own
    hk_value = float(wait_grid_cell(page, TENCENT, "Value", "v.length > 0", timeout=20))
    hk_base = float(grid_cell(page, TENCENT, "Value (USD)"))
    assert grid_cell(page, TENCENT, "Ccy") == "HKD" and grid_cell(page, SAP, "Ccy") == "EUR"
    # the account's own rate, as the page shows it in the cash table
    cash_grid = int(page.wait_for_function(CASH_GRID_JS, timeout=20_000).json_value())
    rate = float(wait_grid_cell(page, "HKD", "IBKR rate", "v.length > 0", 10, cash_grid))
    assert hk_base == pytest.approx(hk_value * rate, rel=0.02)
    assert hk_base / nlv < 0.25  # a slice of the account, not 160% of it
    positions = money(metric_value(page, "Positions value"))
    assert 0 < positions < nlv  # the ES future's notional is not in it
    notional = float(wait_grid_cell(page, "ES DEC 26", "Exposure", "v.length > 0", 20, 1))
    assert notional > nlv - positions  # counted as exposure, outside the value
    screenshot(page, "10-portfolio-multi")
