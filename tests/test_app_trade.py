"""The trade page through Streamlit's AppTest, against the simulated gateway.

What reaches the "exchange" is read from the simulator's matching engine, so "nothing was
sent" and "sent exactly once" are checked where it matters, not in our own records.
``run_every`` never fires in AppTest: ``at.run()`` is one refresh of the orders fragment.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.simulator import SimConfig, start_in_background
from tests.app_support import ROOT, fresh_services, shown, wait_until

pytestmark = pytest.mark.timeout(90)

APP = str(ROOT / "streamlit_app.py")


def open_trade_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/trade.py")
    at.run()
    assert not at.exception, at.exception
    return at


def sim_orders(gw) -> list:
    """Every real (not what-if) order the simulated gateway has received."""
    engine = gw.gateway.engine
    return gw.call(
        lambda: [
            replace(o) for o in engine.open_orders() + engine.completed_orders() if not o.what_if
        ]
    )


def fill_ticket(at: AppTest, symbol: str, qty: int, order_type: str = "MKT", **prices) -> None:
    at.text_input(key="t_symbol").input(symbol)
    at.number_input(key="t_quantity").set_value(qty)
    at.selectbox(key="t_order_type").select(order_type)
    at.run()  # the price inputs appear for the chosen order type
    for name, value in prices.items():
        at.number_input(key=f"t_{name}").set_value(value)


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    at.run()
    assert not at.exception, at.exception
    return at


def errors_under(at: AppTest, widget_key: str) -> list[str]:
    """The error messages rendered right under a ticket field (its "next to" spot)."""
    for column in at.main.columns:
        children = list(column.children.values())
        index = next(
            (i for i, c in enumerate(children) if getattr(c, "key", None) == widget_key), None
        )
        if index is None:
            continue
        out = []
        for child in children[index + 1 :]:
            if child.type != "error":
                break
            out.append(shown(child.value))
        return out
    raise AssertionError(f"no field {widget_key}")


def texts(elements) -> list[str]:
    return [shown(e.value) for e in elements]


@pytest.fixture
def gateway_config() -> SimConfig:
    return SimConfig(tick_interval=0.1)


@pytest.fixture
def gateway(gateway_config):
    gw = start_in_background(seed=3, port=0, config=gateway_config)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def services(tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch) as svc:
        yield svc


@pytest.fixture
def connected(gateway, services):
    """Services connected to the simulator (set up after, and closed before, the gateway)."""
    assert services.connect(gateway.host, gateway.port, 31).connected
    return services


def test_disconnected_page_is_disabled_and_says_why(services):
    at = open_trade_page()
    assert any("not connected" in w.value for w in at.main.warning)
    assert at.button(key="t_preview").disabled
    assert at.text_input(key="t_symbol").disabled
    assert not at.main.subheader or "Open orders" not in texts(at.main.subheader)


def test_bad_inputs_show_messages_next_to_fields_and_send_nothing(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 0)
    click(at, "t_preview")
    assert errors_under(at, "t_quantity") == ["Quantity must be greater than 0."]
    assert errors_under(at, "t_symbol") == []
    assert "t_confirm" not in keys(at)

    fill_ticket(at, "AAPL", 5, "LMT")  # limit price left empty
    click(at, "t_preview")
    assert errors_under(at, "t_quantity") == []  # fixed: its message is gone
    assert errors_under(at, "t_limit_price") == ["A limit order needs a limit price."]
    assert "t_confirm" not in keys(at)
    assert sim_orders(gateway) == []


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.main.button}


def test_preview_then_confirm_sends_exactly_once(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 10)
    click(at, "t_preview")
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Commission (est.)"].startswith("$")
    assert metrics["Initial margin change"] != "—"
    assert metrics["Order value (est.)"].startswith("$")
    assert sim_orders(gateway) == []  # a preview sends nothing

    click(at, "t_confirm")
    assert any("sent: BUY 10 AAPL" in shown(s.value) for s in at.main.success)
    assert len(sim_orders(gateway)) == 1
    assert "t_confirm" not in keys(at)  # the preview (and its key) is consumed

    toasts = [shown(t.value) for t in at.toast]  # the fill may land during the sending run

    def filled_and_toasted():
        at.run()  # a rerun / fragment refresh
        toasts.extend(shown(t.value) for t in at.toast)
        return any(t.startswith("Bought 10 AAPL") for t in toasts)

    wait_until(filled_and_toasted, timeout=10, step=0.2)
    at.run()
    reloaded = open_trade_page()  # a page reload: a new session
    reloaded.run()
    assert "t_confirm" not in keys(reloaded)
    assert len(sim_orders(gateway)) == 1
    fills = at.main.dataframe[0].value
    assert list(fills["symbol"]) == ["AAPL"] and list(fills["shares"]) == [10]


def test_editing_the_ticket_drops_the_preview(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 10)
    click(at, "t_preview")
    assert "t_confirm" in keys(at)
    at.number_input(key="t_quantity").set_value(20)
    at.run()
    assert "t_confirm" not in keys(at)
    assert any("preview it again" in i.value for i in at.main.info)
    assert sim_orders(gateway) == []


def test_far_limit_order_rests_and_cancel_cancels_it(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 3, "LMT", limit_price=100.0)
    click(at, "t_preview")
    click(at, "t_confirm")
    (order,) = sim_orders(gateway)
    assert order.is_working

    at.run()
    (cancel_key,) = [k for k in keys(at) if k.startswith("t_cancel_")]
    click(at, cancel_key)

    def cancelled():
        at.run()
        (o,) = sim_orders(gateway)
        return o.status == "Cancelled" and cancel_key not in keys(at)

    wait_until(cancelled, timeout=10, step=0.2)
    assert any("No open orders." in c.value for c in at.main.caption)


@pytest.mark.parametrize(
    "gateway_config", [SimConfig(account_id="U7654321", tick_interval=0.1)], indirect=False
)
def test_live_account_is_locked(gateway, connected):
    at = open_trade_page()
    locked = [shown(e.value) for e in at.main.error if "Trading is locked" in e.value]
    assert locked and "U7654321" in locked[0] and "LIVE" in locked[0]
    assert at.button(key="t_preview").disabled
    assert sim_orders(gateway) == []


def test_rejected_order_shows_warning_then_toasts_the_reason(gateway, tmp_path, monkeypatch):
    with fresh_services(tmp_path, monkeypatch, max_order_value=1e9) as services:
        assert services.connect(gateway.host, gateway.port, 33).connected
        at = open_trade_page()
        fill_ticket(at, "AAPL", 200_000, "LMT", limit_price=250.0)  # far beyond buying power
        click(at, "t_preview")
        assert any(
            "NOT ACCEPTED" in shown(w.value) for w in at.main.warning
        )  # TWS's what-if warning
        click(at, "t_confirm")
        toasts = [shown(t.value) for t in at.toast]

        def rejected():
            at.run()
            toasts.extend(shown(t.value) for t in at.toast)
            return any("rejected" in t and "NOT ACCEPTED" in t for t in toasts)

        wait_until(rejected, timeout=10, step=0.2)
        assert not [o for o in sim_orders(gateway) if o.is_working]


# ---------------------------------------------------- issue 14: hostile tests
def test_a_preview_dropped_by_a_reconnect_is_never_sent(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 1, "LMT", limit_price=100.0)
    click(at, "t_preview")
    assert "t_confirm" in keys(at)
    session = connected.connection.status().session_id
    gateway.drop_all_clients()
    wait_until(lambda: connected.connection.status().session_id > session)
    wait_until(lambda: connected.connection.status().connected)
    at.run()
    assert "t_confirm" not in keys(at)
    assert any("connection changed" in shown(w.value) for w in at.main.warning)
    assert sim_orders(gateway) == []


def test_confirm_clicked_after_another_tab_switched_to_live_sends_nothing(
    gateway, tmp_path, monkeypatch
):
    """The page still shows the paper preview's button when another tab connects the
    shared connection to a LIVE account (live trading enabled): the click is refused."""
    from tests.app_support import fresh_services

    live = start_in_background(
        seed=3, port=0, config=SimConfig(account_id="U7654321", tick_interval=0.1)
    )
    try:
        with fresh_services(tmp_path, monkeypatch, live_trading_enabled=True) as svc:
            assert svc.connect(gateway.host, gateway.port, 41).connected
            at = open_trade_page()
            fill_ticket(at, "AAPL", 1, "LMT", limit_price=100.0)
            click(at, "t_preview")
            assert "t_confirm" in keys(at)
            assert svc.connect(live.host, live.port, 41).connected  # "another tab"
            assert svc.orders.trading_status().allowed
            click(at, "t_confirm")  # the old button, as still on screen
            errors = [shown(e.value) for e in at.main.error]
            assert any("Order not sent" in e and "Nothing was sent" in e for e in errors), errors
            assert sim_orders(live) == [] and sim_orders(gateway) == []
            assert "t_confirm" not in keys(at)
    finally:
        live.stop()


@pytest.mark.parametrize(
    "symbol", ["**AAPL**", "[x](http://evil.example/)", "WWW.EVIL.COM", ":red[AAPL]"]
)
def test_a_symbol_is_shown_as_typed_never_as_markdown(gateway, connected, symbol):
    at = open_trade_page()
    fill_ticket(at, symbol, 1)
    click(at, "t_preview")
    (message,) = errors_under(at, "t_symbol")
    assert symbol.upper() in message  # what the user sees: the text as typed
    (raw,) = [e.value for e in at.main.error]
    for char in "*[]():.":
        assert char not in raw.replace("\\" + char, "")  # every one escaped
    assert sim_orders(gateway) == []


def test_a_huge_limit_price_says_too_large(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 1, "LMT", limit_price=1e308)
    click(at, "t_preview")
    (message,) = errors_under(at, "t_limit_price")
    assert "too large" in message and "needs a limit price" not in message
    assert "t_confirm" not in keys(at)


def test_selling_more_than_held_warns_at_preview(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "AAPL", 300, "LMT", limit_price=300.0)  # the demo holds 100 AAPL
    at.segmented_control(key="t_action").set_value("SELL")
    click(at, "t_preview")
    warnings = [shown(w.value) for w in at.main.warning]
    assert any("selling 300 opens a short position of 200 shares" in w for w in warnings)


def test_open_orders_survive_a_gateway_restart_without_duplicate_keys(gateway, connected):
    from tests.test_order_safety import restart

    at = open_trade_page()
    fill_ticket(at, "AAPL", 3, "LMT", limit_price=100.0)
    click(at, "t_preview")
    click(at, "t_confirm")
    session = connected.connection.status().session_id
    fresh = restart(gateway, SimConfig(tick_interval=0.1))
    try:
        wait_until(lambda: connected.connection.status().session_id > session)
        wait_until(lambda: connected.connection.status().connected)
        wait_until(lambda: connected.orders.open_orders() == [])
        at.run()
        assert not at.exception
        fill_ticket(at, "MSFT", 2, "LMT", limit_price=100.0)
        click(at, "t_preview")
        click(at, "t_confirm")
        for _ in range(3):
            at.run()  # the orders fragment refreshing
            assert not at.exception, at.exception
        cancels = [k for k in keys(at) if k.startswith("t_cancel_")]
        assert len(cancels) == 1
        finished = at.main.expander[0]
        table = finished.dataframe[0].value
        assert "Unknown to the gateway" in list(table["status"])
    finally:
        fresh.stop()
