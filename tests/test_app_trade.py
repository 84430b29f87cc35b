"""The trade page through Streamlit's AppTest, against the simulated gateway.

What reaches the "exchange" is read from the simulator's matching engine, so "nothing was
sent" and "sent exactly once" are checked where it matters, not in our own records.
``run_every`` never fires in AppTest: ``at.run()`` is one refresh of the orders fragment.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.simulator import SimConfig, start_in_background
from tests.app_support import fresh_services, run_app, shown, wait_until
from tests.sim_support import sim_orders

pytestmark = pytest.mark.timeout(90)


def open_trade_page() -> AppTest:
    return run_app("pages/trade.py")


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
    assert list(fills["symbol"]) == ["AAPL · NASDAQ · USD"] and list(fills["shares"]) == [10]


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


# -- issue 10: the instrument the user means, several accounts (simulator profiles) -----------
MULTI = SimConfig(tick_interval=0.1, profile="multi-asset")
ADVISOR = SimConfig(tick_interval=0.1, profile="advisor")
SAP_IBIS, TENCENT = 14204, 89621428


def in_hkd(text: str) -> bool:
    """Money shown in HKD, by its sign (HK$1,234.00) or code (1,234.00 HKD)."""
    return bool(re.fullmatch(r"[-+]?HK\$[\d,.]+|[-+]?[\d,.]+ HKD", text))


def main_text(at: AppTest) -> str:
    return "\n".join(
        shown(e.value) for e in [*at.main.markdown, *at.main.caption, *at.main.warning]
    )


@pytest.mark.parametrize("gateway_config", [MULTI])
def test_sap_asks_which_listing_and_sells_the_ibis_holding(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "SAP", 10, "LMT", limit_price=250.0)
    at.segmented_control(key="t_action").set_value("SELL")
    at.run()
    select = at.selectbox(key="t_con_id")
    labels = list(select.options)  # as the user reads them
    assert len(labels) == 2
    assert any("SAP · IBIS · EUR" in x for x in labels) and any("NYSE · USD" in x for x in labels)
    click(at, "t_preview")  # no instrument chosen: refused, nothing sent
    (message,) = errors_under(at, "t_con_id")
    assert "SAP matches 2 instruments" in message
    assert "t_confirm" not in keys(at)
    at.selectbox(key="t_con_id").set_value(SAP_IBIS)
    at.run()
    click(at, "t_preview")
    text = main_text(at)
    assert "SELL 10 SAP · IBIS · EUR Limit" in text
    assert "SAP · IBIS · EUR · Stock — SAP SE · conId 14204 · multiplier 1" in text
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Order value (est.)"] == "€2,500.00"
    assert metrics["Commission (est.)"].startswith("€")  # IBIS fees are in EUR
    assert metrics["Initial margin change"].lstrip("+-").startswith("$")  # base: USD
    assert "base currency: $" in text  # converted at the account's own EUR rate
    click(at, "t_confirm")
    sent = sim_orders(gateway)
    assert [(o.instrument.con_id, o.instrument.currency, o.action) for o in sent] == [
        (SAP_IBIS, "EUR", "SELL")
    ]


@pytest.mark.parametrize("gateway_config", [MULTI])
def test_reduce_tencent_from_the_holding_fills_in_hkd(gateway, connected):
    at = open_trade_page()
    position = at.selectbox(key="t_position")
    label = next(o for o in position.options if o.startswith("700 · SEHK · HKD"))
    assert "400" in label
    position.set_value(f"DU1234567:{TENCENT}")
    at.run()
    click(at, "t_reduce")
    assert at.text_input(key="t_symbol").value == "700"
    assert at.segmented_control(key="t_action").value == "SELL"
    assert at.number_input(key="t_quantity").value == 200  # half of the 400 held
    click(at, "t_preview")
    assert "SELL 200 700 · SEHK · HKD Market" in main_text(at)
    assert in_hkd({m.label: m.value for m in at.main.metric}["Order value (est.)"])
    click(at, "t_confirm")

    def tencent_fills() -> list[dict] | None:
        """The fill rows once all 200 shares filled, each with its commission (TWS may
        fill an order in several executions)."""
        at.run()  # a refresh of the orders fragment
        frames = [d.value for d in at.main.dataframe if "commission" in d.value.columns]
        rows = (
            [r for r in frames[0].to_dict("records") if r["symbol"] == "700 · SEHK · HKD"]
            if frames
            else []
        )
        done = sum(r["shares"] for r in rows) == 200 and all(r["commission"] for r in rows)
        return rows if done else None

    rows = wait_until(tencent_fills, 15)
    assert {r["side"] for r in rows} == {"SELL"}
    assert all(in_hkd(r["price"]) and in_hkd(r["commission"]) for r in rows)
    assert [(o.instrument.con_id, o.total_qty) for o in sim_orders(gateway)] == [(TENCENT, 200)]


@pytest.mark.parametrize("gateway_config", [ADVISOR])
def test_advisor_picks_the_account_and_the_order_goes_there(gateway, connected):
    at = open_trade_page()
    account = at.sidebar.selectbox(key="account_picker")
    assert list(account.options) == ["DU1234567", "DU1234568", "DU1234569"]
    account.set_value("DU1234569")
    at.run()
    fill_ticket(at, "MSFT", 1, "LMT", limit_price=100.0)
    click(at, "t_preview")
    assert "Account DU1234569" in main_text(at)
    click(at, "t_confirm")
    assert any("for account DU1234569" in shown(s.value) for s in at.main.success)
    assert [o.account for o in sim_orders(gateway)] == ["DU1234569"]


@pytest.mark.parametrize("gateway_config", [ADVISOR])
def test_advisor_close_takes_the_positions_account_and_contract(gateway, connected):
    at = open_trade_page()
    at.sidebar.selectbox(key="account_picker").set_value("DU1234568")
    at.run()
    position = at.selectbox(key="t_position")
    assert any(o.startswith("SAP · IBIS · EUR") and "DU1234568" in o for o in position.options)
    assert all("DU1234568" in o for o in position.options)  # the chosen account's only
    position.set_value(f"DU1234568:{SAP_IBIS}")
    at.run()
    click(at, "t_close")
    assert at.number_input(key="t_quantity").value == 80
    click(at, "t_preview")
    assert "Account DU1234568" in main_text(at)
    click(at, "t_confirm")
    assert [(o.account, o.instrument.con_id, o.total_qty) for o in sim_orders(gateway)] == [
        ("DU1234568", SAP_IBIS, 80)
    ]


def test_orders_entered_in_tws_render_and_cancel_says_why_global_cancel_confirms(
    gateway, connected
):
    """Two orders entered in TWS (order id 0) used to crash the section on a duplicate
    key; now both show, Cancel says where to cancel them, Global cancel asks first."""
    from tests.test_order_book import tws_reports

    for perm in (900001, 900002):
        tws_reports(connected.connection, order_id=0, perm_id=perm, client_id=0, status="Submitted")
    wait_until(lambda: len(connected.orders.open_orders()) == 2)
    at = open_trade_page()
    cancels = [k for k in keys(at) if k.startswith("t_cancel_")]
    assert len(cancels) == 2
    assert sum("MSFT · NASDAQ · USD · TWS" in shown(m.value) for m in at.main.markdown) == 2
    click(at, cancels[0])
    errors = [shown(e.value) for e in at.main.error]
    assert any("entered in TWS: cancel it there, or use Global cancel" in e for e in errors)
    click(at, "t_global_cancel")
    assert "t_global_yes" in keys(at)
    assert any("every" in shown(w.value) for w in at.main.warning)
    click(at, "t_global_no")  # changed my mind: nothing cancelled
    assert "t_global_yes" not in keys(at)
    assert len(connected.orders.open_orders()) == 2


@pytest.mark.parametrize("gateway_config", [MULTI])
def test_close_the_held_call_reads_as_the_option_in_contracts(gateway, connected):
    at = open_trade_page()
    at.selectbox(key="t_position").set_value("DU1234567:752312901")
    at.run()
    click(at, "t_close")
    assert at.number_input(key="t_quantity").value == 5
    assert any("In contracts of 100 × AAPL" in shown(c.value) for c in at.main.caption)
    click(at, "t_preview")
    text = main_text(at)
    assert "SELL 5 AAPL 15 JAN 27 230 Call Market" in text
    assert (
        "AAPL 15 JAN 27 230 Call · SMART · USD · Option — APPLE INC · conId 752312901"
        " · multiplier 100" in text
    )
    click(at, "t_confirm")
    sent = sim_orders(gateway)
    assert [(o.instrument.con_id, o.action, o.total_qty) for o in sent] == [(752312901, "SELL", 5)]


@pytest.mark.parametrize("gateway_config", [MULTI])
def test_es_future_chosen_explicitly_is_capped_by_its_value_in_usd(gateway, connected):
    at = open_trade_page()
    fill_ticket(at, "ES", 1, "LMT", limit_price=6000.0)
    select = at.selectbox(key="t_con_id")
    assert any(o.startswith("ES DEC 26 · CME · USD · Future") for o in select.options)
    assert any(o.startswith("EVERSOURCE") or "EVERSOURCE" in o for o in select.options)
    select.set_value(637533641)
    at.run()
    click(at, "t_preview")
    (message,) = errors_under(at, "t_quantity")
    assert "Order value 300,000.00 USD (1 x 6,000.00 x 50)" in message
    assert "100,000.00 USD limit per order" in message
    assert "t_confirm" not in keys(at) and sim_orders(gateway) == []


def test_a_bracket_shows_as_one_group_and_partial_fills_as_filled_of_qty(gateway, connected):
    from tests.test_order_book import tws_reports

    conn = connected.connection
    mine = conn.status().client_id
    tws_reports(conn, order_id=80, perm_id=900080, client_id=mine, status="Submitted", filled=4)
    tws_reports(conn, order_id=90, perm_id=900090, client_id=mine, status="Submitted")
    for oid, lmt in ((81, 120.0), (82, 90.0)):
        tws_reports(
            conn,
            order_id=oid,
            perm_id=900000 + oid,
            client_id=mine,
            status="PreSubmitted",
            parent_id=80,
            action="SELL",
            lmt=lmt,
        )
    wait_until(lambda: len(connected.orders.open_orders()) == 4)
    at = open_trade_page()
    cells = [shown(m.value) for m in at.main.markdown]
    ids = [c for c in cells if c in ("80", "81", "82", "90")]
    assert set(ids[ids.index("80") + 1 : ids.index("80") + 3]) == {"81", "82"}
    assert cells.count("↳ MSFT · NASDAQ · USD") == 2
    assert "4 / 10 (6 left)" in cells


def test_cancel_after_a_partial_fill_says_what_filled(gateway, tmp_path, monkeypatch):
    """The simulator fills the shown size first and the rest in slices: cancelled in
    between, the page says how much filled and the finished order keeps it."""
    with fresh_services(tmp_path, monkeypatch, max_order_value=1_000_000.0) as svc:
        assert svc.connect(gateway.host, gateway.port, 31).connected
        gateway.stop_ticks("KO")
        q = gateway.quote("KO")
        qty = int(q.ask_size * 2 + 100)
        at = open_trade_page()
        fill_ticket(at, "KO", qty, "LMT", limit_price=round(q.ask + 0.5, 2))
        click(at, "t_preview")
        click(at, "t_confirm")
        record = wait_until(lambda: (o := svc.orders.open_orders()) and o[0].filled > 0 and o[0])
        at.run()
        assert any(f"{record.filled:g} / {qty}" in shown(m.value) for m in at.main.markdown)
        click(at, f"t_cancel_{record.record_id}")
        done = wait_until(lambda: (r := svc.orders.order_by_record(record.record_id)).is_done and r)
        assert done.status == "Cancelled" and 0 < done.filled < qty
        at.run()
        table = at.main.expander[0].dataframe[0].value
        row = table[table["order_id"] == record.order_id].iloc[0]
        assert row["status"] == "Cancelled" and row["filled"] == done.filled
        assert row["remaining"] == qty - done.filled
