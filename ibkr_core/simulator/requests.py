"""Decoding the requests a TWS API client sends, field by field, as `ib_async` and
`ibapi` encode them (ib_async/client.py; ibapi/client.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import protocol as pv
from .universe import Instrument, find_instrument
from .wire import UNSET_DOUBLE, UNSET_INTEGER, ProtocolError


class NotSimulated(ProtocolError):
    """A well-formed request for something this simulator does not do (combos, ...)."""


@dataclass
class ContractSpec:
    """The twelve contract fields every request carries."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    def instrument(self) -> Instrument | None:
        """The simulated instrument this contract names, resolved as TWS would."""
        return find_instrument(
            symbol=self.symbol,
            sec_type=self.sec_type,
            currency=self.currency,
            exchange=self.exchange,
            con_id=self.con_id,
            local_symbol=self.local_symbol,
        )

    def describe(self) -> str:
        return self.local_symbol or self.symbol or str(self.con_id)


class FieldReader:
    """A cursor over one message's fields."""

    def __init__(self, fields: list[str]) -> None:
        self._fields = fields
        self._pos = 0

    def str(self) -> str:
        if self._pos >= len(self._fields):
            raise ProtocolError("message ended early")
        value = self._fields[self._pos]
        self._pos += 1
        return value

    def int(self, default: int = 0) -> int:
        value = self.str()
        return int(value) if value else default

    def float(self, default: float = 0.0) -> float:
        value = self.str()
        if not value:
            return default
        return float("inf") if value == "Infinite" else float(value)

    def bool(self) -> bool:
        value = self.str()
        return bool(int(value)) if value else False

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.str()

    def remaining(self) -> int:
        return len(self._fields) - self._pos

    def contract(self, with_primary_exchange: bool = True) -> ContractSpec:
        c = ContractSpec(
            con_id=self.int(),
            symbol=self.str(),
            sec_type=self.str(),
            last_trade_date=self.str(),
            strike=self.float(),
            right=self.str(),
            multiplier=self.str(),
            exchange=self.str(),
        )
        if with_primary_exchange:
            c.primary_exchange = self.str()
        c.currency = self.str()
        c.local_symbol = self.str()
        c.trading_class = self.str()
        return c


@dataclass
class MarketDataRequest:
    req_id: int
    contract: ContractSpec
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool


def parse_mkt_data(r: FieldReader, server_version: int) -> MarketDataRequest:
    r.skip()  # version
    req_id = r.int()
    contract = r.contract()
    if contract.sec_type == "BAG":
        raise NotSimulated("combo market data is not simulated")
    if r.bool():  # delta-neutral contract
        r.skip(3)
    generic_ticks, snapshot = r.str(), r.bool()
    # regulatorySnapshot from MIN_SERVER_VER_REQ_SMART_COMPONENTS; mktDataOptions follows.
    regulatory = r.bool() if server_version >= pv.MIN_SERVER_VER_REQ_SMART_COMPONENTS else False
    return MarketDataRequest(req_id, contract, generic_ticks, snapshot, regulatory)


@dataclass
class HistoricalRequest:
    req_id: int
    contract: ContractSpec
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


def parse_historical(r: FieldReader, server_version: int) -> HistoricalRequest:
    if server_version < pv.MIN_SERVER_VER_SYNT_REALTIME_BARS:
        r.skip()  # version
    req_id = r.int()
    contract = r.contract()
    r.skip()  # includeExpired
    end, bar_size, duration = r.str(), r.str(), r.str()
    use_rth = r.bool()
    what, fmt = r.str(), r.int(1)
    if contract.sec_type == "BAG":
        raise NotSimulated("combo history is not simulated")
    # keepUpToDate from MIN_SERVER_VER_SYNT_REALTIME_BARS; chartOptions follows.
    keep_up_to_date = r.bool() if server_version >= pv.MIN_SERVER_VER_SYNT_REALTIME_BARS else False
    return HistoricalRequest(
        req_id, contract, end, bar_size, duration, use_rth, what, fmt, keep_up_to_date
    )


@dataclass
class OrderRequest:
    """The fields of PLACE_ORDER the simulated gateway acts on (the rest is read and kept)."""

    order_id: int
    contract: ContractSpec
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float
    aux_price: float
    tif: str
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    what_if: bool = False
    oca_type: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def parse_place_order(r: FieldReader, server_version: int) -> OrderRequest:
    """PLACE_ORDER as IBKR's EClient.placeOrder writes it at `server_version` (10.46.1;
    ib_async 2.1 and ibapi 9.81 write the same within their ranges). Unsupported sections
    (combos, conditions) raise NotSimulated."""
    if server_version < pv.MIN_SERVER_VER_ORDER_CONTAINER:
        r.skip()  # message version (27 or 45), dropped at MIN_SERVER_VER_ORDER_CONTAINER
    order_id = r.int()
    contract = r.contract()
    r.skip(2)  # secIdType, secId
    o = OrderRequest(
        order_id=order_id,
        contract=contract,
        action=r.str(),
        total_quantity=r.float(),
        order_type=r.str(),
        lmt_price=r.float(UNSET_DOUBLE),
        aux_price=r.float(UNSET_DOUBLE),
        tif=r.str(),
    )
    o.oca_group, o.account, o.open_close = r.str(), r.str(), r.str()
    o.origin = r.int()
    o.order_ref = r.str()
    o.transmit = r.bool()
    o.parent_id = r.int()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    o.outside_rth = r.bool()
    r.skip()  # hidden
    if contract.sec_type == "BAG":
        raise NotSimulated("combo orders are not simulated")
    # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
    r.skip(7)
    if server_version < pv.MIN_SERVER_VER_FA_PROFILE_DESUPPORT:
        r.skip()  # faProfile
    if server_version >= pv.MIN_SERVER_VER_MODELS_SUPPORT:
        o.extra["modelCode"] = r.str()
    # shortSaleSlot .. volatilityType: 21 fields; then deltaNeutralOrderType, ...AuxPrice
    head = [r.str() for _ in range(21)]
    o.oca_type = int(head[3] or 0)
    delta_neutral_type = r.str()
    r.skip()  # deltaNeutralAuxPrice
    if delta_neutral_type:
        r.skip(8)
    # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent,
    # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
    r.skip(6)
    scale_increment = r.float(UNSET_DOUBLE)
    if 0 < scale_increment < UNSET_DOUBLE:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.str():  # hedgeType
        r.skip()
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool():  # delta-neutral contract
        r.skip(3)
    if r.str():  # algoStrategy
        r.skip(2 * r.int())
    r.skip()  # algoId
    o.what_if = r.bool()
    r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if server_version >= pv.MIN_SERVER_VER_PEGGED_TO_BENCHMARK:
        if o.order_type in {"PEG BENCH", "PEGBENCH"}:
            r.skip(5)
        if r.int():
            raise NotSimulated("order conditions are not simulated")
    # The rest (adjusted-order fields, soft dollar tier, cashQty, MiFID, ...) is read by
    # TWS and not acted on here.
    return o


def parse_cancel_order(r: FieldReader) -> int:
    # version, orderId; manualOrderCancelTime follows from MIN_SERVER_VER_MANUAL_ORDER_TIME.
    r.skip()
    return r.int()


@dataclass
class ExecutionFilterRequest:
    req_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


def parse_executions(r: FieldReader) -> ExecutionFilterRequest:
    r.skip()  # version
    return ExecutionFilterRequest(
        r.int(), r.int(UNSET_INTEGER), r.str(), r.str(), r.str(), r.str(), r.str(), r.str()
    )


def parse_contract_details(r: FieldReader) -> tuple[int, ContractSpec]:
    version = r.int()
    req_id = r.int() if version >= 3 else -1
    return req_id, r.contract()
