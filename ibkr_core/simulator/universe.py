"""The simulated gateway's tradable universe: US stocks, ETFs and EUR.USD (the `stocks`
profile), and the `Universe` lookup every profile uses (assets.py adds options, futures,
foreign stocks, bonds, crypto and more FX pairs for the other profiles).

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
    # Derivatives (OPT, FUT, FOP): as IBKR's Contract / ContractDetails carry them.
    multiplier: str = ""
    last_trade_date: str = ""  # lastTradeDateOrContractMonth, YYYYMMDD
    strike: float = 0.0
    right: str = ""  # "C" / "P"
    contract_month: str = ""  # YYYYMM
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    under_key: str = ""  # the simulator's key of the underlying (prices options)
    implied_vol: float = 0.0  # annual volatility the option model prices with
    real_expiration_date: str = ""
    market_rule_ids: str = ""  # "" = by secType (26 stocks, 239 FX)
    stock_type: str = ""  # "" = COMMON for stocks
    agg_group: int = 1
    price_magnifier: int = 1
    size_increment: str = ""  # minSize / sizeIncrement; "" = by secType
    # Bonds (BOND_CONTRACT_DATA fields).
    cusip: str = ""
    coupon: float = 0.0
    issue_date: str = ""
    bond_type: str = ""
    coupon_type: str = ""
    desc_append: str = ""
    face_value: float = 0.0  # per bond; prices are % of par

    @property
    def is_fx(self) -> bool:
        return self.sec_type == "CASH"

    @property
    def is_derivative(self) -> bool:
        return self.sec_type in ("OPT", "FOP")

    @property
    def value_factor(self) -> float:
        """Currency units per unit of price and quantity: the multiplier (options,
        futures), face/100 for bonds priced in % of par, else 1."""
        if self.sec_type == "BOND":
            return (self.face_value or 1000.0) / 100.0
        return float(self.multiplier) if self.multiplier else 1.0

    @property
    def key(self) -> str:
        """The name the simulator's market and account use for this instrument: the
        symbol of a US stock ("AAPL"), symbol@exchange of another stock ("SAP@IBIS"),
        else the local symbol ("EUR.USD", "ESZ6", "AAPL  270115C00230000")."""
        if self.sec_type == "STK":
            if self.currency == "USD":
                return self.symbol
            return f"{self.symbol}@{self.primary_exchange}"
        return self.local_symbol


def _day(d: date) -> str:
    return d.strftime("%Y%m%d")


def session_hours(instrument: Instrument, now: float, days: int = 7) -> tuple[str, str]:
    """(tradingHours, liquidHours) in IBKR's format for the `days` calendar days from `now`,
    in the instrument's own time zone.

    E.g. "20261130:0400-20261130:2000;20261201:0400-20261201:2000;20261205:CLOSED".
    US stocks trade 04:00-20:00 and are liquid 09:30-16:00 US/Eastern on weekdays; FX
    trades from Sunday 17:15 to Friday 17:00 US/Eastern with a daily break 17:00-17:15;
    CME futures trade 17:00 (previous day) to 16:00 US/Central; SEHK has a lunch break;
    crypto on PAXOS trades around the clock.
    """
    start = datetime.fromtimestamp(now, ZoneInfo(_tz_name(instrument))).date()
    trading: list[str] = []
    liquid: list[str] = []
    for i in range(days):
        d = start + timedelta(days=i)
        t, lq = _day_hours(instrument, d)
        if t is None:
            continue
        trading.append(t)
        liquid.append(lq)
    return ";".join(trading), ";".join(liquid)


def _tz_name(instrument: Instrument) -> str:
    # IBKR's own names: "MET" for Xetra, "Hongkong" for SEHK; ZoneInfo knows both.
    return instrument.time_zone_id or "US/Eastern"


def _day_hours(inst: Instrument, d: date) -> tuple[str | None, str]:
    wd = d.weekday()
    day, prev, nxt = _day(d), _day(d - timedelta(days=1)), _day(d + timedelta(days=1))
    closed = f"{day}:CLOSED"
    if inst.sec_type == "CRYPTO":
        s = f"{day}:0000-{nxt}:0000"
        return s, s
    if inst.is_fx:
        # Sessions are listed under the day they end: Sunday 17:15 opens Monday's.
        if wd == 6:
            return None, ""
        if wd == 5:
            return closed, closed
        s = f"{prev}:1715-{day}:1700"
        return s, s
    if wd >= 5:
        return closed, closed
    if inst.sec_type in ("FUT", "FOP"):
        return f"{prev}:1700-{day}:1600", f"{day}:0830-{day}:1515"
    if inst.primary_exchange == "SEHK" or inst.exchange == "SEHK":
        s = f"{day}:0930-{day}:1200;{day}:1300-{day}:1600"
        return s, s
    if inst.primary_exchange == "IBIS":
        return f"{day}:0800-{day}:2200", f"{day}:0900-{day}:1730"
    if inst.sec_type == "BOND":
        return f"{prev}:2000-{day}:1700", f"{day}:0800-{day}:1700"
    if inst.sec_type == "OPT":
        return f"{day}:0930-{day}:1600", f"{day}:0930-{day}:1600"
    return f"{day}:0400-{day}:2000", f"{day}:0930-{day}:1600"


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


def _norm(text: str) -> str:
    return " ".join((text or "").upper().split())


_RIGHTS = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}


class Universe:
    """The instruments one simulated gateway knows, and TWS's contract lookup over them."""

    def __init__(self, instruments: tuple[Instrument, ...]) -> None:
        self.instruments = tuple(instruments)
        self._by_con_id = {inst.con_id: inst for inst in self.instruments}
        self._by_key = {inst.key.upper(): inst for inst in self.instruments}

    def __iter__(self):
        return iter(self.instruments)

    def add(self, *instruments: Instrument) -> None:
        """More instruments (the benchmarks' synthetic stocks, for 100 distinct lines)."""
        self.instruments = (*self.instruments, *instruments)
        for inst in instruments:
            self._by_con_id[inst.con_id] = inst
            self._by_key[inst.key.upper()] = inst

    def __len__(self) -> int:
        return len(self.instruments)

    def by_key(self, key: str) -> Instrument:
        """The instrument whose `key` is `key` (case-insensitive); KeyError otherwise."""
        return self._by_key[key.upper()]

    def find_all(
        self,
        symbol: str = "",
        sec_type: str = "",
        currency: str = "",
        exchange: str = "",
        con_id: int = 0,
        local_symbol: str = "",
        last_trade_date: str = "",
        strike: float = 0.0,
        right: str = "",
        multiplier: str = "",
        trading_class: str = "",
        primary_exchange: str = "",
    ) -> list[Instrument]:
        """Every instrument a contract request matches, as TWS's contract details do.

        A known conId alone suffices (other fields, when given, must agree). Otherwise the
        symbol (or localSymbol, e.g. "EUR.USD", "ESZ6") selects; an empty secType matches
        every type (so "SAP" finds the IBIS share in EUR and the NYSE ADR in USD, "ES" the
        future, its options and any stock). Currency, exchange, expiry (a YYYYMM month
        matches every day of it), strike, right, multiplier and trading class narrow it.
        """
        sec_type = (sec_type or "").upper()
        symbol = _norm(symbol)
        local_symbol = _norm(local_symbol)
        currency = (currency or "").upper()
        right = _RIGHTS.get((right or "").upper(), (right or "").upper())
        if right == "?":
            right = ""
        if con_id:
            inst = self._by_con_id.get(int(con_id))
            candidates = [inst] if inst is not None else []
        elif symbol or local_symbol:
            candidates = list(self.instruments)
        else:
            return []
        out = []
        for inst in candidates:
            names = (inst.symbol.upper(), _norm(inst.local_symbol), inst.key.upper())
            if symbol and symbol not in names:
                continue
            if local_symbol and local_symbol != _norm(inst.local_symbol):
                continue
            if sec_type and sec_type != inst.sec_type:
                continue
            if currency and currency != inst.currency:
                continue
            if not _exchange_ok(inst, exchange):
                continue
            if primary_exchange and not _exchange_ok(inst, primary_exchange):
                continue
            if last_trade_date and not inst.last_trade_date.startswith(last_trade_date[:8]):
                continue
            if strike and abs(strike - inst.strike) > 1e-9:
                continue
            if right and right != inst.right:
                continue
            if multiplier and inst.multiplier and float(multiplier) != float(inst.multiplier):
                continue
            if trading_class and trading_class.upper() != inst.trading_class.upper():
                continue
            out.append(inst)
        return out

    def find(self, *args, **kwargs) -> Instrument | None:
        """The first match of `find_all` (the key match first), or None."""
        found = self.find_all(*args, **kwargs)
        if not found:
            return None
        wanted = _norm(kwargs.get("symbol", args[0] if args else "")) or _norm(
            kwargs.get("local_symbol", "")
        )
        for inst in found:
            if inst.key.upper() == wanted:
                return inst
        return found[0]

    def search(self, pattern: str, limit: int = 16) -> list[Instrument]:
        """reqMatchingSymbols: symbols starting with `pattern`, then names containing it
        (derivatives are listed under their underlying, as TWS does)."""
        pattern = pattern.upper()
        listed = [i for i in self.instruments if i.sec_type not in ("OPT", "FOP", "FUT")]
        starts = [i for i in listed if i.symbol.upper().startswith(pattern)]
        named = [i for i in listed if pattern in i.long_name.upper() and i not in starts]
        return (starts + named)[:limit]


def _exchange_ok(inst: Instrument, exchange: str) -> bool:
    if not exchange:
        return True
    exchange = EXCHANGE_ALIASES.get(exchange.upper(), exchange.upper())
    if inst.is_fx:
        return exchange == "IDEALPRO"
    if exchange in (inst.exchange, inst.primary_exchange):
        return True
    return exchange in inst.valid_exchanges.split(",")


STOCKS_UNIVERSE = Universe(UNIVERSE)


def find_instrument(
    symbol: str = "",
    sec_type: str = "",
    currency: str = "",
    exchange: str = "",
    con_id: int = 0,
    local_symbol: str = "",
) -> Instrument | None:
    """Resolve a contract request in the `stocks` universe the way TWS does (first match)."""
    return STOCKS_UNIVERSE.find(
        symbol=symbol,
        sec_type=sec_type,
        currency=currency,
        exchange=exchange,
        con_id=con_id,
        local_symbol=local_symbol,
    )
