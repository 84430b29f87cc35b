"""The Portfolio and Trade pages' pushed views in Debian chromium: a simulated price
change reaches the position's price and value cells, and an order filled by the
simulator appears in the fills and leaves the open orders, each without a script rerun
(counted as tests/test_push_browser.py does). Screenshots: tests/artifacts/
push-portfolio.png, push-trade.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.browser_helpers import (
    CHROMIUM,
    RERUN_COUNTER_JS,
    StreamlitServer,
    launch_chromium,
    live_rows,
    money,
    screenshot,
    wait_live_rows,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(150),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def gateway():
    from ibkr_core.simulator import start_in_background

    gw = start_in_background(seed=29, port=0)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, gateway) -> Iterator[StreamlitServer]:
    tmp = tmp_path_factory.mktemp("push-portfolio")
    (tmp / "w.json").write_text(json.dumps(["AAPL"]))
    env = {"IBKR_WATCHLIST_FILE": str(tmp / "w.json"), "IBKR_PROVIDER_TIMEOUT": "2"}
    with StreamlitServer(env=env) as srv:
        body = {"host": "127.0.0.1", "port": gateway.port}
        r = httpx.post(f"{srv.url}/api/trading/ibkr/connect", json=body, timeout=30)
        assert r.json()["connected"], r.text
        yield srv


@pytest.fixture
def page(server) -> Iterator:
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            ctx = browser.new_context(viewport={"width": 1440, "height": 1200})
            ctx.add_init_script(RERUN_COUNTER_JS)
            pg = ctx.new_page()
            pg.set_default_timeout(20_000)
            yield pg
        finally:
            browser.close()


def aapl(rows: list[dict]) -> dict:
    return next(r for r in rows if r["instrument"].startswith("AAPL"))


HAS_AAPL = "rows.some(r => r.instrument.startsWith('AAPL') && /[0-9]/.test(r.market_price))"


def test_a_price_change_reaches_the_positions_cells_without_a_rerun(page, server, gateway):
    gateway.stop_ticks("AAPL")
    page.goto(server.url)  # Portfolio is the main page
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    before = aapl(wait_live_rows(page, "portfolio", HAS_AAPL, timeout=30))
    quantity = float(before["quantity"])
    page.wait_for_timeout(1000)  # past the first render's reruns
    runs = page.evaluate("window.__runs")
    price = round(money(before["market_price"]) + 3.17, 2)
    gateway.set_price("AAPL", price)
    expected = f"${price:,.2f}"
    after = aapl(
        wait_live_rows(
            page,
            "portfolio",
            f"rows.some(r => r.instrument.startsWith('AAPL') && r.market_price === '{expected}')",
            timeout=15,
        )
    )
    assert money(after["market_value"]) == pytest.approx(price * quantity, abs=0.01)
    assert after["unrealized_pnl"] != before["unrealized_pnl"]
    assert after["currency"] == "USD"
    assert page.evaluate("window.__runs") == runs  # patched in place: no script rerun
    screenshot(page, "push-portfolio")


def test_a_filled_order_leaves_the_open_orders_and_appears_in_fills_without_a_rerun(
    page, server, gateway
):
    gateway.stop_ticks("AAPL")
    price = gateway.quote("AAPL").last
    limit = round(price - 20, 2)
    page.goto(f"{server.url}/trade")
    page.get_by_role("heading", name="Trade", level=1).wait_for()
    wait_live_rows(page, "orders-open", "true", timeout=30)
    fills_before = len(wait_live_rows(page, "orders-fills", "true", timeout=10))
    page.wait_for_timeout(1000)  # past the first render's reruns
    runs = page.evaluate("window.__runs")
    ticket = {
        "symbol": "AAPL",
        "action": "BUY",
        "quantity": 2,
        "order_type": "LMT",
        "limit_price": limit,
    }
    r = httpx.post(
        f"{server.url}/api/trading/orders",
        json=ticket,
        headers={"Idempotency-Key": "push-trade-fill-1"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    order_id = str(r.json()["order_id"])
    open_rows = wait_live_rows(
        page, "orders-open", f"rows.some(r => r.order === '{order_id}')", timeout=15
    )
    row = next(r for r in open_rows if r["order"] == order_id)
    assert row["type"] == "Limit · DAY" and row["side"] == "Buy"
    screenshot(page, "push-trade-open")
    gateway.set_price("AAPL", round(limit - 0.5, 2))  # the simulator fills the limit
    wait_live_rows(page, "orders-open", f"!rows.some(r => r.order === '{order_id}')", timeout=15)
    fills = wait_live_rows(
        page, "orders-fills", f"rows.some(r => r.order === '{order_id}')", timeout=15
    )
    assert len(fills) == fills_before + 1
    fill = next(f for f in fills if f["order"] == order_id)
    assert fill["side"] == "BUY" and fill["quantity"] == "2"
    assert fill["price"].startswith("$")
    assert page.evaluate("window.__runs") == runs  # rows came and went in place
    assert live_rows(page, "orders-open") is not None
    screenshot(page, "push-trade")
