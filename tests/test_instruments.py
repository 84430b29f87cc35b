"""Instrument descriptions as traders read them, from contracts as TWS sends them."""

from __future__ import annotations

from ib_async import Contract, ContractDetails

from ibkr_core.instruments import describe, instrument
from tests import tws_accounts as tws


def test_descriptions_read_like_tws():
    assert describe(tws.AAPL_CALL) == "AAPL 17 JAN 25 200 Call"
    assert describe(tws.ES) == "ES DEC 25"
    assert describe(tws.SAP) == "SAP · IBIS · EUR"
    assert describe(tws.UST) == "UST 4.25% 2034"
    assert describe(tws.EURUSD) == "EUR.USD"
    assert describe(tws.TENCENT) == "700 · SEHK · HKD"
    assert describe(tws.BTC) == "BTC · PAXOS · USD"


def test_two_es_options_are_told_apart():
    common = dict(symbol="ES", secType="FOP", multiplier="50", currency="USD")
    call = Contract(conId=1, lastTradeDateOrContractMonth="20251219", strike=6000.0,
                    right="C", **common)  # fmt: skip
    put = Contract(conId=2, lastTradeDateOrContractMonth="20251219", strike=5887.5,
                   right="P", **common)  # fmt: skip
    assert describe(call) == "ES 19 DEC 25 6000 Call"
    assert describe(put) == "ES 19 DEC 25 5887.5 Put"


def test_instrument_fields_and_asset_class():
    inst = instrument(tws.AAPL_CALL)
    assert inst.asset_class == "Options" and inst.multiplier == 100.0
    assert inst.local_symbol == "AAPL  250117C00200000" and inst.currency == "USD"
    assert instrument(tws.SAP).exchange == "IBIS"
    assert instrument(tws.ES).asset_class == "Futures"
    assert instrument(tws.UST).asset_class == "Bonds"
    assert instrument(tws.EURUSD).asset_class == "FX"
    assert instrument(tws.SAP).multiplier is None  # TWS sends "" for stocks


def test_bond_description_prefers_contract_details():
    corp = Contract(conId=9, symbol="IBM", secType="BOND", currency="USD", localSymbol="")
    details = ContractDetails(contract=corp, coupon=7.0, maturity="20251030",
                              descAppend="IBM 7 10/30/25")  # fmt: skip
    assert describe(corp, details) == "IBM 7% 2025"
    bare = Contract(conId=10, symbol="XYZ", secType="BOND", lastTradeDateOrContractMonth="20300101")
    assert describe(bare) == "XYZ 2030"  # no coupon known: not invented
    cusip = Contract(conId=11, symbol="US-T", secType="BOND", localSymbol="91282CLW9",
                     lastTradeDateOrContractMonth="20341115")  # fmt: skip
    assert describe(cusip) == "UST 2034 · 91282CLW9"
    details = ContractDetails(contract=cusip, coupon=4.25, maturity="20341115",
                              descAppend="T 4 1/4 11/15/34")  # fmt: skip
    assert describe(cusip, details) == "UST 4.25% 2034"


def test_listing_exchange_from_details_when_the_position_has_only_smart():
    position_contract = Contract(conId=14204, symbol="SAP", secType="STK", currency="EUR",
                                 exchange="SMART")  # fmt: skip
    assert describe(position_contract) == "SAP · SMART · EUR"
    listed = Contract(conId=14204, symbol="SAP", secType="STK", currency="EUR",
                      exchange="SMART", primaryExchange="IBIS")  # fmt: skip
    details = ContractDetails(contract=listed)
    assert describe(position_contract, details) == "SAP · IBIS · EUR"
    assert instrument(position_contract, details).exchange == "IBIS"
