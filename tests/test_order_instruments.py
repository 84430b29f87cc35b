"""Orders reach the instrument the user means (issue 10), against the simulator's
multi-asset and advisor profiles with the real ib_async over a real socket.

What reaches the "exchange" is read from the simulator's matching engine (its orders'
conId, currency, account), not from our own records.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ibkr_core.simulator import SimConfig
from tests.conftest import wait_for
from tests.sim_support import sim_orders

pytestmark = pytest.mark.timeout(40)

SAP_IBIS, SAP_ADR = 14204, 8957
ES_FUT, TENCENT, AAPL_CALL = 637533641, 89621428, 752312901


@pytest.fixture
def gateway_config():
    return SimConfig(tick_interval=3600.0, profile="multi-asset")


def service(connection, **overrides) -> Iterator:
    from dataclasses import replace

    from ibkr_core.orders import OrderService

    settings = replace(connection.settings, **overrides)
    svc = OrderService(connection, settings)
    return svc


def sim_position(gw, con_id: int) -> float:
    """The simulated account's position in ``con_id`` (0: none)."""
    return gw.call(lambda: ((p := gw.gateway.account.position(con_id)) and p.qty) or 0.0)


def held(orders, con_id: int):
    return next(p for p in orders.positions() if p.con_id == con_id)


def test_sap_is_ambiguous_and_the_trader_must_pick_between_ibis_and_the_adr(orders, gateway):
    from ibkr_core.orders import OrderTicket

    matches = orders.instruments("SAP")
    assert {(i.con_id, i.listing, i.currency) for i in matches} == {
        (SAP_IBIS, "IBIS", "EUR"),
        (SAP_ADR, "NYSE", "USD"),
    }
    issues = orders.validate(OrderTicket("SAP", "SELL", 10))
    assert [i.field for i in issues] == ["con_id"]
    assert "SAP matches 2 instruments" in issues[0].message
    assert "IBIS · EUR" in issues[0].message and "NYSE · USD" in issues[0].message
    assert sim_orders(gateway) == []


def test_selling_sap_from_the_holding_sells_the_ibis_shares_not_the_adr(orders, gateway):
    from ibkr_core.orders import OrderTicket

    pos = held(orders, SAP_IBIS)
    assert (pos.symbol, pos.currency, pos.quantity) == ("SAP", "EUR", 50)
    ticket = OrderTicket("SAP", pos.closing_action, 10, con_id=pos.con_id)
    preview = orders.preview(ticket)
    inst = preview.instrument
    assert (inst.con_id, inst.sec_type, inst.listing, inst.currency) == (
        SAP_IBIS,
        "STK",
        "IBIS",
        "EUR",
    )
    assert preview.currency == "EUR" and preview.position == 50 and not preview.short_warning
    orders.place(ticket, "sap-ibis")
    wait_for(lambda: sim_position(gateway, SAP_IBIS) == 40, 5)
    sent = sim_orders(gateway)
    assert [(o.instrument.con_id, o.instrument.currency) for o in sent] == [(SAP_IBIS, "EUR")]
    assert sim_position(gateway, SAP_ADR) == 0  # no short opened in the ADR


def test_es_offers_the_future_and_its_preview_names_it_with_multiplier(connection, gateway):
    """A future's order value is its notional (price x 50): the exposure the cap limits."""
    from ibkr_core.orders import OrderTicket

    orders = service(connection, max_order_value=500_000.0)

    by_type = {i.sec_type: i for i in orders.instruments("ES")}
    assert set(by_type) == {"STK", "FUT", "FOP"}
    assert by_type["STK"].long_name == "EVERSOURCE ENERGY"
    fut = by_type["FUT"]
    assert (fut.con_id, fut.description, fut.exchange, fut.multiplier) == (
        ES_FUT,
        "ES DEC 26",
        "CME",
        50,
    )
    assert [i.field for i in orders.validate(OrderTicket("ES", "BUY", 1))] == ["con_id"]
    price = gateway.quote("ESZ6").bid
    ticket = OrderTicket(
        "ES", "BUY", 1, "LMT", limit_price=round(price / 0.25) * 0.25 - 50, con_id=ES_FUT
    )
    preview = orders.preview(ticket)
    assert preview.instrument.description == "ES DEC 26"
    assert preview.instrument.sec_type == "FUT" and preview.instrument.multiplier == 50
    assert preview.order_value == pytest.approx(ticket.limit_price * 50)
    orders.close()
    assert sim_orders(gateway) == []


def test_order_value_limit_is_in_base_currency_after_conversion(connection, gateway):
    """max_order_value 24,000 USD: 100 SAP at 230 EUR is 23,000 EUR but ~24,830 USD
    (refused); 400 Tencent at 410 HKD is 164,000 HKD but ~21,080 USD (allowed)."""
    from ibkr_core.orders import OrderTicket

    svc = service(connection, max_order_value=24_000.0)
    try:
        rate = next(
            float(v.value)
            for v in connection.run(lambda ib: ib.accountValues())
            if v.tag == "ExchangeRate" and v.currency == "EUR"
        )
        sap = OrderTicket("SAP", "BUY", 100, "LMT", limit_price=230.0, con_id=SAP_IBIS)
        issues = svc.validate(sap)
        assert [i.field for i in issues] == ["quantity"]
        msg = issues[0].message
        assert "23,000.00 EUR" in msg and f"{23_000 * rate:,.2f} USD" in msg
        assert "24,000.00 USD limit" in msg
        tencent = OrderTicket("700", "BUY", 400, "LMT", limit_price=410.0, con_id=TENCENT)
        preview = svc.preview(tencent)
        assert preview.order_value == pytest.approx(164_000.0) and preview.currency == "HKD"
        assert preview.base_currency == "USD" and preview.max_order_value == 24_000.0
        assert preview.order_value_base == pytest.approx(164_000.0 * 0.128516, rel=0.05)
    finally:
        svc.close()
    assert sim_orders(gateway) == []


def test_unknown_exchange_rate_refuses_with_a_plain_message(orders, gateway, connection):
    from ibkr_core.order_value import account_rates
    from ibkr_core.orders import OrderTicket

    # Drop the HKD rate from what ib_async holds: unknown must never be guessed.
    def forget(ib):
        for key in [
            k for k in ib.wrapper.accountValues if k[1] == "ExchangeRate" and k[2] == "HKD"
        ]:
            del ib.wrapper.accountValues[key]

    connection.run(forget)
    assert "HKD" not in account_rates(connection.run(lambda ib: ib.accountValues()), "").rates
    issues = orders.validate(
        OrderTicket("700", "BUY", 10, "LMT", limit_price=400.0, con_id=TENCENT)
    )
    assert [i.field for i in issues] == ["quantity"]
    assert (
        "no HKD→USD exchange rate" in issues[0].message and "nothing was sent" in issues[0].message
    )


def test_reduce_tencent_sells_in_hkd_and_the_fill_reads_in_hkd(orders, gateway):
    from ibkr_core.orders import OrderTicket

    pos = held(orders, TENCENT)
    assert (pos.currency, pos.quantity, pos.exchange) == ("HKD", 400, "SEHK")
    record = orders.place(OrderTicket(pos.symbol, "SELL", 100, con_id=pos.con_id), "reduce-700")
    fill = wait_for(lambda: [f for f in orders.fills() if f.commission is not None], 8)[0]
    assert (fill.con_id, fill.currency, fill.commission_currency) == (TENCENT, "HKD", "HKD")
    assert fill.shares == 100 and fill.side == "SELL"
    assert fill.commission >= 18.0  # SEHK minimum, in HKD
    done = wait_for(lambda: (r := orders.order_by_record(record.record_id)) and r.is_done and r, 5)
    assert (done.currency, done.description) == ("HKD", "700 · SEHK · HKD")
    assert sim_position(gateway, TENCENT) == 300


def test_option_orders_and_fills_read_with_the_contract(orders, gateway):
    from ibkr_core.orders import OrderTicket

    pos = held(orders, AAPL_CALL)
    assert pos.description == "AAPL 15 JAN 27 230 Call" and pos.multiplier == 100
    cursor = orders.latest_cursor()
    orders.place(OrderTicket("AAPL", "BUY", 2, con_id=AAPL_CALL), "call-2")
    wait_for(lambda: [f for f in orders.fills() if f.commission is not None], 8)
    events, _ = orders.events_since(cursor)
    fills = [e.message for e in events if e.kind == "fill"]
    assert fills and fills[0].startswith("Bought 2 AAPL 15 JAN 27 230 Call at ")
    assert orders.fills()[0].description == "AAPL 15 JAN 27 230 Call"
    assert sim_position(gateway, AAPL_CALL) == 7


def test_a_con_id_of_another_instrument_than_the_symbol_is_refused(orders, gateway):
    from ibkr_core.orders import OrderTicket

    issues = orders.validate(OrderTicket("AAPL", "BUY", 1, "LMT", limit_price=1.0, con_id=SAP_IBIS))
    assert [i.field for i in issues] == ["con_id"]
    assert "Contract 14204 is SAP · IBIS · EUR · Stock" in issues[0].message
    assert "not AAPL" in issues[0].message
    assert sim_orders(gateway) == []


def test_a_bond_order_is_valued_at_its_face_not_price_times_quantity(orders, gateway, connection):
    """The demo holds 10 UST 4.25% 2034 priced in % of par: 5 at 98.00 is 4,900 USD
    (IBKR's own marketValue / (position x price) gives the 10 per point), not 490."""
    from ibkr_core.orders import OrderTicket
    from ibkr_core.simulator.assets import UST_2034

    item = next(
        i for i in connection.run(lambda ib: ib.portfolio()) if i.contract.conId == UST_2034.con_id
    )
    per_point = item.marketValue / (item.position * item.marketPrice)
    ticket = OrderTicket("US-T", "BUY", 5, "LMT", limit_price=98.0, con_id=UST_2034.con_id)
    preview = orders.preview(ticket)
    assert preview.instrument.description == "UST 4.25% 2034"
    assert preview.order_value == pytest.approx(5 * 98.0 * per_point) == pytest.approx(4_900.0)
    assert preview.value_factor == pytest.approx(per_point)
    assert sim_orders(gateway) == []


@pytest.mark.parametrize("gateway_config", [SimConfig(tick_interval=3600.0, profile="advisor")])
def test_a_bond_no_account_in_the_window_holds_cannot_be_valued_and_is_refused(orders, gateway):
    """Advisor: TWS's account window is DU1234567's, which holds no bond. IBKR sends no
    face value per unit, so the value is unknown: refused with the reason, not guessed."""
    from ibkr_core.orders import OrderTicket
    from ibkr_core.simulator.assets import UST_2034

    ticket = OrderTicket(
        "US-T", "BUY", 5, "LMT", limit_price=98.0, con_id=UST_2034.con_id, account="DU1234567"
    )
    issues = orders.validate(ticket)
    assert [i.field for i in issues] == ["quantity"]
    assert "face value" in issues[0].message and "nothing was sent" in issues[0].message
    assert sim_orders(gateway) == []
