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
    def es_option(strike: float, right: str) -> Contract:
        return Contract(
            secType="FOP",
            symbol="ES",
            lastTradeDateOrContractMonth="20261218",
            strike=strike,
            right=right,
        )

    assert describe_contract(es_option(7000.0, "C")) != describe_contract(es_option(6500.0, "P"))


@pytest.mark.parametrize(
    ("fields", "long_name", "expected"),
    [
        (
            dict(conId=14204, secType="STK", symbol="SAP", primaryExchange="IBIS", currency="EUR"),
            "SAP SE",
            {"label": "SAP · IBIS · EUR · Stock — SAP SE"},
        ),
        (
            dict(conId=8957, secType="STK", symbol="SAP", primaryExchange="NYSE", currency="USD"),
            "SAP SE-SPONSORED ADR",
            {"label": "SAP · NYSE · USD · Stock — SAP SE-SPONSORED ADR"},
        ),
        (
            dict(
                conId=637533641,
                secType="FUT",
                symbol="ES",
                exchange="CME",
                lastTradeDateOrContractMonth="20261218",
                multiplier="50",
                currency="USD",
            ),
            "",
            {"label": "ES DEC 26 · CME · USD · Future", "multiplier": 50, "is_derivative": True},
        ),
    ],
)
def test_an_instrument_label_says_what_where_currency_and_type_once(fields, long_name, expected):
    contract = Contract(**{"exchange": "SMART", **fields})  # the stocks are routed SMART
    instrument = instrument_of(contract, long_name=long_name)  # "": none given (its default)
    assert {name: getattr(instrument, name) for name in expected} == expected
