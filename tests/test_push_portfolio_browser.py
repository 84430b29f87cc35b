"""The Portfolio and Trade pages' pushed views in Debian chromium: a simulated price
change reaches the position's price and value cells, and an order filled by the
simulator appears in the fills and leaves the open orders, each without a script rerun
(counted as tests/test_push_browser.py does). Screenshots: tests/artifacts/
push-portfolio.png, push-trade.png.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.browser_helpers import (
    RERUN_COUNTER_JS,
    StreamlitServer,
    browser_marks,
    chromium,
    live_rows,
    money,
    new_page,
    open_context,
    screenshot,
    wait_live_rows,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = browser_marks(timeout=150)


@pytest.fixture(scope="module")
def gateway():
    from ibkr_core.simulator import SimConfig, start_in_background

    gw = start_in_background(seed=29, port=0, config=SimConfig(profile="multi-asset"))
    # USD cash carries the ES future's P&L as of each account update (IBKR: cash +
    # futures P&L): hold the future still so a fill's cost is the only move in cash
    gw.stop_ticks("ESZ6")
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
    with chromium() as browser:
        yield new_page(open_context(browser, 1440, 1200, init_scripts=[RERUN_COUNTER_JS]))


def place(server, ticket: dict, key: str) -> httpx.Response:
    """An order through the one-process server's API (as another client would send it)."""
    r = httpx.post(
        f"{server.url}/api/trading/orders",
        json=ticket,
        headers={"Idempotency-Key": key},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r


POSITIONS = "portfolio-positions"
AAPL = "AAPL · NASDAQ · USD"  # the stock (the demo also holds AAPL options)


def aapl(rows: list[dict]) -> dict:
    return next(r for r in rows if r["instrument"] == AAPL)


HAS_AAPL = f"rows.some(r => r.instrument === '{AAPL}' && /[0-9]/.test(r.market_price))"


def test_a_price_change_reaches_the_positions_cells_without_a_rerun(page, server, gateway):
    gateway.stop_ticks("AAPL")
    page.goto(server.url)  # Portfolio is the main page
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    before = aapl(wait_live_rows(page, POSITIONS, HAS_AAPL, timeout=30))
    quantity = float(before["quantity"])
    page.wait_for_timeout(1000)  # past the first render's reruns
    runs = page.evaluate("window.__runs")
    price = round(money(before["market_price"]) + 3.17, 2)
    gateway.set_price("AAPL", price)
    expected = f"${price:,.2f}"
    after = aapl(
        wait_live_rows(
            page,
            POSITIONS,
            f"rows.some(r => r.instrument === '{AAPL}' && r.market_price === '{expected}')",
            timeout=15,
        )
    )
    assert money(after["market_value"]) == pytest.approx(price * quantity, abs=0.01)
    assert after["unrealized_pnl"] != before["unrealized_pnl"]
    assert after["currency"] == "USD"
    assert page.evaluate("window.__runs") == runs  # patched in place: no script rerun
    screenshot(page, "push-portfolio")


TABLE_HEADERS_JS = """
() => {
  for (const el of document.querySelectorAll('*')) {
    const view = el.shadowRoot && el.shadowRoot.querySelector(
      '.ibkr-live[data-mode="portfolio-positions"]');
    if (!view) continue;
    const out = {};
    for (const s of view.querySelectorAll('.live-section')) {
      if (s.hidden) continue;
      out[s.dataset.kind] = {
        title: (s.querySelector('.live-section-title') || {}).textContent || '',
        headers: [...s.querySelectorAll('th')].map(th => th.textContent),
      };
    }
    return out;
  }
  return null;
}
"""


def test_futures_and_fx_keep_their_own_tables_and_the_filter_applies(page, server):
    """As without the stream: a future's value is its exposure (only its P&L counts), the
    FX position sits apart, securities carry their weight; the asset-class pills filter."""
    page.goto(server.url)
    rows = wait_live_rows(
        page, POSITIONS, "rows.some(r => r.table === 'futures') && rows.length > 10", timeout=30
    )
    tables = {r["instrument"]: r["table"] for r in rows}
    assert tables["ES DEC 26"] == "futures" and tables["EUR.USD"] == "fx"
    assert tables[AAPL] == "held" and tables["UST 4.25% 2034"] == "held"
    headers = page.evaluate(TABLE_HEADERS_JS)
    assert "Exposure" in headers["futures"]["headers"]
    assert "Value" not in headers["futures"]["headers"]
    assert "only their P&L counts" in headers["futures"]["title"]
    assert "Weight" in headers["held"]["headers"] and "Value (USD)" in headers["held"]["headers"]
    assert aapl(rows)["weight"].endswith("%")
    sap = next(r for r in rows if r["instrument"].startswith("SAP"))
    assert sap["currency"] == "EUR" and sap["market_value"].startswith("€")
    assert sap["market_value_base"].startswith("$")
    screenshot(page, "push-portfolio-tables")
    pills = page.get_by_test_id("stButtonGroup").first
    for label in [b.inner_text() for b in pills.get_by_role("button").all()]:
        if label != "Futures":
            pills.get_by_role("button", name=label, exact=True).click()
    only = wait_live_rows(
        page, POSITIONS, "rows.length > 0 && rows.every(r => r.table === 'futures')", timeout=20
    )
    assert {r["instrument"] for r in only} >= {"ES DEC 26"}


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
        "con_id": 265598,  # the stock, not the demo's AAPL options
        "action": "BUY",
        "quantity": 2,
        "order_type": "LMT",
        "limit_price": limit,
    }
    r = place(server, ticket, "push-trade-fill-1")
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
    finished = wait_live_rows(
        page,
        "orders-finished",
        f"rows.some(r => r.order === '{order_id}' && r.status === 'Filled')",
        timeout=15,
    )
    done = next(r for r in finished if r["order"] == order_id)
    assert done["filled"] == "2" and done["remaining"] == "0" and done["avg_price"].startswith("$")
    assert page.evaluate("window.__runs") == runs  # rows came and went in place
    assert live_rows(page, "orders-open") is not None
    screenshot(page, "push-trade")


def test_cancel_in_the_pushed_open_orders_cancels_that_order(page, server, gateway):
    """The trader's Cancel in the pushed row: that order, and only it, is cancelled at
    the gateway, and it leaves the open orders in place."""
    gateway.stop_ticks("AAPL")
    far = round(gateway.quote("AAPL").last * 0.5, 2)  # a bid nobody fills
    page.goto(f"{server.url}/trade")
    page.get_by_role("heading", name="Trade", level=1).wait_for()
    wait_live_rows(page, "orders-open", "true", timeout=30)
    placed = []
    for n in range(2):
        ticket = {"symbol": "AAPL", "con_id": 265598, "action": "BUY", "quantity": 1,
                  "order_type": "LMT", "limit_price": far - n}  # fmt: skip
        r = place(server, ticket, f"push-cancel-{n}")
        placed.append(str(r.json()["order_id"]))
    both = " && ".join(f"rows.some(r => r.order === '{o}')" for o in placed)
    wait_live_rows(page, "orders-open", both, timeout=15)
    target, other = placed
    row = page.locator(
        f'.ibkr-live[data-mode="orders-open"] tr:has(td.c-order:text-is("{target}"))'
    )
    row.get_by_role("button", name="Cancel").click()
    rows = wait_live_rows(
        page, "orders-open", f"!rows.some(r => r.order === '{target}')", timeout=15
    )
    assert any(r["order"] == other for r in rows)  # the other order is still working
    status = httpx.get(f"{server.url}/api/trading/orders/{target}", timeout=10).json()
    assert status["status"] == "Cancelled"
    still = httpx.get(f"{server.url}/api/trading/orders/{other}", timeout=10).json()
    assert still["status"] in ("Submitted", "PreSubmitted")
    httpx.delete(f"{server.url}/api/trading/orders/{other}", timeout=10)


def test_cash_by_currency_is_pushed_and_moves_with_a_fill(page, server, gateway):
    """Each currency's cash in its own currency, IBKR's rate and the value in base; a
    fill's cost reaches the USD balance in place (no rerun)."""
    gateway.stop_ticks("AAPL")
    page.goto(server.url)
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    cash = wait_live_rows(page, "portfolio-cash", "rows.length >= 4", timeout=30)
    by_currency = {r["currency"]: r for r in cash}
    assert set(by_currency) >= {"USD", "EUR", "JPY", "HKD"}
    assert by_currency["EUR"]["balance"].startswith("€")
    assert by_currency["USD"]["rate"] == "1" and by_currency["EUR"]["in_base"].startswith("$")
    assert by_currency["HKD"]["balance"].startswith("-")  # the demo's HKD loan
    headers = page.locator('.ibkr-live[data-mode="portfolio-cash"] th').all_inner_texts()
    assert headers == ["Currency", "Balance", "IBKR rate", "In USD"]
    usd_before = by_currency["USD"]["balance"]
    page.wait_for_timeout(1000)  # past the first render's reruns
    runs = page.evaluate("window.__runs")
    price = gateway.quote("AAPL").last
    ticket = {"symbol": "AAPL", "con_id": 265598, "action": "BUY", "quantity": 3,
              "order_type": "LMT", "limit_price": round(price * 1.02, 2)}  # fmt: skip
    place(server, ticket, "push-cash-fill")
    moved = f"rows.some(r => r.currency === 'USD' && r.balance !== {usd_before!r})"
    after = {r["currency"]: r for r in wait_live_rows(page, "portfolio-cash", moved, 20)}
    spent = money(usd_before) - money(after["USD"]["balance"])
    assert 3 * price * 0.98 < spent < 3 * price * 1.02 + 5  # price + commission
    assert page.evaluate("window.__runs") == runs
