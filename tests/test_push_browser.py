"""What a trader's browser sees of the push path, on the README's run command: prices
patched in place without a script rerun, a reconnect after the socket drops, the
fragment fallback when WebSockets are blocked, and no legacy page list on a fresh
server. Debian chromium, a simulated gateway this test controls.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.browser_helpers import (
    ARTIFACTS,
    RERUN_COUNTER_JS,
    StreamlitServer,
    board_cell,
    browser_marks,
    chromium,
    live_pill,
    new_page,
    open_context,
    screenshot,
    screenshots_on_failure,
    wait_board_cell,
    wait_grid_cell,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = browser_marks(timeout=120)

NAV_RECORDER_JS = """
window.__navTexts = new Set();
new MutationObserver(() => {
  for (const nav of document.querySelectorAll('[data-testid="stSidebarNav"] a')) {
    window.__navTexts.add(nav.textContent.trim());
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def gateway():
    from ibkr_core.simulator import start_in_background

    gw = start_in_background(seed=23, port=0)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[StreamlitServer]:
    tmp = tmp_path_factory.mktemp("push")
    (tmp / "w.json").write_text(json.dumps(["AAPL", "MSFT", "SPY"]))
    env = {"IBKR_WATCHLIST_FILE": str(tmp / "w.json"), "IBKR_PROVIDER_TIMEOUT": "2"}
    with StreamlitServer(env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server) -> Iterator:
    with chromium() as b:
        yield b


@pytest.fixture
def context(browser, request) -> Iterator:
    ctx = open_context(browser, init_scripts=(RERUN_COUNTER_JS, NAV_RECORDER_JS))
    try:
        with screenshots_on_failure(request, ctx):
            yield ctx
    finally:
        ctx.close()


def connect_dashboard(server: StreamlitServer, gateway) -> None:
    """Through the API on the dashboard's own port: the one shared connection."""
    body = {"host": "127.0.0.1", "port": gateway.port}
    r = httpx.post(f"{server.url}/api/trading/ibkr/connect", json=body, timeout=30)
    assert r.json()["connected"], r.text


def open_market_data(context, server: StreamlitServer):
    page = new_page(context)
    page.goto(f"{server.url}/market_data")
    page.get_by_role("heading", name="Market data", level=1).wait_for()
    return page


NUMBER = "/^[0-9.,]+$/.test(v)"


def same_price(price: float) -> str:
    return f"Math.abs(parseFloat(v.replace(/[$,]/g, '')) - {price}) < 0.005"


# ------------------------------------------------------------------------------------
def test_a_fresh_servers_first_visitor_never_sees_the_pages_folder_listed(context, server):
    """(First test: the server is fresh.) Before, the first frame listed every file in
    pages/ (components, ...) as a page until the rerun."""
    page = context.new_page()
    page.goto(server.url)
    page.get_by_test_id("stSidebarNav").get_by_text("Market data").wait_for()
    time.sleep(0.5)
    seen = set(page.evaluate("[...window.__navTexts]"))  # icon name + title
    for title in ("Portfolio", "Market data", "Trade"):
        assert any(t.endswith(title) for t in seen), seen
    legacy = ("components", "live", "streamlit app", "market data", "portfolio", "trade")
    assert not [t for t in seen if t.endswith(legacy)], seen  # the legacy list's lowercase names


def test_a_price_change_reaches_the_board_without_any_script_rerun(context, server, gateway):
    connect_dashboard(server, gateway)
    gateway.stop_ticks("AAPL")
    page = open_market_data(context, server)
    # connected through the API, shown by the page: one Services, one connection
    page.get_by_test_id("stSidebar").get_by_text(f"127.0.0.1:{gateway.port}").wait_for()
    wait_board_cell(page, "AAPL", "last", NUMBER, timeout=20)
    assert board_cell(page, "AAPL", "source") == "IBKR (live)"
    assert live_pill(page) == "● Live"
    page.wait_for_timeout(500)
    runs_before = page.evaluate("window.__runs")
    price = gateway.quote("AAPL").last
    latencies = []
    for _ in range(8):
        price = round(price + 0.73, 2)
        started = time.perf_counter()
        gateway.set_price("AAPL", price)
        wait_board_cell(page, "AAPL", "last", same_price(price), timeout=5)
        latencies.append(time.perf_counter() - started)
        page.wait_for_timeout(150)
    assert page.evaluate("window.__runs") == runs_before  # no rerun: patched in place
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "push_timings.json").write_text(
        json.dumps({"median_s": statistics.median(latencies), "max_s": max(latencies)})
    )
    assert board_cell(page, "AAPL", "status") == "✓ OK"
    screenshot(page, "push-board")


def test_the_component_reconnects_after_the_server_drops_its_socket(context, server, gateway):
    """The page's socket runs through a proxy this test holds: closing the page's side
    of it is, for the page, the server dropping it."""
    sockets: list = []

    def proxy(ws) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    context.route_web_socket("**/api/live", proxy)
    connect_dashboard(server, gateway)
    gateway.stop_ticks("MSFT")
    page = open_market_data(context, server)
    wait_board_cell(page, "MSFT", "last", NUMBER, timeout=20)
    page.wait_for_timeout(2500)  # past any remount of the first render
    opened = len(sockets)
    sockets[-1].close(code=1011, reason="server going away")  # the page sees it close
    page.wait_for_function("() => window.__ibkrLive.up === false", timeout=5000)
    page.wait_for_function("() => window.__ibkrLive.up === true", timeout=10_000)
    assert len(sockets) == opened + 1  # a new socket, opened by the component itself
    price = round(gateway.quote("MSFT").last + 1.11, 2)
    gateway.set_price("MSFT", price)
    wait_board_cell(page, "MSFT", "last", same_price(price), timeout=5)
    assert live_pill(page) == "● Live"


def test_with_websockets_blocked_the_page_falls_back_to_its_refresh(browser, server, gateway):
    connect_dashboard(server, gateway)
    gateway.stop_ticks("SPY")
    ctx = open_context(browser, block_live=True)  # a proxy that blocks the live stream
    try:
        page = new_page(ctx)
        page.goto(f"{server.url}/market_data")
        wait_grid_cell(page, "SPY", "Last", NUMBER, timeout=20)  # the fragment's table
        assert board_cell(page, "SPY", "last") is None
        price = round(gateway.quote("SPY").last + 2.22, 2)
        gateway.set_price("SPY", price)
        wait_grid_cell(page, "SPY", "Last", same_price(price), timeout=10)
        assert (live_pill(page) or "").startswith("❚❚ Paused")
        screenshot(page, "push-fallback")
    finally:
        ctx.close()
