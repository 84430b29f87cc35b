"""End to end in headless Chromium: a real `streamlit run` server, a trader's journey.

Sign in -> Demo preset + Connect -> net liquidation shows -> Market data: a quote changes
with no click -> Trade: a marketable limit order fills -> Portfolio: position and cash
changed -> Disconnect. A second test measures how long a simulated price change takes
to reach the browser. Screenshots go to tests/artifacts/ (gitignored), timings to
tests/artifacts/e2e_timings.json.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
import time
from collections.abc import Iterator

import pytest

from tests.browser_helpers import (
    ARTIFACTS,
    ROOT,
    StreamlitServer,
    board_cell,
    browser_marks,
    chromium,
    dashboard_env,
    grid_cell,
    live_rows,
    metric_value,
    money,
    new_page,
    open_context,
    screenshot,
    screenshots_on_failure,
    wait_app_idle,
    wait_board_cell,
    wait_grid_cell,
    wait_live_rows,
    wait_metric,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = browser_marks(timeout=120)

PASSWORD = "e2e-password"
DEMO = "Demo (built-in simulated gateway)"
TIMINGS: dict[str, object] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[StreamlitServer]:
    env = dashboard_env(tmp_path_factory.mktemp("e2e"), password=PASSWORD)
    try:
        with StreamlitServer(env=env) as srv:
            yield srv
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "e2e_timings.json").write_text(json.dumps(TIMINGS, indent=2))


@pytest.fixture(scope="module")
def browser(server) -> Iterator:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server, request) -> Iterator:
    context = open_context(browser)
    try:
        with screenshots_on_failure(request, context):  # what the page showed on failure
            yield new_page(context)
    finally:
        context.close()


def sign_in(page, url: str) -> float:
    """Open ``url``, sign in, wait for the Portfolio metrics; returns seconds to the form."""
    started = time.perf_counter()
    page.goto(url)
    password = page.get_by_label("Password", exact=True)
    password.wait_for()
    to_form = time.perf_counter() - started
    assert page.get_by_test_id("stMetric").count() == 0  # nothing of the account yet
    password.fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("stMetric").first.wait_for()
    return to_form


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def choose_preset(page, label: str) -> None:
    sidebar(page).get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=label).click()
    port = sidebar(page).get_by_label("Port", exact=True)
    expected = re.compile(r"^(auto|\d+)$") if label == DEMO else label.rsplit(" ", 1)[-1]
    sync_api.expect(port).to_have_value(expected)


def set_input(page, label: str, value: str) -> None:
    """Type into a text/number input, commit it (Enter) and let the rerun finish.

    Retried: a rerun still in flight from the previous input can redraw this one
    with its old value (seen now and then on the Trade ticket)."""
    box = page.get_by_label(label, exact=True)
    for _ in range(3):
        box.fill(value)
        box.press("Enter")
        wait_app_idle(page)
        if box.input_value() == value:
            return
    sync_api.expect(box).to_have_value(value)


def wait_position_qty(page, symbol: str, qty: str) -> None:
    """The Portfolio's position quantity as shown: the pushed table, or the grid when the
    stream is not there."""
    listing = f"{symbol} · "
    pushed = f"rows.some(r => r.instrument.startsWith({listing!r}) && r.quantity === {qty!r})"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = live_rows(page, "portfolio-positions")
        if rows is not None:
            wait_live_rows(page, "portfolio-positions", pushed, timeout=20)
            return
        if grid_cell(page, symbol, "Qty") is not None:
            wait_grid_cell(page, symbol, "Qty", f"v === {qty!r}", timeout=20)
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no {symbol} position on the page")


def wait_position_price(page, symbol: str, predicate_js: str, timeout: float) -> None:
    """Until the pushed Portfolio row of ``symbol`` shows a price (``v``) that holds."""
    listing = f"{symbol} · "
    price = f"(v => {predicate_js})(r.market_price)"
    held = f"rows.some(r => r.instrument.startsWith({listing!r}) && {price})"
    wait_live_rows(page, "portfolio-positions", held, timeout=timeout)


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, level=1).wait_for()


def has_page(title: str) -> bool:
    names = {"Market data": "market_data.py", "Trade": "trade.py"}
    return (ROOT / "pages" / names[title]).exists()


# -------------------------------------------------------------------------------- tests
def test_deep_link_on_a_fresh_server_still_asks_for_the_password(server, page):
    """The first request after start (Streamlit's legacy pages/ mode) must not bypass
    the gate: open /portfolio directly and find the password form, not the account."""
    page.goto(f"{server.url}/market_data")
    page.get_by_label("Password", exact=True).wait_for()
    assert page.get_by_test_id("stMetric").count() == 0
    assert page.get_by_test_id("stSidebar").count() == 0 or (
        "Connection preset" not in sidebar(page).inner_text()
    )
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong password.").wait_for()
    assert page.get_by_test_id("stMetric").count() == 0
    screenshot(page, "00-wrong-password")


def test_trader_journey_with_the_demo_gateway(server, page):
    started = time.perf_counter()
    TIMINGS["first_load_to_password_form_s"] = round(sign_in(page, server.url), 3)
    TIMINGS["first_load_to_portfolio_after_sign_in_s"] = round(time.perf_counter() - started, 3)
    assert metric_value(page, "Net liquidation") == "$0.00"
    page.get_by_text("not connected").first.wait_for()
    screenshot(page, "01-portfolio-not-connected")

    # Demo preset, one click on Connect.
    choose_preset(page, DEMO)
    clicked = time.perf_counter()
    sidebar(page).get_by_role("button", name="Connect", exact=True).click()
    sidebar(page).get_by_text("DU1234567").wait_for()
    sidebar(page).get_by_text("PAPER").wait_for()
    nlv = wait_metric(page, "Net liquidation", "v !== '$0.00'", timeout=20)
    TIMINGS["connect_click_to_net_liquidation_s"] = round(time.perf_counter() - clicked, 3)
    assert money(nlv) > 100_000
    wait_position_qty(page, "AAPL", "100")
    cash_before = money(metric_value(page, "Cash"))
    screenshot(page, "02-portfolio-connected")

    # Market data: a quote changes with no click.
    last = None
    if has_page("Market data"):
        go_to(page, "Market data")
        first = wait_board_cell(page, "AAPL", "last", "/^[0-9.,]+$/.test(v)", timeout=20)
        changed = time.perf_counter()
        last = wait_board_cell(
            page, "AAPL", "last", f"/^[0-9.,]+$/.test(v) && v !== {first!r}", timeout=15
        )
        TIMINGS["market_data_first_unprompted_change_s"] = round(time.perf_counter() - changed, 3)
        screenshot(page, "03-market-data")

    # Trade: a marketable limit order (limit 2% above the market) fills.
    if has_page("Trade"):
        go_to(page, "Trade")
        limit = round(float((last or "250").replace(",", "")) * 1.02, 2)
        set_input(page, "Symbol", "AAPL")
        instrument = page.get_by_role("combobox", name="Instrument")
        if instrument.count():  # AAPL names the stock and options too: the stock
            instrument.click()
            page.get_by_role("option", name="AAPL · NASDAQ · USD · Stock").click()
            wait_app_idle(page)
        set_input(page, "Quantity", "10")
        page.get_by_role("combobox", name="Order type").click()
        page.get_by_role("option", name="Limit", exact=True).click()
        wait_app_idle(page)
        set_input(page, "Limit price", f"{limit:.2f}")
        sync_api.expect(page.get_by_label("Quantity", exact=True)).to_have_value("10")
        page.get_by_role("button", name="Preview").click()
        page.get_by_role("button", name="Confirm and send").click()
        page.get_by_text("Sent: BUY 10 AAPL").wait_for()
        screenshot(page, "04-trade-sent")

        go_to(page, "Portfolio")
        wait_position_qty(page, "AAPL", "110")
        cash_after = wait_metric(
            page, "Cash", f"parseFloat(v.replace(/[$,]/g, '')) < {cash_before}", timeout=20
        )
        spent = cash_before - money(cash_after)
        # price + commission; the demo's cash also carries its ES future's P&L since the
        # last settlement (IBKR: cash + futures P&L), which moves with the market. The
        # exact arithmetic is test_portfolio's, on a still market.
        assert 10 * limit * 0.5 < spent <= 10 * limit * 1.5 + 5
        screenshot(page, "05-portfolio-after-fill")

    # Disconnect: back to zeros, labelled.
    sidebar(page).get_by_role("button", name="Disconnect").click()
    sidebar(page).get_by_text("Disconnected").wait_for()
    wait_metric(page, "Net liquidation", "v === '$0.00'", timeout=10)
    page.get_by_text("not connected").first.wait_for()
    screenshot(page, "06-disconnected")


def test_simulated_price_change_reaches_the_browser(server, page):
    """A gateway this test controls: freeze AAPL, move it, time it to the screen."""
    from ibkr_core.simulator import SimConfig, start_in_background

    gw = start_in_background(seed=11, port=0, config=SimConfig())
    try:
        gw.stop_ticks("AAPL")
        sign_in(page, server.url)
        choose_preset(page, "TWS paper 7497")
        sidebar(page).get_by_label("Port", exact=True).fill(str(gw.port))
        sidebar(page).get_by_role("button", name="Connect", exact=True).click()
        sidebar(page).get_by_text(f"127.0.0.1:{gw.port}").wait_for()

        pages = ["Portfolio"]
        if has_page("Market data"):
            pages.append("Market data")
        price = gw.quote("AAPL").last
        for title in pages:
            go_to(page, title)
            # both pushed: Market data's live board, Portfolio's positions table
            if title == "Market data":
                wait = functools.partial(wait_board_cell, page, "AAPL", "last")
            else:
                wait = functools.partial(wait_position_price, page, "AAPL")
            wait("/^[$0-9.,]+$/.test(v)", timeout=20)
            latencies = []
            for _ in range(5):
                price = round(price + 1.37, 2)
                t0 = time.perf_counter()
                gw.set_price("AAPL", price)
                same = f"Math.abs(parseFloat(v.replace(/[$,]/g, '')) - {price}) < 0.005"
                wait(same, timeout=10)
                latencies.append(time.perf_counter() - t0)
            key = title.lower().replace(" ", "_")
            TIMINGS[f"price_change_to_browser_{key}_s"] = {
                "median": round(statistics.median(latencies), 3),
                "max": round(max(latencies), 3),
                "samples": [round(x, 3) for x in latencies],
            }
        assert board_cell(page, "AAPL", "last")
        screenshot(page, "07-price-moved")

        # The gateway goes away: the badge says so by itself (2 s status timer), and the
        # page follows (the status fragment reruns the app on a change of state).
        go_to(page, "Portfolio")
        gw.refuse_connections(30.0)
        dropped = time.perf_counter()
        gw.drop_all_clients()
        sidebar(page).get_by_text("Reconnecting").first.wait_for(timeout=10_000)
        TIMINGS["drop_to_reconnecting_badge_s"] = round(time.perf_counter() - dropped, 3)
        wait_metric(page, "Net liquidation", "v === '$0.00'", timeout=10)
        screenshot(page, "08-reconnecting")
        sidebar(page).get_by_role("button", name="Disconnect").click()
        sidebar(page).get_by_text("Disconnected").wait_for()
    finally:
        gw.stop()


def test_connection_panel_keeps_its_values_across_pages_and_client_id_0_is_used(server, page):
    """Seen in a browser: after a page switch the panel's Host/Port came up empty and
    Client id 0; and a typed client id 0 (TWS's master client) connected as client 1."""
    sign_in(page, server.url)
    wait_app_idle(page)  # the live badge's first reruns redraw the panel below it
    client_id = sidebar(page).get_by_label("Client id", exact=True)
    sync_api.expect(client_id).to_have_value("1")  # the configured id, not the default 0
    choose_preset(page, DEMO)
    set_input(page, "Client id", "0")
    sidebar(page).get_by_role("button", name="Connect", exact=True).click()
    sidebar(page).get_by_text("DU1234567").wait_for()
    sync_api.expect(sidebar(page).get_by_text("Client id: 0")).to_be_visible()
    port_box = sidebar(page).get_by_label("Port", exact=True)
    sync_api.expect(port_box).to_have_value(re.compile(r"^\d+$"))  # auto -> the demo's port
    port = port_box.input_value()
    set_input(page, "Client id", "5")  # typed, not yet used: must survive page switches
    for title in ("Market data", "Trade", "Portfolio"):
        go_to(page, title)
        wait_app_idle(page)
        panel = sidebar(page)
        sync_api.expect(panel.get_by_label("Client id", exact=True)).to_have_value("5")
        sync_api.expect(panel.get_by_label("Port", exact=True)).to_have_value(port)
        sync_api.expect(panel.get_by_label("Host", exact=True)).to_have_value("127.0.0.1")
    sidebar(page).get_by_role("button", name="Disconnect").click()
    sidebar(page).get_by_text("Disconnected").wait_for()
