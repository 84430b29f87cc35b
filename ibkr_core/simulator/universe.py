"""The simulated gateway's tradable universe: US stocks, ETFs and EUR.USD.

Pure data plus the lookup TWS performs when a client names a contract. Contract ids are
the ones IBKR uses for these instruments, so logs and saved watchlists look familiar.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("US/Eastern")

STK_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AON,AVGCOST,BASKET,BENCHPX,CASHQTY,COND,CONDORDER,"
    "DARKONLY,DARKPOLL,DAY,DEACT,DEACTDIS,DEACTEOD,DIS,DUR,GAT,GTC,GTD,GTT,HID,IBKRATS,ICE,"
    "IMB,IOC,LIT,LMT,LOC,MIDPX,MIT,MKT,MOC,MTL,NGCOMB,NODARK,NONALGO,OCA,OPG,OPGREROUT,"
    "PEGBENCH,PEGMID,POSTATS,POSTONLY,PREOPGRTH,PRICECHK,REL,REL2MID,RELPCTOFS,RPI,RTH,"
    "SCALE,SCALEODD,SCALERST,SIZECHK,SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,SWEEP,TRAIL,"
    "TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)
CASH_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,CASHQTY,COND,CONDORDER,DAY,DEACT,"
    "DEACTDIS,DEACTEOD,GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,NONALGO,OCA,REL,RELPCTOFS,"
    "SCALE,SCALERST,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)
STK_VALID_EXCHANGES = (
    "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,BYX,IEX,EDGX,"
    "FOXRIVER,PEARL,NYSENAT,LTSE,MEMX,IBEOS,OVERNIGHT,TPLUS0,PSX"
)
# IB names NASDAQ's book "ISLAND" in executions and accepts it as an exchange alias.
EXCHANGE_ALIASES = {"ISLAND": "NASDAQ"}


@dataclass(frozen=True)
class Instrument:
    symbol: str
    sec_type: str  # "STK" or "CASH"
    con_id: int
    exchange: str  # "SMART", or "IDEALPRO" for FX
    primary_exchange: str  # "NASDAQ" / "NYSE" / "ARCA"; "" for FX
    currency: str
    local_symbol: str
    trading_class: str
    min_tick: float
    long_name: str
    industry: str
    category: str
    start_price: float
    daily_volatility: float  # standard deviation of one day's log return
    avg_daily_volume: int  # shares (base-currency units for FX)
    time_zone_id: str = "US/Eastern"
    trading_hours: str = ""
    liquid_hours: str = ""
    order_types: str = STK_ORDER_TYPES
    valid_exchanges: str = STK_VALID_EXCHANGES

    @property
    def is_fx(self) -> bool:
        return self.sec_type == "CASH"

    @property
    def key(self) -> str:
        """The symbol the simulator's market and account use for this instrument."""
        return self.local_symbol if self.is_fx else self.symbol


def _day(d: date) -> str:
    return d.strftime("%Y%m%d")


def session_hours(instrument: Instrument, now: float, days: int = 7) -> tuple[str, str]:
    """(tradingHours, liquidHours) in IBKR's format for the `days` calendar days from `now`.

    E.g. "20261130:0400-20261130:2000;20261201:0400-20261201:2000;20261205:CLOSED".
    Stocks trade 04:00-20:00 and are liquid 09:30-16:00 US/Eastern on weekdays; EUR.USD
    trades from Sunday 17:15 to Friday 17:00 with a daily break 17:00-17:15.
    """
    start = datetime.fromtimestamp(now, EASTERN).date()
    trading: list[str] = []
    liquid: list[str] = []
    for i in range(days):
        d = start + timedelta(days=i)
        wd = d.weekday()
        if instrument.is_fx:
            # Sessions are listed under the day they end: Sunday 17:15 opens Monday's.
            prev = _day(d - timedelta(days=1))
            if wd == 6:
                continue
            if wd == 5:
                trading.append(f"{_day(d)}:CLOSED")
                liquid.append(f"{_day(d)}:CLOSED")
            else:
                s = f"{prev}:1715-{_day(d)}:1700"
                trading.append(s)
                liquid.append(s)
        elif wd >= 5:
            trading.append(f"{_day(d)}:CLOSED")
            liquid.append(f"{_day(d)}:CLOSED")
        else:
            trading.append(f"{_day(d)}:0400-{_day(d)}:2000")
            liquid.append(f"{_day(d)}:0930-{_day(d)}:1600")
    return ";".join(trading), ";".join(liquid)


def with_hours(instrument: Instrument, now: float) -> Instrument:
    """A copy of `instrument` whose trading/liquid hours cover the week from `now`."""
    trading, liquid = session_hours(instrument, now)
    return replace(instrument, trading_hours=trading, liquid_hours=liquid)


def _stk(
    symbol: str,
    con_id: int,
    primary: str,
    long_name: str,
    industry: str,
    category: str,
    price: float,
    vol: float,
    adv: int,
) -> Instrument:
    return Instrument(
        symbol=symbol,
        sec_type="STK",
        con_id=con_id,
        exchange="SMART",
        primary_exchange=primary,
        currency="USD",
        local_symbol=symbol,
        trading_class="NMS" if primary == "NASDAQ" else symbol,
        min_tick=0.01,
        long_name=long_name,
        industry=industry,
        category=category,
        start_price=price,
        daily_volatility=vol,
        avg_daily_volume=adv,
    )


_STOCKS = (
    _stk(
        "AAPL", 265598, "NASDAQ", "APPLE INC", "Technology", "Computers", 228.50, 0.016, 55_000_000
    ),
    _stk(
        "MSFT",
        272093,
        "NASDAQ",
        "MICROSOFT CORP",
        "Technology",
        "Software",
        421.30,
        0.014,
        21_000_000,
    ),
    _stk(
        "NVDA",
        4815747,
        "NASDAQ",
        "NVIDIA CORP",
        "Technology",
        "Semiconductors",
        131.40,
        0.030,
        250_000_000,
    ),
    _stk(
        "AMZN",
        3691937,
        "NASDAQ",
        "AMAZON.COM INC",
        "Communications",
        "Internet",
        198.60,
        0.019,
        40_000_000,
    ),
    _stk(
        "GOOGL",
        208813719,
        "NASDAQ",
        "ALPHABET INC-CL A",
        "Communications",
        "Internet",
        171.20,
        0.018,
        26_000_000,
    ),
    _stk(
        "META",
        107113386,
        "NASDAQ",
        "META PLATFORMS INC-CLASS A",
        "Communications",
        "Internet",
        565.80,
        0.022,
        13_000_000,
    ),
    _stk(
        "TSLA",
        76792991,
        "NASDAQ",
        "TESLA INC",
        "Consumer, Cyclical",
        "Auto Manufacturers",
        251.40,
        0.035,
        90_000_000,
    ),
    _stk(
        "JPM",
        1520593,
        "NYSE",
        "JPMORGAN CHASE & CO",
        "Financial",
        "Banks",
        221.90,
        0.013,
        9_000_000,
    ),
    _stk(
        "V",
        49462172,
        "NYSE",
        "VISA INC-CLASS A SHARES",
        "Financial",
        "Diversified Finan Serv",
        289.70,
        0.011,
        6_500_000,
    ),
    _stk(
        "JNJ",
        8719,
        "NYSE",
        "JOHNSON & JOHNSON",
        "Consumer, Non-cyclical",
        "Pharmaceuticals",
        155.30,
        0.010,
        7_000_000,
    ),
    _stk("XOM", 13977, "NYSE", "EXXON MOBIL CORP", "Energy", "Oil&Gas", 116.20, 0.014, 15_000_000),
    _stk(
        "WMT",
        13824,
        "NYSE",
        "WALMART INC",
        "Consumer, Non-cyclical",
        "Retail",
        84.90,
        0.011,
        15_000_000,
    ),
    _stk(
        "PG",
        13700,
        "NYSE",
        "PROCTER & GAMBLE CO/THE",
        "Consumer, Non-cyclical",
        "Cosmetics/Personal Care",
        169.80,
        0.009,
        6_500_000,
    ),
    _stk(
        "KO",
        8894,
        "NYSE",
        "COCA-COLA CO/THE",
        "Consumer, Non-cyclical",
        "Beverages",
        68.40,
        0.009,
        13_000_000,
    ),
    _stk(
        "DIS",
        6459,
        "NYSE",
        "WALT DISNEY CO/THE",
        "Communications",
        "Media",
        95.60,
        0.016,
        9_000_000,
    ),
    _stk(
        "NFLX",
        15124833,
        "NASDAQ",
        "NETFLIX INC",
        "Communications",
        "Internet",
        702.10,
        0.024,
        3_500_000,
    ),
    _stk(
        "AMD",
        4391,
        "NASDAQ",
        "ADVANCED MICRO DEVICES",
        "Technology",
        "Semiconductors",
        152.30,
        0.029,
        40_000_000,
    ),
    _stk(
        "INTC",
        270639,
        "NASDAQ",
        "INTEL CORP",
        "Technology",
        "Semiconductors",
        22.45,
        0.028,
        60_000_000,
    ),
    _stk(
        "BAC", 10098, "NYSE", "BANK OF AMERICA CORP", "Financial", "Banks", 41.80, 0.015, 38_000_000
    ),
    _stk(
        "HD",
        7710,
        "NYSE",
        "HOME DEPOT INC",
        "Consumer, Cyclical",
        "Retail",
        402.60,
        0.013,
        3_500_000,
    ),
    _stk(
        "UNH",
        7719,
        "NYSE",
        "UNITEDHEALTH GROUP INC",
        "Consumer, Non-cyclical",
        "Healthcare-Services",
        512.40,
        0.017,
        4_000_000,
    ),
    _stk(
        "SPY",
        756733,
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        "Funds",
        "Equity Fund",
        571.20,
        0.009,
        45_000_000,
    ),
    _stk(
        "QQQ",
        320227571,
        "NASDAQ",
        "INVESCO QQQ TRUST SERIES 1",
        "Funds",
        "Equity Fund",
        489.70,
        0.012,
        35_000_000,
    ),
    _stk(
        "IWM",
        9579970,
        "ARCA",
        "ISHARES RUSSELL 2000 ETF",
        "Funds",
        "Equity Fund",
        221.30,
        0.013,
        28_000_000,
    ),
    _stk(
        "TLT",
        15547841,
        "NASDAQ",
        "ISHARES 20+ YEAR TREASURY BD",
        "Funds",
        "Debt Fund",
        94.80,
        0.009,
        30_000_000,
    ),
    _stk(
        "GLD",
        51529211,
        "ARCA",
        "SPDR GOLD SHARES",
        "Funds",
        "Commodity Fund",
        241.50,
        0.010,
        7_000_000,
    ),
)

EURUSD = Instrument(
    symbol="EUR",
    sec_type="CASH",
    con_id=12087792,
    exchange="IDEALPRO",
    primary_exchange="",
    currency="USD",
    local_symbol="EUR.USD",
    trading_class="EUR.USD",
    min_tick=0.00005,
    long_name="European Monetary Union Euro",
    industry="",
    category="",
    start_price=1.08500,
    daily_volatility=0.005,
    avg_daily_volume=2_000_000_000,
    order_types=CASH_ORDER_TYPES,
    valid_exchanges="IDEALPRO",
)

# Hours are generated for the week the process starts in; `with_hours(inst, now)` gives a
# deterministic copy for any other instant.
_IMPORT_TIME = datetime.now(EASTERN).timestamp()
UNIVERSE: tuple[Instrument, ...] = tuple(
    with_hours(inst, _IMPORT_TIME) for inst in (*_STOCKS, EURUSD)
)

_BY_CON_ID = {inst.con_id: inst for inst in UNIVERSE}
_BY_KEY = {inst.key: inst for inst in UNIVERSE}


def _exchange_ok(inst: Instrument, exchange: str) -> bool:
    if not exchange:
        return True
    exchange = EXCHANGE_ALIASES.get(exchange.upper(), exchange.upper())
    if inst.is_fx:
        return exchange == "IDEALPRO"
    return exchange in ("SMART", inst.primary_exchange) or exchange in inst.valid_exchanges.split(
        ","
    )


def find_instrument(
    symbol: str = "",
    sec_type: str = "",
    currency: str = "",
    exchange: str = "",
    con_id: int = 0,
    local_symbol: str = "",
) -> Instrument | None:
    """Resolve a contract request the way TWS does.

    A known conId alone suffices (other fields, when given, must agree). Otherwise the
    symbol (or localSymbol, e.g. "EUR.USD") and secType select the instrument; an empty
    secType is accepted for convenience. Currency and exchange, if given, must match;
    the exchange may be SMART, the primary exchange or any valid exchange (ISLAND is
    NASDAQ's alias), IDEALPRO for FX.
    """
    sec_type = (sec_type or "").upper()
    symbol = (symbol or "").upper()
    local_symbol = (local_symbol or "").upper()
    currency = (currency or "").upper()
    if con_id:
        inst = _BY_CON_ID.get(int(con_id))
        if inst is None:
            return None
        candidates = [inst]
    else:
        candidates = []
        for name in (symbol, local_symbol):
            if not name:
                continue
            if name in _BY_KEY:
                candidates.append(_BY_KEY[name])
            candidates.extend(i for i in UNIVERSE if i.symbol == name and i not in candidates)
        if not candidates:
            return None
    for inst in candidates:
        if symbol and symbol not in (inst.symbol, inst.local_symbol):
            continue
        if local_symbol and local_symbol != inst.local_symbol:
            continue
        if sec_type and sec_type != inst.sec_type:
            continue
        if currency and currency != inst.currency:
            continue
        if not _exchange_ok(inst, exchange):
            continue
        return inst
    return None


def instrument_by_key(key: str) -> Instrument:
    """The instrument whose `key` (symbol; "EUR.USD" for FX) is `key`; KeyError otherwise."""
    return _BY_KEY[key]
