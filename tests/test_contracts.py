"""How instruments read (ibkr_core.contracts), from ib_async Contract objects filled as
TWS sends them: options with expiry, strike and right; futures by month; stocks listed
abroad with their exchange and currency. The lookups themselves are tested against the
simulator in test_order_instruments.py."""

from __future__ import annotations

import pytest
from ib_async import Contract

from ibkr_core.contracts import describe_contract, instrument_of


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        (
            dict(
                secType="OPT",
                symbol="AAPL",
                lastTradeDateOrContractMonth="20270115",
                strike=230.0,
                right="C",
                multiplier="100",
                currency="USD",
            ),
            "AAPL 15 JAN 27 230 Call",
        ),
        (
            dict(
                secType="OPT",
                symbol="AAPL",
                lastTradeDateOrContractMonth="20270115",
                strike=200.0,
                right="P",
                multiplier="100",
                currency="USD",
            ),
            "AAPL 15 JAN 27 200 Put",
        ),
        (dict(secType="FUT", symbol="ES", lastTradeDateOrContractMonth="20261218"), "ES DEC 26"),
        (dict(secType="FUT", symbol="CL", lastTradeDateOrContractMonth="202701"), "CL JAN 27"),
        (
            dict(
                secType="FOP",
                symbol="ES",
                lastTradeDateOrContractMonth="20261218",
                strike=7000.0,
                right="C",
            ),
            "ES 18 DEC 26 7000 Call",
        ),
        (
            dict(secType="STK", symbol="SAP", primaryExchange="IBIS", currency="EUR"),
            "SAP · IBIS · EUR",
        ),
        (
            dict(secType="STK", symbol="700", primaryExchange="SEHK", currency="HKD"),
            "700 · SEHK · HKD",
        ),
        (
            dict(secType="STK", symbol="AAPL", primaryExchange="NASDAQ", currency="USD"),
            "AAPL · NASDAQ · USD",
        ),
        (dict(secType="CRYPTO", symbol="BTC", localSymbol="BTC.USD", currency="USD"), "BTC · USD"),
    ],
)
def test_contracts_read_as_tws_names_them(fields, text):
    assert describe_contract(Contract(**fields)) == text


def test_two_es_options_read_apart():
    call = Contract(
        secType="FOP",
        symbol="ES",
        lastTradeDateOrContractMonth="20261218",
        strike=7000.0,
        right="C",
    )
    put = Contract(
        secType="FOP",
        symbol="ES",
        lastTradeDateOrContractMonth="20261218",
        strike=6500.0,
        right="P",
    )
    assert describe_contract(call) != describe_contract(put)


def test_an_instrument_label_says_what_where_currency_and_type_once():
    sap = instrument_of(
        Contract(
            conId=14204,
            secType="STK",
            symbol="SAP",
            exchange="SMART",
            primaryExchange="IBIS",
            currency="EUR",
        ),
        long_name="SAP SE",
    )
    assert sap.label == "SAP · IBIS · EUR · Stock — SAP SE"
    adr = instrument_of(
        Contract(
            conId=8957,
            secType="STK",
            symbol="SAP",
            exchange="SMART",
            primaryExchange="NYSE",
            currency="USD",
        ),
        long_name="SAP SE-SPONSORED ADR",
    )
    assert adr.label == "SAP · NYSE · USD · Stock — SAP SE-SPONSORED ADR"
    fut = instrument_of(
        Contract(
            conId=637533641,
            secType="FUT",
            symbol="ES",
            exchange="CME",
            lastTradeDateOrContractMonth="20261218",
            multiplier="50",
            currency="USD",
        )
    )
    assert (fut.label, fut.multiplier, fut.is_derivative) == (
        "ES DEC 26 · CME · USD · Future",
        50,
        True,
    )
