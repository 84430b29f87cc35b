"""Instruments beyond US stocks, for the multi-asset profiles: equity options, a CME future
and an option on it, foreign stocks, more FX pairs, a US Treasury note and crypto.

Field values follow what TWS reports for such contracts (IBKR's contract docs and
ib_async's Contract/ContractDetails): OCC-style option local symbols ("AAPL  270115C00230000",
root padded to six characters), futures local symbols "ESZ6", CME options "ESZ6 C7000",
bonds priced in percent of par. Where IBKR's exact contract id is not known the id is a
made-up one in IBKR's ranges (marked "made up").
"""

from __future__ import annotations

from .universe import (
    _IMPORT_TIME,
    CASH_ORDER_TYPES,
    EURUSD,
    UNIVERSE,
    Instrument,
    _stk,
    with_hours,
)

FUT_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,BENCHPX,COND,CONDORDER,DAY,DEACT,"
    "DEACTDIS,DEACTEOD,GAT,GTC,GTD,GTT,HID,ICE,IOC,LIT,LMT,LTH,MIT,MKT,MTL,NGCOMB,NONALGO,"
    "OCA,PEGBENCH,SCALE,SCALERST,SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,"
    "TRAILLMT,TRAILMIT,WHATIF"
)
OPT_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,DEACTDIS,"
    "DEACTEOD,DIS,GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,OPENCLOSE,"
    "PEGMIDVOL,PEGMKTVOL,PEGPRMVOL,PEGSRFVOL,POSTONLY,PRICECHK,REL,RELPCTOFS,RELSTK,SCALE,"
    "SCALERST,SIZECHK,SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,"
    "VOLAT,WHATIF"
)
OPT_EXCHANGES = (
    "SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM,CBOE2,NASDAQBX,MIAX,GEMINI,EDGX,"
    "MERCURY,PEARL,EMERALD,MEMX,IBUSOPT"
)

AAPL_CALL = Instrument(
    symbol="AAPL",
    sec_type="OPT",
    con_id=752312901,  # made up
    exchange="SMART",
    primary_exchange="",
    currency="USD",
    local_symbol="AAPL  270115C00230000",
    trading_class="AAPL",
    min_tick=0.01,
    long_name="APPLE INC",
    industry="Technology",
    category="Computers",
    start_price=20.0,
    daily_volatility=0.045,
    avg_daily_volume=12_000,
    order_types=OPT_ORDER_TYPES,
    valid_exchanges=OPT_EXCHANGES,
    multiplier="100",
    last_trade_date="20270115",
    strike=230.0,
    right="C",
    contract_month="202701",
    under_con_id=265598,
    under_symbol="AAPL",
    under_sec_type="STK",
    under_key="AAPL",
    implied_vol=0.27,
    real_expiration_date="20270115",
    market_rule_ids="32,109,109,109,109,109,109,109,32,109,32,109,109,109,109,109,109,109,109",
    size_increment="1",
)
AAPL_PUT = Instrument(
    **{
        **AAPL_CALL.__dict__,
        "con_id": 752313188,  # made up
        "local_symbol": "AAPL  270115P00200000",
        "strike": 200.0,
        "right": "P",
        "implied_vol": 0.30,
        "start_price": 6.0,
    }
)
ES_FUT = Instrument(
    symbol="ES",
    sec_type="FUT",
    con_id=637533641,  # made up
    exchange="CME",
    primary_exchange="",
    currency="USD",
    local_symbol="ESZ6",
    trading_class="ES",
    min_tick=0.25,
    long_name="E-mini S&P 500",
    industry="",
    category="",
    start_price=6850.0,
    daily_volatility=0.011,
    avg_daily_volume=1_500_000,
    time_zone_id="US/Central",
    order_types=FUT_ORDER_TYPES,
    valid_exchanges="CME,QBALGO",
    multiplier="50",
    last_trade_date="20261218",
    contract_month="202612",
    under_con_id=11004968,  # ES index (IBKR's id)
    under_symbol="ES",
    under_sec_type="IND",
    real_expiration_date="20261218",
    market_rule_ids="67",
    size_increment="1",
)
ES_CALL = Instrument(
    symbol="ES",
    sec_type="FOP",
    con_id=684512077,  # made up
    exchange="CME",
    primary_exchange="",
    currency="USD",
    local_symbol="ESZ6 C7000",
    trading_class="ES",
    min_tick=0.25,
    long_name="E-mini S&P 500",
    industry="",
    category="",
    start_price=40.0,
    daily_volatility=0.06,
    avg_daily_volume=3_000,
    time_zone_id="US/Central",
    order_types=FUT_ORDER_TYPES,
    valid_exchanges="CME",
    multiplier="50",
    last_trade_date="20261218",
    strike=7000.0,
    right="C",
    contract_month="202612",
    under_con_id=ES_FUT.con_id,
    under_symbol="ES",
    under_sec_type="FUT",
    under_key="ESZ6",
    implied_vol=0.15,
    real_expiration_date="20261218",
    market_rule_ids="365",
    size_increment="1",
)
SAP_IBIS = Instrument(
    symbol="SAP",
    sec_type="STK",
    con_id=14204,  # IBKR's SAP on IBIS
    exchange="SMART",
    primary_exchange="IBIS",
    currency="EUR",
    local_symbol="SAP",
    trading_class="XETRA",
    min_tick=0.01,
    long_name="SAP SE",
    industry="Technology",
    category="Software",
    start_price=232.0,
    daily_volatility=0.016,
    avg_daily_volume=1_800_000,
    time_zone_id="MET",
    valid_exchanges="SMART,IBIS,TGATE,SWB,FWB,GETTEX,BVME.ETF,EBS",
    market_rule_ids="5",
)
SAP_ADR = _stk(
    "SAP", 8957, "NYSE", "SAP SE-SPONSORED ADR", "Technology", "Software", 246.0, 0.016, 1_200_000
)
TENCENT = Instrument(
    symbol="700",
    sec_type="STK",
    con_id=89621428,  # made up
    exchange="SMART",
    primary_exchange="SEHK",
    currency="HKD",
    local_symbol="700",
    trading_class="700",
    min_tick=0.2,
    long_name="TENCENT HOLDINGS LTD",
    industry="Communications",
    category="Internet",
    start_price=482.0,
    daily_volatility=0.02,
    avg_daily_volume=18_000_000,
    time_zone_id="Hongkong",
    valid_exchanges="SMART,SEHK",
    market_rule_ids="2102",
)
EVERSOURCE = _stk(
    "ES", 9604, "NYSE", "EVERSOURCE ENERGY", "Utilities", "Electric", 64.2, 0.012, 2_000_000
)
USDJPY = Instrument(
    **{
        **EURUSD.__dict__,
        "symbol": "USD",
        "con_id": 15016059,
        "currency": "JPY",
        "local_symbol": "USD.JPY",
        "trading_class": "USD.JPY",
        "min_tick": 0.005,
        "long_name": "US Dollar",
        "start_price": 150.20,
        "daily_volatility": 0.006,
    }
)
USDHKD = Instrument(
    **{
        **EURUSD.__dict__,
        "symbol": "USD",
        "con_id": 15016062,  # made up
        "currency": "HKD",
        "local_symbol": "USD.HKD",
        "trading_class": "USD.HKD",
        "min_tick": 0.00005,
        "long_name": "US Dollar",
        "start_price": 7.7850,
        "daily_volatility": 0.0005,
    }
)
UST_2034 = Instrument(
    symbol="US-T",
    sec_type="BOND",
    con_id=717934455,  # made up
    exchange="SMART",
    primary_exchange="",
    currency="USD",
    local_symbol="91282CLW9",  # CUSIP-style local symbol (made up)
    trading_class="GOVT",
    min_tick=0.001,
    long_name="United States Treasury",
    industry="Government",
    category="Sovereign",
    start_price=98.50,
    daily_volatility=0.003,
    avg_daily_volume=5_000,
    order_types="ALERT,AON,DAY,GTC,GTD,IOC,LMT,MKT,WHATIF",
    valid_exchanges="SMART",
    last_trade_date="20341115",  # maturity
    cusip="91282CLW9",
    coupon=4.25,
    issue_date="20241115",
    bond_type="GOVT",
    coupon_type="FIXED",
    desc_append="T 4 1/4 11/15/34",
    face_value=1000.0,
    market_rule_ids="1063",
    size_increment="1",
)
BTC = Instrument(
    symbol="BTC",
    sec_type="CRYPTO",
    con_id=479624278,  # IBKR's BTC on PAXOS
    exchange="PAXOS",
    primary_exchange="",
    currency="USD",
    local_symbol="BTC.USD",
    trading_class="BTC",
    min_tick=0.25,
    long_name="Bitcoin",
    industry="",
    category="",
    start_price=92_000.0,
    daily_volatility=0.03,
    avg_daily_volume=5_000,
    order_types="DAY,IOC,LMT,MKT,WHATIF,CASHQTY",
    valid_exchanges="PAXOS",
    market_rule_ids="3383",
    size_increment="0.00000001",
)

EXTRA: tuple[Instrument, ...] = (
    SAP_IBIS,
    SAP_ADR,
    TENCENT,
    EVERSOURCE,
    USDJPY,
    USDHKD,
    UST_2034,
    BTC,
    ES_FUT,
    AAPL_CALL,
    AAPL_PUT,
    ES_CALL,
)

# Every instrument of the multi-asset profiles, underlyings before their options.
MULTI_ASSET: tuple[Instrument, ...] = UNIVERSE + tuple(
    with_hours(inst, _IMPORT_TIME) for inst in EXTRA
)

__all__ = [
    "AAPL_CALL",
    "AAPL_PUT",
    "BTC",
    "CASH_ORDER_TYPES",
    "ES_CALL",
    "ES_FUT",
    "EVERSOURCE",
    "MULTI_ASSET",
    "SAP_ADR",
    "SAP_IBIS",
    "TENCENT",
    "USDHKD",
    "USDJPY",
    "UST_2034",
]
